defmodule Lockstep.Task.Stream do
  # async_stream inside a run. The enumerating process pulls input elements lazily, keeps up
  # to `max_concurrency` tasks running, and hands results to the reducer in input order
  # (`ordered: true`) or as tasks finish. A result is final when the task's DOWN arrives: its
  # reply if one came first, `{:exit, reason}` otherwise, or the timeout handling for a task
  # killed after `:timeout` virtual ms. Tasks still running when the stream halts are killed.
  #
  # OTP routes results through a helper process so the caller's mailbox stays clean; here the
  # caller receives them itself and removes every message the stream caused (replies, timers,
  # EXITs of linked tasks) before handing control back, so what user code sees is the same.
  @moduledoc false

  alias Lockstep.Task.Supervised

  @default_max_concurrency 8

  @doc """
  Reduces the async stream of `enumerable` through `fun` (a 1-arity function or an
  `{m, f, args}` whose first argument becomes the element). `spawner` starts one task in
  reply mode for the calling process and returns `{:ok, :link | :nolink, pid}` or
  `{:error, :max_children}`.
  """
  @spec reduce(Enumerable.t(), Enumerable.acc(), Enumerable.reducer(), term(), keyword(), fun()) ::
          Enumerable.result()
  def reduce(enumerable, acc, reducer, fun, options, spawner) do
    max = Keyword.get(options, :max_concurrency, @default_max_concurrency)

    unless is_integer(max) and max > 0 do
      raise ArgumentError, ":max_concurrency must be an integer greater than zero"
    end

    state = %{
      next: &Enumerable.reduce(enumerable, &1, fn x, acc -> {:suspend, [x | acc]} end),
      free: max,
      spawned: 0,
      delivered: 0,
      running: %{},
      refs: %{},
      ordered: Keyword.get(options, :ordered, true),
      ready: nil,
      timeout: Keyword.get(options, :timeout, 5000),
      on_timeout: Keyword.get(options, :on_timeout, :exit),
      zip: Keyword.get(options, :zip_input_on_exit, false),
      tag: make_ref(),
      callers: Supervised.callers(self()),
      fun: fun,
      spawner: spawner,
      reducer: reducer
    }

    state = %{state | ready: if(state.ordered, do: %{}, else: :queue.new())}
    step(acc, state)
  end

  defp step({:halt, acc}, state) do
    close(state)
    {:halted, acc}
  end

  defp step({:suspend, acc}, state), do: {:suspended, acc, &step(&1, state)}

  defp step({:cont, acc}, state) do
    case pop_ready(state) do
      {:ok, result, state} ->
        step(deliver(result, acc, state), state)

      :none ->
        cond do
          state.free > 0 and state.next != :done -> step({:cont, acc}, spawn_next(state))
          state.next == :done and state.running == %{} -> finish(acc, state)
          true -> step({:cont, acc}, await(state))
        end
    end
  end

  defp finish(acc, state) do
    close(state)
    {:done, acc}
  end

  defp deliver(result, acc, state) do
    state.reducer.(result, acc)
  catch
    kind, reason ->
      close(state)
      :erlang.raise(kind, reason, __STACKTRACE__)
  end

  defp pop_ready(%{ordered: true, ready: ready, delivered: n} = state) do
    case Map.pop(ready, n) do
      {nil, _} -> :none
      {result, ready} -> {:ok, result, %{state | ready: ready, delivered: n + 1}}
    end
  end

  defp pop_ready(%{ready: queue} = state) do
    case :queue.out(queue) do
      {{:value, result}, queue} ->
        {:ok, result, %{state | ready: queue, delivered: state.delivered + 1}}

      {:empty, _} ->
        :none
    end
  end

  # ----- starting tasks ----------------------------------------------------------------------

  defp spawn_next(state) do
    result =
      try do
        state.next.({:cont, []})
      catch
        kind, reason ->
          close(%{state | next: :done})
          :erlang.raise(kind, reason, __STACKTRACE__)
      end

    case result do
      {:suspended, [value], next} -> spawn_task(value, %{state | next: next})
      {_, [value]} -> spawn_task(value, %{state | next: :done})
      {_, []} -> %{state | next: :done}
    end
  end

  defp spawn_task(value, state) do
    case state.spawner.() do
      {:ok, link, pid} ->
        pos = state.spawned
        mref = Lockstep.monitor(pid)

        timer =
          if state.timeout != :infinity,
            do: Lockstep.send_after(self(), {state.tag, :timeout, pos}, state.timeout)

        request = {self(), {state.tag, pos}, self(), state.callers, with_arg(state.fun, value)}
        Lockstep.send(pid, request)

        task = %{
          pid: pid,
          mref: mref,
          link: link == :link,
          timer: timer,
          reply: nil,
          timed_out: false,
          input: if(state.zip, do: value)
        }

        %{
          state
          | running: Map.put(state.running, pos, task),
            refs: Map.put(state.refs, mref, pos),
            spawned: pos + 1,
            free: state.free - 1
        }

      {:error, :max_children} ->
        close(state)

        raise RuntimeError,
              "reached the maximum number of tasks for this task supervisor. The maximum " <>
                "number of tasks that are allowed to run at the same time under this " <>
                "supervisor can be configured with the :max_children option passed to " <>
                "Task.Supervisor.start_link/1. When using async_stream or " <>
                "async_stream_nolink, make sure to configure :max_concurrency to be lower " <>
                "or equal to :max_children and pay attention to whether other tasks are also " <>
                "spawned under the same task supervisor."
    end
  end

  defp with_arg({m, f, args}, value), do: {m, f, [value | args]}
  defp with_arg(fun, value), do: {:erlang, :apply, [fun, [value]]}

  # ----- waiting for tasks -------------------------------------------------------------------

  defp await(%{tag: tag, refs: refs} = state) do
    matcher = fn
      {{^tag, _pos}, _reply} -> true
      {^tag, :timeout, _pos} -> true
      {:DOWN, mref, _, _, _} -> Map.has_key?(refs, mref)
      _ -> false
    end

    case Lockstep.recv_first(matcher) do
      {{^tag, pos}, reply} ->
        update_task(state, pos, &%{&1 | reply: {:ok, reply}})

      {^tag, :timeout, pos} ->
        case state.running do
          %{^pos => %{timed_out: false, pid: pid} = task} ->
            if task.link, do: Lockstep.unlink(pid)
            Lockstep.exit(pid, :kill)
            update_task(state, pos, &%{&1 | timed_out: true, timer: nil})

          _ ->
            state
        end

      {:DOWN, mref, _, _, reason} ->
        task_down(state, Map.fetch!(refs, mref), reason)
    end
  end

  defp update_task(state, pos, fun) do
    case state.running do
      %{^pos => task} -> %{state | running: Map.put(state.running, pos, fun.(task))}
      _ -> state
    end
  end

  defp task_down(state, pos, reason) do
    {task, running} = Map.pop(state.running, pos)
    state = %{state | running: running, refs: Map.delete(state.refs, task.mref)}
    cleanup_task(task, pos, state.tag)

    result =
      cond do
        task.reply != nil ->
          task.reply

        task.timed_out and state.on_timeout == :exit ->
          close(state)
          exit({:timeout, {Task.Supervised, :stream, [state.timeout]}})

        task.timed_out ->
          {:exit, zip(state, task, :timeout)}

        true ->
          {:exit, zip(state, task, reason)}
      end

    ready =
      if state.ordered,
        do: Map.put(state.ready, pos, result),
        else: :queue.in(result, state.ready)

    %{state | ready: ready, free: state.free + 1}
  end

  defp zip(%{zip: true}, task, reason), do: {task.input, reason}
  defp zip(_state, _task, reason), do: reason

  # A finished task leaves no trace: its timer is cancelled (a fired one's message taken), and
  # the EXIT a trapping caller got through the link is taken too.
  defp cleanup_task(task, pos, tag) do
    if task.timer && Lockstep.cancel_timer(task.timer) == false do
      take(&match?({^tag, :timeout, ^pos}, &1))
    end

    if task.link do
      pid = task.pid
      take(&match?({:EXIT, ^pid, _}, &1))
    end
  end

  defp take(matcher) do
    case Lockstep.recv_first(matcher, 0) do
      {:ok, _} -> :ok
      :timeout -> :none
    end
  end

  # ----- closing -----------------------------------------------------------------------------

  # Kills the tasks still running, waits for them, and removes every message they caused.
  defp close(state) do
    for {_pos, task} <- state.running do
      if task.link, do: Lockstep.unlink(task.pid)
      Lockstep.exit(task.pid, :kill)
    end

    for {pos, task} <- state.running do
      mref = task.mref
      Lockstep.recv_first(&match?({:DOWN, ^mref, _, _, _}, &1))
      cleanup_task(task, pos, state.tag)
    end

    tag = state.tag
    drain(&match?({{^tag, _}, _}, &1))
    drain(&match?({^tag, :timeout, _}, &1))

    if is_function(state.next), do: state.next.({:halt, []})
    :ok
  end

  defp drain(matcher) do
    if take(matcher) == :ok, do: drain(matcher), else: :ok
  end
end

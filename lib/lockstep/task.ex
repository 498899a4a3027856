defmodule Lockstep.Task do
  @moduledoc """
  `Task` under Lockstep's control: the same functions, the same `%Task{}` struct, the same
  replies and exit reasons, with task processes that are managed processes of the run.

      task = Lockstep.Task.async(fn -> fetch(url) end)
      Lockstep.Task.await(task, 1_000)

      1..10
      |> Lockstep.Task.async_stream(&work/1, max_concurrency: 3, ordered: false)
      |> Enum.to_list()

  Outside a run every function calls the `Task` function of the same name (and
  `async_stream` returns `Task.async_stream/3`'s stream), so code written against
  `Lockstep.Task` runs on plain OTP in development and production.

  ## Inside a run

  `async/1,3` spawns a task linked to the caller with `Lockstep.spawn_link/1`, monitors it
  and sends it its function; the task replies `{ref, result}`. `await/2` takes the reply or
  the `:DOWN` with a timeout on the virtual clock and exits like `Task.await/2`:
  `{:timeout, {Task, :await, [task, timeout]}}`, or `{reason, {Task, :await, [task, timeout]}}`
  when the task died. `await_many/2`, `yield/2`, `yield_many/2`, `shutdown/2`, `ignore/1` and
  `completed/1` follow `Task` as well, including the owner check (`ArgumentError` when a task
  is awaited by another process). `start/1,3` and `start_link/1,3` run a function in a new
  process and return `{:ok, pid}`.

  `async_stream/3,5` returns a lazy stream of `{:ok, result}` and `{:exit, reason}` with the
  options `:max_concurrency`, `:ordered` (default `true`), `:timeout` (default 5000, virtual),
  `:on_timeout` (`:exit`, the default, exits the caller with
  `{:timeout, {Task.Supervised, :stream, [timeout]}}`; `:kill_task` gives
  `{:exit, :timeout}`) and `:zip_input_on_exit`. A crashing task brings the caller down
  through the link unless it traps exits, in which case the element is `{:exit, reason}`;
  halting the stream early (`Enum.take/2`) kills the tasks still running. Every step (each
  task's start, reply, exit, each timeout) is an interleaving point, so the order in which
  unordered results arrive is explored.

  ## Differences from Task

    * Time is virtual: timeouts of `await`, `yield`, `shutdown` and `async_stream` run on the
      run's clock.
    * `:max_concurrency` defaults to 8 inside a run instead of `System.schedulers_online/0`,
      so the same seed explores the same schedules on every machine.
    * Replies go to the owner's pid: process aliases are not simulated, so a reply that
      arrives after the owner stopped waiting (a timeout, `ignore/1`, `shutdown/2`) stays in
      its mailbox as `{ref, result}`, as before OTP 24.
    * `async_stream` tasks report to the enumerating process itself rather than through a
      helper process; the stream removes the messages it caused, so the mailbox user code
      sees is the same.
    * Crashing tasks are not logged (the run's report shows them).
  """

  alias Lockstep.Task.Stream, as: TaskStream
  alias Lockstep.Task.Supervised

  defguardp timeout?(t) when t == :infinity or (is_integer(t) and t >= 0)

  @doc "`use Lockstep.Task` is `use Task`: a `child_spec/1` starting the module's `start_link/1`."
  defmacro __using__(opts) do
    quote do
      use Task, unquote(opts)
    end
  end

  @doc """
  A child spec running `start_link(arg)` of this module: a temporary worker with id
  `Lockstep.Task`.
  """
  @spec child_spec(term()) :: Supervisor.child_spec()
  def child_spec(arg) do
    %{id: __MODULE__, start: {__MODULE__, :start_link, [arg]}, restart: :temporary}
  end

  @doc "Runs `fun` in a new process linked to the caller. `{:ok, pid}`. See `Task.start_link/1`."
  @spec start_link((() -> any())) :: {:ok, pid()}
  def start_link(fun) when is_function(fun, 0), do: start_link(:erlang, :apply, [fun, []])

  @doc "Runs `apply(module, function, args)` in a new linked process. See `Task.start_link/3`."
  @spec start_link(module(), atom(), [term()]) :: {:ok, pid()}
  def start_link(module, function, args)
      when is_atom(module) and is_atom(function) and is_list(args) do
    if Lockstep.managed?() do
      Supervised.start_link(self(), Supervised.callers(self()), {module, function, args})
    else
      Task.start_link(module, function, args)
    end
  end

  @doc "Runs `fun` in a new, unlinked process. `{:ok, pid}`. See `Task.start/1`."
  @spec start((() -> any())) :: {:ok, pid()}
  def start(fun) when is_function(fun, 0), do: start(:erlang, :apply, [fun, []])

  @doc "Runs `apply(module, function, args)` in a new, unlinked process. See `Task.start/3`."
  @spec start(module(), atom(), [term()]) :: {:ok, pid()}
  def start(module, function, args)
      when is_atom(module) and is_atom(function) and is_list(args) do
    if Lockstep.managed?() do
      Supervised.start(self(), Supervised.callers(self()), {module, function, args})
    else
      Task.start(module, function, args)
    end
  end

  @doc "Starts a task running `fun`, linked to and monitored by the caller. See `Task.async/1`."
  @spec async((() -> any())) :: Task.t()
  def async(fun) when is_function(fun, 0), do: async(:erlang, :apply, [fun, []])

  @doc "Starts a task running `apply(module, function, args)`. See `Task.async/3`."
  @spec async(module(), atom(), [term()]) :: Task.t()
  def async(module, function, args)
      when is_atom(module) and is_atom(function) and is_list(args) do
    if Lockstep.managed?() do
      owner = self()
      {:ok, pid} = Supervised.start_link(owner, :nomonitor)
      ref = Lockstep.monitor(pid)
      Lockstep.send(pid, {owner, ref, owner, Supervised.callers(owner), {module, function, args}})
      %Task{pid: pid, ref: ref, owner: owner, mfa: {module, function, length(args)}}
    else
      Task.async(module, function, args)
    end
  end

  @doc """
  A task that has already completed with `result` (no process). See `Task.completed/1`.
  """
  @spec completed(term()) :: Task.t()
  def completed(result) do
    if Lockstep.managed?() do
      ref = make_ref()
      Lockstep.send(self(), {ref, result})
      %Task{pid: nil, ref: ref, owner: self(), mfa: {Task, :completed, 1}}
    else
      Task.completed(result)
    end
  end

  @doc """
  Waits up to `timeout` ms for the task's reply and returns it. Exits with
  `{:timeout, {Task, :await, [task, timeout]}}` on timeout, `{reason, {Task, :await, ...}}`
  when the task died. See `Task.await/2`.
  """
  @spec await(Task.t(), timeout()) :: term()
  def await(%Task{ref: ref} = task, timeout \\ 5000) when timeout?(timeout) do
    if Lockstep.managed?() do
      check_owner!(task)
      location = {Task, :await, [task, timeout]}

      case Lockstep.recv_first(reply_or_down(ref), timeout) do
        {:ok, {^ref, reply}} ->
          Lockstep.demonitor(ref, [:flush])
          reply

        {:ok, {:DOWN, ^ref, _, proc, reason}} ->
          exit({reason(reason, proc), location})

        :timeout ->
          Lockstep.demonitor(ref, [:flush])
          exit({:timeout, location})
      end
    else
      Task.await(task, timeout)
    end
  end

  @doc """
  Awaits every task, within one `timeout` for all, and returns their replies in the tasks'
  order. Exits like `await/2` with `{Task, :await_many, [tasks, timeout]}` as the location.
  See `Task.await_many/2`.
  """
  @spec await_many([Task.t()], timeout()) :: [term()]
  def await_many(tasks, timeout \\ 5000) when timeout?(timeout) do
    if Lockstep.managed?() do
      awaiting =
        Map.new(tasks, fn task ->
          check_owner!(task)
          {task.ref, true}
        end)

      with_timer(timeout, fn timer_tag ->
        collect_many(tasks, timeout, awaiting, %{}, timer_tag)
      end)
    else
      Task.await_many(tasks, timeout)
    end
  end

  defp collect_many(tasks, _timeout, awaiting, replies, _tag) when map_size(awaiting) == 0 do
    for %Task{ref: ref} <- tasks, do: Map.fetch!(replies, ref)
  end

  defp collect_many(tasks, timeout, awaiting, replies, tag) do
    matcher = fn
      ^tag -> true
      {:DOWN, ref, _, _, _} -> Map.has_key?(awaiting, ref)
      {ref, _reply} -> is_reference(ref) and Map.has_key?(awaiting, ref)
      _ -> false
    end

    location = {Task, :await_many, [tasks, timeout]}

    case Lockstep.recv_first(matcher) do
      ^tag ->
        demonitor_pending(tasks, awaiting)
        exit({:timeout, location})

      {:DOWN, ref, _, proc, reason} when is_map_key(awaiting, ref) ->
        demonitor_pending(tasks, awaiting)
        exit({reason(reason, proc), location})

      {ref, reply} ->
        Lockstep.demonitor(ref, [:flush])
        collect_many(tasks, timeout, Map.delete(awaiting, ref), Map.put(replies, ref, reply), tag)
    end
  end

  # In the tasks' order, so the steps do not depend on how references compare.
  defp demonitor_pending(tasks, awaiting) do
    for %Task{ref: ref} <- tasks, Map.has_key?(awaiting, ref) do
      Lockstep.demonitor(ref, [:flush])
    end
  end

  @doc """
  Waits up to `timeout` ms: `{:ok, reply}`, `{:exit, reason}` when the task died, or `nil`
  (the task keeps running). See `Task.yield/2`.
  """
  @spec yield(Task.t(), timeout()) :: {:ok, term()} | {:exit, term()} | nil
  def yield(%Task{ref: ref} = task, timeout \\ 5000) when timeout?(timeout) do
    if Lockstep.managed?() do
      check_owner!(task)

      case Lockstep.recv_first(reply_or_down(ref), timeout) do
        {:ok, {^ref, reply}} ->
          Lockstep.demonitor(ref, [:flush])
          {:ok, reply}

        {:ok, {:DOWN, ^ref, _, proc, :noconnection}} ->
          exit({reason(:noconnection, proc), {Task, :yield, [task, timeout]}})

        {:ok, {:DOWN, ^ref, _, _, reason}} ->
          {:exit, reason}

        :timeout ->
          nil
      end
    else
      Task.yield(task, timeout)
    end
  end

  @doc """
  Yields every task within one `timeout`: a list of `{task, result}` in the tasks' order,
  where `result` is as in `yield/2`. See `Task.yield_many/2`.
  """
  @spec yield_many([Task.t()], timeout()) :: [{Task.t(), {:ok, term()} | {:exit, term()} | nil}]
  def yield_many(tasks, timeout \\ 5000) when timeout?(timeout) do
    if Lockstep.managed?() do
      try do
        with_timer(timeout, fn tag -> yield_each(tasks, tag, :infinity) end)
      catch
        {:noconnection, reason} -> exit({reason, {Task, :yield_many, [tasks, timeout]}})
      end
    else
      Task.yield_many(tasks, timeout)
    end
  end

  defp yield_each([], _tag, _timeout), do: []

  defp yield_each([%Task{ref: ref} = task | rest], tag, timeout) do
    check_owner!(task)

    matcher = fn
      {^ref, _} -> true
      {:DOWN, ^ref, _, _, _} -> true
      ^tag -> true
      _ -> false
    end

    case Lockstep.recv_first(matcher, timeout) do
      {:ok, {^ref, reply}} ->
        Lockstep.demonitor(ref, [:flush])
        [{task, {:ok, reply}} | yield_each(rest, tag, timeout)]

      {:ok, {:DOWN, ^ref, _, proc, :noconnection}} ->
        throw({:noconnection, reason(:noconnection, proc)})

      {:ok, {:DOWN, ^ref, _, _, reason}} ->
        [{task, {:exit, reason}} | yield_each(rest, tag, timeout)]

      {:ok, ^tag} ->
        [{task, nil} | yield_each(rest, tag, 0)]

      :timeout ->
        [{task, nil} | yield_each(rest, tag, 0)]
    end
  end

  # Runs `fun` with a timer that sends a fresh reference after `timeout` ms; the timer and its
  # message are gone afterwards.
  defp with_timer(timeout, fun) do
    tag = make_ref()
    timer = if timeout != :infinity, do: Lockstep.send_after(self(), tag, timeout)

    try do
      fun.(tag)
    after
      if timer do
        Lockstep.cancel_timer(timer)
        Lockstep.recv_first(&(&1 == tag), 0)
      end
    end
  end

  @doc """
  Unlinks and stops the task: `{:ok, reply}` if it replied meanwhile, `{:exit, reason}` if it
  died of something else, `nil` otherwise. With a timeout the task gets `:shutdown` first and
  is killed after `timeout` ms; `:brutal_kill` kills it at once. See `Task.shutdown/2`.
  """
  @spec shutdown(Task.t(), timeout() | :brutal_kill) :: {:ok, term()} | {:exit, term()} | nil
  def shutdown(task, shutdown \\ 5000)

  def shutdown(%Task{pid: nil} = task, _shutdown) do
    raise ArgumentError, "task #{inspect(task)} does not have an associated task process"
  end

  def shutdown(%Task{pid: pid} = task, shutdown)
      when shutdown == :brutal_kill or timeout?(shutdown) do
    if Lockstep.managed?() do
      check_owner!(task)
      mon = Lockstep.monitor(pid)
      Lockstep.unlink(pid)

      {type, timeout} =
        if shutdown == :brutal_kill, do: {:brutal_kill, :infinity}, else: {:shutdown, shutdown}

      Lockstep.exit(pid, if(type == :brutal_kill, do: :kill, else: :shutdown))

      case shutdown_receive(task, mon, type, timeout) do
        {:down, proc, :noconnection} ->
          exit({reason(:noconnection, proc), {Task, :shutdown, [task, shutdown]}})

        {:down, _proc, reason} ->
          {:exit, reason}

        result ->
          result
      end
    else
      Task.shutdown(task, shutdown)
    end
  end

  defp shutdown_receive(%Task{ref: ref, pid: pid} = task, mon, type, timeout) do
    case Lockstep.recv_first(&match?({:DOWN, ^mon, _, _, _}, &1), timeout) do
      {:ok, {:DOWN, ^mon, _, _, :shutdown}} when type in [:shutdown, :timeout_kill] ->
        Lockstep.demonitor(ref, [:flush])
        flush_reply(ref)

      {:ok, {:DOWN, ^mon, _, _, :killed}} when type == :brutal_kill ->
        Lockstep.demonitor(ref, [:flush])
        flush_reply(ref)

      {:ok, {:DOWN, ^mon, _, proc, :noproc}} ->
        reason = flush_noproc(ref, proc, type)
        flush_reply(ref) || reason

      {:ok, {:DOWN, ^mon, _, proc, reason}} ->
        Lockstep.demonitor(ref, [:flush])
        flush_reply(ref) || {:down, proc, reason}

      :timeout ->
        Lockstep.exit(pid, :kill)
        shutdown_receive(task, mon, :timeout_kill, :infinity)
    end
  end

  defp flush_reply(ref) do
    case Lockstep.recv_first(&match?({^ref, _}, &1), 0) do
      {:ok, {^ref, reply}} -> {:ok, reply}
      :timeout -> nil
    end
  end

  defp flush_noproc(ref, proc, type) do
    case Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1), 0) do
      {:ok, {:DOWN, ^ref, _, _, :shutdown}} when type in [:shutdown, :timeout_kill] ->
        nil

      {:ok, {:DOWN, ^ref, _, _, :killed}} when type == :brutal_kill ->
        nil

      {:ok, {:DOWN, ^ref, _, _, reason}} ->
        {:down, proc, reason}

      :timeout ->
        Lockstep.demonitor(ref, [:flush])
        {:down, proc, :noproc}
    end
  end

  @doc """
  Stops caring about the task without stopping it: `{:ok, reply}` or `{:exit, reason}` if it
  already finished, `nil` otherwise (it is unlinked and keeps running). See `Task.ignore/1`.
  """
  @spec ignore(Task.t()) :: {:ok, term()} | {:exit, term()} | nil
  def ignore(%Task{ref: ref, pid: pid} = task) do
    if Lockstep.managed?() do
      check_owner!(task)

      case Lockstep.recv_first(reply_or_down(ref), 0) do
        {:ok, {^ref, reply}} ->
          Lockstep.unlink(pid)
          Lockstep.demonitor(ref, [:flush])
          {:ok, reply}

        {:ok, {:DOWN, ^ref, _, proc, :noconnection}} ->
          exit({reason(:noconnection, proc), {Task, :ignore, [task]}})

        {:ok, {:DOWN, ^ref, _, _, reason}} ->
          {:exit, reason}

        :timeout ->
          Lockstep.unlink(pid)
          Lockstep.demonitor(ref, [:flush])
          nil
      end
    else
      Task.ignore(task)
    end
  end

  @doc """
  A lazy stream running `fun` on each element in a task, at most `:max_concurrency` at a time.
  See the moduledoc and `Task.async_stream/3`.
  """
  @spec async_stream(Enumerable.t(), (term() -> term()), keyword()) :: Enumerable.t()
  def async_stream(enumerable, fun, options \\ [])
      when is_function(fun, 1) and is_list(options) do
    build_stream(enumerable, fun, options)
  end

  @doc "Like `async_stream/3`, running `apply(module, function, [element | args])`."
  @spec async_stream(Enumerable.t(), module(), atom(), [term()], keyword()) :: Enumerable.t()
  def async_stream(enumerable, module, function, args, options \\ [])
      when is_atom(module) and is_atom(function) and is_list(args) and is_list(options) do
    build_stream(enumerable, {module, function, args}, options)
  end

  defp build_stream(enumerable, fun, options) do
    fn acc, reducer ->
      if Lockstep.managed?() do
        owner = self()

        spawner = fn ->
          {:ok, pid} = Supervised.start_link(owner, :nomonitor)
          {:ok, :link, pid}
        end

        TaskStream.reduce(enumerable, acc, reducer, fun, options, spawner)
      else
        otp =
          case fun do
            {m, f, a} -> Task.async_stream(enumerable, m, f, a, options)
            fun -> Task.async_stream(enumerable, fun, options)
          end

        Enumerable.reduce(otp, acc, reducer)
      end
    end
  end

  # ----- helpers -----------------------------------------------------------------------------

  defp reply_or_down(ref) do
    fn
      {^ref, _} -> true
      {:DOWN, ^ref, _, _, _} -> true
      _ -> false
    end
  end

  defp check_owner!(%Task{owner: owner} = task) do
    if owner != self() do
      raise ArgumentError,
            "task #{inspect(task)} must be queried from the owner but was queried from " <>
              inspect(self())
    end
  end

  defp reason(:noconnection, proc), do: {:nodedown, monitor_node(proc)}
  defp reason(reason, _proc), do: reason

  defp monitor_node(pid) when is_pid(pid), do: node(pid)
  defp monitor_node({_, node}), do: node
end

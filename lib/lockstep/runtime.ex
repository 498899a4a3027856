defmodule Lockstep.Runtime do
  # The sync-point protocol on the Elixir side: a managed process keeps its run context in the
  # process dictionary, announces each operation to the engine through `Lockstep.Native.run_op/3`
  # and, unless it runs next itself, blocks in a plain receive for its tagged wake-up. The engine
  # decides everything; this module only carries operations in and replies out.
  @moduledoc false

  alias Lockstep.{Escape, Native}
  alias Lockstep.Runtime.Observers

  @key :"$lockstep"

  @typedoc false
  @type ctx :: {reference(), reference(), non_neg_integer(), pid()}

  @doc "The calling process's run context, or nil when it is not managed by a run."
  @spec ctx() :: ctx() | nil
  def ctx, do: Process.get(@key)

  @doc "The id of the calling managed process in its run (P0 is the root)."
  def id({_run, _tag, id, _runner}), do: id

  @doc """
  Performs `op` as a sync point. Returns the engine's reply, or `:unmanaged` when the operation
  names something outside the run (the caller then falls back to the plain primitive).
  """
  @spec sync(ctx(), term()) :: term()
  def sync({run, _tag, id, _runner} = ctx, op) do
    case Native.run_op(run, id, op) do
      {:ok, reply} -> reply
      :wait -> await(ctx)
      :unmanaged -> :unmanaged
      {:error, why} -> raise Lockstep.Error, message: why
    end
  end

  @doc """
  Notes what the calling process's latest shared-state operation returned, for the report
  (no step, no choice).
  """
  def annotate({run, _tag, id, _runner}, result) do
    _ = Native.run_annotate(run, id, result)
    :ok
  end

  # Waits for the wake-up. Whatever else is in the VM mailbox bypassed the engine (it arrived
  # while the process ran, or while it waits): see Lockstep.Escape. With `escapes: :warn` the
  # program keeps its plain messages, in order: they are only looked at.
  defp await(ctx) do
    if Escape.warn?(), do: await_leaving_strays(ctx), else: await_taking_strays(ctx)
  end

  defp await_taking_strays(ctx) do
    receive do
      {:"$lockstep_wake", reply} ->
        reply

      msg ->
        Escape.stray(ctx, msg)
        await_taking_strays(ctx)
    end
  end

  defp await_leaving_strays(ctx) do
    Escape.peek(ctx)

    receive do
      {:"$lockstep_wake", reply} ->
        reply

      {:system, _from, _request} = msg ->
        # A plain :sys call reached this process outside the run: fail it (Lockstep.Sys).
        Escape.stray(ctx, msg)
        await_leaving_strays(ctx)

      {:"$gen_call", {caller, _}, _} = msg when is_pid(caller) ->
        # Its caller would wait for its timeout: fail it at once.
        Escape.stray(ctx, msg)
        await_leaving_strays(ctx)
    end
  end

  # Before the process's last step: what is still in its VM mailbox bypassed the engine.
  defp check_mailbox(ctx) do
    if Escape.warn?() do
      Escape.peek(ctx)
    else
      receive do
        msg ->
          Escape.stray(ctx, msg)
          check_mailbox(ctx)
      after
        0 -> :ok
      end
    end
  end

  @doc "Selective receive: the first message for which `pred` returns true, or `:timeout`."
  @spec recv_match(ctx(), (term() -> boolean()), timeout()) :: {:ok, term()} | :timeout
  def recv_match(ctx, pred, timeout), do: match_loop(ctx, pred, 0, timeout)

  defp match_loop({run, _tag, id, _} = ctx, pred, seen, timeout) do
    case sync(ctx, {:recv_match, seen, timeout}) do
      {:batch, base, msgs, timed_out, exact} ->
        if exact, do: Observers.scanned(run, id, base, msgs)

        case find(msgs, pred, 0) do
          {:found, index, msg} when exact ->
            :ok = Observers.take(run, id, pred, base, msgs, index)
            {:ok, msg}

          {:found, index, msg} ->
            :ok = Native.run_consume(run, id, base + index)
            {:ok, msg}

          :none when timed_out ->
            :timeout

          :none ->
            match_loop(ctx, pred, base + length(msgs), timeout)
        end

      :timeout ->
        :timeout
    end
  end

  defp find([], _pred, _i), do: :none

  defp find([msg | rest], pred, i) do
    if matches?(pred, msg), do: {:found, i, msg}, else: find(rest, pred, i + 1)
  end

  @doc "A predicate that raises, throws or returns anything but `true` does not match."
  def matches?(pred, msg) do
    pred.(msg) == true
  rescue
    _ -> false
  catch
    _, _ -> false
  end

  @doc "Spawns a managed child: the engine reserves its id, then the VM process is bound to it."
  def spawn_child(ctx, fun, kind), do: start_child(ctx, fun, kind)

  @doc "Spawns a managed child monitored by the caller, atomically: `{pid, ref}`."
  def spawn_monitored(ctx, fun, link) do
    ref = make_ref()
    {start_child(ctx, fun, {:spawn_monitor, link, ref}), ref}
  end

  defp start_child(ctx, fun, op) do
    {:spawned, child} = sync(ctx, op)
    launch(ctx, child, fun)
  end

  @doc """
  Performs a spawning `op` of the cluster (`{:cluster, :spawn, node, link, ref}`): the child's
  pid, or `{:refused, why}` when the engine refused it (an unknown or stopped node).
  """
  def spawn_with(ctx, fun, op) do
    case sync(ctx, op) do
      {:spawned, child} -> launch(ctx, child, fun)
      {:refused, why} -> {:refused, why}
    end
  end

  defp launch({run, tag, _id, runner}, child, fun) do
    escapes = Escape.mode()
    pid = :erlang.spawn(fn -> child_main({run, tag, child, runner}, fun, escapes) end)
    bind_child(run, child, pid)
  end

  @doc false
  # Binds the VM process `pid` to the reserved id `child`. If that fails (something else bound
  # the id first), the process, which would wait for a wake-up that never comes, is killed
  # before the error is raised: no process outlives its run.
  def bind_child(run, child, pid) do
    case Native.run_bind(run, child, pid) do
      :ok ->
        pid

      {:error, why} ->
        Process.exit(pid, :kill)
        raise Lockstep.Error, message: "could not bind spawned process P#{child}: #{why}"
    end
  end

  defp child_main(ctx, fun, escapes) do
    Process.put(@key, ctx)
    Escape.put_mode(escapes)
    # The child's first step (`start`) is scheduled like any other.
    await(ctx)
    body(ctx, fun, :crash)
  end

  @doc """
  Runs the root's body: like a child, but reports how the body ended to the runner. `escapes`
  is the run's `:escapes` option, which every process of the run inherits.
  """
  def root_main(ctx, fun, escapes \\ :fail) do
    Process.put(@key, ctx)
    Escape.put_mode(escapes)
    await(ctx)
    body(ctx, fun, :root)
  end

  defp body({run, tag, id, runner}, fun, role) do
    reason =
      try do
        fun.()
        :normal
      catch
        kind, payload ->
          stack = __STACKTRACE__
          send(runner, {tag, role, id, kind, payload, stack})
          exit_reason(kind, payload, stack)
      end

    release_owned({run, tag, id, runner})
    check_mailbox({run, tag, id, runner})

    # The process's end is a scheduled step of its own; once announced there is nothing left
    # to run here, so the VM process just returns.
    Native.run_op(run, id, {:exit, reason})
    :ok
  end

  # ETS tables the process owns go away (or to their heir) at a step of the schedule, not
  # whenever the VM process happens to finish after announcing its exit.
  defp release_owned(ctx) do
    Lockstep.ETS.release_owned(ctx)
  catch
    _, _ -> :ok
  end

  defp exit_reason(:exit, reason, _stack), do: reason
  defp exit_reason(:error, reason, stack), do: {reason, stack}
  defp exit_reason(:throw, value, stack), do: {{:nocatch, value}, stack}
end

defmodule Lockstep.Escape do
  # Interactions that bypass the engine ("escapes"): a plain VM message in a managed process's
  # real mailbox. Everything a run schedules goes through the engine's mailboxes, so the only
  # messages a managed process legitimately finds in its VM mailbox are its wake-ups, the
  # `:"ETS-TRANSFER"` messages the VM itself sends on a table's transfer (`Lockstep.ETS`
  # announces each one through the engine as well), and plain `:sys` requests (answered at
  # once by `Lockstep.Sys.unmanaged_system_msg/2`). Anything else was sent with a plain `send`,
  # `Process.send_after`, a plain `GenServer.call`/`cast`, a plain monitor or link, or by a
  # process outside the run: the engine never saw it, so no schedule explores it.
  #
  # A managed process looks at its VM mailbox where it parks (`Lockstep.Runtime`'s wait for its
  # wake-up, which sees what arrived while it ran, too) and before its last step. It reports the
  # first escape it finds to the runner as a note `{tag, :escape, note}`; with `escapes: :fail`
  # (the default) it then stops the run through `Lockstep.Native.run_abort/2`, so the run ends
  # with the escape whatever the escape makes the other processes do next. The runner reports
  # the first note it gets.
  @moduledoc false

  alias Lockstep.Native

  @mode_key :"$lockstep_escapes"
  @reported_key :"$lockstep_escaped"

  @doc "The reason `Lockstep.Native.run_abort/2` is given when a process reports an escape."
  def abort_reason, do: "escape"

  @doc "Sets the calling process's mode (`:fail` or `:warn`); `:fail` is kept as no entry."
  def put_mode(:fail), do: :ok
  def put_mode(:warn), do: Process.put(@mode_key, :warn)

  @doc "The calling process's mode, to hand to a child it spawns."
  def mode, do: Process.get(@mode_key, :fail)

  @doc "Whether the calling process runs with `escapes: :warn`."
  def warn?, do: Process.get(@mode_key) == :warn

  @doc """
  Deals with `msg`, found in the calling managed process's VM mailbox (and taken out of it):
  drops what is legitimate, answers a plain `:sys` or `GenServer.call` request at once by
  failing its caller, and reports anything else as an escape.
  """
  @spec stray(Lockstep.Runtime.ctx(), term()) :: :ok
  def stray(_ctx, {:"ETS-TRANSFER", _table, _from, _gift}), do: :ok

  def stray(_ctx, {:system, from, request}) do
    Lockstep.Sys.unmanaged_system_msg(from, request)
  end

  def stray(ctx, {:"$gen_call", {caller, tag}, request} = msg) when is_pid(caller) do
    # Reported (and the run stopped) before the caller is failed, so that the run ends with
    # the escape rather than with the caller's crash.
    report(ctx, :gen_call, msg, caller)
    fail_caller(ctx, caller, tag, request)
  end

  def stray(ctx, msg), do: report(ctx, kind(msg), msg, from(msg))

  @doc """
  Reports the first escape among the messages in the calling process's VM mailbox, without
  taking them out (`escapes: :warn`, where the program keeps its plain messages).
  """
  @spec peek(Lockstep.Runtime.ctx()) :: :ok
  def peek(ctx) do
    if Process.get(@reported_key) == nil do
      case Process.info(self(), :message_queue_len) do
        {:message_queue_len, 0} ->
          :ok

        _ ->
          {:messages, msgs} = Process.info(self(), :messages)

          case Enum.find(msgs, &escape?/1) do
            nil -> :ok
            msg -> report(ctx, kind(msg), msg, from(msg))
          end
      end
    end

    :ok
  end

  @doc "The messages in `pid`'s VM mailbox that bypassed the engine (at most 10)."
  @spec strays(pid()) :: [term()]
  def strays(pid) do
    case Process.info(pid, :messages) do
      {:messages, msgs} -> msgs |> Enum.filter(&escape?/1) |> Enum.take(10)
      nil -> []
    end
  end

  @doc """
  Whether `pid` waits for its wake-up having looked at its VM mailbox (or is gone): its note,
  if it found an escape, has been sent.
  """
  @spec parked?(pid()) :: boolean()
  def parked?(pid) do
    case Process.info(pid, [:status, :current_function, :message_queue_len]) do
      nil ->
        true

      [
        status: :waiting,
        current_function: {Lockstep.Runtime, :await_taking_strays, 1},
        message_queue_len: 0
      ] ->
        true

      [
        status: :waiting,
        current_function: {Lockstep.Runtime, :await_leaving_strays, 1},
        message_queue_len: _
      ] ->
        true

      _ ->
        false
    end
  end

  defp escape?({:"$lockstep_wake", _}), do: false
  defp escape?({:"ETS-TRANSFER", _, _, _}), do: false
  defp escape?({:system, _, _}), do: false
  defp escape?(_), do: true

  defp kind({:"$gen_call", {pid, _}, _}) when is_pid(pid), do: :gen_call
  defp kind({:"$gen_cast", _}), do: :gen_cast
  defp kind({:DOWN, ref, :process, _, _}) when is_reference(ref), do: :down
  defp kind({:EXIT, pid, _}) when is_pid(pid), do: :exit
  defp kind({:timeout, ref, _}) when is_reference(ref), do: :timer
  defp kind(_), do: :message

  defp from({:DOWN, _, :process, pid, _}) when is_pid(pid), do: pid
  defp from({:EXIT, pid, _}) when is_pid(pid), do: pid
  defp from({:"$gen_call", {pid, _}, _}) when is_pid(pid), do: pid
  defp from(_), do: nil

  # One note per process: the first escape wins, and a process that keeps getting plain
  # messages does not flood the runner.
  defp report({run, tag, id, runner}, kind, msg, from) do
    if Process.get(@reported_key) == nil do
      Process.put(@reported_key, true)

      note = %{
        process: id,
        pid: self(),
        kind: kind,
        message: msg,
        from: from,
        stack: where()
      }

      Kernel.send(runner, {tag, :escape, note})
      unless warn?(), do: Native.run_abort(run, abort_reason())
    end

    :ok
  end

  # Where the process stood when it found the message: its stack without Lockstep's own
  # frames of the wait.
  defp where do
    {:current_stacktrace, stack} = Process.info(self(), :current_stacktrace)

    Enum.drop_while(stack, fn {mod, _, _, _} ->
      mod in [Process, __MODULE__, Lockstep.Runtime]
    end)
  end

  # gen:call waits for the reply or for a DOWN of its monitor; a DOWN makes it exit with the
  # reason (GenServer.call wraps it with its location), so the caller fails at once instead of
  # waiting for its timeout.
  defp fail_caller({_run, _tag, id, _runner}, caller, tag, request) do
    mref =
      case tag do
        [:alias | mref] -> mref
        mref -> mref
      end

    error = %Lockstep.Error{message: call_message(id, request)}
    Kernel.send(caller, {:DOWN, mref, :process, self(), {error, where()}})
    :ok
  end

  @doc "What a plain call's caller is told."
  def call_message(id, request) do
    "a plain GenServer.call (or :gen_server/:gen_statem/Agent call) with request " <>
      "#{inspect(request, limit: 10)} reached P#{id} #{inspect(self())}, a process managed by a " <>
      "Lockstep run; its caller waits outside the run, so it cannot be scheduled. " <>
      "Call it through Lockstep.GenServer.call/2,3 (Lockstep.GenStatem.call/2,3, " <>
      "Lockstep.Agent for an Agent), or instrument the calling module"
  end

  # ----- reports ---------------------------------------------------------------------------

  @doc "The escape as the report's text; `alias_of` names a process id, `term` renders a term."
  @spec describe(map(), (non_neg_integer() -> String.t()), (term() -> String.t()), map()) ::
          String.t()
  def describe(note, alias_of, term, pids) do
    who = "#{alias_of.(note.process)} (#{inspect(note.pid)})"
    sender = sender(note.from, pids, alias_of)

    what =
      case note.kind do
        :gen_call ->
          {:"$gen_call", _, request} = note.message

          "#{who} got a plain GenServer.call from #{sender} with request #{term.(request)}. " <>
            "It reached the server's VM mailbox, which Lockstep does not schedule; the caller " <>
            "was failed at once. Call it through Lockstep.GenServer.call/2,3 " <>
            "(Lockstep.GenStatem.call/2,3, Lockstep.Agent), or instrument the calling module."

        :gen_cast ->
          {:"$gen_cast", request} = note.message

          "#{who} got a plain GenServer.cast with request #{term.(request)} in its VM " <>
            "mailbox, which Lockstep does not schedule. Cast through Lockstep.GenServer.cast/2, " <>
            "or instrument the module that casts."

        :down ->
          "#{who} got #{term.(note.message)} in its VM mailbox: a plain Process.monitor/1 " <>
            "of #{sender}. Monitor through Lockstep.monitor/1 (a process of the run), or " <>
            "instrument the module."

        :exit ->
          "#{who} got #{term.(note.message)} in its VM mailbox: a plain link to #{sender} " <>
            "with a plain Process.flag(:trap_exit, true). Use Lockstep.link/1 and " <>
            "Lockstep.flag/2, or instrument the module."

        :timer ->
          "#{who} got #{term.(note.message)} in its VM mailbox: a plain :erlang.start_timer. " <>
            "Use Lockstep.start_timer/3 (virtual time), or instrument the module."

        :message ->
          "#{who} got #{term.(note.message)} in its VM mailbox, bypassing Lockstep: it was " <>
            "sent with a plain send/2 (Kernel.send, :erlang.send), Process.send_after/3, or by " <>
            "a process outside the run (the VM does not record which). Send it with " <>
            "Lockstep.send/2 or Lockstep.send_after/3, or instrument the module that sends it."
      end

    at =
      case note.stack do
        [] ->
          ""

        stack ->
          "\nFound while #{alias_of.(note.process)} waited at:\n" <>
            (Exception.format_stacktrace(Enum.take(stack, 8)) |> String.trim_trailing())
      end

    what <>
      "\nLockstep schedules only what goes through it (instrument the module or use the " <>
      "Lockstep wrapper); escapes: :warn reports this without failing the run." <> at
  end

  defp sender(nil, _pids, _alias_of), do: "an unknown sender"

  defp sender(pid, pids, alias_of) do
    case Map.fetch(pids, pid) do
      {:ok, id} -> "#{alias_of.(id)} (#{inspect(pid)})"
      :error -> "#{inspect(pid)}, a process outside the run"
    end
  end

  @doc "One line per escape for a report that has another cause (a deadlock, say)."
  @spec line(map(), (non_neg_integer() -> String.t()), (term() -> String.t())) :: String.t()
  def line(note, alias_of, term) do
    "#{alias_of.(note.process)} got #{term.(note.message)} in its VM mailbox, bypassing Lockstep"
  end
end

defmodule Lockstep.Supervisor.Proc do
  # What Lockstep's supervisors share beyond `Lockstep.Gen` (which starts them and stops them):
  # the `:name` option and child specs, the init callback and its failures, the restart
  # intensity on the virtual clock and the orderly shutdown of one child. Every step goes
  # through Lockstep primitives, so each is a sync point of the run.
  @moduledoc false

  alias Lockstep.Gen

  @typedoc "A name a supervisor can be started under, as in the `:name` option of OTP."
  @type name :: nil | atom() | {:global, term()} | {:via, module(), term()}

  @doc """
  Validates the `:name` option the way `Supervisor.start_link/3` does (raising
  `ArgumentError` for anything but nil, an atom, `{:global, term}` or `{:via, module, term}`)
  and returns it as `Lockstep.Gen.start/4` takes it.
  """
  @spec gen_name!(term()) :: Gen.name() | nil
  def gen_name!(nil), do: nil
  def gen_name!(name) when is_atom(name), do: {:local, name}
  def gen_name!({:global, _} = name), do: name
  def gen_name!({:via, mod, _} = name) when is_atom(mod), do: name

  def gen_name!(other) do
    raise ArgumentError,
          "expected :name option to be one of the following:\n\n  * nil\n  * atom\n" <>
            "  * {:global, term}\n  * {:via, module, term}\n\nGot: #{inspect(other)}\n"
  end

  @doc """
  A child spec starting the supervisor `module` with `options` (`module.start_link(options)`),
  whose id is the `:name` option (or `module`), as DynamicSupervisor and Task.Supervisor build
  theirs.
  """
  @spec child_spec(module(), keyword()) :: Supervisor.child_spec()
  def child_spec(module, options) do
    id =
      case Keyword.get(options, :name, module) do
        name when is_atom(name) -> name
        {:global, name} -> name
        {:via, _module, name} -> name
      end

    %{id: id, start: {module, :start_link, [options]}, type: :supervisor}
  end

  @doc """
  A child spec as `start_child/2` takes it: an old-style 6-tuple unchanged, anything else
  (map, `{module, arg}`, module) through `Supervisor.child_spec/2`, which raises
  `ArgumentError` for what is not a child spec.
  """
  @spec normalize_spec(term()) :: Supervisor.child_spec() | tuple()
  def normalize_spec({_, _, _, _, _, _} = tuple), do: tuple
  def normalize_spec(other), do: Supervisor.child_spec(other, [])

  @doc """
  Calls the supervisor's init callback in the supervisor process: `{:module, mod, arg}` calls
  `mod.init(arg)`, `{:static, result}` stands for an init that returned `result` (reported as
  `Supervisor.Default`). Returns `{module, result}`. When the callback raises, exits or throws,
  the name is released, the starter gets `{:error, reason}` (the reason OTP gives) and the
  exception is raised again.
  """
  @spec call_init(pid(), Gen.name() | nil, {:module, module(), term()} | {:static, term()}) ::
          {module(), term()}
  def call_init(starter, name, init) do
    # As proc_lib records it for a supervisor started by `supervisor` or DynamicSupervisor.
    Process.put(:"$initial_call", {:supervisor, init_module(init), 1})

    case init do
      {:module, mod, arg} -> {mod, mod.init(arg)}
      {:static, result} -> {Supervisor.Default, result}
    end
  catch
    # Supervisors are gen_servers in OTP, and gen_server takes a value thrown by `init/1` as
    # what `init/1` returned.
    :throw, :ignore ->
      init_ignored(starter, name)
      exit(:normal)

    :throw, {:stop, reason} ->
      init_stop(starter, name, reason)

    :throw, value ->
      init_stop(starter, name, {:bad_return_value, value})

    kind, payload ->
      stack = __STACKTRACE__
      Gen.unregister_name(name)
      Gen.init_ack(starter, {:error, exit_reason(kind, payload, stack)})
      :erlang.raise(kind, payload, stack)
  end

  @doc """
  The arguments of the init callback as OTP's supervisors keep them in their state: `arg` for
  `{:module, mod, arg}`, the init result for `{:static, result}`.
  """
  @spec init_args({:module, module(), term()} | {:static, term()}) :: term()
  def init_args({:module, _mod, arg}), do: arg
  def init_args({:static, result}), do: result

  defp init_module({:module, mod, _arg}), do: mod
  defp init_module({:static, _result}), do: Supervisor.Default

  @doc "Ends an init that returned `:ignore`: releases the name and tells the starter."
  @spec init_ignored(pid(), Gen.name() | nil) :: :ok
  def init_ignored(starter, name) do
    Gen.unregister_name(name)
    Gen.init_ack(starter, :ignore)
  end

  @doc "Ends a failed init: releases the name, answers `{:error, reason}` and exits with `reason`."
  @spec init_stop(pid(), Gen.name() | nil, term()) :: no_return()
  def init_stop(starter, name, reason) do
    Gen.unregister_name(name)
    Gen.init_ack(starter, {:error, reason})
    exit(reason)
  end

  @doc """
  The exit reason OTP reports for a start function or init callback that raised (`{exception,
  stacktrace}`), exited (the reason itself) or threw (`{{:nocatch, value}, stacktrace}`).
  """
  @spec exit_reason(:error | :exit | :throw, term(), Exception.stacktrace()) :: term()
  def exit_reason(:exit, reason, _stack), do: reason
  def exit_reason(:error, reason, stack), do: {reason, stack}
  def exit_reason(:throw, value, stack), do: {{:nocatch, value}, stack}

  @doc """
  Records a restart at the current virtual time and says whether the intensity allows it:
  more than `intensity` restarts within the last `period` seconds gives `:terminate`. Time is
  counted in whole seconds of the virtual clock, as OTP counts monotonic seconds.
  """
  @spec add_restart([integer()], non_neg_integer(), pos_integer()) ::
          {:ok | :terminate, [integer()]}
  def add_restart(restarts, intensity, period) do
    now = div(Lockstep.now(), 1000)
    kept = [now | Enum.filter(restarts, &(now <= &1 + period))]
    {if(length(kept) <= intensity, do: :ok, else: :terminate), kept}
  end

  @doc """
  Shuts down child `pid` as a supervisor does: `:brutal_kill` kills it; a timeout sends
  `:shutdown` and kills it if it has not exited after that many virtual ms; `:infinity` waits.
  The child is unlinked and its `:EXIT` message flushed, so the supervisor does not see the
  exit again. Returns the exit reason.
  """
  @spec shutdown_child(pid(), :brutal_kill | timeout()) :: term()
  def shutdown_child(pid, shutdown) do
    mref = Lockstep.monitor(pid)

    reason =
      case shutdown do
        :brutal_kill ->
          Lockstep.exit(pid, :kill)
          await_down(mref, :infinity)

        time ->
          Lockstep.exit(pid, :shutdown)

          case await_down(mref, time) do
            :timeout ->
              Lockstep.exit(pid, :kill)
              await_down(mref, :infinity)

            reason ->
              reason
          end
      end

    unlink_flush(pid, reason)
  end

  defp await_down(mref, timeout) do
    case Lockstep.recv_first(&match?({:DOWN, ^mref, _, _, _}, &1), timeout) do
      {:ok, {:DOWN, ^mref, _, _, reason}} -> reason
      :timeout -> :timeout
    end
  end

  @doc """
  Unlinks a dead child and takes its `:EXIT` message if there is one, returning the reason it
  carries (or `default`).
  """
  @spec unlink_flush(pid(), term()) :: term()
  def unlink_flush(pid, default) do
    Lockstep.unlink(pid)

    case Lockstep.recv_first(&match?({:EXIT, ^pid, _}, &1), 0) do
      {:ok, {:EXIT, ^pid, reason}} -> reason
      :timeout -> default
    end
  end
end

defmodule Lockstep.DynamicSupervisor do
  @moduledoc """
  `DynamicSupervisor` under Lockstep's control: children started on demand, supervised one for
  one, with the supervisor running as a managed process of the run.

      {:ok, sup} = Lockstep.DynamicSupervisor.start_link(max_children: 10)
      {:ok, pid} = Lockstep.DynamicSupervisor.start_child(sup, {MyApp.Session, user_id})

  Outside a run every function calls the `DynamicSupervisor` function of the same name.

  ## Inside a run

  The supervisor is spawned with `Lockstep.spawn_link/1`, traps exits and answers the
  generic-server call protocol; children are started by calling their start function in the
  supervisor process (with `:extra_arguments` prepended to the arguments), so children started
  with Lockstep primitives are linked to it.

  What matches Elixir's DynamicSupervisor: `init/1` options and flag validation
  (`{:error, {:supervisor_data, reason}}`), `start_child/2` with child specs validated in the
  caller (`{:error, {:invalid_mfa, mfa}}`, ...), `{:error, :max_children}`, `:ignore` and
  start errors (`{:error, {exception, stacktrace}}` when the start function raises); restarts
  of `:permanent` and `:transient` children, retried while their start fails (the child shows
  as `:restarting`); the restart intensity, whose excess stops the supervisor with `:shutdown`;
  `which_children/1` (`{:undefined, pid, type, modules}`, in pid order),
  `count_children/1`, `terminate_child/2` (`{:error, :not_found}` for a pid it does not
  supervise); termination of all children at once, each by `:brutal_kill`, `:shutdown`
  followed by a kill after its timeout, or `:shutdown` with no limit; `stop/3`; stopping when
  the parent exits.

  ## Differences from DynamicSupervisor

    * Time is virtual: shutdown timeouts and the restart intensity (whole seconds of
      `Lockstep.now/0`) run on the run's clock.
    * `which_children/1` lists children in pid order, and shutdown signals them in that order.
      OTP uses the order of its map of children, which is the same up to 32 children; beyond
      that OTP's order follows the pids' hashes, which a run cannot reproduce.
    * Nothing is logged (no child-terminated or shutdown-error reports).
    * System messages are those `Lockstep.Sys` sends (`get_state`, `replace_state`,
      `get_status`, `suspend`, `resume`, `terminate`); the state they show is a
      `%DynamicSupervisor{}` built from Lockstep's own (restart times in virtual seconds; for
      a `Lockstep.Task.Supervisor`, `mod` and `args` are Lockstep's), and `replace_state`
      takes one back. Code upgrades and the `:sys` debug facilities are answered
      `{:error, {:unknown_system_msg, request}}`.
    * An unknown call stops the supervisor with `{:bad_call, request}`.
  """

  alias Lockstep.DynamicSupervisor.Server
  alias Lockstep.Gen
  alias Lockstep.Supervisor.Proc

  @doc "`use Lockstep.DynamicSupervisor` is `use DynamicSupervisor`."
  defmacro __using__(opts) do
    quote do
      use DynamicSupervisor, unquote(opts)
    end
  end

  @doc """
  A child spec starting a dynamic supervisor with `options` through this module. The id is the
  `:name` (or this module).
  """
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(options) when is_list(options), do: Proc.child_spec(__MODULE__, options)

  @doc """
  Starts a dynamic supervisor with the options `:strategy` (only `:one_for_one`),
  `:max_restarts` (3), `:max_seconds` (5), `:max_children` (`:infinity`), `:extra_arguments`
  (`[]`) and `:name`. See `DynamicSupervisor.start_link/1`.
  """
  @spec start_link(keyword()) :: Supervisor.on_start()
  def start_link(options) when is_list(options) do
    if Lockstep.managed?() do
      keys = [:extra_arguments, :max_children, :max_seconds, :max_restarts, :strategy]
      {sup_opts, start_opts} = Keyword.split(options, keys)
      Server.start_link({:static, init(sup_opts)}, Proc.gen_name!(start_opts[:name]))
    else
      DynamicSupervisor.start_link(options)
    end
  end

  @doc """
  Starts a dynamic supervisor whose flags come from `module.init(init_arg)` (usually
  `init/1`'s result). Option `:name`. See `DynamicSupervisor.start_link/3`.
  """
  @spec start_link(module(), term(), keyword()) :: Supervisor.on_start()
  def start_link(module, init_arg, options \\ []) when is_atom(module) and is_list(options) do
    if Lockstep.managed?() do
      Server.start_link({:module, module, init_arg}, Proc.gen_name!(options[:name]))
    else
      DynamicSupervisor.start_link(module, init_arg, options)
    end
  end

  @doc "The `{:ok, flags}` an `init/1` callback returns. See `DynamicSupervisor.init/1`."
  @spec init(keyword()) :: {:ok, map()}
  defdelegate init(options), to: DynamicSupervisor

  @doc """
  Starts a child from a child spec (a map, `{module, arg}`, a module or an old 6-tuple).
  `{:ok, pid}`, `{:ok, pid, info}`, `:ignore`, `{:error, :max_children}` or
  `{:error, reason}`. See `DynamicSupervisor.start_child/2`.
  """
  @spec start_child(Supervisor.supervisor(), term()) :: DynamicSupervisor.on_start_child()
  def start_child(supervisor, child_spec) do
    if Lockstep.managed?() do
      case validate_child(Proc.normalize_spec(child_spec)) do
        {:ok, child} -> call(supervisor, {:start_child, child})
        error -> {:error, error}
      end
    else
      DynamicSupervisor.start_child(supervisor, child_spec)
    end
  end

  @doc "Terminates the child `pid`: `:ok` or `{:error, :not_found}`. See `DynamicSupervisor.terminate_child/2`."
  @spec terminate_child(Supervisor.supervisor(), pid()) :: :ok | {:error, :not_found}
  def terminate_child(supervisor, pid) when is_pid(pid) do
    if Lockstep.managed?(),
      do: call(supervisor, {:terminate_child, pid}),
      else: DynamicSupervisor.terminate_child(supervisor, pid)
  end

  @doc "`{:undefined, pid | :restarting, type, modules}` per child. See `DynamicSupervisor.which_children/1`."
  @spec which_children(Supervisor.supervisor()) :: [
          {:undefined, pid() | :restarting, :worker | :supervisor, [module()] | :dynamic}
        ]
  def which_children(supervisor) do
    if Lockstep.managed?(),
      do: call(supervisor, :which_children),
      else: DynamicSupervisor.which_children(supervisor)
  end

  @doc "A map with `:specs`, `:active`, `:supervisors` and `:workers`. See `DynamicSupervisor.count_children/1`."
  @spec count_children(Supervisor.supervisor()) :: %{
          specs: non_neg_integer(),
          active: non_neg_integer(),
          supervisors: non_neg_integer(),
          workers: non_neg_integer()
        }
  def count_children(supervisor) do
    if Lockstep.managed?(),
      do: :maps.from_list(call(supervisor, :count_children)),
      else: DynamicSupervisor.count_children(supervisor)
  end

  @doc "Stops the supervisor after terminating its children. See `DynamicSupervisor.stop/3`."
  @spec stop(Supervisor.supervisor(), term(), timeout()) :: :ok
  def stop(supervisor, reason \\ :normal, timeout \\ :infinity) do
    if Lockstep.managed?(),
      do: Lockstep.GenServer.stop(supervisor, reason, timeout),
      else: DynamicSupervisor.stop(supervisor, reason, timeout)
  end

  defp call(supervisor, request), do: Gen.call(supervisor, request, :infinity)

  # ----- child spec validation, in the caller as DynamicSupervisor does it -----------------

  defp validate_child(%{id: _, start: {mod, _, _} = start} = child) do
    type = Map.get(child, :type, :worker)

    # As in DynamicSupervisor, a type other than :worker or :supervisor raises CaseClauseError.
    shutdown =
      case type do
        :worker -> Map.get(child, :shutdown, 5000)
        :supervisor -> Map.get(child, :shutdown, :infinity)
      end

    validate_child(
      start,
      Map.get(child, :restart, :permanent),
      shutdown,
      type,
      Map.get(child, :modules, [mod])
    )
  end

  defp validate_child({_id, start, restart, shutdown, type, modules}),
    do: validate_child(start, restart, shutdown, type, modules)

  defp validate_child(other), do: {:invalid_child_spec, other}

  defp validate_child(start, restart, shutdown, type, modules) do
    cond do
      not match?({m, f, a} when is_atom(m) and is_atom(f) and is_list(a), start) ->
        {:invalid_mfa, start}

      restart not in [:permanent, :temporary, :transient] ->
        {:invalid_restart_type, restart}

      not ((is_integer(shutdown) and shutdown > 0) or shutdown in [:infinity, :brutal_kill]) ->
        {:invalid_shutdown, shutdown}

      type not in [:supervisor, :worker] ->
        {:invalid_child_type, type}

      not (modules == :dynamic or (is_list(modules) and Enum.all?(modules, &is_atom/1))) ->
        {:invalid_modules, modules}

      true ->
        {:ok, {start, restart, shutdown, type, modules}}
    end
  end
end

defmodule Lockstep.Supervisor do
  @moduledoc """
  `Supervisor` under Lockstep's control: the same API, child specs, strategies, restart rules
  and return values, with the supervisor running as a managed process so that every start,
  exit, restart and call is a step the run can interleave.

      children = [
        %{id: :cache, start: {MyApp.Cache, :start_link, [[name: :cache]]}},
        {MyApp.Worker, []}
      ]

      {:ok, sup} = Lockstep.Supervisor.start_link(children, strategy: :one_for_one)

  Outside a run (in development and production) every function calls the `Supervisor`
  function of the same name, so code written against `Lockstep.Supervisor` runs on plain OTP.

  ## Inside a run

  The supervisor is spawned with `Lockstep.spawn_link/1` from the caller, traps exits with
  `Lockstep.flag/2`, and answers the generic-server call protocol (`Lockstep.Gen`). It starts
  each child by calling its start function in the supervisor process, so a child started with
  `Lockstep.spawn_link/1` (or `Lockstep.Task.start_link/1`, or a Lockstep generic server) is
  linked to it. Its children must be managed processes of the run.

  What matches OTP: child specs (maps, `{module, arg}` and module shorthands through
  `child_spec/1`, old 6-tuples, `child_spec/2` overrides) and their validation errors; the
  `:one_for_one`, `:one_for_all` and `:rest_for_one` strategies; `:permanent`, `:transient`
  and `:temporary` children; `:significant` children and `:auto_shutdown`; start order and
  termination in reverse start order; shutdown by `:brutal_kill`, by a timeout after which
  the child is killed, or `:infinity`; retrying a restart whose start failed (the child shows
  as `:restarting`); the restart intensity, whose excess stops the supervisor with `:shutdown`
  after terminating its children; the order of `which_children/1` (most recently started
  first); `count_children/1` (`:active` counts children alive at that step); the replies and
  errors of `start_child/2`, `terminate_child/2`, `restart_child/2` and `delete_child/2`; the
  results of `start_link/2,3` (`{:error, {:shutdown, {:failed_to_start_child, id, reason}}}`,
  `{:error, {:already_started, pid}}`, `:ignore`, ...) and the supervisor's exit with the
  same reason; `stop/3`; stopping when the parent exits.

  ## Differences from OTP

    * Time is virtual. Shutdown timeouts run on the run's clock, and the restart intensity
      counts whole seconds of `Lockstep.now/0` (OTP counts monotonic seconds), so restarts
      spaced by `Lockstep.sleep/1` leave the window without real waiting.
    * `:simple_one_for_one` (for Erlang code such as `supervisor:start_child(Sup, Args)`;
      new code should use `Lockstep.DynamicSupervisor`) runs as a dynamic supervisor:
      children are started from the one template with the extra arguments appended, kept by
      pid, listed by `which_children/1` in pid order, terminated all at once at shutdown;
      `restart_child/2` and `delete_child/2` answer `{:error, :simple_one_for_one}`. The
      state `Lockstep.Sys` shows for it is a `%DynamicSupervisor{}`, not OTP's record.
    * Nothing is logged: no progress, child-terminated or shutdown-error reports.
    * System messages are those `Lockstep.Sys` sends (`get_state`, `replace_state`,
      `get_status`, `suspend`, `resume`, `terminate`). The state they show is OTP's
      `supervisor` record built from Lockstep's own (restart times in virtual seconds), and
      `replace_state` takes such a record back; code upgrades (`change_code`) and the `:sys`
      debug facilities are answered `{:error, {:unknown_system_msg, request}}`. A suspended
      supervisor neither answers calls nor restarts children until it is resumed, as in OTP.
    * An unknown call stops the supervisor with `{:bad_call, request}` (OTP's supervisor
      crashes with a function clause error).
    * Names are those of `Lockstep.GenServer`: atoms, `{:global, term}` in the run's own name
      space (`Lockstep.Global`), `{:via, module, term}`.
  """

  alias Lockstep.Gen
  alias Lockstep.Supervisor.{Proc, Server}

  @doc "`use Lockstep.Supervisor` is `use Supervisor`: the behaviour and a default `child_spec/1`."
  defmacro __using__(opts) do
    quote do
      use Supervisor, unquote(opts)
    end
  end

  @doc """
  With a list: starts a supervisor with `children` and the options `:strategy` (required), `:max_restarts`
  (default 3), `:max_seconds` (default 5) and `:name`. See `Supervisor.start_link/2`.
  With a module: `start_link(module, init_arg, [])`.
  """
  @spec start_link([Supervisor.child_spec() | {module(), term()} | module()] | module(), term()) ::
          Supervisor.on_start()
  def start_link(children, options) when is_list(children) do
    if Lockstep.managed?() do
      {sup_opts, start_opts} = Keyword.split(options, [:strategy, :max_seconds, :max_restarts])
      init = Supervisor.init(children, sup_opts)
      Server.start_link({:static, init}, Proc.gen_name!(Keyword.get(start_opts, :name)))
    else
      Supervisor.start_link(children, options)
    end
  end

  def start_link(module, init_arg) when is_atom(module), do: start_link(module, init_arg, [])

  @doc """
  Starts a supervisor whose flags and children come from `module.init(init_arg)` (usually
  `Supervisor.init/2`'s result). Option `:name`. See `Supervisor.start_link/3`.
  """
  @spec start_link(module(), term(), keyword()) :: Supervisor.on_start()
  def start_link(module, init_arg, options) when is_atom(module) and is_list(options) do
    if Lockstep.managed?() do
      name = Proc.gen_name!(Keyword.get(options, :name))
      Server.start_link({:module, module, init_arg}, name)
    else
      Supervisor.start_link(module, init_arg, options)
    end
  end

  @doc "Builds the `{:ok, {flags, specs}}` an `init/1` callback returns. See `Supervisor.init/2`."
  @spec init([Supervisor.child_spec() | {module(), term()} | module()], keyword()) ::
          {:ok, tuple()}
  defdelegate init(children, options), to: Supervisor

  @doc "Builds a child spec with overrides. See `Supervisor.child_spec/2`."
  @spec child_spec(Supervisor.child_spec() | {module(), term()} | module(), keyword()) ::
          Supervisor.child_spec()
  defdelegate child_spec(module_or_map, overrides), to: Supervisor

  @doc """
  Adds a child and starts it. `{:error, {:already_started, pid}}` when a running child has the
  same id, `{:error, :already_present}` when a stopped one has. See `Supervisor.start_child/2`.
  """
  @spec start_child(Supervisor.supervisor(), term()) :: Supervisor.on_start_child()
  def start_child(supervisor, child_spec) do
    if Lockstep.managed?() do
      call(supervisor, {:start_child, start_child_arg(child_spec)})
    else
      Supervisor.start_child(supervisor, child_spec)
    end
  end

  # A list is the extra arguments of a `:simple_one_for_one` child (any other supervisor
  # answers `{:error, {:invalid_child_spec, list}}`, as OTP's does).
  defp start_child_arg(extra) when is_list(extra), do: extra
  defp start_child_arg(spec), do: Proc.normalize_spec(spec)

  @doc """
  Terminates the child with `child_id` (it stays in the supervisor unless it is temporary).
  `:ok` or `{:error, :not_found}`. See `Supervisor.terminate_child/2`.
  """
  @spec terminate_child(Supervisor.supervisor(), term()) :: :ok | {:error, :not_found}
  def terminate_child(supervisor, child_id) do
    if Lockstep.managed?(),
      do: call(supervisor, {:terminate_child, child_id}),
      else: Supervisor.terminate_child(supervisor, child_id)
  end

  @doc """
  Restarts a terminated child. `{:error, :running}`, `{:error, :restarting}` or
  `{:error, :not_found}` otherwise. See `Supervisor.restart_child/2`.
  """
  @spec restart_child(Supervisor.supervisor(), term()) ::
          {:ok, pid() | :undefined} | {:ok, pid(), term()} | {:error, term()}
  def restart_child(supervisor, child_id) do
    if Lockstep.managed?(),
      do: call(supervisor, {:restart_child, child_id}),
      else: Supervisor.restart_child(supervisor, child_id)
  end

  @doc """
  Deletes a terminated child's spec. `{:error, :running}`, `{:error, :restarting}` or
  `{:error, :not_found}` otherwise. See `Supervisor.delete_child/2`.
  """
  @spec delete_child(Supervisor.supervisor(), term()) :: :ok | {:error, term()}
  def delete_child(supervisor, child_id) do
    if Lockstep.managed?(),
      do: call(supervisor, {:delete_child, child_id}),
      else: Supervisor.delete_child(supervisor, child_id)
  end

  @doc """
  `{id, pid | :restarting | :undefined, type, modules}` for each child, most recently started
  first. See `Supervisor.which_children/1`.
  """
  @spec which_children(Supervisor.supervisor()) :: [
          {term(), pid() | :restarting | :undefined, :worker | :supervisor, [module()] | :dynamic}
        ]
  def which_children(supervisor) do
    if Lockstep.managed?(),
      do: call(supervisor, :which_children),
      else: Supervisor.which_children(supervisor)
  end

  @doc """
  A map with `:specs`, `:active`, `:supervisors` and `:workers`. See
  `Supervisor.count_children/1`.
  """
  @spec count_children(Supervisor.supervisor()) :: %{
          specs: non_neg_integer(),
          active: non_neg_integer(),
          supervisors: non_neg_integer(),
          workers: non_neg_integer()
        }
  def count_children(supervisor) do
    if Lockstep.managed?(),
      do: :maps.from_list(call(supervisor, :count_children)),
      else: Supervisor.count_children(supervisor)
  end

  @doc """
  Stops the supervisor with `reason` after it terminated its children; `:ok` if it exited with
  that reason. See `Supervisor.stop/3`.
  """
  @spec stop(Supervisor.supervisor(), term(), timeout()) :: :ok
  def stop(supervisor, reason \\ :normal, timeout \\ :infinity) do
    if Lockstep.managed?(),
      do: Lockstep.GenServer.stop(supervisor, reason, timeout),
      else: Supervisor.stop(supervisor, reason, timeout)
  end

  defp call(supervisor, request), do: Gen.call(supervisor, request, :infinity)
end

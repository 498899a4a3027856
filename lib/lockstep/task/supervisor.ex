defmodule Lockstep.Task.Supervisor do
  @moduledoc """
  `Task.Supervisor` under Lockstep's control: a `Lockstep.DynamicSupervisor` of task
  processes, with `async`, `async_nolink`, `start_child`, `async_stream` and
  `async_stream_nolink` as in `Task.Supervisor`.

      {:ok, sup} = Lockstep.Task.Supervisor.start_link()
      task = Lockstep.Task.Supervisor.async_nolink(sup, fn -> risky() end)

      case Lockstep.Task.yield(task, 1_000) || Lockstep.Task.shutdown(task) do
        {:ok, result} -> result
        {:exit, reason} -> {:failed, reason}
        nil -> :timeout
      end

  Outside a run every function calls the `Task.Supervisor` function of the same name.

  ## Inside a run

  Tasks are children of the supervisor (temporary unless `restart:` says otherwise, shutdown
  5000 ms of virtual time), started by a call to it, then linked to the caller (`async`,
  `async_stream`) or not (`async_nolink`, `async_stream_nolink`, `start_child`) and monitored
  by it. The returned `%Task{}` works with `Lockstep.Task.await/2`, `yield/2`, `shutdown/2` and
  the others. An `async_nolink` task that crashes leaves the caller alive: its `await` exits
  with the crash reason, its `yield` returns `{:exit, reason}`, and `async_stream_nolink`
  yields `{:exit, reason}` for its element. When the caller dies before a started task got
  its function, the task exits `{:shutdown, reason}`. `:max_children` is enforced (`async`
  raises `RuntimeError`, `start_child` returns `{:error, :max_children}`).

  ## Differences from Task.Supervisor

  Those of `Lockstep.Task` and `Lockstep.DynamicSupervisor` (virtual time, `:max_concurrency`
  defaulting to 8, no aliases, no logging). The deprecated `:restart` and `:shutdown` options
  of `start_link/1` are accepted without a warning.
  """

  alias Lockstep.DynamicSupervisor.Server
  alias Lockstep.Gen
  alias Lockstep.Supervisor.Proc
  alias Lockstep.Task.Stream, as: TaskStream
  alias Lockstep.Task.Supervised

  @doc "A child spec for a task supervisor with `options`; the id is the `:name` or this module."
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(options) when is_list(options), do: Proc.child_spec(__MODULE__, options)

  @doc """
  Starts a task supervisor. Options: `:name`, `:max_children`, `:max_restarts`,
  `:max_seconds`. See `Task.Supervisor.start_link/1`.
  """
  @spec start_link(keyword()) :: Supervisor.on_start()
  def start_link(options \\ []) when is_list(options) do
    if Lockstep.managed?() do
      {restart, options} = Keyword.pop(options, :restart)
      {shutdown, options} = Keyword.pop(options, :shutdown)

      {sup_opts, start_opts} =
        Keyword.split(options, [:max_children, :max_seconds, :max_restarts])

      arg = {{restart || :temporary, shutdown || 5000}, sup_opts}
      Server.start_link({:module, __MODULE__, arg}, Proc.gen_name!(start_opts[:name]))
    else
      Task.Supervisor.start_link(options)
    end
  end

  @doc false
  # The supervisor's init callback: remembers the default restart and shutdown of its tasks.
  def init({{_restart, _shutdown} = defaults, options}) do
    Process.put(__MODULE__, defaults)
    DynamicSupervisor.init([strategy: :one_for_one] ++ options)
  end

  @doc """
  Starts a task under `supervisor`, linked to and monitored by the caller. Option:
  `:shutdown`. See `Task.Supervisor.async/3`.
  """
  @spec async(Supervisor.supervisor(), (() -> any()), keyword()) :: Task.t()
  def async(supervisor, fun, options \\ []) when is_function(fun, 0),
    do: async(supervisor, :erlang, :apply, [fun, []], options)

  @doc "Like `async/3`, running `apply(module, function, args)`."
  @spec async(Supervisor.supervisor(), module(), atom(), [term()], keyword()) :: Task.t()
  def async(supervisor, module, function, args, options \\ []) do
    if Lockstep.managed?(),
      do: start_async(supervisor, :link, {module, function, args}, options),
      else: Task.Supervisor.async(supervisor, module, function, args, options)
  end

  @doc """
  Starts a task under `supervisor`, monitored by the caller but not linked: its crash does not
  take the caller down. See `Task.Supervisor.async_nolink/3`.
  """
  @spec async_nolink(Supervisor.supervisor(), (() -> any()), keyword()) :: Task.t()
  def async_nolink(supervisor, fun, options \\ []) when is_function(fun, 0),
    do: async_nolink(supervisor, :erlang, :apply, [fun, []], options)

  @doc "Like `async_nolink/3`, running `apply(module, function, args)`."
  @spec async_nolink(Supervisor.supervisor(), module(), atom(), [term()], keyword()) :: Task.t()
  def async_nolink(supervisor, module, function, args, options \\ []) do
    if Lockstep.managed?(),
      do: start_async(supervisor, :nolink, {module, function, args}, options),
      else: Task.Supervisor.async_nolink(supervisor, module, function, args, options)
  end

  defp start_async(supervisor, link, {_m, f, args} = mfa, options) do
    owner = self()

    case start_task(supervisor, [owner, :monitor], :temporary, options[:shutdown]) do
      {:ok, pid} ->
        if link == :link, do: Lockstep.link(pid)
        ref = Lockstep.monitor(pid)
        Lockstep.send(pid, {owner, ref, owner, Supervised.callers(owner), mfa})
        %Task{pid: pid, ref: ref, owner: owner, mfa: {elem(mfa, 0), f, length(args)}}

      {:error, :max_children} ->
        raise RuntimeError,
              "reached the maximum number of tasks for this task supervisor. The maximum " <>
                "number of tasks that are allowed to run at the same time under this " <>
                "supervisor can be configured with the :max_children option passed to " <>
                "Task.Supervisor.start_link/1"
    end
  end

  @doc """
  Starts a task under `supervisor` that replies to nobody. Options: `:restart` (default
  `:temporary`), `:shutdown`. `{:ok, pid}` or `{:error, :max_children}`. See
  `Task.Supervisor.start_child/3`.
  """
  @spec start_child(Supervisor.supervisor(), (() -> any()), keyword()) ::
          DynamicSupervisor.on_start_child()
  def start_child(supervisor, fun, options \\ []) when is_function(fun, 0),
    do: start_child(supervisor, :erlang, :apply, [fun, []], options)

  @doc "Like `start_child/3`, running `apply(module, function, args)`."
  @spec start_child(Supervisor.supervisor(), module(), atom(), [term()], keyword()) ::
          DynamicSupervisor.on_start_child()
  def start_child(supervisor, module, function, args, options \\ [])
      when is_atom(function) and is_list(args) do
    if Lockstep.managed?() do
      owner = self()
      task_args = [owner, Supervised.callers(owner), {module, function, args}]
      start_task(supervisor, task_args, options[:restart], options[:shutdown])
    else
      Task.Supervisor.start_child(supervisor, module, function, args, options)
    end
  end

  defp start_task(supervisor, args, restart, shutdown) do
    Gen.call(supervisor, {:start_task, args, restart, shutdown}, :infinity)
  end

  @doc "The pids of the tasks running under `supervisor`. See `Task.Supervisor.children/1`."
  @spec children(Supervisor.supervisor()) :: [pid()]
  def children(supervisor) do
    if Lockstep.managed?() do
      for {_, pid, _, _} <- Lockstep.DynamicSupervisor.which_children(supervisor),
          is_pid(pid),
          do: pid
    else
      Task.Supervisor.children(supervisor)
    end
  end

  @doc "Terminates the task `pid`: `:ok` or `{:error, :not_found}`."
  @spec terminate_child(Supervisor.supervisor(), pid()) :: :ok | {:error, :not_found}
  def terminate_child(supervisor, pid) when is_pid(pid) do
    if Lockstep.managed?(),
      do: Lockstep.DynamicSupervisor.terminate_child(supervisor, pid),
      else: Task.Supervisor.terminate_child(supervisor, pid)
  end

  @doc """
  `Lockstep.Task.async_stream/3` with the tasks under `supervisor`, linked to the caller. See
  `Task.Supervisor.async_stream/4`.
  """
  @spec async_stream(Supervisor.supervisor(), Enumerable.t(), (term() -> term()), keyword()) ::
          Enumerable.t()
  def async_stream(supervisor, enumerable, fun, options \\ []) when is_function(fun, 1),
    do: build_stream(supervisor, :link, enumerable, fun, options)

  @doc "Like `async_stream/4`, running `apply(module, function, [element | args])`."
  @spec async_stream(
          Supervisor.supervisor(),
          Enumerable.t(),
          module(),
          atom(),
          [term()],
          keyword()
        ) ::
          Enumerable.t()
  def async_stream(supervisor, enumerable, module, function, args, options \\ [])
      when is_atom(module) and is_atom(function) and is_list(args),
      do: build_stream(supervisor, :link, enumerable, {module, function, args}, options)

  @doc """
  `Lockstep.Task.async_stream/3` with the tasks under `supervisor`, not linked: a crashing
  element yields `{:exit, reason}`. See `Task.Supervisor.async_stream_nolink/4`.
  """
  @spec async_stream_nolink(
          Supervisor.supervisor(),
          Enumerable.t(),
          (term() -> term()),
          keyword()
        ) :: Enumerable.t()
  def async_stream_nolink(supervisor, enumerable, fun, options \\ []) when is_function(fun, 1),
    do: build_stream(supervisor, :nolink, enumerable, fun, options)

  @doc "Like `async_stream_nolink/4`, running `apply(module, function, [element | args])`."
  @spec async_stream_nolink(
          Supervisor.supervisor(),
          Enumerable.t(),
          module(),
          atom(),
          [term()],
          keyword()
        ) :: Enumerable.t()
  def async_stream_nolink(supervisor, enumerable, module, function, args, options \\ [])
      when is_atom(module) and is_atom(function) and is_list(args),
      do: build_stream(supervisor, :nolink, enumerable, {module, function, args}, options)

  defp build_stream(supervisor, link, enumerable, fun, options) do
    fn acc, reducer ->
      if Lockstep.managed?() do
        owner = self()

        spawner = fn ->
          case start_task(supervisor, [owner, :monitor], :temporary, options[:shutdown]) do
            {:ok, pid} ->
              if link == :link, do: Lockstep.link(pid)
              {:ok, link, pid}

            {:error, :max_children} ->
              {:error, :max_children}
          end
        end

        TaskStream.reduce(enumerable, acc, reducer, fun, options, spawner)
      else
        Enumerable.reduce(otp_stream(supervisor, link, enumerable, fun, options), acc, reducer)
      end
    end
  end

  defp otp_stream(sup, :link, enum, {m, f, a}, opts),
    do: Task.Supervisor.async_stream(sup, enum, m, f, a, opts)

  defp otp_stream(sup, :link, enum, fun, opts),
    do: Task.Supervisor.async_stream(sup, enum, fun, opts)

  defp otp_stream(sup, :nolink, enum, {m, f, a}, opts),
    do: Task.Supervisor.async_stream_nolink(sup, enum, m, f, a, opts)

  defp otp_stream(sup, :nolink, enum, fun, opts),
    do: Task.Supervisor.async_stream_nolink(sup, enum, fun, opts)
end

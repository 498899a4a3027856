defmodule Lockstep.Instrument.Mapping do
  # The one table from concurrency primitives to the Lockstep calls that replace them. The
  # rewriter works on Erlang's abstract format, so Elixir (after expansion: `send/2` is
  # `erlang:send/2` there, `GenServer.call/2` a remote call to `'Elixir.GenServer'`), Erlang
  # sources and compiled modules all meet here.
  @moduledoc false

  alias Lockstep.Instrument.Runtime, as: RT

  # Modules whose Lockstep namesake takes the same arguments and returns the same results:
  # every function the namesake exports with the same name and arity replaces the original.
  @namesakes %{
    GenServer => Lockstep.GenServer,
    Agent => Lockstep.Agent,
    Task => Lockstep.Task,
    Task.Supervisor => Lockstep.Task.Supervisor,
    Supervisor => Lockstep.Supervisor,
    DynamicSupervisor => Lockstep.DynamicSupervisor,
    Registry => Lockstep.Registry,
    Process => Lockstep.Process,
    :ets => Lockstep.ETS,
    :atomics => Lockstep.Atomics,
    :counters => Lockstep.Counters,
    :persistent_term => Lockstep.PersistentTerm,
    :global => Lockstep.Global,
    :gen_statem => Lockstep.GenStatem,
    :sys => Lockstep.Sys,
    Node => Lockstep.Node
  }

  # {module, function, arity} => {target module, target function}, for primitives whose
  # replacement has another shape (Erlang's argument order, `undefined` for nil, the message
  # as a send's value, badarg errors).
  @explicit %{
    {:erlang, :send, 2} => {RT, :send},
    {:erlang, :send, 3} => {RT, :send},
    {:erlang, :spawn, 1} => {Lockstep, :spawn},
    {:erlang, :spawn, 3} => {RT, :spawn},
    {:erlang, :spawn_link, 1} => {Lockstep, :spawn_link},
    {:erlang, :spawn_link, 3} => {RT, :spawn_link},
    {:erlang, :spawn_monitor, 1} => {Lockstep, :spawn_monitor},
    {:erlang, :spawn_monitor, 3} => {RT, :spawn_monitor},
    {:erlang, :spawn_opt, 2} => {Lockstep, :spawn_opt},
    {:erlang, :spawn_opt, 4} => {RT, :spawn_opt},
    {:erlang, :monitor, 2} => {RT, :monitor},
    {:erlang, :demonitor, 1} => {Lockstep, :demonitor},
    {:erlang, :demonitor, 2} => {Lockstep, :demonitor},
    {:erlang, :link, 1} => {RT, :link},
    {:erlang, :unlink, 1} => {RT, :unlink},
    {:erlang, :process_flag, 2} => {Lockstep, :flag},
    {:erlang, :exit, 2} => {RT, :exit},
    {:erlang, :is_process_alive, 1} => {RT, :is_process_alive},
    {:erlang, :register, 2} => {RT, :register},
    {:erlang, :unregister, 1} => {RT, :unregister},
    {:erlang, :whereis, 1} => {RT, :whereis},
    {:erlang, :registered, 0} => {Lockstep.Process, :registered},
    {:erlang, :process_info, 2} => {RT, :process_info},
    {:erlang, :send_after, 3} => {RT, :send_after},
    {:erlang, :send_after, 4} => {RT, :send_after},
    {:erlang, :start_timer, 3} => {Lockstep, :start_timer},
    {:erlang, :start_timer, 4} => {Lockstep, :start_timer},
    {:erlang, :cancel_timer, 1} => {Lockstep, :cancel_timer},
    {:erlang, :cancel_timer, 2} => {Lockstep, :cancel_timer},
    {:erlang, :read_timer, 1} => {Lockstep, :read_timer},
    {:erlang, :read_timer, 2} => {RT, :read_timer},
    {:erlang, :monotonic_time, 0} => {Lockstep, :monotonic_time},
    {:erlang, :monotonic_time, 1} => {Lockstep, :monotonic_time},
    {:erlang, :system_time, 0} => {Lockstep, :system_time},
    {:erlang, :system_time, 1} => {Lockstep, :system_time},
    {:erlang, :timestamp, 0} => {RT, :timestamp},
    {:erlang, :now, 0} => {RT, :timestamp},
    {:erlang, :apply, 2} => {RT, :apply},
    {:erlang, :apply, 3} => {RT, :apply},
    {:os, :system_time, 0} => {Lockstep, :os_time},
    {:os, :system_time, 1} => {Lockstep, :os_time},
    {:os, :timestamp, 0} => {RT, :timestamp},
    {:timer, :sleep, 1} => {Lockstep, :sleep},
    {:gen_server, :start, 3} => {RT, :gen_server_start},
    {:gen_server, :start, 4} => {RT, :gen_server_start},
    {:gen_server, :start_link, 3} => {RT, :gen_server_start_link},
    {:gen_server, :start_link, 4} => {RT, :gen_server_start_link},
    {:gen_server, :call, 2} => {Lockstep.GenServer, :call},
    {:gen_server, :call, 3} => {Lockstep.GenServer, :call},
    {:gen_server, :cast, 2} => {Lockstep.GenServer, :cast},
    {:gen_server, :reply, 2} => {Lockstep.GenServer, :reply},
    {:gen_server, :stop, 1} => {Lockstep.GenServer, :stop},
    {:gen_server, :stop, 3} => {Lockstep.GenServer, :stop},
    {:supervisor, :start_link, 2} => {Lockstep.Supervisor, :start_link},
    {:supervisor, :start_link, 3} => {RT, :supervisor_start_link},
    {:supervisor, :start_child, 2} => {RT, :supervisor_start_child},
    {:supervisor, :terminate_child, 2} => {RT, :supervisor_terminate_child},
    {:supervisor, :restart_child, 2} => {Lockstep.Supervisor, :restart_child},
    {:supervisor, :delete_child, 2} => {Lockstep.Supervisor, :delete_child},
    {:supervisor, :which_children, 1} => {Lockstep.Supervisor, :which_children},
    {:supervisor, :count_children, 1} => {RT, :supervisor_count_children},
    {:supervisor, :get_childspec, 2} => {RT, :supervisor_get_childspec},
    {System, :monotonic_time, 0} => {Lockstep, :monotonic_time},
    {System, :monotonic_time, 1} => {Lockstep, :monotonic_time},
    {System, :system_time, 0} => {Lockstep, :system_time},
    {System, :system_time, 1} => {Lockstep, :system_time},
    {System, :os_time, 0} => {Lockstep, :os_time},
    {System, :os_time, 1} => {Lockstep, :os_time},
    {DateTime, :utc_now, 0} => {RT, :utc_now},
    {DateTime, :utc_now, 1} => {RT, :utc_now},
    {NaiveDateTime, :utc_now, 0} => {RT, :naive_utc_now},
    {NaiveDateTime, :utc_now, 1} => {RT, :naive_utc_now},
    {Process, :spawn, 4} => {RT, :process_spawn},
    {:erlang, :node, 0} => {Lockstep.Cluster, :node},
    {:erlang, :node, 1} => {Lockstep.Cluster, :node_of},
    {:erlang, :nodes, 0} => {Lockstep.Node, :list},
    {:erlang, :nodes, 1} => {Lockstep.Node, :list},
    {:erlang, :monitor_node, 2} => {Lockstep.Node, :monitor},
    {:erlang, :spawn, 2} => {Lockstep.Node, :spawn},
    {:erlang, :spawn_link, 2} => {Lockstep.Node, :spawn_link}
  }

  # Calls that cannot be put under control, with the reason given at instrumentation time.
  @uncontrolled %{
    {:erlang, :yield, 0} =>
      "erlang:yield/0 only hints the VM's scheduler; under Lockstep it changes nothing",
    {:erlang, :hibernate, 3} =>
      "erlang:hibernate/3 discards the call stack; a managed process that hibernates " <>
        "never reaches its next sync point",
    {:erlang, :open_port, 2} => "ports are not managed: their messages bypass the run",
    {:erlang, :port_command, 2} => "ports are not managed: their messages bypass the run",
    {:erlang, :port_command, 3} => "ports are not managed: their messages bypass the run",
    {:erlang, :load_nif, 2} => "NIF code runs outside Lockstep's control",
    {:erlang, :monitor, 3} => "monitor/3 options (aliases, tags) are not simulated",
    {:timer, :send_after, 2} => "timer:send_after is not simulated; use erlang:send_after/3",
    {:timer, :send_after, 3} => "timer:send_after is not simulated; use erlang:send_after/3",
    {:timer, :send_interval, 2} => "timer:send_interval is not simulated",
    {:timer, :send_interval, 3} => "timer:send_interval is not simulated",
    {:timer, :apply_after, 4} => "timer:apply_after is not simulated",
    {:timer, :apply_interval, 4} => "timer:apply_interval is not simulated",
    {:gen_server, :multi_call, 2} => "gen_server:multi_call is not simulated",
    {:gen_server, :abcast, 2} => "gen_server:abcast is not simulated",
    {GenServer, :multi_call, 2} => "GenServer.multi_call is not simulated",
    {GenServer, :multi_call, 3} => "GenServer.multi_call is not simulated",
    {GenServer, :multi_call, 4} => "GenServer.multi_call is not simulated",
    {GenServer, :abcast, 2} => "GenServer.abcast is not simulated",
    {GenServer, :abcast, 3} => "GenServer.abcast is not simulated",
    {Port, :open, 2} => "ports are not managed: their messages bypass the run",
    {Process, :hibernate, 3} =>
      "Process.hibernate/3 discards the call stack; a managed process that hibernates " <>
        "never reaches its next sync point"
  }

  @doc """
  What replaces a call of `module.function/arity`: `{target, function}`, `{:uncontrolled,
  reason}`, or `nil` when the call is not a concurrency primitive.
  """
  @spec target(module(), atom(), arity()) ::
          {module(), atom()} | {:uncontrolled, String.t()} | nil
  def target(module, function, arity) do
    key = {module, function, arity}

    cond do
      Map.has_key?(@explicit, key) -> Map.fetch!(@explicit, key)
      Map.has_key?(@uncontrolled, key) -> {:uncontrolled, Map.fetch!(@uncontrolled, key)}
      true -> namesake(module, function, arity)
    end
  end

  defp namesake(module, function, arity) do
    with {:ok, lockstep} <- Map.fetch(@namesakes, module),
         {:module, _} <- Code.ensure_loaded(lockstep),
         true <- function_exported?(lockstep, function, arity) do
      {lockstep, function}
    else
      _ -> nil
    end
  end

  @doc "The modules whose calls are rewritten (for documentation and the lint)."
  @spec modules() :: [module()]
  def modules do
    explicit = for {{m, _, _}, _} <- @explicit, do: m
    Enum.uniq(Map.keys(@namesakes) ++ explicit)
  end

  # Lockstep's own `lib/`: its modules call the real primitives and are never rewritten.
  @own_lib Path.expand("../..", __DIR__)

  @doc "Whether `module` belongs to Lockstep itself (never rewritten)."
  @spec lockstep_module?(module()) :: boolean()
  def lockstep_module?(module) do
    with true <- Code.ensure_loaded?(module),
         source when is_list(source) <- module.module_info(:compile)[:source] do
      String.starts_with?(Path.expand(List.to_string(source)), @own_lib <> "/")
    else
      _ -> false
    end
  end
end

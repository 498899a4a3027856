defmodule Lockstep.DynamicSupervisor.Server do
  # The process behind `Lockstep.DynamicSupervisor` (and `Lockstep.Task.Supervisor`) inside a
  # run, following Elixir's DynamicSupervisor: children kept in a map from pid to
  # `{mfa, restart, shutdown, type, modules}` (or `{:restarting, child}` while a failed restart
  # is retried), all terminated together at shutdown.
  @moduledoc false

  alias Lockstep.Gen
  alias Lockstep.Supervisor.Proc

  @doc """
  Starts the supervisor linked to the caller. `init` is `{:module, mod, arg}` (flags from
  `mod.init(arg)`) or `{:static, init_result}`.
  """
  @spec start_link({:module, module(), term()} | {:static, term()}, Gen.name() | nil) :: term()
  def start_link(init, name) do
    Gen.start(:link, name, :infinity, fn starter, parent ->
      init_it(starter, parent, name, init)
    end)
  end

  defp init_it(starter, parent, name, init) do
    Lockstep.flag(:trap_exit, true)

    {mod, result} = Proc.call_init(starter, name, init)

    case result do
      {:ok, flags} when is_map(flags) ->
        case init_state(flags, parent) do
          {:ok, state} ->
            Gen.init_ack(starter, {:ok, self()})
            loop(Map.merge(state, %{name: name, module: mod, args: Proc.init_args(init)}))

          {:error, reason} ->
            Proc.init_stop(starter, name, {:supervisor_data, reason})
        end

      :ignore ->
        Proc.init_ignored(starter, name)

      other ->
        Proc.init_stop(starter, name, {:bad_return, {mod, :init, other}})
    end
  end

  defp init_state(flags, parent) do
    extra = Map.get(flags, :extra_arguments, [])
    max_children = Map.get(flags, :max_children, :infinity)
    intensity = Map.get(flags, :intensity, 1)
    period = Map.get(flags, :period, 5)
    strategy = Map.get(flags, :strategy, :one_for_one)

    cond do
      strategy != :one_for_one ->
        {:error, {:invalid_strategy, strategy}}

      not (is_integer(intensity) and intensity >= 0) ->
        {:error, {:invalid_intensity, intensity}}

      not (is_integer(period) and period > 0) ->
        {:error, {:invalid_period, period}}

      not (max_children == :infinity or (is_integer(max_children) and max_children >= 0)) ->
        {:error, {:invalid_max_children, max_children}}

      not is_list(extra) ->
        {:error, {:invalid_extra_arguments, extra}}

      true ->
        {:ok,
         %{
           parent: parent,
           children: %{},
           extra_arguments: extra,
           max_children: max_children,
           intensity: intensity,
           period: period,
           restarts: []
         }}
    end
  end

  @doc """
  Runs a `:simple_one_for_one` supervisor (started by `Lockstep.Supervisor`, whose init
  checked the flags into `sup` and the one child spec into `template`): `start_child/2` takes
  a list of extra arguments appended to the template's, children are kept and restarted as a
  dynamic supervisor keeps them, `count_children/1` counts one spec, and `restart_child/2`,
  `delete_child/2` and `terminate_child/2` with anything but a child's pid answer
  `{:error, :simple_one_for_one}`, as OTP's supervisor does.
  """
  @spec simple(pid(), map(), map()) :: no_return()
  def simple(starter, sup, template) do
    Gen.init_ack(starter, {:ok, self()})

    loop(%{
      parent: sup.parent,
      children: %{},
      extra_arguments: [],
      max_children: :infinity,
      intensity: sup.intensity,
      period: sup.period,
      restarts: [],
      name: sup.name,
      module: sup.module,
      args: sup.args,
      template: template
    })
  end

  # ----- the loop ------------------------------------------------------------------------

  defp loop(state) do
    case Lockstep.recv() do
      {:"$gen_call", from, request} ->
        {reply, state} = handle_call(request, state)
        Gen.reply(from, reply)
        loop(state)

      {:EXIT, pid, reason} when pid == state.parent ->
        stop(state, reason)

      {:EXIT, pid, reason} ->
        state |> child_exited(pid, reason) |> continue()

      {:"$gen_restart", pid} ->
        case state.children do
          %{^pid => {:restarting, child}} -> state |> restart(pid, child) |> continue()
          _ -> loop(state)
        end

      {:system, from, request} ->
        Lockstep.Sys.handle_system_msg(
          request,
          from,
          state.parent,
          {__MODULE__, :gen_server},
          state
        )

      _unexpected ->
        loop(state)
    end
  end

  defp continue({:ok, state}), do: loop(state)
  defp continue({:shutdown, state}), do: stop(state, :shutdown)

  defp stop(state, reason) do
    terminate_children(state.children)
    exit(reason)
  end

  # ----- system messages (see Lockstep.Sys) ----------------------------------------------

  @doc false
  def system_continue(_parent, state), do: loop(state)

  @doc false
  def system_terminate(reason, _parent, state), do: stop(state, reason)

  @doc false
  def system_get_state(state), do: {:ok, otp_state(state)}

  @doc false
  def system_replace_state(fun, state) do
    new = fun.(otp_state(state))
    {:ok, new, from_otp_state(new, state)}
  end

  @doc false
  def system_format_status([pdict, sys_state, parent, debug, state]) do
    Lockstep.Sys.supervisor_status(
      [pdict, sys_state, parent, debug],
      Lockstep.Sys.status_name(state.name),
      otp_state(state),
      state.module
    )
  end

  # The state as Elixir's DynamicSupervisor keeps it.
  defp otp_state(state) do
    struct(DynamicSupervisor,
      args: state.args,
      extra_arguments: state.extra_arguments,
      mod: state.module,
      name: state.name || {self(), state.module},
      strategy: :one_for_one,
      max_children: state.max_children,
      max_restarts: state.intensity,
      max_seconds: state.period,
      children: state.children,
      restarts: state.restarts
    )
  end

  defp from_otp_state(otp, state) do
    case otp do
      %{
        __struct__: DynamicSupervisor,
        args: args,
        extra_arguments: extra,
        mod: module,
        max_children: max_children,
        max_restarts: intensity,
        max_seconds: period,
        children: children,
        restarts: restarts
      }
      when is_map(children) and is_list(extra) ->
        %{
          state
          | args: args,
            extra_arguments: extra,
            module: module,
            max_children: max_children,
            intensity: intensity,
            period: period,
            children: children,
            restarts: restarts
        }

      _ ->
        :erlang.error({:bad_supervisor_state, otp})
    end
  end

  # ----- calls ---------------------------------------------------------------------------

  defp handle_call(:which_children, state) do
    # Pid order: a map's order up to 32 entries (what OTP shows), and beyond that still
    # independent of the pids' hashes, so runs with the same seed see the same list.
    reply =
      for {pid, info} <- Enum.sort(state.children) do
        case info do
          {:restarting, {_, _, _, type, modules}} -> {:undefined, :restarting, type, modules}
          {_, _, _, type, modules} -> {:undefined, pid, type, modules}
        end
      end

    {reply, state}
  end

  defp handle_call({:start_child, extra}, %{template: t} = state) when is_list(extra) do
    {m, f, args} = t.start
    child = {{m, f, args ++ extra}, t.restart, t.shutdown, t.type, t.modules}

    case handle_call({:start_child, child}, state) do
      {:ignore, state} -> {{:ok, :undefined}, state}
      other -> other
    end
  end

  # Anything but a list of extra arguments cannot be appended to the template's arguments:
  # OTP's supervisor appends it anyway and reports the start's badarg, as here.
  defp handle_call({:start_child, extra}, %{template: t} = state)
       when not is_list(extra) and not (is_tuple(extra) and tuple_size(extra) == 5) do
    {m, f, args} = t.start

    try do
      :erlang.apply(m, f, args ++ extra)
      {{:error, {:badarg, extra}}, state}
    catch
      :error, reason -> {{:error, {:EXIT, {reason, __STACKTRACE__}}}, state}
    end
  end

  defp handle_call({:terminate_child, id}, %{template: _} = state) when not is_pid(id),
    do: {{:error, :simple_one_for_one}, state}

  # OTP's supervisor takes a dead pid it no longer knows for one of its simple_one_for_one
  # children, already terminated: `:ok`, where a live stranger is `{:error, :not_found}`.
  defp handle_call({:terminate_child, pid}, %{template: _, children: children} = state)
       when not is_map_key(children, pid) do
    if Lockstep.alive?(pid), do: {{:error, :not_found}, state}, else: {:ok, state}
  end

  defp handle_call({op, _id}, %{template: _} = state) when op in [:restart_child, :delete_child],
    do: {{:error, :simple_one_for_one}, state}

  # The template (OTP answers it for any child's pid, and for a dead pid, see above).
  defp handle_call({:get_childspec, id}, %{template: t} = state) do
    found? =
      if is_pid(id),
        do: Map.has_key?(state.children, id) or not Lockstep.alive?(id),
        else: id == t.id

    if found?, do: {{:ok, Map.delete(t, :pid)}, state}, else: {{:error, :not_found}, state}
  end

  defp handle_call(:count_children, state) do
    {active, workers, supervisors} =
      Enum.reduce(state.children, {0, 0, 0}, fn {_pid, info}, {active, workers, sups} ->
        {running, type} =
          case info do
            {:restarting, {_, _, _, type, _}} -> {0, type}
            {_, _, _, type, _} -> {1, type}
          end

        case type do
          :worker -> {active + running, workers + 1, sups}
          :supervisor -> {active + running, workers, sups + 1}
        end
      end)

    reply = [
      specs: if(Map.has_key?(state, :template), do: 1, else: map_size(state.children)),
      active: active,
      supervisors: supervisors,
      workers: workers
    ]

    {reply, state}
  end

  defp handle_call({:terminate_child, pid}, state) do
    case state.children do
      %{^pid => info} ->
        terminate_children(%{pid => info})
        {:ok, delete_child(state, pid)}

      _ ->
        {{:error, :not_found}, state}
    end
  end

  defp handle_call({:start_task, args, restart, shutdown}, state) do
    {default_restart, default_shutdown} = Process.get(Lockstep.Task.Supervisor)

    child =
      {{Lockstep.Task.Supervised, :start_link, args}, restart || default_restart,
       shutdown || default_shutdown, :worker, [Task.Supervised]}

    handle_call({:start_child, child}, state)
  end

  defp handle_call({:start_child, child}, state) do
    if map_size(state.children) < state.max_children do
      {{m, f, args} = mfa, restart, shutdown, type, modules} = child

      case reply = start_child(m, f, state.extra_arguments ++ args) do
        {:ok, pid} -> {reply, save_child(state, pid, {mfa, restart, shutdown, type, modules})}
        {:ok, pid, _} -> {reply, save_child(state, pid, {mfa, restart, shutdown, type, modules})}
        _ -> {reply, state}
      end
    else
      {{:error, :max_children}, state}
    end
  end

  defp handle_call(request, _state) do
    exit({:bad_call, request})
  end

  defp start_child(m, f, a) do
    apply(m, f, a)
  catch
    kind, reason -> {:error, Proc.exit_reason(kind, reason, __STACKTRACE__)}
  else
    {:ok, pid, extra} when is_pid(pid) -> {:ok, pid, extra}
    {:ok, pid} when is_pid(pid) -> {:ok, pid}
    :ignore -> :ignore
    {:error, _} = error -> error
    other -> {:error, other}
  end

  defp save_child(state, pid, {{m, f, _}, :temporary, shutdown, type, modules}) do
    put_child(state, pid, {{m, f, :undefined}, :temporary, shutdown, type, modules})
  end

  defp save_child(state, pid, child), do: put_child(state, pid, child)

  defp put_child(state, pid, info), do: %{state | children: Map.put(state.children, pid, info)}

  defp delete_child(state, pid), do: %{state | children: Map.delete(state.children, pid)}

  # ----- exits and restarts -----------------------------------------------------------------

  defp child_exited(state, pid, reason) do
    case state.children do
      %{^pid => {_, restart, _, _, _} = child} ->
        maybe_restart(restart, reason, pid, child, state)

      _ ->
        {:ok, state}
    end
  end

  defp maybe_restart(:permanent, _reason, pid, child, state), do: restart(state, pid, child)

  defp maybe_restart(_restart, reason, pid, _child, state)
       when reason in [:normal, :shutdown],
       do: {:ok, delete_child(state, pid)}

  defp maybe_restart(_restart, {:shutdown, _}, pid, _child, state),
    do: {:ok, delete_child(state, pid)}

  defp maybe_restart(:transient, _reason, pid, child, state), do: restart(state, pid, child)
  defp maybe_restart(:temporary, _reason, pid, _child, state), do: {:ok, delete_child(state, pid)}

  defp restart(state, pid, child) do
    case Proc.add_restart(state.restarts, state.intensity, state.period) do
      {:ok, restarts} ->
        state = %{state | restarts: restarts}
        {{m, f, args}, _restart, _shutdown, _type, _modules} = child

        case start_child(m, f, state.extra_arguments ++ args) do
          {:ok, new_pid, _} -> {:ok, state |> delete_child(pid) |> save_child(new_pid, child)}
          {:ok, new_pid} -> {:ok, state |> delete_child(pid) |> save_child(new_pid, child)}
          :ignore -> {:ok, delete_child(state, pid)}
          {:error, _reason} -> retry(state, pid, child)
        end

      {:terminate, restarts} ->
        {:shutdown, delete_child(%{state | restarts: restarts}, pid)}
    end
  end

  defp retry(state, pid, child) do
    Lockstep.send(self(), {:"$gen_restart", pid})
    {:ok, put_child(state, pid, {:restarting, child})}
  end

  # ----- terminating children (all at once, as DynamicSupervisor does) -----------------------

  defp terminate_children(children) do
    {pids, times} =
      children
      |> Enum.sort()
      |> Enum.reduce({%{}, %{}}, fn
        {_pid, {:restarting, _}}, acc ->
          acc

        {pid, {_, _, shutdown, _, _}}, {pids, times} ->
          if monitor_child(pid) == :ok do
            {Map.put(pids, pid, true), exit_child(pid, shutdown, times)}
          else
            {pids, times}
          end
      end)

    # One timer per distinct shutdown time, keyed by that time (so the steps below do not
    # depend on how references compare).
    tag = make_ref()

    timers =
      Map.new(times, fn {time, group} ->
        {time, {Lockstep.send_after(self(), {:"$kill_after", tag, time}, time), group}}
      end)

    wait_children(pids, tag, timers)
  end

  # Monitors and unlinks a child; a child whose EXIT already arrived is dead and only its DOWN
  # is awaited.
  defp monitor_child(pid) do
    ref = Lockstep.monitor(pid)
    Lockstep.unlink(pid)

    case Lockstep.recv_first(&match?({:EXIT, ^pid, _}, &1), 0) do
      {:ok, {:EXIT, ^pid, _reason}} ->
        Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
        :dead

      :timeout ->
        :ok
    end
  end

  defp exit_child(pid, :brutal_kill, times) do
    Lockstep.exit(pid, :kill)
    times
  end

  defp exit_child(pid, :infinity, times) do
    Lockstep.exit(pid, :shutdown)
    times
  end

  defp exit_child(pid, time, times) do
    Lockstep.exit(pid, :shutdown)
    Map.update(times, time, [pid], &[pid | &1])
  end

  defp wait_children(pids, tag, timers) when map_size(pids) == 0 do
    for {time, {timer, _group}} <- timers do
      Lockstep.cancel_timer(timer)
      Lockstep.recv_first(&match?({:"$kill_after", ^tag, ^time}, &1), 0)
    end

    :ok
  end

  defp wait_children(pids, tag, timers) do
    matcher = fn
      {:DOWN, _, :process, pid, _} -> Map.has_key?(pids, pid)
      {:"$kill_after", ^tag, time} -> Map.has_key?(timers, time)
      _ -> false
    end

    case Lockstep.recv_first(matcher) do
      {:DOWN, _, :process, pid, _reason} ->
        wait_children(Map.delete(pids, pid), tag, timers)

      {:"$kill_after", ^tag, time} ->
        {{_timer, group}, timers} = Map.pop(timers, time)
        Enum.each(group, &Lockstep.exit(&1, :kill))
        wait_children(pids, tag, timers)
    end
  end
end

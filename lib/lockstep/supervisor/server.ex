defmodule Lockstep.Supervisor.Server do
  # The process behind `Lockstep.Supervisor` inside a run: a loop over Lockstep primitives with
  # the semantics of OTP's `supervisor` module for the one_for_one, one_for_all and rest_for_one
  # strategies. Children are kept as OTP keeps them: a list of ids in reverse start order and a
  # map from id to child, so `which_children/1`, termination order and restarts come out in the
  # same order as under OTP.
  @moduledoc false

  alias Lockstep.Gen
  alias Lockstep.Supervisor.Proc

  @default_flags %{strategy: :one_for_one, intensity: 1, period: 5, auto_shutdown: :never}

  @doc """
  Starts the supervisor process linked to the caller. `init` is `{:module, mod, arg}` (the
  flags and child specs come from `mod.init(arg)`) or `{:static, init_result}`.
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
    init_state(mod, result, starter, parent, name, Proc.init_args(init))
  end

  defp init_state(mod, result, starter, parent, name, args) do
    case result do
      {:ok, {{:simple_one_for_one, _intensity, _period}, _specs}} ->
        init_simple(mod, result, starter, parent, name, args)

      {:ok, {%{strategy: :simple_one_for_one}, _specs}} ->
        init_simple(mod, result, starter, parent, name, args)

      {:ok, {flags, specs}} ->
        with {:ok, state} <- init_flags(flags, parent, name),
             state = Map.merge(state, %{module: mod, args: args}),
             {:ok, children} <- check_specs(specs, state.auto_shutdown) do
          case start_children(children) do
            {:ok, children} ->
              Gen.init_ack(starter, {:ok, self()})
              loop(%{state | children: children})

            {:error, children, reason} ->
              _ = terminate_children(children)
              Proc.init_stop(starter, name, {:shutdown, reason})
          end
        else
          {:flags, error} -> Proc.init_stop(starter, name, {:supervisor_data, error})
          {:specs, error} -> Proc.init_stop(starter, name, {:start_spec, error})
        end

      :ignore ->
        Proc.init_ignored(starter, name)

      other ->
        Proc.init_stop(starter, name, {:bad_return, {mod, :init, other}})
    end
  end

  # `:simple_one_for_one`: the flags are checked as for the other strategies, the one child
  # spec is the template, and the supervisor becomes the dynamic kind (children kept by pid),
  # which is how OTP's supervisor keeps them too.
  defp init_simple(mod, {:ok, {flags, specs}}, starter, parent, name, args) do
    flags =
      case flags do
        {_strategy, intensity, period} -> %{intensity: intensity, period: period}
        flags -> Map.delete(flags, :strategy)
      end

    with {:ok, state} <- init_flags(flags, parent, name),
         [_spec] <- specs,
         {:ok, {[id], db}} <- check_specs(specs, state.auto_shutdown) do
      Lockstep.DynamicSupervisor.Server.simple(
        starter,
        Map.merge(state, %{module: mod, args: args}),
        Map.fetch!(db, id)
      )
    else
      {:flags, error} -> Proc.init_stop(starter, name, {:supervisor_data, error})
      {:specs, error} -> Proc.init_stop(starter, name, {:start_spec, error})
      _ -> Proc.init_stop(starter, name, {:bad_start_spec, specs})
    end
  end

  # ----- flags and child specs, validated as OTP validates them ----------------------------

  defp init_flags({strategy, intensity, period}, parent, name) do
    init_flags(
      %{strategy: strategy, intensity: intensity, period: period, auto_shutdown: :never},
      parent,
      name
    )
  end

  defp init_flags(flags, parent, name) when is_map(flags) do
    flags = Map.merge(@default_flags, flags)

    with :ok <-
           valid(
             flags.strategy,
             &(&1 in [:one_for_one, :one_for_all, :rest_for_one]),
             :invalid_strategy
           ),
         :ok <- valid(flags.intensity, &(is_integer(&1) and &1 >= 0), :invalid_intensity),
         :ok <- valid(flags.period, &(is_integer(&1) and &1 > 0), :invalid_period),
         :ok <-
           valid(
             flags.auto_shutdown,
             &(&1 in [:never, :any_significant, :all_significant]),
             :invalid_auto_shutdown
           ) do
      {:ok,
       %{
         name: name,
         parent: parent,
         strategy: flags.strategy,
         intensity: flags.intensity,
         period: flags.period,
         auto_shutdown: flags.auto_shutdown,
         restarts: [],
         children: {[], %{}}
       }}
    end
  end

  defp init_flags(other, _parent, _name), do: {:flags, {:invalid_type, other}}

  defp valid(value, check, error) do
    if check.(value), do: :ok, else: {:flags, {error, value}}
  end

  defp check_specs(specs, auto_shutdown) when is_list(specs) do
    Enum.reduce_while(specs, {:ok, {[], %{}}}, fn spec, {:ok, {ids, db}} ->
      case check_spec(spec, auto_shutdown) do
        {:ok, %{id: id} = child} ->
          if Map.has_key?(db, id) do
            {:halt, {:specs, {:duplicate_child_name, id}}}
          else
            {:cont, {:ok, {[id | ids], Map.put(db, id, child)}}}
          end

        error ->
          {:halt, {:specs, error}}
      end
    end)
    |> case do
      # Ids in start order, as OTP hands them to the first start.
      {:ok, {ids, db}} -> {:ok, {Enum.reverse(ids), db}}
      error -> error
    end
  end

  defp check_specs(other, _auto_shutdown), do: {:specs, {:invalid_child_spec, other}}

  @doc false
  # A child spec (map or old 6-tuple) checked as supervisor:check_childspec/2 checks it:
  # `{:ok, child}` or the error term OTP returns.
  def check_spec({id, start, restart, shutdown, type, modules}, auto_shutdown) do
    check_spec(
      %{
        id: id,
        start: start,
        restart: restart,
        significant: false,
        shutdown: shutdown,
        type: type,
        modules: modules
      },
      auto_shutdown
    )
  end

  def check_spec(spec, auto_shutdown) when is_map(spec) do
    spec = Map.merge(%{restart: :permanent, type: :worker}, spec)

    with {:ok, id} <- fetch(spec, :id, :missing_id),
         {:ok, start} <- fetch(spec, :start, :missing_start),
         :ok <- check(start, &valid_mfa?/1, :invalid_mfa),
         :ok <-
           check(
             spec.restart,
             &(&1 in [:permanent, :transient, :temporary]),
             :invalid_restart_type
           ),
         significant = Map.get(spec, :significant, false),
         :ok <- check_significant(significant, spec.restart, auto_shutdown),
         :ok <- check(spec.type, &(&1 in [:worker, :supervisor]), :invalid_child_type),
         shutdown = Map.get(spec, :shutdown, default_shutdown(spec.type)),
         :ok <- check(shutdown, &valid_shutdown?/1, :invalid_shutdown),
         modules = Map.get(spec, :modules, [elem(start, 0)]),
         :ok <- check_modules(modules) do
      {:ok,
       %{
         id: id,
         start: start,
         restart: spec.restart,
         significant: significant,
         shutdown: shutdown,
         type: spec.type,
         modules: modules,
         pid: :undefined
       }}
    end
  end

  def check_spec(other, _auto_shutdown), do: {:invalid_child_spec, other}

  defp fetch(spec, key, error) do
    case Map.fetch(spec, key) do
      {:ok, value} -> {:ok, value}
      :error -> error
    end
  end

  defp check(value, valid?, error), do: if(valid?.(value), do: :ok, else: {error, value})

  defp valid_mfa?({m, f, a}), do: is_atom(m) and is_atom(f) and is_list(a)
  defp valid_mfa?(_), do: false

  defp valid_shutdown?(s), do: (is_integer(s) and s >= 0) or s in [:infinity, :brutal_kill]

  defp default_shutdown(:worker), do: 5000
  defp default_shutdown(_supervisor), do: :infinity

  defp check_significant(true, _restart, :never),
    do: {:bad_combination, [auto_shutdown: :never, significant: true]}

  defp check_significant(true, :permanent, _),
    do: {:bad_combination, [restart: :permanent, significant: true]}

  defp check_significant(s, _restart, _) when is_boolean(s), do: :ok
  defp check_significant(s, _restart, _), do: {:invalid_significant, s}

  defp check_modules(:dynamic), do: :ok

  defp check_modules(mods) when is_list(mods) do
    case Enum.find(mods, &(not is_atom(&1))) do
      nil -> :ok
      bad -> {:invalid_module, bad}
    end
  end

  defp check_modules(mods), do: {:invalid_modules, mods}

  # ----- starting and stopping children ----------------------------------------------------

  # Starts children in the order of `ids` (start order). Returns them in reverse start order,
  # or the failure with every child (started ones included) for the caller to terminate.
  defp start_children({ids, db}), do: start_children(ids, db, [])

  defp start_children([], db, acc), do: {:ok, {acc, db}}

  defp start_children([id | rest], db, acc) do
    child = Map.fetch!(db, id)

    case start_child(child) do
      {:ok, :undefined} when child.restart == :temporary ->
        start_children(rest, Map.delete(db, id), acc)

      {:ok, pid} ->
        start_children(rest, Map.put(db, id, %{child | pid: pid}), [id | acc])

      {:ok, pid, _extra} ->
        start_children(rest, Map.put(db, id, %{child | pid: pid}), [id | acc])

      {:error, reason} ->
        {:error, {Enum.reverse(rest) ++ [id | acc], db}, {:failed_to_start_child, id, reason}}
    end
  end

  # Calls the child's start function in this process, with OTP's reading of what it returns.
  defp start_child(%{start: {m, f, a}}) do
    result =
      try do
        apply(m, f, a)
      catch
        :error, reason -> {:EXIT, {reason, __STACKTRACE__}}
        :exit, reason -> {:EXIT, reason}
        :throw, value -> value
      end

    case result do
      {:ok, pid} when is_pid(pid) -> {:ok, pid}
      {:ok, pid, extra} when is_pid(pid) -> {:ok, pid, extra}
      :ignore -> {:ok, :undefined}
      {:error, reason} -> {:error, reason}
      other -> {:error, other}
    end
  end

  # Terminates children in list order (reverse start order); temporary ones are dropped.
  # Returns the remaining children in start order, as OTP hands them to a restart.
  defp terminate_children({ids, db}) do
    Enum.reduce(ids, {[], db}, fn id, {acc, db} ->
      child = Map.fetch!(db, id)
      terminate(child)

      if child.restart == :temporary do
        {acc, Map.delete(db, id)}
      else
        {[id | acc], Map.put(db, id, %{child | pid: :undefined})}
      end
    end)
  end

  defp terminate(%{pid: pid, shutdown: shutdown}) when is_pid(pid) do
    _reason = Proc.shutdown_child(pid, shutdown)
    :ok
  end

  defp terminate(_child), do: :ok

  # ----- the loop ------------------------------------------------------------------------

  defp loop(state) do
    case Lockstep.recv() do
      {:"$gen_call", from, request} ->
        {reply, state} = handle_call(request, state)
        Gen.reply(from, reply)
        loop(state)

      {:"$gen_cast", {:try_again_restart, id}} ->
        state |> try_again(id) |> continue()

      {:EXIT, pid, reason} when pid == state.parent ->
        stop(state, reason)

      {:EXIT, pid, reason} ->
        state |> child_exited(pid, reason) |> continue()

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

  # restart_child and delete_child act only on a child that is not running; otherwise they
  # answer OTP's errors.
  defp with_stopped_child(id, state, fun) do
    case find(id, state) do
      {:ok, %{pid: :undefined} = child} -> fun.(child)
      {:ok, %{pid: {:restarting, _}}} -> {{:error, :restarting}, state}
      {:ok, _running} -> {{:error, :running}, state}
      :error -> {{:error, :not_found}, state}
    end
  end

  defp continue({:ok, state}), do: loop(state)
  defp continue({:shutdown, state}), do: stop(state, :shutdown)

  defp stop(state, reason) do
    _ = terminate_children(state.children)
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

  # The state as OTP's supervisor keeps it: its #state{} record, with #child{} records.
  defp otp_state(state) do
    {ids, db} = state.children

    children =
      Map.new(db, fn {id, c} ->
        {id,
         {:child, c.pid, id, c.start, c.restart, c.significant, c.shutdown, c.type, c.modules}}
      end)

    {:state, state.name || {self(), state.module}, state.strategy, {ids, children}, :undefined,
     state.intensity, state.period, state.restarts, 0, state.auto_shutdown, state.module,
     state.args}
  end

  defp from_otp_state(otp, state) do
    with {:state, _name, strategy, {ids, children}, _dynamics, intensity, period, restarts, _,
          auto_shutdown, module, args}
         when is_list(ids) and is_map(children) <- otp,
         {:ok, db} <- from_child_records(Map.to_list(children), %{}) do
      %{
        state
        | strategy: strategy,
          children: {ids, db},
          intensity: intensity,
          period: period,
          restarts: restarts,
          auto_shutdown: auto_shutdown,
          module: module,
          args: args
      }
    else
      _ -> :erlang.error({:bad_supervisor_state, otp})
    end
  end

  defp from_child_records([], db), do: {:ok, db}

  defp from_child_records([{id, child} | rest], db) do
    case child do
      {:child, pid, ^id, start, restart, significant, shutdown, type, modules} ->
        c = %{
          id: id,
          start: start,
          restart: restart,
          significant: significant,
          shutdown: shutdown,
          type: type,
          modules: modules,
          pid: pid
        }

        from_child_records(rest, Map.put(db, id, c))

      _ ->
        :error
    end
  end

  # ----- calls ---------------------------------------------------------------------------

  defp handle_call({:start_child, spec}, state) do
    case check_spec(spec, state.auto_shutdown) do
      {:ok, child} -> handle_start_child(child, state)
      error -> {{:error, error}, state}
    end
  end

  defp handle_call({:terminate_child, id}, state) do
    case find(id, state) do
      {:ok, child} ->
        terminate(child)
        {:ok, del_child(child, state)}

      :error ->
        {{:error, :not_found}, state}
    end
  end

  defp handle_call({:restart_child, id}, state) do
    with_stopped_child(id, state, fn child ->
      case start_child(child) do
        {:ok, pid} -> {{:ok, pid}, set_pid(state, id, pid)}
        {:ok, pid, extra} -> {{:ok, pid, extra}, set_pid(state, id, pid)}
        error -> {error, state}
      end
    end)
  end

  defp handle_call({:delete_child, id}, state) do
    with_stopped_child(id, state, fn _child ->
      {ids, db} = state.children
      {:ok, %{state | children: {List.delete(ids, id), Map.delete(db, id)}}}
    end)
  end

  defp handle_call({:get_childspec, id}, state) do
    case find(id, state) do
      {:ok, child} -> {{:ok, Map.drop(child, [:pid])}, state}
      :error -> {{:error, :not_found}, state}
    end
  end

  defp handle_call(:which_children, state) do
    {ids, db} = state.children

    reply =
      for id <- ids do
        child = Map.fetch!(db, id)

        pid =
          case child.pid do
            {:restarting, _} -> :restarting
            pid -> pid
          end

        {id, pid, child.type, child.modules}
      end

    {reply, state}
  end

  defp handle_call(:count_children, state) do
    {_ids, db} = state.children

    {specs, active, supervisors, workers} =
      Enum.reduce(db, {0, 0, 0, 0}, fn {_id, child}, {specs, active, sups, workers} ->
        alive = if is_pid(child.pid) and Lockstep.alive?(child.pid), do: 1, else: 0

        case child.type do
          :worker -> {specs + 1, active + alive, sups, workers + 1}
          :supervisor -> {specs + 1, active + alive, sups + 1, workers}
        end
      end)

    {[specs: specs, active: active, supervisors: supervisors, workers: workers], state}
  end

  defp handle_call(request, _state) do
    exit({:bad_call, request})
  end

  defp handle_start_child(%{id: id} = child, state) do
    case find(id, state) do
      :error ->
        case start_child(child) do
          {:ok, :undefined} when child.restart == :temporary ->
            {{:ok, :undefined}, state}

          {:ok, pid} ->
            {{:ok, pid}, save_child(%{child | pid: pid}, state)}

          {:ok, pid, extra} ->
            {{:ok, pid, extra}, save_child(%{child | pid: pid}, state)}

          {:error, what} ->
            {{:error, {what, child_record(child)}}, state}
        end

      {:ok, %{pid: pid}} when is_pid(pid) ->
        {{:error, {:already_started, pid}}, state}

      {:ok, _present} ->
        {{:error, :already_present}, state}
    end
  end

  # ----- exits and restarts -----------------------------------------------------------------

  defp child_exited(state, pid, reason) do
    {_ids, db} = state.children

    case Enum.find(db, fn {_id, child} -> child.pid == pid end) do
      {_id, child} -> do_restart(reason, child, state)
      nil -> {:ok, state}
    end
  end

  defp do_restart(_reason, %{restart: :permanent} = child, state), do: restart(child, state)

  defp do_restart(reason, child, state) when reason in [:normal, :shutdown] do
    auto_shutdown(child, del_child(child, state))
  end

  defp do_restart({:shutdown, _}, child, state) do
    auto_shutdown(child, del_child(child, state))
  end

  defp do_restart(_reason, %{restart: :transient} = child, state), do: restart(child, state)

  defp do_restart(_reason, %{restart: :temporary} = child, state) do
    auto_shutdown(child, del_child(child, state))
  end

  defp auto_shutdown(_child, %{auto_shutdown: :never} = state), do: {:ok, state}
  defp auto_shutdown(%{significant: false}, state), do: {:ok, state}
  defp auto_shutdown(_child, %{auto_shutdown: :any_significant} = state), do: {:shutdown, state}

  defp auto_shutdown(_child, state) do
    {_ids, db} = state.children

    if Enum.any?(db, fn {_id, c} -> c.significant and c.pid != :undefined end) do
      {:ok, state}
    else
      {:shutdown, state}
    end
  end

  defp restart(child, state) do
    case Proc.add_restart(state.restarts, state.intensity, state.period) do
      {:ok, restarts} ->
        case restart(state.strategy, child, %{state | restarts: restarts}) do
          {{:try_again, id}, state} ->
            Lockstep.send(self(), {:"$gen_cast", {:try_again_restart, id}})
            {:ok, state}

          {:ok, state} ->
            {:ok, state}
        end

      {:terminate, restarts} ->
        {:shutdown, del_child(child, %{state | restarts: restarts})}
    end
  end

  defp restart(:one_for_one, %{id: id} = child, state) do
    case start_child(child) do
      {:ok, pid} -> {:ok, set_pid(state, id, pid)}
      {:ok, pid, _extra} -> {:ok, set_pid(state, id, pid)}
      {:error, _reason} -> {{:try_again, id}, set_pid(state, id, restarting(child.pid))}
    end
  end

  defp restart(:rest_for_one, %{id: id} = child, state) do
    {after_ids, before_ids} = split_ids(elem(state.children, 0), id, [])
    {_, db} = state.children
    db = Map.update!(db, id, &%{&1 | pid: :undefined})
    {result, {ids, db}} = restart_multiple(child, {after_ids, db})
    {result, %{state | children: {ids ++ before_ids, db}}}
  end

  defp restart(:one_for_all, child, state) do
    %{children: children} = del_child(child, state)
    {result, children} = restart_multiple(child, children)
    {result, %{state | children: children}}
  end

  # `ids` is in reverse start order: the ids before `id` in it were started after it.
  defp split_ids([id | rest], id, later), do: {Enum.reverse([id | later]), rest}
  defp split_ids([other | rest], id, later), do: split_ids(rest, id, [other | later])

  defp restart_multiple(child, children) do
    case children |> terminate_children() |> start_children() do
      {:ok, children} ->
        {:ok, children}

      {:error, {ids, db}, {:failed_to_start_child, failed_id, _reason}} ->
        pid = if failed_id == child.id, do: restarting(child.pid), else: {:restarting, :undefined}
        {{:try_again, failed_id}, {ids, Map.update!(db, failed_id, &%{&1 | pid: pid})}}
    end
  end

  defp try_again(state, id) do
    case find(id, state) do
      {:ok, %{pid: {:restarting, _}} = child} -> restart(child, state)
      _ -> {:ok, state}
    end
  end

  defp restarting(pid) when is_pid(pid), do: {:restarting, pid}
  defp restarting(other), do: other

  # ----- the children's table ----------------------------------------------------------------

  defp find(id, %{children: {_ids, db}}), do: Map.fetch(db, id)

  defp save_child(%{id: id} = child, %{children: {ids, db}} = state) do
    child = if child.restart == :temporary, do: drop_args(child), else: child
    %{state | children: {[id | ids], Map.put(db, id, child)}}
  end

  # The child as OTP's `#child{}` record, which start_child/2 errors carry.
  defp child_record(c) do
    {:child, :undefined, c.id, c.start, c.restart, c.significant, c.shutdown, c.type, c.modules}
  end

  defp drop_args(%{start: {m, f, _}} = child), do: %{child | start: {m, f, :undefined}}

  defp del_child(%{id: id}, %{children: {ids, db}} = state) do
    children =
      case Map.fetch!(db, id) do
        %{restart: :temporary} -> {List.delete(ids, id), Map.delete(db, id)}
        child -> {ids, Map.put(db, id, %{child | pid: :undefined})}
      end

    %{state | children: children}
  end

  defp set_pid(%{children: {ids, db}} = state, id, pid) do
    %{state | children: {ids, Map.update!(db, id, &%{&1 | pid: pid})}}
  end
end

defmodule Lockstep.Registry do
  @moduledoc """
  A local key-value process registry with the API and behaviour of Elixir's `Registry`, whose
  every step is a sync point inside a Lockstep run.

      {:ok, _} = Lockstep.Registry.start_link(keys: :unique, name: MyApp.Rooms)
      {:ok, _} = Lockstep.Registry.register(MyApp.Rooms, "lobby", :open)
      Lockstep.Registry.lookup(MyApp.Rooms, "lobby")
      #=> [{self(), :open}]

  Outside a run every function delegates to `Registry`, so `start_link/1` starts a real
  `Registry` and code written against `Lockstep.Registry` runs normally in production. Inside a
  run, calls on a registry that was started outside the run (by the application, say) are
  delegated to `Registry` too.

  ## Inside a run

  `start_link/1` spawns a managed registry process linked to the caller and registered under
  the registry's name; it owns the registry's tables, so the registry and everything in it is
  gone when the iteration ends. Its name and its table's name are the run's own (see
  `Lockstep.ETS`), so two runs at once, two `async: true` ctests say, can each start a
  registry of the same name. As in `Registry`:

    * the registering process is the owner of its entries; registering links it to the
      registry process, which traps exits and removes the entries of an owner that dies.
      Removal happens when the registry process handles the owner's `:EXIT`, so there is a
      window in which `lookup/2` still returns the dead owner's entry; Lockstep explores it;
    * a unique key held by a live process gives `{:error, {:already_registered, pid}}`; one
      held by a dead process that the registry has not cleaned up yet is taken over;
    * when the registry's parent exits, the registry exits with the same reason, after
      sending its owners the `:shutdown` exit signal they get from a `Registry` partition
      that its supervisor shuts down;
    * `{:via, Lockstep.Registry, {registry, key}}` (or `{registry, key, value}`) names a
      process through `register_name/2`, `whereis_name/1`, `unregister_name/1` and `send/2`;
    * `select/2` and `count_select/2` take match specifications on `{key, pid, value}` and
      raise `ArgumentError` on any other shape; `unregister_match/4` removes only the
      caller's matching entries, and the listeners hear `:unregister` (and the caller is
      unlinked, if it holds no other key) only when none of its entries is left under the
      key, even when it held none to begin with.

  The trace records each step with a label naming the registry and the key:
  `{:registry, :insert_new, MyApp.Rooms, "lobby"}`, `{:registry, :lookup, MyApp.Rooms, "lobby"}`,
  `{:registry, :owner_down, MyApp.Rooms, pid}`. `select/2` and `count_select/2` read the whole
  registry (`{:registry, :select, MyApp.Rooms}`); `count_match/4` reads one key and
  `unregister_match/4` writes it, then the caller's own index
  (`{:registry, :unregister_owner, MyApp.Rooms, "lobby"}`). Links, unlinks, liveness checks and
  listener messages are the ordinary `Lockstep` steps.

  ## Differences from `Registry`

    * `:partitions` and `:compressed` are accepted and ignored: a run has one partition, so
      `lookup/2` on a duplicate registry lists entries in registration order, and `select/2`
      lists them in the order a `Registry` of one partition does.
    * `register/3` returns `{:ok, registry_pid}`: the registry process is its own partition.
    * Reading the registry's configuration is part of each operation's first step rather
      than a step of its own.
  """

  import Kernel, except: [send: 2]

  alias Lockstep.{Runtime, SharedState}

  @info -1

  @typedoc "The registry's name."
  @type registry :: atom()

  @typedoc "Options for `start_link/1`, as for `Registry.start_link/1`."
  @type start_option ::
          {:keys, :unique | :duplicate}
          | {:name, registry()}
          | {:partitions, pos_integer()}
          | {:listeners, [atom()]}
          | {:meta, keyword()}
          | {:compressed, boolean()}

  # ----- starting ------------------------------------------------------------------------------

  @doc """
  A child specification: starts the registry with `start_link/1` as a supervisor-type child
  whose id is the registry's name.
  """
  @spec child_spec([start_option()]) :: Supervisor.child_spec()
  def child_spec(options) do
    %{
      id: Keyword.get(options, :name, __MODULE__),
      start: {__MODULE__, :start_link, [options]},
      type: :supervisor
    }
  end

  @doc """
  Starts a registry linked to the caller. Takes `Registry.start_link/1`'s options (`:keys`
  and `:name` are required) and raises `ArgumentError` on invalid ones as it does. Returns
  `{:ok, pid}`, or `{:error, {:already_started, pid}}` when the name is taken.
  """
  @spec start_link([start_option()]) :: {:ok, pid()} | {:error, term()}
  def start_link(options) do
    case Runtime.ctx() do
      nil -> Registry.start_link(options)
      _ctx -> start_managed(validate!(options))
    end
  end

  defp validate!(options) do
    kind = Keyword.get(options, :keys)

    unless kind in [:unique, :duplicate] do
      raise ArgumentError,
            "expected :keys to be given and be one of :unique or :duplicate, got: " <>
              inspect(kind)
    end

    name =
      case Keyword.fetch(options, :name) do
        {:ok, name} when is_atom(name) ->
          name

        {:ok, other} ->
          raise ArgumentError, "expected :name to be an atom, got: #{inspect(other)}"

        :error ->
          raise ArgumentError, "expected :name option to be present"
      end

    meta = Keyword.get(options, :meta, [])

    unless Keyword.keyword?(meta) do
      raise ArgumentError, "expected :meta to be a keyword list, got: #{inspect(meta)}"
    end

    partitions = Keyword.get(options, :partitions, 1)

    unless is_integer(partitions) and partitions >= 1 do
      raise ArgumentError,
            "expected :partitions to be a positive integer, got: #{inspect(partitions)}"
    end

    listeners = Keyword.get(options, :listeners, [])

    unless is_list(listeners) and Enum.all?(listeners, &is_atom/1) do
      raise ArgumentError,
            "expected :listeners to be a list of named processes, got: #{inspect(listeners)}"
    end

    compressed = Keyword.get(options, :compressed, false)

    unless is_boolean(compressed) do
      raise ArgumentError, "expected :compressed to be a boolean, got: #{inspect(compressed)}"
    end

    %{kind: kind, name: name, meta: meta, listeners: listeners}
  end

  defp start_managed(config) do
    parent = self()
    ref = make_ref()
    Lockstep.spawn_link(fn -> init(parent, ref, config) end)
    {^ref, result} = Lockstep.recv_first(&match?({^ref, _}, &1))
    result
  end

  defp init(parent, ref, %{name: name, kind: kind} = config) do
    Lockstep.flag(:trap_exit, true)

    registered =
      try do
        Lockstep.register(self(), name)
      rescue
        ArgumentError -> false
      end

    if registered do
      table = Lockstep.ETS.new(name, [:set, :public, :named_table, read_concurrency: true])
      # The options of a `Registry` partition's tables, which `select/2` lists in the same
      # order then.
      concurrency = [read_concurrency: true, write_concurrency: true]
      keys = Lockstep.ETS.new(name, [keys_type(kind), :public | concurrency])
      pids = Lockstep.ETS.new(name, [:duplicate_bag, :public | concurrency])
      info = {__MODULE__, kind, keys, pids, self(), config.listeners}
      Lockstep.ETS.insert(table, [{@info, info} | config.meta])
      Lockstep.send(parent, {ref, {:ok, self()}})
      loop(%{parent: parent, name: name, keys: keys, pids: pids})
    else
      Lockstep.send(parent, {ref, {:error, {:already_started, Lockstep.whereis(name)}}})
    end
  end

  defp keys_type(:unique), do: :set
  defp keys_type(:duplicate), do: :duplicate_bag

  defp loop(%{parent: parent} = state) do
    case Lockstep.recv() do
      {:EXIT, ^parent, reason} ->
        shut_down_owners(state)
        exit(reason)

      {:EXIT, pid, _reason} ->
        remove_owner(state, pid)
        loop(state)

      _other ->
        loop(state)
    end
  end

  # The registry stops with its parent. A `Registry`'s owners are linked to its partition,
  # which its supervisor shuts down first, so they see `:shutdown` whatever the parent's reason.
  defp shut_down_owners(%{name: name, pids: pids}) do
    step(name, nil, false, {:registry, :shutdown, name})

    owners = pids |> :ets.tab2list() |> Enum.map(&elem(&1, 0)) |> Enum.uniq()

    for owner <- in_spawn_order(owners) do
      Lockstep.unlink(owner)
      Lockstep.exit(owner, :shutdown)
    end
  end

  # The table's order depends on the pids' hashes, which differ from run to run; the order in
  # which processes were spawned does not.
  defp in_spawn_order(pids) do
    {run, _tag, _id, _runner} = Runtime.ctx()
    ids = Map.new(Lockstep.Native.run_procs(run), fn {id, pid, _, _} -> {pid, id} end)
    Enum.sort_by(pids, &Map.get(ids, &1, :infinity))
  end

  # An owner died: drop its entries, one step for its index and one per key it held.
  defp remove_owner(%{name: name, keys: keys, pids: pids}, pid) do
    step(name, {:pid, pid}, true, {:registry, :owner_down, name, pid})

    for {^pid, key, _counter} <- :ets.take(pids, pid) do
      step(name, {:key, key}, true, {:registry, :remove, name, key})
      :ets.select_delete(keys, [{{:_, {pid, :_}}, [key_guard(key)], [true]}])
    end
  end

  # ----- registering -------------------------------------------------------------------------

  @doc """
  Registers the caller under `key` with `value`, as `Registry.register/3`. Returns
  `{:ok, owner}` or `{:error, {:already_registered, pid}}` for a unique key that is taken.
  """
  @spec register(registry(), term(), term()) ::
          {:ok, pid()} | {:error, {:already_registered, pid()}}
  def register(registry, key, value) when is_atom(registry) do
    with_registry(registry, &Registry.register(&1, key, value), fn info ->
      {_, kind, keys, pids, server, listeners} = info
      me = self()
      Lockstep.link(server)
      step(registry, {:pid, me}, true, {:registry, :register, registry, key})
      # The counter tells this registration from an identical one, which may fail.
      entry = {me, key, :erlang.unique_integer()}
      :ets.insert(pids, entry)

      case register_key(registry, kind, keys, key, {key, {me, value}}) do
        :ok ->
          for listener <- listeners,
              do: Lockstep.send(listener, {:register, registry, key, me, value})

          {:ok, server}

        {:error, {:already_registered, holder}} = error ->
          step(registry, {:pid, me}, true, {:registry, :register_failed, registry, key})
          :ets.delete_object(pids, entry)
          if holder != me and not :ets.member(pids, me), do: Lockstep.unlink(server)
          error
      end
    end)
  end

  defp register_key(registry, :duplicate, keys, key, entry) do
    step(registry, {:key, key}, true, {:registry, :insert, registry, key})
    true = :ets.insert(keys, entry)
    :ok
  end

  defp register_key(registry, :unique, keys, key, entry) do
    step(registry, {:key, key}, true, {:registry, :insert_new, registry, key})

    if :ets.insert_new(keys, entry) do
      :ok
    else
      case :ets.lookup(keys, key) do
        [{^key, {holder, _}} = current] ->
          if Lockstep.alive?(holder) do
            {:error, {:already_registered, holder}}
          else
            step(registry, {:key, key}, true, {:registry, :take_over, registry, key})
            :ets.delete_object(keys, current)
            register_key(registry, :unique, keys, key, entry)
          end

        [] ->
          register_key(registry, :unique, keys, key, entry)
      end
    end
  end

  @doc "Removes the caller's entries under `key`, as `Registry.unregister/2`. Returns `:ok`."
  @spec unregister(registry(), term()) :: :ok
  def unregister(registry, key) when is_atom(registry) do
    with_registry(registry, &Registry.unregister(&1, key), fn info ->
      {_, _kind, keys, pids, server, listeners} = info
      me = self()
      step(registry, {:key, key}, true, {:registry, :unregister, registry, key})
      :ets.select_delete(keys, [{{:_, {me, :_}}, [key_guard(key)], [true]}])
      step(registry, {:pid, me}, true, {:registry, :unregister_owner, registry, key})

      delete_owner_entries(pids, me, key)

      unless :ets.member(pids, me), do: Lockstep.unlink(server)
      for listener <- listeners, do: Lockstep.send(listener, {:unregister, registry, key, me})
      :ok
    end)
  end

  @doc """
  Removes the caller's entries under `key` whose value matches `pattern` and `guards`, as
  `Registry.unregister_match/4`. Returns `:ok`. As in `Registry`, the listeners hear of it
  (and the caller is unlinked from the registry if it holds no other key) only when no entry
  of the caller is left under `key`.
  """
  @spec unregister_match(registry(), term(), term(), list()) :: :ok
  def unregister_match(registry, key, pattern, guards \\ []) when is_list(guards) do
    with_registry(registry, &Registry.unregister_match(&1, key, pattern, guards), fn info ->
      {_, _kind, keys, pids, server, listeners} = info
      me = self()
      step(registry, {:key, key}, true, {:registry, :unregister_match, registry, key})
      total = :ets.select_count(keys, [{{:_, {me, :_}}, [key_guard(key)], [true]}])

      deleted =
        :ets.select_delete(keys, [{{:_, {me, pattern}}, [key_guard(key) | guards], [true]}])

      case deleted do
        ^total ->
          step(registry, {:pid, me}, true, {:registry, :unregister_owner, registry, key})
          delete_owner_entries(pids, me, key)
          unless :ets.member(pids, me), do: Lockstep.unlink(server)

          for listener <- listeners,
              do: Lockstep.send(listener, {:unregister, registry, key, me})

        0 ->
          :ok

        _some ->
          # The caller's index keeps one entry per registration left under `key`, now the
          # most recent ones, as `Registry` rewrites them.
          step(registry, {:pid, me}, true, {:registry, :unregister_owner, registry, key})
          delete_owner_entries(pids, me, key)
          left = for _ <- 1..(total - deleted), do: {me, key, :erlang.unique_integer()}
          :ets.insert(pids, left)
      end

      :ok
    end)
  end

  defp delete_owner_entries(pids, owner, key) do
    :ets.select_delete(pids, [
      {{owner, :_, :_}, [{:"=:=", {:element, 2, :"$_"}, {:const, key}}], [true]}
    ])
  end

  # ----- reading -------------------------------------------------------------------------------

  @doc """
  The `{pid, value}` entries under `key`, as `Registry.lookup/2`. An owner that died may still
  be listed until the registry has handled its exit, as in `Registry`.
  """
  @spec lookup(registry(), term()) :: [{pid(), term()}]
  def lookup(registry, key) when is_atom(registry) do
    with_registry(registry, &Registry.lookup(&1, key), fn info ->
      entries(registry, info, key, :lookup)
    end)
  end

  defp entries(registry, {_, _kind, keys, _pids, _server, _}, key, op) do
    step(registry, {:key, key}, false, {:registry, op, registry, key})
    for {_key, pair} <- :ets.lookup(keys, key), do: pair
  end

  @doc """
  Calls `fun` (or `{module, function, args}` with the entries prepended to `args`) with the
  entries under `key`, unless there are none, as `Registry.dispatch/4`. Returns `:ok`.
  """
  @spec dispatch(
          registry(),
          term(),
          ([{pid(), term()}] -> term()) | {module(), atom(), list()},
          keyword()
        ) ::
          :ok
  def dispatch(registry, key, mfa_or_fun, opts \\ []) when is_atom(registry) do
    with_registry(registry, &Registry.dispatch(&1, key, mfa_or_fun, opts), fn info ->
      case entries(registry, info, key, :dispatch) do
        [] -> :ok
        list -> apply_dispatch(mfa_or_fun, list)
      end

      :ok
    end)
  end

  defp apply_dispatch({m, f, a}, entries), do: apply(m, f, [entries | a])
  defp apply_dispatch(fun, entries) when is_function(fun, 1), do: fun.(entries)

  @doc """
  The `{pid, value}` entries under `key` whose value matches `pattern` and `guards`, as
  `Registry.match/4`.
  """
  @spec match(registry(), term(), term(), list()) :: [{pid(), term()}]
  def match(registry, key, pattern, guards \\ []) when is_atom(registry) and is_list(guards) do
    with_registry(registry, &Registry.match(&1, key, pattern, guards), fn info ->
      {_, _kind, keys, _pids, _server, _} = info
      step(registry, {:key, key}, false, {:registry, :match, registry, key})
      spec = [{{:_, {:_, pattern}}, [key_guard(key) | guards], [{:element, 2, :"$_"}]}]
      :ets.select(keys, spec)
    end)
  end

  @doc "The values `pid` registered under `key`, as `Registry.values/3`."
  @spec values(registry(), term(), pid()) :: [term()]
  def values(registry, key, pid) when is_atom(registry) do
    with_registry(registry, &Registry.values(&1, key, pid), fn info ->
      for {^pid, value} <- entries(registry, info, key, :values), do: value
    end)
  end

  @doc "The keys `pid` is registered under, most recent first, as `Registry.keys/2`."
  @spec keys(registry(), pid()) :: [term()]
  def keys(registry, pid) when is_atom(registry) and is_pid(pid) do
    with_registry(registry, &Registry.keys(&1, pid), fn info ->
      {_, kind, _keys, pids, _server, _} = info
      step(registry, {:pid, pid}, false, {:registry, :keys, registry, pid})
      keys = Enum.reverse(for {_, key, _} <- :ets.lookup(pids, pid), do: key)
      if kind == :unique, do: Enum.uniq(keys), else: keys
    end)
  end

  @doc "How many entries the registry holds, as `Registry.count/1`."
  @spec count(registry()) :: non_neg_integer()
  def count(registry) when is_atom(registry) do
    with_registry(registry, &Registry.count/1, fn info ->
      {_, _kind, keys, _pids, _server, _} = info
      step(registry, nil, false, {:registry, :count, registry})
      :ets.info(keys, :size)
    end)
  end

  @doc """
  How many entries under `key` have a value that matches `pattern` and `guards`, as
  `Registry.count_match/4`.
  """
  @spec count_match(registry(), term(), term(), list()) :: non_neg_integer()
  def count_match(registry, key, pattern, guards \\ [])
      when is_atom(registry) and is_list(guards) do
    with_registry(registry, &Registry.count_match(&1, key, pattern, guards), fn info ->
      {_, _kind, keys, _pids, _server, _} = info
      step(registry, {:key, key}, false, {:registry, :count_match, registry, key})
      :ets.select_count(keys, [{{:_, {:_, pattern}}, [key_guard(key) | guards], [true]}])
    end)
  end

  @doc """
  What the match specification `spec` selects from all entries, as `Registry.select/2`: each
  clause is `{{key, pid, value}, guards, body}`, anything else raises `ArgumentError`.
  """
  @spec select(registry(), [{tuple(), list(), list()}]) :: [term()]
  def select(registry, spec) when is_atom(registry) and is_list(spec) do
    # As in `Registry`, a bad specification is reported before an unknown registry.
    entry_spec = if Runtime.ctx(), do: entry_spec(spec, {:select, 2})

    with_registry(registry, &Registry.select(&1, spec), fn info ->
      {_, _kind, keys, _pids, _server, _} = info
      step(registry, nil, false, {:registry, :select, registry})
      :ets.select(keys, entry_spec)
    end)
  end

  @doc """
  How many entries the match specification `spec` accepts, as `Registry.count_select/2`
  (`spec` as for `select/2`).
  """
  @spec count_select(registry(), [{tuple(), list(), list()}]) :: non_neg_integer()
  def count_select(registry, spec) when is_atom(registry) and is_list(spec) do
    entry_spec = if Runtime.ctx(), do: entry_spec(spec, {:count_select, 2})

    with_registry(registry, &Registry.count_select(&1, spec), fn info ->
      {_, _kind, keys, _pids, _server, _} = info
      step(registry, nil, false, {:registry, :count_select, registry})
      :ets.select_count(keys, entry_spec)
    end)
  end

  # A `Registry` match specification on `{key, pid, value}` as one on the entries as they are
  # stored, `{key, {pid, value}}`.
  defp entry_spec(spec, {fun, arity}) do
    for clause <- spec do
      case clause do
        {{key, pid, value}, guards, body} ->
          {{key, {pid, value}}, guards, body}

        _ ->
          raise ArgumentError,
                "invalid match specification in Registry.#{fun}/#{arity}: #{inspect(spec)}"
      end
    end
  end

  @doc """
  Replaces the value the caller registered under a unique `key` with `callback.(old)`, as
  `Registry.update_value/3`. Returns `{new, old}`, or `:error` when the caller does not hold
  the key.
  """
  @spec update_value(registry(), term(), (term() -> term())) :: {term(), term()} | :error
  def update_value(registry, key, callback) when is_atom(registry) and is_function(callback, 1) do
    with_registry(registry, &Registry.update_value(&1, key, callback), fn info ->
      case info do
        {_, :unique, keys, _pids, _server, _} ->
          step(registry, {:key, key}, true, {:registry, :update_value, registry, key})
          me = self()

          case :ets.lookup(keys, key) do
            [{^key, {^me, old}}] ->
              new = callback.(old)
              :ets.insert(keys, {key, {me, new}})
              {new, old}

            _ ->
              :error
          end

        {_, kind, _, _, _, _} ->
          raise ArgumentError,
                "Registry.update_value/3 is not supported for #{kind} registries"
      end
    end)
  end

  # ----- metadata ------------------------------------------------------------------------------

  @doc "The registry metadata under `key`, as `Registry.meta/2`: `{:ok, value}` or `:error`."
  @spec meta(registry(), atom() | tuple()) :: {:ok, term()} | :error
  def meta(registry, key) when is_atom(registry) and (is_atom(key) or is_tuple(key)) do
    case Runtime.ctx() do
      nil ->
        Registry.meta(registry, key)

      ctx ->
        if real?(ctx, registry) do
          Registry.meta(registry, key)
        else
          step(registry, {:meta, key}, false, {:registry, :meta, registry, key})

          case safe_lookup(Lockstep.ETS.resolve(ctx, registry), key) do
            [{^key, value}] ->
              {:ok, value}

            :badarg ->
              raise ArgumentError,
                    "unknown registry: #{inspect(registry)}. Either the registry name is " <>
                      "invalid or the registry is not running, possibly because its " <>
                      "application isn't started"

            _ ->
              :error
          end
        end
    end
  end

  @doc "Stores registry metadata under `key`, as `Registry.put_meta/3`. Returns `:ok`."
  @spec put_meta(registry(), atom() | tuple(), term()) :: :ok
  def put_meta(registry, key, value)
      when is_atom(registry) and (is_atom(key) or is_tuple(key)) do
    write_meta(registry, key, :put_meta, &Registry.put_meta(&1, key, value), fn table ->
      :ets.insert(table, {key, value})
    end)
  end

  @doc "Removes registry metadata under `key`, as `Registry.delete_meta/2`. Returns `:ok`."
  @spec delete_meta(registry(), atom() | tuple()) :: :ok
  def delete_meta(registry, key) when is_atom(registry) and (is_atom(key) or is_tuple(key)) do
    write_meta(registry, key, :delete_meta, &Registry.delete_meta(&1, key), fn table ->
      :ets.delete(table, key)
    end)
  end

  defp write_meta(registry, key, op, real, write) do
    case Runtime.ctx() do
      nil ->
        real.(registry)

      ctx ->
        if real?(ctx, registry) do
          real.(registry)
        else
          step(registry, {:meta, key}, true, {:registry, op, registry, key})

          try do
            write.(Lockstep.ETS.resolve(ctx, registry))
            :ok
          rescue
            ArgumentError -> raise ArgumentError, "unknown registry: #{inspect(registry)}"
          end
        end
    end
  end

  # ----- {:via, Lockstep.Registry, name} ---------------------------------------------------

  @doc """
  Registers `pid`, which must be the caller, under `{registry, key}` (or `{registry, key,
  value}`) for `{:via, Lockstep.Registry, name}`. Returns `:yes` or `:no`.
  """
  @spec register_name({registry(), term()} | {registry(), term(), term()}, pid()) :: :yes | :no
  def register_name({registry, key}, pid), do: register_name({registry, key, nil}, pid)

  def register_name({registry, key, value}, pid) when pid == self() do
    case register(registry, key, value) do
      {:ok, _} -> :yes
      {:error, _} -> :no
    end
  end

  @doc """
  The live process registered under `{registry, key}` in a unique registry, or `:undefined`,
  for `{:via, Lockstep.Registry, name}`.
  """
  @spec whereis_name({registry(), term()} | {registry(), term(), term()}) :: pid() | :undefined
  def whereis_name({registry, key, _value}), do: whereis_name({registry, key})

  def whereis_name({registry, key}) do
    with_registry(registry, &Registry.whereis_name({&1, key}), fn info ->
      case info do
        {_, :unique, _, _, _, _} ->
          case entries(registry, info, key, :whereis_name) do
            [{pid, _}] -> if Lockstep.alive?(pid), do: pid, else: :undefined
            [] -> :undefined
          end

        {_, kind, _, _, _, _} ->
          raise ArgumentError, ":via is not supported for #{kind} registries"
      end
    end)
  end

  @doc "Unregisters the caller's `{registry, key}`, for `{:via, Lockstep.Registry, name}`."
  @spec unregister_name({registry(), term()} | {registry(), term(), term()}) :: :ok
  def unregister_name({registry, key, _value}), do: unregister(registry, key)
  def unregister_name({registry, key}), do: unregister(registry, key)

  @doc """
  Sends `message` to the process registered under `{registry, key}` and returns `message`, for
  `{:via, Lockstep.Registry, name}`; raises `ArgumentError` (`badarg`) when there is none.
  """
  @spec send({registry(), term()} | {registry(), term(), term()}, term()) :: term()
  def send({registry, key, _value}, message), do: send({registry, key}, message)

  def send({registry, key}, message) do
    case lookup(registry, key) do
      [{pid, _}] ->
        Lockstep.send(pid, message)
        message

      [] ->
        :erlang.error(:badarg, [{registry, key}, message])
    end
  end

  # ----- plumbing ------------------------------------------------------------------------------

  # Runs `managed` with the registry's configuration when the registry belongs to the run, and
  # `real` (the `Registry` function) outside runs or for a registry started outside the run.
  defp with_registry(registry, real, managed) do
    case Runtime.ctx() do
      nil ->
        real.(registry)

      ctx ->
        case info(ctx, registry) do
          {__MODULE__, _, _, _, _, _} = info -> managed.(info)
          :unknown -> raise ArgumentError, "unknown registry: #{inspect(registry)}"
          _real -> real.(registry)
        end
    end
  end

  defp real?(ctx, registry) do
    case info(ctx, registry) do
      {__MODULE__, _, _, _, _, _} -> false
      :unknown -> false
      _ -> true
    end
  end

  # The registry's configuration, read without a step of its own. Processes the engine has
  # ended are waited for first, so whether the registry still exists is decided by the
  # schedule, not by when the VM got round to deleting a dead registry's tables.
  defp info(ctx, registry) do
    SharedState.settle(ctx)
    :ets.lookup_element(Lockstep.ETS.resolve(ctx, registry), @info, 2)
  rescue
    ArgumentError -> :unknown
  end

  defp safe_lookup(table, key) do
    :ets.lookup(table, key)
  rescue
    ArgumentError -> :badarg
  end

  # The registry's three tables share the name (and so the identity) of the registry: keys,
  # owners and metadata are told apart by tagging the key.
  defp step(registry, nil, write, label) do
    SharedState.step(Runtime.ctx(), SharedState.object({:ets, registry}), write, label)
  end

  defp step(registry, key, write, label) do
    SharedState.step(Runtime.ctx(), SharedState.object({:ets, registry}, key), write, label)
  end

  # Matches the entry's key exactly, even when the key is an atom a match pattern would read
  # as a variable or a wildcard (`:_`, `:"$1"`).
  defp key_guard(key), do: {:"=:=", {:element, 1, :"$_"}, {:const, key}}
end

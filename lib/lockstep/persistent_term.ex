defmodule Lockstep.PersistentTerm do
  @moduledoc """
  `:persistent_term` with every operation a sync point, and a name space of its own in each
  run.

      Lockstep.PersistentTerm.put({MyApp, :config}, %{retries: 3})
      Lockstep.PersistentTerm.get({MyApp, :config})
      #=> %{retries: 3}

  Each function takes the same arguments as its `:persistent_term` namesake and returns the
  same result, exceptions included (`get/1` of a missing key raises the `ArgumentError` that
  `:persistent_term.get/1` raises). Inside a run the caller waits for its turn at a sync point
  and then performs the operation at once; outside a run it calls `:persistent_term` directly.

  The trace records `{:persistent_term, operation, key}`; `get/0` and `info/0` read every key
  (`{:persistent_term, :get}`, `{:persistent_term, :info}`). `put` and `erase` are writes.

  ## Keys belong to the run

  Inside a run, `put/2` and `erase/1` do not change the VM's persistent terms: they change the
  run's own, which every process of the run sees and nothing else does. A key the run has not
  put or erased stands for the VM's term of that key, if there is one (the application's
  configuration, say); a key the run put or erased hides it from the run. So, for the code
  under test, the functions behave as on a VM whose persistent terms are those of the VM at the
  start of the run changed by the run's own writes:

    * `get/1` and `get/2` return the run's term, else the VM's, else raise or return the
      default;
    * `erase/1` returns whether the key had a term for the run, and afterwards the key has
      none, even where the VM has one;
    * `get/0` lists the VM's terms with the run's writes applied, and `info/0` counts those.

  Two runs at once (two `async: true` ctests, two `Lockstep.Runner.run/2` in parallel tasks)
  can each use the same key without seeing the other's term, each iteration starts from the
  VM's terms (nothing one iteration wrote is seen by the next), and the VM's terms are the same
  after a run as before it.

  The run's terms are kept in one public table for all runs, keyed by the iteration (as
  `Lockstep.ETS` keeps the run's table names); the runner removes an iteration's terms once its
  processes are gone, however the iteration ended. Writing a real persistent term per run key
  would cost a garbage collection of every process in the VM each time one is erased, and an
  iteration would erase all of them.

  ## Differences from OTP

    * The run's terms are known only to this module, in the run's processes: `:persistent_term`
      called directly, or a process outside the run, sees the VM's terms only.
    * A term the run put is copied out of the run's table on every `get`, where a real
      persistent term is not copied. Only the speed differs; terms cannot be changed in place.
    * `info/0`'s `:memory` is the VM's figure plus the size of the run's terms (a term the run
      erased or replaced is not subtracted).
  """

  alias Lockstep.{RunSpace, Runtime, SharedState}

  @table :persistent_term
  @terms :"$lockstep_persistent_terms"

  @doc "All persistent terms, as `:persistent_term.get/0`. Inside a run, as the run sees them."
  @spec get() :: [{term(), term()}]
  def get do
    case whole(:get) do
      nil -> :persistent_term.get()
      ctx -> visible(ctx)
    end
  end

  @doc "The term stored under `key`; raises `ArgumentError` if none, as `:persistent_term.get/1`."
  @spec get(term()) :: term()
  def get(key) do
    case keyed(key, false, :get) do
      nil ->
        :persistent_term.get(key)

      ctx ->
        case lookup(ctx, key) do
          {:value, value} -> value
          :absent -> missing!(key)
        end
    end
  end

  @doc "The term stored under `key`, or `default`, as `:persistent_term.get/2`."
  @spec get(term(), term()) :: term()
  def get(key, default) do
    case keyed(key, false, :get) do
      nil ->
        :persistent_term.get(key, default)

      ctx ->
        case lookup(ctx, key) do
          {:value, value} -> value
          :absent -> default
        end
    end
  end

  @doc "Stores `value` under `key`, as `:persistent_term.put/2`. Inside a run, for the run."
  @spec put(term(), term()) :: :ok
  def put(key, value) do
    case keyed(key, true, :put) do
      nil ->
        :persistent_term.put(key, value)

      ctx ->
        write(ctx, key, {:value, value})
        :ok
    end
  end

  @doc "Removes `key`; returns whether it was there, as `:persistent_term.erase/1`."
  @spec erase(term()) :: boolean()
  def erase(key) do
    case keyed(key, true, :erase) do
      nil ->
        :persistent_term.erase(key)

      ctx ->
        # Erased for the run even when the VM has the key: the run's entry hides the VM's.
        present = lookup(ctx, key) != :absent
        write(ctx, key, :erased)
        present
    end
  end

  @doc "Count and memory of all persistent terms, as `:persistent_term.info/0`."
  @spec info() :: %{count: non_neg_integer(), memory: non_neg_integer()}
  def info do
    case whole(:info) do
      nil ->
        :persistent_term.info()

      ctx ->
        words =
          for {key, {:value, value}} <- RunSpace.entries(@terms, ctx), reduce: 0 do
            acc -> acc + :erts_debug.flat_size({key, value})
          end

        %{
          count: length(visible(ctx)),
          memory: :persistent_term.info().memory + words * :erlang.system_info(:wordsize)
        }
    end
  end

  # ----- sync points -------------------------------------------------------------------------

  # Each returns the caller's run context once the operation's turn has come, or nil outside
  # a run.
  defp whole(op) do
    with ctx when ctx != nil <- Runtime.ctx() do
      SharedState.step(ctx, SharedState.object(@table), false, {:persistent_term, op})
      ctx
    end
  end

  defp keyed(key, write, op) do
    with ctx when ctx != nil <- Runtime.ctx() do
      SharedState.step(ctx, SharedState.object(@table, key), write, {:persistent_term, op, key})
      ctx
    end
  end

  # ----- the run's terms ---------------------------------------------------------------------

  # What `key` holds for the run: its own entry, else the VM's term.
  defp lookup(ctx, key) do
    case RunSpace.fetch(@terms, ctx, key) do
      {:ok, {:value, _} = value} ->
        value

      {:ok, :erased} ->
        :absent

      :error ->
        absent = make_ref()

        case :persistent_term.get(key, absent) do
          ^absent -> :absent
          value -> {:value, value}
        end
    end
  end

  defp write(ctx, key, entry) do
    space = RunSpace.open(@terms, ctx)
    :ets.insert(@terms, {{space, key}, entry})
  end

  # The VM's terms with the run's entries applied.
  defp visible(ctx) do
    own = RunSpace.entries(@terms, ctx)

    case own do
      [] ->
        :persistent_term.get()

      _ ->
        hidden = Map.new(own)
        vm = for {key, _} = term <- :persistent_term.get(), not is_map_key(hidden, key), do: term
        vm ++ for({key, {:value, value}} <- own, do: {key, value})
    end
  end

  # The error `:persistent_term.get/1` raises for a key without a term.
  defp missing!(key) do
    {:current_stacktrace, [_info, _self | stack]} = Process.info(self(), :current_stacktrace)
    frame = {:persistent_term, :get, [key], [error_info: %{module: :erl_erts_errors}]}
    :erlang.raise(:error, :badarg, [frame | stack])
  end
end

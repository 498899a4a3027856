defmodule Lockstep.SharedState do
  @moduledoc """
  Shared-state operations as sync points: the encoding of what an operation touches, and the
  step every wrapper (`Lockstep.ETS`, `Lockstep.Atomics`, `Lockstep.Counters`,
  `Lockstep.PersistentTerm`, `Lockstep.Registry`) takes before it performs the real operation.

  Inside a run, an operation on shared state first announces itself to the engine and waits
  for its turn; once picked, it performs the real VM operation at once. Only one managed process
  runs between sync points, so the real operation happens exactly at its place in the schedule,
  and its result (or exception) is the real one. Outside a run nothing is announced.

  ## Objects

  Each sync point names the *object* it touches, so that scheduling strategies can tell
  operations that conflict (same object, at least one write) from operations that commute. An
  object is a 64-bit integer:

      object = (table_hash <<< 32) ||| key_hash

  `table_hash` is a 32-bit hash of the table's identity (for example `{:ets, :cache}`).
  `key_hash` is a nonzero 32-bit hash of the table and key for an operation on one key, and `0`
  for an operation on the whole table (a scan, a match, creating or deleting the table), which
  conflicts with every key of that table. `object/1` and `object/2` compute it; use them when
  making your own shared state schedulable with `sync/3`.

  Identities are built from terms that are the same in every run (table names, keys), never
  from references, so the same seed gives the same schedule on every machine. Where only a
  reference is at hand (an unnamed ETS table, an atomics array) the wrappers use what is stable
  about it (the table's name, the array's size); two such objects may then be treated as one,
  which makes strategies explore more orderings, never fewer.
  """

  import Bitwise

  alias Lockstep.{Native, Runtime}

  @table_range 0x1_0000_0000
  @key_range 0xFFFF_FFFF
  @settle_ms 5_000

  @doc """
  The object of a whole-table operation on the table whose identity is `table`: its key half
  is 0.
  """
  @spec object(term()) :: non_neg_integer()
  def object(table), do: :erlang.phash2(table, @table_range) <<< 32

  @doc """
  The object of an operation on `key` of the table whose identity is `table`: the table's
  hash in the upper 32 bits, a nonzero hash of `{table, key}` in the lower 32.
  """
  @spec object(term(), term()) :: non_neg_integer()
  def object(table, key), do: object(table) ||| :erlang.phash2({table, key}, @key_range) + 1

  @doc """
  Makes an operation on shared state of your own a sync point: inside a run, announces it
  (`object` from `object/1` or `object/2`, `write` true when it modifies the object, `label` a
  readable term that the trace and failure reports show) and returns once the strategy picked
  it, so that the caller can perform the operation at once. Outside a run, returns at once.

      Lockstep.SharedState.sync(Lockstep.SharedState.object({:my_cache, name}, key), true,
        {:my_cache, :put, name, key})
      MyCache.NIF.put(handle, key, value)
  """
  @spec sync(non_neg_integer(), boolean(), term()) :: :ok
  def sync(object, write, label)
      when is_integer(object) and object >= 0 and object < 0x1_0000_0000_0000_0000 and
             is_boolean(write) do
    case Runtime.ctx() do
      nil -> :ok
      ctx -> step(ctx, object, write, label)
    end
  end

  @doc false
  # The sync point proper, for wrappers that already hold the run context.
  @spec step(Runtime.ctx(), non_neg_integer(), boolean(), term()) :: :ok
  def step(ctx, object, write, label) do
    :ok = Runtime.sync(ctx, {:sync, object, write, label})
    settle(ctx)
  end

  @doc false
  # Processes that the engine has already ended may still be alive in the VM for a moment
  # (the runner kills them on the engine's word, asynchronously). Their ETS tables would then
  # vanish at a wall-clock instant rather than at a step of the schedule, so before touching
  # shared state wait until every such process is really gone: the engine's side knows which
  # ones the VM has not reported down yet (usually none), so this is one call when all are.
  @spec settle(Runtime.ctx()) :: :ok
  def settle({run, _tag, _id, _runner}) do
    me = self()

    for pid <- Native.run_unreaped(run, true), pid != me do
      ref = Process.monitor(pid)

      receive do
        {:DOWN, ^ref, :process, ^pid, _} -> :ok
      after
        @settle_ms ->
          Process.demonitor(ref, [:flush])

          raise Lockstep.Error,
            message:
              "#{inspect(pid)} ended in the run but its VM process is still alive " <>
                "after #{@settle_ms} ms"
      end
    end

    :ok
  end

  @doc false
  # Asks the runner to call `fun` once the iteration is over and all of its processes are
  # gone. Cleanups run in the reverse order of their registration.
  @spec on_cleanup(Runtime.ctx(), (() -> any())) :: :ok
  def on_cleanup({_run, tag, _id, runner}, fun) when is_function(fun, 0) do
    send(runner, {tag, :cleanup, fun})
    :ok
  end
end

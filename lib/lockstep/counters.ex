defmodule Lockstep.Counters do
  @moduledoc """
  `:counters` with every operation a sync point.

      ref = Lockstep.Counters.new(2, [:atomics])
      Lockstep.Counters.add(ref, 1, 3)
      Lockstep.Counters.get(ref, 1)
      #=> 3

  Each function takes the same arguments as its `:counters` namesake and returns the same
  result, exceptions included. Inside a run the caller waits for its turn at a sync point and
  then performs the real operation at once; outside a run it calls `:counters` directly.

  The trace records `{:counters, operation, ref, index}` (`{:counters, :new, size}` and
  `{:counters, :info, ref}` for the whole array). Reads are `get` and `info`; `add`, `sub` and
  `put` are writes.

  ## Differences from OTP

  None in results: with `:write_concurrency` a read may in OTP miss concurrent updates; inside a
  run no update is ever in flight during a read, so every read sees all earlier updates, which
  is one of the outcomes OTP allows. For scheduling, an array is identified by its size, as for
  `Lockstep.Atomics`.
  """

  alias Lockstep.IntegerArray

  @doc "Creates an array of `size` counters, as `:counters.new/2`."
  @spec new(pos_integer(), [:atomics | :write_concurrency]) :: :counters.counters_ref()
  def new(size, opts) do
    IntegerArray.new(:counters, size)
    :counters.new(size, opts)
  end

  @doc "Reads counter `ix`, as `:counters.get/2`."
  @spec get(:counters.counters_ref(), pos_integer()) :: integer()
  def get(ref, ix) do
    at(ref, ix, false, :get)
    :counters.get(ref, ix)
  end

  @doc "Adds `incr` to counter `ix`, as `:counters.add/3`."
  @spec add(:counters.counters_ref(), pos_integer(), integer()) :: :ok
  def add(ref, ix, incr) do
    at(ref, ix, true, :add)
    :counters.add(ref, ix, incr)
  end

  @doc "Subtracts `decr` from counter `ix`, as `:counters.sub/3`."
  @spec sub(:counters.counters_ref(), pos_integer(), integer()) :: :ok
  def sub(ref, ix, decr) do
    at(ref, ix, true, :sub)
    :counters.sub(ref, ix, decr)
  end

  @doc "Sets counter `ix` to `value`, as `:counters.put/3`."
  @spec put(:counters.counters_ref(), pos_integer(), integer()) :: :ok
  def put(ref, ix, value) do
    at(ref, ix, true, :put)
    :counters.put(ref, ix, value)
  end

  @doc "Size and memory of the array, as `:counters.info/1`."
  @spec info(:counters.counters_ref()) :: map()
  def info(ref) do
    IntegerArray.info(:counters, ref)
    :counters.info(ref)
  end

  defp at(ref, ix, write, op), do: IntegerArray.at(:counters, ref, ix, write, op)
end

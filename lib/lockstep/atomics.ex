defmodule Lockstep.Atomics do
  @moduledoc """
  `:atomics` with every operation a sync point.

      ref = Lockstep.Atomics.new(1, signed: true)
      Lockstep.Atomics.add_get(ref, 1, 5)
      #=> 5

  Each function takes the same arguments as its `:atomics` namesake and returns the same
  result, exceptions included. Inside a run the caller waits for its turn at a sync point and
  then performs the real operation at once; outside a run it calls `:atomics` directly.

  The trace records `{:atomics, operation, ref, index}` (`{:atomics, :new, size}` and
  `{:atomics, :info, ref}` for the whole array). Reads are `get` and `info`; everything else
  is a write.

  ## Differences from OTP

  None in results. For scheduling, an array is identified by its size, since its reference
  differs from run to run: strategies treat index `i` of two arrays of the same size as one
  object (they may explore more orderings than needed, never fewer).
  """

  alias Lockstep.IntegerArray

  @doc "Creates an array of `arity` atomics, as `:atomics.new/2`."
  @spec new(pos_integer(), [{:signed, boolean()}]) :: :atomics.atomics_ref()
  def new(arity, opts) do
    IntegerArray.new(:atomics, arity)
    :atomics.new(arity, opts)
  end

  @doc "Sets index `ix` to `value`, as `:atomics.put/3`."
  @spec put(:atomics.atomics_ref(), pos_integer(), integer()) :: :ok
  def put(ref, ix, value) do
    at(ref, ix, true, :put)
    :atomics.put(ref, ix, value)
  end

  @doc "Reads index `ix`, as `:atomics.get/2`."
  @spec get(:atomics.atomics_ref(), pos_integer()) :: integer()
  def get(ref, ix) do
    at(ref, ix, false, :get)
    :atomics.get(ref, ix)
  end

  @doc "Adds `incr` to index `ix`, as `:atomics.add/3`."
  @spec add(:atomics.atomics_ref(), pos_integer(), integer()) :: :ok
  def add(ref, ix, incr) do
    at(ref, ix, true, :add)
    :atomics.add(ref, ix, incr)
  end

  @doc "Adds `incr` to index `ix` and returns the new value, as `:atomics.add_get/3`."
  @spec add_get(:atomics.atomics_ref(), pos_integer(), integer()) :: integer()
  def add_get(ref, ix, incr) do
    at(ref, ix, true, :add_get)
    :atomics.add_get(ref, ix, incr)
  end

  @doc "Subtracts `decr` from index `ix`, as `:atomics.sub/3`."
  @spec sub(:atomics.atomics_ref(), pos_integer(), integer()) :: :ok
  def sub(ref, ix, decr) do
    at(ref, ix, true, :sub)
    :atomics.sub(ref, ix, decr)
  end

  @doc "Subtracts `decr` from index `ix` and returns the new value, as `:atomics.sub_get/3`."
  @spec sub_get(:atomics.atomics_ref(), pos_integer(), integer()) :: integer()
  def sub_get(ref, ix, decr) do
    at(ref, ix, true, :sub_get)
    :atomics.sub_get(ref, ix, decr)
  end

  @doc "Sets index `ix` to `desired` and returns the old value, as `:atomics.exchange/3`."
  @spec exchange(:atomics.atomics_ref(), pos_integer(), integer()) :: integer()
  def exchange(ref, ix, desired) do
    at(ref, ix, true, :exchange)
    :atomics.exchange(ref, ix, desired)
  end

  @doc """
  Sets index `ix` to `desired` if it holds `expected`, as `:atomics.compare_exchange/4`:
  returns `:ok`, or the value found.
  """
  @spec compare_exchange(:atomics.atomics_ref(), pos_integer(), integer(), integer()) ::
          :ok | integer()
  def compare_exchange(ref, ix, expected, desired) do
    at(ref, ix, true, :compare_exchange)
    :atomics.compare_exchange(ref, ix, expected, desired)
  end

  @doc "Size and bounds of the array, as `:atomics.info/1`."
  @spec info(:atomics.atomics_ref()) :: map()
  def info(ref) do
    IntegerArray.info(:atomics, ref)
    :atomics.info(ref)
  end

  defp at(ref, ix, write, op), do: IntegerArray.at(:atomics, ref, ix, write, op)
end

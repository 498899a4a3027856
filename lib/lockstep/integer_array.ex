defmodule Lockstep.IntegerArray do
  # The sync points of `Lockstep.Atomics` and `Lockstep.Counters`, which wrap OTP's two kinds
  # of integer array (`:atomics` and `:counters`, the `kind` below) in the same way. An array
  # is identified by its kind and size, since its reference differs from run to run; trace
  # labels name the kind, the operation, the reference and the index. Outside a run every
  # function returns `:ok` at once, without touching the array.
  @moduledoc false

  alias Lockstep.{Runtime, SharedState}

  @type kind :: :atomics | :counters

  @doc "The sync point of creating an array of `size` elements: a write of the whole array."
  @spec new(kind(), pos_integer()) :: :ok
  def new(kind, size) do
    case Runtime.ctx() do
      nil -> :ok
      ctx -> SharedState.step(ctx, SharedState.object({kind, size}), true, {kind, :new, size})
    end
  end

  @doc "The sync point of reading the array's info: a read of the whole array."
  @spec info(kind(), reference()) :: :ok
  def info(kind, ref) do
    case Runtime.ctx() do
      nil ->
        :ok

      ctx ->
        SharedState.step(ctx, SharedState.object(identity(kind, ref)), false, {kind, :info, ref})
    end
  end

  @doc "The sync point of operation `op` on index `ix`, a write when `write` is true."
  @spec at(kind(), reference(), term(), boolean(), atom()) :: :ok
  def at(kind, ref, ix, write, op) do
    case Runtime.ctx() do
      nil ->
        :ok

      ctx ->
        object = SharedState.object(identity(kind, ref), ix)
        SharedState.step(ctx, object, write, {kind, op, ref, ix})
    end
  end

  # `:atomics.info/1` and `:counters.info/1` both give the size; a bad reference raises here
  # and again, as in OTP, in the operation itself.
  defp identity(kind, ref) do
    {kind, kind.info(ref).size}
  rescue
    _ -> {kind, :"$unknown"}
  end
end

defmodule Lockstep.PersistentTerm do
  @moduledoc """
  `:persistent_term` with every operation a sync point.

      Lockstep.PersistentTerm.put({MyApp, :config}, %{retries: 3})
      Lockstep.PersistentTerm.get({MyApp, :config})
      #=> %{retries: 3}

  Each function takes the same arguments as its `:persistent_term` namesake and returns the
  same result, exceptions included (`get/1` of a missing key raises `ArgumentError`). Inside a
  run the caller waits for its turn at a sync point and then performs the real operation at
  once; outside a run it calls `:persistent_term` directly.

  The trace records `{:persistent_term, operation, key}`; `get/0` and `info/0` read every key
  (`{:persistent_term, :get}`, `{:persistent_term, :info}`). `put` and `erase` are writes.

  ## Differences from OTP

  Persistent terms belong to the whole VM, not to a process, so a run cannot own them the way
  it owns ETS tables. Instead, every key a run puts or erases is restored when the iteration
  ends (to its earlier value, or erased if it had none), so one iteration never sees another's
  terms and the VM is left as the run found it. Other keys are shared with the rest of the VM
  as usual.
  """

  alias Lockstep.{Runtime, SharedState}

  @table :persistent_term

  @doc "All persistent terms, as `:persistent_term.get/0`."
  @spec get() :: [{term(), term()}]
  def get do
    whole(:get)
    :persistent_term.get()
  end

  @doc "The term stored under `key`; raises `ArgumentError` if none, as `:persistent_term.get/1`."
  @spec get(term()) :: term()
  def get(key) do
    keyed(key, false, :get)
    :persistent_term.get(key)
  end

  @doc "The term stored under `key`, or `default`, as `:persistent_term.get/2`."
  @spec get(term(), term()) :: term()
  def get(key, default) do
    keyed(key, false, :get)
    :persistent_term.get(key, default)
  end

  @doc "Stores `value` under `key`, as `:persistent_term.put/2`."
  @spec put(term(), term()) :: :ok
  def put(key, value) do
    keyed(key, true, :put)
    :persistent_term.put(key, value)
  end

  @doc "Removes `key`; returns whether it was there, as `:persistent_term.erase/1`."
  @spec erase(term()) :: boolean()
  def erase(key) do
    keyed(key, true, :erase)
    :persistent_term.erase(key)
  end

  @doc "Count and memory of all persistent terms, as `:persistent_term.info/0`."
  @spec info() :: %{count: non_neg_integer(), memory: non_neg_integer()}
  def info do
    whole(:info)
    :persistent_term.info()
  end

  defp whole(op) do
    case Runtime.ctx() do
      nil -> :ok
      ctx -> SharedState.step(ctx, SharedState.object(@table), false, {:persistent_term, op})
    end
  end

  defp keyed(key, write, op) do
    case Runtime.ctx() do
      nil ->
        :ok

      ctx ->
        SharedState.step(ctx, SharedState.object(@table, key), write, {:persistent_term, op, key})
        if write, do: remember(ctx, key)
    end
  end

  # Called right before a put or erase: the value the key holds now is restored when the
  # iteration ends (cleanups run newest first, so the value from before the run wins).
  defp remember(ctx, key) do
    absent = make_ref()

    previous =
      case :persistent_term.get(key, absent) do
        ^absent -> :absent
        value -> {:value, value}
      end

    SharedState.on_cleanup(ctx, fn -> restore(key, previous) end)
  end

  defp restore(key, :absent), do: :persistent_term.erase(key)
  defp restore(key, {:value, value}), do: :persistent_term.put(key, value)
end

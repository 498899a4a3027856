defmodule Lockstep.Corpus.SpinReady do
  @moduledoc """
  A worker busy-waits for a `:ready` signal by polling its mailbox, then reads its settings
  from a store. The initializer announces `:ready` first and writes the settings second.

  The real bug is the publication order: `:ready` goes out before the settings are stored,
  so a worker that reacts quickly reads nothing and crashes. It sits behind a spin loop: the
  worker polls with `recv(0)`, which is always ready to run, so a scheduler that keeps
  picking the worker (PCT when the worker has the highest priority) starves the initializer
  and the run only ends at the step limit. This program therefore runs with
  `step_limit: :stop`: such runs are discarded and the hunt goes on. A fair scheduler, or a
  change point that demotes the spinner, lets the initializer move.

  Failing schedule: the initializer sends `:ready`; the worker's next poll takes it and the
  worker sends `{:get, :settings}` to the store; only then does the initializer send
  `{:put, :settings, ...}`. The store answers nil and the worker's match fails. It passes
  when the settings are stored before the worker asks.
  """

  @doc "A key-value store."
  def store(data) do
    case Lockstep.recv() do
      {:put, key, value} ->
        store(Map.put(data, key, value))

      {:get, key, from} ->
        Lockstep.send(from, {:value, key, Map.get(data, key)})
        store(data)
    end
  end

  @doc "Polls the mailbox until `:ready` arrives."
  def await_ready do
    case Lockstep.recv(0) do
      {:ok, :ready} -> :ok
      :timeout -> await_ready()
    end
  end

  @doc "The worker: waits for `:ready`, then loads its settings and reports them."
  def worker(store, parent) do
    await_ready()
    Lockstep.send(store, {:get, :settings, self()})
    {:value, :settings, %{pool_size: size}} = Lockstep.recv()
    Lockstep.send(parent, {:started, size})
  end

  @doc "The initializer signals the worker, then stores the settings."
  def initialize(store, worker) do
    Lockstep.send(worker, :ready)
    Lockstep.send(store, {:put, :settings, %{pool_size: 4}})
  end

  @doc "A worker and its initializer start together."
  def run do
    me = self()
    store = Lockstep.spawn(fn -> store(%{}) end)
    worker = Lockstep.spawn(fn -> worker(store, me) end)
    Lockstep.spawn(fn -> initialize(store, worker) end)
    {:started, 4} = Lockstep.recv()
  end
end

defmodule Lockstep.Hard.StaleCache do
  @moduledoc """
  A read-through cache in front of a database, shared by six readers and three writers.

  A reader asks the cache; on a miss it reads the database and fills the cache with what it
  read. A writer writes the database and then invalidates the key in the cache. Each step is
  one message, handled atomically by its process, but a reader's miss, read and fill are
  three steps, and a write with its invalidation can fall between the read and the fill.
  Eleven processes run.

  Failing schedule: a reader misses on `:price`, reads version 0 from the database; a writer
  writes version 1 and invalidates `:price` (nothing cached yet); the reader fills the cache
  with version 0. The cache now serves a value the database no longer holds, and no later
  write is coming to invalidate it: the final check finds the cache stale. Whenever every
  fill happens before the last invalidation of its key, or reads after the write, it passes.
  """

  @readers 6
  @writers 3

  @doc "A key-value store answering gets; used for both the database and the cache."
  def store(map) do
    case Lockstep.recv() do
      {:get, key, from} ->
        Lockstep.send(from, {:got, self(), Map.fetch(map, key)})
        store(map)

      {:put, key, value, from} ->
        Lockstep.send(from, {:stored, self()})
        store(Map.put(map, key, value))

      {:delete, key, from} ->
        Lockstep.send(from, {:stored, self()})
        store(Map.delete(map, key))
    end
  end

  defp call(store, message) do
    Lockstep.send(store, Tuple.append(message, self()))
    Lockstep.recv_first(&(elem(&1, 1) == store))
  end

  @doc "Reads `key` through the cache, filling it on a miss."
  def read(cache, db, key) do
    case call(cache, {:get, key}) do
      {:got, _, {:ok, value}} ->
        value

      {:got, _, :error} ->
        {:got, _, {:ok, value}} = call(db, {:get, key})
        call(cache, {:put, key, value})
        value
    end
  end

  @doc "Writes `key` to the database, then invalidates the cached copy."
  def write(cache, db, key, value) do
    call(db, {:put, key, value})
    call(cache, {:delete, key})
  end

  @doc "Readers and writers on one key; afterwards the cache must agree with the database."
  def run do
    me = self()
    db = Lockstep.spawn(fn -> store(%{price: 0}) end)
    cache = Lockstep.spawn(fn -> store(%{}) end)

    for _ <- 1..@readers do
      Lockstep.spawn(fn ->
        read(cache, db, :price)
        Lockstep.send(me, :done)
      end)
    end

    for version <- 1..@writers do
      Lockstep.spawn(fn ->
        write(cache, db, :price, version)
        Lockstep.send(me, :done)
      end)
    end

    for _ <- 1..(@readers + @writers), do: :done = Lockstep.recv_first(&(&1 == :done))

    {:got, _, {:ok, stored}} = call(db, {:get, :price})

    case call(cache, {:get, :price}) do
      {:got, _, {:ok, cached}} when cached != stored ->
        raise "the cache serves price #{cached} while the database holds #{stored}"

      _ ->
        :ok
    end
  end
end

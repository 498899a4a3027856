defmodule Lockstep.Corpus.LostUpdate do
  @moduledoc """
  A page-view counter kept in a state process, updated by read-modify-write.

  `record_hit/2` asks the store for the current count, adds one and writes the result back
  with a second message. Each message is handled atomically by the store, but the pair is
  not: when two request handlers both read the count before either writes, both write the
  same value and one hit is lost.

  Failing schedule: handler 1's `:get` is answered (0), handler 2's `:get` is answered (0),
  then both `{:put, path, 1}` messages arrive; the final count is 1 instead of 2. Any
  schedule where one handler's read comes after the other's write passes.
  """

  @doc "The store: a map of path to hit count."
  def store(counts) do
    case Lockstep.recv() do
      {:get, path, from} ->
        Lockstep.send(from, {:count, path, Map.get(counts, path, 0)})
        store(counts)

      {:put, path, count} ->
        store(Map.put(counts, path, count))
    end
  end

  @doc "The current count for `path`."
  def hits(store, path) do
    Lockstep.send(store, {:get, path, self()})
    {:count, ^path, count} = Lockstep.recv()
    count
  end

  @doc "Counts one hit on `path`: read, add one, write back."
  def record_hit(store, path) do
    count = hits(store, path)
    Lockstep.send(store, {:put, path, count + 1})
  end

  @doc "Two handlers record a hit on the same page; both must count."
  def run do
    me = self()
    store = Lockstep.spawn(fn -> store(%{}) end)

    for _ <- 1..2 do
      Lockstep.spawn(fn ->
        record_hit(store, "/index")
        Lockstep.send(me, :handled)
      end)
    end

    :handled = Lockstep.recv()
    :handled = Lockstep.recv()
    count = hits(store, "/index")

    if count != 2 do
      raise "two requests recorded #{count} hit(s) on /index; an update was lost"
    end
  end
end

defmodule Lockstep.Corpus.StaleRead do
  @moduledoc """
  A replicated key-value store: writes go to the leader, reads are served by a follower. The
  leader acknowledges a write as soon as it has applied it locally, and only then sends it
  to the follower.

  A client that writes and then reads its own key expects to see its write. But between the
  leader's acknowledgement and its `:replicate` message the client can receive the ack and
  send its read; the follower then handles the read first and answers with the old value.
  Acknowledging after replication (or reading from the leader) removes the window.

  Failing schedule: the leader applies `x = 2` and sends `:ok`; the client receives it and
  sends `{:read, :x}` to the follower; only then does the leader send `{:replicate, :x, 2}`.
  The follower answers 1: a stale read. It passes when the leader sends `:replicate` before
  the client's read reaches the follower.
  """

  @doc "The leader: applies writes, acknowledges them, then replicates them."
  def leader(follower, data) do
    {:write, key, value, from} = Lockstep.recv()
    data = Map.put(data, key, value)
    Lockstep.send(from, {:ok, key})
    Lockstep.send(follower, {:replicate, key, value})
    leader(follower, data)
  end

  @doc "The follower: applies replicated writes and serves reads."
  def follower(data) do
    case Lockstep.recv() do
      {:replicate, key, value} ->
        follower(Map.put(data, key, value))

      {:read, key, from} ->
        Lockstep.send(from, {:value, key, Map.get(data, key)})
        follower(data)
    end
  end

  @doc "Writes through the leader and waits for the acknowledgement."
  def put(leader, key, value) do
    Lockstep.send(leader, {:write, key, value, self()})
    {:ok, ^key} = Lockstep.recv()
    :ok
  end

  @doc "Reads from the follower."
  def get(follower, key) do
    Lockstep.send(follower, {:read, key, self()})
    {:value, ^key, value} = Lockstep.recv()
    value
  end

  @doc "A client overwrites a key and reads it back."
  def run do
    initial = %{x: 1}
    follower = Lockstep.spawn(fn -> follower(initial) end)
    leader = Lockstep.spawn(fn -> leader(follower, initial) end)
    :ok = put(leader, :x, 2)
    value = get(follower, :x)
    if value != 2, do: raise("read x = #{inspect(value)} after writing 2: a stale read")
  end
end

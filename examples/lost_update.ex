defmodule Lockstep.Examples.LostUpdate do
  @moduledoc """
  Two clients increment a counter held by a process, each by reading the value and then writing
  value + 1. If both read before either writes, one increment is lost.
  """

  @doc "What the example shows, in one line."
  def title, do: "lost update through a counter process (read, then write)"

  def counter(n) do
    case Lockstep.recv() do
      {:get, from} ->
        Lockstep.send(from, {:value, n})
        counter(n)

      {:set, v} ->
        counter(v)
    end
  end

  def get(counter) do
    Lockstep.send(counter, {:get, self()})
    {:value, v} = Lockstep.recv()
    v
  end

  def increment(counter) do
    v = get(counter)
    Lockstep.send(counter, {:set, v + 1})
  end

  @doc "The test body: two concurrent increments must give 2."
  def run do
    me = self()
    counter = Lockstep.spawn(fn -> counter(0) end)

    for _ <- 1..2 do
      Lockstep.spawn(fn ->
        increment(counter)
        Lockstep.send(me, :done)
      end)
    end

    :done = Lockstep.recv()
    :done = Lockstep.recv()
    value = get(counter)
    if value != 2, do: raise("expected the counter to be 2 after two increments, got #{value}")
  end
end

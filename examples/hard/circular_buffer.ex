defmodule Lockstep.Hard.CircularBuffer do
  @moduledoc """
  A bounded circular buffer between six producers and three consumers, where a producer
  asks for free space and then puts, in two messages.

  The buffer holds at most six items. It answers `{:free?, from}` with the number of free
  slots, deferring the answer while the buffer is full; when a consumer takes an item it
  answers every deferred producer. A `{:put, item}` on a full buffer overwrites the oldest
  item, as a ring buffer does, since producers are expected to have checked. Each producer
  puts three items; each consumer takes items until the buffer is closed and empty, then
  reports what it took. Eleven processes run and roughly a hundred and fifty steps.

  Failing schedule: the buffer holds five items; two producers ask `:free?` and are both
  told 1; both put, and the second put overwrites the oldest unconsumed item. The consumers
  end with 17 of the 18 items. Whenever each check-and-put finishes before the next
  producer's check, no item is lost.
  """

  @capacity 6
  @producers 6
  @items 3
  @consumers 3

  @doc "The buffer: a queue of at most `@capacity` items, plus waiting producers and takers."
  def buffer(items, askers, takers, closed) do
    case Lockstep.recv() do
      {:free?, from} ->
        free = @capacity - length(items)

        if free > 0 do
          Lockstep.send(from, {:free, free})
          buffer(items, askers, takers, closed)
        else
          buffer(items, askers ++ [from], takers, closed)
        end

      {:put, item} ->
        items = if length(items) == @capacity, do: tl(items) ++ [item], else: items ++ [item]
        serve(items, askers, takers, closed)

      {:take, from} ->
        serve(items, askers, takers ++ [from], closed)

      :close ->
        serve(items, askers, takers, true)
    end
  end

  # Hands items to waiting takers; a freed slot is announced to every waiting producer.
  defp serve([item | rest], askers, [taker | takers], closed) do
    Lockstep.send(taker, {:item, item})
    Enum.each(askers, &Lockstep.send(&1, {:free, 1}))
    serve(rest, [], takers, closed)
  end

  defp serve([], askers, takers, true) do
    Enum.each(takers, &Lockstep.send(&1, :closed))
    buffer([], askers, [], true)
  end

  defp serve(items, askers, takers, closed), do: buffer(items, askers, takers, closed)

  @doc "A producer: for each item, wait for free space, then put it."
  def produce(buffer, items) do
    for item <- items do
      Lockstep.send(buffer, {:free?, self()})
      {:free, _} = Lockstep.recv()
      Lockstep.send(buffer, {:put, item})
    end
  end

  @doc "A consumer: takes items until the buffer is closed; returns them."
  def consume(buffer, taken) do
    Lockstep.send(buffer, {:take, self()})

    case Lockstep.recv() do
      {:item, item} -> consume(buffer, [item | taken])
      :closed -> taken
    end
  end

  @doc "Six producers, three consumers; every produced item must be consumed once."
  def run do
    me = self()
    buffer = Lockstep.spawn(fn -> buffer([], [], [], false) end)

    for p <- 1..@producers do
      Lockstep.spawn(fn ->
        produce(buffer, for(i <- 1..@items, do: {p, i}))
        Lockstep.send(me, :produced)
      end)
    end

    for _ <- 1..@consumers do
      Lockstep.spawn(fn -> Lockstep.send(me, {:consumed, consume(buffer, [])}) end)
    end

    for _ <- 1..@producers, do: :produced = Lockstep.recv_first(&(&1 == :produced))
    Lockstep.send(buffer, :close)

    consumed =
      Enum.flat_map(1..@consumers, fn _ ->
        {:consumed, items} = Lockstep.recv_first(&match?({:consumed, _}, &1))
        items
      end)

    expected = @producers * @items

    if length(consumed) != expected do
      raise "consumers took #{length(consumed)} of #{expected} items; a put overwrote one"
    end
  end
end

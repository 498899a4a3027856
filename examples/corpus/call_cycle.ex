defmodule Lockstep.Corpus.CallCycle do
  @moduledoc """
  Two servers that answer some requests by synchronously asking each other.

  The inventory server answers `:quote` by asking the pricing server for a price; the pricing
  server answers `:reprice` by asking the inventory server for the stock level. Each waits
  for the other's answer with a selective receive, so while it waits it serves nobody. When a
  `:quote` and a `:reprice` arrive at about the same time, each server is waiting for the
  other: a call deadlock, as with two `GenServer.call`s in a cycle.

  Failing schedule: inventory takes the `:quote` and asks pricing; pricing has already taken
  the `:reprice` and asks inventory; both block in their selective receive. It passes when
  one server finishes its request before the other starts its own.
  """

  @doc "Sends `request` to `server` and waits for the answer tagged with `tag`."
  def call(server, tag, request) do
    Lockstep.send(server, {tag, request, self()})
    {^tag, answer} = Lockstep.recv_first(&match?({^tag, _}, &1))
    answer
  end

  @doc "The inventory server: stock levels; quotes need a price."
  def inventory(stock) do
    case Lockstep.recv() do
      {:quote, item, from} ->
        price = call(:pricing, :price, item)
        Lockstep.send(from, {:quote, price * Map.fetch!(stock, item)})

      {:stock, item, from} ->
        Lockstep.send(from, {:stock, Map.fetch!(stock, item)})
    end

    inventory(stock)
  end

  @doc "The pricing server: prices; repricing needs the stock level."
  def pricing(prices) do
    case Lockstep.recv() do
      {:price, item, from} ->
        Lockstep.send(from, {:price, Map.fetch!(prices, item)})
        pricing(prices)

      {:reprice, item, from} ->
        stock = call(:inventory, :stock, item)
        price = if stock < 10, do: prices[item] * 2, else: prices[item]
        Lockstep.send(from, {:reprice, price})
        pricing(Map.put(prices, item, price))
    end
  end

  @doc "A quote and a repricing of the same item are requested concurrently."
  def run do
    inventory = Lockstep.spawn(fn -> inventory(%{widget: 5}) end)
    pricing = Lockstep.spawn(fn -> pricing(%{widget: 3}) end)
    Lockstep.register(inventory, :inventory)
    Lockstep.register(pricing, :pricing)
    me = self()
    Lockstep.spawn(fn -> Lockstep.send(me, {:quoted, call(:inventory, :quote, :widget)}) end)
    Lockstep.spawn(fn -> Lockstep.send(me, {:repriced, call(:pricing, :reprice, :widget)}) end)

    for _ <- 1..2 do
      case Lockstep.recv() do
        {:quoted, total} when is_integer(total) -> :ok
        {:repriced, price} when is_integer(price) -> :ok
      end
    end
  end
end

defmodule Lockstep.Examples.SenderOrder do
  @moduledoc """
  Two sensors report to an aggregator that treats the first report as the primary reading,
  assuming sensor `:a` (started first) always reports first. Messages from two different
  senders have no order between them, so `:b` can arrive first.
  """

  def title, do: "two senders' messages arrive in the unexpected order"

  def aggregator(parent) do
    {:reading, primary} = Lockstep.recv()
    {:reading, _secondary} = Lockstep.recv()
    Lockstep.send(parent, {:primary, primary})
  end

  def run do
    me = self()
    agg = Lockstep.spawn(fn -> aggregator(me) end)
    Lockstep.spawn(fn -> Lockstep.send(agg, {:reading, :a}) end)
    Lockstep.spawn(fn -> Lockstep.send(agg, {:reading, :b}) end)
    {:primary, primary} = Lockstep.recv()
    if primary != :a, do: raise("sensor #{inspect(primary)} became primary, expected :a")
  end
end

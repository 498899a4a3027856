defmodule Lockstep.Examples.CallDeadlock do
  @moduledoc """
  Two servers answer requests, but to answer one each first asks the other a question and
  waits for the answer. When both get a request at the same time, each waits for the other:
  a deadlock that only some interleavings show.
  """

  def title, do: "two servers that call each other deadlock"

  def server(peer_name) do
    case Lockstep.recv() do
      {:request, from} ->
        Lockstep.send(peer_name, {:ask, self()})
        {:answer, _} = Lockstep.recv_first(&match?({:answer, _}, &1))
        Lockstep.send(from, :done)

      {:ask, from} ->
        Lockstep.send(from, {:answer, 42})
    end

    server(peer_name)
  end

  def run do
    me = self()
    a = Lockstep.spawn(fn -> server(:server_b) end)
    b = Lockstep.spawn(fn -> server(:server_a) end)
    Lockstep.register(a, :server_a)
    Lockstep.register(b, :server_b)
    Lockstep.spawn(fn -> Lockstep.send(a, {:request, me}) end)
    Lockstep.spawn(fn -> Lockstep.send(b, {:request, me}) end)
    :done = Lockstep.recv()
    :done = Lockstep.recv()
  end
end

defmodule Lockstep.Hard.TokenRing do
  @moduledoc """
  A token ring of ten nodes from which one node leaves while the token circulates.

  The token goes round the ring three times; each node forwards it to its successor, and
  the node that started the ring reports to the root when the last round is complete. Node
  5 is told to leave: it tells its predecessor to point past it (`{:next, node6}`) and
  exits at once, without waiting for the predecessor to switch. Twelve processes run.

  The predecessor handles its mailbox in order, so a token that reaches it before the
  `{:next, ...}` message is forwarded to the old successor, which has already gone: the
  token is lost, nobody holds it, and the ring stops with every node and the root waiting.

  Failing schedule: node 5 receives `:leave`, sends `{:next, node6}` to node 4 and exits;
  node 4 then receives the token from node 3 before the `{:next, ...}` message and forwards
  it to node 5, which is dead. The ring deadlocks. When the token is anywhere else while
  node 4 switches, or node 5 handles the token before `:leave`, the rounds complete.
  """

  @nodes 10
  @rounds 3
  @leaver 5

  @doc "A ring node: forwards the token to `next`, switching successor on request."
  def node(next, role) do
    case Lockstep.recv() do
      {:next, new_next} ->
        node(new_next, role)

      {:token, round} ->
        forward(next, round, role)
        node(next, role)

      :leave ->
        {:predecessor, pred} = role
        Lockstep.send(pred, {:next, next})
    end
  end

  defp forward(next, round, {:starter, root}) do
    if round == @rounds,
      do: Lockstep.send(root, :rounds_done),
      else: Lockstep.send(next, {:token, round + 1})
  end

  defp forward(next, round, _role), do: Lockstep.send(next, {:token, round})

  @doc "Builds the ring, starts the token and removes one node meanwhile."
  def run do
    me = self()

    # Each node learns its successor (and the leaver its predecessor) once all exist.
    nodes =
      for _ <- 1..@nodes do
        Lockstep.spawn(fn ->
          {:setup, next, role} = Lockstep.recv()
          node(next, role)
        end)
      end

    for {node, i} <- Enum.with_index(nodes, 1) do
      next = Enum.at(nodes, rem(i, @nodes))

      role =
        cond do
          i == 1 -> {:starter, me}
          i == @leaver -> {:predecessor, Enum.at(nodes, i - 2)}
          true -> :member
        end

      Lockstep.send(node, {:setup, next, role})
    end

    Lockstep.send(hd(nodes), {:token, 1})
    Lockstep.spawn(fn -> Lockstep.send(Enum.at(nodes, @leaver - 1), :leave) end)
    :rounds_done = Lockstep.recv()
  end
end

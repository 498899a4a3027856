defmodule Lockstep.Examples.Cluster.Presence do
  @moduledoc """
  A presence table replicated on two simulated nodes, and a partition that comes and goes
  while users join.

  A join is recorded on the user's node and broadcast to the other replica. A broadcast sent
  while the partition is up is lost (`:drop`). With `anti_entropy: false` (the bug) nothing
  repairs that, and after the heal the two tables disagree for good: split brain. With
  `anti_entropy: true` each replica sends its whole table when told the partition healed (as
  an application does on `:nodeup`), and the tables merge.
  """

  alias Lockstep.Cluster

  @doc "Users join on both nodes while a partition starts and heals; returns both tables."
  def run(anti_entropy) do
    Cluster.start_nodes([:a, :b])
    me = self()

    for node <- [:a, :b] do
      Cluster.spawn(node, fn ->
        Lockstep.register(self(), :presence)
        Lockstep.send(me, :ready)
        replica(MapSet.new(), other(node), anti_entropy)
      end)
    end

    for _ <- 1..2, do: :ready = Lockstep.recv_first(&(&1 == :ready))

    # The network misbehaves while the users join.
    Lockstep.spawn(fn ->
      id = Cluster.partition([:a], [:b])
      Cluster.heal(id)
      for node <- [:a, :b], do: Lockstep.send({:presence, node}, :healed)
      Lockstep.send(me, :net_done)
    end)

    for {user, node} <- [alice: :a, bob: :b] do
      Lockstep.spawn(fn ->
        Lockstep.send({:presence, node}, {:join, user})
        Lockstep.send(me, :joined)
      end)
    end

    for m <- [:net_done, :joined, :joined], do: ^m = Lockstep.recv_first(&(&1 == m))
    Lockstep.sleep(1_000)

    for node <- [:a, :b] do
      Lockstep.send({:presence, node}, {:list, me})
      {:ok, {:list, ^node, users}} = Lockstep.recv_first(&match?({:list, ^node, _}, &1), 1_000)
      users
    end
  end

  @doc "Raises when the two tables differ after the heal."
  def check([a, b]) do
    if a != b, do: raise("split brain after the heal: #{inspect(a)} on :a, #{inspect(b)} on :b")
  end

  defp other(:a), do: :b
  defp other(:b), do: :a

  defp replica(users, other, anti_entropy) do
    case Lockstep.recv() do
      {:join, user} ->
        Lockstep.send({:presence, other}, {:joined, MapSet.new([user])})
        replica(MapSet.put(users, user), other, anti_entropy)

      {:joined, more} ->
        replica(MapSet.union(users, more), other, anti_entropy)

      :healed ->
        if anti_entropy, do: Lockstep.send({:presence, other}, {:joined, users})
        replica(users, other, anti_entropy)

      {:list, to} ->
        Lockstep.send(to, {:list, Cluster.node(), Enum.sort(users)})
        replica(users, other, anti_entropy)
    end
  end
end

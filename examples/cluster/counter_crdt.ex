defmodule Lockstep.Examples.Cluster.CounterCRDT do
  @moduledoc """
  A replicated counter on two simulated nodes, under a `:defer` partition.

  Each replica counts its own increments and broadcasts its state after each one. The
  correct merge (`merge: :per_node`) is a grow-only counter: the state is a map from node to
  that node's count, merged by taking the larger count per node, and the value is the sum; it
  converges once the deferred messages arrive at heal. The broken merge (`merge: :max`) keeps
  one total and takes the larger of two totals: increments made on both sides of the
  partition are lost.
  """

  alias Lockstep.Cluster

  @doc "Increments on both nodes across a partition; returns the two replicas' values."
  def run(merge) do
    Cluster.start_nodes([:a, :b])
    me = self()
    id = Cluster.partition([:a], [:b], :defer)

    for node <- [:a, :b] do
      Cluster.spawn(node, fn ->
        Lockstep.register(self(), :counter)
        Lockstep.send(me, :ready)
        replica(%{merge: merge, state: %{}, total: 0, other: other(node), report: me})
      end)
    end

    for _ <- [:a, :b], do: :ready = Lockstep.recv_first(&(&1 == :ready))
    for node <- [:a, :b], do: Lockstep.send({:counter, node}, {:inc, 2})
    Cluster.heal(id)
    Lockstep.sleep(100)

    for node <- [:a, :b] do
      Lockstep.send({:counter, node}, {:value, me})
      {:ok, {:value, v}} = Lockstep.recv_first(&match?({:value, _}, &1), 1_000)
      v
    end
  end

  defp other(:a), do: :b
  defp other(:b), do: :a

  defp replica(r) do
    case Lockstep.recv() do
      {:inc, 0} ->
        replica(r)

      {:inc, n} ->
        r = bump(r)
        Lockstep.send({:counter, r.other}, {:state, shared(r)})
        Lockstep.send(self(), {:inc, n - 1})
        replica(r)

      {:state, theirs} ->
        replica(merge(r, theirs))

      {:value, to} ->
        Lockstep.send(to, {:value, value(r)})
        replica(r)
    end
  end

  defp bump(%{merge: :per_node} = r),
    do: %{r | state: Map.update(r.state, Cluster.node(), 1, &(&1 + 1))}

  defp bump(r), do: %{r | total: r.total + 1}

  defp shared(%{merge: :per_node} = r), do: r.state
  defp shared(r), do: r.total

  defp merge(%{merge: :per_node} = r, theirs),
    do: %{r | state: Map.merge(r.state, theirs, fn _, a, b -> max(a, b) end)}

  defp merge(r, theirs), do: %{r | total: max(r.total, theirs)}

  defp value(%{merge: :per_node} = r), do: r.state |> Map.values() |> Enum.sum()
  defp value(r), do: r.total
end

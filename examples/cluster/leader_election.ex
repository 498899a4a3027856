defmodule Lockstep.Examples.Cluster.LeaderElection do
  @moduledoc """
  A one-round leader election over three simulated nodes, with a seeded bug.

  A node that is triggered becomes a candidate for the next term: it votes for itself and asks
  its peers for their votes; a majority (two of three) makes it the leader of that term, which
  it announces. A voter must grant one vote per term. The buggy voter (`buggy: true`) grants
  every request whose term is not older than its own, so when two elections overlap, one
  voter can elect both candidates: two leaders in one term. Whether the elections overlap
  depends on when the vote requests cross the network.
  """

  alias Lockstep.Cluster

  @nodes [:n1, :n2, :n3]

  @doc "Triggers elections on two nodes at once; returns the `{term, node}` leaders announced."
  def run(buggy) do
    Cluster.start_nodes(@nodes)
    me = self()

    for node <- @nodes do
      Cluster.spawn(node, fn ->
        Lockstep.register(self(), :elector)
        Lockstep.send(me, {:up, node})
        loop(%{term: 0, voted: %{}, votes: 0, leader: nil, buggy: buggy, report: me})
      end)
    end

    for _ <- @nodes, do: {:up, _} = Lockstep.recv_first(&match?({:up, _}, &1))
    Lockstep.send({:elector, :n1}, :trigger)
    Lockstep.send({:elector, :n2}, :trigger)
    collect([])
  end

  @doc "Raises when two nodes were leaders of the same term."
  def check(leaders) do
    leaders
    |> Enum.group_by(fn {term, _} -> term end, fn {_, node} -> node end)
    |> Enum.each(fn {term, nodes} ->
      if length(nodes) > 1, do: raise("two leaders in term #{term}: #{inspect(nodes)}")
    end)
  end

  defp collect(acc) do
    case Lockstep.recv_first(&match?({:leader, _, _}, &1), 1_000) do
      {:ok, {:leader, term, node}} -> collect([{term, node} | acc])
      :timeout -> Enum.sort(acc)
    end
  end

  defp peers, do: Enum.reject(@nodes, &(&1 == Cluster.node()))

  defp loop(s) do
    s =
      case Lockstep.recv() do
        :trigger ->
          if s.leader do
            s
          else
            term = s.term + 1
            for p <- peers(), do: Lockstep.send({:elector, p}, {:vote_req, term, Cluster.node()})
            %{s | term: term, voted: Map.put(s.voted, term, Cluster.node()), votes: 1}
          end

        {:vote_req, term, cand} ->
          s = if term > s.term, do: %{s | term: term, votes: 0}, else: s
          grant = grant?(s, term, cand)
          Lockstep.send({:elector, cand}, {:vote, term, grant})
          if grant, do: %{s | voted: Map.put(s.voted, term, cand)}, else: s

        {:vote, term, true} when term == s.term and s.votes > 0 ->
          votes = s.votes + 1

          if votes == 2 do
            Lockstep.send(s.report, {:leader, term, Cluster.node()})
            for p <- peers(), do: Lockstep.send({:elector, p}, {:leader_is, term, Cluster.node()})
            %{s | votes: -1, leader: Cluster.node()}
          else
            %{s | votes: votes}
          end

        {:vote, _term, _} ->
          s

        {:leader_is, term, who} ->
          if term >= s.term, do: %{s | term: term, leader: who, votes: 0}, else: s
      end

    loop(s)
  end

  defp grant?(%{buggy: true} = s, term, _cand), do: term >= s.term
  defp grant?(s, term, cand), do: term >= s.term and Map.get(s.voted, term, cand) == cand
end

defmodule Lockstep.Examples.Cluster.LockService do
  @moduledoc """
  A lock service with a primary on node `:s1` and a standby on `:s2`, and two clients on
  `:c1` and `:c2`; node `:c1` is cut off from the primary.

  A client asks the primary for the lock and waits 500 ms (virtual). With `failover: true`
  (the bug) a client whose request timed out asks the standby, which grants the lock on its
  own: the partitioned client and the other one then both hold it. The clients record each
  acquire and release in a `Lockstep.History`, and the linearizability checker's `:mutex`
  model rejects the history. With `failover: false` a timed-out acquire is recorded as
  indeterminate (`:info`) and the history stays linearizable.
  """

  alias Lockstep.{Cluster, History}

  @doc "Both clients take the lock, then release it; raises when the history is not a mutex's."
  def run(failover) do
    Cluster.start_nodes([:s1, :s2, :c1, :c2])
    h = History.new()
    me = self()
    primary = Cluster.spawn(:s1, fn -> server(nil) end)
    standby = Cluster.spawn(:s2, fn -> server(nil) end)
    Cluster.partition([:c1], [:s1])

    clients =
      for node <- [:c1, :c2] do
        Cluster.spawn(node, fn -> client(h, me, primary, standby, failover) end)
      end

    for _ <- clients, do: {:acquired, _} = Lockstep.recv_first(&match?({:acquired, _}, &1))
    for c <- clients, do: Lockstep.send(c, :release)
    for _ <- clients, do: :released = Lockstep.recv_first(&(&1 == :released))

    case Lockstep.Checker.Linearizable.check(h, :mutex) do
      :ok -> :ok
      {:error, violation} -> raise "the lock was held twice:\n" <> violation.text
    end
  end

  defp client(h, me, primary, standby, failover) do
    History.invoke(h, self(), :acquire, nil)

    {got, server} =
      case ask(primary, :acquire) do
        :timeout when failover -> {ask(standby, :acquire), standby}
        other -> {other, primary}
      end

    case got do
      :granted -> History.ok(h, self(), :acquire, nil)
      :busy -> History.fail(h, self(), :acquire, nil)
      :timeout -> History.info(h, self(), :acquire, nil)
    end

    Lockstep.send(me, {:acquired, got})
    :release = Lockstep.recv_first(&(&1 == :release))

    # Released where it was granted.
    if got == :granted, do: History.op(h, :release, nil, fn -> ask(server, :release) end)
    Lockstep.send(me, :released)
  end

  defp ask(server, what) do
    ref = make_ref()
    Lockstep.send(server, {what, self(), ref})

    case Lockstep.recv_first(&match?({^ref, _}, &1), 500) do
      {:ok, {^ref, answer}} -> answer
      :timeout -> :timeout
    end
  end

  defp server(holder) do
    {what, from, ref} = Lockstep.recv()

    {answer, holder} =
      case what do
        :acquire when holder == nil -> {:granted, from}
        :acquire -> {:busy, holder}
        :release when holder == from -> {:ok, nil}
        :release -> {:not_held, holder}
      end

    Lockstep.send(from, {ref, answer})
    server(holder)
  end
end

defmodule Lockstep.Examples.Cluster.PrimaryBackup do
  @moduledoc """
  A key-value store with a primary on node `:p` and a backup on node `:b`; the client on the
  run's own node fails over to the backup when the primary's node is lost.

  With `replication: :async` (the bug) the primary acknowledges a write, then forwards it to
  the backup: if its node stops in between, an acknowledged write is gone after failover.
  With `replication: :sync` the primary waits for the backup's acknowledgement first. The
  test scripts no fault: the bug shows only when the strategy stops a node itself
  (`faults: [crashes: 1]`).
  """

  alias Lockstep.Cluster

  @doc "Writes a key, then reads it back (from the backup when the primary is gone)."
  def run(replication) do
    Cluster.start_nodes([:p, :b])
    me = self()
    backup = Cluster.spawn(:b, fn -> store(%{}, nil, me) end)
    primary = Cluster.spawn(:p, fn -> store(%{}, {backup, replication}, me) end)

    case request(primary, {:put, :k, 1}) do
      {:ok, :ok} ->
        read =
          case request(primary, {:get, :k}) do
            {:ok, v} -> v
            :down -> fetch_backup(backup)
          end

        if read != 1, do: raise("an acknowledged write was lost: read #{inspect(read)}")

      :down ->
        :ok
    end
  end

  defp fetch_backup(backup) do
    case request(backup, {:get, :k}) do
      {:ok, v} -> v
      :down -> :both_down
    end
  end

  defp request(server, req) do
    ref = Lockstep.monitor(server)
    Lockstep.send(server, {req, self(), ref})

    case Lockstep.recv_first(fn
           {^ref, _} -> true
           {:DOWN, ^ref, _, _, _} -> true
           _ -> false
         end) do
      {^ref, reply} ->
        Lockstep.demonitor(ref, [:flush])
        {:ok, reply}

      {:DOWN, ^ref, _, _, _} ->
        :down
    end
  end

  defp store(data, backup, owner) do
    receive_request(data, backup, owner)
  end

  defp receive_request(data, backup, owner) do
    # Requests only: a late acknowledgement from the backup is left aside.
    {req, from, ref} = Lockstep.recv_first(&match?({_, from, _} when is_pid(from), &1))

    case req do
      {:get, k} ->
        Lockstep.send(from, {ref, Map.get(data, k)})
        store(data, backup, owner)

      {:put, k, v} ->
        data = Map.put(data, k, v)

        case backup do
          nil ->
            Lockstep.send(from, {ref, :ok})

          {pid, :async} ->
            Lockstep.send(from, {ref, :ok})
            Lockstep.send(pid, {{:put, k, v}, self(), make_ref()})

          {pid, :sync} ->
            _ = request(pid, {:put, k, v})
            Lockstep.send(from, {ref, :ok})
        end

        store(data, backup, owner)
    end
  end
end

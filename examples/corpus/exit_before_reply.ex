defmodule Lockstep.Corpus.ExitBeforeReply do
  @moduledoc """
  A connection manager traps exits and owns a linked connection process; it forwards client
  requests to the connection and relays the answers. The peer may close the connection at
  any time, which ends the connection process.

  The manager handles `{:EXIT, conn, _}` in its main loop (later requests are answered
  `{:error, :closed}`), but while relaying a request it waits only for the connection's
  answer. When the client's request is in the manager's mailbox ahead of the connection's
  exit signal, the manager forwards the request to a connection that is closing or already
  gone, and waits forever: the `{:EXIT, ...}` message that would tell it sits unread behind
  the selective receive. The order between a message from one process and an exit signal
  from another decides the outcome.

  Failing schedule: the peer's `:tcp_closed` reaches the connection, the client's request
  reaches the manager, the manager forwards it; the connection exits without answering and
  the manager never looks at its `{:EXIT, conn, {:shutdown, :tcp_closed}}`: deadlock. It
  passes when the connection answers first, or when the manager sees the exit first.
  """

  @doc "The connection: answers queries until the peer closes the socket."
  def connection do
    case Lockstep.recv() do
      {:query, sql, from} ->
        Lockstep.send(from, {:result, "ok: " <> sql})
        connection()

      :tcp_closed ->
        exit({:shutdown, :tcp_closed})
    end
  end

  @doc "The manager: relays requests to its connection while it is up."
  def manager(conn) do
    case Lockstep.recv() do
      {:EXIT, ^conn, _reason} ->
        manager(:closed)

      {:request, _sql, from} when conn == :closed ->
        Lockstep.send(from, {:error, :closed})
        manager(conn)

      {:request, sql, from} ->
        Lockstep.send(conn, {:query, sql, self()})
        {:result, _} = result = Lockstep.recv_first(&match?({:result, _}, &1))
        Lockstep.send(from, result)
        manager(conn)
    end
  end

  @doc "Starts a manager with a fresh connection and a peer that will close it."
  def start do
    Lockstep.spawn(fn ->
      Lockstep.flag(:trap_exit, true)
      conn = Lockstep.spawn_link(&connection/0)
      Lockstep.spawn(fn -> Lockstep.send(conn, :tcp_closed) end)
      manager(conn)
    end)
  end

  @doc "A request races with the peer closing the connection."
  def run do
    manager = start()
    Lockstep.send(manager, {:request, "SELECT 1", self()})

    case Lockstep.recv() do
      {:result, _} -> :ok
      {:error, :closed} -> :ok
    end
  end
end

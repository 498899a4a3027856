defmodule Lockstep.Corpus.CheckThenAct do
  @moduledoc """
  A client checks that its database connection is alive before querying it, while an idle
  reaper may close the connection at any moment.

  `query/2` reconnects when `alive?/1` says the connection is gone, and otherwise sends the
  query and waits for the answer. The check and the send are two steps: the reaper's
  `:close` can be handled in between, so the query goes to a dead process (or sits behind
  `:close` in the connection's mailbox) and the client waits forever for an answer.

  Failing schedule: the client's `alive?` returns true, the reaper sends `:close`, the
  connection handles it and exits, then the client sends its query and blocks: a deadlock.
  It passes when the connection answers before it closes, or when the close happens before
  the check (the client reconnects).
  """

  @doc "A connection: answers queries until told to close."
  def connection(db) do
    case Lockstep.recv() do
      {:query, sql, from} ->
        Lockstep.send(from, {:rows, Map.get(db, sql, [])})
        connection(db)

      :close ->
        :ok
    end
  end

  @doc "Opens a connection to the (simulated) database."
  def connect, do: Lockstep.spawn(fn -> connection(%{"SELECT 1" => [[1]]}) end)

  @doc "Runs `sql` on `conn`, reconnecting first if the connection is gone."
  def query(conn, sql) do
    conn = if Lockstep.alive?(conn), do: conn, else: connect()
    Lockstep.send(conn, {:query, sql, self()})
    {:rows, rows} = Lockstep.recv()
    rows
  end

  @doc "A query races with the reaper closing the idle connection."
  def run do
    conn = connect()
    Lockstep.spawn(fn -> Lockstep.send(conn, :close) end)
    [[1]] = query(conn, "SELECT 1")
  end
end

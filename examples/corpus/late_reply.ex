defmodule Lockstep.Corpus.LateReply do
  @moduledoc """
  A client calls a configuration server with a timeout and falls back to a default when the
  timer fires first. The replies carry no request reference.

  The server handles requests one at a time and each takes some (virtual) time. When another
  client's slow request is queued first, the answer to our `:timeout_ms` lookup comes after
  our 100 ms timer fired; the client uses its default and moves on, but the late reply stays
  in its mailbox. The next call, for `:port`, takes the first `{:reply, _}` it finds: the
  stale answer to the previous question. Tagging each request with a fresh reference, as
  `GenServer.call` does, makes the late reply unmistakable.

  Failing schedule: the report client's request reaches the server first (80 ms of work),
  then ours (30 ms); our timer fires at 100 ms, the reply for `:timeout_ms` arrives at
  110 ms and is taken as the port. It passes when our request is served first.
  """

  @doc "The server: looks keys up, spending `cost` ms on each request."
  def server(config) do
    {:call, from, request} = Lockstep.recv()
    {cost, answer} = handle(request, config)
    Lockstep.sleep(cost)
    Lockstep.send(from, {:reply, answer})
    server(config)
  end

  defp handle({:get, key}, config), do: {30, Map.fetch!(config, key)}
  defp handle(:report, config), do: {80, map_size(config)}

  @doc "Calls the server; `{:error, :timeout}` when no reply came within `timeout` ms."
  def call(server, request, timeout) do
    Lockstep.send(server, {:call, self(), request})

    case Lockstep.recv_first(&match?({:reply, _}, &1), timeout) do
      {:ok, {:reply, answer}} -> {:ok, answer}
      :timeout -> {:error, :timeout}
    end
  end

  @doc "Looks up `key`, using `default` if the server is too slow."
  def fetch(server, key, default) do
    case call(server, {:get, key}, 100) do
      {:ok, value} -> value
      {:error, :timeout} -> default
    end
  end

  @doc "A report request competes with a client reading two settings."
  def run do
    server = Lockstep.spawn(fn -> server(%{timeout_ms: 5_000, port: 8080}) end)
    Lockstep.spawn(fn -> call(server, :report, :infinity) end)
    _timeout_ms = fetch(server, :timeout_ms, 1_000)
    port = fetch(server, :port, 4000)
    if port not in [8080, 4000], do: raise("read port #{inspect(port)}: a late reply was taken")
  end
end

defmodule Lockstep.Examples.CheckThenAct do
  @moduledoc """
  A worker serves one request and then stops. Two clients each check `alive?` before sending a
  request and waiting for the reply. Both checks can pass before the worker stops, and then the
  second client waits forever for a reply that never comes.
  """

  def title, do: "check-then-act on alive? (the worker stops between check and call)"

  def worker do
    {:request, from} = Lockstep.recv()
    Lockstep.send(from, :reply)
  end

  def client(worker, parent) do
    result =
      if Lockstep.alive?(worker) do
        Lockstep.send(worker, {:request, self()})
        Lockstep.recv()
      else
        :worker_gone
      end

    Lockstep.send(parent, {:client, result})
  end

  def run do
    me = self()
    worker = Lockstep.spawn(&worker/0)
    for _ <- 1..2, do: Lockstep.spawn(fn -> client(worker, me) end)
    results = for _ <- 1..2, do: Lockstep.recv()
    true = Enum.all?(results, &match?({:client, _}, &1))
  end
end

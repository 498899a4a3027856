defmodule Lockstep.TestPrograms do
  @moduledoc false
  # Test bodies that several test files run under Lockstep.

  @doc """
  Two clients read-modify-write a counter process, so an update can be lost: the body raises
  `"lost update: counter is 1"` when it is. `chatter` more processes, spawned between the
  counter and the clients, each send themselves five messages and receive them, adding steps
  that have nothing to do with the failure. Processes: P0 the root, P1 the counter, then the
  chatter, then the two clients.
  """
  def lost_update(chatter \\ 0) do
    fn ->
      me = self()
      counter = Lockstep.spawn(fn -> counter(0) end)

      for _ <- 1..chatter//1 do
        Lockstep.spawn(fn ->
          for i <- 1..5, do: Lockstep.send(self(), i)
          for _ <- 1..5, do: Lockstep.recv()
        end)
      end

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          Lockstep.send(counter, {:get, self()})
          {:value, v} = Lockstep.recv()
          Lockstep.send(counter, {:set, v + 1})
          Lockstep.send(me, :done)
        end)
      end

      :done = Lockstep.recv()
      :done = Lockstep.recv()
      Lockstep.send(counter, {:get, self()})
      {:value, v} = Lockstep.recv()
      if v != 2, do: raise("lost update: counter is #{v}")
    end
  end

  defp counter(n) do
    case Lockstep.recv() do
      {:get, from} ->
        Lockstep.send(from, {:value, n})
        counter(n)

      {:set, v} ->
        counter(v)
    end
  end
end

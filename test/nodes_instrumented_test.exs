defmodule Lockstep.NodesInstrumentedTest do
  # Starts peer nodes. The module's plain primitives are rewritten by `instrument: true`.
  use ExUnit.Case, async: false
  use Lockstep.Test, instrument: true
  @moduletag :nodes

  alias Lockstep.{BugFound, CorpusChecks}

  # A lost update written with plain `spawn`, `send` and `receive`.
  defp lost_update do
    fn ->
      me = self()
      counter = spawn(fn -> loop(0) end)

      for _ <- 1..2 do
        spawn(fn ->
          send(counter, {:get, self()})
          value = receive do: ({:value, v} -> v)
          send(counter, {:set, value + 1})
          send(me, :done)
        end)
      end

      for _ <- 1..2, do: receive(do: (:done -> :ok))
      send(counter, {:get, self()})
      2 = receive do: ({:value, v} -> v)
    end
  end

  defp loop(n) do
    receive do
      {:get, from} ->
        send(from, {:value, n})
        loop(n)

      {:set, v} ->
        loop(v)
    end
  end

  test "a test module rewritten by instrument: true runs rewritten on the peers" do
    opts = [seed: 3, iterations: 200]
    one = CorpusChecks.hunt_fun(lost_update(), [workers: 1] ++ opts)
    two = CorpusChecks.hunt_fun(lost_update(), [nodes: 2] ++ opts)
    assert %BugFound{reason: {:exception, _}} = one
    assert CorpusChecks.outcome(two) == CorpusChecks.outcome(one)
  end
end

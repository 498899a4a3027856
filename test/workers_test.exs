defmodule Lockstep.WorkersTest do
  use ExUnit.Case, async: true

  alias Lockstep.{BugFound, Corpus, Runner}

  import Lockstep.CorpusChecks, only: [outcome: 1]

  defp hunt(fun, opts), do: Lockstep.CorpusChecks.hunt_fun(fun, opts)

  # Corpus bugs whose hunt with PCT (its priority-change points depend on the run-length
  # estimate the earlier iterations give) first fails after many passing iterations: the
  # failing iteration, its seed and the shrunk schedule do not depend on how many workers ran
  # the hunt.
  for {name, seed} <- [check_then_act: 2, transfer_ring: 1, rotation_burst: 2, spin_ready: 1] do
    @name name
    @seed seed
    test "#{name}, seed #{seed}: same bug with 1, 2 and 4 workers" do
      entry = Enum.find(Corpus.all(), &(&1.name == @name))
      opts = entry.opts ++ [seed: @seed, iterations: 300, strategy: :pct]

      [one | _] =
        results = for w <- [1, 2, 4], do: hunt(&entry.module.run/0, [workers: w] ++ opts)

      assert %BugFound{iteration: iteration} = one
      assert iteration >= 10
      for other <- results, do: assert(outcome(other) == outcome(one))
    end
  end

  test "two parallel hunts at once find what each finds alone" do
    entry = Enum.find(Corpus.all(), &(&1.name == :lost_update))
    opts = entry.opts ++ [iterations: 300, workers: 2]
    alone = for seed <- [5, 6], do: outcome(hunt(&entry.module.run/0, [seed: seed] ++ opts))

    together =
      [5, 6]
      |> Enum.map(fn seed ->
        Task.async(fn -> hunt(&entry.module.run/0, [seed: seed] ++ opts) end)
      end)
      |> Enum.map(&(&1 |> Task.await(60_000) |> outcome()))

    assert together == alone
  end

  test "a passing hunt with workers runs every iteration once" do
    counter = :counters.new(1, [:atomics])

    body = fn ->
      :counters.add(counter, 1, 1)
      me = self()
      Lockstep.spawn(fn -> Lockstep.send(me, :hi) end)
      :hi = Lockstep.recv()
    end

    assert hunt(body, workers: 3, iterations: 25, seed: 1) == nil
    assert :counters.get(counter, 1) == 25
  end

  test "bad workers values raise" do
    for bad <- [0, -1, 1.5, :many, "2", 257] do
      assert_raise ArgumentError, ~r/option :workers: expected a positive integer/, fn ->
        Runner.run(fn -> :ok end, workers: bad)
      end
    end
  end

  test "workers: :schedulers runs as many workers as schedulers" do
    assert Lockstep.Options.workers(:schedulers) == System.schedulers_online()
    assert hunt(fn -> :ok end, workers: :schedulers, iterations: 1, seed: 1) == nil

    assert %BugFound{iteration: 0} =
             hunt(fn -> raise "boom" end, workers: 2, seed: 1, shrink: false)
  end
end

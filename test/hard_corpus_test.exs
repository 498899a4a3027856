defmodule Lockstep.HardCorpusTest do
  use ExUnit.Case, async: true

  alias Lockstep.{CorpusChecks, HardCorpus}

  @seed 1
  # Reorder needs about 200 iterations from this seed (see the benchmark in the README).
  @iterations 500

  # Every bug is hunted with the default strategy, as a user's ctest would.
  defp options(entry) do
    entry.opts ++ [seed: @seed, iterations: @iterations, max_run_time: :infinity]
  end

  for entry <- HardCorpus.all() do
    @entry entry

    test "#{entry.name}: found within #{@iterations} iterations, and its schedule replays" do
      CorpusChecks.assert_found_and_replays(@entry, options(@entry), "hard corpus test")
    end

    test "#{entry.name}: some schedules pass, and the program is long" do
      steps = CorpusChecks.assert_some_pass(@entry, options(@entry), "hard corpus test")
      assert steps >= 60, "a run took only #{steps} steps"
    end
  end

  describe "the registry" do
    test "names are unique, distinct from the small corpus, and every program documents its bug" do
      names = CorpusChecks.assert_registry(HardCorpus, "hard corpus")
      assert length(names) >= 6
      assert MapSet.disjoint?(MapSet.new(names), MapSet.new(Lockstep.Corpus.names()))
    end

    test "fetch!/1 finds an entry by name and names the known ones otherwise" do
      assert HardCorpus.fetch!(:reorder).module == Lockstep.Hard.Reorder

      error = assert_raise ArgumentError, fn -> HardCorpus.fetch!(:nope) end
      assert error.message =~ ":reorder"
    end
  end
end

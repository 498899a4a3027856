defmodule Lockstep.CorpusTest do
  use ExUnit.Case, async: true

  alias Lockstep.{Corpus, CorpusChecks}

  @seed 20_240_601
  @iterations 200

  # Every bug is hunted with the default strategy, as a user's ctest would.
  defp options(entry) do
    entry.opts ++ [seed: @seed, iterations: @iterations, max_run_time: :infinity]
  end

  for entry <- Corpus.all() do
    @entry entry

    test "#{entry.name}: found within #{@iterations} iterations, and its schedule replays" do
      CorpusChecks.assert_found_and_replays(@entry, options(@entry), "corpus test")
    end

    test "#{entry.name}: some schedules pass" do
      CorpusChecks.assert_some_pass(@entry, options(@entry), "corpus test")
    end
  end

  describe "the registry" do
    test "names are unique and every program documents its bug" do
      assert length(CorpusChecks.assert_registry(Corpus, "corpus")) >= 12
    end

    test "fetch!/1 finds an entry by name and names the known ones otherwise" do
      assert Corpus.fetch!(:lost_update).module == Lockstep.Corpus.LostUpdate

      error = assert_raise ArgumentError, fn -> Corpus.fetch!(:nope) end
      assert error.message =~ ":lost_update"
    end
  end

  test "mix lockstep.demo hunts a corpus program and prints the shrunk schedule and replay lines" do
    out =
      ExUnit.CaptureIO.capture_io(fn ->
        Mix.Task.rerun("lockstep.demo", ["--only", "lost_update", "--iterations", "200"])
      end)

    assert out =~ "== lost_update:"
    assert out =~ ~r/found in iteration \d+/
    assert out =~ "Shrunk from"
    assert out =~ "Causal slice"
    assert out =~ ~r/Schedule: \S+\.json/

    assert [_, path] =
             Regex.run(
               ~r/Replay this schedule: mix run -e 'Lockstep.replay\(&Lockstep.Corpus.LostUpdate.run\/0, "(\S+)"\)'/,
               out
             )

    assert {:reproduced, _} = Lockstep.Replay.check(&Lockstep.Corpus.LostUpdate.run/0, path)
    assert out =~ "Hunt again: mix lockstep.demo --only lost_update --seed 2026 --strategy pos"
    assert out =~ "1 of 1 bugs found and reported."

    assert_raise Mix.Error, ~r/no program "nope" in the corpus/, fn ->
      Mix.Task.rerun("lockstep.demo", ["--only", "nope"])
    end
  end
end

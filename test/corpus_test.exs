defmodule Lockstep.CorpusTest do
  use ExUnit.Case, async: true

  alias Lockstep.{BugFound, Corpus, Runner}

  @seed 20_240_601
  @iterations 200

  # Every bug is hunted with the default strategy, as a user's ctest would.
  defp options(entry) do
    entry.opts ++ [seed: @seed, iterations: @iterations, max_run_time: :infinity]
  end

  defp hunt(module, opts) do
    Runner.run(&module.run/0, opts)
    nil
  rescue
    bug in BugFound -> bug
  end

  # An exception's banner with pids masked: a replay runs in fresh processes.
  defp banner(kind, payload, stack) do
    Regex.replace(~r/#PID<[\d.]+>/, Exception.format_banner(kind, payload, stack), "#PID<>")
  end

  for entry <- Corpus.all() do
    @entry entry
    @module entry.module

    test "#{entry.name}: found within #{@iterations} iterations, and its schedule replays" do
      opts = options(@entry)
      bug = hunt(@module, opts)
      assert %BugFound{reason: {category, _}} = bug, "no bug found in #{@iterations} iterations"
      assert category == @entry.category

      cfg = Runner.config!(opts, "corpus test")
      replay = %{strategy: :replay, choices: bug.schedule}

      assert {:fail, failure} = Runner.run_once(&@module.run/0, cfg, bug.iteration, replay)

      assert failure.category == category
      assert failure.schedule == bug.schedule
      assert failure.steps == bug.fail_step

      if bug.exception do
        {kind, payload, stack} = failure.exception
        assert banner(kind, payload, stack) == banner(:error, bug.exception, bug.stacktrace)
      end
    end

    test "#{entry.name}: some schedules pass" do
      cfg = Runner.config!(options(@entry), "corpus test")

      # Iterations until both a passing and a failing schedule were seen.
      seen =
        Enum.reduce_while(0..(@iterations - 1), MapSet.new(), fn i, seen ->
          seen =
            case Runner.run_once(&@module.run/0, cfg, i) do
              {:fail, f} -> MapSet.put(seen, f.category)
              {other, _steps, _hash} -> MapSet.put(seen, other)
            end

          if MapSet.member?(seen, :ok) and MapSet.member?(seen, @entry.category),
            do: {:halt, seen},
            else: {:cont, seen}
        end)

      assert :ok in seen, "every one of #{@iterations} schedules failed"
      assert @entry.category in seen
    end
  end

  describe "the registry" do
    test "names are unique and every program documents its bug" do
      names = Corpus.names()
      assert length(names) >= 12
      assert names == Enum.uniq(names)

      for entry <- Corpus.all() do
        assert {:docs_v1, _, _, _, %{"en" => doc}, _, _} = Code.fetch_docs(entry.module)
        assert doc =~ "Failing schedule", "#{inspect(entry.module)} does not explain its schedule"
        assert function_exported?(Code.ensure_loaded!(entry.module), :run, 0)
        assert entry.category in [:exception, :crash, :deadlock, :step_limit, :left_blocked]
        assert is_binary(entry.title) and entry.title != ""
        Lockstep.Options.validate!(entry.opts, "corpus")
      end
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

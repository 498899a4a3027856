defmodule Lockstep.HardCorpusTest do
  use ExUnit.Case, async: true

  alias Lockstep.{BugFound, HardCorpus, Runner}

  @seed 1
  # Reorder needs about 200 iterations from this seed (see the benchmark in the README).
  @iterations 500

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

  for entry <- HardCorpus.all() do
    @entry entry
    @module entry.module

    test "#{entry.name}: found within #{@iterations} iterations, and its schedule replays" do
      opts = options(@entry)
      bug = hunt(@module, opts)
      assert %BugFound{reason: {category, _}} = bug, "no bug found in #{@iterations} iterations"
      assert category == @entry.category

      cfg = Runner.config!(opts, "hard corpus test")
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

    test "#{entry.name}: some schedules pass, and the program is long" do
      cfg = Runner.config!(options(@entry), "hard corpus test")

      # Iterations until both a passing and a failing schedule were seen.
      {seen, steps} =
        Enum.reduce_while(0..(@iterations - 1), {MapSet.new(), 0}, fn i, {seen, steps} ->
          {seen, steps} =
            case Runner.run_once(&@module.run/0, cfg, i) do
              {:fail, f} -> {MapSet.put(seen, f.category), max(steps, f.steps)}
              {other, n, _hash} -> {MapSet.put(seen, other), max(steps, n)}
            end

          if MapSet.member?(seen, :ok) and MapSet.member?(seen, @entry.category),
            do: {:halt, {seen, steps}},
            else: {:cont, {seen, steps}}
        end)

      assert :ok in seen, "every one of #{@iterations} schedules failed"
      assert @entry.category in seen
      assert steps >= 60, "a run took only #{steps} steps"
    end
  end

  describe "the registry" do
    test "names are unique, distinct from the small corpus, and every program documents its bug" do
      names = HardCorpus.names()
      assert length(names) >= 6
      assert names == Enum.uniq(names)
      assert MapSet.disjoint?(MapSet.new(names), MapSet.new(Lockstep.Corpus.names()))

      for entry <- HardCorpus.all() do
        assert {:docs_v1, _, _, _, %{"en" => doc}, _, _} = Code.fetch_docs(entry.module)
        assert doc =~ "Failing schedule", "#{inspect(entry.module)} does not explain its schedule"
        assert function_exported?(Code.ensure_loaded!(entry.module), :run, 0)
        assert entry.category in [:exception, :crash, :deadlock, :step_limit, :left_blocked]
        assert is_binary(entry.title) and entry.title != ""
        Lockstep.Options.validate!(entry.opts, "hard corpus")
      end
    end

    test "fetch!/1 finds an entry by name and names the known ones otherwise" do
      assert HardCorpus.fetch!(:reorder).module == Lockstep.Hard.Reorder

      error = assert_raise ArgumentError, fn -> HardCorpus.fetch!(:nope) end
      assert error.message =~ ":reorder"
    end
  end
end

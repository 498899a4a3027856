defmodule Lockstep.CorpusChecks do
  @moduledoc false
  # The checks every bug-corpus program is held to (small and hard corpus alike): the default
  # strategy finds it, the reported schedule replays strictly to the same failure, some
  # schedules pass.

  import ExUnit.Assertions

  alias Lockstep.{BugFound, Runner}

  @doc "Hunt with `opts`; the bug found, or nil."
  def hunt(module, opts) do
    Runner.run(&module.run/0, opts)
    nil
  rescue
    bug in BugFound -> bug
  end

  @doc "Hunt `fun` with `opts` and no time limit; the bug found, or nil."
  def hunt_fun(fun, opts) do
    Runner.run(fun, opts ++ [max_run_time: :infinity])
    nil
  rescue
    bug in BugFound -> bug
  end

  @doc "What must not depend on how a hunt was spread: iteration, seed, category, schedules."
  def outcome(%BugFound{} = bug),
    do: {bug.iteration, bug.iter_seed, bug.reason |> elem(0), bug.schedule, bug.shrink.after}

  @doc "Hunt `entry` with `opts`, then replay the reported schedule and compare."
  def assert_found_and_replays(entry, opts, label) do
    module = entry.module
    iterations = Keyword.fetch!(opts, :iterations)
    bug = hunt(module, opts)
    assert %BugFound{reason: {category, _}} = bug, "no bug found in #{iterations} iterations"
    assert category == entry.category

    cfg = Runner.config!(opts, label)
    replay = %{strategy: :replay, choices: bug.schedule}

    assert {:fail, failure} = Runner.run_once(&module.run/0, cfg, bug.iteration, replay)
    assert failure.category == category
    assert failure.schedule == bug.schedule
    assert failure.steps == bug.fail_step

    if bug.exception do
      {kind, payload, stack} = failure.exception
      assert banner(kind, payload, stack) == banner(:error, bug.exception, bug.stacktrace)
    end

    bug
  end

  @doc """
  Run iterations until both a passing schedule and `entry`'s failure were seen; assert both
  were. Returns the longest run's step count.
  """
  def assert_some_pass(entry, opts, label) do
    cfg = Runner.config!(opts, label)
    iterations = Keyword.fetch!(opts, :iterations)

    {seen, steps} =
      Enum.reduce_while(0..(iterations - 1), {MapSet.new(), 0}, fn i, {seen, steps} ->
        {seen, steps} =
          case Runner.run_once(&entry.module.run/0, cfg, i) do
            {:fail, f} -> {MapSet.put(seen, f.category), max(steps, f.steps)}
            {other, n, _hash} -> {MapSet.put(seen, other), max(steps, n)}
          end

        if MapSet.member?(seen, :ok) and MapSet.member?(seen, entry.category),
          do: {:halt, {seen, steps}},
          else: {:cont, {seen, steps}}
      end)

    assert :ok in seen, "every one of #{iterations} schedules failed"
    assert entry.category in seen
    steps
  end

  @doc "A registry's entries are well-formed: unique names, documented bugs, valid options."
  def assert_registry(registry, label) do
    names = registry.names()
    assert names == Enum.uniq(names)

    for entry <- registry.all() do
      assert {:docs_v1, _, _, _, %{"en" => doc}, _, _} = Code.fetch_docs(entry.module)
      assert doc =~ "Failing schedule", "#{inspect(entry.module)} does not explain its schedule"
      assert function_exported?(Code.ensure_loaded!(entry.module), :run, 0)
      assert entry.category in [:exception, :crash, :deadlock, :step_limit, :left_blocked]
      assert is_binary(entry.title) and entry.title != ""
      Lockstep.Options.validate!(entry.opts, label)
    end

    names
  end

  # An exception's banner with pids masked: a replay runs in fresh processes.
  defp banner(kind, payload, stack) do
    Regex.replace(~r/#PID<[\d.]+>/, Exception.format_banner(kind, payload, stack), "#PID<>")
  end
end

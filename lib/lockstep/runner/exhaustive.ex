defmodule Lockstep.Runner.Exhaustive do
  @moduledoc """
  The hunt of `strategy: :exhaustive`: every behaviour of the test body, each once.

  The engine's explorer (optimal dynamic partial-order reduction: source sets, wakeup trees
  and sleep sets, Abdulla et al., POPL 2014) plans each run from the ones before it. Two
  schedules that differ only in the order of independent steps (steps of different processes
  that touch nothing in common: different mailboxes, names, shared-state objects, processes)
  reach the same state, so one run stands for all of them. The exploration ends in one of
  three ways:

    * every class of schedules was run and passed: the test holds for every interleaving of
      its processes (up to `:max_steps` steps per run: runs stopped at the step limit are
      counted and said);
    * a run failed: it is shrunk, saved and reported like any failure, and replays from its
      schedule file;
    * a budget ran out (`max_schedules`, or the hunt's `:max_run_time`): the report says how
      many schedules were covered.

  `:iterations` and `:workers` do not apply: the number of runs is the number of classes,
  and each run is planned from the ones before it, so they run one after the other.

  Steps that touch the simulated cluster or read `process_info` are treated as dependent
  with every other step. Timers, `receive ... after` and sleeps are ordered only with the
  steps that read the virtual time or touch a timer (and a timer's message with the steps on
  its mailbox), except with `:time_per_step` above 0, where every step moves the clock and
  every step is ordered with every other.
  The test body must be deterministic under a schedule (no wall clock, no uncontrolled
  randomness, no processes outside Lockstep): a run that does not follow its replayed prefix
  stops the exploration with a `Lockstep.Error` saying so.
  """

  alias Lockstep.{Native, Options, Progress, ReadsFrom, Report, Runner}

  @doc false
  # Runs the exploration for the validated `cfg` of Lockstep.Runner.run/2. Returns the
  # summary map (`:schedules`, `:complete`, `:step_limited`, `:longest`, `:ms`) or raises
  # Lockstep.BugFound.
  @spec run((() -> any()), map(), integer()) :: map()
  def run(fun, cfg, started) do
    params = Options.engine_strategy(cfg.strategy)

    explorer =
      case Native.explore_new(Map.take(params, [:max_schedules, :reduction, :observers])) do
        {:error, why} -> raise ArgumentError, "Lockstep could not start the exploration: #{why}"
        ex -> ex
      end

    deadline = if cfg.max_run_time != :infinity, do: started + cfg.max_run_time

    stats = %{
      explored: 0,
      step_limited: 0,
      longest: 0,
      reads_from: ReadsFrom.new(),
      progress: Progress.new(cfg.progress, Runner.test_name(cfg), started)
    }

    explore(fun, cfg, explorer, deadline, started, stats)
  end

  defp explore(fun, cfg, explorer, deadline, started, stats) do
    i = stats.explored

    case Runner.run_until(fun, cfg, i, %{explorer: explorer}, deadline) do
      {:fail, %{category: :diverged, steps: steps}} ->
        Progress.done(stats.progress)
        nondeterministic!(cfg, stats, "run #{i} left its planned schedule at step #{steps + 1}")

      {:fail, failure} ->
        Progress.done(stats.progress)
        failure = Runner.shrink_failure(fun, cfg, failure, started)
        raise Runner.bug(failure, cfg, %{headline: headline(failure, i)})

      {:out_of_time, steps} ->
        finish(cfg, started, stats, {:time, steps})

      {kind, steps, {_fingerprint, pairs}} when kind in [:ok, :step_limit] ->
        stats = %{
          stats
          | explored: i + 1,
            reads_from: ReadsFrom.add(stats.reads_from, pairs),
            longest: max(stats.longest, steps),
            step_limited: stats.step_limited + if(kind == :step_limit, do: 1, else: 0)
        }

        Runner.count_done(stats.explored)
        Runner.count_pairs(stats.reads_from)

        # A run stopped at the step limit left the other processes' next steps untaken, in no
        # race: the explorer gives each its own branch, as for a run that ends in a failure.
        case Native.explore_finish(explorer, kind == :step_limit) do
          {:running, _} ->
            stats = %{stats | progress: Progress.tick(stats.progress, stats, cfg)}

            if deadline != nil and System.monotonic_time(:millisecond) >= deadline,
              do: finish(cfg, started, stats, {:time, nil}),
              else: explore(fun, cfg, explorer, deadline, started, stats)

          {:done, _} ->
            finish(cfg, started, stats, :done)

          {:budget, n} ->
            finish(cfg, started, stats, {:budget, n})

          {:error, why} ->
            Progress.done(stats.progress)
            nondeterministic!(cfg, stats, why)
        end
    end
  end

  defp nondeterministic!(cfg, stats, why) do
    raise Lockstep.Error,
      message:
        "Lockstep: #{Runner.test_name(cfg)}: the exhaustive exploration stopped after " <>
          "#{stats.explored} schedules: #{why}. The test body does not behave the same under " <>
          "the same schedule: it depends on something Lockstep does not schedule (the wall " <>
          "clock, unseeded random numbers, state kept between runs, processes, ports or " <>
          "tables it does not manage). Make it deterministic, or use a sampling strategy " <>
          "such as :pos."
  end

  defp headline(failure, i) do
    "Lockstep found a bug in schedule #{i} of the exhaustive exploration (counted from 0; " <>
      "the #{i} before it passed): " <> Report.summary(failure.category)
  end

  defp finish(cfg, started, stats, how) do
    Progress.done(stats.progress)
    ms = System.monotonic_time(:millisecond) - started
    name = Runner.test_name(cfg)
    n = stats.explored

    bounded =
      case stats.step_limited do
        0 -> ""
        k -> "; #{k} of them stopped at max_steps #{cfg.max_steps}, so it holds up to that depth"
      end

    line =
      case how do
        :done ->
          "Lockstep: #{name}: explored all #{n} #{schedules(n)} (every behaviour, up to the " <>
            "order of independent steps) in #{ms} ms, " <>
            "#{ReadsFrom.describe(stats.reads_from)}; no bug found#{bounded}."

        {:budget, _} ->
          "Lockstep: #{name}: stopped at max_schedules after #{n} #{schedules(n)} in " <>
            "#{ms} ms (#{ReadsFrom.describe(stats.reads_from)}); no bug found in those, but behaviours are left unexplored#{bounded}."

        {:time, _} ->
          "Lockstep: #{name}: stopped at max_run_time #{cfg.max_run_time} ms after #{n} " <>
            "#{schedules(n)} (#{ReadsFrom.describe(stats.reads_from)}); no bug found in those, but behaviours are left " <>
            "unexplored#{bounded}."
      end

    # A proof is worth saying only when asked; an unfinished one always.
    if how != :done or cfg.verbose, do: IO.puts(:stderr, line)

    %{
      schedules: n,
      complete: how == :done,
      step_limited: stats.step_limited,
      longest: stats.longest,
      reads_from: ReadsFrom.size(stats.reads_from),
      ms: ms
    }
  end

  defp schedules(1), do: "schedule"
  defp schedules(_), do: "schedules"
end

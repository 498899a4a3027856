defmodule Lockstep.Replay do
  @moduledoc """
  Strict replay: run a program again through exactly the interleaving a schedule recorded.

      Lockstep.Replay.run(&MyTest.body/0, "_build/test/lockstep/MyTest-...-12-3.json")

  The engine picks, at every step, the process the schedule names. The program is expected to
  fail again the way it failed when the schedule was saved; anything else means it no longer
  behaves as it did.

  ## The contract of `run/3`

  `run/3` never returns: the outcome of a replay is always one of two exceptions.

    * `Lockstep.BugFound` - the replayed run failed. This is the expected outcome: the bug is
      reproduced. When it failed with the recorded category, the report's first line says
      "the bug fired again"; when a different failure fired, it says so and names both. The
      report names the replayed file.
    * `Lockstep.ReplayDivergence` - the program did not reproduce its recorded run: at some
      step the process the schedule names could not run, or the program went on past the last
      recorded step, or the run ended without failing. The exception names the first step at
      which the program behaved differently, what the recorded run did there and what this run
      did. Programs are deterministic under Lockstep only as far as their nondeterminism goes
      through Lockstep; a divergence means something else changed the path they took.

  `check/3` returns the same outcome as `{:reproduced, bug}` or `{:diverged, divergence}`
  instead of raising it, for tools that replay many schedules.

  ## A schedule as a regression test

  With `regression: true`, a replay that no longer fails is a pass: `run/3` prints that the
  recorded bug is gone (and why: the run ended without the failure, or the program no longer
  follows the schedule at some step) and returns `:ok`. A failure still raises
  `Lockstep.BugFound`. This is what `ctest "...", regression: PATH` and
  `mix lockstep.replay PATH --regression` use, so a saved schedule can stay in the suite after
  the fix.

  ## Options

  The run settings come from the schedule (`max_steps`, `allow_crashes`, `fail_on_blocked`,
  `step_limit`, `fail_on_abnormal_exit`, `timers`, `settle`, `time_per_step`, `clock_start`);
  pass any of them to override the file, and `:watchdog` (milliseconds a process may run
  between sync points, default 5000).

  `shrink: true` shrinks a reproduced failure (same category) before reporting it, within
  `:shrink_time` milliseconds (default 5000), as a hunt does; a smaller schedule is saved as
  a new file whose `shrunk_from` records the replayed one, and the report names it. This is
  what `mix lockstep.shrink` runs. Without it (the default) a replay saves nothing. `ctest` also passes `:test`, the test's
  identity, so that the report names the test.

  ## From a test

  `mix lockstep.replay PATH` runs the schedule's test with `LOCKSTEP_REPLAY=PATH`, which makes
  that `ctest` replay the schedule instead of hunting (see `from_env/1`).

  ## From iex

  `Lockstep.replay/2` loads the engine and replays in one call. It takes a schedule file, a
  `Lockstep.Schedule`, or the seed and iteration of a hunt:

      iex> Lockstep.replay(&Lockstep.Examples.LostUpdate.run/0, "_build/dev/lockstep/run-seed3-iter2-81234-5.json")
      ** (Lockstep.BugFound) Lockstep replayed ...: the bug fired again: the test body failed.

      iex> Lockstep.replay(&Lockstep.Examples.LostUpdate.run/0, seed: 3, iteration: 2, expected_steps: 50)

  Start iex with the project, which compiles it (and the NIF) first:

      iex -S mix

  or, without Mix, with a project built before (`mix compile`): put its `ebin` directory on
  the code path. The NIF is found through the application's `priv` directory next to `ebin`
  (`_build/dev/lib/lockstep/priv/native/liblockstep_nif.so`, a link to the project's
  `priv/`), so this works from any directory:

      iex -pa _build/dev/lib/lockstep/ebin

  Outside Mix, failures are saved under the system's temporary directory (`/tmp/lockstep`)
  unless `:trace_dir` or `LOCKSTEP_SCHEDULE_DIR` says otherwise.
  """

  alias Lockstep.{BugFound, Options, ReplayDivergence, Report, Runner, Runtime, Schedule}

  @overrides Options.run_settings() ++ [:watchdog, :shrink, :shrink_time, :regression]

  @doc """
  Replays `source` (a schedule file's path or a `Lockstep.Schedule`) with `fun` as the test
  body. Always raises: `Lockstep.BugFound` when the failure is reproduced,
  `Lockstep.ReplayDivergence` when it is not (see the module documentation). Raises
  `Lockstep.ScheduleError` for a file that cannot be read and `ArgumentError` for bad options.
  """
  @spec run((() -> any()), Path.t() | Schedule.t(), keyword()) :: :ok
  def run(fun, source, opts \\ []) do
    {regression, opts} = Keyword.pop(opts, :regression, false)

    case check(fun, source, opts) do
      {:reproduced, bug} ->
        raise bug

      {:diverged, divergence} when regression == true ->
        IO.puts(:stderr, gone(source, divergence))
        :ok

      {:diverged, divergence} ->
        raise divergence
    end
  end

  defp gone(source, divergence) do
    where =
      case source do
        %Schedule{} -> "the schedule"
        path -> path
      end

    "Lockstep: the bug recorded in #{where} is gone (regression replay passes): " <>
      first_line(Exception.message(divergence))
  end

  @doc """
  Like `run/3`, but returns the outcome: `{:reproduced, %Lockstep.BugFound{}}` or
  `{:diverged, %Lockstep.ReplayDivergence{}}`.
  """
  @spec check((() -> any()), Path.t() | Schedule.t(), keyword()) ::
          {:reproduced, BugFound.t()} | {:diverged, ReplayDivergence.t()}
  def check(fun, source, opts \\ []) when is_function(fun, 0) do
    outside_runs!("Lockstep.Replay.run/3")
    schedule = schedule!(source)
    {test, opts} = Keyword.pop(opts, :test)
    opts = Keyword.delete(opts, :regression)
    check_overrides!(opts)
    {shrink, opts} = Keyword.pop(opts, :shrink, false)
    {shrink_time, opts} = Keyword.pop(opts, :shrink_time, 5_000)
    settings = Map.merge(schedule.settings, Map.new(Keyword.delete(opts, :watchdog)))

    cfg =
      Runner.config!(
        [seed: schedule.seed, iterations: schedule.iteration + 1] ++
          Enum.to_list(Map.take(settings, Options.run_settings())) ++
          Keyword.take(opts, [:watchdog]),
        "Lockstep.Replay.run/3"
      )

    # Under a ctest, name the test for the report, without ExUnit's seed of this run.
    test = test && Map.delete(test, :exunit_seed)
    # The schedule's seed, whatever LOCKSTEP_SEED says: it names the recorded iteration.
    cfg = %{
      cfg
      | seed: schedule.seed,
        strategy: schedule.strategy,
        test: test,
        verbose: false,
        shrink: shrink,
        shrink_time: shrink_time,
        max_run_time: :infinity
    }

    overrides = %{
      strategy: :replay,
      choices: schedule.choices,
      expected_steps: schedule.expected_steps || 50
    }

    result =
      try do
        Runner.run_traced(fun, cfg, schedule.iteration, overrides)
      after
        Runner.flush_notes()
      end

    case result do
      {:fail, %{category: :diverged} = f} ->
        {:diverged, not_followed(f, schedule)}

      {:fail, %{category: category} = f} when shrink and category == schedule.category ->
        {:reproduced, reproduced(Runner.shrink_failure(fun, cfg, f), cfg, schedule)}

      {:fail, f} ->
        {:reproduced, reproduced(f, cfg, schedule)}

      {_passed, steps, _hash, run} ->
        {:diverged, no_failure(steps, run, schedule)}
    end
  end

  @doc """
  Replays the schedule a `ctest` saved, from iex, with no function to pass: loads the test
  file the schedule names (its module is compiled, ExUnit started without running anything),
  runs the module's setup, and runs that ctest, which replays the schedule as `mix
  lockstep.replay` would. Start iex in the test environment so that the test's support code is
  compiled: `MIX_ENV=test iex -S mix`, then `Lockstep.replay("_build/test/lockstep/....json")`.
  Raises what the replay raises (`Lockstep.BugFound` when the bug fires again).
  """
  @spec ctest(Path.t()) :: no_return() | :ok
  def ctest(path) when is_binary(path) do
    outside_runs!("Lockstep.replay/1")
    schedule = Schedule.load!(path)

    %{module: mod_name, name: name, file: file} =
      schedule.test ||
        raise ArgumentError,
              "#{path} was saved by Lockstep.Runner.run/2, not by a ctest: replay it with " <>
                "Lockstep.replay(fun, #{inspect(path)})"

    module = Module.concat([mod_name])

    unless Code.ensure_loaded?(module) do
      unless File.regular?(file) do
        raise ArgumentError, "the schedule's test file #{file} does not exist here"
      end

      if Process.whereis(ExUnit.Server) == nil, do: ExUnit.start(autorun: false)
      Code.require_file(file)
    end

    test = :"ctest #{name}"

    unless function_exported?(module, test, 1) do
      raise ArgumentError, "#{inspect(module)} has no ctest #{inspect(name)} any more"
    end

    context = setup(module, %{module: module, test: test, file: file, case: module})
    previous = System.get_env("LOCKSTEP_REPLAY")
    System.put_env("LOCKSTEP_REPLAY", Path.expand(path))

    try do
      apply(module, test, [context])
    after
      if previous,
        do: System.put_env("LOCKSTEP_REPLAY", previous),
        else: System.delete_env("LOCKSTEP_REPLAY")
    end
  end

  # The module's setup_all and setup callbacks, as ExUnit runs them before a test.
  defp setup(module, context) do
    Enum.reduce([:setup_all, :setup], context, fn kind, ctx ->
      if function_exported?(module, :__ex_unit__, 2),
        do: module.__ex_unit__(kind, ctx),
        else: ctx
    end)
  end

  @doc """
  Re-runs one iteration of a hunt from its seeds, deterministically, and returns `:ok` when it
  passes or raises `Lockstep.BugFound` when it fails (saving a schedule file like a hunt does).

  Takes the options of `Lockstep.Runner.run/2` (the hunt's `:strategy`, `:max_steps`, ...) plus
  `:seed` and `:iteration` (both required) and `:expected_steps`, the run-length estimate the
  hunt gave that iteration (printed in the failure report). Without it the iterations before
  `:iteration` are run first to work it out, as the hunt did.
  """
  @spec iteration((() -> any()), keyword()) :: :ok
  def iteration(fun, opts) when is_function(fun, 0) and is_list(opts) do
    outside_runs!("Lockstep.replay/2")
    {i, opts} = Keyword.pop(opts, :iteration)
    {expected, opts} = Keyword.pop(opts, :expected_steps)

    unless is_integer(i) and i >= 0 do
      raise ArgumentError,
            "Lockstep.replay/2 needs :iteration, a non-negative integer (the failing iteration " <>
              "of the hunt, zero-based), got: #{inspect(i)}"
    end

    unless Keyword.has_key?(opts, :seed) do
      raise ArgumentError, "Lockstep.replay/2 needs :seed, the hunt's seed"
    end

    unless expected == nil or (is_integer(expected) and expected > 0) do
      raise ArgumentError,
            "invalid :expected_steps: expected a positive integer, got: #{inspect(expected)}"
    end

    opts = Keyword.update(opts, :iterations, i + 1, &max(&1, i + 1))
    cfg = Runner.config!(opts, "Lockstep.replay/2")
    # The seed asked for, even when LOCKSTEP_SEED is set.
    cfg = %{cfg | seed: Keyword.fetch!(opts, :seed)}
    expected = expected || Runner.expected_steps_at(fun, cfg, i)

    result =
      try do
        Runner.run_once(fun, %{cfg | verbose: false}, i, %{expected_steps: expected})
      after
        Runner.flush_notes()
      end

    case result do
      {:fail, f} ->
        headline =
          "Lockstep re-ran iteration #{i} of the hunt with seed #{cfg.seed}: " <>
            Report.summary(f.category)

        # Shrunk as the hunt shrank it, so both report the same schedule.
        raise Runner.bug(Runner.shrink_failure(fun, cfg, f), cfg, %{headline: headline})

      _passed ->
        :ok
    end
  end

  @doc """
  The schedule named by the `LOCKSTEP_REPLAY` environment variable, for `test` (a map with the
  test's `:module` and `:name`): `{:replay, schedule}` when it was recorded from that test,
  `{:other_test, schedule}` when from another one, `:none` when the variable is not set.
  Raises `Lockstep.ScheduleError` when the variable names a file that cannot be used.

  `ctest` calls it before hunting: the test the schedule belongs to replays it instead, every
  other test runs as usual. Tools that act on one test's schedule (replay, shrink) set the
  variable and run that test with `mix test FILE:LINE`.
  """
  @spec from_env(map()) :: {:replay, Schedule.t()} | {:other_test, Schedule.t()} | :none
  def from_env(%{module: module, name: name}) do
    case System.get_env("LOCKSTEP_REPLAY") do
      nil ->
        :none

      "" ->
        :none

      path ->
        schedule = Schedule.load!(path)

        recorded = schedule.test && {schedule.test.module, schedule.test.name}

        if recorded == {inspect(module), to_string(name)},
          do: {:replay, schedule},
          else: {:other_test, schedule}
    end
  end

  # ----- inputs ------------------------------------------------------------------------------

  defp outside_runs!(where) do
    if Runtime.ctx() != nil do
      raise ArgumentError, "#{where} cannot be called from inside a Lockstep run"
    end
  end

  defp schedule!(%Schedule{} = s), do: s
  defp schedule!(path) when is_binary(path), do: Schedule.load!(path)

  defp schedule!(other) do
    raise ArgumentError,
          "expected a schedule file's path or a Lockstep.Schedule, got: #{inspect(other)}"
  end

  defp check_overrides!(opts) do
    unless Keyword.keyword?(opts) do
      raise ArgumentError, "Lockstep.Replay.run/3 options must be a keyword list"
    end

    case Keyword.keys(opts) -- @overrides do
      [] ->
        Options.validate!(opts, "Lockstep.Replay.run/3")

      unknown ->
        raise ArgumentError,
              "unknown Lockstep.Replay.run/3 option(s) #{inspect(unknown)}; a replay takes " <>
                Enum.map_join(@overrides, ", ", &inspect/1) <>
                " (the rest comes from the schedule)"
    end
  end

  # ----- outcomes ----------------------------------------------------------------------------

  defp reproduced(f, cfg, schedule) do
    now = Report.events(f.trace, f.processes, nil, f[:nodes])
    difference = first_difference(schedule, now, namer(f.processes), max(f.steps, schedule.steps))

    headline =
      if f.category == schedule.category do
        "Lockstep replayed #{source(schedule)}: the bug fired again: " <>
          Report.summary(f.category)
      else
        "Lockstep replayed #{source(schedule)}: a different failure fired " <>
          "(#{f.category} instead of the recorded #{schedule.category}): " <>
          Report.summary(f.category)
      end

    headline =
      case difference do
        nil ->
          headline

        {step, recorded, actual} ->
          headline <>
            "\nThe run differed from the recording from step #{step} on: recorded " <>
            "#{recorded}; this run: #{actual}."
      end

    # A replay saves nothing new, unless shrinking found a smaller schedule: that one is saved
    # as a file of its own (recording the schedule it came from).
    extra =
      if f[:shrunk_from],
        do: %{headline: headline},
        else: %{headline: headline, schedule_path: schedule.path}

    Runner.bug(f, cfg, extra)
  end

  # The engine could not follow the schedule: the named process was not enabled, or the
  # program went on past the last recorded step.
  defp not_followed(f, schedule) do
    statuses = f.statuses || []
    who = namer(f.processes)
    now = Report.events(f.trace, f.processes, nil, f[:nodes])

    {reason, at, expected, enabled, recorded_at, actual_at} =
      case f.detail do
        {:diverged, step, expected, enabled} ->
          {:not_enabled, step, expected, enabled,
           describe(recorded_at(schedule, step), recorded_names(schedule)),
           "#{who.(expected)} cannot run: #{standing(expected, statuses)}"}

        {:exhausted, step} ->
          enabled = for {id, :waiting, _op, true} <- statuses, do: id

          {:schedule_exhausted, step, nil, enabled,
           "nothing: the recorded run ended after step #{step - 1}",
           "the program went on to a step #{step}"}
      end

    enabled_text =
      "Enabled at step #{at}: " <>
        case enabled do
          [] -> "none."
          ids -> Enum.map_join(ids, ", ", &"#{who.(&1)} (#{op_of(&1, statuses)})") <> "."
        end

    case first_difference(schedule, now, who, at - 1) do
      nil ->
        divergence(schedule, reason, at, at, expected, enabled, recorded_at, actual_at, [
          enabled_text
        ])

      {step, recorded, actual} ->
        then =
          "Then at step #{at}: recorded #{recorded_at}; this run: #{actual_at}. " <> enabled_text

        divergence(schedule, reason, step, at, expected, enabled, recorded, actual, [then])
    end
  end

  defp no_failure(steps, run, schedule) do
    who = namer(run.processes)
    now = Report.events(run.trace, run.processes, nil, run[:nodes])

    {step, recorded, actual} =
      first_difference(schedule, now, who, max(steps, schedule.steps)) ||
        {schedule.steps,
         describe(recorded_at(schedule, schedule.steps), recorded_names(schedule)) <>
           " (the run failed here)", "the same steps, without the failure"}

    ended =
      "This run ended after #{steps} steps without failing; the recorded run failed after " <>
        "#{schedule.steps} steps with #{schedule.category}: #{first_line(schedule.detail)}"

    divergence(schedule, :no_failure, step, nil, nil, nil, recorded, actual, [ended])
  end

  defp divergence(schedule, reason, step, at, expected, enabled, recorded, actual, notes) do
    message =
      Enum.join(
        [
          "Replay of #{source(schedule)} diverged at step #{step}: the program no longer " <>
            "behaves as it did when the schedule was saved (nondeterminism outside Lockstep's " <>
            "control, or changed code).",
          "",
          "  Recorded at step #{step}: #{recorded}",
          "  This run at step #{step}: #{actual}"
        ] ++
          Enum.map(notes, &("  " <> &1)) ++
          [
            "",
            "Lockstep decides only what goes through it. Random numbers, unique integers, " <>
              "wall-clock time, messages from or state in processes Lockstep does not manage " <>
              "(direct :ets or :persistent_term calls instead of Lockstep.ETS or " <>
              "Lockstep.PersistentTerm, an Agent started outside the test) and code changed " <>
              "since the schedule was saved all change the path a program takes."
          ],
        "\n"
      )

    %ReplayDivergence{
      message: message,
      reason: reason,
      step: step,
      diverged_at: at,
      expected: expected,
      enabled: enabled,
      recorded: recorded,
      actual: actual,
      category: schedule.category,
      schedule_path: schedule.path
    }
  end

  # ----- comparing runs ----------------------------------------------------------------------

  # The first step (up to `upto`) at which this run's events differ from the recorded ones:
  # first by which processes did what kind of thing, then (if that is all the same) by the
  # events' text with references and pids blanked out. `{step, recorded, actual}` or nil.
  defp first_difference(schedule, now, who, upto) do
    recorded = by_step(schedule.trace)
    current = by_step(now)
    steps = (Map.keys(recorded) ++ Map.keys(current)) |> Enum.uniq() |> Enum.sort()
    steps = Enum.filter(steps, &(&1 <= upto))
    shape = fn events -> Enum.map(events, &{&1.proc, &1.kind}) end
    text = fn events -> Enum.map(events, &{&1.proc, blank(&1.text)}) end

    found =
      Enum.find(steps, fn s -> shape.(recorded[s] || []) != shape.(current[s] || []) end) ||
        Enum.find(steps, fn s -> text.(recorded[s] || []) != text.(current[s] || []) end)

    found &&
      {found, describe(recorded[found] || [], recorded_names(schedule)),
       describe(current[found] || [], who)}
  end

  defp by_step(events), do: Enum.group_by(events, & &1.step)

  defp recorded_at(schedule, step), do: Enum.filter(schedule.trace, &(&1.step == step))

  defp blank(text), do: Regex.replace(~r/#(Reference|PID|Port|Ref)<[\d.]+>/, text, "#\\1<>")

  defp describe([], _who), do: "nothing (the run had ended)"

  defp describe(events, who) do
    Enum.map_join(events, "; ", fn
      %{proc: nil, text: text} -> text
      %{proc: p, text: text} -> "#{who.(p)} #{text}"
    end)
  end

  # How this run names a process (`P1(:counter)`).
  defp namer(processes) do
    names = Map.new(processes, fn {id, _pid, name} -> {id, name} end)
    &Report.alias_of(&1, names)
  end

  defp recorded_names(schedule), do: Schedule.process_aliases(schedule)

  defp standing(id, statuses) do
    case List.keyfind(statuses, id, 0) do
      {_, :waiting, :recv, _} -> "it waits in a receive, with no message to take"
      {_, :waiting, :recv_first, _} -> "it waits in a selective receive, with no new message"
      {_, :waiting, :sleep, _} -> "it sleeps, and its timer has not fired"
      {_, :waiting, op, _} -> "it waits to #{op}"
      {_, :exited, _, _} -> "it has exited"
      {_, status, _, _} -> "it is #{status}"
      nil -> "no such process (this run has #{length(statuses)})"
    end
  end

  defp op_of(id, statuses) do
    case List.keyfind(statuses, id, 0) do
      {_, :waiting, op, _} -> to_string(op)
      _ -> "?"
    end
  end

  defp source(%{path: nil, seed: seed, iteration: i}),
    do: "a schedule (seed #{seed}, iteration #{i})"

  defp source(%{path: path}), do: Path.relative_to_cwd(path)

  defp first_line(text), do: text |> String.split("\n", parts: 2) |> hd() |> String.trim()
end

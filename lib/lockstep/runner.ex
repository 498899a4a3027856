defmodule Lockstep.Runner do
  @moduledoc """
  Runs a function many times, each time under a different schedule, until one fails.

      Lockstep.Runner.run(fn ->
        counter = Lockstep.spawn(fn -> Counter.loop(0) end)
        ...
      end, iterations: 500, strategy: :pct)

  `run/2` returns `:ok` when every iteration passed, and raises `Lockstep.BugFound` with the
  failing schedule otherwise. `ctest` (see `Lockstep.Test`) calls it for you.

  ## Options

    * `:iterations` - how many schedules to try (default 100; `LOCKSTEP_ITERATIONS` overrides
      the default)
    * `:strategy` - how each iteration's schedule is chosen (default `:pos`, which found every
      bug of the corpus in `examples/corpus/` fastest in the worst case; the same seed always
      gives the same schedules):
      * `:pct` or `{:pct, depth: d}` - probabilistic concurrency testing (Burckhardt et al.,
        ASPLOS 2010): random process priorities, and `d - 1` priority drops at random steps
        (default depth 3). Finds bugs that need a few ordering constraints, whatever the
        length of the runs around them.
      * `:fair_pct` or `{:fair_pct, depth: d, prefix: n}` - PCT for the first `n` steps, then
        a uniform random walk, so a process that polls in a loop for another process's
        message cannot starve it (default depth 3, `n` three quarters of the longest run seen
        so far). Pick it when PCT reports step-limit failures caused by polling or retry loops.
      * `:pos` - partial-order sampling (Yuan et al., CAV 2018): random priorities per pending
        operation, re-drawn only for the operations that race with the one just executed.
        Good when many processes do mostly independent work, and for bugs that need one
        process to get through several steps while another waits to act.
      * `:idpct` or `{:idpct, depth: a..b}` - PCT whose depth cycles through `a..b` (default
        `1..5`): iteration `i` uses depth `a + rem(i, b - a + 1)`. Pick it when the bug's
        depth is unknown.
      * `:random` - a uniform random walk; a cheap baseline for shallow races.
    * `:seed` - the hunt's seed (default: `LOCKSTEP_SEED`, else random; `ctest` derives it from
      ExUnit's seed and the test's name). Iteration `i` runs with a seed derived from it, so
      the same seed gives the same schedules on every machine.
    * `:max_steps` - steps allowed per run (default 1000)
    * `:step_limit` - `:fail` (default) reports a run that reaches `:max_steps` before the
      test body returns as a failure (a livelock); `:stop` ends such runs quietly and counts
      them. Reaching it after the body returned only ends the run.
    * `:allow_crashes` - when false (default), a managed process whose own code raises or exits
      abnormally fails the run; set it for code that crashes on purpose
    * `:fail_on_abnormal_exit` - also fail when a process is killed by an exit signal with an
      abnormal reason (anything but `:normal`, `:shutdown`, `{:shutdown, _}`; `:kill` counts),
      as Concuerror does by default (default false)
    * `:fail_on_blocked` - fail when, once the run has settled after the test body returned,
      processes are left blocked for good in a receive with no timeout (default false)
    * `:settle` - virtual milliseconds after the test body returns during which timers still
      fire (default 5000, or `:infinity`): the other processes run on until each has exited or
      waits with nothing due to wake it within that time
    * `:timers` - `:idle` (default): a timer or receive timeout fires only when no process can
      move; `:race`: the strategy may also let the clock jump to the next timer while
      processes could still run, so a timeout can beat a ready process (timeout-versus-reply
      races); the clock's steps are recorded in the schedule
    * `:time_per_step` - virtual milliseconds the clock advances with every step (default 0),
      for code that needs to see time pass while it runs (TTLs, rate-limit windows, leases)
    * `:clock_start` - the system time at the start of every run, in milliseconds since the
      Unix epoch or as a `DateTime` (default 2026-01-01T00:00:00Z): what
      `Lockstep.system_time/1` counts from
    * `:watchdog` - milliseconds of wall-clock time a running process may take to reach its
      next sync point before the run fails with its stacktrace (default 2000)
    * `:max_run_time` - wall-clock budget for the whole hunt in milliseconds (default 30000, or
      `:infinity`); when it runs out the hunt stops early, also in the middle of a long
      iteration, and says how many iterations ran
    * `:trace_dir` - where a failing run's schedule file (see `Lockstep.Schedule`) and text
      report are saved (default: `LOCKSTEP_SCHEDULE_DIR`, else `_build/<env>/lockstep` under
      the Mix project, else the system's temporary directory)
    * `:keep_failures` - how many failures' files (schedule and report) that directory keeps
      per test: after each failure the test's oldest beyond this many are deleted (default 100,
      or `:infinity`); only files named as the runner names them are touched
    * `:report` - `:story` (default): the failure's report folds each `GenServer.call` into
      its call and reply and leaves out their monitor/demonitor steps; `:full`: every step as
      the engine recorded it (the report file beside the schedule always has every step)
    * `:progress` - a one-line display of a long hunt (iterations, distinct schedules, rate,
      time left), redrawn once a second: `:auto` (default) shows it when standard error is a
      terminal and `CI` is not set, `true` always, `false` never
    * `:verbose` - when no bug was found, print what was explored: iterations run, distinct
      schedules, runs stopped at the step limit and the longest run (default false;
      `LOCKSTEP_VERBOSE=1` turns it on, and so does `mix test --trace` for `ctest`)
    * `:shrink` - when a run fails, search for a smaller schedule (fewer steps, fewer
      preemptions) that fails the same way, and report that one (default true)
    * `:shrink_time` - wall-clock budget for shrinking in milliseconds (default 5000); it also
      stops at what is left of `:max_run_time`

    * `:workers` - how many iterations run at once, each in its own engine run in its own
      worker process (default 1; a positive integer up to 256, or `:schedulers` for
      `System.schedulers_online/0`). The hunt's outcome does not depend on it: iteration `i`
      always runs with the same seed and the same run-length estimate (an iteration that a
      worker started with an estimate the earlier iterations then changed is run again), and
      the failure reported is the lowest failing iteration, shrunk as with one worker. So the
      same seed reports the same bug, iteration and shrunk schedule with 1 or N workers. Every
      strategy is deterministic per iteration this way (none learns across iterations other
      than through that estimate), so none is forced to one worker. The default stays 1:
      `mix test` already runs `async: true` test modules side by side on every scheduler, so
      parallel iterations inside each test would only compete with them; raise it for a long
      hunt of one test (`mix lockstep.hunt --workers N`) on an otherwise idle machine.
    * `:nodes` - run the workers on other BEAM nodes (default none): a positive integer `k`
      (at most 64) starts `k` local peers with `:peer`, stopped when the hunt ends; a
      non-empty list of node names uses those nodes. Each node runs `:workers` workers; the
      outcome is the same as with workers on the caller (same iteration, seed and shrunk
      schedule), and the failure is shrunk and saved on the caller. The caller becomes a
      distributed node if it is not one. The hunted function's module must have object code
      (on disk, or kept by `use Lockstep.Test`); see the README.

  ## What fails an iteration

  An exception or failed assertion in the function; a managed process that crashes (see
  `:allow_crashes`, `:fail_on_abnormal_exit`), also after the function returned; a deadlock
  (every process blocked in a receive, no timer pending, before the function returned); the
  step limit (see `:step_limit`); a process that stops reaching sync points (see
  `:watchdog`); processes left blocked for good (see `:fail_on_blocked`).

  When the function returns, its process exits as any process does (its links get the exit
  signal, its names are freed) and the others run on until the run settles (see `:settle`).
  Managed processes still alive then are stopped, and the next iteration starts only once they
  are gone: no process of one iteration, and no ETS table one of them owned, survives into the
  next.

  ## Shrinking

  A failing schedule found at random is usually long and full of irrelevant switches between
  processes. Unless `shrink: false`, the runner then searches for a smaller schedule: fewer
  steps and fewer *preemptions* (switches away from a process that could have gone on), neither
  measure ever growing, that fails with the same category (and, for exceptions and crashes,
  the same kind of exception). The engine proposes candidate schedules; each is run once with
  the rest of the run non-preemptive. The search stops when no proposal is smaller or when
  `:shrink_time` runs out. The winner is replayed strictly before it is reported; the report
  gives the sizes before and after, and `Lockstep.BugFound`'s `:shrink` field holds them.
  Failures of the watchdog are not re-run.
  """

  alias Lockstep.{BugFound, Escape, Native, Options, Report, Runtime, Schedule}

  # The watchdog looks at the run every `poll` ms: a quarter of the watchdog, at most 50 ms,
  # so it fires within 25% of its time (a 20 ms watchdog after at most about 25 ms).
  @max_poll_ms 50
  # Events of a failed run's trace kept for its report and schedule file (the last ones, whole
  # steps): the cost of a failure is bounded whatever the length of the run.
  @trace_kept 5_000
  @stop_ms 5_000
  # How long the runner waits for a note its processes have sent (a crash, an escape).
  @note_ms 1_000
  # At a deadlock, how long the runner waits for blocked processes to look at their VM mailbox.
  @park_ms 200
  # In the runner's dictionary during a hunt: whether it has warned of an escape already.
  @warned_key :"$lockstep_escape_warned"
  # In the runner's dictionary during a hunt: how many iterations were accepted.
  @done_key :"$lockstep_iterations_done"
  @pairs_key :"$lockstep_reads_from"

  @doc """
  Runs `fun` under Lockstep for the configured iterations. Returns `:ok` or raises
  `Lockstep.BugFound`. Raises `ArgumentError` on invalid options.
  """
  @spec run((() -> any()), keyword()) :: :ok
  def run(fun, opts \\ []) when is_function(fun, 0) do
    _ = hunt_with(fun, opts, "Lockstep.Runner.run/2")
    :ok
  end

  @doc """
  Explores every behaviour of `fun` with `strategy: :exhaustive` (see
  `Lockstep.Runner.Exhaustive`) and returns `{:ok, summary}`: `:schedules` explored,
  `:complete` (false when `max_schedules` or `:max_run_time` stopped it), `:step_limited`
  (runs stopped at `:max_steps`), `:longest` (steps), `:reads_from` (distinct reads-from
  pairs seen: which send each receive took, which write each shared-state access saw) and
  `:ms`. Raises `Lockstep.BugFound` on
  the first failing schedule. Takes the options of `run/2`; `:strategy` may give
  `{:exhaustive, max_schedules: n, reduction: false, observers: false}` (`observers: false`
  takes every two messages to one mailbox as racing, whatever the receives told apart: to
  measure what observers save).
  """
  @spec explore((() -> any()), keyword()) :: {:ok, map()}
  def explore(fun, opts \\ []) when is_function(fun, 0) do
    opts = Keyword.put_new(opts, :strategy, :exhaustive)

    unless Options.exploring?(opts[:strategy]) do
      raise ArgumentError,
            "Lockstep.Runner.explore/2 needs an exploring strategy (:exhaustive or " <>
              "{:exhaustive, opts}), got: #{inspect(opts[:strategy])}"
    end

    {:ok, hunt_with(fun, opts, "Lockstep.Runner.explore/2")}
  end

  defp hunt_with(fun, opts, where) do
    if Runtime.ctx() != nil do
      raise ArgumentError, "#{where} cannot be called from inside a Lockstep run"
    end

    cfg = config!(opts, where)
    started = System.monotonic_time(:millisecond)

    stats = %{
      iterations: 0,
      step_limited: 0,
      longest: 0,
      schedules: MapSet.new(),
      reads_from: Lockstep.ReadsFrom.new(),
      progress: Lockstep.Progress.new(cfg.progress, test_name(cfg), started)
    }

    # Reads-from pairs cost a NIF call and a hash per run: fetched only when something will
    # report them (the verbose summary, the progress line, `mix lockstep.hunt`, explore/2).
    cfg =
      Map.put(
        cfg,
        :reads_from?,
        cfg.verbose or stats.progress.enabled or System.get_env("LOCKSTEP_HUNT") == "1" or
          Options.exploring?(cfg.strategy)
      )

    Process.put(@warned_key, false)
    Process.put(@done_key, 0)
    Process.put(@pairs_key, Lockstep.ReadsFrom.new())

    try do
      cond do
        Options.exploring?(cfg.strategy) ->
          Lockstep.Runner.Exhaustive.run(fun, cfg, started)

        true ->
          case {cfg.nodes, Options.workers(cfg.workers)} do
            {nil, 1} -> hunt(fun, cfg, 0, started, stats)
            {nil, n} -> hunt_parallel(fun, cfg, List.duplicate(node(), n), started, stats)
            {spec, n} -> hunt_nodes(fun, cfg, spec, n, started, stats)
          end
      end
    rescue
      bug in BugFound ->
        Process.put(@done_key, Process.get(@done_key, 0) + 1)
        reraise bug, __STACKTRACE__
    after
      Process.delete(@warned_key)
      flush_notes()
      rate_summary(cfg, started, Process.delete(@done_key), Process.delete(@pairs_key))
    end
  end

  # Under `mix lockstep.hunt` (LOCKSTEP_HUNT=1): how many iterations the hunt ran (the
  # failing one included) and how fast, on standard error.
  defp rate_summary(cfg, started, done, reads_from) do
    if System.get_env("LOCKSTEP_HUNT") == "1" do
      ms = max(System.monotonic_time(:millisecond) - started, 1)

      IO.puts(
        :stderr,
        "\nLockstep: #{test_name(cfg)}: #{done} iterations in #{Float.round(ms / 1000, 1)} s, " <>
          "#{round(done * 1000 / ms)} iterations/s, " <>
          "#{Lockstep.ReadsFrom.describe(reads_from || Lockstep.ReadsFrom.new())}, " <>
          "shrinking and report included " <>
          "(workers: #{Options.workers(cfg.workers)}, " <>
          if(cfg.nodes, do: "nodes: #{inspect(cfg.nodes)}, ", else: "") <>
          "seed #{cfg.seed}, strategy #{inspect(cfg.strategy)})"
      )
    end
  end

  @doc false
  # Validated options with the environment's defaults, a concrete seed and the engine's view
  # of the strategy (`engine_strategy`: the run options naming it and its parameters), and
  # `engine_base`: the run options every iteration passes to the engine, built once per hunt
  # (an iteration adds only its seed, number and run-length estimate). Shared by every entry
  # point that runs iterations (hunt, replay, shrink).
  @spec config!(keyword(), String.t()) :: map()
  def config!(opts, where) do
    Native.ensure!()
    cfg = opts |> with_env_defaults() |> Options.validate!(where)
    cfg = %{cfg | seed: cfg.seed || default_seed()}
    strategy = Options.engine_strategy(cfg.strategy)

    base =
      strategy
      |> Map.merge(Options.engine_settings(cfg))
      |> Map.merge(%{seed: 0, iteration: 0, expected_steps: 50})

    Map.merge(cfg, %{engine_strategy: strategy, engine_base: base})
  end

  defp with_env_defaults(opts) do
    opts
    |> env_default(:seed, "LOCKSTEP_SEED")
    |> env_override(:iterations, "LOCKSTEP_ITERATIONS")
    |> env_override(:workers, "LOCKSTEP_WORKERS")
    |> env_override(:nodes, "LOCKSTEP_NODES")
    |> env_override(:max_run_time, "LOCKSTEP_MAX_RUN_TIME")
    |> env_flag(:progress, "LOCKSTEP_PROGRESS")
    |> env_flag(:verbose, "LOCKSTEP_VERBOSE")
    |> env_text(:trace_dir, "LOCKSTEP_SCHEDULE_DIR")
  end

  defp env_flag(opts, key, var) do
    case System.get_env(var) do
      nil -> opts
      text when text in ["1", "true"] -> Keyword.put_new(opts, key, true)
      text when text in ["", "0", "false"] -> opts
      text -> raise ArgumentError, "#{var} must be 1 or 0, got: #{inspect(text)}"
    end
  end

  defp env_text(opts, key, var) do
    case System.get_env(var) do
      nil -> opts
      "" -> opts
      text -> Keyword.put_new(opts, key, text)
    end
  end

  # LOCKSTEP_ITERATIONS wins over `iterations:` given anywhere (a ctest, `use Lockstep.Test`):
  # it is how a CI job or a person at the terminal asks for a longer or shorter hunt.
  defp env_override(opts, key, var) do
    case System.get_env(var) do
      nil ->
        opts

      text ->
        case Integer.parse(text) do
          {n, ""} when n > 0 ->
            Keyword.put(opts, key, n)

          _ ->
            raise ArgumentError,
                  "the environment variable #{var} must be a positive integer, got: #{inspect(text)}"
        end
    end
  end

  defp env_default(opts, key, var) do
    case System.get_env(var) do
      nil ->
        opts

      text ->
        case Integer.parse(text) do
          {n, ""} when n >= 0 ->
            if key == :seed, do: Keyword.put(opts, key, n), else: Keyword.put_new(opts, key, n)

          _ ->
            raise ArgumentError, "#{var} must be a non-negative integer, got: #{inspect(text)}"
        end
    end
  end

  defp default_seed, do: :rand.uniform(4_294_967_296) - 1

  defp hunt(_fun, %{iterations: n} = cfg, i, _started, stats) when i >= n do
    hunted(cfg, stats)
  end

  defp hunt(fun, cfg, i, started, stats) do
    elapsed = System.monotonic_time(:millisecond) - started

    if cfg.max_run_time != :infinity and elapsed >= cfg.max_run_time and i > 0 do
      stats = clear_progress(stats)

      IO.puts(
        :stderr,
        "Lockstep: #{test_name(cfg)} stopped after #{i} of #{cfg.iterations} iterations " <>
          "(max_run_time #{cfg.max_run_time} ms); no bug found in those."
      )

      hunted(cfg, stats)
    else
      expected = expected_steps(stats.longest)
      deadline = if cfg.max_run_time != :infinity, do: started + cfg.max_run_time

      case run_iteration(fun, cfg, i, %{expected_steps: expected}, false, deadline) do
        {:out_of_time, steps} ->
          stats = clear_progress(stats)

          IO.puts(
            :stderr,
            "Lockstep: #{test_name(cfg)} stopped during iteration #{i} of #{cfg.iterations}, " <>
              "after #{steps} steps of it (max_run_time #{cfg.max_run_time} ms); no bug found in " <>
              "the #{i} iterations before it. Raise :max_run_time (or lower :max_steps) to " <>
              "explore more."
          )

          hunted(cfg, stats)

        {:ok, steps, schedule_hash} ->
          hunt(
            fun,
            cfg,
            i + 1,
            started,
            progress(record(stats, steps, schedule_hash, false), cfg)
          )

        {:step_limit, steps, schedule_hash} when cfg.step_limit == :stop ->
          hunt(fun, cfg, i + 1, started, progress(record(stats, steps, schedule_hash, true), cfg))

        {:fail, failure} ->
          Lockstep.Progress.done(stats.progress)
          raise bug(shrink_failure(fun, cfg, failure, started), cfg)
      end
    end
  end

  # ----- parallel hunt ---------------------------------------------------------------------
  #
  # `workers: n` runs iterations in `n` worker processes, each iteration in its own engine
  # run. The coordinator (the caller) hands out iteration numbers in order and accepts the
  # results in order, so the hunt's outcome is the sequential hunt's:
  #
  #   * iteration `i` runs with `Native.seed_iteration(seed, i)` whichever worker runs it;
  #   * its run-length estimate must be the one the sequential hunt gives it (from the longest
  #     of the runs `0..i-1`). A worker gets the estimate known when `i` is handed out; when
  #     `i` is accepted (every iteration before it accepted), a result run with another
  #     estimate is discarded and `i` is run again with the right one. The estimate only
  #     changes when a run is longer than all before it, so re-runs are rare;
  #   * the first failure accepted is the lowest failing iteration: once any worker reports a
  #     failure at `i`, iterations from `i` on are no longer handed out; the failure is then
  #     shrunk and reported by the caller exactly as the sequential hunt does.

  #
  # `nodes:` is the same hunt with the workers placed on other BEAM nodes (`workers` of them
  # on each node, see Lockstep.Peers): only where a worker runs changes, the coordinator and
  # its ordering are the same, and the failure is shrunk and reported here, on the caller.

  defp hunt_nodes(fun, cfg, spec, per_node, started, stats) do
    mod = if is_function(fun), do: Function.info(fun, :module) |> elem(1)
    {nodes, stop} = Lockstep.Peers.start(spec, mod)

    try do
      placement = for n <- nodes, _ <- 1..per_node, do: n
      hunt_parallel(fun, cfg, placement, started, stats)
    after
      stop.()
    end
  end

  # Iterations a worker holds at once (see `hunt_parallel/5`): with one, a worker waited for
  # the coordinator between iterations (2 workers on 2 cores: 1.08x to 1.25x the rate of one;
  # with two, 1.44x to 1.52x, measured alternately with `scripts/bench workers`).
  @in_hand 2

  defp hunt_parallel(fun, cfg, placement, started, stats) do
    deadline = if cfg.max_run_time != :infinity, do: started + cfg.max_run_time
    coordinator = self()
    # Deadlines are monotonic times, which differ between nodes: each worker gets the time left.
    left = if deadline, do: deadline - System.monotonic_time(:millisecond)

    workers =
      for where <- placement do
        body = fn ->
          deadline = if left, do: System.monotonic_time(:millisecond) + left
          worker(fun, cfg, deadline, coordinator)
        end

        pid = if where == node(), do: spawn_link(body), else: Node.spawn_link(where, body)
        {pid, Process.monitor(pid)}
      end

    # Each worker has @in_hand iterations handed to it, so that it starts the next one without
    # waiting for the coordinator's answer to the last.
    state = %{
      idle: Enum.flat_map(workers, fn {pid, _} -> List.duplicate(pid, @in_hand) end),
      busy: %{},
      next: 0,
      frontier: 0,
      results: %{},
      # The lowest iteration seen failing (no iteration past it is handed out).
      failed: :infinity,
      redo: nil,
      found: nil,
      stopped: nil,
      monitors: Map.new(workers, fn {pid, ref} -> {ref, pid} end)
    }

    try do
      state = coordinate(cfg, started, stats, state)
      finish_parallel(fun, cfg, started, state)
    after
      for {pid, ref} <- workers do
        Process.demonitor(ref, [:flush])
        send(pid, :stop)
      end
    end
  end

  defp worker(fun, cfg, deadline, coordinator) do
    Process.put(@warned_key, false)

    receive do
      {:run, i, expected} ->
        reply =
          try do
            {:done, self(), i, expected,
             run_iteration(fun, cfg, i, %{expected_steps: expected}, false, deadline)}
          catch
            kind, payload -> {:raised, self(), kind, payload, __STACKTRACE__}
          end

        send(coordinator, reply)
        worker(fun, cfg, deadline, coordinator)

      :stop ->
        flush_notes()
    end
  end

  defp coordinate(cfg, started, stats, state) do
    state = dispatch(cfg, started, stats, state)

    if state.busy == %{} do
      Map.put(state, :stats, stats)
    else
      receive do
        {:done, pid, i, expected, result} ->
          state = %{state | busy: Map.delete(state.busy, {pid, i}), idle: [pid | state.idle]}

          case result do
            {:out_of_time, steps} ->
              stopped = state.stopped || {:during, i, steps}
              coordinate(cfg, started, stats, %{state | stopped: stopped})

            result ->
              failed = if match?({:fail, _}, result), do: min(state.failed, i), else: state.failed

              state = %{
                state
                | results: Map.put(state.results, i, {expected, result}),
                  failed: failed
              }

              {stats, state} = accept(cfg, stats, state)
              coordinate(cfg, started, stats, state)
          end

        {:raised, _pid, kind, payload, stack} ->
          :erlang.raise(kind, payload, stack)

        {:DOWN, ref, :process, _, reason} when is_map_key(state.monitors, ref) ->
          exit({:lockstep_worker, reason})
      end
    end
  end

  # Accepts the results at the frontier in order, re-running an iteration whose estimate was
  # not the sequential hunt's.
  defp accept(cfg, stats, %{found: nil} = state) do
    i = state.frontier

    case Map.pop(state.results, i) do
      {nil, _} ->
        {stats, state}

      {{expected, result}, results} ->
        state = %{state | results: results}

        cond do
          expected != expected_steps(stats.longest) ->
            # The result is dropped: it no longer bounds what is handed out.
            failed = Enum.min(for({k, {_, {:fail, _}}} <- results, do: k), fn -> :infinity end)

            {stats, %{state | redo: i, failed: failed}}

          match?({:fail, _}, result) ->
            {stats, %{state | found: elem(result, 1)}}

          true ->
            {kind, steps, hash} = result
            stats = progress(record(stats, steps, hash, kind == :step_limit), cfg)
            accept(cfg, stats, %{state | frontier: i + 1})
        end
    end
  end

  defp accept(_cfg, stats, state), do: {stats, state}

  defp dispatch(cfg, started, stats, state) do
    case {state.idle, next_iteration(cfg, started, state)} do
      {[pid | idle], {:run, i, state}} ->
        # A re-run gets the estimate its predecessors give; a new iteration the one known now.
        send(pid, {:run, i, expected_steps(stats.longest)})
        state = %{state | idle: idle, busy: Map.put(state.busy, {pid, i}, true)}
        dispatch(cfg, started, stats, state)

      _ ->
        state
    end
  end

  defp next_iteration(cfg, started, state) do
    bound = min(cfg.iterations, state.failed)

    out_of_time =
      cfg.max_run_time != :infinity and
        System.monotonic_time(:millisecond) - started >= cfg.max_run_time

    cond do
      state.found != nil or state.stopped != nil -> :none
      state.redo != nil -> {:run, state.redo, %{state | redo: nil}}
      out_of_time and state.next > 0 -> :none
      state.next < bound -> {:run, state.next, %{state | next: state.next + 1}}
      true -> :none
    end
  end

  defp finish_parallel(fun, cfg, started, %{stats: stats} = state) do
    done = stats.iterations

    cond do
      state.found != nil ->
        Lockstep.Progress.done(stats.progress)
        raise bug(shrink_failure(fun, cfg, state.found, started), cfg)

      done >= cfg.iterations ->
        hunted(cfg, stats)

      true ->
        stats = clear_progress(stats)

        IO.puts(
          :stderr,
          "Lockstep: #{test_name(cfg)} stopped after #{done} of #{cfg.iterations} iterations " <>
            "(max_run_time #{cfg.max_run_time} ms, " <>
            "#{div(map_size(state.busy) + length(state.idle), @in_hand)} " <>
            "workers); no bug found in those."
        )

        hunted(cfg, stats)
    end
  end

  # The run-length estimate given to the strategy before any run has completed.
  @min_expected_steps 50

  defp expected_steps(longest), do: max(longest, @min_expected_steps)

  @doc false
  # The run-length estimate the hunt gives iteration `i`: it depends on the runs before it, so
  # they are run again (as the hunt ran them). A failure among them raises its BugFound, as the
  # hunt would have stopped there.
  @spec expected_steps_at((() -> any()), map(), non_neg_integer()) :: pos_integer()
  def expected_steps_at(fun, cfg, i) do
    cfg = %{cfg | verbose: false}

    Enum.reduce(0..(i - 1)//1, 0, fn j, longest ->
      case iteration(fun, cfg, j, expected_steps(longest)) do
        {:ok, steps, _} -> max(longest, steps)
        {:step_limit, steps, _} -> max(longest, steps)
        {:fail, failure} -> raise bug(shrink_failure(fun, cfg, failure), cfg)
      end
    end)
    |> expected_steps()
  after
    flush_notes()
  end

  @doc false
  # Shrinks a failure from `run_once/4` unless `shrink: false` (see "Shrinking" above), and
  # records what shrinking did under `:shrink`. Shrinking gets `:shrink_time`, or what is left
  # of `:max_run_time` (counted from `started`) if that is less.
  @spec shrink_failure((() -> any()), map(), map(), integer()) :: map()
  def shrink_failure(fun, cfg, failure, started \\ System.monotonic_time(:millisecond))

  def shrink_failure(_fun, %{shrink: false}, failure, _started),
    do: Map.put(failure, :shrink, nil)

  # An escape is a missing instrumentation, not an interleaving: a smaller schedule would not
  # make it clearer, and whether a rerun meets it depends on the VM's timing.
  def shrink_failure(_fun, _cfg, %{category: :escape} = failure, _started) do
    size = %{steps: failure.steps, preemptions: length(failure.preemptions)}

    summary = %{
      before: size,
      after: size,
      candidates_tried: 0,
      time_ms: 0,
      complete: false,
      verified: true,
      skipped: "an interaction bypassed Lockstep; not re-run"
    }

    Map.put(failure, :shrink, summary)
  end

  def shrink_failure(fun, cfg, failure, started) do
    budget =
      case cfg.max_run_time do
        :infinity -> cfg.shrink_time
        total -> min(cfg.shrink_time, total - (System.monotonic_time(:millisecond) - started))
      end

    {failure, summary} = Lockstep.Shrink.shrink(fun, cfg, failure, budget)
    Map.put(failure, :shrink, summary)
  end

  # `schedule_hash` is `{fingerprint, reads_from}`: the engine's fingerprint of the run's
  # choices and its reads-from pairs (see `Lockstep.ReadsFrom`). Runs of every worker come
  # here, so both counts cover the whole hunt.
  defp record(stats, steps, {fingerprint, pairs}, limited) do
    Process.put(@done_key, stats.iterations + 1)
    reads_from = Lockstep.ReadsFrom.add(stats.reads_from, pairs)
    Process.put(@pairs_key, reads_from)

    %{
      stats
      | iterations: stats.iterations + 1,
        longest: max(stats.longest, steps),
        step_limited: stats.step_limited + if(limited, do: 1, else: 0),
        schedules: MapSet.put(stats.schedules, fingerprint),
        reads_from: reads_from
    }
  end

  @doc false
  # The exhaustive runner's count of pairs so far (for `mix lockstep.hunt`'s summary).
  def count_pairs(reads_from), do: Process.put(@pairs_key, reads_from)

  # The end of a hunt that found no bug. Many iterations that all ran the same schedule mean
  # the body had nothing to interleave: usually code that bypasses Lockstep (plain spawn,
  # send, GenServer, :ets), so say so, verbose or not.
  defp clear_progress(stats) do
    Lockstep.Progress.done(stats.progress)
    %{stats | progress: %{stats.progress | shown: false}}
  end

  defp progress(stats, cfg),
    do: %{stats | progress: Lockstep.Progress.tick(stats.progress, stats, cfg)}

  defp hunted(cfg, stats) do
    Lockstep.Progress.done(stats.progress)
    if cfg.verbose, do: explored(cfg, stats)

    if stats.iterations > 1 and MapSet.size(stats.schedules) == 1 do
      IO.puts(
        :stderr,
        "Lockstep: #{test_name(cfg)}: #{stats.iterations} iterations explored 1 distinct " <>
          "schedule: nothing to interleave: is the code under test instrumented?"
      )
    end

    :ok
  end

  defp explored(cfg, stats) do
    # Under ExUnit (a ctest, `mix test --trace`) on a line of its own, not after a test's name.
    lead = if cfg[:test], do: "\n", else: ""

    IO.puts(
      lead <>
        "Lockstep: #{test_name(cfg)}: #{stats.iterations} iterations, " <>
        "#{MapSet.size(stats.schedules)} distinct schedules, longest run #{stats.longest} steps, " <>
        "#{stats.step_limited} stopped at the step limit, " <>
        "#{Lockstep.ReadsFrom.describe(stats.reads_from)}; no bug found " <>
        "(seed #{cfg.seed}, strategy #{inspect(cfg.strategy)})."
    )
  end

  @doc false
  def test_name(%{test: %{name: name}}), do: name
  def test_name(_), do: "run"

  @doc false
  # How many runs the hunt has accepted so far (for the summary `mix lockstep.hunt` prints).
  def count_done(n), do: Process.put(@done_key, n)

  # ----- one iteration ---------------------------------------------------------------------

  defp iteration(fun, cfg, i, expected_steps) do
    run_once(fun, cfg, i, %{expected_steps: expected_steps})
  end

  @doc false
  # Runs iteration `i` of the hunt described by `cfg` (from `config!/2`) once. `overrides` are
  # merged into the engine's run options last: replay and shrinking pass
  # `%{strategy: :replay, choices: [...]}` there. Returns `{:ok, steps, schedule_hash}`,
  # `{:step_limit, steps, schedule_hash}` (only with `step_limit: :stop`) or `{:fail, failure}`
  # where `failure` is the map `Lockstep.Report.format/2` renders.
  @spec run_once((() -> any()), map(), non_neg_integer(), map()) ::
          {:ok, non_neg_integer(), term()}
          | {:step_limit, non_neg_integer(), term()}
          | {:fail, map()}
  def run_once(fun, cfg, i, overrides \\ %{}), do: run_iteration(fun, cfg, i, overrides, false)

  @doc false
  # Like `run_once/4`, but a run that does not fail also hands back what it did:
  # `{:ok | :step_limit, steps, schedule_hash, %{trace: events, processes: [{id, pid, name}]}}`.
  # Replay compares it with the recorded run.
  @spec run_traced((() -> any()), map(), non_neg_integer(), map()) ::
          {:ok | :step_limit, non_neg_integer(), term(), map()} | {:fail, map()}
  def run_traced(fun, cfg, i, overrides), do: run_iteration(fun, cfg, i, overrides, true)

  @doc false
  # Like `run_once/4`, but a run that does not fail also hands back the schedule it ran:
  # `{:ok | :step_limit, steps, schedule_hash, %{choices: [id]}}` (what a strict replay, or a
  # `:prefixed` run, follows). Cheaper than `run_traced/4`: no trace is fetched.
  @spec run_choices((() -> any()), map(), non_neg_integer(), map()) ::
          {:ok | :step_limit, non_neg_integer(), term(), map()} | {:fail, map()}
  def run_choices(fun, cfg, i, overrides), do: run_iteration(fun, cfg, i, overrides, :choices)

  @doc false
  # Like `run_once/4`, within the hunt's `deadline` (monotonic ms, or nil): may also return
  # `{:out_of_time, steps}`.
  def run_until(fun, cfg, i, overrides, deadline),
    do: run_iteration(fun, cfg, i, overrides, false, deadline)

  # `deadline` (monotonic ms, or nil): the hunt's max_run_time, which ends even an iteration
  # still running (`{:out_of_time, steps}`).
  defp run_iteration(fun, cfg, i, overrides, traced, deadline \\ nil) do
    iter_seed = Native.seed_iteration(cfg.seed, i)
    tag = make_ref()

    engine_opts = Map.merge(%{cfg.engine_base | seed: iter_seed, iteration: i}, overrides)

    run =
      case Native.run_new(engine_opts, tag, self(), node()) do
        {:error, why} -> raise ArgumentError, "Lockstep could not start a run: #{why}"
        run -> run
      end

    ctx = {run, tag, 0, self()}
    escapes = cfg.escapes
    root = :erlang.spawn(fn -> Runtime.root_main(ctx, fun, escapes) end)
    :ok = Native.run_bind(run, 0, root)

    try do
      Native.run_start(run)
      poll = cfg.watchdog |> div(4) |> max(1) |> min(@max_poll_ms)
      ended = await(run, tag, {cfg.watchdog, poll, deadline}, 0, now_ms())

      ctx = %{
        cfg: cfg,
        iteration: i,
        iter_seed: iter_seed,
        expected_steps: engine_opts.expected_steps,
        traced: traced
      }

      outcome(run, tag, ended, ctx)
    after
      cleanup(run, tag)
    end
  end

  defp now_ms, do: System.monotonic_time(:millisecond)

  # Waits for the run to end, killing processes the engine killed, and watching that the
  # running process keeps reaching sync points.
  defp await(run, tag, watchdog, last_steps, since) do
    receive do
      {^tag, :kill, pids} ->
        Enum.each(pids, &Process.exit(&1, :kill))
        await(run, tag, watchdog, last_steps, since)

      {^tag, :finished, _} ->
        :finished
    after
      elem(watchdog, 1) ->
        deadline = elem(watchdog, 2)

        if deadline != nil and now_ms() >= deadline and not finished?(run) do
          :out_of_time
        else
          watch(run, tag, watchdog, last_steps, since)
        end
    end
  end

  defp finished?(run), do: elem(Native.run_status(run), 2)

  defp watch(run, tag, watchdog, last_steps, since) do
    case Native.run_status(run) do
      {_steps, _running, true, _now} ->
        :finished

      {steps, _running, false, _now} when steps != last_steps ->
        await(run, tag, watchdog, steps, now_ms())

      {steps, running, false, _now} ->
        if now_ms() - since >= elem(watchdog, 0) do
          {:watchdog, running}
        else
          await(run, tag, watchdog, steps, since)
        end
    end
  end

  defp outcome(run, tag, ended, ctx) do
    # The steps, the engine's 64-bit fingerprint of the choices (the hunt counts distinct
    # schedules) and how the run ended, in one call. With the fingerprint, the run's
    # reads-from pairs: the hunt counts the distinct ones.
    {steps, fingerprint, run_outcome} = Native.run_result(run)
    pairs = if Map.get(ctx.cfg, :reads_from?, false), do: Native.run_reads_from(run), else: <<>>
    schedule_hash = {fingerprint, pairs}

    result =
      case {ended, run_outcome} do
        {:out_of_time, _} ->
          Native.run_abort(run, "max_run_time")
          {:out_of_time, steps}

        {{:watchdog, pid}, _} ->
          stack = stacktrace(pid)
          stuck = stuck(pid)
          id = proc_id(run, pid)
          Native.run_abort(run, "watchdog")
          fail(run, :watchdog, {id, pid, ctx.cfg.watchdog, stack}, nil, ctx, %{stuck: stuck})

        {:finished, {:completed, nil}} ->
          passed(:ok, run, steps, schedule_hash, ctx)

        {:finished, {:step_limit, _}} when ctx.cfg.step_limit == :stop ->
          passed(:step_limit, run, steps, schedule_hash, ctx)

        {:finished, {:exception, reason}} ->
          fail(run, :exception, reason, {:note, tag, :root, 0}, ctx)

        {:finished, {:crash, {id, _reason} = detail}} ->
          fail(run, :crash, detail, {:note, tag, :crash, id}, ctx)

        {:finished, {:aborted, why}} ->
          if why == Escape.abort_reason() do
            case escape_note(tag) do
              nil -> fail(run, :aborted, why, nil, ctx)
              note -> fail(run, :escape, note, nil, ctx)
            end
          else
            fail(run, :aborted, why, nil, ctx)
          end

        {:finished, {category, blocked}} when category in [:deadlock, :left_blocked] ->
          fail(run, category, blocked, nil, ctx, %{vm_mailboxes: vm_mailboxes(run, blocked)})

        {:finished, {category, detail}} ->
          fail(run, category, detail, nil, ctx)
      end

    with_escapes(result, escape_notes(tag, []), run, ctx)
  end

  # Escapes noted by the run's processes besides the one that ended it. With escapes: :fail a
  # run that passed, deadlocked or was left blocked fails with the first (it came too late to
  # stop the run, but it bypassed Lockstep all the same); another failure lists them.
  # escapes: :warn prints the first.
  defp with_escapes(result, [], _run, _ctx), do: result

  defp with_escapes(result, notes, run, ctx) do
    if ctx.cfg.escapes == :warn, do: warn_escape(hd(notes), run, ctx.cfg)

    case result do
      # The run stopped because a process waits for what went around the engine: the escape
      # is the cause, whichever of the two the runner heard of first.
      {:fail, %{category: category} = stalled}
      when category in [:deadlock, :left_blocked] and ctx.cfg.escapes == :fail ->
        {:fail, f} = fail(run, :escape, hd(notes), nil, ctx)
        {:fail, Map.merge(f, %{escapes: tl(notes), stalled: stalled})}

      {:fail, f} ->
        {:fail, Map.update(f, :escapes, notes, &(&1 ++ notes))}

      _passed when ctx.cfg.escapes == :fail ->
        {:fail, f} = fail(run, :escape, hd(notes), nil, ctx)
        {:fail, Map.put(f, :escapes, tl(notes))}

      passed ->
        passed
    end
  end

  # Once per hunt (the runner's dictionary says whether this hunt warned already; a single
  # iteration run outside a hunt warns every time).
  defp warn_escape(note, run, cfg) do
    case Process.get(@warned_key) do
      true ->
        :ok

      warned ->
        if warned == false, do: Process.put(@warned_key, true)
        processes = for {id, pid, name, _alive} <- Native.run_procs(run), do: {id, pid, name}

        IO.puts(
          :stderr,
          "\n*** Lockstep warning (#{test_name(cfg)}, escapes: :warn): an interaction " <>
            "bypassed Lockstep, so no schedule explores it:\n" <>
            Report.escape_text(note, processes) <>
            "\n(Further escapes of this hunt are not reported.)\n"
        )
    end
  end

  # The note of the escape that stopped the run: sent before the run was stopped, so it is
  # here or on its way.
  defp escape_note(tag) do
    receive do
      {^tag, :escape, note} -> note
    after
      @note_ms -> nil
    end
  end

  defp escape_notes(tag, acc) do
    receive do
      {^tag, :escape, note} -> escape_notes(tag, [note | acc])
    after
      0 -> Enum.reverse(acc)
    end
  end

  # At a deadlock, the plain messages in the blocked processes' VM mailboxes (they bypassed the
  # engine, and may be what a process waits for), by process id. Each blocked process looks at
  # its VM mailbox when it parks; wait (briefly) until each has, so that its note is in.
  defp vm_mailboxes(run, blocked) do
    ids = MapSet.new(blocked, &elem(&1, 0))
    pids = for {id, pid, _name, _alive} <- Native.run_procs(run), id in ids, do: {id, pid}
    deadline = now_ms() + @park_ms
    Enum.each(pids, fn {_id, pid} -> wait_parked(pid, deadline) end)

    Map.new(pids, fn {id, pid} -> {id, Escape.strays(pid)} end)
  end

  defp wait_parked(pid, deadline) do
    unless Escape.parked?(pid) or now_ms() >= deadline do
      Process.sleep(1)
      wait_parked(pid, deadline)
    end
  end

  defp passed(kind, run, steps, schedule_hash, %{traced: true}) do
    processes = for {id, pid, name, _alive} <- Native.run_procs(run), do: {id, pid, name}

    {kind, steps, schedule_hash,
     %{
       trace: Native.run_trace(run, @trace_kept),
       processes: processes,
       nodes: cluster_nodes(run)
     }}
  end

  defp passed(kind, run, steps, schedule_hash, %{traced: :choices}),
    do: {kind, steps, schedule_hash, %{choices: Native.run_choices(run)}}

  defp passed(kind, _run, steps, schedule_hash, _ctx), do: {kind, steps, schedule_hash}

  defp fail(run, category, detail, exception, ctx, extra \\ %{}) do
    processes = for {id, pid, name, _alive} <- Native.run_procs(run), do: {id, pid, name}
    trace = Native.run_trace(run, @trace_kept)

    exception =
      case exception do
        # A process killed by a signal (or from outside) sends no note: do not wait for one.
        {:note, tag, role, id} -> if killed?(trace, id), do: nil, else: note(tag, role, id)
        other -> other
      end

    {:fail,
     %{
       category: category,
       detail: detail,
       exception: exception,
       trace: trace,
       message_ids: Native.run_message_ids(run, @trace_kept),
       schedule: Native.run_choices(run),
       preemptions: Native.run_preemptions(run),
       slice: Native.run_slice(run, nil),
       steps: elem(Native.run_status(run), 0),
       processes: processes,
       nodes: cluster_nodes(run),
       iteration: ctx.iteration,
       iter_seed: ctx.iter_seed,
       expected_steps: ctx.expected_steps,
       # Where every process stood when a replay could not follow its schedule.
       statuses: if(category == :diverged, do: Native.run_statuses(run), else: nil)
     }
     |> Map.merge(extra)}
  end

  # In a run that simulates a cluster, the node of each process not on the run's own node (the
  # report writes them `P3@b`); nil otherwise.
  defp cluster_nodes(run) do
    case Native.run_nodes(run) do
      [{0, root, _} | _] = list ->
        away = for {id, node, :process} <- list, node != root, into: %{}, do: {id, node}
        if away == %{}, do: nil, else: away

      _ ->
        nil
    end
  end

  defp killed?(trace, id) do
    Enum.any?(trace, fn
      {_, _, nil, {:died, ^id, _, _, _}} -> true
      {_, _, nil, {:vanished, ^id}} -> true
      _ -> false
    end)
  end

  # How a process's code ended, as its wrapper reported it (sent before its exit step, so it
  # is in the mailbox or on its way).
  defp note(tag, role, id) do
    receive do
      {^tag, ^role, ^id, kind, payload, stack} -> {kind, payload, stack}
    after
      1_000 -> nil
    end
  end

  defp stacktrace(pid) when is_pid(pid) do
    case Process.info(pid, :current_stacktrace) do
      {:current_stacktrace, stack} -> stack
      nil -> []
    end
  end

  defp stacktrace(_), do: []

  # What the watchdog's process was doing: blocked in a receive (`:waiting`) or running, in
  # which function, and what its VM mailbox holds.
  defp stuck(pid) when is_pid(pid) do
    case Process.info(pid, [:status, :current_function, :message_queue_len]) do
      [status: status, current_function: mfa, message_queue_len: n] ->
        %{status: status, current_function: mfa, messages: n, strays: Escape.strays(pid)}

      nil ->
        nil
    end
  end

  defp stuck(_), do: nil

  defp proc_id(run, pid) do
    Enum.find_value(Native.run_procs(run), fn
      {id, ^pid, _, _} -> id
      _ -> nil
    end)
  end

  defp cleanup(run, tag) do
    stop_all(Native.run_unreaped(run, false))
    run_cleanups(tag)
    Native.run_release(run)
    flush(tag)
  end

  # Kills what is left of the run and waits until every process is gone (bounded): the VM
  # deletes a process's ETS tables before it reports the process down, so nothing the run
  # owned is visible to the next iteration. `pids` are those the VM has not yet reported down
  # to the run (usually none: a finished run's processes have ended on their own).
  defp stop_all([]), do: :ok

  # The engine could not say which processes are left (its lock was poisoned by a panic
  # mid-update). Say so instead of raising here, which would hide the failure being reported.
  defp stop_all({:error, why}) do
    IO.puts(:stderr, "Lockstep: could not stop the run's processes: #{why}")
  end

  defp stop_all(pids) do
    refs =
      for pid <- pids do
        ref = Process.monitor(pid)
        Process.exit(pid, :kill)
        ref
      end

    deadline = now_ms() + @stop_ms

    Enum.each(refs, fn ref ->
      receive do
        {:DOWN, ^ref, :process, _, _} -> :ok
      after
        max(deadline - now_ms(), 0) -> Process.demonitor(ref, [:flush])
      end
    end)
  end

  # Undo actions the run registered for state it cannot own (see
  # `Lockstep.SharedState.on_cleanup/2`), newest first.
  defp run_cleanups(tag) do
    tag
    |> collect_cleanups([])
    |> Enum.each(fn fun ->
      try do
        fun.()
      catch
        kind, payload ->
          IO.puts(:stderr, "Lockstep: a run cleanup failed: #{Exception.format(kind, payload)}")
      end
    end)
  end

  defp collect_cleanups(tag, acc) do
    receive do
      {^tag, :cleanup, fun} -> collect_cleanups(tag, [fun | acc])
    after
      0 -> acc
    end
  end

  defp flush(tag) do
    receive do
      {^tag, _, _} -> flush(tag)
      {^tag, _, _, _, _, _} -> flush(tag)
    after
      0 -> :ok
    end
  end

  @doc false
  # Notes from processes killed at cleanup may arrive after their iteration's flush; callers of
  # `run_once/4` call this when they are done.
  def flush_notes do
    receive do
      {tag, kind, _, _, _, _} when is_reference(tag) and kind in [:root, :crash] ->
        flush_notes()

      {tag, kind, _} when is_reference(tag) and kind in [:kill, :finished, :escape] ->
        flush_notes()
    after
      0 -> :ok
    end
  end

  # ----- the exception ---------------------------------------------------------------------

  @doc false
  # The exception for a failed run, with its schedule file and text report saved. `extra` may
  # carry `:headline` (replaces the report's first line) and `:schedule_path` (the run replayed
  # a schedule, from that file or from none: nothing is saved).
  @spec bug(map(), map(), map()) :: BugFound.t()
  def bug(f, cfg, extra \\ %{}) do
    f =
      f
      |> Map.merge(%{
        seed: cfg.seed,
        iterations: cfg.iterations,
        strategy: cfg.strategy,
        test: cfg[:test],
        reproduce: reproduce(cfg, f)
      })
      |> Map.merge(Map.take(extra, [:headline]))

    {schedule_path, report_base} =
      case Map.fetch(extra, :schedule_path) do
        :error -> save_schedule(f, cfg)
        {:ok, path} -> {path, nil}
      end

    f =
      Map.merge(f, %{
        schedule_path: schedule_path,
        replay_command: replay_command(schedule_path, cfg)
      })

    # The picture goes beside the schedule file (a replayed schedule's run draws none).
    f = Map.put(f, :picture_path, report_base && save_picture(report_base, f))

    text = Report.format(f, full: cfg[:report] == :full)

    report_path =
      report_base && save_report(report_base, Report.format(f, max_lines: :infinity, full: true))

    message = text <> if(report_path, do: "\nFull report: #{report_path}", else: "")

    {exception, stacktrace} =
      case f.exception do
        {kind, payload, stack} -> {Exception.normalize(kind, payload, stack), stack}
        nil -> {nil, nil}
      end

    %BugFound{
      message: message,
      iteration: f.iteration,
      iterations: cfg.iterations,
      seed: cfg.seed,
      iter_seed: f.iter_seed,
      strategy: cfg.strategy,
      reason: {f.category, f.detail},
      fail_step: f.steps,
      trace: f.trace,
      schedule: f.schedule,
      preemptions: f.preemptions,
      slice: f.slice,
      shrink: f[:shrink],
      processes: f.processes,
      trace_path: report_path,
      schedule_path: schedule_path,
      exception: exception,
      stacktrace: stacktrace,
      reproduce: f.reproduce
    }
  end

  defp reproduce(%{test: %{file: file, line: line, exunit_seed: exunit_seed}} = cfg, _f) do
    rel = Path.relative_to_cwd(file)

    "mix test #{rel}:#{line} --seed #{exunit_seed}   " <>
      "(or: LOCKSTEP_SEED=#{cfg.seed} mix test #{rel}:#{line})"
  end

  # A replayed ctest: the hunt's seed reruns the hunt (ExUnit's seed of the replay would not).
  defp reproduce(%{test: %{file: file, line: line}} = cfg, _f) when is_binary(file) do
    "LOCKSTEP_SEED=#{cfg.seed} mix test #{Path.relative_to_cwd(file)}:#{line}"
  end

  defp reproduce(cfg, f) do
    if Options.exploring?(cfg.strategy),
      do:
        "Lockstep.Runner.run(fun, seed: #{cfg.seed}, strategy: #{inspect(cfg.strategy)})   " <>
          "(the exploration runs its schedules in the same order every time)",
      else: reproduce_sampled(cfg, f)
  end

  defp reproduce_sampled(cfg, f) do
    strategy =
      if(cfg.strategy == Options.default_strategy(),
        do: "",
        else: ", strategy: #{inspect(cfg.strategy)}"
      )

    one =
      case f[:expected_steps] do
        nil -> ""
        n -> ", expected_steps: #{n}"
      end

    "Lockstep.Runner.run(fun, seed: #{cfg.seed}#{strategy})   (this iteration alone: " <>
      "Lockstep.replay(fun, seed: #{cfg.seed}, iteration: #{f.iteration}#{one}#{strategy}))"
  end

  defp replay_command(nil, _cfg), do: nil

  # The command as it works when pasted: in a project that depends on Lockstep for its tests
  # only, the task exists in the test environment alone.
  defp replay_command(path, %{test: %{file: file}}) when file != nil,
    do: "#{mix_env_prefix()}mix lockstep.replay #{Path.relative_to_cwd(path)}"

  defp replay_command(path, _cfg), do: "Lockstep.replay(fun, #{inspect(path)})"

  defp mix_env_prefix do
    env = if Code.ensure_loaded?(Mix), do: Mix.env(), else: :test
    if env == :dev, do: "", else: "MIX_ENV=#{env} "
  end

  # Saves the schedule file; returns its path (nil if it could not be written) and the base
  # name for the text report.
  defp save_schedule(f, cfg) do
    dir = cfg.trace_dir || default_trace_dir()

    case Schedule.save(Schedule.from_failure(f, cfg), dir) do
      {:ok, path} ->
        Lockstep.Schedule.Keep.prune(dir, cfg.keep_failures, path)
        {path, {:beside, Path.rootname(path) <> ".txt"}}

      {:error, why} ->
        IO.puts(:stderr, "Lockstep: could not save the failing schedule: #{why}")
        {nil, {:new, dir, "#{slug(cfg)}-seed#{cfg.seed}-iter#{f.iteration}"}}
    end
  end

  defp save_picture({:beside, path}, f) do
    path = Path.rootname(path) <> ".html"

    case File.write(path, Lockstep.Report.Html.from_failure(f)) do
      :ok -> path
      {:error, _} -> nil
    end
  end

  defp save_picture({:new, _dir, _base}, _f), do: nil

  defp save_report({:beside, path}, text) do
    case File.write(path, text <> "\n") do
      :ok -> path
      {:error, _} -> nil
    end
  end

  defp save_report({:new, dir, base}, text) do
    case Schedule.create_unique(dir, base, ".txt", text <> "\n") do
      {:ok, path} -> path
      {:error, _} -> nil
    end
  end

  defp default_trace_dir do
    # Outside Mix (plain iex) the Mix modules may be loadable while Mix itself is not running.
    if Code.ensure_loaded?(Mix.Project) and Process.whereis(Mix.ProjectStack) != nil and
         Mix.Project.get() != nil do
      Path.join(Mix.Project.build_path(), "lockstep")
    else
      Path.join(System.tmp_dir!(), "lockstep")
    end
  end

  defp slug(%{test: %{module: mod, name: name}}) do
    (inspect(mod) <> "-" <> to_string(name))
    |> String.replace(~r/[^A-Za-z0-9_.-]+/, "_")
    |> String.slice(0, 80)
  end

  defp slug(_), do: "run"
end

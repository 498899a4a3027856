defmodule Lockstep.ReplayTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  alias Lockstep.{BugFound, Replay, ReplayDivergence, Schedule}

  @moduletag :tmp_dir

  # A program whose behaviour depends on how many times it has run: state Lockstep does not
  # control, the way a random number or a message from an unmanaged process would be.
  defp run_counter, do: :counters.new(1, [])

  defp nth_run(counter) do
    :counters.add(counter, 1, 1)
    :counters.get(counter, 1)
  end

  for {name, mod} <- Lockstep.Examples.all() do
    @mod mod
    test "#{name}: replaying its saved schedule fires the same bug, from the file and the struct",
         %{tmp_dir: dir} do
      recorded = bug(&@mod.run/0, seed: 11, iterations: 300, trace_dir: dir)
      assert %BugFound{schedule_path: path} = recorded

      from_file = assert_raise BugFound, fn -> Replay.run(&@mod.run/0, path) end

      from_struct =
        assert_raise BugFound, fn -> Lockstep.replay(&@mod.run/0, Schedule.load!(path)) end

      for again <- [from_file, from_struct] do
        assert again.schedule == recorded.schedule
        assert elem(again.reason, 0) == elem(recorded.reason, 0)
        assert again.iteration == recorded.iteration and again.iter_seed == recorded.iter_seed
        assert again.schedule_path == path

        assert again.message =~
                 "Lockstep replayed #{Path.relative_to_cwd(path)}: the bug fired again"

        refute again.message =~ "differed from the recording"
      end

      # A replay saves nothing new.
      assert length(Path.wildcard(Path.join(dir, "*.json"))) == 1
    end
  end

  test "check/3 returns the outcome instead of raising it", %{tmp_dir: dir} do
    fun = &Lockstep.Examples.LostUpdate.run/0
    path = bug(fun, seed: 4, iterations: 300, trace_dir: dir).schedule_path
    assert {:reproduced, %BugFound{}} = Replay.check(fun, path)
    assert {:diverged, %ReplayDivergence{reason: :no_failure}} = Replay.check(fn -> :ok end, path)
  end

  test "the program took a different path: the first differing step and the stuck one are named",
       %{tmp_dir: dir} do
    counter = run_counter()

    fun = fn ->
      me = self()
      # On replay the root reads the clock before spawning, so its child does not exist yet
      # when the schedule says it runs.
      if nth_run(counter) > 1, do: Lockstep.now()
      Lockstep.spawn(fn -> Lockstep.send(me, :hi) end)
      :hi = Lockstep.recv()
      raise "boom"
    end

    path = bug(fun, seed: 1, iterations: 1, trace_dir: dir).schedule_path
    assert [0, 0, 1 | _] = Schedule.load!(path).choices

    d = assert_raise ReplayDivergence, fn -> Replay.run(fun, path) end
    assert d.reason == :not_enabled
    assert {d.step, d.diverged_at, d.expected, d.enabled} == {2, 3, 1, [0]}
    assert d.recorded == "P0 spawns P1"
    assert d.actual == "P0 reads the clock: 0 ms"
    assert d.category == :exception and d.schedule_path == path
    assert d.message =~ "Replay of #{Path.relative_to_cwd(path)} diverged at step 2"
    assert d.message =~ "nondeterminism outside Lockstep's control"
    assert d.message =~ "Recorded at step 2: P0 spawns P1"
    assert d.message =~ "This run at step 2: P0 reads the clock: 0 ms"

    assert d.message =~
             "Then at step 3: recorded P1 starts; this run: P1 cannot run: no such process"

    assert d.message =~ "Enabled at step 3: P0 (spawn)."
  end

  test "the process the schedule names is blocked: its receive is named", %{tmp_dir: dir} do
    counter = run_counter()

    fun = fn ->
      me = self()
      first = nth_run(counter) == 1

      child =
        Lockstep.spawn(fn ->
          # On replay the child waits for a message first.
          unless first, do: Lockstep.recv()
          Lockstep.send(me, :hi)
        end)

      Lockstep.now()
      Lockstep.send(child, :go)
      Lockstep.recv()
      raise "boom"
    end

    path = bug(fun, strategy: :random, seed: 1, iterations: 1, trace_dir: dir).schedule_path
    d = assert_raise ReplayDivergence, fn -> Replay.run(fun, path) end
    assert d.reason == :not_enabled
    assert {d.step, d.diverged_at, d.expected, d.enabled} == {6, 7, 0, [1]}
    assert d.recorded == "P1 sends :hi to P0"
    assert d.actual == "P1 receives :go"

    assert d.message =~
             "Then at step 7: recorded P0 receives :hi; this run: P0 cannot run: it waits in " <>
               "a receive, with no message to take. Enabled at step 7: P1 (send)."
  end

  test "a run that passes on replay is a divergence: the bug did not fire", %{tmp_dir: dir} do
    counter = run_counter()

    fun = fn ->
      Lockstep.now()
      if nth_run(counter) == 1, do: raise("only the first time")
    end

    path = bug(fun, seed: 1, iterations: 1, trace_dir: dir).schedule_path
    d = assert_raise ReplayDivergence, fn -> Lockstep.replay(fun, path) end
    assert d.reason == :no_failure
    assert d.step == 3 and d.diverged_at == nil
    assert d.recorded == "P0 raises ** (RuntimeError) only the first time"
    assert d.actual == "P0 exits normally"

    assert d.message =~
             "This run ended after 3 steps without failing; the recorded run failed after 3 " <>
               "steps with exception: ** (RuntimeError) only the first time"
  end

  test "a program that runs past the end of its schedule", %{tmp_dir: dir} do
    counter = run_counter()

    fun = fn ->
      Lockstep.now()
      if nth_run(counter) > 1, do: Lockstep.now()
      raise "boom"
    end

    path = bug(fun, seed: 1, iterations: 1, trace_dir: dir).schedule_path
    d = assert_raise ReplayDivergence, fn -> Replay.run(fun, path) end
    assert d.reason == :schedule_exhausted
    assert {d.step, d.diverged_at, d.expected} == {3, 4, nil}
    assert d.recorded =~ "P0 raises ** (RuntimeError) boom"
    assert d.actual == "P0 reads the clock: 0 ms"
    assert d.message =~ "recorded nothing: the recorded run ended after step 3"
  end

  test "a different failure still raises BugFound, naming both categories", %{tmp_dir: dir} do
    counter = run_counter()

    fun = fn ->
      Lockstep.now()
      if nth_run(counter) == 1, do: raise("boom"), else: Lockstep.recv()
    end

    path = bug(fun, seed: 1, iterations: 1, trace_dir: dir).schedule_path
    again = assert_raise BugFound, fn -> Replay.run(fun, path) end
    assert {:deadlock, _} = again.reason

    assert again.message =~
             "a different failure fired (deadlock instead of the recorded exception): deadlock."

    assert again.message =~
             "The run differed from the recording from step 3 on: recorded P0 raises " <>
               "** (RuntimeError) boom; this run: nothing (the run had ended)."
  end

  test "settings come from the file and can be overridden", %{tmp_dir: dir} do
    spin = fn ->
      loop = fn loop -> Lockstep.now() && loop.(loop) end
      loop.(loop)
    end

    path = bug(spin, max_steps: 30, iterations: 1, trace_dir: dir).schedule_path
    assert Schedule.load!(path).settings.max_steps == 30
    again = assert_raise BugFound, fn -> Replay.run(spin, path) end
    assert again.reason == {:step_limit, 30}
    # With room for more steps the program runs past the schedule.
    d = assert_raise ReplayDivergence, fn -> Replay.run(spin, path, max_steps: 100) end
    assert d.reason == :schedule_exhausted and d.diverged_at == 31

    assert_raise ArgumentError, ~r/unknown Lockstep.Replay.run\/3 option\(s\) \[:seed\]/, fn ->
      Replay.run(spin, path, seed: 3)
    end

    assert_raise ArgumentError, ~r/option :max_steps: expected a positive integer/, fn ->
      Replay.run(spin, path, max_steps: 0)
    end
  end

  test "bad sources fail clearly", %{tmp_dir: dir} do
    fun = fn -> :ok end
    missing = Path.join(dir, "missing.json")

    error = assert_raise Lockstep.ScheduleError, fn -> Replay.run(fun, missing) end
    assert error.message =~ "cannot read the schedule file: no such file or directory"

    File.write!(Path.join(dir, "v9.json"), ~s({"format": "lockstep-schedule", "version": 9}))

    assert_raise Lockstep.ScheduleError, ~r/version 9 is unsupported/, fn ->
      Lockstep.replay(fun, Path.join(dir, "v9.json"))
    end

    assert_raise ArgumentError, ~r/expected a schedule file's path/, fn ->
      Replay.run(fun, 42)
    end
  end

  test "one iteration of a hunt re-runs from its seeds", %{tmp_dir: dir} do
    fun = &Lockstep.Examples.LostUpdate.run/0
    # PCT finds this bug only after a few iterations with this seed, which the re-run needs.
    hunt = bug(fun, seed: 8, iterations: 300, trace_dir: dir, strategy: :pct)
    assert hunt.iteration > 0
    assert hunt.message =~ "iteration: #{hunt.iteration}, expected_steps: "

    [_, expected] = Regex.run(~r/expected_steps: (\d+)/, hunt.message)
    args = [seed: 8, iteration: hunt.iteration, trace_dir: dir, strategy: :pct]

    again =
      assert_raise BugFound, fn ->
        Lockstep.replay(fun, args ++ [expected_steps: String.to_integer(expected)])
      end

    assert again.schedule == hunt.schedule

    assert again.message =~
             "Lockstep re-ran iteration #{hunt.iteration} of the hunt with seed 8"

    assert again.schedule_path != hunt.schedule_path

    # Without the estimate, the iterations before it are run to work it out.
    derived = assert_raise BugFound, fn -> Lockstep.replay(fun, args) end
    assert derived.schedule == hunt.schedule

    # An iteration before the failing one passes.
    assert :ok ==
             Lockstep.replay(fun,
               seed: 8,
               iteration: hunt.iteration - 1,
               trace_dir: dir,
               strategy: :pct
             )

    assert_raise ArgumentError, ~r/needs :iteration/, fn -> Lockstep.replay(fun, seed: 5) end
    assert_raise ArgumentError, ~r/needs :seed/, fn -> Lockstep.replay(fun, iteration: 0) end
  end

  test "replay cannot nest inside a run" do
    result =
      inside(fn ->
        try do
          Lockstep.replay(fn -> :ok end, seed: 1, iteration: 0)
        rescue
          e in ArgumentError -> e.message
        end
      end)

    assert result =~ "cannot be called from inside a Lockstep run"
  end
end

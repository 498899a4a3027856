defmodule Lockstep.ReplayEnvTest do
  # Sets environment variables and ExUnit's configuration, which every test of the VM sees:
  # runs after the async tests, alone.
  use ExUnit.Case, async: false
  import ExUnit.CaptureIO
  import Lockstep.TestHelpers

  alias Lockstep.{BugFound, ReplayDivergence}

  @moduletag :tmp_dir

  defp ctest(name, opts, fun) do
    Lockstep.Test.__run__(__MODULE__, name, %{file: __ENV__.file, line: 1}, opts, fun)
  end

  test "LOCKSTEP_REPLAY makes the recorded ctest replay its schedule; other ctests hunt", %{
    tmp_dir: dir
  } do
    fun = &Lockstep.Examples.LostUpdate.run/0

    recorded =
      assert_raise BugFound, fn ->
        ctest("lost update", [iterations: 300, trace_dir: dir], fun)
      end

    with_env([{"LOCKSTEP_REPLAY", recorded.schedule_path}], fn ->
      # A ctest hunting would start from iteration 0 with a new seed; the replay runs the
      # recorded iteration's schedule at once.
      again =
        assert_raise BugFound, fn -> ctest("lost update", [iterations: 1, seed: 99], fun) end

      assert again.message =~ "the bug fired again"
      assert again.schedule == recorded.schedule and again.iteration == recorded.iteration

      assert again.message =~
               "Reproduce: LOCKSTEP_SEED=#{recorded.seed} mix test test/replay_env_test.exs:1\n"

      d = assert_raise ReplayDivergence, fn -> ctest("lost update", [], fn -> :ok end) end
      assert d.reason == :no_failure

      note =
        capture_io(:stderr, fn ->
          assert :ok == ctest("another test", [iterations: 3], fn -> Lockstep.now() end)
        end)

      assert note =~
               ~s(LOCKSTEP_REPLAY names a schedule of ctest "lost update" of ) <>
                 ~s(Lockstep.ReplayEnvTest; ctest "another test" of Lockstep.ReplayEnvTest hunts as usual.)
    end)

    File.write!(Path.join(dir, "bad.json"), "{}")

    with_env([{"LOCKSTEP_REPLAY", Path.join(dir, "bad.json")}], fn ->
      assert_raise Lockstep.ScheduleError, ~r/bad.json: not a Lockstep schedule/, fn ->
        ctest("lost update", [], fun)
      end
    end)
  end

  test "LOCKSTEP_SEED does not change what a replay replays", %{tmp_dir: dir} do
    fun = &Lockstep.Examples.LostUpdate.run/0
    recorded = bug(fun, seed: 3, iterations: 300, trace_dir: dir)

    with_env([{"LOCKSTEP_SEED", "12345"}], fn ->
      again = assert_raise BugFound, fn -> Lockstep.replay(fun, recorded.schedule_path) end
      assert again.seed == 3 and again.iter_seed == recorded.iter_seed

      args = [seed: 3, iteration: recorded.iteration, trace_dir: dir]
      rerun = assert_raise BugFound, fn -> Lockstep.replay(fun, args) end
      assert rerun.seed == 3 and rerun.schedule == recorded.schedule
    end)
  end

  test "LOCKSTEP_SCHEDULE_DIR says where failures are saved; :trace_dir wins", %{tmp_dir: dir} do
    env_dir = Path.join(dir, "from_env")
    opt_dir = Path.join(dir, "from_option")

    with_env([{"LOCKSTEP_SCHEDULE_DIR", env_dir}], fn ->
      failing = fn -> raise "x" end
      assert Path.dirname(bug(failing).schedule_path) == env_dir
      assert Path.dirname(bug(failing, trace_dir: opt_dir).schedule_path) == opt_dir
    end)
  end

  test "LOCKSTEP_VERBOSE=1 reports what a passing hunt explored" do
    out =
      with_env([{"LOCKSTEP_VERBOSE", "1"}], fn ->
        capture_io(fn ->
          assert :ok == Lockstep.Runner.run(fn -> Lockstep.now() end, iterations: 4, seed: 1)
        end)
      end)

    assert out =~ "Lockstep: run: 4 iterations, 1 distinct schedules, longest run 3 steps"

    with_env([{"LOCKSTEP_VERBOSE", "maybe"}], fn ->
      assert_raise ArgumentError, ~r/LOCKSTEP_VERBOSE must be 1 or 0/, fn ->
        Lockstep.Runner.run(fn -> :ok end, iterations: 1)
      end
    end)
  end

  test "mix test --trace turns the exploration report on for ctests" do
    trace = ExUnit.configuration()[:trace]
    ExUnit.configure(trace: true)

    out =
      try do
        capture_io(fn -> ctest("quiet", [iterations: 5], fn -> Lockstep.now() end) end)
      after
        ExUnit.configure(trace: trace)
      end

    assert out =~
             "Lockstep: quiet: 5 iterations, 1 distinct schedules, longest run 3 steps, " <>
               "0 stopped at the step limit, 0 reads-from pairs; no bug found"

    assert capture_io(fn -> ctest("quiet", [iterations: 5], fn -> Lockstep.now() end) end) == ""
  end
end

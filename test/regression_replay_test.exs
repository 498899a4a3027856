defmodule Lockstep.RegressionReplayTest do
  # A saved schedule kept as a regression test: after the fix, its replay passes and says the
  # bug is gone; while the bug is there, it fails as a replay does.
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO

  alias Lockstep.{BugFound, Replay}

  @moduletag :tmp_dir

  # Two workers bump a counter by reading and then writing it; `locked` serialises them.
  defp counter(locked) do
    fn ->
      c = Lockstep.Atomics.new(1, [])
      me = self()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          if locked do
            Lockstep.Atomics.add(c, 1, 1)
          else
            v = Lockstep.Atomics.get(c, 1)
            Lockstep.Atomics.put(c, 1, v + 1)
          end

          Lockstep.send(me, :done)
        end)
      end

      Lockstep.recv()
      Lockstep.recv()
      if Lockstep.Atomics.get(c, 1) != 2, do: raise("lost update")
    end
  end

  defp recorded(dir) do
    bug =
      assert_raise BugFound, fn ->
        Lockstep.Runner.run(counter(false), seed: 5, trace_dir: dir, iterations: 200)
      end

    bug.schedule_path
  end

  test "the fixed program passes the regression replay and says the bug is gone", %{tmp_dir: dir} do
    path = recorded(dir)

    err =
      capture_io(:stderr, fn ->
        assert Replay.run(counter(true), path, regression: true) == :ok
      end)

    assert err =~ "Lockstep: the bug recorded in #{path} is gone (regression replay passes)"

    # Without the flag the same replay is a divergence, as before.
    assert_raise Lockstep.ReplayDivergence, fn -> Replay.run(counter(true), path) end
  end

  test "while the bug is there, the regression replay fails with it", %{tmp_dir: dir} do
    path = recorded(dir)
    again = assert_raise BugFound, fn -> Replay.run(counter(false), path, regression: true) end
    assert again.message =~ "the bug fired again"
  end

  test "a ctest with regression: PATH replays that schedule instead of hunting", %{tmp_dir: dir} do
    path = recorded(dir)
    test = %{file: __ENV__.file, line: __ENV__.line}

    err =
      capture_io(:stderr, fn ->
        assert :ok ==
                 Lockstep.Test.__run__(
                   __MODULE__,
                   "fixed",
                   test,
                   [regression: path],
                   counter(true)
                 )
      end)

    assert err =~ "is gone"

    assert_raise BugFound, fn ->
      Lockstep.Test.__run__(__MODULE__, "buggy", test, [regression: path], counter(false))
    end

    assert_raise ArgumentError,
                 ~r/ctest option :regression: expected a schedule file's path/,
                 fn ->
                   Lockstep.Test.__run__(__MODULE__, "bad", test, [regression: 7], counter(true))
                 end
  end
end

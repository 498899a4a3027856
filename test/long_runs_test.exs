defmodule Lockstep.LongRunsTest do
  # A failure in a run of hundreds of thousands of steps costs a bounded report, schedule file
  # and trace; max_run_time ends an iteration still running.
  use ExUnit.Case, async: false
  import ExUnit.CaptureIO

  @moduletag :tmp_dir

  defp spin(n) do
    fn ->
      flag = Lockstep.Atomics.new(1, [])
      Lockstep.spawn(fn -> Enum.each(1..n, fn _ -> Lockstep.Atomics.put(flag, 1, 1) end) end)
      Enum.each(1..n, fn _ -> Lockstep.Atomics.get(flag, 1) end)
    end
  end

  test "a step-limit failure at 200,000 steps keeps the last steps, and replays", %{tmp_dir: dir} do
    e =
      assert_raise Lockstep.BugFound, fn ->
        Lockstep.Runner.run(spin(200_000),
          iterations: 1,
          max_steps: 200_000,
          seed: 3,
          shrink: false,
          trace_dir: dir
        )
      end

    assert e.fail_step == 200_000
    assert length(e.schedule) == 200_000
    # Only the tail of the trace is kept: at most 5,000 events, whole steps, up to the end.
    assert length(e.trace) <= 5_000
    {first, _, _, _} = hd(e.trace)
    {last, _, _, _} = List.last(e.trace)
    assert first > 190_000 and last == 200_000
    assert e.message =~ "steps 1..#{first - 1} are not kept"

    assert File.stat!(e.trace_path).size < 1_000_000
    assert File.stat!(e.schedule_path).size < 3_000_000

    # The schedule holds every choice: a strict replay reaches the same failure.
    assert_raise Lockstep.BugFound, fn -> Lockstep.Replay.run(spin(200_000), e.schedule_path) end
  end

  test "max_run_time ends an iteration still running, and the hunt says so" do
    started = System.monotonic_time(:millisecond)

    err =
      capture_io(:stderr, fn ->
        assert :ok =
                 Lockstep.Runner.run(spin(50_000_000),
                   iterations: 5,
                   max_steps: 100_000_000,
                   max_run_time: 500,
                   seed: 1
                 )
      end)

    assert err =~
             ~r/stopped during iteration 0 of 5, after \d+ steps of it \(max_run_time 500 ms\)/

    # Far less than the 100 million steps would take.
    assert System.monotonic_time(:millisecond) - started < 20_000
  end

  test "a directory keeps the files of the newest keep_failures failures only", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "notes-seed1-iter2.json"), "mine")
    racy = fn -> Lockstep.spawn(fn -> :ok end) && raise "boom" end

    paths =
      for seed <- 1..5 do
        e =
          assert_raise Lockstep.BugFound, fn ->
            Lockstep.Runner.run(racy, seed: seed, trace_dir: dir, keep_failures: 3, shrink: false)
          end

        e.schedule_path
      end

    kept = dir |> File.ls!() |> Enum.sort()
    assert length(Enum.filter(kept, &String.ends_with?(&1, ".json"))) == 4
    assert length(Enum.filter(kept, &String.ends_with?(&1, ".txt"))) == 3
    assert length(Enum.filter(kept, &String.ends_with?(&1, ".html"))) == 3
    assert "notes-seed1-iter2.json" in kept
    assert Path.basename(List.last(paths)) in kept
    refute Path.basename(hd(paths)) in kept

    # Another test's failures in the same directory are counted on their own.
    other = fn -> raise "other" end

    assert_raise Lockstep.BugFound, fn ->
      Lockstep.Runner.run(other,
        trace_dir: dir,
        keep_failures: 3,
        shrink: false,
        test: %{module: "Other", name: "t"}
      )
    end

    kept = File.ls!(dir)
    assert Enum.count(kept, &String.starts_with?(&1, "Other-t-seed")) == 3
    assert Enum.count(kept, &String.starts_with?(&1, "run-seed")) == 9

    assert_raise ArgumentError, ~r/:keep_failures/, fn ->
      Lockstep.Runner.run(racy, keep_failures: 0)
    end
  end
end

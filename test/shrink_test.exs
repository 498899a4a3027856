defmodule Lockstep.ShrinkTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers
  import Lockstep.TestPrograms

  alias Lockstep.{Native, Runner}

  # P0 root, P1 counter, P2 and P3 chatter to themselves, P4 and P5 increment the counter.
  defp noisy_lost_update, do: lost_update(2)

  @noise [2, 3]
  @opts [strategy: :random, iterations: 300, seed: 11]

  defp steps_of(schedule, ids) do
    for {p, i} <- Enum.with_index(schedule, 1), p in ids, do: i
  end

  test "a noisy failure shrinks; the report shows both sizes and the shrunk schedule" do
    bug = bug(noisy_lost_update(), @opts)
    assert %Lockstep.BugFound{shrink: s} = bug
    %{before: b, after: a} = s
    assert s.verified and s.complete and s.skipped == nil
    assert a.steps <= b.steps and a.preemptions <= b.preemptions
    assert a.steps < b.steps or a.preemptions < b.preemptions
    assert s.candidates_tried > 0 and is_integer(s.time_ms)

    # The reported run is the shrunk one.
    assert length(bug.schedule) == a.steps and bug.fail_step == a.steps
    assert length(bug.preemptions) == a.preemptions
    assert %RuntimeError{message: "lost update: counter is 1"} = bug.exception

    assert bug.message =~
             "Shrunk from #{b.steps} steps / #{b.preemptions} preemptions to " <>
               "#{a.steps} / #{a.preemptions} ("

    assert bug.message =~ "Schedule (#{a.steps} steps, #{a.preemptions} preemptions"
    assert File.read!(bug.trace_path) =~ "Shrunk from #{b.steps} steps"
  end

  test "the shrunk schedule replays strictly to the same failure, and shrinking is deterministic" do
    bug = bug(noisy_lost_update(), @opts)
    cfg = Runner.config!([seed: bug.seed] ++ @opts, "test")

    assert {:fail, f} =
             Runner.run_once(noisy_lost_update(), cfg, bug.iteration, %{
               strategy: :replay,
               choices: bug.schedule
             })

    assert f.category == :exception and f.schedule == bug.schedule
    assert Lockstep.Shrink.signature(f) == {:exception, :error, RuntimeError}

    again = bug(noisy_lost_update(), @opts)
    assert again.schedule == bug.schedule
    assert Map.delete(again.shrink, :time_ms) == Map.delete(bug.shrink, :time_ms)
  end

  test "shrink: false reports the original schedule" do
    shrunk = bug(noisy_lost_update(), @opts)
    original = bug(noisy_lost_update(), [shrink: false] ++ @opts)
    assert original.shrink == nil
    assert original.iteration == shrunk.iteration
    assert length(original.schedule) == shrunk.shrink.before.steps
    assert length(original.preemptions) == shrunk.shrink.before.preemptions
    refute original.message =~ "Shrunk"
  end

  test "the causal slice leaves out processes that ran beside the failure" do
    for opts <- [[shrink: false] ++ @opts, @opts] do
      bug = bug(noisy_lost_update(), opts)
      slice = MapSet.new(bug.slice)
      assert Enum.all?(bug.slice, &(&1 in 1..bug.fail_step))
      assert bug.fail_step in slice
      # The root, the counter and both incrementers reach the failure...
      assert MapSet.subset?(MapSet.new(steps_of(bug.schedule, [0])), slice)
      # ...the chatter does not.
      assert MapSet.disjoint?(MapSet.new(steps_of(bug.schedule, @noise)), slice)
      # Printed as a listing when it leaves out a good part of the schedule, else as a line.
      assert bug.message =~ "Causal slice (#{length(bug.slice)} of #{bug.fail_step} steps" or
               bug.message =~ "Causal slice: #{length(bug.slice)} of #{bug.fail_step} steps"
    end

    # In the original noisy schedule the chatter did run before the failure.
    original = bug(noisy_lost_update(), [shrink: false] ++ @opts)
    assert Enum.any?(steps_of(original.schedule, @noise), &(&1 < original.fail_step))
  end

  test "a bundled example shrinks and replays" do
    bug = bug(&Lockstep.Examples.LostUpdate.run/0, strategy: :random, seed: 3, iterations: 300)
    %{before: b, after: a, verified: true} = bug.shrink
    assert a.steps <= b.steps and a.preemptions <= b.preemptions
    cfg = Runner.config!([seed: 3, strategy: :random], "test")

    assert {:fail, %{category: :exception}} =
             Runner.run_once(&Lockstep.Examples.LostUpdate.run/0, cfg, bug.iteration, %{
               strategy: :replay,
               choices: bug.schedule
             })
  end

  test "a watchdog failure is reported without shrinking" do
    bug =
      bug(
        fn ->
          receive do
            :never -> :ok
          after
            1_000 -> :ok
          end
        end,
        watchdog: 100,
        iterations: 1
      )

    assert {:watchdog, _} = bug.reason
    assert bug.shrink.skipped =~ "not re-run"
    assert bug.message =~ "Not shrunk"
  end

  test "bad shrink options raise ArgumentError" do
    for opts <-
          [[shrink: :yes], [shrink: nil], [shrink_time: 0], [shrink_time: -5]] ++
            [[shrink_time: "fast"], [shrink_time: :infinity]] do
      assert_raise ArgumentError, ~r/option :shrink/, fn ->
        Runner.run(fn -> :ok end, opts)
      end
    end
  end

  describe "NIFs" do
    test "the shrinker rejects bad input with {:error, reason}" do
      assert {:error, msg} = Native.shrink_new(:nope, [])
      assert msg =~ "choices must be a list"
      assert {:error, msg} = Native.shrink_new([0, 1], [3])
      assert msg =~ "outside the schedule's 2 steps"
      assert {:error, _} = Native.shrink_new([0, -1], [])
      assert {:ok, sh} = Native.shrink_new([0, 0, 1, 0], [3, 4])
      assert {:error, msg} = Native.shrink_feedback(sh, true, [0], [])
      assert msg =~ "no candidate awaiting"
      assert {[], 4} = Native.shrink_next(sh)
      assert {:error, msg} = Native.shrink_feedback(sh, :maybe, [0], [])
      assert msg =~ "boolean"
      assert {:error, _} = Native.shrink_feedback(sh, true, [0], [0])
      assert {:ok, true} = Native.shrink_feedback(sh, true, [0, 0, 0, 1], [])

      assert %{
               before: %{steps: 4, preemptions: 2},
               after: %{steps: 4, preemptions: 0},
               best: [0, 0, 0, 1],
               best_preemptions: [],
               accepted: 1,
               candidates: 1
             } = Native.shrink_info(sh)
    end

    test "runs report preemptions and slices; bad slice requests are errors" do
      tag = make_ref()
      run = Native.run_new(%{strategy: :guided, choices: [0]}, tag, self(), node())
      assert is_reference(run)
      assert {:error, msg} = Native.run_slice(run, nil)
      assert msg =~ "has not finished"
      assert {:error, _} = Native.run_slice(run, 1)
      assert {:error, _} = Native.run_slice(run, :last)
      assert Native.run_preemptions(run) == []

      assert {:error, msg} =
               Native.run_new(%{strategy: :guided, choices: :x}, tag, self(), node())

      assert msg =~ "choices"
    end
  end
end

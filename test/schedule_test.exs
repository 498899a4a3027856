defmodule Lockstep.ScheduleTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  alias Lockstep.{Native, Schedule, ScheduleError}

  @moduletag :tmp_dir

  defp lost_update, do: &Lockstep.Examples.LostUpdate.run/0

  defp failing_test_run(dir, opts \\ []) do
    test = %{
      module: __MODULE__,
      name: "counts to two",
      file: __ENV__.file,
      line: 42,
      exunit_seed: 0
    }

    bug(lost_update(), [iterations: 200, seed: 3, trace_dir: dir, test: test] ++ opts)
  end

  test "a failure saves a schedule file with every field, next to the text report", %{
    tmp_dir: dir
  } do
    bug = failing_test_run(dir)
    assert %Lockstep.BugFound{schedule_path: path, trace_path: report} = bug
    assert Path.dirname(path) == dir and Path.extname(path) == ".json"
    assert report == Path.rootname(path) <> ".txt"

    assert Path.basename(path) =~
             ~r/^Lockstep.ScheduleTest-counts_to_two-seed3-iter\d+-\d+-\d+\.json$/

    assert bug.message =~ "Schedule: #{path}"
    assert bug.message =~ "Replay: MIX_ENV=test mix lockstep.replay #{Path.relative_to_cwd(path)}"

    raw = File.read!(path)
    assert raw =~ ~s("format": "lockstep-schedule")
    assert raw =~ ~s("version": 1)

    s = Schedule.load!(path)
    assert s.path == path
    assert s.version == 1 and s.created_by == "lockstep 0.1.0"

    assert s.test == %{
             module: "Lockstep.ScheduleTest",
             name: "counts to two",
             file: "test/schedule_test.exs",
             line: 42
           }

    assert s.strategy == :pos
    assert {s.seed, s.iteration, s.iter_seed} == {3, bug.iteration, bug.iter_seed}
    assert s.iter_seed == Native.seed_iteration(3, bug.iteration)
    assert s.expected_steps == 50

    assert s.settings == %{
             max_steps: 1000,
             allow_crashes: false,
             fail_on_blocked: false,
             step_limit: :fail,
             fail_on_abnormal_exit: false,
             timers: :idle,
             settle: 5_000,
             time_per_step: 0,
             clock_start: 1_767_225_600_000,
             faults: [],
             node: nil
           }

    assert s.category == :exception
    assert s.detail =~ "expected the counter to be 2 after two increments, got 1"
    assert s.choices == bug.schedule and s.steps == length(bug.schedule)
    # The hunt shrank the failure: the file holds the smaller schedule and where it came from.
    assert %{steps: steps, preemptions: preemptions, choices: choices} = s.shrunk_from
    assert bug.shrink.before == %{steps: steps, preemptions: preemptions}
    assert bug.shrink.after == %{steps: s.steps, preemptions: length(bug.preemptions)}
    assert length(choices) == steps
    assert steps >= s.steps and preemptions >= length(bug.preemptions)
    assert {steps, preemptions} != {s.steps, length(bug.preemptions)}
    assert s.processes == for(i <- 0..3, do: %{id: i, name: nil})
    assert length(s.trace) == length(bug.trace)
    assert hd(s.trace) == %{step: 1, time: 0, proc: 0, kind: "start", text: "starts", fields: %{}}
    assert Enum.any?(s.trace, &(&1.kind == "send" and &1.text =~ ~r/sends \{:set, 1\} to P1/))
    assert List.last(s.trace).text =~ "raises ** (RuntimeError)"
    # The text report and the schedule tell the same run.
    assert File.read!(report) =~ "Schedule: #{path}"
  end

  test "the strategy, settings and registered names survive the round trip", %{tmp_dir: dir} do
    bug =
      bug(
        fn ->
          Lockstep.spawn(fn ->
            Lockstep.register(self(), :waiter)
            Lockstep.recv()
          end)

          Lockstep.sleep(5)
        end,
        strategy: {:pct, depth: 2},
        trace_dir: dir,
        fail_on_blocked: true,
        max_steps: 77,
        allow_crashes: true,
        timers: :race,
        settle: :infinity,
        time_per_step: 3,
        clock_start: ~U[2020-02-02 00:00:00Z],
        faults: [partitions: 1, crashes: 2],
        node: :n1@host
      )

    s = Schedule.load!(bug.schedule_path)
    assert s.strategy == {:pct, depth: 2}
    assert s.category == :left_blocked
    assert s.test == nil

    assert s.settings == %{
             max_steps: 77,
             allow_crashes: true,
             fail_on_blocked: true,
             step_limit: :fail,
             fail_on_abnormal_exit: false,
             timers: :race,
             settle: :infinity,
             time_per_step: 3,
             clock_start: DateTime.to_unix(~U[2020-02-02 00:00:00Z], :millisecond),
             faults: [partitions: 1, crashes: 2],
             node: :n1@host
           }

    assert s.processes == [%{id: 0, name: nil}, %{id: 1, name: ":waiter"}]
    assert Schedule.process_alias(s, 1) == "P1(:waiter)"
    assert Schedule.process_alias(s, 0) == "P0"
    assert bug.message =~ ~s[Replay: Lockstep.replay(fun, "#{bug.schedule_path}")]
    # What was written is what is read, field for field, and writes again identically.
    {:ok, again} = Schedule.to_json(s)
    assert again == File.read!(bug.schedule_path)
  end

  test "a failure message that is not UTF-8 is still saved, escaped", %{tmp_dir: dir} do
    bug = bug(fn -> raise(<<255, 0, "bytes">>) end, trace_dir: dir)
    s = Schedule.load!(bug.schedule_path)
    assert s.detail =~ "** (RuntimeError) <<255>>\0bytes"
    assert List.last(s.trace).text == "raises ** (RuntimeError) <<255>>\0bytes"
  end

  test "a shrunk schedule keeps its original size", %{tmp_dir: dir} do
    s = Schedule.load!(failing_test_run(dir).schedule_path)
    shrunk = %{s | shrunk_from: %{steps: 40, preemptions: 6, choices: nil}}
    path = Path.join(dir, "shrunk.json")
    assert :ok = Schedule.write(shrunk, path)
    assert Schedule.load!(path).shrunk_from == %{steps: 40, preemptions: 6, choices: nil}
  end

  test "failures of one test in parallel never share a file", %{tmp_dir: dir} do
    paths =
      1..8
      |> Task.async_stream(fn _ -> failing_test_run(dir) end, max_concurrency: 8, timeout: 30_000)
      |> Enum.map(fn {:ok, bug} -> bug.schedule_path end)

    # Same test, same seed, same failing iteration: only the OS pid and counter tell them apart.
    assert length(Enum.uniq(paths)) == 8
    assert Enum.all?(paths, &match?({:ok, _}, Schedule.load(&1)))
    assert length(Path.wildcard(Path.join(dir, "*.json"))) == 8
    assert length(Path.wildcard(Path.join(dir, "*.txt"))) == 8
  end

  test "exclusive creation under contention: every writer gets its own file", %{tmp_dir: dir} do
    results =
      1..40
      |> Task.async_stream(&Schedule.create_unique(dir, "same", ".json", "writer #{&1}"))
      |> Enum.map(fn {:ok, {:ok, path}} -> path end)

    assert length(Enum.uniq(results)) == 40
    contents = Enum.map(results, &File.read!/1)
    assert Enum.sort(contents) == Enum.sort(for i <- 1..40, do: "writer #{i}")
  end

  test "missing, unreadable and corrupt files are refused with the problem named", %{
    tmp_dir: dir
  } do
    missing = Path.join(dir, "nope.json")
    assert {:error, msg} = Schedule.load(missing)
    assert msg == "#{missing}: cannot read the schedule file: no such file or directory"

    error = assert_raise ScheduleError, fn -> Schedule.load!(missing) end
    assert error.path == missing

    for {contents, expected} <- [
          {"", "not JSON: EOF while parsing a value at line 1 column 0"},
          {"{\"format\": \"lockstep-schedule\", ", "not JSON: EOF while parsing"},
          {"<html>", "not JSON: expected value at line 1 column 1"},
          {"[1, 2]", "not a Lockstep schedule: the JSON is an array, expected an object"},
          {~s({"format": "lockstep-trace", "version": 1}),
           "not a Lockstep schedule: format is \"lockstep-trace\""},
          {~s({"format": "lockstep-schedule", "version": 2}),
           "schedule version 2 is unsupported: it was written by a newer Lockstep"},
          {~s({"format": "lockstep-schedule", "version": 1}), "missing field `strategy`"},
          {<<0xFF, 0xFE>>, "not JSON: the text is not UTF-8"}
        ] do
      path = Path.join(dir, "bad.json")
      File.write!(path, contents)
      assert {:error, msg} = Schedule.load(path)
      assert msg =~ "#{path}: #{expected}"
    end
  end

  test "a file with a field removed names the field", %{tmp_dir: dir} do
    path = failing_test_run(dir).schedule_path
    text = File.read!(path)

    for field <- ~w(seed choices settings category) do
      cut = Regex.replace(~r/^  "#{field}": .*\n/m, text, "")
      assert {:error, msg} = Schedule.from_json(cut)
      assert msg == "missing field `#{field}`"
    end

    lying = String.replace(text, ~r/"steps": \d+/, ~s("steps": 1))

    assert {:error, "inconsistent schedule: steps is 1 but choices has" <> _} =
             Schedule.from_json(lying)
  end

  test "a file without a trace, or naming an unknown strategy or category, is refused",
       %{tmp_dir: dir} do
    text = File.read!(failing_test_run(dir).schedule_path)

    no_trace = Regex.replace(~r/,\n  "trace": \[.*\n  \]\n/s, text, "\n")
    refute no_trace =~ "trace"
    assert Schedule.from_json(no_trace) == {:error, "missing field `trace`"}

    bogus = Regex.replace(~r/"strategy": \{"name": "\w+"/, text, ~s("strategy": {"name": "bogus"))

    assert Schedule.from_json(bogus) ==
             {:error,
              ~s(bad field `strategy`: unknown strategy "bogus" ) <>
                "(known: pct, fair_pct, pos, idpct, random, exhaustive)"}

    bogus = Regex.replace(~r/"category": "\w+"/, text, ~s("category": "bogus"))
    assert {:error, msg} = Schedule.from_json(bogus)

    assert msg ==
             ~s(bad field `category`: unknown failure category "bogus" ) <>
               "(known: exception, crash, exit_signal, deadlock, left_blocked, step_limit, " <>
               "watchdog, escape, diverged, aborted)"

    # What the file repeats in a message is bounded and escaped.
    garbage = String.duplicate("\\u0000", 4096)
    nuls = Regex.replace(~r/"category": "\w+"/, text, ~s("category": "#{garbage}"))
    assert {:error, msg} = Schedule.from_json(nuls)
    assert msg =~ "unknown failure category \"\\u{0}\\u{0}"
    refute msg =~ <<0>>
    assert byte_size(msg) < 1000
  end

  test "the NIFs refuse bad input with {:error, reason}" do
    assert {:error, "expected a map, got " <> _} = Native.schedule_encode([])

    assert {:error, "missing field `seed`"} =
             Native.schedule_encode(%{
               format: "lockstep-schedule",
               version: 1,
               strategy: %{name: "pct"}
             })

    assert {:error, msg} = Native.schedule_encode(%{format: "lockstep-schedule", pid: self()})
    assert msg =~ "has no JSON form"

    assert {:error, "label: the binary <<255>> is not UTF-8 text"} =
             Native.schedule_encode(%{format: "lockstep-schedule", label: <<255>>})

    assert {:error, "tags: improper list [1|2]"} =
             Native.schedule_encode(%{format: "lockstep-schedule", tags: [1 | 2]})

    assert {:error, "expected the file's contents as a binary" <> _} = Native.schedule_decode(:x)
    assert {:error, "not JSON" <> _} = Native.schedule_trace_json("{")
    s = %Schedule{category: :exception, choices: [0, 7], steps: 3}

    assert {:error, "inconsistent schedule: steps is 3 but choices has 2 entries"} =
             Schedule.to_json(s)
  end
end

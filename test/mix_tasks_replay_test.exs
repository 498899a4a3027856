defmodule Lockstep.MixTasksReplayTest do
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO
  import Lockstep.TestHelpers

  alias Mix.Tasks.Lockstep.DumpTrace

  @moduletag :tmp_dir
  @fixture "test/fixtures/replay_target.exs"

  defp recorded(dir) do
    bug(&Lockstep.Examples.LostUpdate.run/0, seed: 3, iterations: 300, trace_dir: dir)
  end

  # The line of the fixture's ctest "lost update".
  defp fixture_line do
    @fixture
    |> File.read!()
    |> String.split("\n")
    |> Enum.find_index(&(&1 =~ ~s(ctest "lost update")))
    |> Kernel.+(1)
  end

  # The failure that ctest finds, recorded (schedule and report saved in `dir`) as if the ctest
  # at `line` of the fixture had run.
  defp recorded_by_ctest(dir, line, opts \\ []) do
    assert_raise Lockstep.BugFound, fn ->
      Lockstep.Test.__run__(
        Lockstep.ReplayTarget,
        "lost update",
        %{file: Path.expand(@fixture), line: line},
        [iterations: 300, seed: 3, trace_dir: dir] ++ opts,
        &Lockstep.Examples.LostUpdate.run/0
      )
    end
  end

  defp dump(args), do: capture_io(fn -> Mix.Task.rerun("lockstep.dump_trace", args) end)

  describe "mix lockstep.dump_trace" do
    test "text: the failure, the seeds and one step per line, as in the report", %{tmp_dir: dir} do
      bug = recorded(dir)
      out = dump([bug.schedule_path])

      assert out =~ "Schedule #{bug.schedule_path} (format version 1, written by lockstep 0.1.0)"
      assert out =~ "Test: none (the run was started outside a ctest)"
      assert out =~ "Failure: exception after #{bug.fail_step} steps: the test body failed."
      assert out =~ "** (RuntimeError) expected the counter to be 2 after two increments, got 1"
      assert out =~ "Seed 3, iteration #{bug.iteration}, iteration seed"
      assert out =~ "Settings: max_steps 1000, allow_crashes false"
      assert out =~ "Schedule (#{bug.fail_step} steps, 4 processes):"
      assert out =~ "Choices: " <> Enum.join(bug.schedule, " ")

      # The steps read exactly as in the full report saved beside the schedule.
      report = File.read!(bug.trace_path)

      steps = for line <- String.split(out, "\n"), line =~ ~r/^\s+\d+\. P\d/, do: line

      assert length(steps) == bug.fail_step
      assert Enum.all?(steps, &String.contains?(report, &1))
    end

    test "json: the events alone, one per line, to a file with --output", %{tmp_dir: dir} do
      bug = recorded(dir)
      out_file = Path.join(dir, "events.json")

      assert dump([bug.schedule_path, "--format", "json", "--output", out_file]) =~
               "Wrote #{out_file}"

      lines = out_file |> File.read!() |> String.split("\n", trim: true)
      assert hd(lines) == "["
      assert List.last(lines) == "]"

      assert Enum.at(lines, 1) ==
               ~s(  {"step": 1, "time": 0, "proc": 0, "kind": "start", "text": "starts"},)

      assert length(lines) == length(bug.trace) + 2
      assert dump([bug.schedule_path, "--format", "json"]) =~ ~s("kind": "spawn")

      # Structured fields beside the text, read back by Lockstep.Schedule.
      assert Enum.any?(
               lines,
               &(&1 =~ ~r/"kind": "spawn", .*"fields": \{"child": \d+, "link": false\}/)
             )

      assert Enum.any?(
               lines,
               &(&1 =~
                   ~r/"kind": "send", .*"fields": \{"dest": \d+, "dropped": false, "id": \d+, "message": /)
             )

      trace = Lockstep.Schedule.load!(bug.schedule_path).trace
      spawn = Enum.find(trace, &(&1.kind == "spawn"))
      assert %{"child" => child, "link" => false} = spawn.fields
      assert is_integer(child)
      # The engine's message ids pair each receive with its send.
      sent = for %{kind: "send", fields: %{"id" => id}} <- trace, do: id
      taken = for %{kind: "receive", fields: %{"id" => id}} <- trace, do: id
      assert taken != [] and Enum.all?(taken, &(&1 in sent))
    end

    test "text of a run with 100k processes names each one right (one lookup table)" do
      # With a scan of the process list per event this took minutes (quadratic); the time per
      # size is measured by `scripts/bench dump_trace`, never asserted here.
      n = 100_000

      s = %Lockstep.Schedule{
        path: "big.json",
        strategy: :random,
        settings: %{%Lockstep.Schedule{}.settings | max_steps: n},
        steps: n,
        category: :deadlock,
        choices: Enum.to_list(0..(n - 1)),
        processes: for(i <- (n - 1)..0//-1, do: %{id: i, name: if(rem(i, 3) == 0, do: ":p#{i}")}),
        trace:
          for(
            i <- 0..(n - 1),
            do: %{step: i + 1, time: 0, proc: i, kind: "start", text: "starts"}
          )
      }

      lines = s |> DumpTrace.text() |> String.split("\n")
      steps = Enum.filter(lines, &(&1 =~ ~r/^\s*\d+\. P\d/))
      assert length(steps) == n
      assert Enum.at(steps, 0) == "    1. P0(:p0) starts"
      assert Enum.at(steps, 1) == "    2. P1   starts"
      assert List.last(steps) == "100000. P99999(:p99999) starts"
      assert Enum.at(steps, 50_000) == "50001. P50000 starts"

      who = Lockstep.Schedule.process_aliases(s)

      for id <- [0, 1, 3, 99_998, 99_999, n],
          do: assert(who.(id) == Lockstep.Schedule.process_alias(s, id))

      processes = Enum.find(lines, &String.starts_with?(&1, "Processes: "))
      assert processes =~ ~r/^Processes: P99999\(:p99999\), P99998, P99997, P99996\(:p99996\),/
    end

    test "errors: missing, corrupt, newer files and bad arguments", %{tmp_dir: dir} do
      missing = Path.join(dir, "none.json")

      assert_raise Mix.Error, "#{missing}: cannot read: no such file or directory", fn ->
        dump([missing])
      end

      corrupt = Path.join(dir, "corrupt.json")
      File.write!(corrupt, "{\"format\": \"lockstep-schedule\", \"vers")

      assert_raise Mix.Error, ~r/corrupt.json: not JSON: EOF while parsing/, fn ->
        dump([corrupt])
      end

      assert_raise Mix.Error, ~r/corrupt.json: not JSON/, fn ->
        dump([corrupt, "--format", "json"])
      end

      newer = Path.join(dir, "newer.json")
      File.write!(newer, ~s({"format": "lockstep-schedule", "version": 2, "choices": "?"}))

      assert_raise Mix.Error,
                   ~r/schedule version 2 is unsupported: it was written by a newer/,
                   fn ->
                     dump([newer])
                   end

      assert_raise Mix.Error, ~r/expected the path of a schedule file/, fn -> dump([]) end

      assert_raise Mix.Error, ~r/--format must be text or json/, fn ->
        dump([newer, "--format", "xml"])
      end

      assert_raise Mix.Error, ~r/unexpected arguments \["b"\]/, fn -> dump(["a", "b"]) end
    end
  end

  describe "mix lockstep.replay" do
    test "runs the schedule's ctest, which replays it and fails again", %{tmp_dir: dir} do
      line = fixture_line()
      bug = recorded_by_ctest(dir, line)

      schedule = Lockstep.Schedule.load!(bug.schedule_path)
      assert schedule.test.file == @fixture and schedule.test.line == line

      assert bug.message =~
               "Replay: MIX_ENV=test mix lockstep.replay #{Path.relative_to_cwd(bug.schedule_path)}"

      # From the command line the task exits with the status of `mix test`: the replayed test
      # failed again.
      out =
        capture_io(fn ->
          assert {:shutdown, status} =
                   catch_exit(
                     Mix.Task.rerun("lockstep.replay", [bug.schedule_path, "--", "--seed", "0"])
                   )

          assert status != 0
        end)

      assert out =~ "Replaying #{bug.schedule_path}: Lockstep.ReplayTarget \"lost update\""
      assert out =~ "mix test #{@fixture}:#{line} --seed 0"
      assert out =~ "the bug fired again: the test body failed."
      assert out =~ "1 ctest, 1 failure"
    end

    test "from iex, Lockstep.replay(PATH) loads the ctest's file and replays it", %{tmp_dir: dir} do
      bug = recorded_by_ctest(dir, fixture_line())
      rel = Path.relative_to_cwd(bug.schedule_path)

      assert bug.message =~
               "From iex: MIX_ENV=test iex -S mix, then Lockstep.replay(#{inspect(rel)})"

      # What iex would run, in a VM of its own (the suite's ExUnit takes no new modules).
      code =
        "try do Lockstep.replay(#{inspect(rel)}) rescue e in Lockstep.BugFound -> " <>
          "IO.puts(\"REPLAYED: \" <> hd(String.split(e.message, \"\\n\"))) end"

      {out, 0} =
        System.cmd("mix", ["run", "--no-compile", "--no-start", "-e", code],
          env: [{"MIX_ENV", "test"}],
          stderr_to_stdout: true
        )

      assert out =~ "REPLAYED: Lockstep replayed #{rel}: the bug fired again"
    end

    test "errors: no path, a missing or corrupt file, a schedule without a test", %{tmp_dir: dir} do
      replay = fn args -> Mix.Tasks.Lockstep.Replay.main(args) end
      assert_raise Mix.Error, ~r/expected the path of a schedule file/, fn -> replay.([]) end

      assert_raise Mix.Error, ~r/expected one schedule file, got \["a", "b"\]/, fn ->
        replay.(["a", "b"])
      end

      missing = Path.join(dir, "none.json")

      assert_raise Mix.Error, ~r/none.json: cannot read the schedule file: no such file/, fn ->
        replay.([missing])
      end

      corrupt = Path.join(dir, "corrupt.json")
      File.write!(corrupt, "[]")

      assert_raise Mix.Error, ~r/not a Lockstep schedule: the JSON is an array/, fn ->
        replay.([corrupt])
      end

      path = recorded(dir).schedule_path
      error = assert_raise Mix.Error, fn -> replay.([path]) end
      assert error.message =~ "was not recorded from a ctest"
      assert error.message =~ ~s[iex> Lockstep.replay(fun, "#{path}")]

      # A test file that is not there.
      s = Lockstep.Schedule.load!(path)
      moved = %{s | test: %{module: "Gone", name: "gone", file: "test/gone_test.exs", line: 3}}
      moved_path = Path.join(dir, "moved.json")
      :ok = Lockstep.Schedule.write(moved, moved_path)

      assert_raise Mix.Error, ~r/test file test\/gone_test.exs does not exist here/, fn ->
        replay.([moved_path])
      end
    end
  end

  describe "a schedule's test file" do
    # A schedule naming `file` as its test, written to `dir`.
    defp naming(dir, file) do
      s = Lockstep.Schedule.load!(recorded(dir).schedule_path)
      s = %{s | test: %{module: "Evil", name: "evil", file: file, line: 1}}
      path = Path.join(dir, "evil-#{System.unique_integer([:positive])}.json")
      :ok = Lockstep.Schedule.write(s, path)
      path
    end

    test "outside the test paths is refused, naming it, the test paths and the flag",
         %{tmp_dir: dir} do
      marker = Path.join(dir, "ran")
      evil = Path.join(dir, "evil_test.exs")
      File.write!(evil, "File.write!(#{inspect(marker)}, \"ran\")\n")
      path = naming(dir, evil)

      for task <- [Mix.Tasks.Lockstep.Replay, Mix.Tasks.Lockstep.Shrink] do
        error = assert_raise Mix.Error, fn -> task.main([path]) end
        assert error.message =~ "#{path} names the test file #{evil}"
        assert error.message =~ ~s(outside the project's test paths ["test"])
        assert error.message =~ Path.expand("test")
        assert error.message =~ "pass --allow-outside-test-paths to run it anyway"
      end

      # `..` out of the test directory: refused under the name the schedule gives.
      climbing = naming(dir, "test/../mix.exs")
      error = assert_raise Mix.Error, fn -> Mix.Tasks.Lockstep.Replay.main([climbing]) end
      assert error.message =~ "names the test file test/../mix.exs (it resolves to "
      assert error.message =~ Path.expand("mix.exs")

      refute File.exists?(marker)

      # With the flag the file runs, after the task says which file and test it runs.
      out =
        capture_io(:stderr, fn ->
          send(
            self(),
            {:out,
             capture_io(fn ->
               assert Mix.Tasks.Lockstep.Replay.main([path, "--allow-outside-test-paths"]) == 1
             end)}
          )
        end)

      assert_received {:out, stdout}
      assert stdout =~ ~s(Running test file #{evil}, line 1: Evil "evil")
      assert out =~ "The test passed, so the schedule was not replayed"
      assert File.read!(marker) == "ran"
    end

    test "symbolic links are followed before the test paths are compared", %{tmp_dir: dir} do
      check = &Mix.Tasks.Lockstep.Replay.test_file_check(&1, ["t"], dir)
      File.mkdir_p!(Path.join(dir, "t/sub"))
      File.mkdir_p!(Path.join(dir, "elsewhere"))
      File.write!(Path.join(dir, "t/sub/a_test.exs"), "")
      File.write!(Path.join(dir, "elsewhere/b_test.exs"), "")

      assert check.("t/sub/a_test.exs") == :ok
      assert check.(Path.join(dir, "t/./sub/a_test.exs")) == :ok
      assert check.("t/sub/../sub/a_test.exs") == :ok
      assert {:outside, _, _} = check.("t/../elsewhere/b_test.exs")

      # A link inside t/ that leads out of it, and `..` after a link (which climbs from the
      # link's target, as the file system does).
      File.ln_s!(Path.join(dir, "elsewhere"), Path.join(dir, "t/out"))
      File.ln_s!("../elsewhere/b_test.exs", Path.join(dir, "t/b_test.exs"))
      File.ln_s!(Path.join(dir, "elsewhere"), Path.join(dir, "t/sub/deep"))
      real = Path.join(dir, "elsewhere/b_test.exs")

      assert check.("t/out/b_test.exs") == {:outside, real, [Path.join(dir, "t")]}
      assert {:outside, ^real, _} = check.("t/b_test.exs")
      assert {:outside, _, _} = check.("t/sub/deep/../b_test.exs")

      # A link from outside into t/ is inside; so is t/ itself reached through a link.
      File.ln_s!(Path.join(dir, "t/sub"), Path.join(dir, "in"))
      assert check.("in/a_test.exs") == :ok
      File.ln_s!(Path.join(dir, "t"), Path.join(dir, "tl"))
      assert Mix.Tasks.Lockstep.Replay.test_file_check("t/sub/a_test.exs", ["tl"], dir) == :ok

      # A loop of links never hangs.
      File.ln_s!(Path.join(dir, "t/loop2"), Path.join(dir, "t/loop1"))
      File.ln_s!(Path.join(dir, "t/loop1"), Path.join(dir, "t/loop2"))
      assert {:outside, _, _} = check.("t/loop1/x_test.exs")
    end
  end

  describe "mix lockstep.shrink" do
    test "replays an unshrunk schedule's ctest, shrinks it and saves the result beside it",
         %{tmp_dir: dir} do
      line = fixture_line()
      bug = recorded_by_ctest(dir, line, shrink: false)

      assert bug.shrink == nil
      original = Lockstep.Schedule.load!(bug.schedule_path)
      assert length(bug.preemptions) > 0

      out =
        capture_io(fn ->
          assert Mix.Tasks.Lockstep.Shrink.main([
                   bug.schedule_path,
                   "--time",
                   "20000",
                   "--",
                   "--seed",
                   "0"
                 ]) == 0
        end)

      assert out =~ "Shrinking #{bug.schedule_path}"
      assert out =~ "LOCKSTEP_SHRINK=20000"
      assert out =~ "the bug fired again"
      assert out =~ "Shrunk from #{bug.fail_step} steps / #{length(bug.preemptions)} preemptions"
      assert out =~ "Shrinking done"

      [_, new_path] = Regex.run(~r/Schedule: (\S+\.json)/, out)
      assert Path.dirname(Path.expand(new_path)) == Path.expand(dir)
      refute Path.expand(new_path) == Path.expand(bug.schedule_path)

      shrunk = Lockstep.Schedule.load!(new_path)
      assert shrunk.test == original.test
      assert shrunk.category == original.category

      assert shrunk.shrunk_from == %{
               steps: original.steps,
               preemptions: length(bug.preemptions),
               choices: original.choices
             }

      assert shrunk.steps <= original.steps
      assert shrunk.choices != original.choices

      # The shrunk file replays to the same failure.
      assert {:reproduced, again} =
               Lockstep.Replay.check(&Lockstep.Examples.LostUpdate.run/0, new_path)

      assert elem(again.reason, 0) == :exception
      assert length(again.preemptions) < length(bug.preemptions)
    end

    test "errors: bad arguments and a schedule without a test", %{tmp_dir: dir} do
      shrink = fn args -> Mix.Tasks.Lockstep.Shrink.main(args) end
      assert_raise Mix.Error, ~r/expected the path of a schedule file/, fn -> shrink.([]) end

      assert_raise Mix.Error, ~r/--time must be a positive/, fn ->
        shrink.(["a", "--time", "0"])
      end

      path = recorded(dir).schedule_path
      error = assert_raise Mix.Error, fn -> shrink.([path]) end
      assert error.message =~ "was not recorded from a ctest"

      assert error.message =~
               ~s[Lockstep.replay(fun, "#{path}", shrink: true, shrink_time: 10000)]

      missing = Path.join(dir, "none.json")
      assert_raise Mix.Error, ~r/cannot read the schedule file/, fn -> shrink.([missing]) end
    end
  end

  test "the tasks have help" do
    for task <- [Mix.Tasks.Lockstep.Replay, Mix.Tasks.Lockstep.Shrink, DumpTrace] do
      assert Mix.Task.shortdoc(task) =~ "schedule"
      assert Mix.Task.moduledoc(task) =~ "## Exit status"
    end
  end
end

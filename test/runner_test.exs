defmodule Lockstep.RunnerTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers
  import Lockstep.TestPrograms

  test "finds a lost update and reports a complete BugFound" do
    bug = bug(lost_update(), iterations: 200)
    assert %Lockstep.BugFound{} = bug
    assert {:exception, _} = bug.reason
    assert %RuntimeError{message: "lost update: counter is 1"} = bug.exception
    assert bug.seed == 7 and is_integer(bug.iter_seed) and bug.strategy == :pos
    assert bug.fail_step == length(bug.schedule)
    assert [{1, _, 0, {:start}} | _] = bug.trace
    assert File.read!(bug.trace_path) =~ "lost update"
    assert bug.message =~ "Lockstep found a bug in iteration #{bug.iteration} (of "
    assert bug.message =~ ~r/\d+\. P\d +sends \{:set, 1\} to P1/
    assert bug.message =~ "Reproduce: Lockstep.Runner.run(fun, seed: 7)"
  end

  test "the same seed gives the same schedules; different seeds differ" do
    a = bug(lost_update(), seed: 42, iterations: 500)
    b = bug(lost_update(), seed: 42, iterations: 500)
    assert {a.iteration, a.schedule, a.iter_seed} == {b.iteration, b.schedule, b.iter_seed}

    firsts =
      for seed <- 1..8 do
        bug(lost_update(), seed: seed, iterations: 500).schedule
      end

    assert length(Enum.uniq(firsts)) > 1
  end

  test "both strategies find the lost update" do
    for strategy <- [:random, :pct, {:pct, depth: 2}] do
      assert %Lockstep.BugFound{strategy: ^strategy} =
               bug(lost_update(), strategy: strategy, iterations: 300)
    end
  end

  test "deadlock names each blocked process and its mailbox" do
    bug =
      bug(fn ->
        me = self()
        other = Lockstep.spawn(fn -> Lockstep.recv_first(&(&1 == :go)) end)
        Lockstep.send(other, :not_go)
        Lockstep.recv_first(&(&1 == me))
      end)

    assert {:deadlock, blocked} = bug.reason
    assert [{0, :recv_first, nil, [], nil}, {1, :recv_first, nil, [:not_go], nil}] = blocked
    assert bug.message =~ "P1 waits in recv_first (mailbox: :not_go)"
  end

  test "a crashing process fails the run with its exception" do
    bug =
      bug(fn ->
        Lockstep.spawn(fn -> raise ArgumentError, "bad input in child" end)
        Lockstep.sleep(10)
      end)

    assert {:crash, {1, {%ArgumentError{}, _}}} = bug.reason
    assert %ArgumentError{message: "bad input in child"} = bug.exception
    assert bug.message =~ "P1 crashed"

    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 Lockstep.spawn(fn -> raise "fine" end)
                 Lockstep.sleep(10)
               end,
               allow_crashes: true,
               iterations: 5
             )
  end

  test "the step limit fails or stops, as asked" do
    spin = fn ->
      loop = fn loop -> Lockstep.now() && loop.(loop) end
      loop.(loop)
    end

    assert {:step_limit, 50} = bug(spin, max_steps: 50, iterations: 3).reason
    assert :ok == Lockstep.Runner.run(spin, max_steps: 50, iterations: 3, step_limit: :stop)
  end

  test "processes left blocked fail the run only with fail_on_blocked" do
    leave = fn -> Lockstep.spawn(fn -> Lockstep.recv() end) end
    assert :ok == Lockstep.Runner.run(leave, iterations: 3)
    assert {:left_blocked, [{1, :recv, nil, [], nil}]} = bug(leave, fail_on_blocked: true).reason
  end

  test "the watchdog reports a process stuck outside Lockstep, with its stack" do
    bug =
      bug(
        fn ->
          Lockstep.spawn(fn ->
            receive do
              :never -> :ok
            end
          end)

          Lockstep.sleep(5)
        end,
        watchdog: 200,
        iterations: 1
      )

    assert {:watchdog, {1, pid, 200, stack}} = bug.reason
    assert is_pid(pid)
    assert is_list(stack)
    assert bug.message =~ "without reaching a Lockstep sync point"
    refute Process.alive?(pid)
  end

  test "no process of a finished run survives it" do
    me = self()

    Lockstep.Runner.run(
      fn ->
        pids = for _ <- 1..5, do: Lockstep.spawn(fn -> Lockstep.recv() end)
        sleeper = Lockstep.spawn(fn -> Lockstep.sleep(:infinity) end)
        send(me, {:pids, [self(), sleeper | pids]})
      end,
      iterations: 20
    )

    pids = collect_pids([])
    assert length(pids) == 20 * 7
    # The runner waits for the processes it kills before the next iteration starts.
    assert Enum.filter(pids, &Process.alive?/1) == []
    assert {:messages, []} = Process.info(self(), :messages)
  end

  defp collect_pids(acc) do
    receive do
      {:pids, pids} -> collect_pids(pids ++ acc)
    after
      0 -> acc
    end
  end

  test "max_run_time stops a long hunt and says so" do
    log =
      ExUnit.CaptureIO.capture_io(:stderr, fn ->
        assert :ok ==
                 Lockstep.Runner.run(fn -> Process.sleep(20) end,
                   iterations: 1_000,
                   max_run_time: 100
                 )
      end)

    assert log =~ ~r/stopped after \d+ of 1000 iterations \(max_run_time 100 ms\)/
  end

  test "invalid options raise ArgumentError naming the key and what it accepts" do
    assert_raise ArgumentError, ~r/:iterations.*positive integer.*got: 0/, fn ->
      Lockstep.Runner.run(fn -> :ok end, iterations: 0)
    end

    assert_raise ArgumentError, ~r/:strategy.*:pct.*:random.*got: :fifo/, fn ->
      Lockstep.Runner.run(fn -> :ok end, strategy: :fifo)
    end

    assert_raise ArgumentError, ~r/unknown .* option :iteration;.*:iterations/, fn ->
      Lockstep.Runner.run(fn -> :ok end, iteration: 3)
    end

    nested = bug(fn -> Lockstep.Runner.run(fn -> :ok end) end)

    assert %ArgumentError{message: "Lockstep.Runner.run/2 cannot be called from inside" <> _} =
             nested.exception
  end

  test "verbose reports what was explored" do
    out =
      ExUnit.CaptureIO.capture_io(fn ->
        Lockstep.Runner.run(
          fn ->
            a = Lockstep.spawn(fn -> :ok end)
            Lockstep.alive?(a)
          end,
          iterations: 30,
          verbose: true,
          seed: 3
        )
      end)

    assert out =~ ~r/30 iterations, \d+ distinct schedules, longest run \d+ steps/
  end
end

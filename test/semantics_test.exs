defmodule Lockstep.SemanticsTest do
  # The BEAM is the oracle: each scenario runs on the plain VM (the Lockstep API outside a run
  # is the plain primitive) and under Lockstep, and the results are compared; for exploration,
  # the outcome the VM shows must be one Lockstep reaches.
  use ExUnit.Case, async: true

  import Lockstep.OtpDiff, only: [plain: 1, under_lockstep: 2, norm: 1, down: 1]
  import Lockstep.TestHelpers

  defp same_everywhere(scenario, opts \\ []) do
    expected = norm(plain(scenario))
    results = scenario |> under_lockstep(opts) |> Enum.map(&norm/1) |> Enum.uniq()
    assert results == [expected]
    expected
  end

  describe "timers" do
    test "a timer to a dead pid is cancelled: cancel_timer and read_timer say false" do
      scenario = fn ->
        {q, ref} = Lockstep.spawn_monitor(fn -> :ok end)
        :normal = down(ref)
        t = Lockstep.send_after(q, :foo, 1000)
        {Lockstep.read_timer(t), Lockstep.cancel_timer(t)}
      end

      assert same_everywhere(scenario) == {false, false}
    end

    test "a timer dies with its target" do
      scenario = fn ->
        {q, ref} = Lockstep.spawn_monitor(fn -> Lockstep.recv_first(&(&1 == :go)) end)

        t = Lockstep.send_after(q, :late, 10_000)
        Lockstep.send(q, :go)
        :normal = down(ref)
        Lockstep.cancel_timer(t)
      end

      assert same_everywhere(scenario) == false
    end

    test "read_timer leaves a timer running; start_timer sends {:timeout, ref, msg}" do
      scenario = fn ->
        t = Lockstep.start_timer(30, self(), :tick)
        left = Lockstep.read_timer(t)
        {:timeout, ^t, :tick} = Lockstep.recv()
        {is_integer(left) and left <= 30, Lockstep.read_timer(t)}
      end

      assert same_everywhere(scenario) == {true, false}
    end

    test "send_after with abs: true fires at a monotonic time" do
      scenario = fn ->
        at = Lockstep.monotonic_time(:millisecond) + 20
        Lockstep.send_after(self(), :at, at, abs: true)
        :at = Lockstep.recv()
        Lockstep.monotonic_time(:millisecond) >= at
      end

      assert same_everywhere(scenario) == true
      # Inside a run the clock stands exactly at the timer's time.
      assert inside(fn ->
               Lockstep.send_after(self(), :at, 20, abs: true)
               Lockstep.recv()
               Lockstep.monotonic_time(:millisecond)
             end) == 20
    end

    test "cancel_timer/2 with info: false returns :ok" do
      scenario = fn ->
        t = Lockstep.send_after(self(), :x, 1000)
        Lockstep.cancel_timer(t, info: false)
      end

      assert same_everywhere(scenario) == :ok
    end

    test "bad timer arguments raise ArgumentError inside and outside a run" do
      for fun <- [
            fn -> Lockstep.send_after(self(), :x, -1, []) end,
            fn -> Lockstep.send_after(self(), :x, 1, abs: :yes) end,
            fn -> Lockstep.start_timer(1, self(), :x, bogus: 1) end
          ] do
        assert_raise ArgumentError, fun
        assert {:raised, ArgumentError} = inside(fn -> raised(fun) end)
      end
    end
  end

  defp raised(fun) do
    fun.()
    :no_error
  rescue
    e -> {:raised, e.__struct__}
  end

  describe "spawning" do
    test "spawn_monitor and spawn_opt with :link and :monitor" do
      scenario = fn ->
        {_pid, ref} = Lockstep.spawn_monitor(fn -> exit(:gone) end)
        first = down(ref)
        {_pid, ref2} = Lockstep.spawn_opt(fn -> exit(:also) end, [:monitor])
        Lockstep.flag(:trap_exit, true)
        pid = Lockstep.spawn_opt(fn -> exit(:linked) end, [:link])
        exit = Lockstep.recv_first(&match?({:EXIT, ^pid, _}, &1))
        {first, down(ref2), exit}
      end

      assert {:gone, :also, {:EXIT, :pid, :linked}} = same_everywhere(scenario)
    end

    test "Process.send/3 delivers like send/2" do
      scenario = fn ->
        :ok = Lockstep.Process.send(self(), :hello, [:noconnect])
        Lockstep.recv()
      end

      assert same_everywhere(scenario) == :hello
    end
  end

  describe "Process.info/2" do
    test "message queue, messages, links, monitors, registered name, trap_exit" do
      scenario = fn ->
        me = self()
        child = Lockstep.spawn_link(fn -> Lockstep.recv_first(&(&1 == :stop)) end)
        ref = Lockstep.monitor(child)
        Lockstep.register(me, :semantics_info_root)
        Lockstep.send(me, :one)
        Lockstep.send(me, :two)

        mine =
          Lockstep.Process.info(me, [
            :message_queue_len,
            :messages,
            :registered_name,
            :trap_exit
          ])

        links = Lockstep.Process.info(me, :links)
        theirs = Lockstep.Process.info(child, [:links, :monitored_by, :registered_name])
        monitors = Lockstep.Process.info(me, :monitors)
        Lockstep.send(child, :stop)
        :normal = down(ref)
        Lockstep.unregister(:semantics_info_root)
        {mine, links, theirs, monitors, Lockstep.Process.info(child, :links)}
      end

      assert {[
                message_queue_len: 2,
                messages: [:one, :two],
                registered_name: :semantics_info_root,
                trap_exit: false
              ], {:links, [:pid]}, [links: [:pid], monitored_by: [:pid], registered_name: []],
              {:monitors, [process: :pid]}, nil} = same_everywhere(scenario)
    end

    test "status: the caller runs, a process blocked in a receive waits" do
      scenario = fn ->
        child = Lockstep.spawn(fn -> Lockstep.recv() end)
        # Let the child reach its receive (on the VM: real time; in a run: the clock).
        Lockstep.sleep(20)
        statuses = {Lockstep.Process.info(self(), :status), Lockstep.Process.info(child, :status)}
        Lockstep.send(child, :go)
        statuses
      end

      assert same_everywhere(scenario) == {{:status, :running}, {:status, :waiting}}
    end
  end

  describe "clocks" do
    test "monotonic, system and os time in units; the virtual clock moves with sleep" do
      scenario = fn ->
        t0 = Lockstep.monotonic_time(:millisecond)
        Lockstep.sleep(50)
        elapsed = Lockstep.monotonic_time(:millisecond) - t0
        s = Lockstep.system_time(:second)
        us = Lockstep.os_time(:microsecond)
        native = Lockstep.system_time()

        {elapsed >= 50, s > 1_600_000_000, abs(div(us, 1_000_000) - s) <= 1,
         abs(System.convert_time_unit(native, :native, :second) - s) <= 1}
      end

      assert same_everywhere(scenario) == {true, true, true, true}

      assert inside(fn ->
               t0 = Lockstep.monotonic_time(:microsecond)
               Lockstep.sleep(50)
               {t0, Lockstep.monotonic_time(:microsecond), Lockstep.system_time(:millisecond)}
             end) == {0, 50_000, 1_767_225_600_050}
    end

    test "clock_start sets the system time at the start of a run" do
      at = ~U[2030-06-01 12:00:00Z]

      assert inside(fn -> Lockstep.system_time(:second) end, clock_start: at) ==
               DateTime.to_unix(at)

      assert_raise ArgumentError, ~r/clock_start/, fn ->
        Lockstep.Runner.run(fn -> :ok end, clock_start: -5)
      end
    end

    test "with time_per_step, time passes while processes run, so a TTL can expire" do
      # A cache entry valid for 5 ms, read after some work: with a frozen clock it never
      # expires; with time passing, the expiry branch is reached.
      body = fn ->
        expires = Lockstep.monotonic_time(:millisecond) + 5
        for _ <- 1..8, do: Lockstep.send(self(), :work)
        for _ <- 1..8, do: Lockstep.recv()
        Lockstep.monotonic_time(:millisecond) > expires
      end

      assert Enum.uniq(inside_each(body, iterations: 5)) == [false]
      assert Enum.uniq(inside_each(body, iterations: 5, time_per_step: 1)) == [true]

      assert_raise ArgumentError, ~r/time_per_step/, fn ->
        Lockstep.Runner.run(fn -> :ok end, time_per_step: :fast)
      end
    end
  end

  describe "the run goes on after the root returns" do
    defp names_gone_scenario(report) do
      fn ->
        Lockstep.register(self(), :semantics_main)

        child =
          Lockstep.spawn(fn ->
            :go = Lockstep.recv()
            report.(Lockstep.whereis(:semantics_main))
          end)

        Lockstep.send(child, :go)
      end
    end

    test "a child that looks up the root's name after it returned finds nothing" do
      parent = self()
      plain(names_gone_scenario(&send(parent, {:saw, &1})))
      assert_receive {:saw, nil}, 1_000

      # Under Lockstep the same outcome is reached: a child that raises on it fails the run.
      bug =
        bug(
          names_gone_scenario(fn found ->
            if found == nil, do: raise("the root's name is gone")
          end),
          iterations: 200
        )

      assert bug.reason |> elem(0) == :crash
      assert bug.message =~ "the root's name is gone"
    end

    test "a trapping child that gets the root's exit signal is left blocked for good" do
      scenario = fn ->
        child =
          Lockstep.spawn_link(fn ->
            Lockstep.flag(:trap_exit, true)
            Lockstep.sleep(:infinity)
          end)

        Lockstep.sleep(1)
        child
      end

      # On the VM: the child is alive, waiting, with the root's EXIT in its mailbox.
      parent = self()

      plain(fn ->
        child = scenario.()
        send(parent, {:child, child})
      end)

      assert_receive {:child, child}
      Process.sleep(20)
      assert Process.info(child, :status) == {:status, :waiting}
      assert {:messages, [{:EXIT, _, _}]} = Process.info(child, :messages)
      Process.exit(child, :kill)

      bug = bug(fn -> scenario.() end, iterations: 30, fail_on_blocked: true)
      assert {:left_blocked, [{1, _, _, [{:EXIT, _, _}], _}]} = bug.reason
      assert bug.message =~ "left waiting"
      assert bug.iteration == 0
    end
  end

  describe "abnormal exits from signals" do
    test "exit(self(), :abnormal) gives :abnormal to monitors, and fails the run only when asked" do
      scenario = fn ->
        {_pid, ref} = Lockstep.spawn_monitor(fn -> Lockstep.exit(self(), :abnormal) end)
        down(ref)
      end

      assert same_everywhere(scenario) == :abnormal
      assert bug(scenario, iterations: 20) == nil

      bug = bug(scenario, iterations: 20, fail_on_abnormal_exit: true)
      assert {:exit_signal, {1, :abnormal, 1}} = bug.reason
      assert bug.message =~ "P1 was killed by an exit signal from P1: :abnormal"
      assert bug.message =~ "dies: :abnormal (exit signal to itself)"
    end

    test "the report says who killed whom, through which link" do
      bug =
        bug(
          fn ->
            a =
              Lockstep.spawn(fn ->
                Lockstep.spawn_link(fn -> Lockstep.recv() end)
                Lockstep.recv()
              end)

            Lockstep.sleep(1)
            Lockstep.exit(a, :boom)
          end,
          iterations: 10,
          fail_on_abnormal_exit: true,
          shrink: false
        )

      assert {:exit_signal, {1, :boom, 0}} = bug.reason
      assert bug.message =~ "P1 dies: :boom (exit signal from P0)"
    end

    test "shutdown reasons are not abnormal" do
      scenario = fn ->
        {pid, ref} = Lockstep.spawn_monitor(fn -> Lockstep.recv() end)
        Lockstep.exit(pid, {:shutdown, :done})
        down(ref)
      end

      assert same_everywhere(scenario) == {:shutdown, :done}
      assert bug(scenario, iterations: 20, fail_on_abnormal_exit: true) == nil
    end
  end

  describe "racing timers" do
    # A server answers after real work (no sync point while it works); the caller waits 42 ms.
    defp reply_vs_timeout(work) do
      fn ->
        me = self()

        Lockstep.spawn(fn ->
          work.()
          Lockstep.send(me, :reply)
        end)

        Lockstep.send_after(me, :timeout, 42)
        Lockstep.recv_first(&(&1 in [:reply, :timeout]))
      end
    end

    test "the VM lets a 42 ms timer beat a slow server; only racing timers reach that" do
      slow = fn -> Process.sleep(100) end
      assert plain(reply_vs_timeout(slow)) == :timeout

      idle = inside_each(reply_vs_timeout(slow), iterations: 20)
      assert Enum.uniq(idle) == [:reply]

      race = inside_each(reply_vs_timeout(fn -> :ok end), iterations: 60, timers: :race)
      assert Enum.sort(Enum.uniq(race)) == [:reply, :timeout]
    end

    test "a receive with after 0 can miss a message sent concurrently" do
      body = fn ->
        me = self()
        Lockstep.spawn(fn -> Lockstep.send(me, :hi) end)
        Lockstep.recv(0)
      end

      assert Enum.sort(Enum.uniq(inside_each(body, iterations: 40))) == [:timeout, {:ok, :hi}]
    end

    test "a failure found with racing timers is saved with them and replays exactly" do
      body = fn ->
        me = self()
        Lockstep.spawn(fn -> Lockstep.send(me, :reply) end)
        Lockstep.send_after(me, :timeout, 42)
        if Lockstep.recv() == :timeout, do: raise("timed out")
      end

      bug = bug(body, iterations: 100, timers: :race)
      assert bug.message =~ "timed out"
      assert 4_294_967_295 in bug.schedule
      assert bug.message =~ "clock"
      assert Lockstep.Schedule.load!(bug.schedule_path).settings.timers == :race

      assert_raise Lockstep.BugFound, ~r/timed out/, fn ->
        Lockstep.replay(body, bug.schedule_path)
      end
    end

    test "timers: accepts only :idle and :race" do
      assert_raise ArgumentError, ~r/:timers/, fn ->
        Lockstep.Runner.run(fn -> :ok end, timers: :sometimes)
      end

      assert_raise ArgumentError, ~r/:settle/, fn ->
        Lockstep.Runner.run(fn -> :ok end, settle: -1)
      end
    end
  end
end

defmodule Lockstep.APITest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  describe "inside a run" do
    test "spawn, send and recv" do
      assert inside(fn ->
               me = self()
               Lockstep.spawn(fn -> Lockstep.send(me, {:hi, self()}) end)
               {:hi, pid} = Lockstep.recv()
               is_pid(pid) and pid != me
             end)
    end

    test "recv_first takes the first match and keeps the rest in order" do
      assert inside(fn ->
               me = self()

               Lockstep.spawn(fn ->
                 for m <- [:a, {:b, 1}, :c, {:b, 2}], do: Lockstep.send(me, m)
               end)

               b = Lockstep.recv_first(&match?({:b, _}, &1))
               rest = for _ <- 1..3, do: Lockstep.recv()
               {b, rest}
             end) == {{:b, 1}, [:a, :c, {:b, 2}]}
    end

    test "a predicate that raises counts as no match" do
      assert inside(fn ->
               Lockstep.send(self(), :boom)
               Lockstep.send(self(), 2)
               Lockstep.recv_first(fn x -> x + 1 == 3 end)
             end) == 2
    end

    test "timeouts and sleep use the virtual clock" do
      assert inside(fn ->
               t0 = Lockstep.now()
               :timeout = Lockstep.recv(5_000)
               Lockstep.sleep(60_000)
               :timeout = Lockstep.recv_first(fn _ -> false end, 40)
               {t0, Lockstep.now()}
             end) == {0, 65_040}
    end

    test "send_after delivers later; cancel_timer reports what remained" do
      assert inside(fn ->
               t1 = Lockstep.send_after(self(), :late, 100)
               t2 = Lockstep.send_after(self(), :never, 300)
               left = Lockstep.cancel_timer(t2)
               msg = Lockstep.recv()
               {left, msg, Lockstep.now(), Lockstep.cancel_timer(t1)}
             end) == {300, :late, 100, false}
    end

    test "monitor delivers DOWN with the exit reason; noproc for the dead" do
      {reason, late} =
        inside(
          fn ->
            pid = Lockstep.spawn(fn -> exit(:shutdown) end)
            ref = Lockstep.monitor(pid)
            {:DOWN, ^ref, :process, ^pid, reason} = Lockstep.recv()
            ref2 = Lockstep.monitor(pid)
            {:DOWN, ^ref2, :process, ^pid, late} = Lockstep.recv()
            {reason, late}
          end,
          allow_crashes: true
        )

      assert {reason, late} == {:shutdown, :noproc}
    end

    test "demonitor with flush removes a delivered DOWN" do
      assert inside(fn ->
               pid = Lockstep.spawn(fn -> :ok end)
               ref = Lockstep.monitor(pid)
               Lockstep.sleep(1)
               true = Lockstep.demonitor(ref, [:flush])
               Lockstep.recv(10)
             end) == :timeout
    end

    test "a linked crash kills the caller unless it traps exits" do
      assert inside(
               fn ->
                 Lockstep.flag(:trap_exit, true)
                 pid = Lockstep.spawn_link(fn -> raise "child failed" end)
                 {:EXIT, ^pid, {%RuntimeError{message: "child failed"}, stack}} = Lockstep.recv()
                 is_list(stack)
               end,
               allow_crashes: true
             )

      bug =
        bug(
          fn ->
            Lockstep.spawn_link(fn -> exit(:boom) end)
            Lockstep.recv()
          end,
          allow_crashes: true
        )

      assert {:exception, :boom} = bug.reason
    end

    test "link to a dead process raises noproc, or delivers EXIT when trapping" do
      assert {:noproc, {:EXIT, _, :noproc}} =
               inside(fn ->
                 pid = Lockstep.spawn(fn -> :ok end)
                 Lockstep.sleep(1)
                 raised = catch_error(Lockstep.link(pid))
                 Lockstep.flag(:trap_exit, true)
                 true = Lockstep.link(pid)
                 {raised, Lockstep.recv()}
               end)
    end

    test "exit/2: kill is untrappable, normal is ignored by others" do
      assert inside(fn ->
               a = Lockstep.spawn(fn -> Lockstep.recv() end)
               b = Lockstep.spawn(fn -> Lockstep.flag(:trap_exit, true) && Lockstep.recv() end)
               ref = Lockstep.monitor(b)
               Lockstep.exit(a, :normal)
               Lockstep.exit(b, :kill)
               {:DOWN, ^ref, :process, ^b, reason} = Lockstep.recv()
               {Lockstep.alive?(a), Lockstep.alive?(b), reason}
             end) == {true, false, :killed}
    end

    test "registered names: send, whereis, released on exit" do
      assert {nil, %ArgumentError{}} =
               inside(fn ->
                 me = self()
                 srv = Lockstep.spawn(fn -> Lockstep.send(me, {:got, Lockstep.recv()}) end)
                 true = Lockstep.register(srv, :srv)
                 :ok = Lockstep.send(:srv, :ping)
                 {:got, :ping} = Lockstep.recv()
                 Lockstep.sleep(1)
                 {Lockstep.whereis(:srv), catch_error(Lockstep.send(:srv, :again))}
               end)
    end

    test "sending to a process outside the run is a plain send" do
      parent = self()
      assert inside(fn -> Lockstep.send(parent, :outside) end) == :ok
      assert_received :outside
    end
  end

  describe "outside a run each call is the plain BEAM primitive" do
    test "spawn, send, recv, recv_first" do
      me = self()
      pid = Lockstep.spawn(fn -> Lockstep.send(me, {:from, self()}) end)
      assert Lockstep.recv() == {:from, pid}
      send(self(), :x)
      send(self(), {:y, 1})
      assert Lockstep.recv_first(&match?({:y, _}, &1)) == {:y, 1}
      assert Lockstep.recv(0) == {:ok, :x}
      assert Lockstep.recv_first(fn _ -> true end, 20) == :timeout
      refute Lockstep.managed?()
    end

    test "timers, monitors, links, names" do
      ref = Lockstep.send_after(self(), :tick, 5)
      assert_receive :tick, 500
      assert Lockstep.cancel_timer(ref) == false
      pid = Lockstep.spawn(fn -> Process.sleep(:infinity) end)
      mref = Lockstep.monitor(pid)
      assert Lockstep.alive?(pid)
      true = Lockstep.exit(pid, :kill)
      assert_receive {:DOWN, ^mref, :process, ^pid, :killed}
      assert Lockstep.register(self(), :lockstep_api_test_name)
      assert Lockstep.whereis(:lockstep_api_test_name) == self()
      assert Lockstep.unregister(:lockstep_api_test_name)
      assert is_integer(Lockstep.now())
      assert Lockstep.sleep(1) == :ok
    end
  end

  test "bad arguments raise clear errors" do
    assert_raise ArgumentError, ~r/timeout/, fn -> Lockstep.recv(-1) end
    found = bug(fn -> Lockstep.sleep(:soon) end)
    assert %ArgumentError{message: "expected a timeout" <> _} = found.exception
  end
end

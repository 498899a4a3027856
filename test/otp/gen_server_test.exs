defmodule Lockstep.GenServerTest do
  # Names are VM-wide for the plain runs, so these tests do not run concurrently.
  use ExUnit.Case, async: false

  # Real OTP logs the crashes these tests cause on purpose.
  @moduletag :capture_log

  import Lockstep.OtpDiff
  import Lockstep.TestHelpers

  alias Lockstep.TestServers.Kv

  @real GenServer
  @wrapper Lockstep.GenServer

  defp same(scenario, opts \\ []), do: assert_same(scenario, @real, @wrapper, opts)

  defp wait_until_free(gs, name) do
    if gs.whereis(name) != nil do
      Lockstep.sleep(1)
      wait_until_free(gs, name)
    end
  end

  describe "same observable behaviour as GenServer" do
    test "init results, as seen by start_link and start" do
      result =
        same(fn gs ->
          Lockstep.flag(:trap_exit, true)
          {:ok, a} = gs.start_link(Kv, {{:ok, 1}, nil})
          {:ok, b} = gs.start_link(Kv, {{:continue, 1}, nil})
          {:ok, c} = gs.start(Kv, {{:throw, 7}, nil})

          [
            gs.call(a, :get),
            gs.call(b, :get),
            gs.call(c, :get),
            gs.start_link(Kv, {:ignore, nil}),
            exit_reason(),
            gs.start_link(Kv, {{:stop, :nope}, nil}),
            exit_reason(),
            gs.start(Kv, {:bad, nil}),
            gs.start_link(Kv, {:raise, nil}),
            exit_reason(),
            gs.start(Kv, {{:stop, {:shutdown, :later}}, nil})
          ]
        end)

      assert [1, 2, 7, :ignore, :normal, {:error, :nope}, :nope | _] = result

      assert Enum.drop(result, 7) == [
               {:error, {:bad_return_value, :what}},
               {:error, {%RuntimeError{message: "init failed"}, :stack}},
               {%RuntimeError{message: "init failed"}, :stack},
               {:error, {:shutdown, :later}}
             ]
    end

    test "an init slower than the start timeout: {:error, :timeout} and the server is killed" do
      assert same(fn gs ->
               Lockstep.flag(:trap_exit, true)
               result = gs.start_link(Kv, {{:slow_init, 100}, nil}, timeout: 20)
               Lockstep.send(self(), :marker)
               {result, next(&(&1 == :marker or match?({:EXIT, _, _}, &1)))}
             end) == {{:error, :timeout}, :marker}
    end

    test "a start_link whose init stops kills a starter that does not trap exits" do
      assert same(fn gs ->
               me = self()

               starter =
                 Lockstep.spawn(fn ->
                   :go = Lockstep.recv()
                   result = gs.start_link(Kv, {{:stop, :nope}, nil})
                   Lockstep.send(me, {:returned, result})
                   # Wait for the exit signal that follows the error.
                   Lockstep.recv()
                 end)

               ref = Lockstep.monitor(starter)
               Lockstep.send(starter, :go)
               down(ref)
             end) == :nope
    end

    test "calls, casts, deferred replies, continue, thrown replies and info" do
      assert same(fn gs ->
               me = self()
               {:ok, pid} = gs.start_link(Kv, {{:ok, 0}, me})
               r1 = gs.call(pid, {:add, 2})
               :ok = gs.cast(pid, {:add, 3})
               r2 = gs.call(pid, :get)
               Lockstep.spawn(fn -> Lockstep.send(me, {:later, gs.call(pid, :later)}) end)
               :parked = next(&(&1 == :parked))
               :ok = gs.cast(pid, :release)
               {:later, r3} = next(&match?({:later, _}, &1))
               r4 = gs.call(pid, :continue)
               r5 = gs.call(pid, :get)
               r6 = gs.call(pid, {:throw, :thrown})
               Lockstep.send(pid, :hello)
               info = next(&match?({:info, _}, &1))
               [r1, r2, r3, r4, r5, r6, info]
             end) == [2, 5, {:released, 5}, :ok, 6, :thrown, {:info, :hello}]
    end

    test "calls to crashing, stopping, dead and unknown servers exit with OTP's reasons" do
      result =
        same(fn gs ->
          start = fn -> elem(gs.start(Kv, {{:ok, 0}, nil}), 1) end
          a = start.()
          crashed = catch_exit(gs.call(a, :raise))

          [
            crashed,
            catch_exit(gs.call(start.(), {:exit, :bye})),
            catch_exit(gs.call(start.(), {:stop_noreply, :normal})),
            gs.call(start.(), {:stop, :shutdown}),
            catch_exit(gs.call(start.(), :bad)),
            catch_exit(gs.call(a, :get)),
            catch_exit(gs.call(:nobody_here, :get)),
            (
              silent = start.()
              timed_out = catch_exit(gs.call(silent, :never, 30))
              :ok = gs.stop(silent)
              timed_out
            )
          ]
        end)

      assert result == [
               {{%RuntimeError{message: "boom"}, :stack},
                {GenServer, :call, [:pid, :raise, 5000]}},
               {:bye, {GenServer, :call, [:pid, {:exit, :bye}, 5000]}},
               {:normal, {GenServer, :call, [:pid, {:stop_noreply, :normal}, 5000]}},
               :stopping,
               {{:bad_return_value, :nonsense}, {GenServer, :call, [:pid, :bad, 5000]}},
               {:noproc, {GenServer, :call, [:pid, :get, 5000]}},
               {:noproc, {GenServer, :call, [:nobody_here, :get, 5000]}},
               {:timeout, {GenServer, :call, [:pid, :never, 30]}}
             ]
    end

    test "terminate/2 and DOWN reasons on stop, cast stops and crashes" do
      result =
        same(fn gs ->
          me = self()

          run = fn action ->
            {:ok, pid} = gs.start(Kv, {{:ok, 0}, me})
            ref = Lockstep.monitor(pid)
            returned = action.(pid)
            terminated = next(&match?({:terminate, _}, &1))
            {returned, terminated, down(ref)}
          end

          {:ok, dead} = gs.start(Kv, {{:ok, 0}, nil})
          :ok = gs.stop(dead)

          [
            run.(&gs.stop(&1, :shutdown)),
            run.(&gs.cast(&1, {:stop, {:shutdown, :asked}})),
            run.(&gs.cast(&1, :raise)),
            run.(&gs.call(&1, {:stop, :normal})),
            catch_exit(gs.stop(dead)),
            catch_exit(gs.stop(:nobody_here, :normal, 100))
          ]
        end)

      assert result == [
               {:ok, {:terminate, :shutdown}, :shutdown},
               {:ok, {:terminate, {:shutdown, :asked}}, {:shutdown, :asked}},
               {:ok, {:terminate, {%RuntimeError{message: "cast boom"}, :stack}},
                {%RuntimeError{message: "cast boom"}, :stack}},
               {:stopping, {:terminate, :normal}, :normal},
               {:noproc, {GenServer, :stop, [:pid, :normal, :infinity]}},
               {:noproc, {GenServer, :stop, [:nobody_here, :normal, 100]}}
             ]
    end

    test "a stop whose terminate/2 raises exits with the crash" do
      assert same(fn gs ->
               {:ok, pid} = gs.start(Kv, {{:ok, 0}, nil})
               catch_exit(gs.stop(pid, :crash_terminate))
             end) ==
               {{%RuntimeError{message: "terminate failed"}, :stack},
                {GenServer, :stop, [:pid, :crash_terminate, :infinity]}}
    end

    test "the parent's exit stops a trapping server through terminate/2, others die by it" do
      result =
        same(fn gs ->
          me = self()

          parent_of = fn mode, how ->
            Lockstep.spawn(fn ->
              {:ok, pid} = gs.start_link(Kv, {mode, me})
              Lockstep.send(me, {:server, self(), pid})
              Lockstep.recv()
              exit(how)
            end)
          end

          watch = fn parent ->
            {:server, ^parent, pid} = next(&match?({:server, ^parent, _}, &1))
            ref = Lockstep.monitor(pid)
            Lockstep.send(parent, :go)
            ref
          end

          trapping = parent_of.({:trap, 0}, :shutdown)
          r1 = watch.(trapping)
          t1 = next(&match?({:terminate, _}, &1))
          d1 = down(r1)

          plain = parent_of.({:ok, 0}, :boom)
          d2 = down(watch.(plain))
          Lockstep.send(self(), :marker)
          after_down = next(&(&1 == :marker or match?({:terminate, _}, &1)))

          [t1, d1, d2, after_down]
        end)

      assert result == [{:terminate, :shutdown}, :shutdown, :boom, :marker]
    end

    test "a trapping server sees other processes' exits as info" do
      assert same(fn gs ->
               me = self()
               {:ok, pid} = gs.start(Kv, {{:trap, 0}, me})
               Lockstep.send(pid, :hello)
               info = next(&match?({:info, _}, &1))
               :ok = gs.stop(pid)
               info
             end) == {:info, :hello}

      assert same(fn gs ->
               {:ok, pid} = gs.start(Kv, {{:trap, 0}, self()})
               Lockstep.exit(pid, :please)
               info = next(&match?({:info, _}, &1))
               :ok = gs.stop(pid)
               info
             end) == {:info, {:EXIT, :pid, :please}}
    end

    test "names: atoms, {:global, _} and {:via, Lockstep.Global, _}" do
      result =
        same(fn gs ->
          names = [:diff_named, {:global, {:diff, 1}}, {:via, Lockstep.Global, {:diff, 2}}]

          for {name, n} <- Enum.with_index(names) do
            {:ok, pid} = gs.start(Kv, {{:ok, n}, nil}, name: name)
            :ok = gs.cast(name, {:add, 10})
            got = gs.call(name, :get)
            {:error, {:already_started, other}} = gs.start(Kv, {{:ok, n}, nil}, name: name)
            found = gs.whereis(name)
            :ok = gs.stop(name)
            gone = catch_exit(gs.call(name, :get))
            # :global forgets a dead process asynchronously; a run does it at once.
            wait_until_free(gs, name)
            {got, other == pid, found == pid, gone}
          end
        end)

      assert [
               {10, true, true, {:noproc, _}},
               {11, true, true, {:noproc, _}},
               {12, true, true, {:noproc, _}}
             ] = result
    end

    test "names through {:via, Lockstep.Registry, {registry, key}}" do
      assert same(fn gs ->
               registry = :"gen_server_test_#{System.unique_integer([:positive])}"
               {:ok, _} = Lockstep.Registry.start_link(keys: :unique, name: registry)
               name = {:via, Lockstep.Registry, {registry, :counter}}
               {:ok, pid} = gs.start(Kv, {{:ok, 1}, nil}, name: name)
               :ok = gs.cast(name, {:add, 1})
               got = gs.call(name, :get)
               taken = gs.start(Kv, {{:ok, 1}, nil}, name: name)
               :ok = gs.stop(name)

               {got, taken == {:error, {:already_started, pid}},
                elem(catch_exit(gs.call(name, :get)), 0)}
             end) == {2, true, :noproc}
    end

    test "a bad name raises ArgumentError, as GenServer does" do
      start = fn -> Lockstep.GenServer.start(Kv, {{:ok, 0}, nil}, name: "x") end
      assert_raise ArgumentError, start
      assert %ArgumentError{} = bug(start).exception
    end

    test "timeouts from init and from replies reach handle_info(:timeout, _)" do
      assert same(fn gs ->
               {:ok, pid} = gs.start(Kv, {{:timeout, 3, 20}, self()})
               first = next(&match?({:timeout_fired, _}, &1))
               :ok = gs.call(pid, {:reply_timeout, 15})
               second = next(&match?({:timeout_fired, _}, &1))
               [first, second]
             end) == [{:timeout_fired, 3}, {:timeout_fired, 3}]
    end

    test "child_spec start: a supervisor-like parent starts Mod.start_link/1 and shuts it down" do
      assert same(fn _gs ->
               Lockstep.flag(:trap_exit, true)
               %{start: {m, f, a}} = Kv.child_spec({{:trap, 0}, self()})
               {:ok, pid} = apply(m, f, a)
               Lockstep.exit(pid, :shutdown)
               t = next(&match?({:terminate, _}, &1))
               {:EXIT, ^pid, reason} = next(&match?({:EXIT, ^pid, _}, &1))
               {t, reason}
             end) == {{:terminate, :shutdown}, :shutdown}
    end
  end

  describe "inside a run" do
    test "the server is a managed process and registers in the run" do
      assert {[:kv], true, [], :undefined} =
               inside(fn ->
                 {:ok, pid} = Lockstep.GenServer.start_link(Kv, {{:ok, 0}, nil}, name: :kv)
                 names = Lockstep.Process.registered()
                 managed = Lockstep.alive?(pid)
                 :ok = Lockstep.GenServer.stop(pid)
                 {names, managed, Lockstep.Process.registered(), Lockstep.Gen.whereis(:kv)}
               end)
    end

    test "a server outside the run is called and stopped as by GenServer" do
      {:ok, outside} = GenServer.start(Kv, {{:ok, 41}, nil})

      assert {42, :ok} =
               inside(fn ->
                 {Lockstep.GenServer.call(outside, {:add, 1}), Lockstep.GenServer.stop(outside)}
               end)

      refute Process.alive?(outside)
    end

    test "the same seed gives the same schedule" do
      workload = fn ->
        {:ok, pid} = Lockstep.GenServer.start_link(Kv, {{:ok, 0}, nil})
        me = self()

        for k <- 1..3 do
          Lockstep.spawn(fn -> Lockstep.send(me, Lockstep.GenServer.call(pid, {:add, k})) end)
        end

        for _ <- 1..3, do: Lockstep.recv()
        Lockstep.GenServer.stop(pid)
      end

      cfg = Lockstep.Runner.config!([seed: 11, verbose: true], "determinism")
      runs = for i <- 0..5, do: Lockstep.Runner.run_once(workload, cfg, i)
      assert runs == for(i <- 0..5, do: Lockstep.Runner.run_once(workload, cfg, i))
      assert length(Enum.uniq(runs)) > 1
    end

    test "a message arriving first cancels a reply timeout" do
      assert {[], 1} =
               inside(fn ->
                 {:ok, pid} = Lockstep.GenServer.start(Kv, {{:ok, 0}, self()})
                 :ok = Lockstep.GenServer.call(pid, {:reply_timeout, 50})
                 :ok = Lockstep.GenServer.cast(pid, {:add, 1})
                 Lockstep.sleep(100)
                 fired = for {:ok, m} <- [Lockstep.recv(0)], do: m
                 {fired, Lockstep.GenServer.call(pid, :get)}
               end)
    end

    test "a call's timeout racing the reply: both outcomes happen across schedules" do
      scenario = fn ->
        # A backend that never answers: the front's own 100 ms timeout ends its call at the
        # very moment the client's 100 ms timeout ends the client's.
        backend = Lockstep.spawn(fn -> Lockstep.sleep(:infinity) end)
        {:ok, front} = Lockstep.GenServer.start(Kv, {{:ok, 0}, nil})

        try do
          Lockstep.GenServer.call(front, {:slow, backend, 100}, 100)
        catch
          :exit, {:timeout, _} -> :timed_out
        end
      end

      outcomes = under_lockstep(scenario, iterations: 40)
      assert :unavailable in outcomes
      assert :timed_out in outcomes

      bug =
        bug(
          fn -> assert scenario.() == :unavailable end,
          iterations: 100
        )

      assert %Lockstep.BugFound{} = bug
      assert {:exception, _} = bug.reason
    end
  end

  describe "outside a run" do
    test "every function is GenServer's" do
      {:ok, pid} = Lockstep.GenServer.start_link(Kv, {{:ok, 4}, nil}, name: :kv_plain)
      assert Lockstep.GenServer.whereis(:kv_plain) == pid
      assert :sys.get_state(pid).n == 4
      assert Lockstep.GenServer.call(:kv_plain, {:add, 1}) == 5
      assert Lockstep.GenServer.cast(pid, {:add, 1}) == :ok
      assert GenServer.call(pid, :get) == 6
      assert :ok = Lockstep.GenServer.stop(pid)
      refute Process.alive?(pid)
    end
  end
end

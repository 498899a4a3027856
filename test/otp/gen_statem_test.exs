defmodule Lockstep.GenStatemTest do
  # Names are VM-wide for the plain runs, so these tests do not run concurrently.
  use ExUnit.Case, async: false

  # Real OTP logs the crashes these tests cause on purpose.
  @moduletag :capture_log

  import Lockstep.OtpDiff
  import Lockstep.TestHelpers

  alias Lockstep.TestServers.{Door, Machine}

  defp same(scenario, opts \\ []),
    do: assert_same(scenario, :gen_statem, Lockstep.GenStatem, opts)

  defp timed_out, do: next(&match?({:timed_out, _, _}, &1))

  describe "same observable behaviour as :gen_statem" do
    test "init results" do
      result =
        same(fn sm ->
          Lockstep.flag(:trap_exit, true)
          {:ok, booted} = sm.start(Machine, {:actions, nil}, [])
          {:ok, named} = sm.start({:local, :sm_diff}, Machine, {:ok, nil}, [])
          taken = sm.start({:local, :sm_diff}, Machine, {:ok, nil}, [])
          :ok = sm.stop(named)

          [
            sm.call(booted, :log),
            taken == {:error, {:already_started, named}},
            sm.start(Machine, {:stop, :no}, []),
            sm.start(Machine, :ignore, []),
            sm.start(Machine, :bad, []),
            sm.start(Machine, :raise, []),
            sm.start_link(Machine, :raise, []),
            exit_reason()
          ]
        end)

      assert result == [
               [{:internal, :boot}],
               true,
               {:error, :no},
               :ignore,
               {:error, {:bad_return_from_init, {:what, :ever}}},
               {:error, %RuntimeError{message: "statem init failed"}},
               {:error, %RuntimeError{message: "statem init failed"}},
               {%RuntimeError{message: "statem init failed"}, :stack}
             ]
    end

    test "state functions with enter calls, repeat_state, postpone and a state timeout" do
      result =
        same(fn sm ->
          me = self()
          {:ok, door} = sm.start_link({:local, :door_diff}, Door, {[1, 2, 3], me}, [])
          enter = fn -> next(&match?({:enter, _, _}, &1)) end
          e0 = enter.()
          r1 = sm.call(:door_diff, {:button, 1})
          r2 = sm.call(door, {:button, 9})
          e1 = enter.()
          r3 = for digit <- [1, 2, 3], do: sm.call(door, {:button, digit})
          e2 = enter.()
          :ok = sm.cast(door, {:button, 7})
          :relocking = next(&(&1 == :relocking))
          e3 = enter.()
          opened = sm.call(door, :opened)
          Lockstep.send(door, :ping)
          info = next(&match?({:info, _}, &1))
          bye = sm.call(door, :stop)
          terminated = next(&match?({:terminate, _, _}, &1))
          [e0, r1, r2, e1, r3, e2, e3, opened, info, bye, terminated]
        end)

      assert result == [
               {:enter, :locked, :locked},
               :more,
               :wrong,
               {:enter, :locked, :locked},
               [:more, :more, :open],
               {:enter, :open, :locked},
               {:enter, :locked, :open},
               {1, [7]},
               {:info, :ping},
               :bye,
               {:terminate, :normal, :locked}
             ]
    end

    test "event, generic and state timeouts: fire, cancel, update, zero" do
      result =
        same(fn sm ->
          {:ok, m} = sm.start(Machine, {:ok, self()}, [])
          :ok = sm.call(m, {:event_timeout, 20})
          t1 = timed_out()
          :ok = sm.call(m, {:generic, :a, 30})
          :ok = sm.call(m, {:generic, :b, 10})
          t2 = timed_out()
          t3 = timed_out()
          :ok = sm.call(m, {:generic, :c, 10})
          :ok = sm.call(m, {:cancel, :c})
          :ok = sm.call(m, {:generic, :d, 20})
          :ok = sm.call(m, {:update, :d})
          t4 = timed_out()
          :ok = sm.call(m, :zero)
          t5 = timed_out()
          :ok = sm.call(m, {:state_timeout, 20})
          :ok = sm.call(m, {:goto, :elsewhere})
          :ok = sm.call(m, {:generic, :e, 40})
          t6 = timed_out()
          log = sm.call(m, :log)
          :ok = sm.stop(m)
          [t1, t2, t3, t4, t5, t6, log]
        end)

      assert result == [
               {:timed_out, :timeout, 20},
               {:timed_out, {:timeout, :b}, {:fired, :b}},
               {:timed_out, {:timeout, :a}, {:fired, :a}},
               {:timed_out, {:timeout, :d}, {:updated, :d}},
               {:timed_out, :state_timeout, :zero},
               {:timed_out, {:timeout, :e}, {:fired, :e}},
               [
                 {:timeout, 20},
                 {{:timeout, :b}, {:fired, :b}},
                 {{:timeout, :a}, {:fired, :a}},
                 {{:timeout, :d}, {:updated, :d}},
                 {:internal, :first},
                 {:state_timeout, :zero},
                 {:goto, :elsewhere},
                 {{:timeout, :e}, {:fired, :e}}
               ]
             ]
    end

    test "a state timeout that fired during a callback is dropped when the state changes" do
      assert same(fn sm ->
               {:ok, m} = sm.start(Machine, {:ok, self()}, [])
               :ok = sm.call(m, {:state_timeout, 10})
               :ok = sm.call(m, {:slow_goto, :elsewhere, 30})
               :ok = sm.call(m, {:generic, :after, 20})
               t = timed_out()
               {t, sm.call(m, :log)}
             end) ==
               {{:timed_out, {:timeout, :after}, {:fired, :after}},
                [{:goto, :elsewhere}, {{:timeout, :after}, {:fired, :after}}]}
    end

    test "next_event, postpone until a state change, repeat_state and thrown results" do
      assert same(fn sm ->
               {:ok, m} = sm.start(Machine, {:ok, nil}, [])
               :ok = sm.call(m, {:next_events, [:x, :y]})
               for cast <- [:busy, {:job, 1}, {:job, 2}, :free, {:job, 3}], do: sm.cast(m, cast)
               :ok = sm.call(m, :repeat)
               thrown = sm.call(m, {:throw, :thrown})
               state = sm.call(m, :state)
               log = sm.call(m, :log)
               :ok = sm.stop(m, :shutdown, 1000)
               {thrown, state, log}
             end) ==
               {:thrown, :idle,
                [
                  {:internal, :x},
                  {:internal, :y},
                  :busy,
                  :free,
                  {:job, 1},
                  {:job, 2},
                  {:job, 3},
                  :repeat
                ]}
    end

    test "crashes, bad results, stops and calls to dead or unknown machines" do
      result =
        same(fn sm ->
          me = self()

          run = fn request ->
            {:ok, m} = sm.start(Machine, {:ok, me}, [])
            ref = Lockstep.monitor(m)
            exited = catch_exit(sm.call(m, request))
            {exited, next(&match?({:terminate, _, _}, &1)), down(ref)}
          end

          {:ok, quiet} = sm.start(Machine, {:ok, nil}, [])

          [
            run.(:crash),
            run.(:bad),
            run.(:bad_action),
            run.({:stop, :shutdown}),
            catch_exit(sm.call(quiet, :silent, 30)),
            catch_exit(sm.call(quiet, :silent, {:dirty_timeout, 30})),
            sm.stop(quiet),
            catch_exit(sm.stop(quiet)),
            catch_exit(sm.call(quiet, :log)),
            catch_exit(sm.call(:nobody_sm, :log, 50)),
            catch_exit(sm.stop(:nobody_sm))
          ]
        end)

      boom = %RuntimeError{message: "statem boom"}

      assert result == [
               {{{boom, :stack}, {:gen_statem, :call, [:pid, :crash, :infinity]}},
                {:terminate, boom, :idle}, {boom, :stack}},
               {{{{:bad_return_from_state_function, :nonsense}, :stack},
                 {:gen_statem, :call, [:pid, :bad, :infinity]}},
                {:terminate, {:bad_return_from_state_function, :nonsense}, :idle},
                {{:bad_return_from_state_function, :nonsense}, :stack}},
               {{{{:bad_action_from_state_function, :bogus}, :stack},
                 {:gen_statem, :call, [:pid, :bad_action, :infinity]}},
                {:terminate, {:bad_action_from_state_function, :bogus}, :idle},
                {{:bad_action_from_state_function, :bogus}, :stack}},
               {{:shutdown, {:gen_statem, :call, [:pid, {:stop, :shutdown}, :infinity]}},
                {:terminate, :shutdown, :idle}, :shutdown},
               {:timeout, {:gen_statem, :call, [:pid, :silent, 30]}},
               {:timeout, {:gen_statem, :call, [:pid, :silent, {:dirty_timeout, 30}]}},
               :ok,
               :noproc,
               {:noproc, {:gen_statem, :call, [:pid, :log, :infinity]}},
               {:noproc, {:gen_statem, :call, [:nobody_sm, :log, 50]}},
               :noproc
             ]
    end
  end

  describe "inside a run" do
    test "any event cancels an event timeout" do
      assert [:ok, {:state_timeout, :st}] =
               inside(fn ->
                 {:ok, m} = Lockstep.GenStatem.start(Machine, {:ok, self()}, [])
                 :ok = Lockstep.GenStatem.call(m, {:event_timeout, 20})
                 :ok = Lockstep.GenStatem.cast(m, :nothing)
                 :ok = Lockstep.GenStatem.call(m, {:state_timeout, 50})
                 Lockstep.sleep(100)
                 log = Lockstep.GenStatem.call(m, :log)
                 [:ok | Enum.reject(log, &match?({:cast, _}, &1))]
               end)
    end

    test "absolute timeouts run on the virtual clock" do
      assert {:ok, 250} =
               inside(fn ->
                 {:ok, m} = Lockstep.GenStatem.start(Machine, {:ok, self()}, [])
                 Lockstep.sleep(50)
                 :ok = Lockstep.GenStatem.call(m, {:abs_timeout, 250})
                 {:timed_out, {:timeout, :abs}, :abs} = Lockstep.recv()
                 {:ok, Lockstep.now()}
               end)
    end

    test "{:global, name} names and stop/3 through terminate/3" do
      assert {:more, {:terminate, :shutdown, :locked}, :undefined} =
               inside(fn ->
                 {:ok, _} = Lockstep.GenStatem.start({:global, :door}, Door, {[1, 2], self()}, [])

                 more = Lockstep.GenStatem.call({:global, :door}, {:button, 1})
                 :ok = Lockstep.GenStatem.stop({:global, :door}, :shutdown, 1000)
                 terminated = Lockstep.recv_first(&match?({:terminate, _, _}, &1))
                 {more, terminated, Lockstep.Global.whereis_name(:door)}
               end)
    end
  end

  test "outside a run every function is :gen_statem's" do
    {:ok, pid} = Lockstep.GenStatem.start_link(Machine, {:ok, nil}, [])
    assert {:idle, %{log: []}} = :sys.get_state(pid)
    assert Lockstep.GenStatem.call(pid, {:goto, :busy}) == :ok
    assert :gen_statem.call(pid, :state) == :busy
    assert :ok = Lockstep.GenStatem.cast(pid, :free)
    assert Lockstep.GenStatem.call(pid, :state) == :idle
    assert :ok = Lockstep.GenStatem.stop(pid)
  end
end

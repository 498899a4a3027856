defmodule Lockstep.SupervisorTest do
  use ExUnit.Case, async: true

  import Lockstep.OTPCase

  alias Lockstep.Fixtures.{ModSup, Worker}
  alias Lockstep.Supervisor, as: Sup

  defp worker(id, opts \\ []), do: {Worker, [id: id] ++ opts}

  defp pid_of(sup, id) do
    {^id, pid, _, _} = List.keyfind(Sup.which_children(sup), id, 0)
    pid
  end

  # Sends an exit signal (or a cast asking the worker to exit) and waits for the DOWN.
  defp stop_child(pid, how) do
    ref = Lockstep.monitor(pid)

    case how do
      {:exit, reason} -> Lockstep.exit(pid, reason)
      {:self, reason} -> Lockstep.Gen.cast(pid, {:exit, reason})
    end

    {:DOWN, ^ref, _, _, reason} = Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
    reason
  end

  defp next(pattern?), do: Lockstep.recv_first(pattern?)

  defp terminating, do: next(&match?({:terminating, _, _}, &1))
  defp started, do: next(&match?({:started, _, _}, &1))

  describe "strategies, compared with OTP" do
    test "one_for_one restarts only the child that exited" do
      result =
        same_as_otp(fn ->
          {:ok, sup} =
            Sup.start_link([worker(:a), worker(:b), worker(:c)], strategy: :one_for_one)

          before = Sup.which_children(sup)
          reason = stop_child(pid_of(sup, :b), {:exit, :kill})
          later = Sup.which_children(sup)
          counts = Sup.count_children(sup)
          :ok = Sup.stop(sup)
          {before, reason, later, counts}
        end)

      assert {[{:c, {:pid, 0}, :worker, [Worker]}, {:b, {:pid, 1}, _, _}, {:a, {:pid, 2}, _, _}],
              :killed, [{:c, {:pid, 0}, _, _}, {:b, {:pid, 3}, _, _}, {:a, {:pid, 2}, _, _}],
              %{specs: 3, active: 3, workers: 3, supervisors: 0}} = result
    end

    test "one_for_all terminates the others in reverse start order and restarts all" do
      result =
        same_as_otp(fn ->
          me = self()
          children = for id <- [:a, :b, :c], do: worker(id, notify: me)
          {:ok, sup} = Sup.start_link(children, strategy: :one_for_all)
          first = Enum.sort(for _ <- 1..3, do: elem(started(), 1))
          before = Sup.which_children(sup)
          killed = stop_child(pid_of(sup, :b), {:exit, :kill})
          order = for _ <- 1..2, do: terminating()
          restarted = Enum.sort(for _ <- 1..3, do: elem(started(), 1))
          later = Sup.which_children(sup)
          Lockstep.unlink(sup)
          :ok = Sup.stop(sup, :shutdown)
          final = for _ <- 1..3, do: terminating()
          {first, before, killed, order, restarted, later, final}
        end)

      assert {[:a, :b, :c], [{:c, {:pid, 0}, _, _}, {:b, {:pid, 1}, _, _}, {:a, {:pid, 2}, _, _}],
              :killed, [{:terminating, :c, :shutdown}, {:terminating, :a, :shutdown}],
              [:a, :b, :c], [{:c, {:pid, 3}, _, _}, {:b, {:pid, 4}, _, _}, {:a, {:pid, 5}, _, _}],
              [
                {:terminating, :c, :shutdown},
                {:terminating, :b, :shutdown},
                {:terminating, :a, :shutdown}
              ]} = result
    end

    test "rest_for_one restarts the child and those started after it" do
      result =
        same_as_otp(fn ->
          me = self()
          children = for id <- [:a, :b, :c, :d], do: worker(id, notify: me)
          {:ok, sup} = Sup.start_link(children, strategy: :rest_for_one)
          for _ <- 1..4, do: started()
          before = Sup.which_children(sup)
          killed = stop_child(pid_of(sup, :b), {:exit, :kill})
          order = for _ <- 1..2, do: terminating()
          restarted = Enum.sort(for _ <- 1..3, do: elem(started(), 1))
          later = Sup.which_children(sup)
          :ok = Sup.stop(sup)
          {before, killed, order, restarted, later}
        end)

      assert {[
                {:d, {:pid, 0}, _, _},
                {:c, {:pid, 1}, _, _},
                {:b, {:pid, 2}, _, _},
                {:a, {:pid, 3}, _, _}
              ], :killed, [{:terminating, :d, :shutdown}, {:terminating, :c, :shutdown}],
              [:b, :c, :d],
              [
                {:d, {:pid, 4}, _, _},
                {:c, {:pid, 5}, _, _},
                {:b, {:pid, 6}, _, _},
                {:a, {:pid, 3}, _, _}
              ]} = result
    end
  end

  describe "restart types, compared with OTP" do
    for restart <- [:permanent, :transient, :temporary],
        reason <- [:normal, :shutdown, {:shutdown, :done}, :boom] do
      test "a #{restart} child exiting with #{inspect(reason)}" do
        restart = unquote(restart)
        reason = unquote(Macro.escape(reason))

        result =
          same_as_otp(
            fn ->
              {:ok, sup} =
                Sup.start_link([worker(:w, restart: restart), worker(:other)],
                  strategy: :one_for_one
                )

              before = Sup.which_children(sup)
              down = stop_child(pid_of(sup, :w), {:self, reason})
              later = Sup.which_children(sup)
              counts = Sup.count_children(sup)
              :ok = Sup.stop(sup)
              {before, down, later, counts}
            end,
            allow_crashes: true
          )

        {[{:other, other, _, _}, {:w, old, _, _}], ^reason, later, counts} = result

        case expected_outcome(restart, reason) do
          :restarted ->
            assert [{:other, ^other, _, _}, {:w, {:pid, new}, _, _}] = later
            assert {:pid, new} != old
            assert counts == %{specs: 2, active: 2, workers: 2, supervisors: 0}

          :removed ->
            assert [{:other, ^other, _, _}] = later
            assert counts == %{specs: 1, active: 1, workers: 1, supervisors: 0}

          :stopped ->
            assert [{:other, ^other, _, _}, {:w, :undefined, _, _}] = later
            assert counts == %{specs: 2, active: 1, workers: 2, supervisors: 0}
        end
      end
    end
  end

  # OTP's rule: permanent children always come back, transient ones after an abnormal exit;
  # a temporary child's spec is removed, a stopped transient one is kept.
  defp expected_outcome(:permanent, _reason), do: :restarted
  defp expected_outcome(:temporary, _reason), do: :removed

  defp expected_outcome(:transient, reason) do
    if reason in [:normal, :shutdown, {:shutdown, :done}], do: :stopped, else: :restarted
  end

  describe "restart intensity" do
    test "exceeding it stops the supervisor with :shutdown after terminating the children" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)
            me = self()

            {:ok, sup} =
              Sup.start_link([worker(:a, notify: me), worker(:b)],
                strategy: :one_for_one,
                max_restarts: 2
              )

            mref = Lockstep.monitor(sup)
            crashes = for _ <- 1..3, do: stop_child(pid_of(sup, :b), {:self, :boom})

            {:DOWN, ^mref, _, _, sup_reason} = next(&match?({:DOWN, ^mref, _, _, _}, &1))

            {:EXIT, ^sup, exit_reason} = next(&match?({:EXIT, ^sup, _}, &1))
            {crashes, terminating(), sup_reason, exit_reason}
          end,
          allow_crashes: true
        )

      assert result ==
               {[:boom, :boom, :boom], {:terminating, :a, :shutdown}, :shutdown, :shutdown}
    end

    test "restarts spaced on the virtual clock leave the window" do
      result =
        inside_all(
          fn ->
            Lockstep.flag(:trap_exit, true)

            {:ok, sup} =
              Sup.start_link([worker(:b)], strategy: :one_for_one, max_restarts: 1, max_seconds: 1)

            mref = Lockstep.monitor(sup)
            stop_child(pid_of(sup, :b), {:self, :boom})
            Lockstep.sleep(2_500)
            stop_child(pid_of(sup, :b), {:self, :boom})
            alive_after_spaced = Lockstep.alive?(sup)
            stop_child(pid_of(sup, :b), {:self, :boom})
            {:DOWN, ^mref, _, _, reason} = next(&match?({:DOWN, ^mref, _, _, _}, &1))
            {alive_after_spaced, reason, Lockstep.now()}
          end,
          allow_crashes: true
        )

      assert Enum.uniq(result) == [{true, :shutdown, 2_500}]
    end
  end

  describe "managing children, compared with OTP" do
    test "start_child, terminate_child, restart_child, delete_child and their errors" do
      result =
        same_as_otp(fn ->
          {:ok, sup} =
            Sup.start_link([worker(:a), worker(:b, restart: :temporary)], strategy: :one_for_one)

          a = pid_of(sup, :a)

          steps = [
            Sup.start_child(sup, worker(:a)),
            Sup.terminate_child(sup, :a),
            Sup.which_children(sup),
            Sup.start_child(sup, worker(:a)),
            Sup.restart_child(sup, :a),
            Sup.restart_child(sup, :a),
            Sup.delete_child(sup, :a),
            Sup.terminate_child(sup, :a),
            Sup.delete_child(sup, :a),
            Sup.delete_child(sup, :a),
            Sup.terminate_child(sup, :b),
            Sup.which_children(sup),
            Sup.restart_child(sup, :nope),
            Sup.terminate_child(sup, :nope),
            Sup.start_child(sup, %{id: :x, start: {Worker, :start_link, [[start: :ignore]]}}),
            Sup.start_child(sup, %{
              id: :t,
              start: {Worker, :start_link, [[start: :ignore]]},
              restart: :temporary
            }),
            Sup.start_child(sup, %{id: :y, start: {Worker, :start_link, [[start: {:error, :no}]]}}),
            Sup.start_child(sup, %{id: :z, start: :bad}),
            Sup.start_child(sup, %{id: :z, start: {Worker, :start_link, []}, restart: :sometimes}),
            Sup.start_child(sup, %{id: :z, start: {Worker, :start_link, []}, shutdown: -1}),
            Sup.start_child(sup, Sup.child_spec(worker(:c), id: :c2, shutdown: :brutal_kill)),
            Sup.which_children(sup),
            Sup.count_children(sup)
          ]

          :ok = Sup.stop(sup)
          {a, steps}
        end)

      assert {{:pid, 0},
              [
                {:error, {:already_started, {:pid, 0}}},
                :ok,
                [{:b, {:pid, 1}, :worker, [Worker]}, {:a, :undefined, :worker, [Worker]}],
                {:error, :already_present},
                {:ok, {:pid, 2}},
                {:error, :running},
                {:error, :running},
                :ok,
                :ok,
                {:error, :not_found},
                :ok,
                [],
                {:error, :not_found},
                {:error, :not_found},
                {:ok, :undefined},
                {:ok, :undefined},
                {:error,
                 {:no,
                  {:child, :undefined, :y, {Worker, :start_link, [[start: {:error, :no}]]},
                   :permanent, false, 5000, :worker, [Worker]}}},
                {:error, {:invalid_mfa, :bad}},
                {:error, {:invalid_restart_type, :sometimes}},
                {:error, {:invalid_shutdown, -1}},
                {:ok, {:pid, 3}},
                [{:c2, {:pid, 3}, :worker, [Worker]}, {:x, :undefined, :worker, [Worker]}],
                %{specs: 2, active: 1, workers: 2, supervisors: 0}
              ]} = result
    end

    test "calls to a supervisor that is gone exit like GenServer calls" do
      result =
        same_as_otp(fn ->
          {:ok, sup} = Sup.start_link([], strategy: :one_for_one)
          :ok = Sup.stop(sup)
          {catch_exit(Sup.which_children(sup)), catch_exit(Sup.stop(sup))}
        end)

      assert {{:noproc, {GenServer, :call, [{:pid, 0}, :which_children, :infinity]}},
              {:noproc, {GenServer, :stop, [{:pid, 0}, :normal, :infinity]}}} = result
    end
  end

  describe "starting and stopping, compared with OTP" do
    test "a child that fails to start fails the start and stops the others" do
      result =
        same_as_otp(fn ->
          Lockstep.flag(:trap_exit, true)
          me = self()

          children = [
            worker(:a, notify: me),
            worker(:b, start: {:error, :nope}),
            worker(:c, notify: me)
          ]

          started = Sup.start_link(children, strategy: :one_for_one)
          {:EXIT, _, reason} = next(&match?({:EXIT, _, _}, &1))
          {started, started(), terminating(), reason}
        end)

      assert {{:error, {:shutdown, {:failed_to_start_child, :b, :nope}}}, {:started, :a, _},
              {:terminating, :a, :shutdown},
              {:shutdown, {:failed_to_start_child, :b, :nope}}} = result
    end

    test "names: a taken name, calls by name, duplicate ids" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)
            {:ok, sup} = Sup.start_link([worker(:a)], strategy: :one_for_one, name: :named_sup)
            again = Sup.start_link([], strategy: :one_for_one, name: :named_sup)
            by_name = Sup.which_children(:named_sup)
            dup = Sup.start_link([worker(:a), worker(:a)], strategy: :one_for_one)
            :ok = Sup.stop(:named_sup)
            {sup, again, by_name, dup}
          end,
          allow_crashes: true
        )

      assert {{:pid, 0}, {:error, {:already_started, {:pid, 0}}}, [{:a, {:pid, 1}, _, _}],
              {:error, {:start_spec, {:duplicate_child_name, :a}}}} = result
    end

    test "module-based supervisors: children, :ignore and a bad init return" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)

            {:ok, sup} = ModSup.start_link({:children, [worker(:a)], strategy: :one_for_all})

            children = Sup.which_children(sup)
            :ok = Sup.stop(sup)
            ignored = ModSup.start_link({:return, :ignore})
            bad = ModSup.start_link({:return, :oops})
            flags = ModSup.start_link({:return, {:ok, {%{strategy: :one_for_some}, []}}})
            {children, ignored, bad, flags}
          end,
          allow_crashes: true
        )

      assert {[{:a, {:pid, 0}, :worker, [Worker]}], :ignore,
              {:error, {:bad_return, {ModSup, :init, :oops}}},
              {:error, {:supervisor_data, {:invalid_strategy, :one_for_some}}}} = result
    end

    @tag :capture_log
    test "module-based supervisors: an init that raises, exits or throws" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)

            {ModSup.start_link({:fail, :raise}), ModSup.start_link({:fail, :exit}),
             ModSup.start_link({:fail, {:throw, :oops}}),
             ModSup.start_link({:fail, {:throw, :ignore}}),
             ModSup.start_link({:fail, {:throw, {:stop, :thrown_stop}}})}
          end,
          allow_crashes: true
        )

      assert result ==
               {{:error, {%RuntimeError{message: "init failed"}, :stacktrace}},
                {:error, :init_exit}, {:error, {:bad_return_value, :oops}}, :ignore,
                {:error, :thrown_stop}}
    end

    test "shutdown: a timeout kills a child that ignores :shutdown; brutal_kill kills" do
      result =
        same_as_otp(fn ->
          me = self()

          children = [
            worker(:stubborn, ignore_shutdown: true, shutdown: 30),
            worker(:brutal, notify: me, shutdown: :brutal_kill),
            worker(:polite, notify: me, shutdown: :infinity)
          ]

          {:ok, sup} = Sup.start_link(children, strategy: :one_for_one)
          for _ <- 1..2, do: started()

          monitors =
            for {id, pid, _, _} <- Sup.which_children(sup), do: {id, Lockstep.monitor(pid)}

          results = for {id, _} <- monitors, do: {id, Sup.terminate_child(sup, id)}

          downs =
            for {id, ref} <- monitors do
              {:DOWN, ^ref, _, _, reason} = next(&match?({:DOWN, ^ref, _, _, _}, &1))
              {id, reason}
            end

          :ok = Sup.stop(sup)
          {results, downs, terminating()}
        end)

      assert {[polite: :ok, brutal: :ok, stubborn: :ok],
              [polite: :shutdown, brutal: :killed, stubborn: :killed],
              {:terminating, :polite, :shutdown}} = result
    end
  end

  test "auto_shutdown: a significant child's exit stops the supervisor, compared with OTP" do
    result =
      same_as_otp(
        fn ->
          Lockstep.flag(:trap_exit, true)
          significant = Worker.child_spec(id: :sig, restart: :transient, significant: true)
          flags = %{strategy: :one_for_one, auto_shutdown: :any_significant}

          {:ok, sup} =
            ModSup.start_link(
              {:return, {:ok, {flags, [Worker.child_spec(id: :other), significant]}}}
            )

          mref = Lockstep.monitor(sup)
          down = stop_child(pid_of(sup, :sig), {:self, :normal})
          {:DOWN, ^mref, _, _, reason} = next(&match?({:DOWN, ^mref, _, _, _}, &1))

          bad =
            ModSup.start_link(
              {:return, {:ok, {%{strategy: :one_for_one}, [Map.put(significant, :id, :x)]}}}
            )

          {down, reason, bad}
        end,
        allow_crashes: true
      )

    assert result ==
             {:normal, :shutdown,
              {:error,
               {:start_spec, {:bad_combination, [auto_shutdown: :never, significant: true]}}}}
  end

  test "inside a run: {:global, name} names; :simple_one_for_one starts (see simple_one_for_one_test)" do
    [result | _] =
      inside_all(
        fn ->
          Lockstep.flag(:trap_exit, true)

          {:ok, sup} =
            Sup.start_link([worker(:a)], strategy: :one_for_one, name: {:global, :gsup})

          by_name = Sup.which_children({:global, :gsup})
          again = Sup.start_link([], strategy: :one_for_one, name: {:global, :gsup})
          :ok = Sup.stop({:global, :gsup})
          flags = %{strategy: :simple_one_for_one}
          simple = ModSup.start_link({:return, {:ok, {flags, [Worker.child_spec([])]}}})
          {sup, by_name, again, simple}
        end,
        allow_crashes: true
      )

    assert {sup, [{:a, pid, :worker, [Worker]}], {:error, {:already_started, sup}}, {:ok, simple}} =
             result

    assert is_pid(simple)

    assert is_pid(pid)
  end

  test "a shutdown timeout is waited on the virtual clock" do
    [elapsed | _] =
      inside_all(fn ->
        {:ok, sup} =
          Sup.start_link([worker(:stubborn, ignore_shutdown: true, shutdown: 4_000)],
            strategy: :one_for_one
          )

        t0 = Lockstep.now()
        :ok = Sup.terminate_child(sup, :stubborn)
        Lockstep.now() - t0
      end)

    assert elapsed == 4_000
  end

  test "a restart whose start fails is retried; the child shows as :restarting meanwhile" do
    results =
      inside_all(
        fn ->
          Lockstep.flag(:trap_exit, true)
          gate = :counters.new(1, [])
          spec = %{id: :flaky, start: {Lockstep.Fixtures.Flaky, :start, [gate]}}
          {:ok, sup} = Sup.start_link([spec], strategy: :one_for_one, max_restarts: 3)
          mref = Lockstep.monitor(sup)
          stop_child(pid_of(sup, :flaky), {:exit, :kill})
          # The retries race this call: it sees the child restarting, or the supervisor gone.
          seen =
            try do
              Sup.which_children(sup)
            catch
              :exit, {reason, {GenServer, :call, _}} -> {:exited, reason}
            end

          {:DOWN, ^mref, _, _, reason} = next(&match?({:DOWN, ^mref, _, _, _}, &1))
          {seen, reason}
        end,
        iterations: 30
      )

    for {seen, reason} <- results do
      assert reason == :shutdown

      assert seen in [
               [{:flaky, :restarting, :worker, [Lockstep.Fixtures.Flaky]}],
               {:exited, :shutdown},
               {:exited, :noproc}
             ]
    end

    assert Enum.any?(results, &match?({[{:flaky, :restarting, _, _}], _}, &1))
    assert Enum.any?(results, &match?({{:exited, _}, _}, &1))
  end
end

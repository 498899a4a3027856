defmodule Lockstep.DynamicSupervisorTest do
  use ExUnit.Case, async: true

  import Lockstep.OTPCase

  alias Lockstep.DynamicSupervisor, as: DSup
  alias Lockstep.Fixtures.{ModDynSup, Worker}

  defp next(pattern?), do: Lockstep.recv_first(pattern?)

  defp down(pid, how) do
    ref = Lockstep.monitor(pid)

    case how do
      {:exit, reason} -> Lockstep.exit(pid, reason)
      {:self, reason} -> Lockstep.Gen.cast(pid, {:exit, reason})
    end

    {:DOWN, ^ref, _, _, reason} = next(&match?({:DOWN, ^ref, _, _, _}, &1))
    reason
  end

  defp pids(sup), do: for({_, pid, _, _} <- DSup.which_children(sup), do: pid)

  @doc false
  def raising_start(_opts), do: raise("cannot start")

  test "start_child, which_children, count_children, terminate_child, max_children, extra_arguments" do
    result =
      same_as_otp(fn ->
        {:ok, sup} = DSup.start_link(max_children: 3, extra_arguments: [:extra])
        {:ok, a} = DSup.start_child(sup, {Worker, id: :a})
        {:ok, b} = DSup.start_child(sup, {Worker, id: :b, restart: :temporary})

        steps = [
          DSup.which_children(sup) == [
            {:undefined, a, :worker, [Worker]},
            {:undefined, b, :worker, [Worker]}
          ],
          Lockstep.Gen.call(a, :extra, 1000),
          DSup.count_children(sup),
          DSup.start_child(sup, %{id: :x, start: {Worker, :start_link, [[start: :ignore]]}}),
          DSup.start_child(sup, %{id: :x, start: {Worker, :start_link, [[start: {:error, :no}]]}}),
          DSup.start_child(sup, %{id: :x, start: {__MODULE__, :raising_start, []}}),
          DSup.start_child(sup, %{id: :x, start: :bad}),
          DSup.start_child(sup, %{id: :x, start: {Worker, :start_link, :args}}),
          DSup.start_child(sup, %{id: :x, start: {Worker, :start_link, []}, shutdown: 0}),
          DSup.start_child(sup, %{id: :x, start: {Worker, :start_link, []}, modules: "m"}),
          DSup.start_child(sup, {:x, {Worker, :start_link, [[]]}, :permanent, 10, :worker, []}),
          DSup.start_child(sup, {Worker, id: :d}),
          DSup.count_children(sup),
          DSup.terminate_child(sup, b),
          DSup.terminate_child(sup, b),
          DSup.terminate_child(sup, self()),
          DSup.count_children(sup)
        ]

        :ok = DSup.stop(sup)
        {a, b, steps}
      end)

    assert {{:pid, 0}, {:pid, 1},
            [
              true,
              :extra,
              %{specs: 2, active: 2, workers: 2, supervisors: 0},
              :ignore,
              {:error, :no},
              {:error, {%RuntimeError{message: "cannot start"}, :stacktrace}},
              {:error, {:invalid_child_spec, %{id: :x, start: :bad}}},
              {:error, {:invalid_mfa, {Worker, :start_link, :args}}},
              {:error, {:invalid_shutdown, 0}},
              {:error, {:invalid_modules, "m"}},
              {:ok, {:pid, 2}},
              {:error, :max_children},
              %{specs: 3, active: 3, workers: 3, supervisors: 0},
              :ok,
              {:error, :not_found},
              {:error, :not_found},
              %{specs: 2, active: 2, workers: 2, supervisors: 0}
            ]} = result
  end

  test "restarts follow the restart type" do
    result =
      same_as_otp(
        fn ->
          {:ok, sup} = DSup.start_link(strategy: :one_for_one)
          {:ok, perm} = DSup.start_child(sup, {Worker, id: :p})
          {:ok, trans} = DSup.start_child(sup, {Worker, id: :t, restart: :transient})
          {:ok, trans2} = DSup.start_child(sup, {Worker, id: :t2, restart: :transient})
          {:ok, temp} = DSup.start_child(sup, {Worker, id: :x, restart: :temporary})

          reasons = [
            down(perm, {:self, :normal}),
            down(trans, {:self, :normal}),
            down(trans2, {:self, :boom}),
            down(temp, {:self, :boom})
          ]

          children = pids(sup)
          :ok = DSup.stop(sup)
          {reasons, length(children), perm in children, trans2 in children}
        end,
        allow_crashes: true
      )

    assert result == {[:normal, :normal, :boom, :boom], 2, false, false}
  end

  defp child_with_id(sup, id) do
    Enum.find(pids(sup), &(Lockstep.Gen.call(&1, :id, 1000) == id))
  end

  test "exceeding the restart intensity stops it with :shutdown after terminating everyone" do
    result =
      same_as_otp(
        fn ->
          Lockstep.flag(:trap_exit, true)
          me = self()
          {:ok, sup} = DSup.start_link(max_restarts: 1)
          {:ok, _} = DSup.start_child(sup, {Worker, id: :a, notify: me})
          {:ok, _} = DSup.start_child(sup, {Worker, id: :b, notify: me})
          {:ok, c} = DSup.start_child(sup, {Worker, id: :c})
          for _ <- 1..2, do: next(&match?({:started, _, _}, &1))
          mref = Lockstep.monitor(sup)
          first = down(c, {:self, :boom})
          second = down(child_with_id(sup, :c), {:self, :boom})
          {:DOWN, ^mref, _, _, reason} = next(&match?({:DOWN, ^mref, _, _, _}, &1))
          terminated = Enum.sort(for _ <- 1..2, do: next(&match?({:terminating, _, _}, &1)))
          {:EXIT, ^sup, exit_reason} = next(&match?({:EXIT, ^sup, _}, &1))
          {first, second, reason, terminated, exit_reason}
        end,
        allow_crashes: true
      )

    assert result ==
             {:boom, :boom, :shutdown,
              [{:terminating, :a, :shutdown}, {:terminating, :b, :shutdown}], :shutdown}
  end

  test "shutdown: brutal_kill, a timeout that ends in a kill, :infinity" do
    result =
      same_as_otp(fn ->
        me = self()
        {:ok, sup} = DSup.start_link([])
        Lockstep.unlink(sup)

        specs = [
          {Worker, id: :stubborn, ignore_shutdown: true, shutdown: 30},
          {Worker, id: :brutal, notify: me, shutdown: :brutal_kill},
          {Worker, id: :polite, notify: me, shutdown: :infinity}
        ]

        started = for spec <- specs, do: elem(DSup.start_child(sup, spec), 1)
        for _ <- 1..2, do: next(&match?({:started, _, _}, &1))
        refs = for pid <- started, do: Lockstep.monitor(pid)
        :ok = DSup.stop(sup, :shutdown)

        downs =
          for ref <- refs do
            {:DOWN, ^ref, _, _, reason} = next(&match?({:DOWN, ^ref, _, _, _}, &1))
            reason
          end

        {downs, next(&match?({:terminating, _, _}, &1))}
      end)

    assert result == {[:killed, :killed, :shutdown], {:terminating, :polite, :shutdown}}
  end

  test "module-based: init results and flag validation" do
    result =
      same_as_otp(
        fn ->
          Lockstep.flag(:trap_exit, true)
          {:ok, sup} = ModDynSup.start_link(DSup.init(max_children: 1))
          one = DSup.start_child(sup, {Worker, id: :a})
          two = DSup.start_child(sup, {Worker, id: :b})
          :ok = DSup.stop(sup)

          {match?({:ok, _}, one), two, ModDynSup.start_link(:ignore),
           ModDynSup.start_link({:ok, %{max_children: -1}}),
           ModDynSup.start_link({:ok, %{strategy: :one_for_all}}), ModDynSup.start_link(:bad)}
        end,
        allow_crashes: true
      )

    assert result ==
             {true, {:error, :max_children}, :ignore,
              {:error, {:supervisor_data, {:invalid_max_children, -1}}},
              {:error, {:supervisor_data, {:invalid_strategy, :one_for_all}}},
              {:error, {:bad_return, {ModDynSup, :init, :bad}}}}
  end

  @tag :capture_log
  test "module-based: an init that raises, exits or throws" do
    result =
      same_as_otp(
        fn ->
          Lockstep.flag(:trap_exit, true)

          {ModDynSup.start_link({:fail, :raise}), ModDynSup.start_link({:fail, :exit}),
           ModDynSup.start_link({:fail, {:throw, :oops}}),
           ModDynSup.start_link({:fail, {:throw, :ignore}}),
           ModDynSup.start_link({:fail, {:throw, {:stop, :thrown_stop}}})}
        end,
        allow_crashes: true
      )

    assert result ==
             {{:error, {%RuntimeError{message: "init failed"}, :stacktrace}},
              {:error, :init_exit}, {:error, {:bad_return_value, :oops}}, :ignore,
              {:error, :thrown_stop}}
  end

  test "child_spec/1: the id is the name (or the module), as in DynamicSupervisor" do
    assert DSup.child_spec([]) == %{id: DSup, start: {DSup, :start_link, [[]]}, type: :supervisor}

    for name <- [:sup, {:global, :sup}, {:via, Registry, {Reg, :sup}}] do
      ours = DSup.child_spec(name: name, max_children: 2)
      assert ours.start == {DSup, :start_link, [[name: name, max_children: 2]]}
      otp = DynamicSupervisor.child_spec(name: name, max_children: 2)
      assert Map.delete(ours, :start) == Map.delete(otp, :start)
    end

    assert Lockstep.Task.Supervisor.child_spec(name: :tasks) == %{
             id: :tasks,
             start: {Lockstep.Task.Supervisor, :start_link, [[name: :tasks]]},
             type: :supervisor
           }
  end

  test "a child whose restart fails is retried and shows as :restarting" do
    results =
      inside_all(
        fn ->
          Lockstep.flag(:trap_exit, true)
          gate = :counters.new(1, [])
          {:ok, sup} = DSup.start_link(max_restarts: 3)
          spec = %{id: :flaky, start: {Lockstep.Fixtures.Flaky, :start, [gate]}}
          {:ok, pid} = DSup.start_child(sup, spec)
          mref = Lockstep.monitor(sup)
          down(pid, {:exit, :kill})

          seen =
            try do
              {DSup.which_children(sup), DSup.count_children(sup)}
            catch
              :exit, {reason, {GenServer, :call, _}} -> {:exited, reason}
            end

          {:DOWN, ^mref, _, _, reason} = next(&match?({:DOWN, ^mref, _, _, _}, &1))
          {seen, reason}
        end,
        iterations: 30
      )

    restarting =
      {[{:undefined, :restarting, :worker, [Lockstep.Fixtures.Flaky]}],
       %{specs: 1, active: 0, workers: 1, supervisors: 0}}

    for {seen, reason} <- results do
      assert reason == :shutdown
      assert seen in [restarting, {:exited, :shutdown}, {:exited, :noproc}]
    end

    assert Enum.any?(results, &match?({^restarting, _}, &1))
  end
end

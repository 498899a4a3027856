defmodule Lockstep.OTPPassthroughTest do
  # Outside a run the wrappers are plain OTP: what they start is a real supervisor or task,
  # usable through OTP's own API, and what they return is OTP's answer.
  use ExUnit.Case, async: true

  alias Lockstep.Fixtures.{ModSup, Worker}

  setup do
    refute Lockstep.managed?()
    :ok
  end

  test "Lockstep.Supervisor starts a real :supervisor" do
    {:ok, sup} =
      Lockstep.Supervisor.start_link([{Worker, id: :a}, {Worker, id: :b}], strategy: :one_for_all)

    assert {:state, _, :one_for_all, _, _, _, _, _, _, _, _, _} = :sys.get_state(sup)
    assert Lockstep.Supervisor.which_children(sup) == Supervisor.which_children(sup)
    assert Lockstep.Supervisor.count_children(sup) == Supervisor.count_children(sup)
    assert :ok = Lockstep.Supervisor.terminate_child(sup, :a)
    assert [{:b, pid, _, _}, {:a, :undefined, _, _}] = Supervisor.which_children(sup)
    assert is_pid(pid)
    assert :ok = Lockstep.Supervisor.stop(sup)
    refute Process.alive?(sup)

    {:ok, mod_sup} = ModSup.start_link({:children, [], strategy: :one_for_one})
    assert {:supervisor, ModSup, 1} = :proc_lib.translate_initial_call(mod_sup)
    assert :ok = Supervisor.stop(mod_sup)
  end

  test "Lockstep.DynamicSupervisor and Lockstep.Task.Supervisor start real dynamic supervisors" do
    {:ok, dyn} = Lockstep.DynamicSupervisor.start_link(max_children: 1)
    assert %DynamicSupervisor{max_children: 1} = :sys.get_state(dyn)
    {:ok, child} = Lockstep.DynamicSupervisor.start_child(dyn, {Worker, id: :a})
    assert DynamicSupervisor.which_children(dyn) == [{:undefined, child, :worker, [Worker]}]
    assert {:error, :max_children} = Lockstep.DynamicSupervisor.start_child(dyn, {Worker, []})
    assert :ok = DynamicSupervisor.stop(dyn)

    {:ok, tsup} = Lockstep.Task.Supervisor.start_link()
    assert %DynamicSupervisor{mod: Task.Supervisor} = :sys.get_state(tsup)
    task = Lockstep.Task.Supervisor.async_nolink(tsup, fn -> :from_task_supervisor end)
    assert Task.await(task) == :from_task_supervisor
    assert Task.Supervisor.children(tsup) == Lockstep.Task.Supervisor.children(tsup)
    assert :ok = Supervisor.stop(tsup)
  end

  test "Lockstep.Task runs real tasks" do
    task = Lockstep.Task.async(fn -> {:in, self()} end)
    assert %Task{} = task
    assert {:in, pid} = Task.await(task)
    assert pid == task.pid
    assert Lockstep.Task.await(Task.async(fn -> :plain end)) == :plain

    stream = Lockstep.Task.async_stream(1..4, &(&1 * &1), max_concurrency: 2)
    assert Enum.to_list(stream) == Enum.to_list(Task.async_stream(1..4, &(&1 * &1)))

    assert {:ok, pid} = Lockstep.Task.start(fn -> :ok end)
    assert is_pid(pid)

    sleeper = Task.async(fn -> Process.sleep(:infinity) end)

    assert {:timeout, {Task, :await, [^sleeper, 10]}} =
             catch_exit(Lockstep.Task.await(sleeper, 10))

    assert Lockstep.Task.shutdown(sleeper, :brutal_kill) == nil
  end
end

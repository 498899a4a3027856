defmodule Lockstep.ProcessNamesTest do
  use ExUnit.Case, async: true

  import Lockstep.TestHelpers

  alias Lockstep.Global

  describe "Lockstep.Process names inside a run" do
    test "register, whereis, unregister and registered see the run's names" do
      assert {[:a_child, :the_root], child, child, nil, [:the_root], [:the_root]} =
               inside(fn ->
                 me = self()
                 true = Lockstep.Process.register(me, :the_root)

                 child =
                   Lockstep.spawn(fn ->
                     Lockstep.Process.register(self(), :a_child)
                     Lockstep.send(me, :registered)
                     Lockstep.recv()
                   end)

                 :registered = Lockstep.recv()
                 names = Lockstep.Process.registered()
                 found = Lockstep.Process.whereis(:a_child)
                 true = Lockstep.Process.unregister(:a_child)
                 after_unregister = Lockstep.Process.whereis(:a_child)
                 left = Lockstep.Process.registered()
                 ref = Lockstep.Process.monitor(child)
                 Lockstep.send(child, :bye)
                 {:DOWN, ^ref, :process, ^child, :normal} = Lockstep.recv()
                 {names, child, found, after_unregister, left, Lockstep.Process.registered()}
               end)
    end

    test "a name is freed when its process ends, and errors raise as Process's do" do
      assert {[:worker], [], :taken, :not_registered} =
               inside(fn ->
                 worker = Lockstep.spawn(fn -> Lockstep.recv() end)
                 Lockstep.Process.register(worker, :worker)
                 before = Lockstep.Process.registered()
                 ref = Lockstep.Process.monitor(worker)
                 Lockstep.send(worker, :stop)
                 Lockstep.recv()
                 _ = ref

                 taken =
                   try do
                     Lockstep.Process.register(self(), :me)
                     Lockstep.Process.register(Lockstep.spawn(fn -> :ok end), :me)
                   rescue
                     ArgumentError -> :taken
                   end

                 missing =
                   try do
                     Lockstep.Process.unregister(:worker)
                   rescue
                     ArgumentError -> :not_registered
                   end

                 {before, Lockstep.Process.registered() -- [:me], taken, missing}
               end)
    end

    test "a process outside the run cannot take a name of the run, nor one of the VM" do
      outside = spawn(fn -> Process.sleep(:infinity) end)

      assert {%ArgumentError{message: local}, nil, %ArgumentError{message: global}, :undefined} =
               inside(fn ->
                 {catch_error(Lockstep.Process.register(outside, :lockstep_outside_name)),
                  Lockstep.Process.whereis(:lockstep_outside_name),
                  catch_error(Global.register_name(:lockstep_outside_name, outside)),
                  Global.whereis_name(:lockstep_outside_name)}
               end)

      assert local =~ "not the run's" and global =~ "not the run's"
      assert Process.whereis(:lockstep_outside_name) == nil
      assert :global.whereis_name(:lockstep_outside_name) == :undefined
      Process.exit(outside, :kill)
    end

    test "registered/0 outside a run is the VM's list" do
      assert :code_server in Lockstep.Process.registered()
    end
  end

  describe "Lockstep.Global" do
    test "a run has its own global name space, freed when holders end" do
      assert {:yes, :no, :yes, true, true, [:other, {:svc, 1}], :undefined, [:other], :pong} =
               inside(fn ->
                 me = self()

                 holder =
                   Lockstep.spawn(fn ->
                     Lockstep.send(me, {:got, Lockstep.recv()})
                     :bye = Lockstep.recv()
                   end)

                 first = Global.register_name({:svc, 1}, holder)
                 second = Global.register_name({:svc, 1}, me)
                 other = Global.register_name(:other, me)
                 found = Global.whereis_name({:svc, 1})
                 sent_to = Global.send({:svc, 1}, :pong)
                 names = Enum.sort(Global.registered_names())
                 {:got, got} = Lockstep.recv()
                 ref = Lockstep.monitor(holder)
                 Lockstep.send(holder, :bye)
                 {:DOWN, ^ref, _, _, _} = Lockstep.recv()
                 gone = Global.whereis_name({:svc, 1})
                 left = Global.registered_names()

                 {first, second, other, found == holder, sent_to == holder, names, gone, left,
                  got}
               end)
    end

    test "sending to a free global name exits with badarg; unregister frees a name" do
      assert {{:badarg, {:nobody, :hi}}, :undefined} =
               inside(fn ->
                 :yes = Global.register_name(:mine, self())
                 :ok = Global.unregister_name(:mine)
                 :ok = Global.unregister_name(:never_held)
                 {catch_exit(Global.send(:nobody, :hi)), Global.whereis_name(:mine)}
               end)
    end

    test "global operations are sync points in the schedule's report" do
      bug =
        bug(fn ->
          :yes = Global.register_name({:job, 7}, self())
          :no = Global.register_name({:job, 7}, Lockstep.spawn(fn -> :ok end))
          raise "stop here"
        end)

      assert bug.message =~ "registers P0 as {:global, {:job, 7}}"
      assert bug.message =~ "fails to register P1 as {:global, {:job, 7}} (taken)"
    end

    test "outside a run it is :global" do
      name = {:lockstep_process_test, make_ref()}
      assert Global.register_name(name, self()) == :yes
      assert :global.whereis_name(name) == self()
      assert Global.whereis_name(name) == self()
      assert name in Global.registered_names()
      assert Global.unregister_name(name) == :ok
      assert :global.whereis_name(name) == :undefined
    end
  end

  test "recv_first outside a run sees a message that arrives while it waits" do
    me = self()
    spawn(fn -> send(me, :late) end)
    assert Lockstep.recv_first(&(&1 == :late), 2_000) == {:ok, :late}

    spawn(fn ->
      Process.sleep(20)
      send(me, :later)
    end)

    assert Lockstep.recv_first(&(&1 == :later), 2_000) == {:ok, :later}
  end
end

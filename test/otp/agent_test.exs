defmodule Lockstep.AgentTest do
  # Names are VM-wide for the plain runs, so these tests do not run concurrently.
  use ExUnit.Case, async: false

  @moduletag :capture_log

  import Lockstep.OtpDiff

  defp same(scenario, opts \\ []), do: assert_same(scenario, Agent, Lockstep.Agent, opts)

  describe "same observable behaviour as Agent" do
    test "functions and MFA forms" do
      assert same(fn ag ->
               {:ok, a} = ag.start_link(fn -> 1 end)
               {:ok, m} = ag.start_link(Map, :new, [], name: :agent_diff)
               {:ok, s} = ag.start(fn -> :started end)
               {:ok, sm} = ag.start(Map, :new, [])

               results = [
                 ag.get(a, &(&1 * 10)),
                 ag.update(a, &(&1 + 1)),
                 ag.get_and_update(a, &{&1, &1 * 2}),
                 ag.cast(a, &(&1 + 100)),
                 ag.get(a, & &1),
                 ag.update(:agent_diff, Map, :put, [:k, 1]),
                 ag.cast(:agent_diff, Map, :put, [:j, 2]),
                 ag.get(:agent_diff, Map, :get, [:k]),
                 ag.get_and_update(:agent_diff, Map, :pop, [:j]),
                 ag.get(m, & &1),
                 ag.get(s, & &1, 1000),
                 ag.get(sm, Map, :keys, [], 1000)
               ]

               :ok = ag.stop(s)
               :ok = ag.stop(sm, :shutdown)
               results
             end) == [10, :ok, 2, :ok, 104, :ok, :ok, 1, 2, %{k: 1}, :started, []]
    end

    test "failures: a bad get_and_update, a stopped agent, a crash in the agent" do
      result =
        same(fn ag ->
          {:ok, a} = ag.start(fn -> 0 end)
          bad = catch_exit(ag.get_and_update(a, fn _ -> :oops end))
          {:ok, b} = ag.start(fn -> 0 end)
          :ok = ag.stop(b)
          stopped = catch_exit(ag.get(b, & &1))
          {:ok, c} = ag.start(fn -> 0 end)
          crash = catch_exit(ag.update(c, fn _ -> raise "agent boom" end))
          named = catch_exit(ag.get(:no_agent_here, & &1))
          {bad, stopped, crash, named}
        end)

      assert {{{:bad_return_value, :oops},
               {GenServer, :call, [:pid, {:get_and_update, _}, 5000]}},
              {:noproc, {GenServer, :call, [:pid, {:get, _}, 5000]}},
              {{%RuntimeError{message: "agent boom"}, :stack},
               {GenServer, :call, [:pid, {:update, _}, 5000]}},
              {:noproc, {GenServer, :call, [:no_agent_here, {:get, _}, 5000]}}} = result
    end

    test "init that raises and a taken name" do
      result =
        same(fn ag ->
          {:ok, a} = ag.start(fn -> 0 end, name: :agent_taken)
          taken = ag.start(fn -> 1 end, name: :agent_taken)
          raised = ag.start(fn -> raise "no state" end)
          :ok = ag.stop(a)
          {taken == {:error, {:already_started, a}}, raised}
        end)

      assert {true, {:error, {%RuntimeError{message: "no state"}, :stack}}} = result
    end
  end

  describe "a counter with get-then-update" do
    defp lost_update do
      {:ok, counter} = Lockstep.Agent.start_link(fn -> 0 end)
      me = self()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          n = Lockstep.Agent.get(counter, & &1)
          :ok = Lockstep.Agent.update(counter, fn _ -> n + 1 end)
          Lockstep.send(me, :done)
        end)
      end

      :done = Lockstep.recv()
      :done = Lockstep.recv()
      assert Lockstep.Agent.get(counter, & &1) == 2
    end

    test "loses an update: found within 100 iterations, and its schedule replays" do
      opts = [iterations: 100, seed: 2024]

      bug =
        try do
          Lockstep.Runner.run(&lost_update/0, opts)
          flunk("the lost update was not found")
        rescue
          e in Lockstep.BugFound -> e
        end

      assert {:exception, _} = bug.reason
      assert %ExUnit.AssertionError{} = bug.exception
      assert bug.iteration < 100

      cfg = Lockstep.Runner.config!(opts, "replay")
      replay = %{strategy: :replay, choices: bug.schedule}

      assert {:fail, %{category: :exception, schedule: schedule}} =
               Lockstep.Runner.run_once(&lost_update/0, cfg, bug.iteration, replay)

      assert schedule == bug.schedule
    end

    test "get_and_update has no such schedule" do
      assert :ok =
               Lockstep.Runner.run(
                 fn ->
                   {:ok, counter} = Lockstep.Agent.start_link(fn -> 0 end)
                   me = self()

                   for _ <- 1..2 do
                     Lockstep.spawn(fn ->
                       Lockstep.Agent.get_and_update(counter, &{&1, &1 + 1})
                       Lockstep.send(me, :done)
                     end)
                   end

                   :done = Lockstep.recv()
                   :done = Lockstep.recv()
                   assert Lockstep.Agent.get(counter, & &1) == 2
                 end,
                 iterations: 100,
                 seed: 2024
               )
    end
  end

  test "outside a run every function is Agent's" do
    {:ok, pid} = Lockstep.Agent.start_link(fn -> 3 end)
    assert :sys.get_state(pid) == 3
    assert Lockstep.Agent.update(pid, &(&1 + 1)) == :ok
    assert Agent.get(pid, & &1) == 4
    assert :ok = Lockstep.Agent.stop(pid)
  end
end

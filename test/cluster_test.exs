defmodule Lockstep.ClusterTest do
  use ExUnit.Case, async: true

  import Lockstep.TestHelpers
  alias Lockstep.Cluster

  alias Lockstep.Examples.Cluster.{
    CounterCRDT,
    LeaderElection,
    LockService,
    Presence,
    PrimaryBackup
  }

  defp hunt(fun, opts) do
    Lockstep.Runner.run(fun, Keyword.merge([iterations: 200, seed: 1, progress: false], opts))
    nil
  rescue
    e in Lockstep.BugFound -> e
  end

  defp first_message(timeout \\ 5_000), do: Lockstep.recv_first(fn _ -> true end, timeout)

  describe "messages between nodes" do
    test "a message to another node arrives through its channel; processes know their node" do
      [result] =
        inside_each(
          fn ->
            :ok = Cluster.start_nodes([:a, :b])
            me = self()

            p =
              Cluster.spawn(:a, fn ->
                m = Lockstep.recv()
                Lockstep.send(me, {:got, m, Cluster.node()})
              end)

            Lockstep.send(p, :hello)
            {first_message(), Cluster.node_of(p), Cluster.node(), Cluster.nodes()}
          end,
          iterations: 1
        )

      assert result == {{:ok, {:got, :hello, :a}}, :a, node(), [node(), :a, :b]}
    end

    test "messages from one node to another keep their order in every schedule" do
      results =
        inside_each(
          fn ->
            Cluster.start_nodes([:a])
            me = self()
            p = Cluster.spawn(:a, fn -> for _ <- 1..3, do: Lockstep.send(me, Lockstep.recv()) end)
            for i <- 1..3, do: Lockstep.send(p, i)
            for _ <- 1..3, do: elem(first_message(), 1)
          end,
          iterations: 30,
          strategy: :random
        )

      assert Enum.uniq(results) == [[1, 2, 3]]
    end

    test "a message relayed through a third node can overtake a direct one" do
      results =
        inside_each(
          fn ->
            Cluster.start_nodes([:a, :b, :c])
            me = self()

            target =
              Cluster.spawn(:c, fn -> Lockstep.send(me, [Lockstep.recv(), Lockstep.recv()]) end)

            relay = Cluster.spawn(:b, fn -> Lockstep.send(target, Lockstep.recv()) end)

            Cluster.spawn(:a, fn ->
              Lockstep.send(relay, :relayed)
              Lockstep.send(target, :direct)
            end)

            elem(first_message(), 1)
          end,
          iterations: 60,
          strategy: :random
        )

      assert Enum.sort(Enum.uniq(results)) == [[:direct, :relayed], [:relayed, :direct]]
    end
  end

  describe "partitions" do
    test ":drop loses what crosses, :defer delivers it at heal" do
      for {mode, expected} <- [drop: {:timeout, :timeout}, defer: {:timeout, {:ok, :across}}] do
        [result] =
          inside_each(
            fn ->
              Cluster.start_nodes([:a])
              me = self()
              id = Cluster.partition([:a], [node()], mode)
              Cluster.spawn(:a, fn -> Lockstep.send(me, :across) end)
              before = first_message(100)
              :ok = Cluster.heal(id)
              {before, first_message(100)}
            end,
            iterations: 1
          )

        assert result == expected, "mode #{mode}"
      end
    end

    test "a one-way partition cuts one direction only" do
      [result] =
        inside_each(
          fn ->
            Cluster.start_nodes([:a])
            me = self()
            Cluster.partition([:a], [node()], mode: :drop, one_way: true)
            echo = Cluster.spawn(:a, fn -> Lockstep.send(me, {:echo, Lockstep.recv()}) end)
            Lockstep.send(echo, :ping)
            first_message(100)
          end,
          iterations: 1
        )

      # The root reaches :a; :a's answer back is dropped.
      assert result == :timeout
    end

    test "after the net tick time, monitors and node monitors across a partition fire" do
      [{down, nodedown, at}] =
        inside_each(
          fn ->
            Cluster.start_nodes([:a])
            Cluster.set_ticktime(1_000)
            {_p, ref} = Cluster.spawn_monitor(:a, fn -> Lockstep.recv() end)
            true = Cluster.monitor_node(:a, true)
            t0 = Lockstep.monotonic_time(:millisecond)
            Cluster.partition([:a], [node()])
            {:ok, down} = first_message()
            {:ok, nodedown} = first_message()

            {{elem(down, 0), elem(down, 1) == ref, elem(down, 4)}, nodedown,
             Lockstep.monotonic_time(:millisecond) - t0}
          end,
          iterations: 1
        )

      assert down == {:DOWN, true, :noconnection}
      assert nodedown == {:nodedown, :a}
      assert at >= 1_000
    end
  end

  describe "node stops" do
    test "stop_node kills its processes and tells remote watchers; start_node comes back empty" do
      [result] =
        inside_each(
          fn ->
            Cluster.start_nodes([:a])
            me = self()

            Cluster.spawn(:a, fn ->
              Lockstep.register(self(), :svc)
              Lockstep.send(me, :registered)
              Lockstep.recv()
            end)

            {:ok, :registered} = first_message()
            pid = Cluster.whereis_on(:svc, :a)
            ref = Lockstep.monitor(pid)
            Cluster.monitor_node(:a, true)
            :ok = Cluster.stop_node(:a)
            msgs = [elem(first_message(), 1), elem(first_message(), 1)]
            down = Cluster.nodes_up()
            :ok = Cluster.start_node(:a)

            {msgs |> Enum.map(&strip(&1, ref)) |> Enum.sort(), down, Cluster.nodes_up(),
             Cluster.whereis_on(:svc, :a)}
          end,
          iterations: 1
        )

      assert result == {[{:DOWN, :noconnection}, {:nodedown, :a}], [], [:a], nil}
    end

    test "a call to {name, node} reaches the server there, and exits with nodedown once it is gone" do
      defmodule Echo do
        use GenServer
        def init(x), do: {:ok, x}
        def handle_call(:where, _from, s), do: {:reply, Lockstep.Cluster.node(), s}
      end

      [result] =
        inside_each(
          fn ->
            Cluster.start_nodes([:a])
            me = self()

            Cluster.spawn(:a, fn ->
              {:ok, _} = Lockstep.GenServer.start(Echo, nil, name: :echo)
              Lockstep.send(me, :started)
              Lockstep.recv()
            end)

            {:ok, :started} = first_message()
            here = Lockstep.GenServer.call({:echo, :a}, :where)
            Cluster.stop_node(:a)

            gone =
              try do
                Lockstep.GenServer.call({:echo, :a}, :where)
              catch
                :exit, {reason, _} -> reason
              end

            {here, gone}
          end,
          iterations: 1
        )

      assert result == {:a, {:nodedown, :a}}
    end
  end

  describe "OTP and shared state per node" do
    defmodule Named do
      use GenServer
      def start_link(_), do: Lockstep.GenServer.start_link(__MODULE__, nil, name: :named)
      def init(x), do: {:ok, x}
      def handle_call(:where, _, s), do: {:reply, Lockstep.Cluster.node(), s}
    end

    test "each node has its own table names, persistent terms and supervised named servers" do
      results =
        inside_each(
          fn ->
            Cluster.start_nodes([:a, :b])
            me = self()

            for n <- [:a, :b] do
              Cluster.spawn(n, fn ->
                :t = Lockstep.ETS.new(:t, [:named_table, :public])
                true = Lockstep.ETS.insert(:t, {:k, n})
                :ok = Lockstep.PersistentTerm.put(:pk, n)
                {:ok, _} = Lockstep.Supervisor.start_link([Named], strategy: :one_for_one)

                Lockstep.send(
                  me,
                  {n, Lockstep.ETS.lookup(:t, :k), Lockstep.PersistentTerm.get(:pk)}
                )

                Lockstep.recv()
              end)
            end

            seen = Enum.sort([elem(first_message(), 1), elem(first_message(), 1)])
            calls = for n <- [:a, :b], do: Lockstep.GenServer.call({:named, n}, :where)
            ref = Lockstep.monitor(Cluster.whereis_on(:named, :a))
            Cluster.stop_node(:a)
            {:ok, {:DOWN, ^ref, :process, _, reason}} = first_message(1_000)
            {seen, calls, reason}
          end,
          iterations: 3
        )

      assert Enum.uniq(results) ==
               [{[{:a, [k: :a], :a}, {:b, [k: :b], :b}], [:a, :b], :noconnection}]
    end
  end

  describe "global names" do
    test "both halves of a partition take a name; at heal the first holder keeps it" do
      [result] =
        inside_each(
          fn ->
            Cluster.start_nodes([:a, :b])
            Cluster.set_ticktime(1_000)
            me = self()
            Cluster.partition([:a], [:b])
            # Until the net tick time passes, each side still counts the other as connected.
            Lockstep.sleep(2_000)

            [pa, pb] =
              for node <- [:a, :b] do
                Cluster.spawn(node, fn ->
                  Lockstep.send(me, {:registered, Lockstep.Global.register_name(:leader, self())})
                  Lockstep.recv()
                end)
              end

            {:ok, {:registered, r1}} = first_message()
            {:ok, {:registered, r2}} = first_message()
            refs = Enum.map([pa, pb], &Lockstep.monitor/1)
            Cluster.heal()
            {:ok, {:DOWN, ref, _, _, reason}} = first_message()
            {r1, r2, Enum.find_index(refs, &(&1 == ref)), reason}
          end,
          iterations: 1
        )

      # Each half saw the name free; whoever registered second is killed at heal.
      assert {:yes, :yes, killed, :killed} = result
      assert killed in [0, 1]
    end
  end

  describe "examples" do
    test "a correct election never has two leaders in a term" do
      assert hunt(fn -> LeaderElection.check(LeaderElection.run(false)) end, iterations: 100) ==
               nil
    end

    test "the buggy voter's two leaders in one term are found, shrunk and replayed" do
      fun = fn -> LeaderElection.check(LeaderElection.run(true)) end
      e = hunt(fun, [])
      assert e, "the default strategy did not find two leaders in 200 iterations"
      assert e.message =~ "two leaders in term"
      assert e.message =~ ~r/P\d+@n\d/
      assert {:reproduced, _} = Lockstep.Replay.check(fun, e.schedule_path)
    end

    test "a presence table splits its brain when a join crosses the partition; anti-entropy heals it" do
      e = hunt(fn -> Presence.check(Presence.run(false)) end, [])
      assert e, "the default strategy did not find the split brain in 200 iterations"
      assert e.message =~ "split brain after the heal"

      assert e.message =~ "lost: :a → :b (partition #1)" or
               e.message =~ "lost: :b → :a (partition #1)"

      assert hunt(fn -> Presence.check(Presence.run(true)) end, iterations: 100) == nil
    end

    test "a grow-only counter converges under :defer; a max-of-totals counter does not" do
      good = fn -> [4, 4] = CounterCRDT.run(:per_node) end
      assert hunt(good, iterations: 50) == nil

      e = hunt(fn -> [4, 4] = CounterCRDT.run(:max) end, iterations: 50)
      assert e && e.message =~ "MatchError"
    end

    test "a lock granted on both sides of a partition fails the mutex model; without failover it holds" do
      e = hunt(fn -> LockService.run(true) end, iterations: 50)
      assert e && e.message =~ "the lock was held twice"
      assert e.message =~ "Not linearizable"
      assert hunt(fn -> LockService.run(false) end, iterations: 50) == nil
    end

    test "a lost acknowledged write needs a node stop: found only with faults" do
      async = fn -> PrimaryBackup.run(:async) end
      assert hunt(async, iterations: 100) == nil

      e = hunt(async, iterations: 300, faults: [crashes: 1])
      assert e, "faults: [crashes: 1] did not find the lost write"
      assert e.message =~ "an acknowledged write was lost"
      assert e.message =~ "fault: node"
      assert {:reproduced, _} = Lockstep.Replay.check(async, e.schedule_path)

      assert hunt(fn -> PrimaryBackup.run(:sync) end, iterations: 150, faults: [crashes: 1]) ==
               nil
    end
  end

  describe "faults chosen by the strategy" do
    defp ping_b do
      Cluster.start_nodes([:a, :b])
      me = self()

      Cluster.spawn(:b, fn ->
        Lockstep.register(self(), :srv)
        Lockstep.send(me, :up)
        Lockstep.send(me, {:echo, Lockstep.recv()})
      end)

      {:ok, :up} = first_message()
      Lockstep.send({:srv, :b}, :ping)
      {:ok, {:echo, :ping}} = first_message(20_000)
    end

    test "an isolating partition the test never scripted is found, with its fault in the report" do
      assert hunt(&ping_b/0, iterations: 100) == nil
      e = hunt(&ping_b/0, iterations: 100, faults: [partitions: 1])
      assert e, "faults: [partitions: 1] never cut the ping off"
      assert e.message =~ "fault: partition #1"
      assert {:reproduced, _} = Lockstep.Replay.check(&ping_b/0, e.schedule_path)
    end

    test "the same seed injects the same faults" do
      run = fn -> hunt(&ping_b/0, iterations: 100, faults: [partitions: 1], seed: 9) end
      a = run.()
      b = run.()
      assert a && b

      assert Lockstep.Schedule.load!(a.schedule_path).choices ==
               Lockstep.Schedule.load!(b.schedule_path).choices
    end
  end

  describe "the plain VM as the oracle" do
    # A node the VM cannot reach (here: distribution is off) against a stopped node of the
    # simulated cluster: spawning there, sending there and calling there look the same.
    @tag capture_log: true
    test "spawn_monitor, send and call to an unreachable node" do
      node = :down@nohost

      scenario = fn ->
        if Lockstep.managed?() do
          Cluster.start_nodes([node])
          Cluster.stop_node(node)
        end

        {pid, ref} = Cluster.spawn_monitor(node, fn -> :ok end)

        down = Lockstep.recv_first(fn m -> match?({:DOWN, ^ref, _, _, _}, m) end, 1_000)

        sent = Lockstep.send({:x, node}, :m)

        call =
          try do
            Lockstep.GenServer.call({:x, node}, :hi, 1_000)
          catch
            :exit, reason -> reason
          end

        {Lockstep.OtpDiff.norm(down), is_pid(pid), sent, call}
      end

      plain = Lockstep.OtpDiff.plain(scenario)
      assert {{:ok, {:DOWN, :ref, :process, :pid, :noconnection}}, true, :ok, _} = plain
      assert Enum.uniq(Lockstep.OtpDiff.under_lockstep(scenario, iterations: 5)) == [plain]
    end
  end

  describe "bad input" do
    test "unknown nodes, bad groups and bad options are ArgumentErrors naming the problem" do
      [msgs] =
        inside_each(
          fn ->
            Cluster.start_nodes([:a])

            for f <- [
                  fn -> Cluster.spawn(:nope, fn -> :ok end) end,
                  fn -> Cluster.partition([:a], [:a]) end,
                  fn -> Cluster.partition([:a], [:zzz]) end,
                  fn -> Cluster.partition([:a], [node()], :sometimes) end,
                  fn -> Cluster.stop_node(node()) end,
                  fn -> Cluster.heal(99) end,
                  fn -> Cluster.set_ticktime(0) end,
                  fn -> Cluster.start_nodes(["a"]) end
                ] do
              try do
                f.()
                :no_error
              rescue
                e in ArgumentError -> e.message
              end
            end
          end,
          iterations: 1
        )

      refute :no_error in msgs
      assert Enum.at(msgs, 0) =~ "unknown node nope"
      assert Enum.at(msgs, 4) =~ "cannot be stopped"
      assert Enum.at(msgs, 5) =~ "no active partition 99"
    end

    test "scripting a cluster outside a run, and bad faults options, raise" do
      assert_raise ArgumentError, ~r/inside a Lockstep run/, fn -> Cluster.partition(:a, :b) end

      assert_raise ArgumentError, ~r/:faults/, fn ->
        Lockstep.Runner.run(fn -> :ok end, faults: [crashes: -1])
      end
    end
  end

  defp strip({:DOWN, ref, :process, _pid, reason}, ref), do: {:DOWN, reason}
  defp strip(other, _), do: other
end

defmodule Lockstep.EscapeTest do
  # Interactions that bypass the engine are reported as failures of their own (`:escape`), or
  # warned of with `escapes: :warn`; legitimate VM messages are not.
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO
  import Lockstep.TestHelpers

  defmodule Echo do
    use GenServer
    def init(n), do: {:ok, n}
    def handle_call(:get, _from, n), do: {:reply, n, n}
    def handle_cast({:set, n}, _), do: {:noreply, n}
  end

  defp escape(fun, opts \\ []) do
    bug = bug(fun, Keyword.merge([iterations: 1], opts))
    assert %Lockstep.BugFound{reason: {:escape, note}} = bug
    {bug, note}
  end

  describe "a plain message in a managed process's VM mailbox" do
    test "from a plain Process.send_after of the root to a waiting child" do
      {bug, note} =
        escape(fn ->
          child = Lockstep.spawn(fn -> Lockstep.recv() end)
          # The child waits in its receive.
          Lockstep.sleep(1)
          Process.send_after(child, :tick, 0)
          # The timer fires while the run goes on (a plain sleep: wall-clock time).
          Process.sleep(20)
          Lockstep.recv()
        end)

      assert %{process: 1, kind: :message, message: :tick, from: nil} = note
      assert is_pid(note.pid)
      assert bug.message =~ "an interaction bypassed Lockstep (an escape)"
      assert bug.message =~ "P1 (#{inspect(note.pid)}) got :tick in its VM mailbox"
      assert bug.message =~ "Process.send_after/3"
      assert bug.message =~ "instrument the module or use the Lockstep wrapper"
      assert bug.message =~ "escapes: :warn"
      # Where the process waited.
      assert bug.message =~ "Lockstep.recv/0"
      assert bug.shrink.skipped =~ "bypassed Lockstep"
    end

    test "from a process outside the run, to the root" do
      {_bug, note} =
        escape(fn ->
          me = self()
          spawn(fn -> send(me, {:hello, self()}) end)
          Lockstep.recv()
        end)

      assert %{process: 0, kind: :message, message: {:hello, sender}} = note
      assert is_pid(sender)
    end

    test "from Kernel.send of one managed process to another (Lockstep.send is the managed path)" do
      {_bug, note} =
        escape(fn ->
          me = self()

          Lockstep.spawn(fn ->
            Kernel.send(me, :plain)
            Lockstep.recv()
          end)

          Lockstep.recv()
        end)

      assert %{process: 0, message: :plain} = note
    end

    test "that arrived while the process ran, found before its last step" do
      {_bug, note} =
        escape(fn ->
          send(self(), :to_myself)
          :ok
        end)

      assert %{process: 0, message: :to_myself} = note
    end

    test "that arrived while the process ran, found where it parks" do
      {_bug, note} =
        escape(fn ->
          send(self(), :early)
          Lockstep.spawn(fn -> :ok end)
          Lockstep.sleep(5)
          raise "not reached"
        end)

      assert %{process: 0, message: :early, stack: [{Lockstep, :sleep, 1, _} | _]} = note
    end

    test "a DOWN of a plain monitor on a process outside the run names the monitored pid" do
      {bug, note} =
        escape(fn ->
          outside = spawn(fn -> :ok end)
          Process.monitor(outside)
          Lockstep.recv()
        end)

      assert %{kind: :down, from: from, message: {:DOWN, _, :process, from, _}} = note
      assert bug.message =~ "a plain Process.monitor/1"
      assert bug.message =~ "#{inspect(from)}, a process outside the run"
    end

    test "a plain GenServer.cast to a managed server" do
      {bug, note} =
        escape(fn ->
          {:ok, s} = Lockstep.GenServer.start_link(Echo, 0)
          GenServer.cast(s, {:set, 1})
          Lockstep.GenServer.call(s, :get)
        end)

      assert %{kind: :gen_cast, message: {:"$gen_cast", {:set, 1}}} = note
      assert bug.message =~ "Lockstep.GenServer.cast/2"
    end

    test "the first escape wins and stops the run; the same escape every time" do
      for seed <- 1..10 do
        {_bug, note} =
          escape(
            fn ->
              a = Lockstep.spawn(fn -> Lockstep.recv() end)
              Kernel.send(a, :first)
              Lockstep.recv()
            end,
            seed: seed
          )

        assert %{process: 1, message: :first} = note
      end
    end
  end

  describe "a plain GenServer.call to a managed server" do
    test "is an escape naming the wrapper, and its caller fails at once" do
      started = System.monotonic_time(:millisecond)

      {bug, note} =
        escape(fn ->
          {:ok, s} = Lockstep.GenServer.start_link(Echo, 7)
          GenServer.call(s, :get)
        end)

      # Not the call's 5000 ms timeout (a bound with room for a loaded machine), nor the
      # watchdog: the failure is the escape itself.
      assert System.monotonic_time(:millisecond) - started < 4_500
      assert elem(bug.reason, 0) == :escape
      assert %{process: 1, kind: :gen_call, from: caller} = note
      assert {:"$gen_call", {^caller, _}, :get} = note.message
      assert bug.message =~ "got a plain GenServer.call from P0 (#{inspect(caller)})"
      assert bug.message =~ "Lockstep.GenServer.call/2,3"
    end

    test "the escape wins over the caller's crash, whatever the schedule" do
      for seed <- 1..10 do
        {_bug, note} =
          escape(
            fn ->
              {:ok, s} = Lockstep.GenServer.start_link(Echo, 7)
              Lockstep.spawn(fn -> GenServer.call(s, :get) end)
              Lockstep.GenServer.call(s, :get)
            end,
            seed: seed
          )

        assert %{kind: :gen_call} = note
      end
    end

    test "from a process outside the run, the caller exits at once with a Lockstep.Error" do
      parent = self()

      bug(
        fn ->
          {:ok, s} = Lockstep.GenServer.start_link(Echo, 7)

          spawn(fn ->
            send(parent, {:caught, catch_exit(GenServer.call(s, :get))})
          end)

          Lockstep.recv()
        end,
        iterations: 1
      )

      assert_receive {:caught, {{%Lockstep.Error{message: message}, _}, {GenServer, :call, _}}},
                     1_500

      assert message =~ "Lockstep.GenServer.call/2,3"
    end
  end

  describe "legitimate VM messages are no escapes" do
    test "the ETS-TRANSFER the VM sends when a Lockstep.ETS heir inherits a table" do
      assert :ok ==
               Lockstep.Runner.run(
                 fn ->
                   me = self()

                   owner =
                     Lockstep.spawn(fn ->
                       Lockstep.ETS.new(:t, [:public, {:heir, me, :gift}])
                       Lockstep.send(me, :made)
                       Lockstep.recv()
                     end)

                   :made = Lockstep.recv()
                   Lockstep.exit(owner, :kill)
                   Lockstep.sleep(5)
                 end,
                 iterations: 20,
                 allow_crashes: true
               )
    end

    test "a give_away's ETS-TRANSFER" do
      assert :ok ==
               Lockstep.Runner.run(
                 fn ->
                   me = self()
                   t = Lockstep.ETS.new(:g, [:public])

                   taker =
                     Lockstep.spawn(fn ->
                       {:"ETS-TRANSFER", _, _, :here} = Lockstep.recv()
                       Lockstep.send(me, :got)
                     end)

                   Lockstep.ETS.give_away(t, taker, :here)
                   :got = Lockstep.recv()
                 end,
                 iterations: 20
               )
    end

    test "a plain :sys call still fails its caller, as before" do
      bug =
        bug(
          fn ->
            {:ok, s} = Lockstep.GenServer.start_link(Echo, 0)
            :sys.get_state(s)
          end,
          iterations: 1
        )

      assert {:exception, _} = bug.reason
    end
  end

  describe "escapes: :warn" do
    test "warns once per hunt and leaves the program its plain messages" do
      body = fn ->
        child = Lockstep.spawn(fn -> Lockstep.recv() end)
        send(self(), :plain)
        Lockstep.send(child, :go)
        Lockstep.sleep(1)

        receive do
          :plain -> :ok
        after
          1_000 -> raise "the plain message was taken away"
        end
      end

      err =
        capture_io(:stderr, fn ->
          assert :ok == Lockstep.Runner.run(body, iterations: 5, escapes: :warn)
        end)

      assert err =~ "Lockstep warning"
      assert err =~ "escapes: :warn"
      assert err =~ "got :plain in its VM mailbox"
      assert length(String.split(err, "Lockstep warning")) == 2
      # The same body fails by default.
      assert {:escape, %{message: :plain}} = bug(body, iterations: 5).reason
    end

    test "is validated" do
      assert_raise ArgumentError, ~r/option :escapes: expected :fail or :warn/, fn ->
        Lockstep.Runner.run(fn -> :ok end, escapes: :ignore)
      end
    end
  end

  describe "the deadlock report" do
    test "shows a message that bypassed the engine, which the VM mailbox holds" do
      body = fn ->
        me = self()
        spawn(fn -> send(me, :from_outside) end)
        # A plain sleep: the message arrives while the root runs.
        Process.sleep(20)
        Lockstep.recv()
      end

      # With escapes: :warn the deadlock is the failure; by default the escape is, and its
      # report shows the deadlock.
      {warned, _err} = with_io(:stderr, fn -> bug(body, iterations: 1, escapes: :warn) end)
      assert {:deadlock, [{0, :recv, nil, [], nil}]} = warned.reason
      failed = bug(body, iterations: 1)
      assert {:escape, %{process: 0, message: :from_outside}} = failed.reason
      assert failed.message =~ "Meanwhile the run came to a stop (deadlock)"

      for bug <- [warned, failed] do
        assert bug.message =~
                 "P0 waits in recv (mailbox empty; in its VM mailbox, bypassing Lockstep: " <>
                   ":from_outside)"

        assert bug.message =~ "the engine never delivers it"
      end
    end
  end
end

defmodule Lockstep.WatchdogTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  describe "a process killed behind the engine's back" do
    test "takes its linked parent with it, and the run goes on to its end (allow_crashes)" do
      started = System.monotonic_time(:millisecond)

      result =
        Lockstep.Runner.run(
          fn ->
            me = self()

            Lockstep.spawn(fn ->
              b = Lockstep.spawn_link(fn -> Lockstep.recv() end)
              Lockstep.send(me, :go)
              Process.exit(b, :kill)
              Process.sleep(100)
            end)

            Lockstep.recv()
            Lockstep.sleep(10)
          end,
          iterations: 1,
          allow_crashes: true,
          watchdog: 3000
        )

      assert result == :ok
      assert System.monotonic_time(:millisecond) - started < 2_000
    end

    test "without allow_crashes, the run fails naming the vanished process, not the watchdog" do
      bug =
        bug(
          fn ->
            me = self()

            Lockstep.spawn(fn ->
              b = Lockstep.spawn_link(fn -> Lockstep.recv() end)
              Lockstep.send(me, :go)
              Process.exit(b, :kill)
              Process.sleep(100)
            end)

            Lockstep.recv()
            Lockstep.sleep(10)
          end,
          iterations: 1,
          watchdog: 3000
        )

      assert {:crash, {2, :killed}} = bug.reason
    end
  end
end

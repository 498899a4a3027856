defmodule Lockstep.ReportStoryTest do
  # A report reads like a story: calls folded into one line each, their bookkeeping left out
  # (and counted), the exception whole once and named in the step lines, the user's frames,
  # plurals right; the full report keeps every step.
  use ExUnit.Case, async: true

  @moduletag :tmp_dir

  defmodule Bank do
    use GenServer
    def init(b), do: {:ok, b}
    def handle_call(:balance, _from, b), do: {:reply, b, b}
    def handle_call({:set, v}, _from, _b), do: {:reply, :ok, v}
  end

  defp withdraw_twice do
    {:ok, bank} = Lockstep.GenServer.start_link(Bank, 100)
    me = self()

    for _ <- 1..2 do
      Lockstep.spawn(fn ->
        b = Lockstep.GenServer.call(bank, :balance)
        :ok = Lockstep.GenServer.call(bank, {:set, b - 50})
        Lockstep.send(me, :done)
      end)
    end

    Lockstep.recv()
    Lockstep.recv()
    balance = Lockstep.GenServer.call(bank, :balance)

    if balance != 0,
      do: raise("two withdrawals of 50 left #{balance}\nsecond line of the message")
  end

  test "a two-client race reads as calls and replies", %{tmp_dir: dir} do
    bug =
      assert_raise Lockstep.BugFound, fn ->
        Lockstep.Runner.run(&withdraw_twice/0, seed: 1, trace_dir: dir)
      end

    text = bug.message
    assert text =~ ~r/P\d   calls P1 with :balance/
    assert text =~ ~r/P1   takes P\d's call \{:set, 50\}/
    assert text =~ ~r/P1   replies 100 to P\d/
    assert text =~ ~r/P\d   gets the reply :ok/

    assert text =~
             ~r/\(\d+ steps of call bookkeeping, a monitor and a demonitor per call, not shown/

    refute text =~ "$gen_call"
    refute text =~ "#Reference<"
    refute text =~ "demonitors"
    refute text =~ "message(s)"
    # The exception whole once; in the step line only its name and first line.
    assert length(String.split(text, "second line of the message")) == 2
    assert text =~ "raises ** (RuntimeError) two withdrawals of 50 left 50\n"
    refute text =~ "lib/lockstep/runtime.ex"
    assert length(String.split(text, "\n")) < 70

    # The full report keeps every step as recorded.
    full = File.read!(bug.trace_path)
    assert full =~ "$gen_call"
    assert full =~ "demonitors (active)"
  end

  test "report: :full shows every step in the message too", %{tmp_dir: dir} do
    bug =
      assert_raise Lockstep.BugFound, fn ->
        Lockstep.Runner.run(&withdraw_twice/0, seed: 1, trace_dir: dir, report: :full)
      end

    assert bug.message =~ "$gen_call"
    assert bug.message =~ "demonitors (active)"
    refute bug.message =~ "steps of call bookkeeping"
  end
end

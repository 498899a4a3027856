defmodule InstrumentedCtestTest do
  # `use Lockstep.Test, instrument: true`: ctest bodies written with plain primitives run
  # under control as written.
  use ExUnit.Case, async: true
  use Lockstep.Test, instrument: true, iterations: 60

  ctest "plain spawn, send and receive in a body are scheduled" do
    me = self()
    for i <- 1..2, do: spawn(fn -> send(me, {:hi, i}) end)

    got =
      for _ <- 1..2 do
        receive do
          {:hi, i} -> i
        after
          1_000 -> :timeout
        end
      end

    assert Enum.sort(got) == [1, 2]
    # Time is virtual here: the clock has not moved.
    assert System.monotonic_time(:millisecond) == 0
  end

  ctest "a plain GenServer and a named ETS table in a body" do
    {:ok, agent} = Agent.start_link(fn -> 0 end)
    Agent.update(agent, &(&1 + 1))
    :ets.new(:instrumented_ctest_table, [:named_table, :public])
    :ets.insert(:instrumented_ctest_table, {:k, Agent.get(agent, & &1)})
    assert :ets.lookup(:instrumented_ctest_table, :k) == [{:k, 1}]
  end

  test "the module was rewritten, and both orders of the sends were explored" do
    assert Lockstep.Instrument.instrumented?(__MODULE__)
    parent = self()

    Lockstep.Runner.run(
      fn ->
        me = self()
        for i <- 1..2, do: spawn(fn -> send(me, i) end)
        first = receive do: (i -> i)
        receive do: (_ -> :ok)
        send(parent, {:first, first})
      end,
      iterations: 40,
      seed: 3
    )

    firsts = for _ <- 1..40, do: receive(do: ({:first, f} -> f))
    assert Enum.sort(Enum.uniq(firsts)) == [1, 2]
  end
end

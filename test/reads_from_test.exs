defmodule Lockstep.ReadsFromTest do
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO

  alias Lockstep.Runner

  # `n` children each send the root one message; the root takes them all.
  defp senders(n) do
    fn ->
      me = self()
      for i <- 1..n, do: Lockstep.spawn(fn -> Lockstep.send(me, i) end)
      for _ <- 1..n, do: Lockstep.recv()
    end
  end

  defp pairs(fun, opts) do
    out =
      capture_io(fn ->
        assert :ok == Runner.run(fun, [verbose: true, seed: 1, strategy: :random] ++ opts)
      end)

    [_, n] = Regex.run(~r/stopped at the step limit, (\d+) reads-from pairs?; no bug found/, out)
    String.to_integer(n)
  end

  test "a hunt's verbose summary names its reads-from pairs" do
    out =
      capture_io(fn ->
        assert :ok == Runner.run(senders(1), verbose: true, seed: 1, iterations: 5)
      end)

    assert out =~ ~r/0 stopped at the step limit, 1 reads-from pair; no bug found/
  end

  test "two senders to one receiver cover more pairs over a hunt than one sender" do
    one = pairs(senders(1), iterations: 30)
    two = pairs(senders(2), iterations: 30)
    assert one == 1
    # Either message may be taken first or second.
    assert two == 4
  end

  test "pairs from every worker are merged" do
    assert pairs(senders(2), iterations: 30, workers: 2) == 4
  end

  test "a server's calls: which request each receive took" do
    counter = fn ->
      {:ok, agent} = Lockstep.Agent.start_link(fn -> 0 end)
      me = self()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          Lockstep.Agent.update(agent, &(&1 + 1))
          Lockstep.send(me, :done)
        end)
      end

      Lockstep.recv()
      Lockstep.recv()
    end

    assert pairs(counter, iterations: 30) > pairs(senders(2), iterations: 30)
  end

  test "explore/2 returns the reads-from pairs it covered" do
    assert {:ok, %{complete: true, reads_from: 4}} = Runner.explore(senders(2), seed: 1)
    assert {:ok, %{reads_from: 1}} = Runner.explore(senders(1), seed: 1)
  end
end

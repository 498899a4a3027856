defmodule Lockstep.ExplorationTest do
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO

  defp explored(fun, opts) do
    capture_io(fn ->
      assert :ok == Lockstep.Runner.run(fun, [verbose: true, seed: 1] ++ opts)
    end)
  end

  defp figures(out) do
    [_, n, d, l, s] =
      Regex.run(
        ~r/(\d+) iterations, (\d+) distinct schedules, longest run (\d+) steps, (\d+) stopped/,
        out
      )

    Enum.map([n, d, l, s], &String.to_integer/1)
  end

  test "a program with one interleaving: one distinct schedule, its exact length" do
    # start, now, now, exit
    out = explored(fn -> Lockstep.now() && Lockstep.now() end, iterations: 12)
    assert figures(out) == [12, 1, 4, 0]
    assert out =~ "no bug found (seed 1, strategy :pos)"
  end

  test "runs stopped at the step limit are counted, at their length" do
    spin = fn ->
      loop = fn loop -> Lockstep.now() && loop.(loop) end
      loop.(loop)
    end

    out = explored(spin, iterations: 5, max_steps: 20, step_limit: :stop)
    assert figures(out) == [5, 1, 20, 5]
  end

  test "distinct schedules are counted by their choices" do
    # The root and two children: their steps interleave in a handful of ways.
    race = fn ->
      me = self()
      for tag <- [:a, :b], do: Lockstep.spawn(fn -> Lockstep.send(me, tag) end)
      Lockstep.recv()
      Lockstep.recv()
    end

    [n, distinct, longest, 0] = figures(explored(race, iterations: 40, strategy: :random))
    assert n == 40
    # P0: start, two spawns, two receives, exit; each child: start, send, exit.
    assert longest == 12

    # The same iterations, one by one: the schedules read off their traces (the process that
    # took each step) are as many as the hunt counted.
    cfg = Lockstep.Runner.config!([seed: 1, strategy: :random, iterations: 40], "test")

    schedules =
      for i <- 0..39 do
        {:ok, _steps, _hash, %{trace: trace}} = Lockstep.Runner.run_traced(race, cfg, i, %{})

        trace
        |> Enum.reject(fn {_step, _time, proc, _event} -> proc == nil end)
        |> Enum.uniq_by(fn {step, _, _, _} -> step end)
        |> Enum.map(fn {_, _, proc, _} -> proc end)
      end

    Lockstep.Runner.flush_notes()
    assert distinct == length(Enum.uniq(schedules))
    assert distinct > 1 and distinct < 40
  end
end

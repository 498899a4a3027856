defmodule Lockstep.StrategiesTest do
  # Every scheduling strategy can be chosen from Elixir, is validated up front, reaches the
  # engine with its parameters, finds a simple race, and repeats itself for the same seed.
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers
  import Lockstep.TestPrograms
  alias Lockstep.{Native, Options}

  @strategies [
    :random,
    :pct,
    {:pct, depth: 2},
    :fair_pct,
    {:fair_pct, depth: 2, prefix: 20},
    :pos,
    :idpct,
    {:idpct, depth: 2..3}
  ]

  # The root polls with a zero timeout until a worker, which first does some work of its own,
  # tells it to stop: a spin loop that ends only if the worker gets to run.
  defp spin_loop do
    fn ->
      me = self()

      Lockstep.spawn(fn ->
        for _ <- 1..5, do: Lockstep.now()
        Lockstep.send(me, :stop)
      end)

      poll = fn poll ->
        case Lockstep.recv(0) do
          {:ok, :stop} -> :ok
          :timeout -> poll.(poll)
        end
      end

      poll.(poll)
    end
  end

  test "every strategy finds the lost update, the same way for the same seed" do
    for strategy <- @strategies do
      a = bug(lost_update(), strategy: strategy, iterations: 300)
      assert %Lockstep.BugFound{strategy: ^strategy} = a, "#{inspect(strategy)} found nothing"
      assert %RuntimeError{message: "lost update: counter is 1"} = a.exception
      b = bug(lost_update(), strategy: strategy, iterations: 300)
      assert {a.iteration, a.schedule} == {b.iteration, b.schedule}, inspect(strategy)
    end
  end

  test "a correct program passes under every strategy" do
    # Names, monitors and messages, all of which the race-aware strategies look at.
    program = fn ->
      true = Lockstep.register(self(), :collector)

      workers =
        for i <- 1..3 do
          Lockstep.spawn(fn -> Lockstep.send(:collector, {:hi, i}) end)
        end

      refs = Enum.map(workers, &Lockstep.monitor/1)
      got = for _ <- 1..3, do: Lockstep.recv_first(&match?({:hi, _}, &1))
      assert Enum.sort(got) == [hi: 1, hi: 2, hi: 3]
      # A worker may be gone before it is monitored: then the DOWN says :noproc.
      for ref <- refs do
        {:DOWN, ^ref, :process, _, reason} =
          Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))

        assert reason in [:normal, :noproc]
      end
    end

    for strategy <- @strategies do
      assert :ok = Lockstep.Runner.run(program, strategy: strategy, seed: 7, iterations: 30)
    end
  end

  test "fair_pct ends a polling loop that pct lets spin to the step limit" do
    pct = bug(spin_loop(), strategy: :pct, iterations: 100, max_steps: 300)
    assert %Lockstep.BugFound{reason: {:step_limit, _}} = pct

    assert :ok =
             Lockstep.Runner.run(spin_loop(),
               strategy: :fair_pct,
               seed: 7,
               iterations: 100,
               max_steps: 300
             )
  end

  test "a schedule file records the strategy with the engine's parameters and reads it back" do
    racy = fn ->
      me = self()
      for tag <- [:a, :b], do: Lockstep.spawn(fn -> Lockstep.send(me, tag) end)
      if Lockstep.recv() == :b, do: raise("b first")
    end

    for {strategy, params} <- [
          {{:idpct, depth: 2..4}, %{"depth_min" => 2, "depth_max" => 4}},
          {{:fair_pct, depth: 2, prefix: 30}, %{"depth" => 2, "prefix" => 30}},
          {:fair_pct, %{"depth" => 3}},
          {:pos, %{}}
        ] do
      bug = bug(racy, strategy: strategy, iterations: 100)
      assert %Lockstep.BugFound{schedule_path: path} = bug, inspect(strategy)
      json = File.read!(path)
      [line] = json |> String.split("\n") |> Enum.filter(&(&1 =~ ~s("strategy")))
      assert line =~ ~s("params": #{params_json(params)}), line
      assert Lockstep.Schedule.load!(path).strategy == strategy
      assert {:reproduced, _} = Lockstep.Replay.check(racy, path)
    end
  end

  defp params_json(params) when params == %{}, do: "{}"

  defp params_json(params) do
    inner =
      params
      |> Enum.sort()
      |> Enum.map_join(", ", fn {k, v} -> ~s("#{k}": #{v}) end)

    "{" <> inner <> "}"
  end

  test "the engine receives each strategy's parameters" do
    assert Options.engine_strategy(:pct) == %{strategy: :pct, depth: 3}
    assert Options.engine_strategy({:pct, depth: 5}) == %{strategy: :pct, depth: 5}
    assert Options.engine_strategy(:random) == %{strategy: :random}
    assert Options.engine_strategy(:pos) == %{strategy: :pos}
    assert Options.engine_strategy(:fair_pct) == %{strategy: :fair_pct, depth: 3}

    assert Options.engine_strategy({:fair_pct, prefix: 40}) ==
             %{strategy: :fair_pct, depth: 3, prefix: 40}

    assert Options.engine_strategy(:idpct) == %{strategy: :idpct, depth_min: 1, depth_max: 5}

    assert Options.engine_strategy({:idpct, depth: 2..4}) ==
             %{strategy: :idpct, depth_min: 2, depth_max: 4}

    for strategy <- @strategies do
      opts = Options.engine_strategy(strategy)
      assert is_reference(Native.run_new(opts, make_ref(), self(), node())), inspect(opts)
    end
  end

  test "bad strategy values raise ArgumentError naming the key and what it accepts" do
    bad = [
      {:fifo, ~r/option :strategy: expected one of :pct, .*:fair_pct.*:pos.*:idpct.*got: :fifo/},
      {{:pct, [3]}, ~r/option :strategy: expected one of .*got: \{:pct, \[3\]\}/},
      {{:pct, depth: 0},
       ~r/invalid :depth in .* :strategy .*expected a positive integer, got: 0/},
      {{:pct, prefix: 9}, ~r/unknown :prefix in .* :strategy .*:pct accepts :depth$/},
      {{:fair_pct, prefix: 0}, ~r/invalid :prefix in .*positive integer .*got: 0/},
      {{:fair_pct, depth: :deep}, ~r/invalid :depth in .*got: :deep/},
      {{:pos, depth: 3}, ~r/unknown :depth in .*:pos accepts no options/},
      {{:random, depth: 3}, ~r/unknown :depth in .*:random accepts no options/},
      {{:idpct, depth: 5..2}, ~r/invalid :depth in .*a range a\.\.b .*1 <= a <= b, got: 5\.\.2/},
      {{:idpct, depth: 0..2}, ~r/invalid :depth in .*got: 0\.\.2/},
      {{:idpct, depth: 3}, ~r/invalid :depth in .*a range .*got: 3/},
      {{:idpct, depth: 1..5//2}, ~r/invalid :depth in .*got: 1\.\.5\/\/2/}
    ]

    for {strategy, message} <- bad do
      e =
        assert_raise ArgumentError, fn ->
          Lockstep.Runner.run(fn -> :ok end, strategy: strategy)
        end

      assert e.message =~ message, "#{inspect(strategy)}: #{e.message}"
    end
  end

  test "the engine rejects bad strategy parameters with a reason" do
    new_run = fn opts -> Native.run_new(opts, make_ref(), self(), node()) end
    assert {:error, msg} = new_run.(%{strategy: :pct, depth: 0})
    assert msg =~ "pct depth must be at least 1"
    assert {:error, msg} = new_run.(%{strategy: :fair_pct, prefix: 0})
    assert msg =~ "fair_pct prefix"
    assert {:error, msg} = new_run.(%{strategy: :fair_pct, prefix: :soon})
    assert msg =~ "prefix"
    assert {:error, msg} = new_run.(%{strategy: :idpct, depth_min: 4, depth_max: 2})
    assert msg =~ "depth_min"
    assert {:error, msg} = new_run.(%{strategy: :idpct, depth_max: -1})
    assert msg =~ "depth_max"
    assert {:error, msg} = new_run.(%{strategy: :pso})
    assert msg =~ "unknown strategy" and msg =~ ":pos"
    assert is_reference(new_run.(%{strategy: :fair_pct, prefix: nil}))
  end
end

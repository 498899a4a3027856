defmodule Lockstep.ExamplesTest do
  use ExUnit.Case, async: true

  defp hunt(mod, opts) do
    Lockstep.Runner.run(&mod.run/0, [max_run_time: :infinity] ++ opts)
    nil
  rescue
    bug in Lockstep.BugFound -> bug
  end

  for {name, mod} <- Lockstep.Examples.all() do
    @mod mod
    test "the default strategy finds #{name} within 100 iterations on every seed tried" do
      for seed <- 1..10 do
        assert %Lockstep.BugFound{} = hunt(@mod, seed: seed, iterations: 100),
               "seed #{seed} found nothing"
      end
    end

    test "#{name}: the reported seed reproduces the same failing schedule" do
      first = hunt(@mod, seed: 99, iterations: 200)
      again = hunt(@mod, seed: first.seed, iterations: 200)

      assert {again.iteration, again.schedule, again.reason |> elem(0)} ==
               {first.iteration, first.schedule, first.reason |> elem(0)}
    end
  end

  test "the expected failure categories" do
    categories =
      for {name, mod} <- Lockstep.Examples.all(), into: %{} do
        {name, elem(hunt(mod, seed: 5, iterations: 200).reason, 0)}
      end

    assert categories == %{
             lost_update: :exception,
             check_then_act: :deadlock,
             sender_order: :exception,
             call_deadlock: :deadlock
           }
  end
end

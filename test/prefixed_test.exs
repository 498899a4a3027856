defmodule Lockstep.PrefixedTest do
  # The engine's `:prefixed` strategy (a recorded prefix, then another strategy) through the
  # runner's single-iteration entry points, and `Runner.run_choices/4`, which hands back a
  # passing run's schedule. Reads-from steering was measured with them (bench/steer.exs).
  use ExUnit.Case, async: true

  alias Lockstep.Runner

  # Three children each send the root two messages; the root takes all six.
  defp senders do
    me = self()

    for i <- 1..3 do
      Lockstep.spawn(fn ->
        Lockstep.send(me, {i, 1})
        Lockstep.send(me, {i, 2})
      end)
    end

    for _ <- 1..6, do: Lockstep.recv()
  end

  defp cfg, do: Runner.config!([seed: 5, strategy: :pos], "test")

  defp choices(overrides, i) do
    {:ok, _steps, _hash, %{choices: choices}} =
      Runner.run_choices(&senders/0, cfg(), i, Map.put(overrides, :expected_steps, 50))

    choices
  end

  defp prefixed(prefix), do: %{strategy: :prefixed, then: :pos, choices: prefix}

  test "run_choices/4 hands back the schedule a strict replay follows" do
    kept = choices(%{}, 3)
    assert [0 | _] = kept
    assert choices(%{strategy: :replay, choices: kept}, 0) == kept
  after
    Runner.flush_notes()
  end

  test "a prefixed run follows its prefix, then POS from the iteration's seed" do
    kept = choices(%{}, 3)

    for k <- [0, 5, div(length(kept), 2), length(kept)], i <- [0, 1, 2] do
      run = choices(prefixed(Enum.take(kept, k)), i)
      assert Enum.take(run, k) == Enum.take(kept, k)
      # The same prefix and iteration give the same run.
      assert choices(prefixed(Enum.take(kept, k)), i) == run
    end

    # No prefix: the iteration's own POS run.
    assert choices(prefixed([]), 1) == choices(%{}, 1)

    # Different seeds continue a half prefix differently.
    half = Enum.take(kept, div(length(kept), 2))
    tails = for i <- 0..19, uniq: true, do: choices(prefixed(half), i)
    assert length(tails) > 3
  after
    Runner.flush_notes()
  end

  test "a prefix that cannot be followed gives way to POS at once" do
    assert choices(prefixed([7, 0, 0]), 2) == choices(%{}, 2)
  after
    Runner.flush_notes()
  end

  test "the engine refuses a prefixed run with no strategy to follow it" do
    assert_raise ArgumentError, ~r/prefixed needs `then`/, fn ->
      Runner.run_once(&senders/0, cfg(), 0, %{strategy: :prefixed, choices: [0]})
    end

    assert_raise ArgumentError, ~r/followed by a sampling strategy/, fn ->
      Runner.run_once(&senders/0, cfg(), 0, %{strategy: :prefixed, then: :replay, choices: []})
    end

    assert_raise ArgumentError, ~r/unknown strategy/, fn ->
      Runner.run_once(&senders/0, cfg(), 0, %{strategy: :prefixed, then: :nope, choices: []})
    end
  end
end

defmodule Lockstep.EnvOverrideTest do
  # LOCKSTEP_ITERATIONS wins over `iterations:` wherever it is given; a bad value names the
  # variable. Not async: it sets the environment.
  use ExUnit.Case, async: false

  defp with_env(value, fun),
    do: Lockstep.TestHelpers.with_env([{"LOCKSTEP_ITERATIONS", value}], fun)

  defp count_iterations(opts) do
    counter = :counters.new(1, [])
    Lockstep.Runner.run(fn -> :counters.add(counter, 1, 1) end, opts)
    :counters.get(counter, 1)
  end

  test "LOCKSTEP_ITERATIONS overrides iterations given to the run, a ctest or use Lockstep.Test" do
    with_env("7", fn ->
      assert count_iterations(iterations: 3) == 7
      assert count_iterations([]) == 7
    end)
  end

  test "a bad LOCKSTEP_ITERATIONS names the variable" do
    for bad <- ["0", "-1", "many"] do
      with_env(bad, fn ->
        assert_raise ArgumentError,
                     ~r/the environment variable LOCKSTEP_ITERATIONS must be a positive integer, got: "#{bad}"/,
                     fn -> count_iterations(iterations: 3) end
      end)
    end
  end
end

defmodule Lockstep.MixTasksHuntTest do
  use ExUnit.Case, async: true

  alias Mix.Tasks.Lockstep.Hunt

  test "the budget, workers and seed become the hunt's environment" do
    {target, env, args} =
      Hunt.parse!(["test/a_test.exs:12", "--time", "10m", "--workers", "4", "--seed", "7"])

    assert target == "test/a_test.exs:12"
    env = Map.new(env)
    assert env["LOCKSTEP_MAX_RUN_TIME"] == "600000"
    assert env["LOCKSTEP_WORKERS"] == "4"
    assert env["LOCKSTEP_SEED"] == "7"
    assert env["LOCKSTEP_HUNT"] == "1"
    assert ["--timeout", timeout, "--max-failures", "1"] = args
    assert String.to_integer(timeout) > 600_000
  end

  test "durations, defaults and arguments for mix test" do
    for {text, ms} <- [{"90s", 90_000}, {"1h", 3_600_000}, {"2500", 2_500}, {"20ms", 20}] do
      {_, env, _} = Hunt.parse!(["t.exs", "--time", text])
      assert Map.new(env)["LOCKSTEP_MAX_RUN_TIME"] == Integer.to_string(ms)
    end

    {_, env, args} = Hunt.parse!(["t.exs", "--time", "1s", "--", "--trace"])
    refute Map.has_key?(Map.new(env), "LOCKSTEP_SEED")
    assert Map.new(env)["LOCKSTEP_WORKERS"] == "1"
    assert List.last(args) == "--trace"
  end

  test "bad arguments raise Mix.Error with what is accepted" do
    for {args, message} <- [
          {["t.exs"], ~r/needs --time/},
          {["t.exs", "--time", "ten"], ~r/--time must be a positive duration/},
          {["t.exs", "--time", "0s"], ~r/--time must be a positive duration/},
          {["t.exs", "--time", "1s", "--workers", "0"], ~r/--workers must be between 1 and 256/},
          {["t.exs", "--time", "1s", "--workers", "x"], ~r/--workers must be between/},
          {["t.exs", "--time", "1s", "--seed", "-1"], ~r/--seed must be a non-negative/},
          {["a.exs", "b.exs", "--time", "1s"], ~r/takes one FILE/},
          {["t.exs", "--time", "1s", "--bogus"], ~r/unknown or bad option "--bogus"/}
        ] do
      assert_raise Mix.Error, message, fn -> Hunt.parse!(args) end
    end
  end
end

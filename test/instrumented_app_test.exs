defmodule Lockstep.InstrumentedAppTest do
  # The fixture project under test/fixtures/instrumented_app is an ordinary library with a
  # cache, a rate limiter, a waiter and an Erlang counter, each with a bug, and their correct
  # twins. It depends on Lockstep by path as a user's project would, and adds only the
  # `:lockstep` compiler. Its own tests check that each bug is found, replayed and shrunk.
  use ExUnit.Case, async: false

  @moduletag timeout: 300_000
  @app Path.expand("fixtures/instrumented_app", __DIR__)

  defp mix(args, env) do
    System.cmd("mix", args,
      cd: @app,
      env: [{"MIX_ENV", env}, {"LOCKSTEP_SEED", nil}, {"LOCKSTEP_ITERATIONS", nil}],
      stderr_to_stdout: true
    )
  end

  defp marked?(env, beam) do
    path = Path.join([@app, "_build", env, "lib", "instrumented_app", "ebin", beam])
    {:ok, {_, [attributes: attrs]}} = :beam_lib.chunks(String.to_charlist(path), [:attributes])
    Keyword.has_key?(attrs, :lockstep_instrumented)
  end

  test "the unmodified library's bugs are found through the Mix compiler; dev stays untouched" do
    {out, status} = mix(["test"], "test")
    assert status == 0, out
    assert out =~ "4 ctests, 6 tests, 0 failures"
    assert marked?("test", "Elixir.Fixture.Cache.beam")
    assert marked?("test", "fixture_counter.beam")

    {out, status} = mix(["compile"], "dev")
    assert status == 0, out
    refute marked?("dev", "Elixir.Fixture.Cache.beam")
    refute marked?("dev", "fixture_counter.beam")
  end
end

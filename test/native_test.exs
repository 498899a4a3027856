defmodule Lockstep.NativeTest do
  use ExUnit.Case, async: true

  @cargo_toml Path.expand("../native/lockstep_nif/Cargo.toml", __DIR__)

  test "the loaded NIF reports the version of the crate it was built from" do
    [_, version] = Regex.run(~r/^version\s*=\s*"([^"]+)"/m, File.read!(@cargo_toml))

    assert Lockstep.Native.engine_version() == version
  end

  test "the NIF is loaded from the application's priv directory" do
    library = Path.join(:code.priv_dir(:lockstep), "native/liblockstep_nif.so")

    assert File.regular?(library)
  end

  describe "run_unreaped/2" do
    alias Lockstep.Native

    # A stand-in for a managed process: it announces its exit to the engine when told to,
    # then stays alive in the VM until killed.
    defp stand_in(run) do
      spawn(fn ->
        receive do
          {:"$lockstep_wake", _} -> :ok
        end

        receive do
          :exit -> Native.run_op(run, 0, {:exit, :normal})
        end

        Process.sleep(:infinity)
      end)
    end

    test "lists bound processes until the VM reports them dead; ended_only those the run ended" do
      run = Native.run_new(%{}, make_ref(), self(), node())
      root = stand_in(run)
      :ok = Native.run_bind(run, 0, root)
      Native.run_start(run)

      assert Native.run_unreaped(run, false) == [root]
      assert Native.run_unreaped(run, true) == []

      # Ended in the run, still alive in the VM.
      send(root, :exit)
      assert await(fn -> Native.run_outcome(run) == {:completed, nil} end)
      assert Process.alive?(root)
      assert Native.run_unreaped(run, true) == [root]

      ref = Process.monitor(root)
      Process.exit(root, :kill)
      assert_receive {:DOWN, ^ref, :process, ^root, :killed}
      assert await(fn -> Native.run_unreaped(run, false) == [] end)
      assert Native.run_unreaped(run, true) == []
    end

    test "run_result reads a finished run's steps, fingerprint and outcome at once" do
      run = Native.run_new(%{}, make_ref(), self(), node())
      assert {0, _, nil} = Native.run_result(run)
      root = stand_in(run)
      :ok = Native.run_bind(run, 0, root)
      Native.run_start(run)
      send(root, :exit)
      assert await(fn -> Native.run_outcome(run) == {:completed, nil} end)

      {steps, _running, true, _now} = Native.run_status(run)
      assert Native.run_result(run) == {steps, Native.run_fingerprint(run), {:completed, nil}}
      assert steps > 0
      assert_raise ArgumentError, fn -> Native.run_result(:not_a_run) end
      Process.exit(root, :kill)
    end

    test "a non-boolean flag is an error naming it" do
      run = Native.run_new(%{}, make_ref(), self(), node())
      assert {:error, msg} = Native.run_unreaped(run, :yes)
      assert msg =~ "ended_only must be a boolean"
    end

    # The run learns of a death through its own monitor, which may fire just after ours.
    defp await(check, tries \\ 1_000) do
      cond do
        check.() ->
          true

        tries == 0 ->
          false

        true ->
          Process.sleep(1)
          await(check, tries - 1)
      end
    end
  end
end

defmodule Lockstep.WithoutNifTest do
  # Without cargo the NIF is not built and nothing fails to compile; without the NIF the
  # pass-through API works and starting a run or a check raises one clear error. Not async:
  # it changes PATH and HOME, and pretends the NIF did not load.
  use ExUnit.Case, async: false
  import ExUnit.CaptureIO
  import Lockstep.TestHelpers

  @moduletag :tmp_dir

  test "without cargo the NIF compiler skips the build and says so once", %{tmp_dir: dir} do
    notice = Path.join(Mix.Project.manifest_path(), "lockstep_native.skipped")
    File.rm(notice)

    try do
      with_env([{"PATH", Path.join(dir, "nothing")}, {"HOME", dir}], fn ->
        out =
          capture_io(fn ->
            assert Mix.Tasks.Compile.LockstepNative.run([]) == {:noop, []}
          end)

        assert out =~ "Lockstep: cargo not found on PATH"
        assert out =~ "the pass-through API works, runs and checks need it"
        assert capture_io(fn -> Mix.Tasks.Compile.LockstepNative.run([]) end) == ""
      end)
    after
      File.rm(notice)
    end
  end

  test "without the NIF the pass-through API works and a run or a check says how to get it" do
    :persistent_term.put(
      {Lockstep.Native, :load_error},
      {:load_failed, "no such file", "/x/liblockstep_nif.so"}
    )

    try do
      # Outside a run the API calls the VM directly: no NIF needed.
      me = self()
      pid = Lockstep.spawn(fn -> Lockstep.send(me, :hi) end)
      assert is_pid(pid)
      assert_receive :hi
      {:ok, agent} = Lockstep.Agent.start_link(fn -> 1 end)
      assert Lockstep.Agent.get(agent, & &1) == 1

      error = assert_raise Lockstep.Error, fn -> Lockstep.Runner.run(fn -> :ok end) end
      assert error.message =~ "the Lockstep engine (its NIF) is not built here"
      assert error.message =~ "install Rust (https://rustup.rs"
      assert error.message =~ "mix deps.compile lockstep --force"

      assert_raise Lockstep.Error, ~r/not built here/, fn ->
        Lockstep.Checker.Linearizable.check([], :register)
      end
    after
      :persistent_term.erase({Lockstep.Native, :load_error})
    end
  end
end

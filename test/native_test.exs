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
end

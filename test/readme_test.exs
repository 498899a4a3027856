defmodule Lockstep.ReadmeTest do
  # The README's Elixir examples, as written: every block but the mix.exs snippet is compiled
  # together in a VM of its own (ExUnit there runs only them), `MyCache` is put under control
  # as the :lockstep compiler would, and the results are what the README says: the cache and
  # counter tests find their bugs, the register test passes.
  use ExUnit.Case, async: true

  @moduletag :tmp_dir

  defp blocks do
    Regex.scan(~r/```elixir\n(.*?)```/s, File.read!("README.md"), capture: :all_but_first)
    |> Enum.map(&hd/1)
    |> Enum.reject(&(&1 =~ "def project do"))
  end

  test "the README's examples run as written", %{tmp_dir: dir} do
    {tests, code} = Enum.split_with(blocks(), &(&1 =~ "use ExUnit.Case"))
    assert length(tests) >= 3 and length(code) >= 2
    lib = Path.join(dir, "readme_lib.ex")
    File.write!(lib, Enum.join(code, "\n"))
    test_file = Path.join(dir, "readme_test.exs")
    File.write!(test_file, Enum.join(tests, "\n"))
    ebin = Path.join(dir, "ebin")

    # The library modules compiled to .beam files, as a project's are; the tests loaded as
    # `mix test` loads them.
    script = """
    Code.put_compiler_option(:debug_info, true)
    File.mkdir_p!(#{inspect(ebin)})
    {:ok, _, _} = Kernel.ParallelCompiler.compile_to_path([#{inspect(lib)}], #{inspect(ebin)})
    Code.prepend_path(#{inspect(ebin)})
    Lockstep.instrument([MyCache])
    ExUnit.start(autorun: false, seed: 0)
    Code.require_file(#{inspect(test_file)})
    result = ExUnit.run()
    IO.puts("RESULT " <> inspect(result))
    """

    {out, 0} =
      System.cmd("mix", ["run", "--no-compile", "--no-start", "-e", script],
        env: [{"MIX_ENV", "test"}, {"LOCKSTEP_SEED", nil}, {"LOCKSTEP_ITERATIONS", nil}],
        stderr_to_stdout: true
      )

    # MyCacheTest and CounterTest find their bugs; RegisterTest and StoreTest pass.
    assert out =~ ~r/RESULT %\{.*failures: 2.*total: 4/, out
    assert out =~ "MyCacheTest"
    assert out =~ "CounterTest"
    assert length(String.split(out, "Lockstep found a bug")) == 3, out
    assert out =~ "code:  assert MyCache.loads(cache) == 1"
    assert out =~ "code:  assert Counter.get(counter) == 2"
  end
end

defmodule Lockstep.CtestTest do
  use ExUnit.Case, async: true
  use Lockstep.Test, iterations: 25, max_steps: 500

  ctest "a ctest body runs under Lockstep" do
    assert Lockstep.managed?()
    me = self()
    Lockstep.spawn(fn -> Lockstep.send(me, :pong) end)
    assert Lockstep.recv() == :pong
  end

  ctest "per-test options override the module's", iterations: 3, strategy: :random do
    assert Lockstep.now() == 0
  end

  setup do
    {:ok, amount: 40}
  end

  ctest "a ctest takes ExUnit's context, as test does", %{amount: amount} do
    me = self()
    Lockstep.spawn(fn -> Lockstep.send(me, amount + 2) end)
    assert Lockstep.recv() == 42
  end

  ctest "and options beside the context", context, iterations: 2 do
    assert context.amount == 40
    assert context.test == :"ctest and options beside the context"
  end

  test "ctests are registered as ExUnit tests of type :ctest, tagged :ctest" do
    tests = __MODULE__.__ex_unit__().tests
    ctests = Enum.filter(tests, &(&1.tags.test_type == :ctest))
    assert length(ctests) == 4
    assert Enum.all?(ctests, & &1.tags[:ctest])
  end

  test "a failed assertion is re-raised as itself, with the report in front" do
    error =
      assert_raise ExUnit.AssertionError, fn ->
        Lockstep.Test.__run__(
          __MODULE__,
          "inner",
          %{file: __ENV__.file, line: __ENV__.line},
          [iterations: 5, seed: 1],
          fn -> assert 1 + 1 == 3 end
        )
      end

    assert error.left == 2 and error.right == 3
    assert error.message =~ "Lockstep found a bug in iteration 0 (of 5, counted from 0)"
    assert error.message =~ "Reproduce: mix test test/ctest_test.exs:"
    assert error.message =~ "--seed"
  end

  test "the default seed derives from ExUnit's seed and the test's identity" do
    seeds =
      for name <- ["a", "b"] do
        error =
          assert_raise Lockstep.BugFound, fn ->
            Lockstep.Test.__run__(__MODULE__, name, %{file: "f", line: 1}, [iterations: 1], fn ->
              raise "x"
            end)
          end

        error.seed
      end

    assert [a, b] = seeds
    assert a != b
    exunit_seed = ExUnit.configuration()[:seed]
    assert a == :erlang.phash2({exunit_seed, __MODULE__, "a"}, 4_294_967_296)
  end

  test "invalid module options fail at compile time naming the key" do
    assert_raise ArgumentError, ~r/use Lockstep.Test option :iterations/, fn ->
      Code.compile_quoted(
        quote do
          defmodule BadLockstepOptions do
            use Lockstep.Test, iterations: -1
          end
        end
      )
    end
  end

  test "per-ctest options are checked when the module compiles" do
    source = """
    defmodule CtestBadOption do
      use ExUnit.Case
      use Lockstep.Test
      Module.delete_attribute(__MODULE__, :after_compile)

      ctest "bad", iterations: -3 do
        :ok
      end
    end
    """

    assert_raise ArgumentError, ~r/ctest "bad".*:iterations/s, fn ->
      Code.compile_string(source, "ctest_bad_option.exs")
    end
  end
end

defmodule Lockstep.CheckerBudgetTest do
  # Every check has a time and a memory budget by default; running out of either is
  # `{:unknown, why}` naming the budget, never a hang or a crash; the command line says how long
  # a check has run while it runs.
  use ExUnit.Case, async: false
  import ExUnit.CaptureIO

  alias Lockstep.Checker
  alias Lockstep.Checker.{Linearizable, SequentialConsistency}
  alias Mix.Tasks.Lockstep.Check

  @moduletag :tmp_dir

  # Writes that never returned, all concurrent, then a read of a value nobody wrote: to say
  # "not linearizable" the search must try the orders of the open writes.
  defp open_writes(n) do
    Enum.map(0..(n - 1), &{&1, :invoke, :write, &1}) ++
      Enum.map(0..(n - 1), &{&1, :info, :write, &1}) ++
      [{n, :invoke, :read, nil}, {n, :ok, :read, -1}]
  end

  # Completed writes that all overlap, then an impossible read: configurations are subsets.
  defp overlapping_writes(n) do
    Enum.map(0..(n - 1), &{&1, :invoke, :write, &1}) ++
      Enum.map(0..(n - 1), &{&1, :ok, :write, &1}) ++
      [{n, :invoke, :read, nil}, {n, :ok, :read, -1}]
  end

  test "the defaults: one minute and 4 GiB; :infinity lifts either" do
    o = Checker.options!([], "t")
    assert o.time_limit_ms == 60_000
    assert o.max_memory == 4 * 1024 * 1024 * 1024
    o = Checker.options!([time_limit: :infinity, max_memory: :infinity], "t")
    assert o.time_limit_ms == nil and o.max_memory == nil

    assert_raise ArgumentError,
                 ~r/option :max_memory must be :infinity or a positive integer/,
                 fn ->
                   Checker.options!([max_memory: -1], "t")
                 end

    assert_raise ArgumentError,
                 ~r/option :time_limit must be :infinity or a positive integer/,
                 fn ->
                   Checker.options!([time_limit: "1s"], "t")
                 end
  end

  test "a check past its time budget is unknown and names the budget" do
    assert {:unknown, why} = Linearizable.check(open_writes(60), :register, time_limit: 200)
    assert why =~ "time budget of 200 ms exhausted"

    assert {:unknown, why} =
             SequentialConsistency.check(open_writes(60), :register, time_limit: 200)

    assert why =~ "time budget"
  end

  test "a check past its memory budget is unknown, and the VM stays up" do
    assert {:unknown, why} =
             Linearizable.check(overlapping_writes(22), :register,
               max_memory: 8 * 1024 * 1024,
               time_limit: :infinity
             )

    assert why =~ "memory budget of 8 MiB exhausted"
  end

  test "a long sequential history is checked in bounded memory" do
    # 200,000 operations one after the other: the search keeps a few words per configuration.
    history =
      Enum.flat_map(0..49_999, fn i ->
        [
          {0, :invoke, :write, i},
          {0, :ok, :write, i},
          {1, :invoke, :read, nil},
          {1, :ok, :read, i}
        ]
      end)

    assert Linearizable.check(history, :register, max_memory: 64 * 1024 * 1024) == :ok
  end

  test "mix lockstep.check: budgets as flags, and progress while a check runs", %{tmp_dir: dir} do
    path = Path.join(dir, "open.edn")

    File.write!(
      path,
      Enum.map_join(open_writes(60), "\n", fn {p, t, f, v} ->
        "{:process #{p}, :type :#{t}, :f :#{f}, :value #{if v == nil, do: "nil", else: v}}"
      end)
    )

    Application.put_env(:lockstep, :check_progress_ms, 100)

    try do
      out =
        capture_io(fn ->
          assert Check.main([path, "--model", "register", "--time-limit", "700"]) == 2
        end)

      assert out =~ "open.edn: unknown (time budget of 700 ms exhausted)"
      assert out =~ ~r/still checking after 0\.\d+ s \(time limit 0\.7 s per file\)/
    after
      Application.delete_env(:lockstep, :check_progress_ms)
    end

    out =
      capture_io(fn ->
        assert Check.main([
                 path,
                 "--model",
                 "register",
                 "--time-limit",
                 "300",
                 "--max-memory",
                 "1"
               ]) ==
                 2
      end)

    assert out =~ "open.edn: unknown (memory budget of 1 MiB exhausted"
  end
end

defmodule Lockstep.CheckerTxnTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  alias Lockstep.Checker.{Linearizable, Violation}

  @moduletag :tmp_dir

  # p0 writes x and y in one transaction; p1 reads both concurrently (before it), p2 after.
  defp history(p2_reads) do
    [
      {0, :invoke, :txn, [[:w, :x, 1], [:w, :y, 1]]},
      {1, :invoke, :txn, [[:r, :x, nil], [:r, :y, nil]]},
      {1, :ok, :txn, [[:r, :x, 0], [:r, :y, 0]]},
      {0, :ok, :txn, [[:w, :x, 1], [:w, :y, 1]]},
      {2, :invoke, :txn, [[:r, :x, nil], [:r, :y, nil], [:w, :y, 2]]},
      {2, :ok, :txn, p2_reads ++ [[:w, :y, 2]]}
    ]
  end

  test "a correct transaction history is linearizable" do
    assert :ok =
             Linearizable.check(history([[:r, :x, 1], [:r, :y, 1]]), :multi_register, initial: 0)
  end

  test "a stale read is caught, and named" do
    assert {:error, %Violation{} = v} =
             Linearizable.check(history([[:r, :x, 1], [:r, :y, 0]]), :multi_register, initial: 0)

    assert v.failing == "process 2: txn [r :x 1] [r :y 0] [w :y 2] -> ok (events 5..6)"
    assert v.partition == "keys :x, :y"
  end

  test "nil reads inside a transaction follow the rule" do
    h = history([[:r, :x, nil], [:r, :y, 1]])
    assert {:error, _} = Linearizable.check(h, :multi_register, initial: 0)
    assert :ok = Linearizable.check(h, :multi_register, rules: :knossos)
    assert :ok = Linearizable.check(h, :multi_register, initial: 0, nil_reads: :unknown)
  end

  test "a malformed transaction is invalid" do
    assert {:invalid, msg} =
             Linearizable.check(
               [{0, :invoke, :txn, [:r, :x]}, {0, :ok, :txn, [:r, :x]}],
               :multi_register
             )

    assert msg =~ "micro-operations"
  end

  test "mix lockstep.check --model multi_register", %{tmp_dir: dir} do
    path = Path.join(dir, "txn.edn")

    File.write!(path, """
    [{:process 0, :type :invoke, :f :txn, :value [[:w :x 1] [:w :y 2]]}
     {:process 0, :type :ok, :f :txn, :value [[:w :x 1] [:w :y 2]]}
     {:process 1, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
     {:process 1, :type :ok, :f :txn, :value [[:r :x 1] [:r :y 0]]}]
    """)

    out =
      capture_io(fn ->
        send(self(), {:code, Mix.Tasks.Lockstep.Check.main([path, "--model", "multi_register"])})
      end)

    assert_received {:code, 1}
    assert out =~ "txn.edn: not linearizable: process 1: txn [r :x 1] [r :y 0] -> ok (lines 3..4)"
  end
end

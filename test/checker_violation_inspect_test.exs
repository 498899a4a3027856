defmodule Lockstep.CheckerViolationInspectTest do
  # A failed check inside an assertion reads as its explanation, line by line.
  use ExUnit.Case, async: true

  test "a violation inspects as its explanation" do
    history = [
      {0, :invoke, :write, 1},
      {0, :ok, :write, 1},
      {1, :invoke, :read, nil},
      {1, :ok, :read, 2}
    ]

    error =
      assert_raise MatchError, fn ->
        :ok = Lockstep.Checker.Linearizable.check(history, :register)
      end

    text = Exception.message(error)
    assert text =~ "#Lockstep.Checker.Violation<"
    assert text =~ ~r/\n +Not linearizable: the 2 operations admit no legal order.\n/
    assert text =~ ~s(Cannot place next: process 1: read -> 2)
    refute text =~ "text:"
  end
end

defmodule Lockstep.CheckerRulesTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  alias Lockstep.Checker.{Linearizable, Violation}
  alias Mix.Tasks.Lockstep.Check

  @moduletag :tmp_dir

  # A read of nil after a completed write of 1: stale unless nil means "unknown".
  @nil_read [
    {0, :invoke, :write, 1},
    {0, :ok, :write, 1},
    {1, :invoke, :read, nil},
    {1, :ok, :read, nil}
  ]

  # A compare-and-set from 1 that failed while the register held 1.
  @failed_cas [
    {0, :invoke, :write, 1},
    {0, :ok, :write, 1},
    {1, :invoke, :cas, [1, 2]},
    {1, :fail, :cas, [1, 2]}
  ]

  # A read of 0 before any write.
  @read_zero [{0, :invoke, :read, nil}, {0, :ok, :read, 0}]

  defp verdict(history, opts) do
    case Linearizable.check(history, :cas_register, opts) do
      :ok -> :ok
      {:error, %Violation{}} -> :violation
      other -> other
    end
  end

  defp verdicts(history) do
    for rules <- [nil, :knossos, :porcupine, :strict], do: verdict(history, rules: rules)
  end

  test "each preset's verdicts" do
    assert verdicts(@nil_read) == [:violation, :ok, :violation, :violation]
    assert verdicts(@failed_cas) == [:violation, :ok, :violation, :violation]
    assert verdicts(@read_zero) == [:violation, :ok, :violation, :violation]
  end

  test "explicit options override the preset" do
    assert verdict(@nil_read, rules: :knossos, nil_reads: :value) == :violation
    assert verdict(@failed_cas, rules: :knossos, fail: :observe) == :violation
    assert verdict(@read_zero, rules: :knossos, initial: nil) == :violation
    assert verdict(@nil_read, nil_reads: :unknown) == :ok
  end

  test "what a preset sets, from the engine" do
    assert Lockstep.Checker.rules(:knossos) == [
             initial: 0,
             info: :open,
             fail: :discard,
             nil_reads: :unknown,
             strict: false
           ]

    assert Lockstep.Checker.rules(:strict)[:strict] == true
    assert Lockstep.Checker.rules(:porcupine)[:nil_reads] == :value
  end

  test "bad rules raise up front" do
    assert_raise ArgumentError, ~r/option :rules must be/, fn ->
      Linearizable.check(@nil_read, :register, rules: :jepsen)
    end

    assert_raise ArgumentError, ~r/option :nil_reads must be :value or :unknown/, fn ->
      Linearizable.check(@nil_read, :register, nil_reads: :maybe)
    end
  end

  defp task(args) do
    err =
      capture_io(:stderr, fn ->
        send(self(), {:out, capture_io(fn -> send(self(), {:code, Check.main(args)}) end)})
      end)

    assert_received {:code, code}
    assert_received {:out, out}
    {code, out, err}
  end

  defp write(dir, name, events) do
    text =
      Enum.map_join(events, "\n", fn {p, t, f, v} ->
        "{:process #{p}, :type :#{t}, :f :#{f}, :value #{edn(v)}}"
      end)

    path = Path.join(dir, name)
    File.write!(path, text)
    path
  end

  defp edn(nil), do: "nil"
  defp edn(list) when is_list(list), do: "[" <> Enum.map_join(list, " ", &edn/1) <> "]"
  defp edn(v), do: to_string(v)

  test "mix lockstep.check --rules and --nil-reads", %{tmp_dir: dir} do
    nil_read = write(dir, "nil_read.edn", @nil_read)
    cas = write(dir, "cas.edn", @failed_cas)
    zero = write(dir, "zero.edn", @read_zero)
    files = [nil_read, cas, zero]

    assert {1, out, _} = task(files ++ ["--model", "cas_register"])
    assert out =~ "nil_read.edn: not linearizable: process 1: read -> nil (lines 3..4)\n"
    refute out =~ "rules:"

    assert {0, out, _} = task(files ++ ["--model", "cas_register", "--rules", "knossos"])
    assert out =~ "nil_read.edn: linearizable (rules: knossos)\n"
    assert out =~ "cas.edn: linearizable (rules: knossos)\n"
    assert out =~ "zero.edn: linearizable (rules: knossos)\n"

    assert {1, out, _} =
             task(files ++ ["--model", "cas_register", "--rules", "knossos", "--initial", "nil"])

    assert out =~ "zero.edn: not linearizable: process 0: read -> 0"
    assert out =~ "cas.edn: linearizable (rules: knossos)"

    assert {1, out, _} =
             task([
               nil_read,
               "--model",
               "cas_register",
               "--rules",
               "knossos",
               "--nil-reads",
               "value"
             ])

    assert out =~ "(rules: knossos)"

    assert {0, _, _} = task([nil_read, "--model", "register", "--nil-reads", "unknown"])

    assert {2, _, err} = task([nil_read, "--model", "register", "--rules", "jepsen"])
    assert err =~ "--rules must be knossos or porcupine or strict or lockstep"
    assert {2, _, err} = task([nil_read, "--model", "register", "--nil-reads", "maybe"])
    assert err =~ "--nil-reads must be value or unknown"
  end

  test "mix lockstep.check --rules strict refuses other output; --no-strict overrides",
       %{tmp_dir: dir} do
    path = Path.join(dir, "noisy.log")

    File.write!(
      path,
      "starting\nINFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n"
    )

    assert {0, out, _} = task([path, "--model", "register", "--rules", "porcupine"])

    assert out =~
             "noisy.log: linearizable (rules: porcupine; skipped 1 line that is not a history event, first at line 1)"

    assert {2, out, _} = task([path, "--model", "register", "--rules", "strict"])
    assert out =~ "noisy.log: error: line 1: not a history event"
    assert out =~ "(rules: strict)"

    assert {0, _, _} = task([path, "--model", "register", "--rules", "strict", "--no-strict"])
  end
end

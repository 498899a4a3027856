defmodule Lockstep.CheckerLinearizableTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO
  import ExUnit.CaptureLog

  alias Lockstep.Checker.{Causal, Linearizable, SequentialConsistency, Violation}
  alias Mix.Tasks.Lockstep.Check

  # p0 writes 1 and completes; afterwards p1 reads nil: stale, not linearizable, but
  # sequentially consistent (p1's read can be ordered before the write).
  @stale [
    {0, :invoke, :write, 1},
    {0, :ok, :write, 1},
    {1, :invoke, :read, nil},
    {1, :ok, :read, nil}
  ]

  @fine [
    {0, :invoke, :write, 1},
    {1, :invoke, :read, nil},
    {0, :ok, :write, 1},
    {1, :ok, :read, 1}
  ]

  @moduletag :tmp_dir

  test "verdicts and explanations" do
    assert Linearizable.check(@fine, :register) == :ok
    assert {:error, %Violation{} = v} = Linearizable.check(@stale, :register)
    assert v.failing =~ "process 1: read -> nil"
    assert v.text =~ "Not linearizable"
    assert to_string(v) == v.text
    assert SequentialConsistency.check(@stale, :register) == :ok
  end

  test "processes may be any terms and events may be maps" do
    events = for {p, t, f, v} <- @stale, do: %{process: {:client, p}, type: t, f: f, value: v}

    assert {:error, %Violation{}} = Linearizable.check(events, :register)
  end

  test "initial value, :info and :fail readings" do
    assert Linearizable.check([{0, :invoke, :read, nil}, {0, :ok, :read, 5}], :register,
             initial: 5
           ) == :ok

    # A write whose outcome is unknown may have happened: a later read of 2 is fine when
    # :info is open, not when it is discarded.
    events = [
      {0, :invoke, :write, 2},
      {0, :info, :write, nil},
      {1, :invoke, :read, nil},
      {1, :ok, :read, 2}
    ]

    assert Linearizable.check(events, :register) == :ok
    assert {:error, _} = Linearizable.check(events, :register, info: :discard)

    # A failed cas observes that the register did not hold 0; with :fail discard it is dropped.
    cas = [{0, :invoke, :cas, [0, 1]}, {0, :fail, :cas, [0, 1]}]
    assert {:error, _} = Linearizable.check(cas, :cas_register, initial: 0)
    assert Linearizable.check(cas, :cas_register, initial: 0, fail: :discard) == :ok
  end

  test "budgets give :unknown, never a guess" do
    events = for p <- 0..7, t <- [:invoke, :ok], do: {p, t, :write, p}

    assert {:unknown, why} =
             Linearizable.check(
               events ++ [{9, :invoke, :read, nil}, {9, :ok, :read, 99}],
               :register,
               max_steps: 3
             )

    assert why =~ "budget"
  end

  test "html output", %{tmp_dir: dir} do
    path = Path.join(dir, "report/stale.html")

    assert {:error, %Violation{html_path: ^path}} =
             Linearizable.check(@stale, :register, html: path)

    assert File.read!(path) =~ "<html"
  end

  test "causal consistency" do
    # p1 reads 2 (written after 1 by p0) and then reads 1: not causally consistent.
    events = [
      {0, :invoke, :write, 1},
      {0, :ok, :write, 1},
      {0, :invoke, :write, 2},
      {0, :ok, :write, 2},
      {1, :invoke, :read, nil},
      {1, :ok, :read, 2},
      {1, :invoke, :read, nil},
      {1, :ok, :read, 1}
    ]

    assert {:error, %Violation{text: text}} = Causal.check(events, :cc)
    assert text =~ "WriteCORead"
    assert Causal.check(@fine, :ccv) == :ok
  end

  test "bad histories are reported, not raised" do
    assert {:invalid, msg} = Linearizable.check([{0, :ok, :read, 1}], :register)
    assert msg =~ "without a pending invocation"
    assert {:invalid, msg} = Linearizable.check([{0, :invoke, :read, 1.5}], :register)
    assert msg =~ "unsupported term 1.5"
    assert {:invalid, msg} = Linearizable.check([{0, :invoke, :write, <<255>>}], :register)
    assert msg =~ "the binary <<255>> is not UTF-8 text"
    assert {:invalid, msg} = Linearizable.check([{0, :invoke, :write, [1 | 2]}], :register)
    assert msg =~ "improper list [1|2]"

    assert {:invalid, msg} =
             Linearizable.check([{0, :invoke, :frob, 1}, {0, :ok, :frob, 1}], :register)

    assert msg =~ "frob is not supported"
    assert {:invalid, msg} = Linearizable.check([:nope], :register)
    assert msg =~ "event 1"
    assert {:invalid, msg} = Linearizable.check({:file, "/nonexistent/h.edn"}, :register)
    assert msg =~ "cannot read /nonexistent/h.edn"
    assert {:invalid, msg} = Linearizable.check("{:process 0, :type", :register)
    assert msg =~ "line 1"
    assert {:invalid, _} = Linearizable.check(42, :register)
  end

  test "bad options and models raise up front" do
    assert_raise ArgumentError, ~r/option :info must be :open or :discard/, fn ->
      Linearizable.check(@fine, :register, info: :maybe)
    end

    assert_raise ArgumentError, ~r/unknown option :bogus/, fn ->
      Linearizable.check(@fine, :register, bogus: 1)
    end

    assert_raise ArgumentError, ~r/Lockstep.Model/, fn -> Linearizable.check(@fine, :nope) end
    assert_raise ArgumentError, ~r/:cc, :cm or :ccv/, fn -> Causal.check(@fine, :strong) end
  end

  defp task(args) do
    output =
      capture_io(:stderr, fn ->
        send(self(), {:out, capture_io(fn -> send(self(), {:code, Check.main(args)}) end)})
      end)

    assert_received {:code, code}
    assert_received {:out, out}
    {code, out, output}
  end

  defp write(dir, name, events) do
    text =
      Enum.map_join(events, "\n", fn {p, t, f, v} ->
        "{:process #{p}, :type :#{t}, :f :#{f}, :value #{if v == nil, do: "nil", else: v}}"
      end)

    path = Path.join(dir, name)
    File.write!(path, text)
    path
  end

  test "mix lockstep.check exit statuses", %{tmp_dir: dir} do
    fine = write(dir, "fine.edn", @fine)
    stale = write(dir, "stale.edn", @stale)

    assert {0, out, _} = task([fine, "--model", "register"])
    assert out =~ "fine.edn: linearizable"

    assert {1, out, _} =
             task([fine, stale, "--model", "register", "--html", Path.join(dir, "html")])

    assert out =~ "stale.edn: not linearizable: process 1: read -> nil"
    assert File.exists?(Path.join(dir, "html/stale.edn.html"))

    assert {2, out, _} = task([fine, Path.join(dir, "missing.edn"), "--model", "register"])
    assert out =~ "missing.edn: error: cannot read"

    File.write!(Path.join(dir, "corrupt.edn"), "{:process 0, :type")
    assert {2, out, _} = task([Path.join(dir, "corrupt.edn"), "--model", "register"])
    assert out =~ "corrupt.edn: error: line 1"

    # Initial value as a literal; :info reading.
    assert {0, _, _} =
             task([
               write(dir, "five.edn", [{0, :invoke, :read, nil}, {0, :ok, :read, 5}]),
               "--model",
               "register",
               "--initial",
               "5"
             ])
  end

  @noisy "starting the test\n" <>
           "INFO  jepsen.util - 0\t:invoke\t:write\t1\n" <>
           "WARN  a line of other output\n" <>
           "INFO  jepsen.util - 0\t:ok\t:write\t1\n"

  test "mix lockstep.check: an empty file is an error, not a pass", %{tmp_dir: dir} do
    empty = Path.join(dir, "empty.edn")
    File.write!(empty, "")
    blank = Path.join(dir, "blank.log")
    File.write!(blank, "\n   \n")

    assert {2, out, _} = task([empty, blank, "--model", "register"])
    assert out =~ "#{empty}: error: no operations: the history is empty"
    assert out =~ "#{blank}: error: no operations"
    assert out =~ "2 histories: 0 linearizable, 0 not linearizable, 0 unknown, 2 errors"

    # A log of other output only says what it skipped.
    other = Path.join(dir, "other.log")
    File.write!(other, "INFO  jepsen.util starting\nINFO  jepsen.core done\n")
    assert {2, out, _} = task([other, "--model", "register"])

    assert out =~
             "#{other}: error: no operations: the history is empty (skipped 2 lines that are " <>
               "not history events, first at line 1: is this a history file?)"
  end

  test "mix lockstep.check counts the lines it skips; --strict refuses them", %{tmp_dir: dir} do
    noisy = Path.join(dir, "noisy.log")
    File.write!(noisy, @noisy)

    assert {0, out, _} = task([noisy, "--model", "register"])

    assert out =~
             "#{noisy}: linearizable (skipped 2 lines that are not history events, first at line 1)"

    assert {2, out, _} = task([noisy, "--model", "register", "--strict"])

    assert out =~
             "#{noisy}: error: line 1: not a history event (no \"jepsen.util - \" marker): " <>
               "\"starting the test\"; strict mode refuses such lines (2 in this file)"

    # The API: the same reading, with `strict: true`; lenient reading logs the count.
    log = capture_log(fn -> assert Linearizable.check({:file, noisy}, :register) == :ok end)

    assert log =~ "#{noisy}: skipped 2 lines that are not history events, first at line 1"

    assert {:invalid, msg} = Linearizable.check({:file, noisy}, :register, strict: true)
    assert msg =~ "#{noisy}: line 1: not a history event"
    assert {:invalid, msg} = Linearizable.check(@noisy, :register, strict: true)
    assert msg =~ "line 1: not a history event"

    empty = Path.join(dir, "empty.edn")
    File.write!(empty, "")

    assert Linearizable.check({:file, empty}, :register) ==
             {:invalid, "#{empty}: no operations: the history is empty"}

    assert Linearizable.check("", :register) ==
             {:invalid, "no operations: the history is empty"}

    # A list of no events is still a (trivial) history.
    assert Linearizable.check([], :register) == :ok

    assert_raise ArgumentError, ~r/option :strict must be a boolean/, fn ->
      Linearizable.check(@noisy, :register, strict: :yes)
    end
  end

  test "mix lockstep.check never echoes binary garbage", %{tmp_dir: dir} do
    nul = Path.join(dir, "nul.bin")
    File.write!(nul, :binary.copy(<<0>>, 4096))
    bell = Path.join(dir, "bell.edn")
    File.write!(bell, "{:process \"" <> :binary.copy(<<7>>, 4096) <> "\", :type :invoke}")

    assert {2, out, _} = task([nul, bell, "--model", "register"])
    refute out =~ <<0>>
    refute out =~ <<7>>
    assert out =~ "nul.bin: error: line 1: expected an op map, got :\\u{0}\\u{0}"

    for line <- String.split(out, "\n", trim: true) do
      assert String.length(line) < 250, line
    end
  end

  test "mix lockstep.check bad arguments exit 2 with a clear message", %{tmp_dir: dir} do
    assert {2, _, err} = task([dir])
    assert err =~ "--model is required"
    assert {2, _, err} = task([dir, "--model", "btree"])
    assert err =~ "unknown model \"btree\""
    assert {2, _, err} = task(["--model", "register"])
    assert err =~ "give at least one history"
    assert {2, _, err} = task([dir, "--model", "register", "--info", "later"])
    assert err =~ "--info must be open or discard"
    assert {2, _, err} = task([dir, "--model", "register", "--frobnicate"])
    assert err =~ "--frobnicate"
  end

  @tag :tmp_dir
  test "mix lockstep.check under mix exits with the status (subprocess)", %{tmp_dir: dir} do
    stale = write(dir, "stale.edn", @stale)
    env = [{"MIX_ENV", "test"}]

    {_, code} =
      System.cmd("mix", ["lockstep.check", stale, "--model", "register"],
        env: env,
        stderr_to_stdout: true
      )

    assert code == 1
  end
end

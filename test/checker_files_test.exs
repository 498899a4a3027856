defmodule Lockstep.CheckerFilesTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  alias Mix.Tasks.Lockstep.Check

  @moduletag :tmp_dir

  @good "{:process 0, :type :invoke, :f :write, :value 1}\n" <>
          "{:process 0, :type :ok, :f :write, :value 1}\n"

  defp task(args) do
    err =
      capture_io(:stderr, fn ->
        send(self(), {:out, capture_io(fn -> send(self(), {:code, Check.main(args)}) end)})
      end)

    assert_received {:code, code}
    assert_received {:out, out}
    {code, out, err}
  end

  test "files in a directory that are not histories are skipped with a note", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "a.edn"), @good)
    File.write!(Path.join(dir, "a-timeline.html"), "<!DOCTYPE html><html></html>")
    File.write!(Path.join(dir, "blob"), <<1, 2, 0, 3>>)

    assert {0, out, _} = task([dir, "--model", "register"])
    assert out =~ "a-timeline.html: skipped: not a history file (a .html file)\n"
    assert out =~ "a.edn: linearizable\n"
    assert out =~ "blob: skipped: not a history file (binary data)\n"

    assert out =~
             "1 histories: 1 linearizable, 0 not linearizable, 0 unknown, 0 errors " <>
               "(2 files that are not histories skipped)"

    # Named explicitly, a file that is not a history is an error.
    assert {2, out, _} = task([Path.join(dir, "a-timeline.html"), "--model", "register"])
    assert out =~ "a-timeline.html: error: line 1"

    # A directory with nothing to check is not a pass.
    File.rm!(Path.join(dir, "a.edn"))
    assert {2, out, _} = task([dir, "--model", "register"])
    assert out =~ "0 histories"
  end

  # A stale read on lines 6 and 7, with nemesis ops in between.
  @with_nemesis """
  {:process :nemesis, :type :info, :f :start, :value nil}
  {:process 0, :type :invoke, :f :write, :value 1}
  {:process :nemesis, :type :info, :f :start, :value "partitioned"}
  {:process 0, :type :ok, :f :write, :value 1}
  {:process :nemesis, :type :info, :f :stop, :value nil}
  {:process 1, :type :invoke, :f :read, :value nil}
  {:process 1, :type :ok, :f :read, :value 2}
  """

  test "positions are lines of the file, nemesis ops counted", %{tmp_dir: dir} do
    path = Path.join(dir, "nemesis.edn")
    File.write!(path, @with_nemesis)

    assert {1, out, _} = task([path, "--model", "register", "--html", Path.join(dir, "html")])
    assert out =~ "nemesis.edn: not linearizable: process 1: read -> 2 (lines 6..7)\n"
    assert File.read!(Path.join(dir, "html/nemesis.edn.html")) =~ "(lines 6..7)"

    for history <- [{:file, path}, @with_nemesis] do
      assert {:error, v} = Lockstep.Checker.Linearizable.check(history, :register)
      assert v.failing == "process 1: read -> 2 (lines 6..7)"
      assert v.text =~ "process 0: write 1 -> ok (lines 2..4)"
    end

    # With the ops' own :index, those.
    indexed =
      @with_nemesis
      |> String.split("\n", trim: true)
      |> Enum.with_index(10)
      |> Enum.map_join("\n", fn {line, i} ->
        String.replace(line, "{", "{:index #{i}, ", global: false)
      end)

    assert {:error, v} = Lockstep.Checker.Linearizable.check(indexed, :register)
    assert v.failing == "process 1: read -> 2 (:index 15..16)"

    # Event lists that were never a text keep client event numbers.
    events = [
      {0, :invoke, :write, 1},
      {0, :ok, :write, 1},
      {1, :invoke, :read, nil},
      {1, :ok, :read, 2}
    ]

    assert {:error, v} = Lockstep.Checker.Linearizable.check(events, :register)
    assert v.failing == "process 1: read -> 2 (events 3..4)"

    # An error names the line.
    File.write!(
      path,
      "{:process :nemesis, :type :info, :f :start}\n{:process 0, :type :ok, :f :read}\n"
    )

    assert {:invalid, msg} = Lockstep.Checker.Linearizable.check({:file, path}, :register)
    assert msg =~ "line 2: process 0 completed read without a pending invocation"
  end
end

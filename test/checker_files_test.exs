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
end

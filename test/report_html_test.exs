defmodule Lockstep.ReportHtmlTest do
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO
  import Lockstep.TestHelpers

  alias Lockstep.Report.Html

  @moduletag :tmp_dir

  defp recorded(dir) do
    bug(&Lockstep.Examples.LostUpdate.run/0, seed: 3, iterations: 300, trace_dir: dir)
  end

  defp count(html, pattern), do: length(Regex.scan(pattern, html))

  defp picture_of(bug), do: Path.rootname(bug.schedule_path) <> ".html"

  defp receives(trace), do: Enum.count(trace, &match?({_, _, _, {:receive, _}}, &1))

  test "a failure's picture is written beside its schedule file and named in the report", %{
    tmp_dir: dir
  } do
    bug = recorded(dir)
    picture = picture_of(bug)
    assert File.exists?(picture)
    assert bug.message =~ "\nPicture: #{picture}\n"
    # Next to the other files' lines, after the schedule's.
    assert bug.message =~ ~r/Schedule: \S+\.json\nPicture: \S+\.html\nReplay: /
    assert File.read!(bug.trace_path) =~ "Picture: #{picture}"
  end

  test "the picture of a lost update: a lane per process, an arrow per delivered message, " <>
         "the failing step and the slice marked",
       %{tmp_dir: dir} do
    bug = recorded(dir)
    html = File.read!(picture_of(bug))

    assert html =~ ~r/^<!DOCTYPE html>/
    # Standalone: nothing fetched from anywhere.
    refute html =~ ~r/(src|href)="(https?:)?\/\//
    refute html =~ "<link"

    # One lane per process (the run records no event for no process, so no runtime lane).
    assert count(html, ~r/<g class="lane[ "]/) == length(bug.processes)

    for {id, _pid, _name} <- bug.processes do
      assert html =~ ~s(<text class="alias" x="6" y="17">P#{id}</text>)
    end

    # Every message here is a plain send taken by a receive: one arrow each.
    assert receives(bug.trace) >= 6
    assert count(html, ~r/<path class="arrow msg /) == receives(bug.trace)

    # One row per step, the last one failing, with the virtual clock.
    assert count(html, ~r/<g class="row /) == bug.fail_step
    assert [_] = Regex.scan(~r/<g class="row [^"]*failing[^"]*" data-step="(\d+)"/, html)
    assert html =~ ~r/<g class="row [^"]*failing[^"]*" data-step="#{bug.fail_step}"/
    assert html =~ ~s(<text class="time")

    # Steps in the causal slice are in full, the others dimmed.
    slice = MapSet.new(bug.slice)

    for [class, step] <- Regex.scan(~r/<g class="row ([a-z-]+)[^"]*" data-step="(\d+)"/, html) do
      expected =
        if MapSet.member?(slice, String.to_integer(step)), do: "in-slice", else: "out-slice"

      assert class == expected
    end

    assert html =~ "in-slice"
  end

  test "every user text is escaped: a message holding <script>" do
    evil = "<script>alert(\"&'x'\")</script>"

    f = %{
      category: :step_limit,
      detail: 4,
      steps: 4,
      slice: [1, 2, 3, 4],
      processes: [{0, self(), nil}, {1, self(), :"<b>name</b>"}],
      trace: [
        {1, 0, 0, {:start}},
        {2, 0, 0, {:spawn, 1, false}},
        {3, 5, 0, {:send, 1, 1, evil}},
        {4, 5, 1, {:receive, evil}}
      ]
    }

    html = Html.from_failure(f)
    refute html =~ "<script>alert"
    refute html =~ "<b>name"
    # As Elixir prints the string: its quotes backslashed, then escaped for HTML.
    assert html =~ "&lt;script&gt;alert(\\&quot;&amp;&#39;x&#39;\\&quot;)&lt;/script&gt;"
    assert html =~ "&lt;b&gt;name&lt;/b&gt;"
    # Its own script is the page's only one.
    assert count(html, ~r/<script>/) == 1
    assert count(html, ~r/<path class="arrow msg /) == 1
    assert count(html, ~r/<path class="arrow rel r-spawn /) == 1
    assert html =~ ~s(<text class="time" x="50" y="107">5 ms</text>)
  end

  test "a long run shows its last steps and says so" do
    trace =
      [{1, 0, 0, {:start}}] ++
        for i <- 2..50, do: {i, 0, 0, {:sync, {:tick, i}}}

    f = %{category: :step_limit, detail: 50, steps: 50, slice: [], processes: [{0, self(), nil}]}
    html = Html.from_failure(Map.put(f, :trace, trace), last_steps: 10)
    assert count(html, ~r/<g class="row /) == 10
    assert html =~ "Steps 1..40 are not shown"
  end

  test "many processes: lanes start folded but the busiest, and a filter is there" do
    procs = for i <- 0..99, do: {i, self(), nil}
    trace = for i <- 0..99, do: {i + 1, 0, i, {:start}}
    f = %{category: :deadlock, detail: [], steps: 100, slice: nil, processes: procs}
    html = Html.from_failure(Map.put(f, :trace, trace))
    assert count(html, ~r/<g class="lane[ "]/) == 100
    assert count(html, ~r/<g class="lane folded"/) == 92
    assert html =~ ~s(<input id="filter")
    assert html =~ "no-slice"
  end

  describe "mix lockstep.html" do
    defp html(args), do: capture_io(fn -> Mix.Task.rerun("lockstep.html", args) end)

    test "draws a saved schedule from its stored events, beside it or to --output", %{
      tmp_dir: dir
    } do
      bug = recorded(dir)
      picture = picture_of(bug)
      File.rm!(picture)

      assert html([bug.schedule_path]) =~ "Wrote #{picture}"
      page = File.read!(picture)
      assert count(page, ~r/<g class="lane[ "]/) == length(bug.processes)
      # From the events' text the same messages pair up.
      assert count(page, ~r/<path class="arrow msg /) == receives(bug.trace)
      assert page =~ ~r/<g class="row [^"]*failing[^"]*" data-step="#{bug.fail_step}"/
      assert page =~ "No causal slice is known"

      out = Path.join(dir, "elsewhere.html")
      assert html([bug.schedule_path, "--output", out, "--last", "5"]) =~ "Wrote #{out}"
      assert count(File.read!(out), ~r/<g class="row /) == 5
    end

    test "its errors: a missing file, a file that is not a schedule, bad arguments", %{
      tmp_dir: dir
    } do
      missing = Path.join(dir, "nope.json")

      assert_raise Mix.Error, ~r/nope.json: cannot read: no such file or directory/, fn ->
        html([missing])
      end

      other = Path.join(dir, "other.json")
      File.write!(other, ~s({"format": "something-else", "version": 1}))
      assert_raise Mix.Error, ~r/other.json: .*format/, fn -> html([other]) end

      junk = Path.join(dir, "junk.json")
      File.write!(junk, "not json at all")
      assert_raise Mix.Error, ~r/junk.json: /, fn -> html([junk]) end

      assert_raise Mix.Error, ~r/expected the path of a schedule file/, fn -> html([]) end
      assert_raise Mix.Error, ~r/unexpected arguments/, fn -> html(["a", "b"]) end
      assert_raise Mix.Error, ~r/--last must be a positive/, fn -> html(["a", "--last", "0"]) end
      refute File.exists?(Path.join(dir, "nope.html"))
    end
  end
end

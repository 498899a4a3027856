defmodule Lockstep.ProgressTest do
  # The progress line of a long hunt: what it says, when it is drawn, that it is cleared, and
  # that it stays away from output that is not a terminal.
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO

  alias Lockstep.Progress

  defp stats(n, schedules), do: %{iterations: n, schedules: MapSet.new(1..schedules)}

  test "the line: iterations, distinct schedules, rate, time left" do
    now = System.monotonic_time(:millisecond)
    p = Progress.new(true, "MyTest two writers", now - 4_000)

    assert Progress.line(p, stats(400, 37), %{iterations: 1000, max_run_time: 30_000}, now) ==
             "Lockstep: MyTest two writers: 400/1000 iterations, 37 distinct schedules, 100/s, 26 s left"

    assert Progress.line(p, stats(400, 37), %{iterations: 1000, max_run_time: :infinity}, now) =~
             ~r/100\/s$/
  end

  test "drawn once a second after the first two, on one line, and cleared at the end" do
    cfg = %{iterations: 10, max_run_time: :infinity}

    out =
      capture_io(:stderr, fn ->
        fresh = Progress.new(true, "t", System.monotonic_time(:millisecond))
        refute Progress.tick(fresh, stats(1, 1), cfg).shown

        old = Progress.new(true, "t", System.monotonic_time(:millisecond) - 3_000)
        shown = Progress.tick(old, stats(5, 2), cfg)
        assert shown.shown
        # Not again within the second.
        assert Progress.tick(shown, stats(6, 2), cfg) == shown
        Progress.done(shown)
      end)

    assert out =~ "\rLockstep: t: 5/10 iterations, 2 distinct schedules"
    assert String.ends_with?(out, "\r")
    refute out =~ "\n"
  end

  test "off when asked, and by default when standard error is not a terminal" do
    assert Progress.new(false, "t", 0).enabled == false
    # Under ExUnit standard error is captured or a pipe, not a terminal.
    assert capture_io(:stderr, fn -> send(self(), Progress.new(:auto, "t", 0).enabled) end) == ""
    assert_received false

    assert_raise ArgumentError, ~r/:progress/, fn ->
      Lockstep.Runner.run(fn -> :ok end, progress: :sometimes)
    end
  end
end

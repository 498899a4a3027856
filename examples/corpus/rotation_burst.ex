defmodule Lockstep.Corpus.RotationBurst do
  @moduledoc """
  A log writer that pauses while the log file is rotated, holding back at most three lines
  meanwhile and dropping the rest, on the assumption that a rotation is too short for more
  to arrive.

  The rotator sends `:pause` to the writer, `:rotate` to the file, then `:resume` to the
  writer. A line is lost only if all four of the application's lines reach the writer
  between `:pause` and `:resume`: the application must be picked four times while the
  rotator, ready to run all along, is picked at most once (for `:rotate`), and the burst
  must start after the rotator has already moved.

  That shape is why this program is in the corpus. A random walk must pick the application
  at least four times in the next five picks between the two (under one chance in five,
  and only after the rotator went first). PCT runs the highest-priority ready process
  until it blocks, so it produces bursts, but not this one: the rotator must first outrank
  the application (or the application's lines go out before `:pause`) and then lose to
  it, which takes a change point on one of the two rotator steps after `:pause` (about 2/k
  per change point over a k-step run); without change points (`{:pct, depth: 1}`) it is
  never found. Partial-order sampling, which re-draws priorities where operations race, is
  designed for exactly such flips.

  Failing schedule: the rotator sends `:pause`; the application sends its four lines; the
  rotator sends `:rotate` and `:resume`. The writer drops the fourth line and the final
  check finds three of four lines.
  """

  # Rotations take two steps, so a handful of lines at most arrive while paused.
  @max_pending 3

  @doc "The log file: lines of the current file plus the rotated ones."
  def file(archived, current) do
    case Lockstep.recv() do
      {:append, line} -> file(archived, [line | current])
      :rotate -> file(archived ++ Enum.reverse(current), [])
      {:lines, from} -> Lockstep.send(from, {:lines, archived ++ Enum.reverse(current)})
    end
  end

  @doc "The log writer: appends lines, holding them back while paused."
  def writer(file, paused, pending) do
    case Lockstep.recv() do
      {:log, line} when not paused ->
        Lockstep.send(file, {:append, line})
        writer(file, paused, pending)

      {:log, line} when length(pending) < @max_pending ->
        writer(file, paused, pending ++ [line])

      {:log, _line} ->
        writer(file, paused, pending)

      :pause ->
        writer(file, true, pending)

      :resume ->
        Enum.each(pending, &Lockstep.send(file, {:append, &1}))
        writer(file, false, [])

      {:sync, from} ->
        Lockstep.send(from, :synced)
        writer(file, paused, pending)
    end
  end

  @doc "Rotates the log file under the writer."
  def rotate(writer, file) do
    Lockstep.send(writer, :pause)
    Lockstep.send(file, :rotate)
    Lockstep.send(writer, :resume)
  end

  @doc "The application logs four lines while the file is rotated; none may be lost."
  def run do
    me = self()
    file = Lockstep.spawn(fn -> file([], []) end)
    writer = Lockstep.spawn(fn -> writer(file, false, []) end)

    Lockstep.spawn(fn ->
      rotate(writer, file)
      Lockstep.send(me, :rotated)
    end)

    Lockstep.spawn(fn ->
      for i <- 1..4, do: Lockstep.send(writer, {:log, "request #{i}"})
      Lockstep.send(me, :logged)
    end)

    for _ <- 1..2, do: Lockstep.recv()
    Lockstep.send(writer, {:sync, me})
    :synced = Lockstep.recv()
    Lockstep.send(file, {:lines, me})
    {:lines, lines} = Lockstep.recv()

    lost = 4 - length(lines)
    if lost > 0, do: raise("#{lost} log line(s) lost during rotation; kept #{inspect(lines)}")
  end
end

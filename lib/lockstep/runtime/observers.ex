defmodule Lockstep.Runtime.Observers do
  @moduledoc false
  # Under an exhaustive exploration (a batch marked exact), a selective receive tells the
  # engine which messages its pattern rejects beyond those it scanned on the way to the one
  # it took: the messages behind that one, and, for the last few receives of the process,
  # the messages that arrive later. The explorer then leaves unexplored the orders of
  # messages no receive could tell apart (see the engine's `explore::observe`). Predicates
  # are pure (a pattern and its guard), so evaluating them again changes nothing.

  alias Lockstep.{Native, Runtime}

  # How many of a process's latest receives keep their predicate for later messages.
  @keep 16
  @key {__MODULE__, :retained}

  @doc "A batch arrived: report which of its messages the retained predicates reject."
  def scanned(run, id, base, msgs) do
    rejections =
      for {pred, back} <- Enum.with_index(Process.get(@key, [])),
          {msg, i} <- Enum.with_index(msgs),
          not Runtime.matches?(pred, msg),
          do: {back, base + i}

    if rejections != [], do: :ok = Native.run_note_rejected(run, id, rejections)
    :ok
  end

  @doc "Take message `index` of the batch, reporting the messages behind it `pred` rejects."
  def take(run, id, pred, base, msgs, index) do
    rejected =
      for {msg, i} <- msgs |> Enum.drop(index + 1) |> Enum.with_index(index + 1),
          not Runtime.matches?(pred, msg),
          do: base + i

    :ok = Native.run_consume_scanned(run, id, base + index, rejected)
    Process.put(@key, Enum.take([pred | Process.get(@key, [])], @keep))
    :ok
  end
end

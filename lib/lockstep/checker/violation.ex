defmodule Lockstep.Checker.Violation do
  @moduledoc """
  Why a history is not explained by its model.

    * `:text` - the explanation in prose: the failing partition, the longest partial orders the
      search found (each step with the model state after it) and why the next operation could
      not be placed
    * `:failing` - the operation that could not be placed, e.g.
      `"process 3: read -> 4 (lines 12..15)"`, when known. Positions are where the operation
      is in the file: lines of a history text (nemesis ops and other output counted), or the
      ops' own `:index` (`"(:index 40..43)"`) when every event carries one; for histories
      that were never a text, client event numbers (`"(events 3..4)"`, 1-based)
    * `:partition` - the independent part that failed (e.g. `key "3"`), when partitioned
    * `:total_ops` - operations checked
    * `:html_path` - where the HTML timeline was written (option `:html`)
  """

  defstruct text: "", failing: nil, partition: nil, total_ops: nil, html_path: nil

  @type t :: %__MODULE__{
          text: String.t(),
          failing: String.t() | nil,
          partition: String.t() | nil,
          total_ops: non_neg_integer() | nil,
          html_path: Path.t() | nil
        }

  defimpl String.Chars do
    def to_string(violation), do: violation.text
  end

  # A failed `assert :ok = Lockstep.Checker.Linearizable.check(...)` shows the explanation, one
  # line per line, rather than a struct holding one long escaped string.
  defimpl Inspect do
    import Inspect.Algebra

    def inspect(violation, _opts) do
      lines =
        violation.text
        |> String.split("\n")
        |> Enum.map(&string/1)
        |> Enum.intersperse(line())

      force_unfit(
        concat([
          string("#Lockstep.Checker.Violation<"),
          nest(concat([line() | lines]), 2),
          line(),
          string(">")
        ])
      )
    end
  end
end

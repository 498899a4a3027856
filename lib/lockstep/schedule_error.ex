defmodule Lockstep.ScheduleError do
  @moduledoc """
  Raised when a schedule file cannot be used: it is missing or unreadable, is not JSON, is not
  a Lockstep schedule, has a version this Lockstep does not read, or lacks a field. The message
  names the file and the problem; `:path` is the file.
  """

  defexception [:message, :path]

  @type t :: %__MODULE__{message: String.t(), path: Path.t() | nil}
end

defmodule Lockstep.ReplayDivergence do
  @moduledoc """
  Raised by `Lockstep.Replay.run/3` when a replayed program does not reproduce its recorded
  failure: it stopped following the schedule, ran past its end, or ended without failing.

  The program behaved differently from the run that was recorded, which means something outside
  Lockstep's control changed what it does: random numbers or unique integers, wall-clock time,
  messages from or state in processes Lockstep does not manage (ETS, `:persistent_term`, an
  Agent started outside the test), or changed code.

  Fields:

    * `:reason` - `:not_enabled` (the process the schedule names for `:step` cannot run),
      `:schedule_exhausted` (the program went on past the last recorded step) or
      `:no_failure` (the run ended without failing)
    * `:step` - the first step at which the program behaved differently: the first step whose
      events differ from the recording, else the step the schedule could not be followed at,
      else the step at which the recorded run failed
    * `:diverged_at` - the step at which the schedule could not be followed (nil for
      `:no_failure`)
    * `:expected` - the process the schedule names for `:diverged_at` (nil when exhausted)
    * `:enabled` - the processes that could run at that point
    * `:recorded` - what the recorded run did at `:step`, as text
    * `:actual` - what this run did (or could do) at `:step`, as text
    * `:category` - the recorded failure's category
    * `:schedule_path` - the replayed file, when it came from one
  """

  defexception [
    :message,
    :reason,
    :step,
    :diverged_at,
    :expected,
    :enabled,
    :recorded,
    :actual,
    :category,
    :schedule_path
  ]

  @type t :: %__MODULE__{
          message: String.t(),
          reason: :not_enabled | :schedule_exhausted | :no_failure,
          step: pos_integer(),
          diverged_at: pos_integer() | nil,
          expected: non_neg_integer() | nil,
          enabled: [non_neg_integer()] | nil,
          recorded: String.t(),
          actual: String.t(),
          category: atom() | String.t(),
          schedule_path: Path.t() | nil
        }
end

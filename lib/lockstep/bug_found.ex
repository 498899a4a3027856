defmodule Lockstep.BugFound do
  @moduledoc """
  Raised by `Lockstep.Runner.run/2` when an iteration fails.

  The message is the full report: what failed, the schedule one step per line, the seeds and
  the command that reproduces the failure. The fields carry the same facts for programs:

    * `:iteration` - zero-based index of the failing iteration
    * `:iterations` - how many iterations the hunt was allowed
    * `:seed` - the hunt's seed; `:iter_seed` - the failing iteration's own seed
    * `:strategy` - the strategy that found it
    * `:reason` - `{category, detail}` with category one of `:exception`, `:crash`, `:deadlock`,
      `:left_blocked`, `:step_limit`, `:watchdog`, `:diverged`
    * `:fail_step` - the number of steps the failing run took
    * `:trace` - the run's events, `{step, time_ms, process_id | nil, event}`, oldest first:
      the last 5,000 (whole steps) of a longer run; `:schedule` always has every step
    * `:schedule` - the process id picked at each step (the shrunk schedule when shrinking
      found a smaller one; a strict replay of it fails the same way)
    * `:preemptions` - the steps of the schedule that were preemptions (switched away from a
      process that could have gone on)
    * `:slice` - the causal slice: the steps that happen before the failure (program order,
      spawns, messages, timers, monitors and links, exits, names, conflicting shared-state
      operations), ascending; steps outside it ran concurrently with the failure
    * `:shrink` - what shrinking did, or nil when it was turned off (`shrink: false`):
      `%{before: %{steps: n, preemptions: p}, after: %{steps: m, preemptions: q},
      candidates_tried: k, time_ms: t, complete: boolean, verified: boolean, skipped: nil |
      why}`. `:after` is the smallest failing schedule found; it is the reported one when
      `:verified` (its strict replay failed the same way; also true when nothing smaller was
      found). `:complete` is false when the time box ended the search early; `:skipped` says
      why shrinking did not run (for example a watchdog failure)
    * `:processes` - `[{id, pid, registered_name | nil}]`
    * `:trace_path` - the file the text report was saved to (or nil if it could not be written)
    * `:schedule_path` - the schedule file (see `Lockstep.Schedule`) that replays the failure
      with `mix lockstep.replay PATH` or `Lockstep.replay(fun, PATH)` (nil if it could not be
      written)
    * `:reproduce` - the command that reruns the hunt
    * `:exception`, `:stacktrace` - the original exception and its stacktrace, when the failure
      was an exception (the test body's, or a crashed process's)
  """

  defexception [
    :message,
    :iteration,
    :iterations,
    :seed,
    :iter_seed,
    :strategy,
    :reason,
    :fail_step,
    :trace,
    :schedule,
    :preemptions,
    :slice,
    :shrink,
    :processes,
    :trace_path,
    :schedule_path,
    :exception,
    :stacktrace,
    :reproduce
  ]

  @type t :: %__MODULE__{}
end

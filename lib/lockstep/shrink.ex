defmodule Lockstep.Shrink do
  # Drives the engine's schedule shrinker: ask it for a proposal, run the test body once under
  # that proposal (the guided strategy), tell it whether the run failed the same way, until it
  # has nothing left to propose or the time box closes. The search itself (which proposals,
  # which result is smaller) is the engine's; this module only runs and times.
  #
  # "The same way" means the same failure category and, for exceptions and crashes, the same
  # kind of exception (a lost-update RuntimeError must not shrink into a MatchError).
  #
  # The winner is then replayed strictly; only if that replay fails the same way is it
  # reported, otherwise the original failure is kept and the report says so.
  @moduledoc false

  alias Lockstep.{Native, Runner}

  @typedoc "What shrinking did, as stored in `Lockstep.BugFound`'s `:shrink` field."
  @type summary :: %{
          before: %{steps: non_neg_integer(), preemptions: non_neg_integer()},
          after: %{steps: non_neg_integer(), preemptions: non_neg_integer()},
          candidates_tried: non_neg_integer(),
          time_ms: non_neg_integer(),
          complete: boolean(),
          verified: boolean(),
          skipped: nil | String.t()
        }

  @doc """
  Shrinks `failure` (from `Lockstep.Runner.run_once/4`) within `budget_ms` milliseconds.
  Returns the failure to report (the shrunk run's, or the original) and the summary.
  """
  @spec shrink((() -> any()), map(), map(), non_neg_integer()) :: {map(), summary()}
  def shrink(fun, cfg, failure, budget_ms) do
    started = now()
    before = size(failure)

    cond do
      failure.category == :watchdog ->
        {failure, skipped(before, "a process stopped reaching sync points; not re-run")}

      budget_ms <= 0 ->
        {failure, skipped(before, "no time left in the hunt's :max_run_time")}

      true ->
        case Native.shrink_new(failure.schedule, failure.preemptions) do
          {:ok, sh} ->
            search(fun, cfg, failure, sh, started, started + budget_ms)

          {:error, why} ->
            {failure, skipped(before, "the schedule could not be shrunk: #{why}")}
        end
    end
  end

  defp search(fun, cfg, original, sh, started, deadline) do
    signature = signature(original)
    best = loop(fun, cfg, original, sh, signature, deadline, original)
    info = Native.shrink_info(sh)

    {reported, verified} =
      if info.accepted > 0 do
        verify(fun, cfg, original, best, signature)
      else
        {original, true}
      end

    # A shrunk failure remembers the schedule it came from, for the saved file.
    reported =
      if reported == original,
        do: reported,
        else: Map.put(reported, :shrunk_from, Map.put(info.before, :choices, original.schedule))

    summary = %{
      before: info.before,
      after: info.after,
      candidates_tried: info.candidates,
      time_ms: now() - started,
      complete: info.done,
      verified: verified,
      skipped: nil
    }

    {reported, summary}
  end

  defp loop(fun, cfg, original, sh, signature, deadline, best) do
    remaining = deadline - now()

    with true <- remaining > 0,
         {choices, max_steps} <- Native.shrink_next(sh) do
      # A candidate that stops reaching sync points only loses its place; do not let it use
      # more than the time box has left.
      cfg = %{cfg | watchdog: min(cfg.watchdog, max(remaining, 100))}
      overrides = %{strategy: :guided, choices: choices, max_steps: min(max_steps, cfg.max_steps)}

      best =
        case Runner.run_once(fun, cfg, original.iteration, overrides) do
          {:fail, f} ->
            same = signature(f) == signature
            {:ok, accepted} = Native.shrink_feedback(sh, same, f.schedule, f.preemptions)
            if accepted, do: f, else: best

          _passed ->
            {:ok, false} = Native.shrink_feedback(sh, false, [], [])
            best
        end

      loop(fun, cfg, original, sh, signature, deadline, best)
    else
      _ -> best
    end
  end

  # The winner must fail the same way under strict replay, which is how a user reruns it.
  defp verify(fun, cfg, original, best, signature) do
    case Runner.run_once(fun, cfg, original.iteration, %{
           strategy: :replay,
           choices: best.schedule
         }) do
      {:fail, f} ->
        # The hunt's run-length estimate describes the iteration that found the bug (what
        # reruns it by seed), not the replay.
        if signature(f) == signature and f.schedule == best.schedule,
          do: {Map.merge(f, Map.take(original, [:expected_steps])), true},
          else: {original, false}

      _ ->
        {original, false}
    end
  end

  @doc "The failure's identity for shrinking: its category and the kind of exception."
  @spec signature(map()) :: term()
  def signature(%{category: category, exception: {kind, payload, stack}}) do
    {category, kind, exception_module(kind, payload, stack)}
  end

  def signature(%{category: category}), do: {category, nil, nil}

  defp exception_module(:error, payload, stack) do
    Exception.normalize(:error, payload, stack).__struct__
  end

  defp exception_module(_kind, _payload, _stack), do: nil

  defp size(f), do: %{steps: f.steps, preemptions: length(f.preemptions)}

  defp skipped(size, why) do
    %{
      before: size,
      after: size,
      candidates_tried: 0,
      time_ms: 0,
      complete: false,
      verified: true,
      skipped: why
    }
  end

  defp now, do: System.monotonic_time(:millisecond)
end

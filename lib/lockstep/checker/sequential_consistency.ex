defmodule Lockstep.Checker.SequentialConsistency do
  @moduledoc """
  Sequential consistency (Lamport 1979): some interleaving of the processes' operations that keeps
  each process's own order explains the history. Real time between processes is ignored, so a
  read may return a value that was overwritten before it was invoked, as long as no single process
  can tell.

  Sequential consistency is not compositional, so the history is never partitioned (the
  `:partition` option is ignored). Operations that never completed may be left out. See
  `Lockstep.Checker` for histories, results and options (`:max_steps` bounds the search).
  """

  @doc """
  Checks `history` for sequential consistency against `model` (a built-in name or a
  `Lockstep.Model`). Same results as `Lockstep.Checker.Linearizable.check/3`; the violation text
  names the reason.
  """
  @spec check(Lockstep.Checker.history(), atom() | module(), keyword()) ::
          Lockstep.Checker.result()
  def check(history, model, opts \\ []) do
    Lockstep.Checker.run(
      history,
      model,
      opts,
      :sequential,
      "Lockstep.Checker.SequentialConsistency.check/3"
    )
  end
end

defmodule Lockstep.Checker.Linearizable do
  @moduledoc """
  Linearizability (Herlihy & Wing 1990): every operation takes effect at a single instant between
  its invocation and its completion, and in that order the model accepts every operation with the
  output its client saw.

      history = Lockstep.History.new()
      # ... clients record operations ...
      case Lockstep.Checker.Linearizable.check(history, :cas_register) do
        :ok -> :ok
        {:error, violation} -> flunk(violation.text)
        {:unknown, why} -> flunk("undecided: " <> why)
        {:invalid, message} -> flunk(message)
      end

  The search is Wing and Gong's, with Lowe's memoisation and Horn and Kroening's partitioning
  of models made of independent objects (each key of a `:kv` history is checked on its own).

  See `Lockstep.Checker` for the accepted histories, the result shapes and the options.

  ## Built-in models

    * `:register` - `read` (value observed at `:ok`) and `write v`; `get`/`put` are synonyms
    * `:cas_register` - a register with `cas [expected, new]` (a `:fail` completion means the
      register did not hold `expected`)
    * `:kv` - one register per key (events carry `:key`), with `get`, `put` and `append`
    * `:multi_register` - registers named by keys, read and written by transactions: `:txn`
      operations whose value is a list of `[f, key, value]` micro-operations (`f` is `:r`,
      `:w` or `:append`), e.g. `[[:r, :x, 1], [:w, :y, 2]]` (in EDN `[[:r :x 1] [:w :y 2]]`).
      A transaction takes effect at one instant, all of it, so this checks strict
      serializability; the completion's value says what each read saw (a read of `nil`
      follows `:nil_reads`). Transactions that share keys are searched together, groups of
      keys no transaction connects apart. Single-key `read`/`write`/`cas` events with a
      `:key` check as one-operation transactions, as with `:kv`
    * `:counter`, `:set`, `:queue`, `:mutex`

  Any module implementing `Lockstep.Model` may be given instead of a name.
  """

  @doc """
  Checks `history` for linearizability against `model` (a built-in name or a `Lockstep.Model`).

  Returns `:ok`, `{:error, %Lockstep.Checker.Violation{}}`, `{:unknown, why}` or
  `{:invalid, message}`. Raises `ArgumentError` for invalid options or models.
  """
  @spec check(Lockstep.Checker.history(), atom() | module(), keyword()) ::
          Lockstep.Checker.result()
  def check(history, model, opts \\ []) do
    Lockstep.Checker.run(
      history,
      model,
      opts,
      :linearizable,
      "Lockstep.Checker.Linearizable.check/3"
    )
  end
end

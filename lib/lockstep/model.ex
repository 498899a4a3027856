defmodule Lockstep.Model do
  @moduledoc """
  A sequential specification written in Elixir, for the history checkers.

  A model is a deterministic state machine. The checkers call `step/3` with a state, an
  operation's input and what the client observed, and the model says whether that is possible and
  which state follows. The search itself runs in Rust; it asks Elixir only about the
  `(state, input, output)` triples it has not seen before, in rounds, so `step/3` is called once
  per distinct question however large the search becomes.

  ## Inputs and outputs

    * `input` is `{f, value}`, or `{f, key, value}` when the history's events carry a `:key`.
      `f` and `value` are the terms recorded in the history.
    * `output` is `{:ok, value}` (the operation completed with `value`), `{:fail, value}` (it
      completed with a failure, read as an observation, see the `:fail` option of the checkers) or
      `:unknown` (it never completed, or completed with `:info`: it may or may not have taken
      effect, and whatever it returned was not seen).

  ## States

  States cross into Rust and back, so they must be made of `nil`, booleans, atoms, integers,
  strings, lists, tuples and maps. Two states are the same state when they are equal after every
  tuple is turned into a list (so do not rely on `{a, b}` and `[a, b]` being different states).

  ## Example: a register

      defmodule MyRegister do
        @behaviour Lockstep.Model

        @impl true
        def init, do: nil

        @impl true
        def step(state, {:read, _}, {:ok, seen}), do: if(seen == state, do: {:ok, state}, else: :error)
        def step(state, {:read, _}, _), do: {:ok, state}
        def step(_state, {:write, v}, _), do: {:ok, v}
      end

      Lockstep.Checker.Linearizable.check(history, MyRegister)
  """

  @typedoc "A model state (see \"States\")."
  @type state :: term()

  @typedoc "`{f, value}` or `{f, key, value}`."
  @type input :: {term(), term()} | {term(), term(), term()}

  @type output :: {:ok, term()} | {:fail, term()} | :unknown

  @doc "The initial state."
  @callback init() :: state()

  @doc "`{:ok, next_state}` when `input` observing `output` is possible in `state`, else `:error`."
  @callback step(state(), input(), output()) :: {:ok, state()} | :error
end

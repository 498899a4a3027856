defmodule Lockstep.Checker.Causal do
  @moduledoc """
  Causal consistency of read/write histories, after Bouajjani, Enea, Guerraoui and Hamza, "On
  verifying causal consistency" (POPL 2017):

    * `:cc` - causal consistency: each process sees writes in an order consistent with causality
    * `:cm` - causal memory: additionally, each process's view is consistent with what it read
    * `:ccv` - causal convergence: additionally, all processes agree on the order of conflicting
      writes

  The history must be *differentiated*: each value is written at most once per key, and never the
  initial value. Operations are reads (`read`/`get`, value observed at `:ok`) and writes
  (`write`/`put`), on a single register or on keys (events with `:key`). The verdict is exact for
  such histories and takes polynomial time. Options: `:initial`, `:info`, `:fail`, `:format`
  (see `Lockstep.Checker`).
  """

  @variants [:cc, :cm, :ccv]

  @doc """
  Checks `history` against the causal consistency `variant` (`:cc`, `:cm` or `:ccv`).

  Returns `:ok`, `{:error, %Lockstep.Checker.Violation{}}` (its text names the bad patterns
  found), `{:unknown, why}` or `{:invalid, message}`.
  """
  @spec check(Lockstep.Checker.history(), :cc | :cm | :ccv, keyword()) ::
          Lockstep.Checker.result()
  def check(history, variant, opts \\ []) do
    caller = "Lockstep.Checker.Causal.check/3"

    unless variant in @variants do
      raise ArgumentError,
            "#{caller}: the variant must be :cc, :cm or :ccv, got: #{inspect(variant)}"
    end

    o = %{Lockstep.Checker.options!(opts, caller) | model: "register"}

    with {:ok, events} <- Lockstep.Checker.events(history, o) do
      events |> Lockstep.Native.checker_causal(o, variant) |> Lockstep.Checker.result(o)
    end
  end
end

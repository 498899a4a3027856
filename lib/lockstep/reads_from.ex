defmodule Lockstep.ReadsFrom do
  @moduledoc false
  # Reads-from coverage of a hunt: the distinct pairs (which send each receive took, which
  # write each shared-state access saw) over all its runs. The engine hashes each run's pairs
  # (at most 4096 a run, see `lockstep_core::reads_from`); the hunt keeps them in a MapSet and
  # stops adding once it holds @max of them, so a hunt without end has bounded memory.

  @max 1_000_000

  def new, do: MapSet.new()

  @doc "Adds one run's pairs (the engine's binary of 64-bit hashes)."
  def add(set, pairs) when is_binary(pairs) do
    if MapSet.size(set) >= @max do
      set
    else
      # The top 59 bits of each hash: a small integer (no bignum per pair); with at most a
      # million pairs counted, a collision is a one in a few hundred thousand event.
      for <<h::59, _::5 <- pairs>>, reduce: set, do: (acc -> MapSet.put(acc, h))
    end
  end

  def add(set, _), do: set

  @doc "The count, as the summaries print it."
  def describe(set) do
    case MapSet.size(set) do
      n when n >= @max -> "#{n} reads-from pairs (counting stopped at #{@max})"
      1 -> "1 reads-from pair"
      n -> "#{n} reads-from pairs"
    end
  end

  def size(set), do: MapSet.size(set)
end

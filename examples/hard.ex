defmodule Lockstep.HardCorpus do
  @moduledoc """
  A second corpus: harder concurrency bugs in longer programs, one module each under
  `Lockstep.Hard.*`, used by `test/hard_corpus_test.exs` and by the corpus benchmark
  (`scripts/bench corpus --corpus hard`).

  Where `Lockstep.Corpus` holds small programs of three to five processes, every program
  here runs at least ten processes, so each bug's racing window is one among many
  interleavings that do not matter. The entries have the same shape as `Lockstep.Corpus`'s
  (see `Lockstep.Corpus.entry/0`).
  """

  @entries [
    %{
      name: :reorder,
      module: Lockstep.Hard.Reorder,
      title: "nine setters publish two fields in two messages; the checker reads half an update",
      category: :exception,
      opts: []
    },
    %{
      name: :wrong_lock,
      module: Lockstep.Hard.WrongLock,
      title: "one of ten workers takes the wrong lock around a read-modify-write",
      category: :exception,
      opts: []
    },
    %{
      name: :bank_tellers,
      module: Lockstep.Hard.BankTellers,
      title: "two of ten tellers check the balance, then withdraw: overdraft",
      category: :exception,
      opts: []
    },
    %{
      name: :token_ring,
      module: Lockstep.Hard.TokenRing,
      title: "a node leaves a ten-node token ring before its predecessor switched: lost token",
      category: :deadlock,
      opts: []
    },
    %{
      name: :circular_buffer,
      module: Lockstep.Hard.CircularBuffer,
      title: "producers check free space, then put: two puts into one slot overwrite an item",
      category: :exception,
      opts: []
    },
    %{
      name: :stale_cache,
      module: Lockstep.Hard.StaleCache,
      title: "a reader fills the cache with a value read before a write's invalidation",
      category: :exception,
      opts: []
    },
    %{
      name: :two_stage,
      module: Lockstep.Hard.TwoStage,
      title: "writers update two registers in two locked stages; a reader lands in the gap",
      category: :exception,
      opts: []
    },
    %{
      name: :pipeline,
      module: Lockstep.Hard.Pipeline,
      title: "credit-based back-pressure sized for two producers, fed by three: overflow",
      category: :crash,
      opts: []
    }
  ]

  @doc "Every entry, in a fixed order."
  @spec all() :: [Lockstep.Corpus.entry()]
  def all, do: @entries

  @doc "The entries' names, in order."
  @spec names() :: [atom()]
  def names, do: Enum.map(@entries, & &1.name)

  @doc "The entry named `name`; raises `ArgumentError` listing the names when there is none."
  @spec fetch!(atom()) :: Lockstep.Corpus.entry()
  def fetch!(name) do
    Enum.find(@entries, &(&1.name == name)) ||
      raise ArgumentError,
            "no hard corpus program named #{inspect(name)}; known: " <>
              Enum.map_join(names(), ", ", &inspect/1)
  end
end

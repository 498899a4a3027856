defmodule Lockstep.Corpus do
  @moduledoc """
  A corpus of small programs with known concurrency bugs, one module each under
  `Lockstep.Corpus.*`, used by the test suite (`test/corpus_test.exs`) and by the corpus
  benchmark (`scripts/bench corpus`, see `bench/README.md`).

  Every program is ordinary code written against the `Lockstep` API, with its bug explained
  in the module's documentation together with a schedule that triggers it. Each program's
  `run/0` is a test body: it passes on most schedules and fails on the buggy ones.

  Each entry of `all/0` is a map:

    * `:name` - a short atom naming the bug
    * `:module` - the module whose `run/0` is the test body
    * `:title` - one line saying what goes wrong
    * `:category` - the failure category a found bug reports (`:exception`, `:crash`,
      `:deadlock`, ...), as in `Lockstep.BugFound`'s `:reason`
    * `:opts` - `Lockstep.Runner.run/2` options the program needs to be hunted (for example
      `allow_crashes: true`, or `step_limit: :stop` for a program that can spin forever)
  """

  @typedoc "One corpus entry."
  @type entry :: %{
          name: atom(),
          module: module(),
          title: String.t(),
          category: atom(),
          opts: keyword()
        }

  @entries [
    %{
      name: :lost_update,
      module: Lockstep.Corpus.LostUpdate,
      title: "lost update through a state process (read, then write back)",
      category: :exception,
      opts: []
    },
    %{
      name: :check_then_act,
      module: Lockstep.Corpus.CheckThenAct,
      title: "check-then-act on alive?: the connection closes between check and query",
      category: :deadlock,
      opts: []
    },
    %{
      name: :name_race,
      module: Lockstep.Corpus.NameRace,
      title: "whereis/register race: two callers start the same named singleton",
      category: :crash,
      opts: []
    },
    %{
      name: :late_monitor,
      module: Lockstep.Corpus.LateMonitor,
      title: "monitor set up after the job already exited: :noproc instead of the result",
      category: :exception,
      opts: []
    },
    %{
      name: :exit_before_reply,
      module: Lockstep.Corpus.ExitBeforeReply,
      title: "trap_exit: a request is relayed to a connection whose exit is still unread",
      category: :deadlock,
      opts: []
    },
    %{
      name: :call_cycle,
      module: Lockstep.Corpus.CallCycle,
      title: "two servers call each other while handling requests: call deadlock",
      category: :deadlock,
      opts: []
    },
    %{
      name: :transfer_ring,
      module: Lockstep.Corpus.TransferRing,
      title: "three transfers lock accounts in a ring: three ordered grants deadlock (depth 3)",
      category: :deadlock,
      opts: []
    },
    %{
      name: :rotation_burst,
      module: Lockstep.Corpus.RotationBurst,
      title: "four log lines in a row during a rotation overflow the pause buffer",
      category: :exception,
      opts: []
    },
    %{
      name: :stale_read,
      module: Lockstep.Corpus.StaleRead,
      title: "the leader acks a write before replicating it: stale read from the follower",
      category: :exception,
      opts: []
    },
    %{
      name: :late_reply,
      module: Lockstep.Corpus.LateReply,
      title: "a call's timer fires before the reply, which is then taken by the next call",
      category: :exception,
      opts: []
    },
    %{
      name: :sender_order,
      module: Lockstep.Corpus.SenderOrder,
      title: "two senders' messages arrive in the unexpected order",
      category: :crash,
      opts: []
    },
    %{
      name: :spin_ready,
      module: Lockstep.Corpus.SpinReady,
      title: "a worker spins on recv(0) for :ready, published before the settings",
      category: :crash,
      opts: [step_limit: :stop]
    }
  ]

  @doc "Every corpus entry, in a fixed order."
  @spec all() :: [entry()]
  def all, do: @entries

  @doc "The entries' names, in order."
  @spec names() :: [atom()]
  def names, do: Enum.map(@entries, & &1.name)

  @doc "The entry named `name`; raises `ArgumentError` listing the names when there is none."
  @spec fetch!(atom()) :: entry()
  def fetch!(name) do
    Enum.find(@entries, &(&1.name == name)) ||
      raise ArgumentError,
            "no corpus program named #{inspect(name)}; known: " <>
              Enum.map_join(names(), ", ", &inspect/1)
  end
end

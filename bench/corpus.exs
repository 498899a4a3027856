# How many iterations each strategy needs to find each bug of the corpus (Lockstep.Corpus, or
# with --corpus hard Lockstep.HardCorpus).
#
# For every bug and every strategy, the bug is hunted once per seed with Lockstep.Runner.run/2
# (seeds 1..N, so every run of the benchmark explores the same schedules) and the number of
# iterations up to and including the first failing one is recorded; a hunt that finds nothing
# within --cap iterations is a miss. Each cell of the table gives the seeds that found the bug,
# the median and the worst iterations to the first failure (">cap" for a miss) and the
# iterations per second of that strategy on that program, measured apart from the hunts (a
# hunt that finds its bug at once spends most of its time writing the failure report) by
# running --throughput consecutive iterations, passing or failing. A second table names the
# best strategy per bug.
#
# Run with: scripts/bench corpus [options]   (or: MIX_ENV=bench mix run bench/corpus.exs ...)
#
#   --strategies pct,pct:2,random   strategies to compare; `name` or `name:depth` for a PCT
#                                   depth (default: every strategy Lockstep's options accept,
#                                   plus PCT at depths 1 and 2); `steer` and its variants
#                                   (`steer-d25-flip`, ...) run the reads-from steering
#                                   experiment of bench/steer.exs (its iterations/s column is
#                                   POS's)
#   --corpus small|hard             which corpus: Lockstep.Corpus (small, the default) or
#                                   Lockstep.HardCorpus (hard: ten or more processes per
#                                   program; its default cap is 2000 and its target is
#                                   median <= 50, worst <= 500)
#   --bugs lost_update,...          programs of that corpus (default: all)
#   --seeds N                       seeds per cell, 1..N (default 20)
#   --cap N                         iterations per hunt before it counts as a miss (default 1000,
#                                   2000 for the hard corpus)
#   --throughput N                  iterations timed for the iterations/s column (default 500)

Code.require_file("steer.exs", __DIR__)

defmodule Bench.Corpus do
  alias Lockstep.{BugFound, Corpus, HardCorpus, Options, Runner}

  # Bare strategy names come from the options schema, so a strategy added there is benchmarked
  # without touching this file; these parameterised variants are added to them.
  @variants [{:pct, depth: 1}, {:pct, depth: 2}]

  # Per corpus: its listing module, the default cap, and the target the default strategy is
  # held to (median, worst).
  @corpora %{
    "small" => %{module: Corpus, cap: 1000, target: {20, 200}},
    "hard" => %{module: HardCorpus, cap: 2000, target: {50, 500}}
  }

  def main(argv) do
    config = parse!(argv)
    trace_dir = Path.join(System.tmp_dir!(), "lockstep-bench-corpus-#{System.os_time()}")
    started = System.monotonic_time(:millisecond)
    # Warm up the code paths once so that the first cell's iterations/s is not a cold start.
    rate(hd(config.bugs), hd(config.strategies), 50)

    IO.puts(
      "Lockstep corpus benchmark (#{System.schedulers_online()} schedulers, " <>
        "OTP #{System.otp_release()}, Elixir #{System.version()}): " <>
        "#{length(config.bugs)} bugs x #{length(config.strategies)} strategies, " <>
        "seeds 1..#{config.seeds}, cap #{config.cap} iterations\n"
    )

    try do
      cells =
        for entry <- config.bugs, strategy <- config.strategies do
          cell = measure(entry, strategy, config, trace_dir)
          IO.write(:stderr, progress(cell, config.cap))
          cell
        end

      elapsed = System.monotonic_time(:millisecond) - started
      IO.puts(report(cells, config, elapsed))
    after
      File.rm_rf(trace_dir)
    end
  end

  # ----- options ------------------------------------------------------------------------

  defp parse!(argv) do
    {opts, rest, invalid} =
      OptionParser.parse(argv,
        strict: [
          strategies: :string,
          corpus: :string,
          bugs: :string,
          seeds: :integer,
          cap: :integer,
          throughput: :integer
        ]
      )

    if rest != [] or invalid != [] do
      usage!("unexpected arguments: #{inspect(rest ++ Enum.map(invalid, &elem(&1, 0)))}")
    end

    strategies =
      case opts[:strategies] do
        nil -> Options.strategies() ++ @variants
        text -> text |> split() |> Enum.map(&strategy!/1)
      end

    corpus =
      Map.get(@corpora, opts[:corpus] || "small") ||
        usage!("unknown corpus #{inspect(opts[:corpus])}; known: small, hard")

    bugs =
      case opts[:bugs] do
        nil -> corpus.module.all()
        text -> text |> split() |> Enum.map(&bug!(&1, corpus.module))
      end

    seeds = opts[:seeds] || 20
    cap = opts[:cap] || corpus.cap
    throughput = opts[:throughput] || 500
    if seeds < 1, do: usage!("--seeds must be at least 1")
    if cap < 1, do: usage!("--cap must be at least 1")
    if throughput < 1, do: usage!("--throughput must be at least 1")

    %{
      strategies: strategies,
      bugs: bugs,
      seeds: seeds,
      cap: cap,
      throughput: throughput,
      target: corpus.target
    }
  end

  defp split(text), do: text |> String.split(",", trim: true) |> Enum.map(&String.trim/1)

  # `steer` and its variants: the reads-from steering experiment of bench/steer.exs.
  defp strategy!("steer" <> _ = text) do
    case Bench.Steer.parse(text) do
      {:ok, params} -> {:steer, params, text}
      {:error, token} -> usage!("bad steering token #{inspect(token)} in #{inspect(text)}")
    end
  end

  defp strategy!(text) do
    strategy =
      case String.split(text, ":") do
        [name] ->
          known_atom!(name, Options.strategies())

        [name, depth] ->
          case Integer.parse(depth) do
            {d, ""} -> {known_atom!(name, Options.strategies()), depth: d}
            _ -> usage!("bad depth in strategy #{inspect(text)}")
          end

        _ ->
          usage!("bad strategy #{inspect(text)}; write name or name:depth")
      end

    try do
      Options.validate!([strategy: strategy], "--strategies")
      strategy
    rescue
      e in ArgumentError -> usage!(Exception.message(e))
    end
  end

  defp bug!(text, corpus), do: corpus.fetch!(known_atom!(text, corpus.names()))

  defp known_atom!(text, known) do
    Enum.find(known, &(Atom.to_string(&1) == text)) ||
      usage!("unknown name #{inspect(text)}; known: #{Enum.map_join(known, ", ", &to_string/1)}")
  end

  defp usage!(message) do
    IO.puts(:stderr, "bench/corpus.exs: #{message}")

    IO.puts(
      :stderr,
      "usage: scripts/bench corpus [--corpus small|hard] [--strategies pct,pct:2,random] " <>
        "[--bugs name,...] " <>
        "[--seeds N] [--cap N] [--throughput N]"
    )

    System.halt(2)
  end

  # ----- measuring ----------------------------------------------------------------------

  defp measure(entry, strategy, config, trace_dir) do
    results =
      for seed <- 1..config.seeds do
        opts =
          entry.opts ++
            [
              strategy: strategy,
              seed: seed,
              iterations: config.cap,
              max_run_time: :infinity,
              trace_dir: trace_dir,
              # The iteration of the first failure does not depend on the shrunk report, and
              # shrinking a long failing run costs more than the hunt.
              shrink: false
            ]

        {us, result} = :timer.tc(fn -> hunt(entry, opts) end)
        {result, us}
      end

    # A steered hunt also says whether its failing iteration was derived from a kept schedule.
    derived = Enum.count(results, &match?({{:found, _, _, :derived}, _}, &1))

    hunts =
      Enum.map(results, fn {hunt, _us} -> with {:found, n, c, _} <- hunt, do: {:found, n, c} end)

    %{
      bug: entry.name,
      strategy: strategy,
      found: Enum.count(hunts, &match?({:found, _, _}, &1)),
      wrong: for({:found, _, category} <- hunts, category != entry.category, do: category),
      # A miss ranks after every hit.
      sorted: hunts |> Enum.map(&rank(&1, config.cap)) |> Enum.sort(),
      rate: rate(entry, strategy, config.throughput),
      derived: derived
    }
  end

  defp hunt(entry, opts) do
    case opts[:strategy] do
      {:steer, params, _name} ->
        Bench.Steer.hunt(&entry.module.run/0, Keyword.put(opts, :strategy, :pos), params)

      _ ->
        Runner.run(&entry.module.run/0, opts)
        :miss
    end
  rescue
    bug in BugFound -> {:found, bug.iteration + 1, elem(bug.reason, 0)}
  end

  # Iterations per second over `n` consecutive iterations of one hunt's configuration, each
  # run to its end whether it passes or fails (the runner's single-iteration entry point, so
  # no failure report is written).
  defp rate(entry, {:steer, _, _}, n), do: rate(entry, :pos, n)

  defp rate(entry, strategy, n) do
    cfg = Runner.config!(entry.opts ++ [strategy: strategy, seed: 1], "bench")
    fun = &entry.module.run/0
    {us, _} = :timer.tc(fn -> for i <- 0..(n - 1), do: Runner.run_once(fun, cfg, i) end)
    n / max(us / 1.0e6, 1.0e-6)
  end

  defp rank({:found, n, _}, _cap), do: n
  defp rank(:miss, cap), do: cap + 1

  # The lower median: the 10th of 20 sorted values.
  defp median(sorted), do: Enum.at(sorted, div(length(sorted) - 1, 2))

  defp worst(cell), do: List.last(cell.sorted)

  defp progress(cell, cap) do
    "  #{cell.bug} #{name(cell.strategy)}: #{cell.found} found, median " <>
      "#{count(median(cell.sorted), cap)}\n"
  end

  # ----- the report ---------------------------------------------------------------------

  defp report(cells, config, elapsed_ms) do
    default = Options.validate!([], "bench").strategy

    rows =
      Enum.map(cells, fn c ->
        {median, worst} = {count(median(c.sorted), config.cap), count(worst(c), config.cap)}

        "| #{c.bug} | #{name(c.strategy)} | #{c.found}/#{config.seeds}#{mark(c)} | " <>
          "#{median} | #{worst} | #{thousands(c.rate)} |"
      end)

    best =
      cells
      |> Enum.group_by(& &1.bug)
      |> Enum.map(fn {bug, group} -> {bug, Enum.min_by(group, &score/1)} end)
      |> Enum.sort_by(fn {bug, _} -> Enum.find_index(config.bugs, &(&1.name == bug)) end)
      |> Enum.map(fn {bug, c} ->
        "| #{bug} | #{name(c.strategy)} | #{count(median(c.sorted), config.cap)} | " <>
          "#{count(worst(c), config.cap)} |"
      end)

    steered =
      for %{strategy: {:steer, _, _}} = c <- cells do
        "#{c.bug} #{name(c.strategy)}: #{c.derived} of #{c.found}"
      end

    steered =
      if steered == [],
        do: "",
        else:
          "Steered hunts whose failing iteration was derived from a kept schedule (the " <>
            "others failed in a plain POS iteration): " <> Enum.join(steered, "; ") <> ".\n"

    misses = cells |> Enum.map(&(config.seeds - &1.found)) |> Enum.sum()
    wrong = for c <- cells, c.wrong != [], do: "#{c.bug} #{name(c.strategy)}: #{inspect(c.wrong)}"

    categories =
      if wrong == [],
        do: "Every hunt that failed reported its bug's expected category.",
        else: "Unexpected categories (marked *): " <> Enum.join(wrong, "; ")

    """
    Iterations to the first failure over seeds 1..#{config.seeds} (cap #{config.cap}):

    | bug | strategy | found | median | worst | iterations/s |
    |---|---|---|---|---|---|
    #{Enum.join(rows, "\n")}

    Best strategy per bug (fewest misses, then lowest median, then lowest worst):

    | bug | best | median | worst |
    |---|---|---|---|
    #{Enum.join(best, "\n")}

    #{target(cells, default, config)}
    Misses: #{misses} hunt(s) found nothing within #{config.cap} iterations.
    #{categories}
    #{steered}Wall time: #{Float.round(elapsed_ms / 1000, 1)} s.
    """
  end

  defp target(cells, default, config) do
    mine = Enum.filter(cells, &(&1.strategy == default))
    {target_median, target_worst} = config.target

    if mine == [] do
      "The default strategy (#{name(default)}) was not benchmarked."
    else
      ok =
        Enum.filter(mine, fn c ->
          median(c.sorted) <= target_median and worst(c) <= target_worst
        end)

      missed = Enum.map(mine -- ok, &to_string(&1.bug))

      "Default strategy #{name(default)}: #{length(ok)} of #{length(mine)} bugs within the " <>
        "target (median <= #{target_median}, worst <= #{target_worst} over " <>
        "#{config.seeds} seeds)" <>
        if(missed == [], do: ".", else: "; outside it: #{Enum.join(missed, ", ")}.")
    end
  end

  defp score(c), do: {-c.found, median(c.sorted), worst(c)}

  defp mark(%{wrong: []}), do: ""
  defp mark(_), do: "*"

  defp count(n, cap) when n > cap, do: ">#{cap}"
  defp count(n, _cap), do: Integer.to_string(n)

  defp thousands(x) do
    x
    |> round()
    |> Integer.to_string()
    |> String.replace(~r/\B(?=(\d{3})+(?!\d))/, ",")
  end

  defp name({:steer, _params, name}), do: name
  defp name({strategy, [depth: depth]}), do: "#{strategy}:#{depth}"
  defp name({strategy, opts}), do: "#{strategy}(#{inspect(opts)})"
  defp name(strategy), do: Atom.to_string(strategy)
end

Bench.Corpus.main(System.argv())

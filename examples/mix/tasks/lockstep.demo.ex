defmodule Mix.Tasks.Lockstep.Demo do
  @shortdoc "Hunts the races in Lockstep's bug corpus and prints what it finds"

  @moduledoc """
  Runs Lockstep on each program of the bundled bug corpus (see `Lockstep.Corpus`: twelve small
  programs, each with a real concurrency bug) and prints, for each bug found, the iteration
  that found it, the shrunk failing schedule with its causal slice, the saved schedule file and
  the commands that replay it.

      mix lockstep.demo
      mix lockstep.demo --only lost_update --seed 7
      mix lockstep.demo --strategy random --iterations 500

  ## Options

    * `--only NAME` - hunt one program (repeatable)
    * `--seed N` - the hunt's seed (default 2026); the same seed finds the same schedules
    * `--strategy pct|fair_pct|pos|idpct|random` - the scheduling strategy with its default
      options (default: Lockstep's default strategy, pos)
    * `--iterations N` - iterations allowed per program (default 1000)

  The corpus is compiled in the `:dev` and `:test` environments only.
  """

  use Mix.Task

  @switches [only: :keep, seed: :integer, strategy: :string, iterations: :integer]

  @impl Mix.Task
  def run(argv) do
    {opts, rest, invalid} = OptionParser.parse(argv, strict: @switches)

    if rest != [] or invalid != [] do
      Mix.raise("unexpected arguments #{inspect(rest ++ invalid)}; see `mix help lockstep.demo`")
    end

    Mix.Task.run("compile")

    # The task lives in examples/ with the corpus: compiled in Lockstep's own :dev and :test
    # builds, never in a project that depends on Lockstep, where it could not work.
    unless Code.ensure_loaded?(Lockstep.Corpus) do
      Mix.raise("the bug corpus is compiled only in :dev and :test; run with MIX_ENV=dev")
    end

    seed = Keyword.get(opts, :seed, 2026)
    iterations = Keyword.get(opts, :iterations, 1000)

    strategy =
      strategy(Keyword.get(opts, :strategy, Atom.to_string(Lockstep.Options.default_strategy())))

    only = Keyword.get_values(opts, :only)
    # The corpus lives in examples/, which a dependency's build leaves out: called by name.
    entries = select(apply(Lockstep.Corpus, :all, []), only)

    found =
      for entry <- entries do
        hunt(entry, entry.opts ++ [seed: seed, iterations: iterations, strategy: strategy])
      end

    n = Enum.count(found, & &1)
    unmodified = if only == [], do: unmodified(seed, iterations, strategy), else: []
    total = length(entries) + length(unmodified)
    Mix.shell().info("\n#{n + Enum.count(unmodified, & &1)} of #{total} bugs found and reported.")
  end

  # An ordinary library, unedited: instrumented at load time, then hunted like the corpus.
  defp unmodified(seed, iterations, strategy) do
    lib = Unmodified.RateLimiter

    Mix.shell().info([
      :bright,
      "\n== An unmodified library: #{inspect(lib)} (plain :atomics and System.monotonic_time)",
      :reset
    ])

    Lockstep.instrument([lib])

    entry = %{
      name: :unmodified_rate_limiter,
      module: Unmodified.RateLimiter.Hunt,
      title: "read-then-add on :atomics lets one request too many through",
      instrument: [lib]
    }

    try do
      [hunt(entry, seed: seed, iterations: iterations, strategy: strategy)]
    after
      Lockstep.uninstrument([lib])
    end
  end

  @strategies ~w(pct fair_pct pos idpct random)

  defp strategy(name) when name in @strategies, do: String.to_atom(name)

  defp strategy(other),
    do:
      Mix.raise(
        "--strategy must be one of #{Enum.join(@strategies, ", ")}, got #{inspect(other)}"
      )

  defp select(all, []), do: all

  defp select(all, names) do
    Enum.map(names, fn name ->
      case Enum.find(all, &(Atom.to_string(&1.name) == name)) do
        nil -> Mix.raise("no program #{inspect(name)} in the corpus; programs: #{list(all)}")
        found -> found
      end
    end)
  end

  defp list(all), do: Enum.map_join(all, ", ", &Atom.to_string(&1.name))

  defp hunt(%{name: name, module: mod, title: title} = entry, opts) do
    shell = Mix.shell()
    unless entry[:instrument], do: shell.info([:bright, "\n== #{name}: #{title}", :reset])
    started = System.monotonic_time(:millisecond)

    try do
      Lockstep.Runner.run(&mod.run/0, [max_run_time: :infinity] ++ opts)
      shell.info("no bug found in #{opts[:iterations]} iterations")
      false
    rescue
      bug in Lockstep.BugFound ->
        ms = System.monotonic_time(:millisecond) - started
        shell.info("found in iteration #{bug.iteration} (#{ms} ms)\n")
        shell.info(bug.message)

        if bug.schedule_path do
          path = Path.relative_to_cwd(bug.schedule_path)

          instrument =
            case entry[:instrument] do
              nil -> ""
              mods -> "Lockstep.instrument(#{inspect(mods)}); "
            end

          shell.info([
            :bright,
            "\nReplay this schedule: mix run -e " <>
              "'#{instrument}Lockstep.replay(&#{inspect(mod)}.run/0, \"#{path}\")'",
            :reset
          ])
        end

        unless entry[:instrument] do
          shell.info([
            :bright,
            "Hunt again: mix lockstep.demo --only #{name} --seed #{opts[:seed]} " <>
              "--strategy #{strategy_name(opts[:strategy])} --iterations #{opts[:iterations]}",
            :reset
          ])
        end

        true
    end
  end

  defp strategy_name(s), do: Atom.to_string(s)
end

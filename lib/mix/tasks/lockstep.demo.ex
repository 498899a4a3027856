defmodule Mix.Tasks.Lockstep.Demo do
  @shortdoc "Hunts the races in Lockstep's bundled examples and prints what it finds"

  @moduledoc """
  Runs Lockstep on each bundled example (see `Lockstep.Examples`) and prints, for each race
  found, the iteration that found it, the failing schedule and the command that replays it.

      mix lockstep.demo
      mix lockstep.demo --only lost_update --seed 7
      mix lockstep.demo --strategy random --iterations 500

  ## Options

    * `--only NAME` - hunt one example (repeatable)
    * `--seed N` - the hunt's seed (default 2026); the same seed finds the same schedules
    * `--strategy pct|fair_pct|pos|idpct|random` - the scheduling strategy with its default
      options (default pct)
    * `--iterations N` - iterations allowed per example (default 1000)

  The examples are compiled in the `:dev` and `:test` environments only.
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

    unless Code.ensure_loaded?(Lockstep.Examples) do
      Mix.raise("the examples are compiled only in :dev and :test; run with MIX_ENV=dev")
    end

    seed = Keyword.get(opts, :seed, 2026)
    iterations = Keyword.get(opts, :iterations, 1000)
    strategy = strategy(Keyword.get(opts, :strategy, "pct"))
    only = Keyword.get_values(opts, :only)
    examples = select(Lockstep.Examples.all(), only)

    found =
      for {name, mod} <- examples do
        hunt(name, mod, seed: seed, iterations: iterations, strategy: strategy)
      end

    n = Enum.count(found, & &1)
    Mix.shell().info("\n#{n} of #{length(examples)} examples: race found and reported.")
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
      case Enum.find(all, fn {n, _} -> Atom.to_string(n) == name end) do
        nil -> Mix.raise("no example #{inspect(name)}; examples: #{list(all)}")
        found -> found
      end
    end)
  end

  defp list(all), do: Enum.map_join(all, ", ", fn {n, _} -> Atom.to_string(n) end)

  defp hunt(name, mod, opts) do
    shell = Mix.shell()
    shell.info([:bright, "\n== #{name}: #{mod.title()}", :reset])
    started = System.monotonic_time(:millisecond)

    try do
      Lockstep.Runner.run(&mod.run/0, [max_run_time: :infinity] ++ opts)
      shell.info("no bug found in #{opts[:iterations]} iterations")
      false
    rescue
      bug in Lockstep.BugFound ->
        ms = System.monotonic_time(:millisecond) - started
        shell.info("found in iteration #{bug.iteration + 1} (#{ms} ms)\n")
        shell.info(bug.message)

        shell.info([
          :bright,
          "\nReplay: mix lockstep.demo --only #{name} --seed #{opts[:seed]} " <>
            "--strategy #{strategy_name(opts[:strategy])} --iterations #{opts[:iterations]}",
          :reset
        ])

        true
    end
  end

  defp strategy_name(s), do: Atom.to_string(s)
end

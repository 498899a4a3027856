defmodule Mix.Tasks.Lockstep.Hunt do
  @shortdoc "Hunts the ctests of a file (or one of them) for a wall-clock budget"

  @moduledoc """
  Runs the ctests of a test file, or the one at a line, for as long as you give them, and stops
  at the first bug.

      MIX_ENV=test mix lockstep.hunt test/cache_test.exs:12 --time 10m --workers 2
      MIX_ENV=test mix lockstep.hunt test/cache_test.exs --time 30s --seed 7

  Each ctest hunts with no iteration limit until `--time` runs out (its `:max_run_time`), with
  the one-line progress display on, `--workers` iterations at a time (see `:workers` in
  `Lockstep.Runner`) and, with `--seed`, that hunt seed. A ctest that finds a bug fails as under
  `mix test`: its report, saved schedule and replay command are printed, and `mix test`'s
  `--max-failures 1` stops the run there. At the end of each ctest's hunt a line gives the
  iterations it ran and its iterations per second.

  The task runs `mix test FILE[:LINE]` in this VM with `LOCKSTEP_ITERATIONS`,
  `LOCKSTEP_MAX_RUN_TIME`, `LOCKSTEP_WORKERS`, `LOCKSTEP_PROGRESS`, `LOCKSTEP_HUNT` and
  `LOCKSTEP_SEED` set, and ExUnit's test timeout raised above the budget. Arguments after `--`
  go to `mix test`. A project that depends on Lockstep `only: :test` has the task in the test
  environment only, hence `MIX_ENV=test`.

  ## Options

    * `--time DURATION` - the budget of each ctest: `90s`, `10m`, `1h` or milliseconds
      (required)
    * `--workers N` - iterations run at once (default 1)
    * `--nodes N` - start N local peer nodes and spread the iterations over them, `--workers`
      on each (see `:nodes` in `Lockstep.Runner.run/2`)
    * `--seed S` - the hunt seed (default: derived from ExUnit's seed and the test's name)

  ## Exit status

  `mix test`'s: non-zero when a bug was found (or a test failed otherwise), 0 when the budget
  ran out with no bug.
  """

  use Mix.Task

  # Iterations without end: the time budget stops the hunt.
  @unbounded 1_000_000_000
  # Room for shrinking and the report after the budget, before ExUnit's timeout.
  @margin_ms 60_000

  @impl Mix.Task
  def run(args) do
    {target, env, test_args} = parse!(args)
    Enum.each(env, fn {k, v} -> System.put_env(k, v) end)
    Mix.Task.run("test", [target | test_args])
  end

  @doc false
  # The test target, the environment for the hunt and the arguments for `mix test`.
  @spec parse!([String.t()]) :: {String.t(), [{String.t(), String.t()}], [String.t()]}
  def parse!(args) do
    {ours, rest} = Enum.split_while(args, &(&1 != "--"))
    passthrough = Enum.drop(rest, 1)

    {opts, positional, invalid} =
      OptionParser.parse(ours,
        strict: [time: :string, workers: :string, nodes: :string, seed: :string]
      )

    if invalid != [] do
      Mix.raise("mix lockstep.hunt: unknown or bad option #{inspect(elem(hd(invalid), 0))}")
    end

    target =
      case positional do
        [target] ->
          target

        _ ->
          Mix.raise("mix lockstep.hunt takes one FILE or FILE:LINE, got: #{inspect(positional)}")
      end

    time = duration!(opts[:time])
    workers = integer!(opts[:workers] || "1", "--workers", 1)

    env =
      [
        {"LOCKSTEP_ITERATIONS", Integer.to_string(@unbounded)},
        {"LOCKSTEP_MAX_RUN_TIME", Integer.to_string(time)},
        {"LOCKSTEP_WORKERS", Integer.to_string(workers)},
        {"LOCKSTEP_PROGRESS", "1"},
        {"LOCKSTEP_HUNT", "1"}
      ] ++
        if opts[:seed],
          do: [{"LOCKSTEP_SEED", Integer.to_string(integer!(opts[:seed], "--seed", 0))}],
          else: []

    env =
      if opts[:nodes],
        do: env ++ [{"LOCKSTEP_NODES", Integer.to_string(integer!(opts[:nodes], "--nodes", 1))}],
        else: env

    test_args = ["--timeout", Integer.to_string(time + @margin_ms), "--max-failures", "1"]
    {target, env, test_args ++ passthrough}
  end

  defp duration!(nil), do: Mix.raise("mix lockstep.hunt needs --time, e.g. --time 10m")

  defp duration!(text) do
    case Integer.parse(text) do
      {n, unit} when n > 0 and unit in ["", "ms", "s", "m", "h"] ->
        n * %{"" => 1, "ms" => 1, "s" => 1_000, "m" => 60_000, "h" => 3_600_000}[unit]

      _ ->
        Mix.raise(
          "mix lockstep.hunt: --time must be a positive duration such as 90s, 10m, 1h or " <>
            "milliseconds, got: #{inspect(text)}"
        )
    end
  end

  defp integer!(text, flag, min) do
    case Integer.parse(text) do
      {n, ""} when n >= min and (flag != "--workers" or n <= 256) ->
        n

      _ ->
        bound = if flag == "--workers", do: "between 1 and 256", else: "a non-negative integer"
        Mix.raise("mix lockstep.hunt: #{flag} must be #{bound}, got: #{inspect(text)}")
    end
  end
end

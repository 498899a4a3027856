defmodule Mix.Tasks.Lockstep.Check do
  @shortdoc "Checks history files for linearizability"

  @moduledoc """
  Checks Jepsen-style history files for linearizability.

      mix lockstep.check PATH... --model MODEL [options]

  Each `PATH` is a file or a directory (its regular, non-hidden files, in name order; not
  recursive). Formats are recognised per file: Jepsen EDN op maps, Jepsen etcd logs, or JSON
  events. One line is printed per file:

      histories/etcd_001.log: not linearizable: process 3: read -> 4 (events 12..15)
      histories/etcd_002.log: linearizable
      histories/etcd_007.log: unknown (time budget exhausted)
      histories/broken.log: error: line 3: ...
      histories/empty.log: error: no operations: the history is empty
      histories/etcd_010.log: linearizable (skipped 2 lines that are not history events, first at line 1)

  followed by a summary line. A file with no operations is an error, not a pass. Lines of a
  Jepsen etcd log that are not history events (other log output) are skipped, and the file's
  line says how many and where the first was; with `--strict` they make the file an error.

  ## Options

    * `--model NAME` - required: `register`, `cas_register`, `kv`, `counter`, `set`, `queue` or
      `mutex`
    * `--initial VALUE` - the initial value, as an Elixir literal (`nil`, `0`, `'""'` for the
      empty string, `:a`); anything else is taken as a plain string
    * `--info open|discard` - how `:info` completions are read (default `open`: the operation
      may take effect at any later time)
    * `--fail observe|discard` - how `:fail` completions are read (default `observe`)
    * `--no-partition` - search each history whole instead of per key
    * `--threads N` - worker threads for partitions (0: one per core; default 1)
    * `--max-steps N` - model-step budget per partition
    * `--time-limit MS` - wall-clock budget per file (default 60000, one minute; `0` for none);
      a check still running prints how long it has run every 10 seconds
    * `--max-memory MIB` - memory budget per file in MiB (default 4096; `0` for none); a search
      that would need more ends as unknown, never as a crash
    * `--html DIR` - write an HTML timeline of each violation to `DIR/<file>.html`
    * `--verbose` - print the full explanation of each violation
    * `--strict` - a line that is not a history event makes its file an error (default: skip
      and count such lines)

  ## Transactional isolation

      mix lockstep.check PATH... --isolation list-append|rw-register [--consistency-model MODEL]

  checks transactional histories (Jepsen EDN `:txn` ops) for a consistency model with
  `Lockstep.Checker.Isolation`: `read-uncommitted`, `read-committed`, `causal`,
  `snapshot-isolation`, `repeatable-read`, `serializable` (default) or `strict-serializable`.
  One line per file (`FILE: serializable`, `FILE: not serializable: G-single (2), ...`,
  `FILE: error: ...`), `--verbose` for each anomaly's explanation, `--max-steps N` for the
  G-single search budget (`0`: none), `--strict` as above. Exit status as below.

  ## Exit status

  0 when every history is linearizable, 1 when any is not (and none is undecided or unreadable),
  2 when any check is unknown, any file is missing or unreadable, or the arguments are bad.
  """

  use Mix.Task

  @switches [
    model: :string,
    initial: :string,
    info: :string,
    fail: :string,
    partition: :boolean,
    threads: :integer,
    max_steps: :integer,
    time_limit: :integer,
    max_memory: :integer,
    html: :string,
    verbose: :boolean,
    strict: :boolean
  ]

  @impl Mix.Task
  def run(args) do
    case main(args) do
      0 -> :ok
      code -> exit({:shutdown, code})
    end
  end

  @doc """
  Does the work of the task and returns the exit status instead of exiting (what `run/1` and the
  tests call).
  """
  @spec main([String.t()]) :: 0 | 1 | 2
  def main(args) do
    if Lockstep.Checker.Isolation.CLI.wanted?(args),
      do: Lockstep.Checker.Isolation.CLI.main(args),
      else: linearizability(args)
  end

  defp linearizability(args) do
    with {:ok, paths, opts} <- parse(args),
         {:ok, o} <- options(opts) do
      paths
      |> check_with_progress(o)
      |> report(o, opts)
    else
      {:error, message} ->
        Mix.shell().error(
          "mix lockstep.check: #{message}\n\nRun `mix help lockstep.check` for usage."
        )

        2
    end
  end

  defp parse(args) do
    case OptionParser.parse(args, strict: @switches) do
      {_, _, [{switch, _} | _]} ->
        {:error, "bad or unknown option #{switch}"}

      {_, [], _} ->
        {:error, "give at least one history file or directory"}

      {opts, paths, []} ->
        cond do
          opts[:model] == nil -> {:error, "--model is required"}
          true -> {:ok, paths, opts}
        end
    end
  end

  defp options(opts) do
    with {:ok, model} <- model(opts[:model]),
         {:ok, info} <- choice(opts, :info, ~w(open discard)),
         {:ok, fail} <- choice(opts, :fail, ~w(observe discard)),
         {:ok, initial} <- initial(opts[:initial]) do
      keyword =
        [
          initial: initial,
          info: info,
          fail: fail,
          partition: Keyword.get(opts, :partition, true),
          threads: Keyword.get(opts, :threads, 1),
          max_steps: opts[:max_steps],
          time_limit: budget(opts[:time_limit], 1),
          max_memory: budget(opts[:max_memory], 1024 * 1024),
          strict: Keyword.get(opts, :strict, false)
        ]
        |> Enum.reject(fn {_k, v} -> v == nil end)

      try do
        o = Lockstep.Checker.options!(keyword, "mix lockstep.check")
        {:ok, %{o | model: model, html: opts[:html] != nil}}
      rescue
        e in ArgumentError -> {:error, String.replace(e.message, "mix lockstep.check: ", "")}
      end
    end
  end

  defp budget(nil, _unit), do: nil
  defp budget(0, _unit), do: :infinity
  defp budget(n, unit) when is_integer(n) and n > 0, do: n * unit
  defp budget(n, _unit), do: n

  # The check runs on a dirty scheduler in a task; while it runs, say so every ten seconds.
  defp check_with_progress(paths, o) do
    task = Task.async(fn -> Lockstep.Native.checker_check_paths(paths, o) end)
    wait(task, o, System.monotonic_time(:millisecond))
  end

  defp wait(task, o, started) do
    case Task.yield(task, Application.get_env(:lockstep, :check_progress_ms, 10_000)) do
      {:ok, results} ->
        results

      nil ->
        limit =
          case o.time_limit_ms do
            nil -> "no time limit"
            ms -> "time limit #{ms / 1000} s per file"
          end

        elapsed = (System.monotonic_time(:millisecond) - started) / 1000
        Mix.shell().info("mix lockstep.check: still checking after #{elapsed} s (#{limit})")
        wait(task, o, started)
    end
  end

  defp model(name) do
    names = Enum.map(Lockstep.Checker.builtin_models(), &Atom.to_string/1)

    if name in names,
      do: {:ok, name},
      else: {:error, "unknown model #{inspect(name)} (known: #{Enum.join(names, ", ")})"}
  end

  defp choice(opts, key, allowed) do
    case opts[key] do
      nil ->
        {:ok, nil}

      value ->
        if value in allowed,
          do: {:ok, String.to_atom(value)},
          else: {:error, "--#{key} must be #{Enum.join(allowed, " or ")}, got #{inspect(value)}"}
    end
  end

  defp initial(nil), do: {:ok, nil}

  defp initial(text) do
    with {:ok, quoted} <- Code.string_to_quoted(text),
         true <- Macro.quoted_literal?(quoted) do
      {value, _} = Code.eval_quoted(quoted)
      {:ok, value}
    else
      _ -> {:ok, text}
    end
  end

  defp report({:invalid, message}, _o, _opts) do
    Mix.shell().error("mix lockstep.check: #{message}")
    2
  end

  defp report(results, o, opts) do
    codes =
      for {path, result, skipped} <- results do
        {line, code} = line(result)
        Mix.shell().info("#{path}: #{line}#{skipped(skipped)}")
        details(path, result, opts)
        code
      end

    counts = Enum.frequencies(codes)

    Mix.shell().info(
      "#{length(results)} histories: #{Map.get(counts, :ok, 0)} linearizable, " <>
        "#{Map.get(counts, :violation, 0)} not linearizable, #{Map.get(counts, :unknown, 0)} unknown, " <>
        "#{Map.get(counts, :invalid, 0)} errors"
    )

    _ = o

    cond do
      Map.has_key?(counts, :unknown) or Map.has_key?(counts, :invalid) or results == [] -> 2
      Map.has_key?(counts, :violation) -> 1
      true -> 0
    end
  end

  defp skipped(nil), do: ""
  defp skipped({count, first}), do: " (#{Lockstep.Checker.skipped_text(count, first)})"

  defp line(:ok), do: {"linearizable", :ok}

  defp line({:error, %{failing: failing}}) when is_binary(failing),
    do: {"not linearizable: #{failing}", :violation}

  defp line({:error, _}), do: {"not linearizable", :violation}
  defp line({:unknown, why}), do: {"unknown (#{why})", :unknown}
  defp line({:invalid, message}), do: {"error: #{message}", :invalid}

  defp details(path, {:error, exp}, opts) do
    if opts[:verbose], do: Mix.shell().info(exp.text)

    if dir = opts[:html] do
      File.mkdir_p!(dir)
      file = Path.join(dir, Path.basename(path) <> ".html")
      File.write!(file, exp.html)
      Mix.shell().info("  HTML report: #{file}")
    end
  end

  defp details(_path, _result, _opts), do: :ok
end

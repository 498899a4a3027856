defmodule Mix.Tasks.Lockstep.Check do
  @shortdoc "Checks history files for linearizability"

  @moduledoc """
  Checks Jepsen-style history files for linearizability.

      mix lockstep.check PATH... --model MODEL [options]

  Each `PATH` is a file or a directory (its regular, non-hidden files, in name order; not
  recursive). Formats are recognised per file: Jepsen EDN op maps, Jepsen etcd logs, or JSON
  events. Files in a directory that are not histories (by extension: `.html`, `.png`, `.md`,
  ...; or by content: binary data, markup) are passed over with a note, `FILE: skipped: not a
  history file (a .html file)`, and do not change the exit status; a file named explicitly is
  always checked. One line is printed per file:

      histories/etcd_001.log: not linearizable: process 3: read -> 4 (lines 12..15)
      histories/etcd_002.log: linearizable
      histories/etcd_007.log: unknown (time budget exhausted)
      histories/broken.log: error: line 3: ...
      histories/empty.log: error: no operations: the history is empty
      histories/etcd_010.log: linearizable (skipped 2 lines that are not history events, first at line 1)

  followed by a summary line. Positions are where an operation is in the file: its lines, or
  the ops' own `:index` (`(:index 40..43)`) when every op of a Jepsen history carries one; HTML
  timelines (`--html`) use the same. A file with no operations is an error, not a pass. Lines of a
  Jepsen etcd log that are not history events (other log output) are skipped, and the file's
  line says how many and where the first was; with `--strict` they make the file an error.

  ## Options

    * `--model NAME` - required: `register`, `cas_register`, `kv`, `multi_register` (`:txn`
      transactions over keyed registers), `counter`, `set`, `queue` or `mutex`
    * `--initial VALUE` - the initial value, as an Elixir literal (`nil`, `0`, `'""'` for the
      empty string, `:a`); anything else is taken as a plain string
    * `--rules knossos|porcupine|strict` - read histories as that tool does (default:
      Lockstep's own reading). A preset sets `--nil-reads`, `--fail`, `--info`, `--initial`
      and `--strict`; those options given explicitly override it (`--initial nil`,
      `--no-strict`). Each file's line says `(rules: NAME)`. See "Rules presets" in
      `Lockstep.Checker`:

      | option | default | `knossos` | `porcupine` | `strict` |
      |---|---|---|---|---|
      | `--nil-reads` | `value` | `unknown` | `value` | `value` |
      | `--fail` | `observe` | `discard` | `observe` | `observe` |
      | `--info` | `open` | `open` | `open` | `open` |
      | `--initial` | `nil` | `0` | `nil` | `nil` |
      | `--strict` | off | off | off | on |

    * `--nil-reads value|unknown` - an `:ok` read of `nil` read the value `nil` (default), or
      read a value that is not known (legal in any state: Knossos)
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
    rules: :string,
    nil_reads: :string,
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
      {:error, message} -> usage_error(message)
    end
  end

  @doc false
  # A bad argument: the message and where the usage is, exit status 2. Shared with the
  # isolation checks (`--isolation`).
  @spec usage_error(String.t()) :: 2
  def usage_error(message) do
    Mix.shell().error(
      "mix lockstep.check: #{message}\n\nRun `mix help lockstep.check` for usage."
    )

    2
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
         {:ok, rules} <- choice(opts, :rules, ~w(knossos porcupine strict lockstep)),
         {:ok, nil_reads} <- choice(opts, :nil_reads, ~w(value unknown)),
         {:ok, info} <- choice(opts, :info, ~w(open discard)),
         {:ok, fail} <- choice(opts, :fail, ~w(observe discard)),
         {:ok, initial} <- initial(opts[:initial]) do
      keyword =
        [
          rules: rules,
          initial: initial,
          info: info,
          fail: fail,
          nil_reads: nil_reads,
          partition: Keyword.get(opts, :partition, true),
          threads: Keyword.get(opts, :threads, 1),
          max_steps: opts[:max_steps],
          time_limit: budget(opts[:time_limit], 1),
          max_memory: budget(opts[:max_memory], 1024 * 1024),
          strict: opts[:strict]
        ]
        |> Enum.reject(fn {_k, v} -> v == nil end)
        # An explicit `--initial nil` overrides a preset's initial value.
        |> then(
          &if(Keyword.has_key?(opts, :initial), do: Keyword.put(&1, :initial, initial), else: &1)
        )

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
          else:
            {:error,
             "--#{key |> Atom.to_string() |> String.replace("_", "-")} must be " <>
               "#{Enum.join(allowed, " or ")}, got #{inspect(value)}"}
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

  defp report(entries, o, opts) do
    {passed_over, results} = Enum.split_with(entries, &match?({_path, :not_history, _reason}, &1))

    codes =
      for entry <- entries do
        case entry do
          {path, :not_history, reason} ->
            Mix.shell().info("#{path}: skipped: not a history file (#{reason})")
            :not_history

          {path, result, skipped} ->
            {line, code} = line(result)
            Mix.shell().info("#{path}: #{line}#{notes(rules_note(o), skipped)}")
            details(path, result, opts)
            code
        end
      end

    counts = Enum.frequencies(codes)

    Mix.shell().info(
      "#{length(results)} histories: #{Map.get(counts, :ok, 0)} linearizable, " <>
        "#{Map.get(counts, :violation, 0)} not linearizable, #{Map.get(counts, :unknown, 0)} unknown, " <>
        "#{Map.get(counts, :invalid, 0)} errors" <> passed_over_note(length(passed_over))
    )

    cond do
      Map.has_key?(counts, :unknown) or Map.has_key?(counts, :invalid) or results == [] -> 2
      Map.has_key?(counts, :violation) -> 1
      true -> 0
    end
  end

  defp passed_over_note(0), do: ""
  defp passed_over_note(1), do: " (1 file that is not a history skipped)"
  defp passed_over_note(n), do: " (#{n} files that are not histories skipped)"

  # What follows a file's verdict in parentheses: the rules used, the lines skipped.
  defp notes(rules, skipped) do
    case Enum.reject([rules, skipped(skipped)], &is_nil/1) do
      [] -> ""
      notes -> " (" <> Enum.join(notes, "; ") <> ")"
    end
  end

  defp rules_note(%{rules: nil}), do: nil
  defp rules_note(%{rules: rules}), do: "rules: #{rules}"

  defp skipped(nil), do: nil
  defp skipped({count, first}), do: Lockstep.Checker.skipped_text(count, first)

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

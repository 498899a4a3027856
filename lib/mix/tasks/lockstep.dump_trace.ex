defmodule Mix.Tasks.Lockstep.DumpTrace do
  @shortdoc "Prints the run recorded in a schedule file, step by step"

  @moduledoc """
  Prints the run a schedule file recorded (see `Lockstep.Schedule`), without running anything.

      mix lockstep.dump_trace PATH
      mix lockstep.dump_trace PATH --format json --output trace.json

  ## Formats

    * `text` (default) - the test, the failure and the seeds, then one step per line as in a
      failure report:

            12. P1   sends {:value, 0} to P2
            13. P2   receives {:value, 0}
                 · P0 gets {:DOWN, #Reference<...>, :process, P2, :normal}

    * `json` - the trace events alone, as a JSON array with one event per line:
      `{"step": 12, "time": 0, "proc": 1, "kind": "send", "text": "sends {:value, 0} to P2",
      "fields": {"dest": 2, "to": 2, "message": "{:value, 0}", "dropped": false}}`

  ### The JSON schema of an event

    * `step` (integer; 0 before the first step), `time` (virtual ms), `proc` (the process id
      whose step it is, `null` for the clock and timers), `kind`, `text` (as in the report)
    * `fields` (absent when empty, and in files written before fields existed): process ids as
      integers, flags as booleans, numbers as integers, terms as rendered text (P-aliases for
      pids, at most 100 characters). By kind:
      `send`: `dest` (id, or the name sent to), `to` (the id it reached, absent if dropped),
      `message`, `dropped`, `id` (the engine's message number: the `receive` or `deliver`
      with the same `id` took this message); a `GenServer` call also `reference` and `request`. `receive`:
      `message`, `id`. `scan`: `count`. `spawn`: `child`, `link`. `monitor`: `target`.
      `demonitor`: `active`. `link`/`unlink`: `target`. `exit`: `reason`. `exit_signal`:
      `target`, `reason`. `died`: `process`, `reason`, `from`, `link`. `send_after`: `dest`,
      `delay`, `message`. `cancel_timer`/`read_timer`: `left` (absent when the timer was gone).
      `now`: `result`. `register`/`whereis` and the `global_` ones: `name`, `target`/`result`.
      `sync` (shared state): `label`. `deliver`: `to`, `message`, `id`. `clock`: `time`.
      `timer_fired`: `to`. `deadline`, `vanished`: `process`.

  ## Options

    * `--format text|json` - what to print (default `text`)
    * `--output FILE` - write to `FILE` instead of printing

  ## Exit status

  0 on success; 1 when the file is missing, unreadable, not JSON, not a schedule, of a version
  this Lockstep does not read, or lacks a field (the message names the problem), or when the
  arguments are bad.
  """

  use Mix.Task

  alias Lockstep.{Report, Schedule}

  @switches [format: :string, output: :string]

  @impl Mix.Task
  def run(args) do
    {opts, path} = parse!(args)
    Mix.Task.run("compile")

    text =
      case File.read(path) do
        {:ok, contents} -> dump!(path, contents, Keyword.get(opts, :format, "text"))
        {:error, reason} -> Mix.raise("#{path}: cannot read: #{:file.format_error(reason)}")
      end

    case opts[:output] do
      nil ->
        Mix.shell().info(String.trim_trailing(text))

      out ->
        case File.write(out, text) do
          :ok -> Mix.shell().info("Wrote #{out}")
          {:error, reason} -> Mix.raise("cannot write #{out}: #{:file.format_error(reason)}")
        end
    end
  end

  defp parse!(args) do
    case OptionParser.parse(args, strict: @switches) do
      {opts, [path], []} ->
        if opts[:format] not in [nil, "text", "json"] do
          Mix.raise("--format must be text or json, got #{inspect(opts[:format])}")
        end

        {opts, path}

      {_, [], []} ->
        Mix.raise("expected the path of a schedule file; see `mix help lockstep.dump_trace`")

      {_, paths, invalid} ->
        Mix.raise(
          "unexpected arguments #{inspect(tl(paths) ++ Enum.map(invalid, &elem(&1, 0)))}; " <>
            "see `mix help lockstep.dump_trace`"
        )
    end
  end

  defp dump!(path, contents, "json") do
    case Lockstep.Native.schedule_trace_json(contents) do
      {:ok, json} -> json
      {:error, why} -> Mix.raise("#{path}: #{why}")
    end
  end

  defp dump!(path, contents, "text") do
    case Schedule.from_json(contents) do
      {:ok, schedule} -> text(%{schedule | path: path})
      {:error, why} -> Mix.raise("#{path}: #{why}")
    end
  end

  @doc false
  # The text form of a schedule: header, failure, then the steps.
  @spec text(Schedule.t()) :: String.t()
  def text(%Schedule{} = s) do
    who = Schedule.process_aliases(s)

    [
      "Schedule #{s.path} (format version #{s.version}#{by(s.created_by)})",
      test_line(s.test),
      "Failure: #{s.category} after #{s.steps} steps: #{Report.summary(s.category)}",
      indent(s.detail),
      "Seed #{s.seed}, iteration #{s.iteration}, iteration seed " <>
        "#{s.iter_seed}, strategy #{inspect(s.strategy)}" <> expected(s.expected_steps) <> ".",
      "Settings: " <>
        Enum.map_join(
          Lockstep.Options.run_settings(),
          ", ",
          &"#{&1} #{inspect(s.settings[&1])}"
        ),
      shrunk(s.shrunk_from),
      "",
      "Schedule (#{s.steps} steps, #{length(s.processes)} processes):",
      Report.layout(s.trace, who, :infinity),
      "",
      "Processes: " <> Enum.map_join(s.processes, ", ", &who.(&1.id)),
      "Choices: " <> Enum.map_join(s.choices, " ", &Integer.to_string/1)
    ]
    |> Enum.reject(&is_nil/1)
    |> Enum.join("\n")
    |> Kernel.<>("\n")
  end

  defp by(nil), do: ""
  defp by(who), do: ", written by #{who}"

  defp test_line(nil), do: "Test: none (the run was started outside a ctest)"

  defp test_line(t) do
    where = if t.file, do: " (#{t.file}:#{t.line})", else: ""
    "Test: #{t.module} #{inspect(t.name)}#{where}"
  end

  defp expected(nil), do: ""
  defp expected(n), do: ", expected_steps #{n}"

  defp shrunk(nil), do: nil

  defp shrunk(%{steps: steps, preemptions: p}),
    do: "Shrunk from a schedule of #{steps} steps with #{p} preemptions."

  defp indent(""), do: nil
  defp indent(text), do: text |> String.split("\n") |> Enum.map_join("\n", &("  " <> &1))
end

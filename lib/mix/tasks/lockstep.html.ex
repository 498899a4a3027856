defmodule Mix.Tasks.Lockstep.Html do
  @shortdoc "Draws the run recorded in a schedule file as a standalone HTML page"

  @moduledoc """
  Draws the run a schedule file recorded (see `Lockstep.Schedule`) as a standalone HTML page,
  without running anything: one lane per process, one row per step, arrows from sends to the
  receives that took them, the failing step marked (see `Lockstep.Report.Html`).

      mix lockstep.html PATH
      mix lockstep.html PATH --output run.html

  The page is built from the schedule's stored events (text), so messages are matched to their
  receives by their printed form, and no causal slice is shown (a schedule file does not store
  it). The page the runner writes beside a failure's schedule file is drawn from the run itself.

  ## Options

    * `--output FILE` - where to write the page (default: beside the schedule, same base name,
      `.html`)
    * `--last N` - draw the last `N` steps (default 400)

  ## Exit status

  0 on success; 1 when the file is missing, unreadable, not JSON, not a schedule, of a version
  this Lockstep does not read, or lacks a field (the message names the problem), when the page
  cannot be written, or when the arguments are bad.
  """

  use Mix.Task

  alias Lockstep.{Report, Schedule}

  @switches [output: :string, last: :integer]

  @impl Mix.Task
  def run(args) do
    {opts, path} = parse!(args)
    Mix.Task.run("compile")

    schedule =
      case File.read(path) do
        {:ok, contents} ->
          case Schedule.from_json(contents) do
            {:ok, s} -> %{s | path: path}
            {:error, why} -> Mix.raise("#{path}: #{why}")
          end

        {:error, reason} ->
          Mix.raise("#{path}: cannot read: #{:file.format_error(reason)}")
      end

    out = opts[:output] || Path.rootname(path) <> ".html"
    html = Report.Html.from_schedule(schedule, last_steps: Keyword.get(opts, :last, 400))

    case File.write(out, html) do
      :ok -> Mix.shell().info("Wrote #{out}")
      {:error, reason} -> Mix.raise("cannot write #{out}: #{:file.format_error(reason)}")
    end
  end

  defp parse!(args) do
    case OptionParser.parse(args, strict: @switches) do
      {opts, [path], []} ->
        if opts[:last] != nil and opts[:last] < 1 do
          Mix.raise("--last must be a positive number of steps, got #{opts[:last]}")
        end

        {opts, path}

      {_, [], []} ->
        Mix.raise("expected the path of a schedule file; see `mix help lockstep.html`")

      {_, paths, invalid} ->
        Mix.raise(
          "unexpected arguments #{inspect(tl(paths) ++ Enum.map(invalid, &elem(&1, 0)))}; " <>
            "see `mix help lockstep.html`"
        )
    end
  end
end

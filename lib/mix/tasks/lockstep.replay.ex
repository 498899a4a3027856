defmodule Mix.Tasks.Lockstep.Replay do
  @shortdoc "Replays a saved failing schedule by running the test it came from"

  @moduledoc """
  Replays a schedule file saved by a failing `ctest`: runs that one test, which replays the
  schedule strictly instead of hunting.

      mix lockstep.replay _build/test/lockstep/CounterTest-two_increments-seed7-iter3-81234-5.json
      mix lockstep.replay PATH -- --trace

  The file names its test (module, name, file and line). The task prints that test and its
  file, then runs `mix test FILE:LINE` with `LOCKSTEP_REPLAY=PATH` in the environment (and
  `MIX_ENV=test` unless `MIX_ENV` is set), so the `ctest` the schedule belongs to replays it
  with `Lockstep.Replay.run/3`; arguments after `--` go to `mix test`.

  A schedule is data, and running it must not run code from elsewhere: the test file it names
  has to lie inside the project's test paths (`:test_paths` of the Mix project, `["test"]` by
  default), after `..` and symbolic links are resolved. A file outside them is refused with a
  message naming it, unless `--allow-outside-test-paths` is given.

  ## Options

    * `--allow-outside-test-paths` - run the schedule's test file even when it lies outside the
      project's test paths (only for schedules you trust)
    * `--regression` - the schedule is a regression test: a replay that no longer fails passes
      and says the bug is gone (exit 0); a failure still fails

  The test fails either way, and its output says which way:

    * `Lockstep.BugFound` - the failure happened again ("the bug fired again"), with the
      schedule step by step; or a different failure happened, and the report names both
    * `Lockstep.ReplayDivergence` - the program no longer follows the schedule; the message
      names the first step at which it behaved differently

  A schedule saved by `Lockstep.Runner.run/2` outside a test has no test to run: the task
  prints how to replay it from iex with `Lockstep.replay/2` instead.

  ## Exit status

  The status of `mix test` (non-zero when the replayed test failed, which is the expected
  outcome), 1 when the file is missing, unreadable, not a schedule or has no test, when its test
  file lies outside the test paths (without `--allow-outside-test-paths`), or when the
  test passed (the schedule was not replayed: the test at `FILE:LINE` is not the one recorded).
  """

  use Mix.Task

  @impl Mix.Task
  def run(args) do
    case main(args) do
      0 -> :ok
      code -> exit({:shutdown, code})
    end
  end

  @doc """
  Does the work of the task and returns the exit status of the replayed test instead of
  exiting. Raises `Mix.Error` (exit status 1 from the command line) for bad arguments and for
  files that cannot be replayed.
  """
  @spec main([String.t()]) :: non_neg_integer()
  def main(args) do
    {path, opts, test_args} = parse!(args)
    env = if opts[:regression], do: [{"LOCKSTEP_REPLAY_MODE", "regression"}], else: []
    {:ok, output, status} = run_test(path, test_args, env, opts)
    schedule = load!(path)

    if status == 0 and opts[:regression] == true and
         output =~ "is gone (regression replay passes)" do
      Mix.shell().info("The bug recorded in #{path} is gone.")
      0
    else
      not_replayed(status, schedule)
    end
  end

  defp not_replayed(status, schedule) do
    if status == 0 do
      Mix.shell().error(
        "The test passed, so the schedule was not replayed: the ctest at " <>
          "#{schedule.test.file}:#{schedule.test.line} is not #{schedule.test.module} " <>
          "\"#{schedule.test.name}\" any more (renamed or moved?)."
      )

      1
    else
      status
    end
  end

  @doc false
  # Runs the test a schedule file names with `LOCKSTEP_REPLAY` set (plus `env`), printing its
  # output; returns the output and exit status. Shared with `mix lockstep.shrink`. Options:
  # `:verb` for the first line, `:iex_hint` for files recorded outside a test,
  # `:allow_outside_test_paths` to run a test file that is not under the project's test paths.
  @spec run_test(Path.t(), [String.t()], [{String.t(), String.t()}], keyword()) ::
          {:ok, String.t(), non_neg_integer()}
  def run_test(path, test_args, env, opts \\ []) do
    Mix.Task.run("compile")
    schedule = load!(path)
    {file, line} = location!(schedule, path, opts[:iex_hint])
    unless opts[:allow_outside_test_paths], do: inside_test_paths!(file, path)

    command = ["test", "#{file}:#{line}" | test_args]

    env = [{"LOCKSTEP_REPLAY", Path.expand(path)} | env]

    settings =
      Enum.map_join(env, " ", fn
        {"LOCKSTEP_REPLAY", _} -> "LOCKSTEP_REPLAY=#{path}"
        {k, v} -> "#{k}=#{v}"
      end)

    Mix.shell().info(
      "#{opts[:verb] || "Replaying"} #{path}: #{schedule.test.module} \"#{schedule.test.name}\" " <>
        "(#{settings} mix #{Enum.join(command, " ")})\n" <>
        "Running test file #{file}, line #{line}: #{schedule.test.module} \"#{schedule.test.name}\""
    )

    {output, status} =
      System.cmd(mix!(), command,
        env: [{"MIX_ENV", System.get_env("MIX_ENV", "test")} | env],
        stderr_to_stdout: true
      )

    IO.write(output)
    {:ok, output, status}
  end

  @doc false
  # The task's own arguments, and those after `--` (for `mix test`). Shared with
  # `mix lockstep.shrink`.
  @spec split_test_args([String.t()]) :: {[String.t()], [String.t()]}
  def split_test_args(args) do
    case Enum.split_while(args, &(&1 != "--")) do
      {ours, ["--" | rest]} -> {ours, rest}
      {ours, []} -> {ours, []}
    end
  end

  defp parse!(args) do
    {ours, test_args} = split_test_args(args)

    case OptionParser.parse(ours,
           strict: [allow_outside_test_paths: :boolean, regression: :boolean]
         ) do
      {opts, [path], []} ->
        {path, opts, test_args}

      {_, [], []} ->
        Mix.raise("expected the path of a schedule file; see `mix help lockstep.replay`")

      {_, paths, invalid} ->
        Mix.raise(
          "expected one schedule file, got #{inspect(paths ++ Enum.map(invalid, &elem(&1, 0)))}" <>
            "; arguments for `mix test` go after `--`"
        )
    end
  end

  defp load!(path) do
    case Lockstep.Schedule.load(path) do
      {:ok, schedule} -> schedule
      {:error, message} -> Mix.raise(message)
    end
  end

  defp location!(%{test: %{file: file, line: line}}, _path, _iex_hint)
       when is_binary(file) and is_integer(line) do
    unless File.regular?(file) do
      Mix.raise(
        "the schedule's test file #{file} does not exist here; run the task from the root of " <>
          "the project the schedule was saved in"
      )
    end

    {file, line}
  end

  defp location!(schedule, path, iex_hint) do
    Mix.raise("""
    #{path} was not recorded from a ctest (it names no test file), so there is no test to run.
    Replay it from iex with the function that was run:

        iex -S mix
        iex> #{iex_hint || "Lockstep.replay(fun, #{inspect(path)})"}

    Recorded with seed #{schedule.seed}, iteration #{schedule.iteration}, strategy #{inspect(schedule.strategy)}.
    `mix lockstep.dump_trace #{path}` prints the recorded run.
    """)
  end

  @allow_flag "--allow-outside-test-paths"

  # A schedule names the file `mix test` will load and run; refuse one outside the test paths.
  defp inside_test_paths!(file, schedule_path) do
    test_paths = Mix.Project.config()[:test_paths] || ["test"]

    case test_file_check(file, test_paths, File.cwd!()) do
      :ok ->
        :ok

      {:outside, resolved, dirs} ->
        where = if resolved == file, do: "", else: " (it resolves to #{resolved})"

        Mix.raise("""
        #{schedule_path} names the test file #{file}#{where}, which is outside the project's \
        test paths #{inspect(test_paths)} (#{Enum.join(dirs, ", ")}). A schedule file is data \
        and its test file is run only from the test paths. If you trust this schedule, pass \
        #{@allow_flag} to run it anyway.\
        """)
    end
  end

  @doc false
  # `:ok` when `file` (relative to `root`) lies inside one of `test_paths`, after `..` and
  # symbolic links are resolved in both; else `{:outside, resolved_file, resolved_test_paths}`.
  @spec test_file_check(Path.t(), [Path.t()], Path.t()) ::
          :ok | {:outside, Path.t(), [Path.t()]}
  def test_file_check(file, test_paths, root) do
    dirs = for dir <- test_paths, real = real_path(Path.absname(dir, root)), do: real

    case real_path(Path.absname(file, root)) do
      nil ->
        {:outside, Path.absname(file, root), dirs}

      target ->
        parts = Path.split(target)

        if Enum.any?(dirs, &(Enum.take(parts, length(Path.split(&1))) == Path.split(&1))),
          do: :ok,
          else: {:outside, target, dirs}
    end
  end

  # The path with every symbolic link, `.` and `..` resolved in the order the file system does
  # (a `..` after a link climbs from the link's target). Components that do not exist are kept;
  # nil for a loop of links.
  defp real_path(path) do
    [root | parts] = Path.split(path)
    walk(parts, root, 0)
  end

  defp walk([], acc, _links), do: acc
  defp walk(["." | rest], acc, links), do: walk(rest, acc, links)
  defp walk([".." | rest], acc, links), do: walk(rest, Path.dirname(acc), links)

  defp walk([part | rest], acc, links) do
    next = Path.join(acc, part)

    case File.read_link(next) do
      # A chain of links this long is a loop.
      {:ok, _target} when links >= 40 ->
        nil

      {:ok, target} ->
        case Path.type(target) do
          :absolute ->
            [root | parts] = Path.split(target)
            walk(parts ++ rest, root, links + 1)

          _ ->
            walk(Path.split(target) ++ rest, acc, links + 1)
        end

      {:error, _not_a_link} ->
        walk(rest, next, links)
    end
  end

  defp mix! do
    System.find_executable("mix") ||
      Mix.raise("cannot find the `mix` executable on PATH to run the test")
  end
end

defmodule Mix.Tasks.Lockstep.Shrink do
  @shortdoc "Shrinks a saved failing schedule and saves the smaller one"

  @moduledoc """
  Shrinks a schedule file saved by a failing `ctest`: replays it strictly and, when the failure
  fires again, searches for a schedule with fewer steps and fewer preemptions that fails the
  same way, then saves that one as a new schedule file.

      mix lockstep.shrink _build/test/lockstep/CounterTest-two_increments-seed7-iter3-81234-5.json
      mix lockstep.shrink PATH --time 30000

  Hunts already shrink what they find (see `Lockstep.Runner`'s `:shrink` option), within
  `:shrink_time`. This task is for schedules saved with `shrink: false`, or whose shrinking ran
  out of time: give it a larger budget with `--time`.

  Like `mix lockstep.replay`, it runs `mix test FILE:LINE` for the schedule's test, with
  `LOCKSTEP_REPLAY=PATH` and `LOCKSTEP_SHRINK=MS` in the environment; the test's report shows
  the sizes before and after and names the new file (`Schedule: ...`, saved in the original's
  directory), whose `shrunk_from` field records the schedule it came from. The original file is left as it was. Arguments
  after `--` go to `mix test`.

  ## Options

    * `--time MS` - wall-clock budget for the search, in milliseconds (default 10000)
    * `--allow-outside-test-paths` - run the schedule's test file even when it lies outside the
      project's test paths (see `mix help lockstep.replay`; only for schedules you trust)

  ## Exit status

  0 when the failure was reproduced (shrunk or already minimal), 1 when the file is missing,
  unreadable, not a schedule or names no test, when its test file lies outside the test paths
  (without `--allow-outside-test-paths`), or when the replay did not reproduce the
  failure (the test's output says where the program diverged).
  """

  use Mix.Task

  @default_time 10_000

  @impl Mix.Task
  def run(args) do
    case main(args) do
      0 -> :ok
      code -> exit({:shutdown, code})
    end
  end

  @doc """
  Does the work of the task and returns its exit status instead of exiting. Raises `Mix.Error`
  for bad arguments and for files that cannot be replayed.
  """
  @spec main([String.t()]) :: non_neg_integer()
  def main(args) do
    {path, time, allow_outside?, test_args} = parse!(args)

    # The smaller schedule is saved beside the original.
    env = [{"LOCKSTEP_SHRINK", "#{time}"}, {"LOCKSTEP_SCHEDULE_DIR", Path.dirname(path)}]

    Mix.Tasks.Lockstep.Replay.run_test(path, test_args, env,
      verb: "Shrinking",
      allow_outside_test_paths: allow_outside?,
      iex_hint: "Lockstep.replay(fun, #{inspect(path)}, shrink: true, shrink_time: #{time})"
    )
    |> case do
      {:ok, output, status} -> verdict(output, status)
    end
  end

  # The replayed test always fails when the bug fires again; what matters is which way.
  defp verdict(output, status) do
    cond do
      status == 0 ->
        Mix.shell().error("The test passed: the schedule was not replayed.")
        1

      output =~ "Lockstep.ReplayDivergence" ->
        Mix.shell().error("The failure did not fire again under the schedule; nothing to shrink.")
        1

      output =~ "Lockstep replayed" ->
        Mix.shell().info(
          if output =~ "Shrunk from",
            do: "Shrinking done; the new schedule is named above (Schedule: ...).",
            else: "The failure fired again; the schedule could not be made smaller."
        )

        0

      true ->
        Mix.shell().error("The test failed without replaying the schedule; see its output above.")
        1
    end
  end

  defp parse!(args) do
    {ours, test_args} = Mix.Tasks.Lockstep.Replay.split_test_args(args)

    case OptionParser.parse(ours, strict: [time: :integer, allow_outside_test_paths: :boolean]) do
      {opts, [path], []} ->
        time = Keyword.get(opts, :time, @default_time)

        if time <= 0 do
          Mix.raise("--time must be a positive number of milliseconds, got: #{time}")
        end

        {path, time, Keyword.get(opts, :allow_outside_test_paths, false), test_args}

      {_, [], []} ->
        Mix.raise("expected the path of a schedule file; see `mix help lockstep.shrink`")

      {_, paths, invalid} ->
        Mix.raise(
          "expected one schedule file and --time MS, got #{inspect(paths ++ Enum.map(invalid, &elem(&1, 0)))}" <>
            "; arguments for `mix test` go after `--`"
        )
    end
  end
end

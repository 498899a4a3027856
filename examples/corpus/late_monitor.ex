defmodule Lockstep.Corpus.LateMonitor do
  @moduledoc """
  A job runner that spawns a job and only then monitors it, relying on the `:DOWN` message to
  carry the job's result.

  A job ends with `exit({:shutdown, {:ok, result}})`, an orderly exit whose reason reaches
  whoever monitors it. `run_job/2` spawns the job and monitors it in a second step. If the
  job already finished in between, the monitor is set up on a dead process and the `:DOWN`
  message says `:noproc`: the result is gone, and the runner reports the job as failed. The
  fix is to spawn and monitor atomically (`spawn_monitor`).

  Failing schedule: the runner spawns the job; the job starts, logs and exits before the
  runner's `monitor` step; `monitor` then delivers `{:DOWN, ref, :process, pid, :noproc}`.
  Any schedule where the runner monitors before the job's exit passes.
  """

  @doc "A logger the jobs report to."
  def logger(lines) do
    case Lockstep.recv() do
      {:log, line} -> logger([line | lines])
      {:lines, from} -> Lockstep.send(from, {:lines, Enum.reverse(lines)})
    end
  end

  @doc "Runs `fun` in a job process and returns its result, or raises if the job failed."
  def run_job(logger, fun) do
    job =
      Lockstep.spawn(fn ->
        Lockstep.send(logger, {:log, "job started"})
        exit({:shutdown, {:ok, fun.()}})
      end)

    ref = Lockstep.monitor(job)

    case Lockstep.recv_first(&match?({:DOWN, ^ref, :process, _, _}, &1)) do
      {:DOWN, ^ref, :process, _, {:shutdown, {:ok, result}}} -> result
      {:DOWN, ^ref, :process, _, reason} -> raise "job failed: #{inspect(reason)}"
    end
  end

  @doc "Runs one job and checks its result."
  def run do
    logger = Lockstep.spawn(fn -> logger([]) end)
    42 = run_job(logger, fn -> 6 * 7 end)
  end
end

# Iterations per second of a hunt with 1, 2 and 4 workers (`workers:`), and on 2 local peer
# nodes (`nodes: 2`, one worker each), side by side in one run. A nodes cell includes starting
# and stopping its peers (what a user of `nodes:` waits for).
#
# The programs are the corpus programs whose bug is a failed assertion in the test body
# (Lockstep.Corpus entries of category :exception), each run with its body's exceptions
# rescued, so that every iteration runs to its end and the hunt never stops at the bug: what is
# timed is the hunt's machinery (one engine run per iteration, the coordinator handing out and
# accepting iterations), not the failure report. Each cell is one hunt of --iterations
# iterations with seed 1 (the same schedules for every worker count); the worker counts of a
# program run one after the other, never at once.
#
# Run with: scripts/bench workers [--iterations N] [--workers 1,2,4] [--nodes 2 (0: none)]

defmodule Bench.Workers do
  # This script's module exists in memory only: keep its object code for the peer nodes.
  @after_compile Lockstep.Peers
  alias Lockstep.{Corpus, Runner}

  def main(argv) do
    {opts, _, _} =
      OptionParser.parse(argv, strict: [iterations: :integer, workers: :string, nodes: :integer])

    n = opts[:iterations] || 2_000
    counts = (opts[:workers] || "1,2,4") |> String.split(",") |> Enum.map(&String.to_integer/1)
    counts = counts ++ if(opts[:nodes] == 0, do: [], else: [{:nodes, opts[:nodes] || 2}])
    entries = Enum.filter(Corpus.all(), &(&1.category == :exception))

    # Warm-up: load the code paths before the first timed cell.
    hunt(hd(entries), 200, 1)

    IO.puts(
      "Lockstep workers benchmark (#{System.schedulers_online()} schedulers, " <>
        "OTP #{System.otp_release()}, Elixir #{System.version()}): #{n} iterations per cell, " <>
        "seed 1, load average before #{loadavg()}\n"
    )

    IO.puts(
      "| program | steps/iteration | " <>
        Enum.map_join(counts, " | ", &"#{label(&1)} (it/s)") <>
        " | speed-up at #{label(List.last(counts))} |"
    )

    IO.puts("|---|---:|" <> String.duplicate("---:|", length(counts) + 1))

    rows =
      for entry <- entries do
        rates = for w <- counts, do: hunt(entry, n, w)

        IO.puts(
          "| #{entry.name} | #{steps(entry)} | " <>
            Enum.map_join(rates, " | ", &Integer.to_string(round(&1))) <>
            " | #{Float.round(List.last(rates) / hd(rates), 2)}x |"
        )

        rates
      end

    totals = rows |> Enum.zip() |> Enum.map(fn col -> col |> Tuple.to_list() |> Enum.sum() end)

    IO.puts(
      "\nSpeed-up of the summed rates: " <>
        Enum.map_join(Enum.zip(counts, totals), ", ", fn {w, t} ->
          "#{label(w)}: #{Float.round(t / hd(totals), 2)}x"
        end)
    )

    IO.puts("Load average after: #{loadavg()}")
  end

  defp label({:nodes, k}), do: "#{k} peer nodes"
  defp label(w), do: "#{w} worker#{if w > 1, do: "s"}"

  defp loadavg do
    case File.read("/proc/loadavg") do
      {:ok, text} -> text |> String.split() |> Enum.take(3) |> Enum.join(" ")
      _ -> "unknown"
    end
  end

  defp body(entry) do
    fn ->
      try do
        entry.module.run()
      rescue
        _ -> :ok
      end
    end
  end

  defp options(entry, n, {:nodes, k}), do: options(entry, n, 1) ++ [nodes: k]

  defp options(entry, n, workers) do
    entry.opts ++
      [
        iterations: n,
        seed: 1,
        workers: workers,
        shrink: false,
        max_run_time: :infinity,
        allow_crashes: true,
        step_limit: :stop,
        progress: false
      ]
  end

  # Iterations per second of one hunt.
  defp hunt(entry, n, workers) do
    started = System.monotonic_time(:microsecond)
    :ok = Runner.run(body(entry), options(entry, n, workers))
    n * 1_000_000 / (System.monotonic_time(:microsecond) - started)
  end

  # The length of the program's first iteration, to say how much work each iteration is.
  defp steps(entry) do
    cfg = Runner.config!(options(entry, 1, 1), "bench")
    elem(Runner.run_once(body(entry), cfg, 0), 1)
  end
end

Bench.Workers.main(System.argv())

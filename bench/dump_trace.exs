# How `mix lockstep.dump_trace` scales with the number of processes of a schedule: one
# synthetic schedule per size (every process starts once, every third is registered), written
# to a temporary file, then read and printed as text the way the task does. The time per
# process stays flat when the dump is linear.
#
# Run with: scripts/bench dump_trace [SIZE...]   (default sizes: 10000 100000 1000000)

alias Lockstep.Schedule
alias Mix.Tasks.Lockstep.DumpTrace

sizes =
  case System.argv() do
    [] -> [10_000, 100_000, 1_000_000]
    args -> Enum.map(args, &String.to_integer/1)
  end

dir = Path.join(System.tmp_dir!(), "lockstep-bench-dump-#{System.pid()}")
File.mkdir_p!(dir)

synthetic = fn n ->
  %Schedule{
    created_by: "lockstep bench",
    strategy: :random,
    settings: %{%Schedule{}.settings | max_steps: n},
    steps: n,
    category: :deadlock,
    detail: "synthetic",
    choices: Enum.to_list(0..(n - 1)),
    processes: for(i <- 0..(n - 1), do: %{id: i, name: if(rem(i, 3) == 0, do: ":p#{i}")}),
    trace:
      for(i <- 0..(n - 1), do: %{step: i + 1, time: 0, proc: i, kind: "start", text: "starts"})
  }
end

IO.puts("| processes | file | read + text | per process |")
IO.puts("|---:|---:|---:|---:|")

for n <- sizes do
  path = Path.join(dir, "s#{n}.json")
  :ok = Schedule.write(synthetic.(n), path)

  {us, text} =
    :timer.tc(fn ->
      {:ok, schedule} = Schedule.load(path)
      DumpTrace.text(schedule)
    end)

  byte_size(text) > 0 || raise "empty dump"

  IO.puts(
    "| #{n} | #{div(File.stat!(path).size, 1_000_000)} MB | #{Float.round(us / 1_000_000, 2)} s | " <>
      "#{Float.round(us / n, 2)} µs |"
  )

  File.rm!(path)
end

File.rm_rf!(dir)

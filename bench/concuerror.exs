# Exhaustive exploration, Lockstep against Concuerror, on the same programs (side by side in
# one run, alternating): bench/concuerror/cq_bench.erl in Erlang, the same in Elixir below.
#
#   scripts/bench concuerror             Lockstep only
#   CONCUERROR=DIR scripts/bench concuerror
#
# DIR holds a built Concuerror: DIR/ebin with its modules and getopt's (see bench/README.md).
# Concuerror's time is its whole run less that of a one-schedule run (start-up and module
# instrumentation), reported as "net".

alias Lockstep.{ETS, Runner}

readers = fn n ->
  fn ->
    me = self()
    tab = ETS.new(:tab, [:public])

    Lockstep.spawn(fn ->
      ETS.insert(tab, {:x, 42})
      Lockstep.send(me, {:done, 0})
    end)

    for i <- 1..n do
      Lockstep.spawn(fn ->
        ETS.lookup(tab, i)
        ETS.lookup(tab, :x)
        Lockstep.send(me, {:done, i})
      end)
    end

    for i <- 0..n, do: Lockstep.recv_first(&match?({:done, ^i}, &1))
    :ok
  end
end

senders = fn n ->
  fn ->
    me = self()
    for k <- 1..n, do: Lockstep.spawn(fn -> Lockstep.send(me, k) end)
    for _ <- 1..n, do: Lockstep.recv()
    :ok
  end
end

tagged = fn n ->
  fn ->
    me = self()
    for k <- 1..n, do: Lockstep.spawn(fn -> Lockstep.send(me, {:from, k}) end)
    for k <- 1..n, do: Lockstep.recv_first(&match?({:from, ^k}, &1))
    :ok
  end
end

programs = [
  tagged6: tagged.(6),
  readers10: readers.(10),
  readers12: readers.(12),
  senders6: senders.(6),
  senders7: senders.(7)
]

lockstep = fn fun ->
  t0 = System.monotonic_time(:microsecond)
  {:ok, s} = Runner.explore(fun, seed: 1, max_run_time: :infinity)
  {s.schedules, (System.monotonic_time(:microsecond) - t0) / 1000}
end

dir = System.get_env("CONCUERROR")
src = Path.expand("concuerror", __DIR__)

concuerror =
  if dir do
    out = Path.join(System.tmp_dir!(), "lockstep_cq_bench")
    File.mkdir_p!(out)
    {_, 0} = System.cmd("erlc", ["-o", out, Path.join(src, "cq_bench.erl")])

    fn test ->
      eval = """
      T0 = erlang:monotonic_time(microsecond),
      R = concuerror:run([{module, cq_bench}, {test, #{test}}, {interleaving_bound, infinity},
        {keep_going, true}, {output, "#{out}/#{test}.txt"}, {print_depth, 1}]),
      Us = erlang:monotonic_time(microsecond) - T0,
      io:format("~nRESULT ~p ~p~n", [R, Us]), halt().
      """

      {text, _} =
        System.cmd("erl", ["-noshell", "-pa", Path.join(dir, "ebin"), "-pa", out, "-eval", eval],
          stderr_to_stdout: true
        )

      [_, explored] = Regex.run(~r/(\d+)\/\d+ interleavings explored/, text)
      [_, "ok", us] = Regex.run(~r/RESULT (\w+) (\d+)/, text)
      {String.to_integer(explored), String.to_integer(us) / 1000}
    end
  end

IO.puts(
  "| program | classes (Lockstep / Concuerror) | Lockstep | Concuerror (whole run) | " <>
    "Concuerror (net) | Lockstep's rate / Concuerror's |"
)

IO.puts("|---|---:|---:|---:|---:|---:|")
fmt = fn n, ms -> "#{round(ms)} ms (#{round(n * 1000 / max(ms, 0.001))}/s)" end
base = if concuerror, do: elem(concuerror.(:tagged6), 1)

for {name, fun} <- programs do
  {n, ms} = lockstep.(fun)

  case concuerror do
    nil ->
      IO.puts("| #{name} | #{n} | #{fmt.(n, ms)} | | | |")

    cq when name == :tagged6 ->
      {m, cq_ms} = cq.(name)

      IO.puts(
        "| #{name} | #{n} / #{m} | #{fmt.(n, ms)} | #{round(cq_ms)} ms | (the baseline) | |"
      )

    cq ->
      {m, cq_ms} = cq.(name)
      net = max(cq_ms - base, 0.001)
      ratio = n / max(ms, 0.001) / (m / net)

      IO.puts(
        "| #{name} | #{n} / #{m} | #{fmt.(n, ms)} | #{round(cq_ms)} ms | #{fmt.(m, net)} | " <>
          "#{Float.round(ratio, 1)}x |"
      )
  end
end

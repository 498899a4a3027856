# Soak and fuzz harness (not part of the test suite): `scripts/soak [fuzz N] [soak N] [fail N]`.
#
#   fuzz N   N random NIF calls with random arguments (every function of Lockstep.Native, on
#            live and finished runs, shrinkers and checkers): the VM must stay up, no call may
#            answer :nif_panicked, every call returns or raises ArgumentError/ErlangError.
#   soak N   N iterations of a racy body (GenServer, Agent, ETS, atomics, persistent terms,
#            Registry, names, timers, monitors, links): processes, ETS tables, persistent terms
#            and memory are sampled every N/10 iterations and must stay flat.
#   fail N   N hunts that each fail (an exception after a race, with shrinking): the failure
#            path, its files (bounded by keep_failures) and memory must stay flat.
#
# Exits non-zero when a check fails.

defmodule Soak do
  alias Lockstep.Native

  def main(args) do
    plan = parse(args)
    results = Enum.map(plan, fn {mode, n} -> {mode, n, run(mode, n)} end)
    failed = Enum.filter(results, fn {_, _, r} -> r != :ok end)

    for {mode, n, r} <- results do
      IO.puts("#{mode} #{n}: #{if r == :ok, do: "ok", else: "FAILED: #{inspect(r)}"}")
    end

    if failed != [], do: System.halt(1)
  end

  defp parse([]), do: [{"fuzz", 300_000}, {"soak", 100_000}, {"fail", 10_000}]
  defp parse([mode, n | rest]), do: [{mode, String.to_integer(n)} | parse_rest(rest)]
  defp parse([mode]), do: [{mode, 10_000}]
  defp parse_rest([]), do: []
  defp parse_rest(rest), do: parse(rest)

  # ----- fuzz ---------------------------------------------------------------------------

  defp run("fuzz", n) do
    :rand.seed(:exsss, {1, 2, 3})
    t0 = now()
    counts = Enum.reduce(1..n, %{}, fn _, acc -> Map.update(acc, fuzz_one(), 1, &(&1 + 1)) end)
    panics = Map.get(counts, :panicked, 0)

    IO.puts(
      "fuzz: #{n} calls in #{now() - t0} ms: #{inspect(counts)}; " <>
        "memory #{mb(:erlang.memory(:total))} MB, #{length(Process.list())} processes"
    )

    if panics == 0, do: :ok, else: {:nif_panicked, panics}
  end

  defp run("soak", n), do: soak(n, &racy_hunt/1, "soak")
  defp run("fail", n), do: soak(n, &failing_hunt/1, "fail")

  defp fuzz_one do
    {fun, args} = call()

    try do
      case apply(Native, fun, args) do
        {:error, :nif_panicked} -> :panicked
        _ -> :returned
      end
    rescue
      ArgumentError -> :argument_error
      ErlangError -> :erlang_error
    catch
      :exit, _ -> :exit
    end
  end

  @functions [
    seed_iteration: 2,
    run_new: 4,
    run_bind: 3,
    run_start: 1,
    run_op: 3,
    run_submit_for: 3,
    run_start_for: 1,
    run_consume: 3,
    run_consume_scanned: 4,
    run_note_rejected: 3,
    run_status: 1,
    run_outcome: 1,
    run_result: 1,
    run_trace: 2,
    run_choices: 1,
    run_procs: 1,
    run_unreaped: 2,
    run_abort: 2,
    run_statuses: 1,
    run_fingerprint: 1,
    run_reads_from: 1,
    run_preemptions: 1,
    run_slice: 2,
    schedule_encode: 1,
    schedule_decode: 1,
    schedule_trace_json: 1,
    shrink_new: 2,
    shrink_next: 1,
    shrink_feedback: 4,
    shrink_info: 1,
    checker_parse: 2,
    checker_linearizable: 2,
    checker_sequential: 2,
    checker_causal: 3
  ]

  defp call do
    {fun, arity} = Enum.random(@functions)
    {fun, Enum.map(1..arity, fn k -> arg(fun, k) end)}
  end

  # The first argument of run_* is a run half the time, of shrink_* a shrinker.
  defp arg(fun, 1) do
    name = Atom.to_string(fun)

    cond do
      String.starts_with?(name, "run_") and fun != :run_new and :rand.uniform(2) == 1 ->
        a_run()

      String.starts_with?(name, "shrink_") and fun != :shrink_new and :rand.uniform(2) == 1 ->
        elem(
          Native.shrink_new(Enum.map(1..:rand.uniform(20), fn _ -> :rand.uniform(3) - 1 end), []),
          1
        )

      true ->
        term(3)
    end
  end

  defp arg(:run_op, 3), do: Enum.random([term(3), op()])
  defp arg(_fun, _k), do: term(3)

  defp a_run do
    opts = Enum.random([%{}, %{strategy: :pct}, %{max_steps: 5}, %{strategy: :random, seed: 7}])
    run = Native.run_new(opts, make_ref(), self(), node())

    case :rand.uniform(3) do
      1 ->
        run

      _ ->
        root = spawn(fn -> Process.sleep(200) end)
        Native.run_bind(run, 0, root)
        Native.run_start(run)
        run
    end
  end

  defp op do
    Enum.random([
      :now,
      {:spawn},
      :spawn,
      {:send, self(), term(2)},
      {:recv, :rand.uniform(5) - 2},
      {:sleep, term(1)},
      {:sync, term(1), :rand.uniform(2) == 1, term(2)},
      {:monitor, self(), make_ref()},
      {:register, term(1), self()},
      {:exit, self(), term(1)}
    ])
  end

  defp term(0), do: leaf()

  defp term(d) do
    case :rand.uniform(9) do
      1 -> Enum.map(1..:rand.uniform(4), fn _ -> term(d - 1) end)
      2 -> List.to_tuple(Enum.map(1..:rand.uniform(4), fn _ -> term(d - 1) end))
      3 -> Map.new(1..:rand.uniform(3), fn _ -> {leaf(), term(d - 1)} end)
      4 -> [term(d - 1) | leaf()]
      5 -> Enum.reduce(1..(:rand.uniform(3) * 100), leaf(), fn _, a -> [a] end)
      _ -> leaf()
    end
  end

  defp leaf do
    Enum.random([
      nil,
      true,
      :bogus,
      -1,
      0,
      1,
      2 ** 64,
      -(2 ** 70),
      1.5,
      "text",
      <<0, 255, 0>>,
      :binary.copy(<<0>>, 5000),
      make_ref(),
      self(),
      fn -> :ok end,
      [],
      {},
      %{},
      ~s({"version":1}),
      "{:process 0, :type :invoke, :f :read, :value nil}"
    ])
  end

  # ----- soak ---------------------------------------------------------------------------

  defp soak(n, hunt, name) do
    samples = 10
    per = max(div(n, samples), 1)
    hunt.(per)
    :erlang.garbage_collect()
    base = sample()
    IO.puts("#{name}: start #{inspect(base)}")
    t0 = now()

    points =
      for k <- 1..samples do
        hunt.(per)
        Enum.each(Process.list(), &:erlang.garbage_collect/1)
        s = sample()
        IO.puts("#{name}: #{k * per} iterations, #{div(now() - t0, 1000)} s: #{inspect(s)}")
        s
      end

    last = List.last(points)

    cond do
      last.processes > base.processes + 5 -> {:processes_grew, base, last}
      last.ets > base.ets + 5 -> {:ets_grew, base, last}
      last.persistent_terms > base.persistent_terms + 5 -> {:persistent_terms_grew, base, last}
      last.memory_mb > base.memory_mb * 1.5 + 20 -> {:memory_grew, base, last}
      true -> :ok
    end
  end

  defp sample do
    %{
      processes: length(Process.list()),
      ets: length(:ets.all()),
      persistent_terms: :persistent_term.info()[:count],
      memory_mb: mb(:erlang.memory(:total))
    }
  end

  defmodule Store do
    use GenServer
    def init(n), do: {:ok, n}
    def handle_call(:get, _from, n), do: {:reply, n, n}
    def handle_cast({:put, v}, _n), do: {:noreply, v}
  end

  defp racy_hunt(n) do
    Lockstep.Runner.run(
      fn ->
        {:ok, s} = Lockstep.GenServer.start_link(Store, 0)
        t = Lockstep.ETS.new(:soak_table, [:named_table, :public])
        a = Lockstep.Atomics.new(1, [])
        Lockstep.PersistentTerm.put(:soak_key, 1)
        me = self()

        for i <- 1..3 do
          Lockstep.spawn(fn ->
            Lockstep.ETS.insert(t, {i, i})
            Lockstep.Atomics.add(a, 1, 1)
            Lockstep.GenServer.cast(s, {:put, i})
            Lockstep.send(me, {:done, i})
          end)
        end

        ref = Lockstep.monitor(Lockstep.spawn(fn -> Lockstep.sleep(5) end))

        for _ <- 1..3,
            do:
              Lockstep.recv_first(fn
                {:done, _} -> true
                _ -> false
              end)

        Lockstep.recv_first(fn
          {:DOWN, ^ref, _, _, _} -> true
          _ -> false
        end)

        _ = Lockstep.GenServer.call(s, :get)
        3 = Lockstep.Atomics.get(a, 1)
      end,
      iterations: n,
      max_run_time: :infinity,
      seed: 11
    )
  end

  defp failing_hunt(n) do
    dir = Path.join(System.tmp_dir!(), "lockstep_soak_failures")

    for i <- 1..n do
      try do
        Lockstep.Runner.run(
          fn ->
            a = Lockstep.Atomics.new(1, [])

            for _ <- 1..2,
                do:
                  Lockstep.spawn(fn ->
                    Lockstep.Atomics.put(a, 1, Lockstep.Atomics.get(a, 1) + 1)
                  end)

            Lockstep.sleep(10)
            if Lockstep.Atomics.get(a, 1) != 2, do: raise("lost update")
          end,
          seed: i,
          trace_dir: dir,
          keep_failures: 20
        )
      rescue
        Lockstep.BugFound -> :ok
      end
    end

    kept = length(File.ls!(dir))
    if kept > 40, do: raise("#{kept} files kept in #{dir}, more than keep_failures allows")
  end

  defp now, do: System.monotonic_time(:millisecond)
  defp mb(bytes), do: div(bytes, 1024 * 1024)
end

Soak.main(System.argv())

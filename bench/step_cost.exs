# Where one iteration of a small race test spends its time (issue 15, "the cost of one step"),
# each piece timed on its own in one run, so that figures can be compared side by side:
#
#   1. a whole iteration of a two-process race through `Lockstep.Runner.run/2` (passing runs,
#      no failure reporting), and the corpus program `lost_update` run the same way with the
#      bug's assertion left out (so every iteration runs to its end)
#   2. the runner's fixed per-iteration engine calls with no process: `Native.run_new` +
#      `run_release`, and the calls `outcome`/`cleanup` make on a passing run
#      (`run_result`, `run_unreaped`)
#   3. the VM's own fixed costs: spawning a process that returns at once, one plain message
#   4. NIF calls per iteration of the race, counted with :erlang.trace call counts
#
# Run with: scripts/bench step_cost   (or: MIX_ENV=bench mix run bench/step_cost.exs)
defmodule Bench.StepCost do
  alias Lockstep.Native

  @opts %{strategy: :pos, seed: 1, max_steps: 10_000, expected_steps: 50, iteration: 1}

  def race do
    me = self()
    a = Lockstep.spawn(fn -> Lockstep.send(me, {:a, Lockstep.recv()}) end)
    Lockstep.spawn(fn -> Lockstep.send(a, :hello) end)
    {:a, :hello} = Lockstep.recv()
  end

  # `lost_update`'s shape (a state process, two clients doing get-then-set) without its
  # assertion, so that every iteration passes and runs to the end.
  def lost_update do
    counter = Lockstep.spawn(fn -> counter_loop(0) end)
    me = self()

    for _ <- 1..2 do
      Lockstep.spawn(fn ->
        Lockstep.send(counter, {:get, self()})
        {:value, v} = Lockstep.recv()
        Lockstep.send(counter, {:set, v + 1})
        Lockstep.send(me, :done)
      end)
    end

    for _ <- 1..2, do: :done = Lockstep.recv()
    Lockstep.send(counter, :stop)
  end

  defp counter_loop(n) do
    case Lockstep.recv() do
      {:get, from} ->
        Lockstep.send(from, {:value, n})
        counter_loop(n)

      {:set, v} ->
        counter_loop(v)

      :stop ->
        :ok
    end
  end

  def best(k, fun), do: Enum.min(for _ <- 1..k, do: fun.())

  # Bodies of 400 steps each (200 sends and 200 receives), for the cost of one step: of one
  # process sending itself an atom, or a tuple, and of two processes passing an atom back and
  # forth (every step then a hand-off to the other). The one-process bodies spawn a child that
  # ends at once, so that the hunt sees more than one schedule (and says nothing about it).
  def self_atoms do
    Lockstep.spawn(fn -> :ok end)
    for _ <- 1..200, do: :x = send_recv(:x)
  end

  def self_tuples do
    Lockstep.spawn(fn -> :ok end)
    for i <- 1..200, do: {:x, ^i} = send_recv({:x, i})
  end

  def ping_pong_steps do
    me = self()
    c = Lockstep.spawn(fn -> for _ <- 1..100, do: Lockstep.send(me, Lockstep.recv()) end)

    for _ <- 1..100 do
      Lockstep.send(c, :ping)
      :ping = Lockstep.recv()
    end
  end

  defp send_recv(msg) do
    Lockstep.send(self(), msg)
    Lockstep.recv()
  end

  # Nanoseconds per step of `body` (400 steps besides the run's own spawns, starts and exits),
  # median of 5 hunts of n iterations with the random strategy.
  def per_step(body, n) do
    opts = [iterations: n, seed: 1, strategy: :random, max_steps: 10_000]
    Lockstep.Runner.run(body, Keyword.put(opts, :iterations, 50))

    for(_ <- 1..5, do: elem(:timer.tc(fn -> :ok = Lockstep.Runner.run(body, opts) end), 0))
    |> Enum.sort()
    |> Enum.at(2)
    |> Kernel.*(1000 / (n * 400))
  end

  # Nanoseconds per call of `fun`, best of 3 batches of n.
  def per_call(n, fun) do
    best(3, fn ->
      {us, _} = :timer.tc(fn -> loop(n, fun) end)
      us * 1000 / n
    end)
  end

  defp loop(0, _fun), do: :ok

  defp loop(n, fun) do
    fun.()
    loop(n - 1, fun)
  end

  # The fastest of 3 hunts of n iterations, in iterations/s.
  def iterations_per_s(body, n) do
    us =
      best(3, fn ->
        {us, :ok} = :timer.tc(fn -> Lockstep.Runner.run(body, iterations: n, seed: 1) end)
        us
      end)

    n / (us / 1.0e6)
  end

  def nif_calls(body, n) do
    :erlang.trace_pattern({Native, :_, :_}, true, [:call_count])
    :erlang.trace(:all, true, [:call])
    :ok = Lockstep.Runner.run(body, iterations: n, seed: 1)
    :erlang.trace(:all, false, [:call])

    counts =
      for {f, a} <- Native.module_info(:functions),
          {:call_count, c} = :erlang.trace_info({Native, f, a}, :call_count),
          is_integer(c) and c > 0,
          do: {f, c / n}

    :erlang.trace_pattern({Native, :_, :_}, false, [:call_count])
    Enum.sort_by(counts, &(-elem(&1, 1)))
  end

  def ping_pong(rounds) do
    pong = spawn(fn -> pong() end)

    {us, _} =
      :timer.tc(fn ->
        for _ <- 1..rounds do
          send(pong, {:ping, self()})
          receive(do: (:pong -> :ok))
        end
      end)

    send(pong, :stop)
    us * 1000 / (2 * rounds)
  end

  defp pong do
    receive do
      {:ping, from} ->
        send(from, :pong)
        pong()

      :stop ->
        :ok
    end
  end

  def run do
    iters = 5_000
    # Warm up.
    Lockstep.Runner.run(&race/0, iterations: 500, seed: 1)
    Lockstep.Runner.run(&lost_update/0, iterations: 500, seed: 1)

    race_rate = iterations_per_s(&race/0, iters)
    lu_rate = iterations_per_s(&lost_update/0, iters)

    new_release =
      per_call(20_000, fn ->
        Native.run_release(Native.run_new(@opts, make_ref(), self(), node()))
      end)

    run = Native.run_new(@opts, make_ref(), self(), node())

    passing =
      per_call(20_000, fn ->
        Native.run_result(run)
        Native.run_unreaped(run, false)
      end)

    Native.run_release(run)
    atom_step = per_step(&self_atoms/0, 500)
    tuple_step = per_step(&self_tuples/0, 500)
    pp_step = per_step(&ping_pong_steps/0, 500)
    spawn_ns = per_call(20_000, fn -> spawn(fn -> :ok end) end)
    msg_ns = best(3, fn -> ping_pong(100_000) end)
    calls = nif_calls(&race/0, 1_000)
    per_iter = Enum.reduce(calls, 0, fn {_, c}, acc -> acc + c end)
    load1 = load_avg()

    IO.puts("""
    Lockstep step-cost benchmark (#{System.schedulers_online()} schedulers, OTP #{System.otp_release()}, load average #{load1})

    whole iterations through Lockstep.Runner.run/2 (default strategy, seed 1, best of 3 x #{iters})
      two-process race       #{fmt(race_rate)} iterations/s  (#{round(1.0e9 / race_rate)} ns each)
      lost_update (passing)  #{fmt(lu_rate)} iterations/s  (#{round(1.0e9 / lu_rate)} ns each)

    one step (random strategy, median of 5 hunts of 500 iterations of 400 steps)
      a process sends itself an atom, then receives it  #{round(atom_step)} ns per step
      the same with a tuple {:x, i}                     #{round(tuple_step)} ns per step
      two processes pass an atom back and forth         #{round(pp_step)} ns per step (each a hand-off)

    fixed per-iteration pieces
      Native.run_new + run_release            #{round(new_release)} ns
      a passing run's outcome/cleanup calls   #{round(passing)} ns (run_result, run_unreaped)
      spawn of a process that returns at once #{round(spawn_ns)} ns (the race spawns 3 per iteration)
      one plain message (ping-pong)           #{round(msg_ns)} ns

    NIF calls per iteration of the race: #{Float.round(per_iter, 1)}
    #{Enum.map_join(calls, "\n", fn {f, c} -> "  #{f}: #{Float.round(c, 2)}" end)}
    """)
  end

  defp load_avg do
    case File.read("/proc/loadavg") do
      {:ok, text} -> text |> String.split() |> hd()
      _ -> "?"
    end
  end

  defp fmt(x),
    do: x |> round() |> Integer.to_string() |> String.replace(~r/\B(?=(\d{3})+(?!\d))/, ",")
end

Bench.StepCost.run()

# Lockstep's sync-point cost, measured side by side in one run:
#
#   1. the NIF controller: 4 managed processes x N sync points, random strategy (most steps
#      hand control to another process)
#   2. the classic design: the same workload and the same scheduling rule (wait until every
#      live process is at a sync point, pick one at random) in a GenServer, one GenServer.call
#      per sync point
#   3. the floor: two plain processes playing ping-pong
#   4. iterations per second of a small two-process race test through Lockstep.Runner
#
# Run with: scripts/bench   (or: MIX_ENV=bench mix run bench/sync_points.exs)

defmodule Bench.GenServerController do
  # The classic design: every sync point is a GenServer.call to a controller process, which
  # runs the same engine (through `Lockstep.Native.run_submit_for/3`) and answers the process
  # the engine resumes with GenServer.reply. Same scheduling logic, same schedule for a seed;
  # only the transport differs.
  use GenServer
  alias Lockstep.Native

  def start(run), do: GenServer.start(__MODULE__, run)

  @impl true
  def init(run), do: {:ok, %{run: run, froms: %{}, ready: %{}, owner: nil}}

  @impl true
  def handle_call(:start, from, st) do
    deliver(Native.run_start_for(st.run), %{st | owner: from})
  end

  # A process waits for its first step (or any step) to be scheduled.
  def handle_call({:wait, id}, from, st) do
    case Map.pop(st.ready, id) do
      {nil, _} -> {:noreply, %{st | froms: Map.put(st.froms, id, from)}}
      {reply, ready} -> {:reply, reply, %{st | ready: ready}}
    end
  end

  def handle_call({:op, id, {:exit, _} = op}, _from, st) do
    # An exiting process does not wait for its exit step.
    {:noreply, st} = deliver(Native.run_submit_for(st.run, id, op), st)
    {:reply, :ok, st}
  end

  def handle_call({:op, id, op}, from, st) do
    deliver(Native.run_submit_for(st.run, id, op), %{st | froms: Map.put(st.froms, id, from)})
  end

  defp deliver({:resume, id, reply}, st) do
    case Map.pop(st.froms, id) do
      {nil, _} ->
        {:noreply, %{st | ready: Map.put(st.ready, id, reply)}}

      {from, froms} ->
        GenServer.reply(from, reply)
        {:noreply, %{st | froms: froms}}
    end
  end

  defp deliver(:finished, st) do
    GenServer.reply(st.owner, :finished)
    {:noreply, st}
  end
end

defmodule Bench.GenServerWorkload do
  alias Lockstep.Native

  def op(ctl, id, op), do: GenServer.call(ctl, {:op, id, op}, :infinity)

  def root(ctl, run, procs, per_proc) do
    :ok = GenServer.call(ctl, {:wait, 0}, :infinity)

    for _ <- 1..procs do
      {:spawned, c} = op(ctl, 0, :spawn)
      pid = spawn(fn -> worker(ctl, c, per_proc, self()) end)
      :ok = Native.run_bind(run, c, pid)
    end

    for _ <- 1..procs, do: {:msg, :done} = op(ctl, 0, {:recv, :infinity})
    op(ctl, 0, {:exit, :normal})
  end

  def worker(ctl, id, per_proc, _parent) do
    :ok = GenServer.call(ctl, {:wait, id}, :infinity)
    for _ <- 1..per_proc, do: op(ctl, id, :now)
    root_pid = Native.run_procs(:persistent_term.get(:bench_run)) |> hd() |> elem(1)
    :ok = op(ctl, id, {:send, root_pid, :done})
    op(ctl, id, {:exit, :normal})
  end
end

defmodule Bench do
  alias Lockstep.{Native, Runtime}

  @procs 4

  def best(n, fun), do: Enum.min(for _ <- 1..n, do: fun.())

  # The NIF controller, driven as the runner drives it: {microseconds, steps, hand-offs}.
  def nif(per_proc, procs \\ @procs) do
    tag = make_ref()

    run =
      Native.run_new(%{strategy: :random, seed: 1, max_steps: 10_000_000}, tag, self(), node())

    body = fn ->
      me = self()

      for _ <- 1..procs do
        Lockstep.spawn(fn ->
          for _ <- 1..per_proc, do: Lockstep.now()
          Lockstep.send(me, :done)
        end)
      end

      for _ <- 1..procs, do: Lockstep.recv()
    end

    {us, _} =
      :timer.tc(fn ->
        root = :erlang.spawn(fn -> Runtime.root_main({run, tag, 0, self()}, body) end)
        :ok = Native.run_bind(run, 0, root)
        Native.run_start(run)

        receive do
          {^tag, :finished, _} -> :ok
        end
      end)

    {:completed, nil} = Native.run_outcome(run)
    choices = Native.run_choices(run)
    Native.run_release(run)
    handoffs = choices |> Enum.chunk_every(2, 1, :discard) |> Enum.count(fn [a, b] -> a != b end)
    {us, choices, handoffs}
  end

  def genserver(per_proc) do
    run = new_run()
    :persistent_term.put(:bench_run, run)
    {:ok, ctl} = Bench.GenServerController.start(run)

    {us, _} =
      :timer.tc(fn ->
        root = spawn(fn -> Bench.GenServerWorkload.root(ctl, run, @procs, per_proc) end)
        :ok = Native.run_bind(run, 0, root)
        :finished = GenServer.call(ctl, :start, :infinity)
      end)

    {:completed, nil} = Native.run_outcome(run)
    GenServer.stop(ctl)
    choices = Native.run_choices(run)
    Native.run_release(run)
    {us, choices}
  end

  defp new_run do
    Native.run_new(
      %{strategy: :random, seed: 1, max_steps: 10_000_000},
      make_ref(),
      self(),
      node()
    )
  end

  def ping_pong(rounds) do
    pong =
      spawn(fn ->
        loop = fn loop ->
          receive do
            {:ping, from} ->
              send(from, :pong)
              loop.(loop)

            :stop ->
              :ok
          end
        end

        loop.(loop)
      end)

    {us, _} =
      :timer.tc(fn ->
        for _ <- 1..rounds do
          send(pong, {:ping, self()})
          receive(do: (:pong -> :ok))
        end
      end)

    send(pong, :stop)
    us
  end

  def race_iterations(n) do
    body = fn ->
      me = self()
      a = Lockstep.spawn(fn -> Lockstep.send(me, {:a, Lockstep.recv()}) end)
      Lockstep.spawn(fn -> Lockstep.send(a, :hello) end)
      {:a, :hello} = Lockstep.recv()
    end

    {us, :ok} = :timer.tc(fn -> Lockstep.Runner.run(body, iterations: n, seed: 1) end)
    us
  end

  def run do
    per_proc = 50_000
    rounds = 200_000
    iters = 2_000

    # Warm up once, then keep the best of three of each.
    nif(1_000)
    genserver(1_000)
    ping_pong(1_000)

    {nif_us, choices, handoffs} = best(3, fn -> nif(per_proc) end)
    {solo_us, solo_choices, _} = best(3, fn -> nif(@procs * per_proc, 1) end)
    {gs_us, gs_choices} = best(3, fn -> genserver(per_proc) end)
    pp_us = best(3, fn -> ping_pong(rounds) end)
    it_us = best(3, fn -> race_iterations(iters) end)

    steps = length(choices)
    same = if gs_choices == choices, do: "identical", else: "DIFFERENT"
    nif_rate = steps / (nif_us / 1.0e6)
    gs_rate = length(gs_choices) / (gs_us / 1.0e6)
    self_ns = solo_us * 1000 / length(solo_choices)
    # Time not spent on same-process steps, per hand-off.
    handoff_ns = (nif_us * 1000 - (steps - handoffs) * self_ns) / handoffs
    msg_ns = pp_us * 1000 / (2 * rounds)

    IO.puts("""
    Lockstep sync-point benchmark (#{System.schedulers_online()} schedulers, OTP #{System.otp_release()}, Elixir #{System.version()})

    workload: #{@procs} processes x #{per_proc} sync points, random strategy, seed 1
      NIF controller        #{fmt(nif_rate)} sync points/s  #{round(nif_us * 1000 / steps)} ns each  (#{steps} steps, #{pct(handoffs / steps)} hand-offs)
      GenServer controller  #{fmt(gs_rate)} sync points/s  #{round(gs_us * 1000 / length(gs_choices))} ns each  (same engine; schedule #{same})
      => NIF / GenServer: #{Float.round(nif_rate / gs_rate, 2)}x (target >= 7x)

    hand-off cost against the floor
      ping-pong message     #{round(msg_ns)} ns per message (2 plain processes, #{rounds} round trips)
      same-process step     #{round(self_ns)} ns (1 process, #{length(solo_choices)} steps)
      NIF hand-off          #{round(handoff_ns)} ns (the 4-process run's time less its same-process steps, per hand-off)
      => hand-off / message: #{Float.round(handoff_ns / msg_ns, 2)}x (target <= 2x, aim 1.5x)

    small two-process race test through Lockstep.Runner
      #{fmt(iters / (it_us / 1.0e6))} iterations/s (#{iters} iterations in #{div(it_us, 1000)} ms)
    """)
  end

  defp fmt(x),
    do: x |> round() |> Integer.to_string() |> String.replace(~r/\B(?=(\d{3})+(?!\d))/, ",")

  defp pct(x), do: "#{Float.round(x * 100, 1)}%"
end

Bench.run()

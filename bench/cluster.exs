# The simulated cluster's costs, measured side by side in one run:
#
#   1. same-node messages: two managed processes on one node play ping-pong
#   2. cross-node messages: the same two processes on two simulated nodes (each message is
#      a send and an arrival, two steps)
#   3. cluster operations: a partition and its heal, a node stop and its restart
#
# Each figure is the median of 5 runs of a fresh Lockstep.Runner.run hunt (random strategy).
# Run with: scripts/bench cluster   (or: MIX_ENV=bench mix run bench/cluster.exs)

alias Lockstep.Cluster

defmodule Bench.Cluster do
  def median(samples), do: samples |> Enum.sort() |> Enum.at(div(length(samples), 2))

  # Microseconds per unit of work, the median of 5 runs of `iterations` iterations.
  def time(fun, units, iterations) do
    samples =
      for _ <- 1..5 do
        {us, _} =
          :timer.tc(fn ->
            Lockstep.Runner.run(fun,
              iterations: iterations,
              seed: 1,
              strategy: :random,
              max_steps: 1_000_000,
              shrink: false,
              progress: false
            )
          end)

        us / (units * iterations)
      end

    median(samples)
  end

  def ping_pong(spawn_peer, rounds) do
    me = self()

    peer =
      spawn_peer.(fn ->
        for _ <- 1..rounds do
          {:ping, from} = Lockstep.recv()
          Lockstep.send(from, :pong)
        end

        Lockstep.send(me, :done)
      end)

    for _ <- 1..rounds do
      Lockstep.send(peer, {:ping, self()})
      :pong = Lockstep.recv()
    end

    :done = Lockstep.recv()
  end
end

rounds = 500
iterations = 10

same =
  Bench.Cluster.time(
    fn ->
      Cluster.start_nodes([:a, :b])
      Bench.Cluster.ping_pong(&Lockstep.spawn/1, rounds)
    end,
    2 * rounds,
    iterations
  )

cross =
  Bench.Cluster.time(
    fn ->
      Cluster.start_nodes([:a, :b])
      Bench.Cluster.ping_pong(&Cluster.spawn(:b, &1), rounds)
    end,
    2 * rounds,
    iterations
  )

ops = 200

partition =
  Bench.Cluster.time(
    fn ->
      Cluster.start_nodes([:a, :b])
      for _ <- 1..ops, do: Cluster.heal(Cluster.partition([:a], [:b], :defer))
    end,
    ops,
    iterations
  )

restart =
  Bench.Cluster.time(
    fn ->
      Cluster.start_nodes([:a, :b])

      for _ <- 1..ops do
        Cluster.stop_node(:b)
        Cluster.start_node(:b)
      end
    end,
    ops,
    iterations
  )

IO.puts("""
Simulated cluster (#{System.schedulers_online()} schedulers, OTP #{System.otp_release()}), \
median of 5 runs, microseconds:
  message within a node                 #{Float.round(same, 2)} per message
  message across nodes (send + arrival) #{Float.round(cross, 2)} per message  (#{Float.round(cross / same, 2)}x)
  partition + heal                      #{Float.round(partition, 2)} per pair
  stop_node + start_node                #{Float.round(restart, 2)} per pair
""")

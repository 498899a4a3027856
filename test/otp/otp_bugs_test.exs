defmodule Lockstep.OTPBugsTest do
  # Races in ordinary-looking supervised code, found by the default strategy and replayed.
  use ExUnit.Case, async: true

  @moduletag :capture_log

  defmodule Prices do
    # A price cache under a supervisor. Updating a SKU it does not know raises (let it crash:
    # the supervisor brings the cache back with its initial prices).
    use GenServer

    def start_link(_),
      do: Lockstep.GenServer.start_link(__MODULE__, %{apple: 1}, name: __MODULE__)

    def get(sku), do: Lockstep.GenServer.call(__MODULE__, {:get, sku})
    def update(sku, price), do: Lockstep.GenServer.call(__MODULE__, {:update, sku, price})

    @impl true
    def init(prices), do: {:ok, prices}

    @impl true
    def handle_call({:get, sku}, _from, prices), do: {:reply, Map.fetch!(prices, sku), prices}

    def handle_call({:update, sku, price}, _from, prices),
      do: {:reply, :ok, Map.update!(prices, sku, fn _ -> price end)}
  end

  # An importer pushes a bad update (and copes with the failure); a shop page reads a price,
  # trusting the supervisor to keep the cache available. While the cache is being restarted
  # there is no process under its name: the read exits with :noproc (or with the crash, when
  # the read was queued behind the bad update).
  defp restart_race do
    {:ok, _sup} = Lockstep.Supervisor.start_link([Prices], strategy: :one_for_one)
    Lockstep.spawn(fn -> catch_exit(Prices.update(:pear, 3)) end)
    assert Prices.get(:apple) == 1
  end

  # Charges every order in parallel under a task supervisor and collects the receipts, stopping
  # at the first failure and returning what was charged so far. The flaw: halting the stream
  # drops the results of charges that already went through, so the ledger holds charges for
  # which no receipt is returned.
  defp charge_all(sup, ledger, orders) do
    sup
    |> Lockstep.Task.Supervisor.async_stream_nolink(orders, &charge(ledger, &1),
      max_concurrency: 4,
      ordered: false
    )
    |> Enum.reduce_while({:ok, []}, fn
      {:ok, receipt}, {:ok, receipts} -> {:cont, {:ok, [receipt | receipts]}}
      {:exit, reason}, {:ok, receipts} -> {:halt, {:error, reason, receipts}}
    end)
  end

  defp charge(ledger, {id, amount}) do
    if amount <= 0, do: raise(ArgumentError, "order #{id}: invalid amount #{amount}")
    :ok = Lockstep.Agent.update(ledger, &[id | &1])
    id
  end

  defp lost_receipts do
    {:ok, sup} = Lockstep.Task.Supervisor.start_link()
    {:ok, ledger} = Lockstep.Agent.start_link(fn -> [] end)
    orders = [{1, 10}, {2, 0}, {3, 30}, {4, 40}]

    {:error, _reason, receipts} = charge_all(sup, ledger, orders)
    charged = Lockstep.Agent.get(ledger, & &1)
    assert Enum.sort(charged) == Enum.sort(receipts), "charged without a receipt"
  end

  defp hunt(fun, opts) do
    Lockstep.Runner.run(fun, opts)
    flunk("the race was not found in #{opts[:iterations]} iterations")
  rescue
    e in Lockstep.BugFound -> e
  end

  defp replays?(fun, opts, bug) do
    cfg = Lockstep.Runner.config!(opts, "replay")
    replay = %{strategy: :replay, choices: bug.schedule}
    {category, _detail} = bug.reason

    match?(
      {:fail, %{category: ^category}},
      Lockstep.Runner.run_once(fun, cfg, bug.iteration, replay)
    )
  end

  defp some_schedule_passes?(fun, opts) do
    cfg = Lockstep.Runner.config!(opts, "explore")
    Enum.any?(0..30, &match?({:ok, _, _}, Lockstep.Runner.run_once(fun, cfg, &1)))
  end

  describe "a client calls a supervised name while it is being restarted" do
    @opts [iterations: 100, seed: 4242, allow_crashes: true, max_steps: 5_000]

    test "found within 100 iterations by the default strategy, and the schedule replays" do
      bug = hunt(&restart_race/0, @opts)
      assert bug.iteration < 100
      # The read either finds no process under the name or, queued behind the bad update,
      # exits with the cache's crash reason; which one a seed finds first depends on the
      # strategy's draws.
      assert {:exception, {reason, {GenServer, :call, [Prices, {:get, :apple}, 5000]}}} =
               bug.reason

      assert reason == :noproc or match?({{:badkey, :pear}, _}, reason)

      assert replays?(&restart_race/0, @opts, bug)
    end

    test "it is a race: other schedules serve the read" do
      assert some_schedule_passes?(&restart_race/0, @opts)
    end
  end

  describe "an async_stream pipeline loses results when an element crashes" do
    @opts [iterations: 100, seed: 4242, allow_crashes: true, max_steps: 5_000]

    test "found within 100 iterations by the default strategy, and the schedule replays" do
      bug = hunt(&lost_receipts/0, @opts)
      assert bug.iteration < 100
      assert {:exception, _} = bug.reason
      assert %ExUnit.AssertionError{message: "charged without a receipt"} = bug.exception
      assert replays?(&lost_receipts/0, @opts, bug)
    end

    test "it is a race: other schedules halt before any other charge" do
      assert some_schedule_passes?(&lost_receipts/0, @opts)
    end

    test "collecting every result instead of halting loses nothing" do
      fixed = fn ->
        {:ok, sup} = Lockstep.Task.Supervisor.start_link()
        {:ok, ledger} = Lockstep.Agent.start_link(fn -> [] end)
        orders = [{1, 10}, {2, 0}, {3, 30}, {4, 40}]

        receipts =
          sup
          |> Lockstep.Task.Supervisor.async_stream_nolink(orders, &charge(ledger, &1),
            max_concurrency: 4,
            ordered: false
          )
          |> Enum.flat_map(fn
            {:ok, id} -> [id]
            {:exit, _} -> []
          end)

        assert Enum.sort(Lockstep.Agent.get(ledger, & &1)) == Enum.sort(receipts)
      end

      assert :ok = Lockstep.Runner.run(fixed, @opts)
    end
  end

  test "the same seed explores the same schedules of supervised and streamed work" do
    workload = fn ->
      {:ok, sup} = Lockstep.Supervisor.start_link([Prices], strategy: :one_for_all)
      Lockstep.spawn(fn -> catch_exit(Prices.update(:pear, 3)) end)
      {:ok, tasks} = Lockstep.Task.Supervisor.start_link()

      tasks
      |> Lockstep.Task.Supervisor.async_stream_nolink(1..4, &(&1 * 2), ordered: false)
      |> Enum.to_list()

      price =
        try do
          Prices.get(:apple)
        catch
          :exit, reason -> {:exited, reason}
        end

      {price, Lockstep.Supervisor.which_children(sup)}
    end

    opts = [seed: 99, verbose: true, allow_crashes: true, max_steps: 5_000]
    cfg = Lockstep.Runner.config!(opts, "determinism")
    runs = for i <- 0..5, do: Lockstep.Runner.run_once(workload, cfg, i)

    assert Enum.all?(runs, &match?({:ok, _, _}, &1))
    assert runs == for(i <- 0..5, do: Lockstep.Runner.run_once(workload, cfg, i))
    assert length(Enum.uniq(runs)) > 1
  end
end

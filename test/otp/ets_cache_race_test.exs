defmodule Lockstep.ETSCacheRaceTest do
  use ExUnit.Case, async: true

  alias Lockstep.ETS

  # An ordinary-looking cache: a GenServer owns a public table and serialises writes of values;
  # readers hit the table directly and keep hit/miss statistics in it. The statistics are
  # updated with a lookup followed by an insert, a read-modify-write that two readers can
  # interleave, losing a count.
  defmodule Cache do
    use GenServer

    def start_link(name), do: Lockstep.GenServer.start_link(__MODULE__, name, name: name)

    def fetch(name, key, compute) do
      case ETS.lookup(name, {:value, key}) do
        [{_, value}] ->
          bump(name, :hits)
          value

        [] ->
          bump(name, :misses)
          value = compute.()
          :ok = Lockstep.GenServer.call(name, {:put, key, value})
          value
      end
    end

    def stats(name),
      do: {ETS.lookup_element(name, :hits, 2), ETS.lookup_element(name, :misses, 2)}

    # The bug: `ETS.update_counter(name, stat, 1)` would be atomic.
    defp bump(name, stat) do
      [{^stat, n}] = ETS.lookup(name, stat)
      ETS.insert(name, {stat, n + 1})
    end

    @impl true
    def init(name) do
      ETS.new(name, [:set, :public, :named_table, read_concurrency: true])
      ETS.insert(name, [{:hits, 0}, {:misses, 0}])
      {:ok, name}
    end

    @impl true
    def handle_call({:put, key, value}, _from, name) do
      ETS.insert(name, {{:value, key}, value})
      {:reply, :ok, name}
    end
  end

  defp scenario do
    fn ->
      {:ok, _server} = Cache.start_link(:lockstep_cache_race)
      me = self()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          Cache.fetch(:lockstep_cache_race, :answer, fn -> 42 end)
          Lockstep.send(me, :fetched)
        end)
      end

      :fetched = Lockstep.recv()
      :fetched = Lockstep.recv()
      {hits, misses} = Cache.stats(:lockstep_cache_race)
      if hits + misses != 2, do: raise("lost a statistic: #{hits} hits + #{misses} misses")
    end
  end

  test "the read-modify-write race on the cache statistics is found and replays" do
    opts = [iterations: 100, seed: 2024]
    bug = Lockstep.TestHelpers.bug(scenario(), opts)

    assert %Lockstep.BugFound{reason: {:exception, _}} = bug
    assert bug.exception.message =~ "lost a statistic"
    assert bug.iteration < 100
    assert bug.message =~ ~r/ETS lookup .* in table :lockstep_cache_race/

    # The saved schedule replays to the same failure.
    cfg = Lockstep.Runner.config!(opts, "test")

    assert {:fail, %{category: :exception} = replayed} =
             Lockstep.Runner.run_once(scenario(), cfg, bug.iteration, %{
               strategy: :replay,
               choices: bug.schedule
             })

    assert replayed.schedule == bug.schedule

    # And the same seed finds the same schedule again.
    again = Lockstep.TestHelpers.bug(scenario(), opts)
    assert {again.iteration, again.schedule} == {bug.iteration, bug.schedule}
  end

  test "with update_counter there is no race" do
    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 ETS.new(:lockstep_cache_fixed, [:public, :named_table])
                 ETS.insert(:lockstep_cache_fixed, {:hits, 0})
                 me = self()

                 for _ <- 1..2 do
                   Lockstep.spawn(fn ->
                     ETS.update_counter(:lockstep_cache_fixed, :hits, 1)
                     Lockstep.send(me, :done)
                   end)
                 end

                 :done = Lockstep.recv()
                 :done = Lockstep.recv()
                 [{:hits, 2}] = ETS.lookup(:lockstep_cache_fixed, :hits)
               end,
               iterations: 100,
               seed: 2024
             )
  end
end

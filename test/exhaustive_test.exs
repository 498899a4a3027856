defmodule Lockstep.ExhaustiveTest do
  use ExUnit.Case, async: true

  alias Lockstep.{BugFound, Corpus, Native, Runner}

  @moduletag :tmp_dir

  # `n` processes each send the root one message; the root takes them in arrival order.
  defp senders(n) do
    fn ->
      me = self()
      for k <- 1..n, do: Lockstep.spawn(fn -> Lockstep.send(me, k) end)
      got = for _ <- 1..n, do: Lockstep.recv()
      if Enum.sort(got) != Enum.to_list(1..n), do: raise("lost a message: #{inspect(got)}")
    end
  end

  test "senders to one mailbox: one schedule per order of the sends (n!)" do
    for {n, fact} <- [{1, 1}, {2, 2}, {3, 6}, {4, 24}] do
      assert {:ok, %{schedules: ^fact, complete: true, step_limited: 0}} =
               Runner.explore(senders(n), seed: 1)
    end
  end

  # `n` processes each send the root a message of their own, which it takes one by one with a
  # selective receive: no receive could have taken another message than the one it took, so
  # the order of the sends is seen by none, and one schedule stands for all of them.
  defp tagged(n) do
    fn ->
      me = self()
      for k <- 1..n, do: Lockstep.spawn(fn -> Lockstep.send(me, {:from, k}) end)
      got = for k <- 1..n, do: Lockstep.recv_first(&match?({:from, ^k}, &1))
      if got != Enum.map(1..n, &{:from, &1}), do: raise("got #{inspect(got)}")
    end
  end

  test "messages no receive could take in another order: one schedule (observers)" do
    for n <- 1..4 do
      assert {:ok, %{schedules: 1, complete: true}} = Runner.explore(tagged(n), seed: 1)
    end

    # Without reduction, every interleaving.
    assert {:ok, %{schedules: full}} =
             Runner.explore(tagged(2), seed: 1, strategy: {:exhaustive, reduction: false})

    assert full > 1
  end

  test "without reduction every interleaving runs, and there are more of them" do
    {:ok, reduced} = Runner.explore(senders(2), seed: 1)
    {:ok, full} = Runner.explore(senders(2), seed: 1, strategy: {:exhaustive, reduction: false})
    assert full.complete
    assert full.schedules > reduced.schedules
  end

  test "the same exploration every time: same failing schedule, whatever the seed" do
    entry = Enum.find(Corpus.all(), &(&1.name == :lost_update))

    bugs =
      for seed <- [1, 2] do
        assert_raise BugFound, fn ->
          Runner.run(&entry.module.run/0, entry.opts ++ [seed: seed, strategy: :exhaustive])
        end
      end

    [a, b] = bugs
    assert a.iteration == b.iteration
    assert a.schedule == b.schedule
    assert a.message =~ "in schedule #{a.iteration} of the exhaustive exploration"
  end

  test "every corpus bug is found, and its schedule replays", %{
    tmp_dir: dir
  } do
    for entry <- Corpus.all() do
      bug =
        assert_raise BugFound, fn ->
          Runner.run(
            &entry.module.run/0,
            entry.opts ++ [seed: 1, strategy: :exhaustive, trace_dir: dir, max_run_time: 120_000]
          )
        end

      assert elem(bug.reason, 0) == entry.category, "#{entry.name}"
      assert is_binary(bug.schedule_path), "#{entry.name}: schedule saved"

      replayed =
        assert_raise BugFound, fn -> Lockstep.replay(&entry.module.run/0, bug.schedule_path) end

      assert elem(replayed.reason, 0) == entry.category, "#{entry.name}: replays"
    end
  end

  test "a correct read-modify-write explores to the end and passes" do
    fun = fn ->
      me = self()

      store =
        Lockstep.spawn(fn ->
          loop = fn loop, n ->
            case Lockstep.recv() do
              {:incr, from} ->
                Lockstep.send(from, :ok)
                loop.(loop, n + 1)

              {:get, from} ->
                Lockstep.send(from, n)
            end
          end

          loop.(loop, 0)
        end)

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          Lockstep.send(store, {:incr, self()})
          :ok = Lockstep.recv()
          Lockstep.send(me, :done)
        end)
      end

      :done = Lockstep.recv()
      :done = Lockstep.recv()
      Lockstep.send(store, {:get, me})
      2 = Lockstep.recv()
    end

    assert {:ok, %{complete: true, schedules: n}} = Runner.explore(fun, seed: 3)
    assert n >= 2
  end

  test "max_schedules stops the exploration and says so" do
    output =
      ExUnit.CaptureIO.capture_io(:stderr, fn ->
        assert {:ok, %{schedules: 3, complete: false}} =
                 Runner.explore(senders(3), strategy: {:exhaustive, max_schedules: 3})
      end)

    assert output =~ "stopped at max_schedules after 3 schedules"
  end

  test "a body that does not behave the same under the same schedule stops with an error" do
    counter = :counters.new(1, [])

    fun = fn ->
      :counters.add(counter, 1, 1)
      me = self()
      n = rem(:counters.get(counter, 1), 3) + 1
      for k <- 1..n, do: Lockstep.spawn(fn -> Lockstep.send(me, k) end)
      for _ <- 1..n, do: Lockstep.recv()
    end

    error = assert_raise Lockstep.Error, fn -> Runner.explore(fun, seed: 1) end
    assert error.message =~ "exhaustive exploration stopped"
    assert error.message =~ "deterministic"
  end

  test "bad options and bad input to the explorer" do
    for bad <- [
          {:exhaustive, max_schedules: 0},
          {:exhaustive, reduction: :maybe},
          {:exhaustive, observers: 1},
          {:exhaustive, depth: 3}
        ] do
      assert_raise ArgumentError, ~r/:strategy/, fn ->
        Runner.explore(senders(1), strategy: bad)
      end
    end

    assert_raise ArgumentError, ~r/exploring strategy/, fn ->
      Runner.explore(senders(1), strategy: :pos)
    end

    assert {:error, msg} = Native.explore_new(:nope)
    assert msg =~ "must be a map"
    assert {:error, msg} = Native.explore_new(%{max_schedules: -1})
    assert msg =~ "max_schedules"
    assert {:error, msg} = Native.explore_new(%{observers: :sometimes})
    assert msg =~ "bad value for observers: sometimes (a boolean)"
    ex = Native.explore_new(%{})
    assert {:error, msg} = Native.explore_finish(ex, false)
    assert msg =~ "no run is under way"
    assert {:error, msg} = Native.run_new(%{strategy: :exhaustive}, make_ref(), self(), node())
    assert msg =~ "needs an explorer"

    assert {:error, msg} =
             Native.run_new(%{strategy: :exhaustive, explorer: :x}, make_ref(), self(), node())

    assert msg =~ "explorer"
    assert_raise ArgumentError, fn -> Native.explore_finish(:x, false) end
  end
end

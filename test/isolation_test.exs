defmodule Lockstep.IsolationTest do
  # Runs at once must not see each other: eight runners with the same seed over the same body,
  # which uses one named ETS table, one persistent term key, one registered name, one global
  # name and one registry name, each behave as the same run alone.
  use ExUnit.Case, async: true

  alias Lockstep.{BugFound, ETS, Global, PersistentTerm, Replay}

  @moduletag :tmp_dir

  @runners 8
  @workers 3
  @table :lockstep_isolation_cache
  @key {__MODULE__, :key}
  @local :lockstep_isolation_leader
  @global {__MODULE__, :leader}
  @registry Lockstep.IsolationTest.Registry

  # The body, for runner `party`. Only values carry the party, so every runner's schedules are
  # the same. With `:lost_update` the workers bump the persistent term by reading and then
  # writing it, a race the hunt finds.
  defp body(party, variant) do
    fn ->
      me = self()
      @table = ETS.new(@table, [:named_table, :public])
      :ok = PersistentTerm.put(@key, {party, 0})
      {:ok, _} = Lockstep.Registry.start_link(keys: :unique, name: @registry)

      for i <- 1..@workers do
        Lockstep.spawn(fn -> worker(me, party, i, variant) end)
      end

      done = for _ <- 1..@workers, do: Lockstep.recv_first(&match?({:done, _, _}, &1))
      winner = fn what -> for {:done, pid, won} <- done, what in won, do: pid end

      # Each name went to one worker of this run, and it is that worker's.
      [local] = winner.(:local)
      ^local = Lockstep.Process.whereis(@local)
      [global] = winner.(:global)
      ^global = Global.whereis_name(@global)
      [registered] = winner.(:registry)
      [{^registered, {^party, _}}] = Lockstep.Registry.lookup(@registry, :leader)
      [first] = winner.(:table)
      [{:first, ^first, ^party}] = ETS.lookup(@table, :first)

      # The persistent term holds what this run's workers wrote.
      case variant do
        :correct ->
          {^party, i} = PersistentTerm.get(@key)
          true = i in 1..@workers
          [{@key, {^party, ^i}}] = for {@key, _} = term <- PersistentTerm.get(), do: term

        :lost_update ->
          {^party, @workers} = PersistentTerm.get(@key)
      end

      for {:done, pid, _} <- done, do: Lockstep.send(pid, :bye)
    end
  end

  defp worker(root, party, i, variant) do
    me = self()

    local =
      try do
        Lockstep.Process.register(me, @local)
      rescue
        ArgumentError -> false
      end

    global = Global.register_name(@global, me) == :yes
    registry = match?({:ok, _}, Lockstep.Registry.register(@registry, :leader, {party, i}))
    table = ETS.insert_new(@table, {:first, me, party})

    case variant do
      :correct ->
        PersistentTerm.put(@key, {party, i})

      :lost_update ->
        {^party, n} = PersistentTerm.get(@key)
        PersistentTerm.put(@key, {party, n + 1})
    end

    won =
      for {what, true} <- [local: local, global: global, registry: registry, table: table],
          do: what

    Lockstep.send(root, {:done, me, won})
    :bye = Lockstep.recv()
  end

  defp opts(dir, extra \\ []) do
    [seed: 42, iterations: 40, shrink: false, watchdog: 30_000, trace_dir: dir] ++ extra
  end

  # Runs `fun.(party)` in @runners tasks at once.
  defp at_once(fun) do
    1..@runners
    |> Task.async_stream(fun, max_concurrency: @runners, timeout: 120_000, ordered: true)
    |> Enum.map(fn {:ok, result} -> result end)
  end

  defp hunt(party, variant, dir) do
    Lockstep.Runner.run(body(party, variant), opts(dir))
  rescue
    e in BugFound -> e
  end

  defp nothing_left do
    assert :ets.whereis(@table) == :undefined
    assert :persistent_term.get(@key, :none) == :none
    assert Process.whereis(@local) == nil
    assert :global.whereis_name(@global) == :undefined
    assert Process.whereis(@registry) == nil
  end

  test "eight runs at once over the same names all pass", %{tmp_dir: dir} do
    assert at_once(&hunt(&1, :correct, dir)) == List.duplicate(:ok, @runners)
    nothing_left()
  end

  test "eight runs at once find the same bug, at the same iteration, as one run alone",
       %{tmp_dir: dir} do
    alone = hunt(0, :lost_update, dir)
    assert %BugFound{reason: {:exception, _}} = alone

    for bug <- at_once(&hunt(&1, :lost_update, dir)) do
      assert %BugFound{} = bug
      assert {bug.iteration, bug.iter_seed} == {alone.iteration, alone.iter_seed}
      assert bug.schedule == alone.schedule
      assert bug.fail_step == alone.fail_step
      assert elem(bug.reason, 0) == elem(alone.reason, 0)
    end

    nothing_left()
  end

  test "the schedules saved by runs at once replay, also at once", %{tmp_dir: dir} do
    bugs = at_once(&{&1, hunt(&1, :lost_update, dir)})

    replays =
      at_once(fn party ->
        {^party, %BugFound{schedule_path: path} = bug} = Enum.at(bugs, party - 1)
        assert is_binary(path)
        again = assert_raise BugFound, fn -> Replay.run(body(party, :lost_update), path) end
        {bug, again}
      end)

    for {bug, again} <- replays do
      assert again.schedule == bug.schedule
      assert again.iteration == bug.iteration
      assert elem(again.reason, 0) == elem(bug.reason, 0)
      refute again.message =~ "differed from the recording"
    end

    nothing_left()
  end
end

defmodule Lockstep.IsolationTest.Leaks do
  # Alone (not async), so that no other run changes the VM's persistent terms meanwhile.
  use ExUnit.Case, async: false

  alias Lockstep.{BugFound, ETS, PersistentTerm}

  @moduletag :tmp_dir

  @terms :"$lockstep_persistent_terms"
  @names :"$lockstep_ets_names"

  defp size(table) do
    case :ets.whereis(table) do
      :undefined -> 0
      _ -> :ets.info(table, :size)
    end
  end

  # Puts and erases persistent terms (one the VM has, too), names a table, then ends as `ending`
  # says.
  defp body(ending) do
    fn ->
      me = self()

      for i <- 1..3 do
        Lockstep.spawn(fn ->
          PersistentTerm.put({__MODULE__, i}, i)
          PersistentTerm.erase({__MODULE__, :vm})
          Lockstep.send(me, :put)
          if ending == :crash and i == 2, do: raise("a worker crashes")
        end)
      end

      PersistentTerm.put({__MODULE__, :root}, :root)
      ETS.new(:lockstep_isolation_leak, [:named_table, :public])
      for _ <- 1..3, do: :put = Lockstep.recv()

      case ending do
        :ok -> :ok
        :raise -> raise "the body fails"
        :crash -> :ok
        :deadlock -> Lockstep.recv()
        :step_limit -> Enum.each(1..1_000, fn _ -> PersistentTerm.get({__MODULE__, :root}) end)
        :exit -> exit(:abnormal)
      end
    end
  end

  test "no persistent term and no name of a run is left after it, however it ended",
       %{tmp_dir: dir} do
    :persistent_term.put({__MODULE__, :vm}, :vm)
    count = :persistent_term.info().count
    {terms, names} = {size(@terms), size(@names)}

    for ending <- [:ok, :raise, :crash, :deadlock, :step_limit, :exit], seed <- 1..5 do
      result =
        try do
          Lockstep.Runner.run(body(ending),
            seed: seed,
            iterations: 10,
            max_steps: 200,
            trace_dir: dir
          )
        rescue
          bug in BugFound ->
            # The saved schedule replays, and leaves nothing either.
            try do
              Lockstep.Replay.run(body(ending), bug.schedule_path)
            rescue
              BugFound -> :failed
            end
        end

      assert result == if(ending == :ok, do: :ok, else: :failed)
    end

    assert :persistent_term.info().count == count
    assert :persistent_term.get({__MODULE__, :vm}) == :vm
    assert :persistent_term.get({__MODULE__, :root}, :none) == :none
    assert {size(@terms), size(@names)} == {terms, names}
    :persistent_term.erase({__MODULE__, :vm})
  end
end

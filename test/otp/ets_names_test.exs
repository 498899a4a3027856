defmodule Lockstep.ETSNamesTest.Rendezvous do
  # Holds the first arrival of each of `parties` parties at `name` until all of them have
  # come, so that two runs are known to be alive at the same moment. Later arrivals pass at
  # once. Returns `:met`, or `:alone` when the others did not come within `timeout`.
  @moduledoc false

  def arrive(name, party, parties, timeout \\ 3_000) do
    ref = make_ref()
    send(server(name, parties), {:arrive, party, self(), ref})

    receive do
      {^ref, :go} -> :met
    after
      timeout -> :alone
    end
  end

  defp server(name, parties) do
    with nil <- Process.whereis(name) do
      pid = spawn(fn -> loop(parties, %{}) end)

      try do
        Process.register(pid, name)
        pid
      rescue
        ArgumentError ->
          Process.exit(pid, :kill)
          Process.whereis(name)
      end
    end
  end

  defp loop(parties, waiting) do
    receive do
      {:arrive, party, from, ref} when is_map(waiting) ->
        waiting = Map.put_new(waiting, party, {from, ref})

        if map_size(waiting) == parties do
          for {_, {pid, ref}} <- waiting, do: send(pid, {ref, :go})
          loop(parties, :open)
        else
          loop(parties, waiting)
        end

      {:arrive, _party, from, ref} ->
        send(from, {ref, :go})
        loop(parties, :open)
    end
  end
end

defmodule Lockstep.ETSNamesTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  alias Lockstep.{ETS, OtpDiff}
  alias Lockstep.ETSNamesTest.Rendezvous

  # Runs `fun`, turning an `:ets` error into a comparable value: the message, and the innermost
  # frame's function and arguments (which OTP's error formatting reads).
  defp attempt(fun) do
    fun.()
  catch
    :error, reason ->
      stack = __STACKTRACE__
      message = Exception.message(Exception.normalize(:error, reason, stack))

      frame =
        case stack do
          [{m, f, args, _} | _] when is_list(args) -> {m, f, args}
          _ -> nil
        end

      {:raised, message, frame}
  end

  # Names, identifiers and their consistency: `m` is `:ets` or `Lockstep.ETS`.
  defp names_scenario(m) do
    me = self()
    a = m.new(:lockstep_names_a, [:set, :public, :named_table])
    tid = m.whereis(:lockstep_names_a)
    u = m.new(:lockstep_names_u, [:bag, :public])

    heir =
      Lockstep.spawn(fn ->
        transfer = Lockstep.recv()
        Lockstep.send(me, {:heir_got, transfer})
      end)

    down = Lockstep.monitor(heir)

    [
      a,
      is_reference(tid),
      m.info(tid, :id) == tid,
      m.info(:lockstep_names_a, :id) == tid,
      m.info(tid, :name),
      m.info(:lockstep_names_a, :named_table),
      m.info(tid, :named_table),
      m.info(u, :named_table),
      m.info(:lockstep_names_a) |> Keyword.delete(:memory),
      m.info(tid) == m.info(:lockstep_names_a),
      attempt(fn -> m.new(:lockstep_names_a, [:named_table]) end),
      attempt(fn -> m.new(:lockstep_names_a, [:bag, :named_table, :protected]) end),
      attempt(fn -> m.new(:lockstep_names_a, [:named_table, :bogus]) end),
      attempt(fn -> m.new("lockstep_names", [:named_table]) end),
      m.insert(:lockstep_names_a, [{:k, 1}, {:j, 2}]),
      m.lookup(tid, :k),
      m.lookup(:lockstep_names_a, :j),
      m.update_counter(:lockstep_names_a, :k, 10),
      attempt(fn -> m.update_counter(:lockstep_names_a, :missing, 1) end),
      attempt(fn -> m.lookup_element(:lockstep_names_a, :k, 9) end),
      attempt(fn -> m.insert(:lockstep_names_a, :not_a_tuple) end),
      attempt(fn -> m.select(:lockstep_names_a, :not_a_spec) end),
      # Renaming: to a taken name, to itself, to a non-atom, then for real.
      m.new(:lockstep_names_b, [:named_table, :public]),
      attempt(fn -> m.rename(:lockstep_names_a, :lockstep_names_b) end),
      attempt(fn -> m.rename(:lockstep_names_a, :lockstep_names_a) end),
      attempt(fn -> m.rename(:lockstep_names_a, "c") end),
      m.rename(:lockstep_names_a, :lockstep_names_c),
      m.whereis(:lockstep_names_a),
      m.whereis(:lockstep_names_c) == tid,
      m.info(tid, :name),
      m.info(:lockstep_names_c, :named_table),
      m.info(:lockstep_names_a),
      attempt(fn -> m.lookup(:lockstep_names_a, :k) end),
      m.lookup(:lockstep_names_c, :k),
      m.rename(tid, :lockstep_names_a),
      m.lookup(:lockstep_names_a, :k),
      # An unnamed table takes any name, even a taken one, and stays unnamed.
      m.rename(u, :lockstep_names_b) == u,
      m.info(u, :name),
      m.info(u, :named_table),
      m.whereis(:lockstep_names_b) == u,
      m.insert(u, {:in_u, 1}),
      m.lookup(:lockstep_names_b, :in_u),
      # Handing a named table over: the transfer message names it by its name. The new
      # owner's end deletes it (before its DOWN).
      m.give_away(m.whereis(:lockstep_names_b), heir, :gift),
      Lockstep.recv_first(&match?({:heir_got, _}, &1)),
      match?({:DOWN, ^down, _, _, _}, Lockstep.recv_first(&match?({:DOWN, ^down, _, _, _}, &1))),
      m.info(:lockstep_names_b, :owner) == heir,
      # Deleting by name frees the name; the identifier is dead.
      m.delete(:lockstep_names_a),
      m.whereis(:lockstep_names_a),
      m.info(:lockstep_names_a),
      m.info(tid),
      attempt(fn -> m.insert(:lockstep_names_a, {:k}) end),
      attempt(fn -> m.lookup(tid, :k) end),
      m.new(:lockstep_names_a, [:named_table, :ordered_set]),
      m.whereis(:lockstep_names_a) != tid,
      m.info(:lockstep_names_a, :type),
      # Deleting by identifier frees the name too.
      m.delete(m.whereis(:lockstep_names_a)),
      m.whereis(:lockstep_names_a),
      m.new(:lockstep_names_a, [:named_table]),
      m.delete(:lockstep_names_a),
      m.delete(u)
    ]
  end

  test "differential: names, identifiers, whereis, info, rename and delete agree with OTP" do
    expected = OtpDiff.assert_same(&names_scenario/1, :ets, ETS)

    assert Enum.take(expected, 8) == [
             :lockstep_names_a,
             true,
             true,
             true,
             :lockstep_names_a,
             true,
             true,
             false
           ]

    assert {:raised,
            "errors were found at the given arguments:\n\n  * 1st argument: " <>
              "table name already exists\n",
            {:ets, :new, [:lockstep_names_a, [:named_table]]}} = Enum.at(expected, 10)

    assert {:raised,
            "errors were found at the given arguments:\n\n  * 2nd argument: " <>
              "table name already exists\n",
            {:ets, :rename, [:lockstep_names_a, :lockstep_names_b]}} = Enum.at(expected, 23)

    assert {:heir_got, {:"ETS-TRANSFER", :lockstep_names_b, :pid, :gift}} in expected
  end

  test "inside a run, a named table is not a VM name: plain :ets does not see it" do
    assert inside(fn ->
             :lockstep_names_private = ETS.new(:lockstep_names_private, [:named_table])
             tid = ETS.whereis(:lockstep_names_private)

             {:ets.whereis(:lockstep_names_private), :ets.info(tid, :named_table),
              ETS.info(tid, :named_table), ETS.info(tid, :name)}
           end) == {:undefined, false, true, :lockstep_names_private}
  end

  test "a run's name hides a VM table of the same name; a name the run did not give does not" do
    outside = :ets.new(:lockstep_names_outside, [:named_table, :public])
    :ets.insert(outside, {:where, :outside})
    :ets.new(:lockstep_names_shadowed, [:named_table, :public])
    :ets.insert(:lockstep_names_shadowed, {:where, :outside})

    assert inside(fn ->
             ETS.new(:lockstep_names_shadowed, [:named_table, :public])
             ETS.insert(:lockstep_names_shadowed, {:where, :inside})

             {ETS.lookup(:lockstep_names_outside, :where),
              ETS.lookup(:lockstep_names_shadowed, :where),
              ETS.whereis(:lockstep_names_outside) == :ets.whereis(:lockstep_names_outside)}
           end) == {[where: :outside], [where: :inside], true}

    assert :ets.lookup(:lockstep_names_shadowed, :where) == [where: :outside]
  end

  test "each iteration has its own names: a name is free again in the next one" do
    assert [:fresh, :fresh, :fresh] ==
             Lockstep.TestHelpers.inside_each(
               fn ->
                 before = ETS.whereis(:lockstep_names_iter)
                 ETS.new(:lockstep_names_iter, [:named_table, :public])
                 if before == :undefined, do: :fresh, else: {:leaked, before}
               end,
               iterations: 3,
               seed: 2
             )

    # The names of finished runs are forgotten.
    assert :ets.match(:"$lockstep_ets_names", {{:_, :lockstep_names_iter}, :_}) == []
  end

  test "a name whose owner was killed is free again, at the step of the kill" do
    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 me = self()

                 owner =
                   Lockstep.spawn(fn ->
                     ETS.new(:lockstep_names_killed, [:named_table, :public])
                     Lockstep.send(me, :made)
                     Lockstep.recv()
                   end)

                 :made = Lockstep.recv()
                 true = is_reference(ETS.whereis(:lockstep_names_killed))
                 ref = Lockstep.monitor(owner)
                 Lockstep.exit(owner, :kill)
                 Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
                 :undefined = ETS.whereis(:lockstep_names_killed)
                 :lockstep_names_killed = ETS.new(:lockstep_names_killed, [:named_table])
               end,
               iterations: 20,
               seed: 6
             )
  end

  test "a heir inherits the name with the table" do
    assert inside(fn ->
             me = self()

             heir =
               Lockstep.spawn(fn ->
                 {:"ETS-TRANSFER", table, _from, :inherit} = Lockstep.recv()

                 Lockstep.send(
                   me,
                   {table, ETS.lookup(:lockstep_names_heir, :k),
                    ETS.info(:lockstep_names_heir, :owner) == self()}
                 )
               end)

             Lockstep.spawn(fn ->
               ETS.new(:lockstep_names_heir, [:named_table, :public, {:heir, heir, :inherit}])
               ETS.insert(:lockstep_names_heir, {:k, :v})
             end)

             Lockstep.recv()
           end) == {:lockstep_names_heir, [{:k, :v}], true}
  end

  test "the trace names the table by the name the program gave it" do
    bug =
      bug(
        fn ->
          ETS.new(:lockstep_names_traced, [:public, :named_table])
          ETS.insert(:lockstep_names_traced, {:k, 1})
          ETS.whereis(:lockstep_names_traced)
          ETS.rename(:lockstep_names_traced, :lockstep_names_traced2)
          ETS.info(:lockstep_names_traced2, :size)
          raise "stop here"
        end,
        iterations: 1
      )

    assert for({_, _, 0, {:sync, label}} <- bug.trace, do: label) == [
             {:ets, :new, :lockstep_names_traced},
             {:ets, :insert, :lockstep_names_traced, :k, {:k, 1}},
             {:ets, :whereis, :lockstep_names_traced},
             {:ets, :rename, :lockstep_names_traced},
             {:ets, :info, :lockstep_names_traced2},
             {:ets, :owner_exit, :lockstep_names_traced2}
           ]
  end

  # Two runs at once, each creating the same named table and then using it: the rendezvous
  # keeps both tables alive at the same moment.
  defp same_name_body(party, rendezvous) do
    fn ->
      ETS.new(:lockstep_names_shared, [:named_table, :public])
      ETS.insert(:lockstep_names_shared, {:party, party})
      :met = Rendezvous.arrive(rendezvous, party, 2)
      [{:party, ^party}] = ETS.lookup(:lockstep_names_shared, :party)
      worker = Lockstep.spawn(fn -> ETS.insert(:lockstep_names_shared, {:worker, party}) end)
      ref = Lockstep.monitor(worker)
      Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
      [{:worker, ^party}] = ETS.lookup(:lockstep_names_shared, :worker)
    end
  end

  test "two runs at once can each create a table of the same name" do
    rendezvous = :"#{__MODULE__}.TwoRuns"

    runs =
      for party <- [:left, :right] do
        Task.async(fn ->
          Lockstep.Runner.run(same_name_body(party, rendezvous),
            iterations: 30,
            seed: 8,
            watchdog: 20_000
          )
        end)
      end

    assert Task.await_many(runs, 60_000) == [:ok, :ok]
    assert :ets.whereis(:lockstep_names_shared) == :undefined
  end

  test "two runs at once can each start a registry of the same name" do
    rendezvous = :"#{__MODULE__}.TwoRegistries"
    name = Lockstep.ETSNamesTest.SharedRegistry

    body = fn party ->
      fn ->
        {:ok, _} = Lockstep.Registry.start_link(keys: :unique, name: name, meta: [party: party])
        {:ok, _} = Lockstep.Registry.register(name, :key, party)
        :met = Rendezvous.arrive(rendezvous, party, 2)
        me = self()
        [{^me, ^party}] = Lockstep.Registry.lookup(name, :key)
        {:ok, ^party} = Lockstep.Registry.meta(name, :party)
        :ok = Lockstep.Registry.put_meta(name, :later, party)
        {:ok, ^party} = Lockstep.Registry.meta(name, :later)
        1 = Lockstep.Registry.count(name)
      end
    end

    runs =
      for party <- [:left, :right] do
        Task.async(fn ->
          Lockstep.Runner.run(body.(party), iterations: 20, seed: 3, watchdog: 20_000)
        end)
      end

    assert Task.await_many(runs, 60_000) == [:ok, :ok]
  end
end

# Two async test modules whose ctests create the same named table (and the same registry)
# while both are running.
for party <- [:left, :right] do
  defmodule Module.concat(Lockstep.ETSNamesTest, "Async#{party}") do
    use ExUnit.Case, async: true
    use Lockstep.Test, iterations: 40, watchdog: 20_000

    @party party

    ctest "a named table and a registry of a name another async test also uses" do
      party = @party
      Lockstep.ETS.new(:lockstep_names_async, [:named_table, :public])
      Lockstep.ETS.insert(:lockstep_names_async, {:party, party})
      {:ok, _} = Lockstep.Registry.start_link(keys: :duplicate, name: Lockstep.ETSNamesTest.Async)
      {:ok, _} = Lockstep.Registry.register(Lockstep.ETSNamesTest.Async, :party, party)
      # Only the first iteration of each waits; if the other module is not running, this one
      # goes on alone after a while.
      Lockstep.ETSNamesTest.Rendezvous.arrive(Lockstep.ETSNamesTest.AsyncPair, party, 2)
      assert Lockstep.ETS.lookup(:lockstep_names_async, :party) == [{:party, party}]
      me = self()
      assert Lockstep.Registry.lookup(Lockstep.ETSNamesTest.Async, :party) == [{me, party}]
    end
  end
end

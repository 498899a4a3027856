defmodule Lockstep.ETSTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers
  import Bitwise

  alias Lockstep.ETS

  # Runs `fun`, turning an exception into a comparable value.
  defp attempt(fun) do
    fun.()
  rescue
    e -> {:raised, e.__struct__, Exception.message(e)}
  end

  # Every wrapped operation on a named and an unnamed table, errors included. Returns only
  # values that are the same in and out of a run (no table identifiers).
  defp scenario do
    t = ETS.new(:lockstep_ets_diff, [:set, :public, :named_table])
    bag = ETS.new(:lockstep_ets_diff_bag, [:bag, :public])

    [
      t,
      ETS.insert(t, {:a, 1, :x}),
      ETS.insert(t, [{:b, 2, :y}, {:c, 3, :z}]),
      ETS.insert_new(t, {:a, 9, :w}),
      ETS.insert_new(t, {:d, 4, :v}),
      ETS.lookup(t, :a),
      ETS.lookup(t, :missing),
      ETS.lookup_element(t, :b, 2),
      attempt(fn -> ETS.lookup_element(t, :missing, 2) end),
      ETS.member(t, :c),
      ETS.member(t, :missing),
      ETS.update_counter(t, :a, 5),
      ETS.update_counter(t, :a, {2, -1}),
      ETS.update_counter(t, :new, 1, {:new, 10, :u}),
      attempt(fn -> ETS.update_counter(t, :a, {3, 1}) end),
      ETS.update_element(t, :b, {3, :yy}),
      ETS.update_element(t, :missing, {2, 0}),
      Enum.sort(ETS.tab2list(t)),
      Enum.sort(ETS.match(t, {:"$1", :"$2", :_})),
      Enum.sort(ETS.match_object(t, {:_, :_, :z})),
      Enum.sort(ETS.select(t, [{{:"$1", :"$2", :_}, [{:>, :"$2", 2}], [:"$1"]}])),
      ETS.select_count(t, [{{:_, :"$1", :_}, [{:>, :"$1", 2}], [true]}]),
      ETS.take(t, :d),
      ETS.take(t, :d),
      ETS.delete_object(t, {:c, 3, :z}),
      ETS.delete(t, :new),
      ETS.select_replace(t, [{{:"$1", :"$2", :_}, [], [{{:"$1", :"$2", :replaced}}]}]),
      Enum.sort(ETS.tab2list(t)),
      ETS.match_delete(t, {:_, 2, :_}),
      ETS.select_delete(t, [{{:_, :_, :_}, [], [false]}]),
      Enum.sort(ETS.foldl(fn {k, _, _}, acc -> [k | acc] end, [], t)),
      Enum.sort(ETS.foldr(fn {k, _, _}, acc -> [k | acc] end, [], t)),
      ETS.info(t, :size),
      ETS.info(t, :named_table),
      Keyword.take(ETS.info(t), [:size, :type, :keypos, :protection]),
      ETS.insert(bag, [{:k, 1}, {:k, 2}, {:j, 3}]),
      ETS.lookup(bag, :k),
      ETS.delete_object(bag, {:k, 1}),
      ETS.lookup(bag, :k),
      ETS.select_reverse(bag, [{{:"$1", :_}, [], [:"$1"]}]) |> Enum.sort(),
      ETS.delete_all_objects(bag),
      ETS.tab2list(bag),
      ETS.whereis(:lockstep_ets_diff) == ETS.info(t, :id),
      ETS.info(ETS.whereis(:lockstep_ets_diff), :name),
      ETS.info(ETS.whereis(:lockstep_ets_diff), :named_table),
      ETS.whereis(:lockstep_ets_no_such_table),
      attempt(fn -> ETS.insert(t, :not_a_tuple) end),
      attempt(fn -> ETS.insert(t, {}) end),
      attempt(fn -> ETS.new(:lockstep_ets_diff, [:named_table]) end),
      ETS.delete(bag),
      attempt(fn -> ETS.lookup(bag, :k) end),
      ETS.info(bag),
      ETS.delete(t),
      attempt(fn -> ETS.insert(:lockstep_ets_diff, {:a}) end)
    ]
  end

  defp ordered do
    t = ETS.new(:lockstep_ets_ordered, [:ordered_set, :public])
    ETS.insert(t, for(i <- 1..7, do: {i, i * i}))

    walk = fn walk, key, step ->
      if key == :"$end_of_table", do: [], else: [key | walk.(walk, step.(key), step)]
    end

    {chunk, cont} = ETS.match(t, {:"$1", :_}, 3)
    {chunk2, _} = ETS.match(cont)
    {sel, scont} = ETS.select(t, [{{:"$1", :"$2"}, [], [:"$2"]}], 4)
    {sel2, _} = ETS.select(scont)
    {objs, ocont} = ETS.match_object(t, {:_, :_}, 5)
    {objs2, _} = ETS.match_object(ocont)

    result = [
      ETS.first(t),
      ETS.last(t),
      ETS.next(t, 3),
      ETS.prev(t, 3),
      walk.(walk, ETS.first(t), &ETS.next(t, &1)),
      walk.(walk, ETS.last(t), &ETS.prev(t, &1)),
      {chunk, chunk2},
      {sel, sel2},
      {objs, objs2}
    ]

    ETS.delete(t)
    result
  end

  test "differential: every operation gives the same result in and out of a run" do
    expected = scenario()
    assert inside(&scenario/0) == expected
    assert {:raised, ArgumentError, _} = Enum.at(expected, 8)
    assert {:raised, ArgumentError, _} = List.last(expected)
  end

  test "differential: ordered traversal and continuations" do
    expected = ordered()
    assert inside(&ordered/0) == expected
    assert hd(expected) == 1
  end

  test "outside a run every function is the plain :ets call" do
    refute Lockstep.managed?()
    t = ETS.new(:lockstep_ets_plain, [:public])
    assert ETS.insert(t, {:k, 1})
    assert :ets.lookup(t, :k) == [{:k, 1}]
    assert ETS.update_counter(t, :k, 2) == 3
    # A process outside any run, using the table concurrently with the test process.
    task = Task.async(fn -> ETS.update_counter(t, :k, 10) end)
    assert Task.await(task) == 13
    assert :ets.info(t, :owner) == self()
    assert ETS.delete(t)
  end

  test "each operation is a labelled sync point in the trace" do
    bug =
      bug(
        fn ->
          t = ETS.new(:lockstep_ets_traced, [:public, :named_table])
          ETS.insert(t, {:k, 1})
          ETS.lookup(t, :k)
          ETS.tab2list(t)
          raise "stop here"
        end,
        iterations: 1
      )

    # A keyed read carries what it returned.
    labels = for {_step, _time, 0, sync} <- bug.trace, elem(sync, 0) == :sync, do: elem(sync, 1)

    assert {_, _, 0, {:sync, {:ets, :lookup, :lockstep_ets_traced, :k}, [k: 1]}} =
             Enum.find(bug.trace, &match?({_, _, 0, {:sync, {:ets, :lookup, _, _}, _}}, &1))

    assert labels == [
             {:ets, :new, :lockstep_ets_traced},
             {:ets, :insert, :lockstep_ets_traced, :k, {:k, 1}},
             {:ets, :lookup, :lockstep_ets_traced, :k},
             {:ets, :tab2list, :lockstep_ets_traced},
             # The root raised: its table goes at its last step.
             {:ets, :owner_exit, :lockstep_ets_traced}
           ]

    assert bug.message =~ "ETS insert {:k, 1} into table :lockstep_ets_traced"
    assert bug.message =~ "ETS lookup :k in table :lockstep_ets_traced -> [k: 1]"
  end

  test "an exiting owner releases its tables in name order, whatever order it created them" do
    released = fn names ->
      bug =
        bug(
          fn ->
            for name <- names, do: ETS.new(name, [:public, :named_table])
            raise "stop here"
          end,
          iterations: 1
        )

      for {_step, _time, 0, {:sync, {:ets, :owner_exit, name}}} <- bug.trace, do: name
    end

    names = for i <- 1..6, do: :"lockstep_ets_release_#{i}"
    assert released.(names) == names
    assert released.(Enum.reverse(names)) == names
  end

  test "the object encoding: table in the upper half, key (nonzero) or 0 in the lower" do
    alias Lockstep.SharedState
    whole = SharedState.object({:ets, :t})
    a = SharedState.object({:ets, :t}, :a)
    b = SharedState.object({:ets, :t}, :b)
    other = SharedState.object({:ets, :u}, :a)

    assert (whole &&& 0xFFFF_FFFF) == 0
    assert a >>> 32 == whole >>> 32 and b >>> 32 == whole >>> 32
    assert (a &&& 0xFFFF_FFFF) != 0 and a != b
    assert other >>> 32 != whole >>> 32
    assert a < 1 <<< 64 and whole >= 0
    # The same terms give the same objects on every run and machine.
    assert a == SharedState.object({:ets, :t}, :a)
    assert_raise FunctionClauseError, fn -> SharedState.sync(-1, true, :x) end
    assert_raise FunctionClauseError, fn -> SharedState.sync(1 <<< 64, true, :x) end
  end

  test "the engine takes an integer object as it is (64 bits) and hashes other terms" do
    submit = fn object ->
      try do
        Lockstep.Runtime.sync(Lockstep.Runtime.ctx(), {:sync, object, false, :probe})
      rescue
        e in Lockstep.Error -> {:rejected, e.message}
      end
    end

    assert inside(fn ->
             {submit.((1 <<< 64) - 1), submit.({:any, "term"}), submit.(1 <<< 64), submit.(-1)}
           end)
           |> then(fn {max, term, {:rejected, over}, {:rejected, neg}} ->
             max == :ok and term == :ok and over =~ "0..2^64-1" and neg =~ "0..2^64-1"
           end)
  end

  test "SharedState.sync/3 makes an operation of one's own a sync point" do
    alias Lockstep.SharedState
    object = SharedState.object({:mine, :store}, 42)
    assert SharedState.sync(object, true, {:mine, :put, 42}) == :ok

    bug =
      bug(
        fn ->
          SharedState.sync(object, true, {:mine, :put, 42})
          raise "stop"
        end,
        iterations: 1
      )

    assert {:sync, {:mine, :put, 42}} in for({_, _, _, kind} <- bug.trace, do: kind)
  end

  test "a named table never leaks into the next iteration" do
    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 me = self()

                 # The owner is still blocked when the body returns, so the runner kills it.
                 Lockstep.spawn(fn ->
                   ETS.new(:lockstep_ets_leak, [:named_table, :public])
                   ETS.insert(:lockstep_ets_leak, {:owner, self()})
                   Lockstep.send(me, :created)
                   Lockstep.recv()
                 end)

                 :created = Lockstep.recv()
                 [{:owner, _}] = ETS.lookup(:lockstep_ets_leak, :owner)
               end,
               iterations: 50,
               seed: 3
             )

    assert :ets.whereis(:lockstep_ets_leak) == :undefined
  end

  test "a table disappears at its owner's last step, whatever the owner's fate" do
    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 me = self()

                 quitter =
                   Lockstep.spawn(fn ->
                     ETS.new(:lockstep_ets_quit, [:named_table, :public])
                     Lockstep.send(me, :made)
                   end)

                 victim =
                   Lockstep.spawn(fn ->
                     ETS.new(:lockstep_ets_victim, [:named_table, :public])
                     Lockstep.send(me, :made)
                     Lockstep.recv()
                   end)

                 for _ <- 1..2, do: :made = Lockstep.recv()
                 ref = Lockstep.monitor(quitter)

                 {:DOWN, ^ref, :process, _, reason} =
                   Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))

                 true = reason in [:normal, :noproc]
                 Lockstep.exit(victim, :kill)

                 # Both names are free again, in every schedule.
                 ETS.new(:lockstep_ets_quit, [:named_table])
                 ETS.new(:lockstep_ets_victim, [:named_table])
               end,
               iterations: 30,
               seed: 11
             )
  end

  test "give_away between managed processes is a sync point and sends ETS-TRANSFER" do
    assert inside(fn ->
             me = self()
             t = ETS.new(:lockstep_ets_gift, [:public])

             heir =
               Lockstep.spawn(fn ->
                 {:"ETS-TRANSFER", tab, from, :gift} = Lockstep.recv()
                 Lockstep.send(me, {:got, tab, from, ETS.info(tab, :owner) == self()})
               end)

             ETS.give_away(t, heir, :gift)
             {:got, ^t, ^me, owner?} = Lockstep.recv()
             owner?
           end)
  end

  test "give_away and heir to a process outside the run are refused" do
    outsider = spawn(fn -> Process.sleep(:infinity) end)

    assert inside(fn ->
             t = ETS.new(:lockstep_ets_refuse, [:public])

             a =
               try do
                 ETS.give_away(t, outsider, nil)
               rescue
                 e in ArgumentError -> e.message
               end

             b =
               try do
                 ETS.new(:lockstep_ets_refuse2, [{:heir, outsider, nil}])
               rescue
                 e in ArgumentError -> e.message
               end

             {a, b, ETS.info(t, :owner) == self()}
           end)
           |> then(fn {a, b, still_mine} ->
             a =~ "outlive the iteration" and b =~ "outlive the iteration" and still_mine
           end)

    Process.exit(outsider, :kill)
  end

  test "a managed heir receives the table and ETS-TRANSFER when its owner ends" do
    assert inside(fn ->
             me = self()

             heir =
               Lockstep.spawn(fn ->
                 {:"ETS-TRANSFER", tab, _from, :inherit} = Lockstep.recv()

                 Lockstep.send(
                   me,
                   {:inherited, ETS.lookup(tab, :k), ETS.info(tab, :owner) == self()}
                 )
               end)

             Lockstep.spawn(fn ->
               t = ETS.new(:lockstep_ets_heir, [:public, {:heir, heir, :inherit}])
               ETS.insert(t, {:k, :v})
             end)

             Lockstep.recv()
           end) == {:inherited, [{:k, :v}], true}
  end
end

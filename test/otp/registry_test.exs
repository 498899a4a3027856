defmodule Lockstep.RegistryTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  alias Lockstep.Registry, as: LR

  @doc false
  def record_dispatch(entries, key), do: Process.put(key, entries)

  defp attempt(fun) do
    fun.()
  rescue
    e -> {:raised, e.__struct__, Exception.message(e)}
  end

  # Pids differ between a run and plain OTP: name them by role.
  defp norm(term, roles) do
    case term do
      pid when is_pid(pid) -> Map.get(roles, pid, :other_pid)
      list when is_list(list) -> Enum.map(list, &norm(&1, roles))
      tuple when is_tuple(tuple) -> tuple |> Tuple.to_list() |> norm(roles) |> List.to_tuple()
      other -> other
    end
  end

  # A real registry started by the scenario must not outlive it (the next scenario reuses
  # the name); inside a run the iteration's end takes care of that.
  defp stop_outside_run(pid) do
    unless Lockstep.managed?() do
      # The scenario's process is linked to the registry as an owner of entries.
      trapping = Process.flag(:trap_exit, true)
      ref = Process.monitor(pid)
      Process.exit(pid, :shutdown)

      receive do
        {:DOWN, ^ref, _, _, _} -> :ok
      end

      receive do
        {:EXIT, _, :shutdown} -> :ok
      after
        100 -> :ok
      end

      Process.flag(:trap_exit, trapping)
    end
  end

  defp wait_until_empty(name, key, tries \\ 200) do
    case LR.lookup(name, key) do
      [] when tries > 0 -> :cleaned
      _ when tries > 0 -> Lockstep.sleep(1) && wait_until_empty(name, key, tries - 1)
      left -> {:still_there, left}
    end
  end

  defp unique_scenario do
    name = Lockstep.RegistryTest.Unique
    me = self()
    {:ok, reg} = LR.start_link(keys: :unique, name: name, meta: [custom: 1])

    owner =
      Lockstep.spawn(fn ->
        {:ok, _} = LR.register(name, :c, 3)
        Lockstep.send(me, :registered)
        :stop = Lockstep.recv()
      end)

    :registered = Lockstep.recv()
    roles = %{me => :me, reg => :registry, owner => :owner}
    n = &norm(&1, roles)

    result = [
      LR.register(name, :a, 1) |> then(fn {:ok, pid} -> {:ok, is_pid(pid)} end),
      n.(LR.register(name, :a, 2)),
      n.(LR.register(name, :c, 4)),
      LR.register(name, :b, 2) |> then(fn {:ok, pid} -> {:ok, is_pid(pid)} end),
      n.(LR.lookup(name, :a)),
      n.(LR.lookup(name, :c)),
      LR.lookup(name, :missing),
      LR.keys(name, me),
      LR.keys(name, owner),
      LR.count(name),
      LR.values(name, :a, me),
      LR.values(name, :c, me),
      n.(LR.match(name, :b, 2)),
      n.(LR.match(name, :b, 3)),
      n.(LR.match(name, :a, :"$1", [{:>, :"$1", 0}])),
      LR.meta(name, :custom),
      LR.meta(name, :nope),
      LR.put_meta(name, :custom, 2),
      LR.put_meta(name, {:tuple, :key}, :t),
      LR.meta(name, :custom),
      LR.meta(name, {:tuple, :key}),
      LR.delete_meta(name, :custom),
      LR.meta(name, :custom),
      LR.update_value(name, :a, &(&1 + 10)),
      LR.update_value(name, :c, &(&1 + 10)),
      n.(LR.lookup(name, :a)),
      LR.dispatch(name, :a, fn entries -> Process.put(:dispatched, n.(entries)) end),
      Process.get(:dispatched),
      LR.dispatch(name, :missing, fn _ -> Process.put(:called_for_nothing, true) end),
      Process.get(:called_for_nothing),
      LR.dispatch(name, :b, {__MODULE__, :record_dispatch, [:mfa]}),
      n.(Process.get(:mfa)),
      LR.register_name({name, :via}, me),
      LR.register_name({name, :via, :value}, me),
      n.(LR.whereis_name({name, :via})),
      LR.whereis_name({name, :nobody}),
      LR.send({name, :via}, :hello),
      Lockstep.recv(),
      attempt(fn -> LR.send({name, :nobody}, :hello) end),
      LR.unregister_name({name, :via}),
      LR.whereis_name({name, :via}),
      LR.unregister(name, :a),
      LR.unregister(name, :a),
      LR.lookup(name, :a),
      LR.keys(name, me),
      n.(LR.start_link(keys: :unique, name: name)),
      attempt(fn -> LR.lookup(Lockstep.RegistryTest.Nowhere, :a) end),
      attempt(fn -> LR.register(Lockstep.RegistryTest.Nowhere, :a, 1) end),
      attempt(fn -> LR.meta(Lockstep.RegistryTest.Nowhere, :a) end),
      attempt(fn -> LR.put_meta(Lockstep.RegistryTest.Nowhere, :a, 1) end),
      attempt(fn -> LR.start_link(keys: :bad, name: name) end),
      attempt(fn -> LR.start_link(keys: :unique) end),
      attempt(fn -> LR.start_link(keys: :unique, name: "string") end),
      attempt(fn -> LR.start_link(keys: :unique, name: name, meta: :x) end),
      attempt(fn -> LR.start_link(keys: :unique, name: name, partitions: 0) end),
      attempt(fn -> LR.start_link(keys: :unique, name: name, listeners: ["x"]) end),
      attempt(fn -> LR.start_link(keys: :unique, name: name, compressed: 1) end)
    ]

    # The owner ends: its entries go once the registry has handled its exit.
    ref = Lockstep.monitor(owner)
    Lockstep.send(owner, :stop)

    {:DOWN, ^ref, :process, ^owner, :normal} =
      Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))

    result = result ++ [wait_until_empty(name, :c), LR.keys(name, owner), LR.count(name)]
    stop_outside_run(reg)
    result
  end

  defp duplicate_scenario do
    name = Lockstep.RegistryTest.Duplicate
    me = self()
    {:ok, reg} = LR.start_link(keys: :duplicate, name: name, partitions: 1)

    other =
      Lockstep.spawn(fn ->
        {:ok, _} = LR.register(name, :topic, :theirs)
        Lockstep.send(me, :registered)
        :stop = Lockstep.recv()
      end)

    :registered = Lockstep.recv()
    n = &norm(&1, %{me => :me, reg => :registry, other => :other})

    result = [
      LR.register(name, :topic, 1) |> then(fn {:ok, pid} -> {:ok, is_pid(pid)} end),
      LR.register(name, :topic, 2) |> then(fn {:ok, pid} -> {:ok, is_pid(pid)} end),
      LR.register(name, :solo, 3) |> then(fn {:ok, pid} -> {:ok, is_pid(pid)} end),
      n.(LR.lookup(name, :topic)),
      LR.keys(name, me),
      LR.count(name),
      LR.values(name, :topic, me),
      n.(LR.match(name, :topic, :theirs)),
      LR.dispatch(name, :topic, fn entries -> Process.put(:seen, n.(entries)) end),
      Process.get(:seen),
      attempt(fn -> LR.whereis_name({name, :topic}) end),
      attempt(fn -> LR.update_value(name, :topic, & &1) end),
      LR.unregister(name, :topic),
      n.(LR.lookup(name, :topic)),
      LR.keys(name, me),
      LR.count(name)
    ]

    Lockstep.send(other, :stop)
    result = result ++ [wait_until_empty(name, :topic), LR.count(name)]
    stop_outside_run(reg)
    result
  end

  # The registry's parent crashes: the registry exits with its reason, owners with :shutdown.
  defp exit_scenario do
    name = Lockstep.RegistryTest.Exits
    me = self()

    starter =
      Lockstep.spawn(fn ->
        {:ok, reg} = LR.start_link(keys: :unique, name: name)
        Lockstep.send(me, {:started, reg})
        :go = Lockstep.recv()
        exit(:boom)
      end)

    {:started, reg} = Lockstep.recv()

    owner =
      Lockstep.spawn(fn ->
        {:ok, _} = LR.register(name, :k, 1)
        Lockstep.send(me, :registered)
        Lockstep.recv()
      end)

    :registered = Lockstep.recv()
    reg_ref = Lockstep.monitor(reg)
    owner_ref = Lockstep.monitor(owner)
    Lockstep.send(starter, :go)
    down = fn ref -> Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1)) |> elem(4) end
    {down.(reg_ref), down.(owner_ref), attempt(fn -> LR.lookup(name, :k) end)}
  end

  # select, count_select, count_match and unregister_match, with a listener that reports what
  # it hears.
  defp match_scenario(kind) do
    name = Module.concat(Lockstep.RegistryTest, "Match#{kind}")
    listener_name = Module.concat(name, Listener)
    me = self()

    listener =
      Lockstep.spawn(fn ->
        forward = fn forward ->
          Lockstep.send(me, {:heard, Lockstep.recv()})
          forward.(forward)
        end

        forward.(forward)
      end)

    Lockstep.register(listener, listener_name)
    {:ok, reg} = LR.start_link(keys: kind, name: name, listeners: [listener_name])

    other =
      Lockstep.spawn(fn ->
        {:ok, _} = LR.register(name, :theirs, 9)
        if kind == :duplicate, do: {:ok, _} = LR.register(name, :topic, 9)
        Lockstep.send(me, :registered)
        :stop = Lockstep.recv()
      end)

    :registered = Lockstep.recv_first(&(&1 == :registered))
    n = &norm(&1, %{me => :me, reg => :registry, other => :other})

    registrations =
      case kind do
        :unique -> [a: 1, b: 2, topic: 3, tuple: {:t, 4}]
        :duplicate -> [topic: 1, topic: 2, topic: 3, topic: 2, solo: :x, tuple: {:t, 4}]
      end

    for {key, value} <- registrations, do: {:ok, _} = LR.register(name, key, value)

    everything = [{{:"$1", :"$2", :"$3"}, [], [{{:"$1", :"$2", :"$3"}}]}]
    heard = fn -> n.(hear(listener)) end

    result = [
      heard.(),
      n.(LR.select(name, everything)),
      n.(LR.select(name, [{{:"$1", :_, :"$2"}, [{:is_integer, :"$2"}], [{{:"$2", :"$1"}}]}])),
      n.(LR.select(name, [{{:_, :"$1", :_}, [{:"=/=", :"$1", me}], [:"$_"]}])),
      n.(LR.select(name, [{{:topic, :_, :_}, [], [:"$$"]}])),
      LR.select(name, []),
      attempt(fn -> LR.select(name, [{:bad, [], []}]) end),
      attempt(fn -> LR.select(Lockstep.RegistryTest.Nowhere, [{:bad, [], []}]) end),
      attempt(fn -> LR.select(Lockstep.RegistryTest.Nowhere, everything) end),
      LR.count_select(name, everything),
      LR.count_select(name, [{{:_, :_, :"$1"}, [{:is_integer, :"$1"}], [true]}]),
      attempt(fn -> LR.count_select(name, [{:bad}]) end),
      LR.count_match(name, :topic, :_),
      LR.count_match(name, :topic, 2),
      LR.count_match(name, :topic, :"$1", [{:>, :"$1", 1}]),
      LR.count_match(name, :tuple, {:t, :"$1"}, [{:==, :"$1", 4}]),
      LR.count_match(name, :missing, :_),
      LR.count_match(name, :theirs, :_),
      attempt(fn -> LR.count_match(name, :topic, :"$1", [{:bogus_guard, :"$1"}]) end),
      attempt(fn -> LR.count_match(Lockstep.RegistryTest.Nowhere, :topic, :_) end),
      # Some of the caller's entries under :topic (in a duplicate registry): no listener hears.
      LR.unregister_match(name, :topic, 2),
      n.(LR.lookup(name, :topic)),
      LR.keys(name, me),
      heard.(),
      LR.unregister_match(name, :topic, :"$1", [{:<, :"$1", 2}]),
      n.(LR.lookup(name, :topic)),
      LR.keys(name, me),
      # None of them: nothing changes.
      LR.unregister_match(name, :topic, :nothing_matches),
      LR.keys(name, me),
      heard.(),
      # All of them: the listener hears.
      LR.unregister_match(name, :topic, :_),
      n.(LR.lookup(name, :topic)),
      LR.keys(name, me),
      heard.(),
      # A key the caller never held, and another process's key: as Registry, the listener hears.
      LR.unregister_match(name, :missing, :_),
      LR.unregister_match(name, :theirs, :_),
      n.(LR.lookup(name, :theirs)),
      heard.(),
      LR.unregister_match(name, :tuple, {:t, :"$1"}, [{:>, :"$1", 3}]),
      LR.lookup(name, :tuple),
      attempt(fn -> LR.unregister_match(name, :a, :"$1", [{:bogus_guard, :"$1"}]) end),
      attempt(fn -> LR.unregister_match(Lockstep.RegistryTest.Nowhere, :a, :_) end),
      LR.keys(name, me),
      LR.count(name),
      n.(LR.select(name, everything))
    ]

    Lockstep.send(other, :stop)
    stop_outside_run(reg)
    result
  end

  # What the listener reported so far, in order.
  defp hear(listener) do
    Lockstep.send(listener, :marker)
    hear_until_marker([])
  end

  defp hear_until_marker(acc) do
    case Lockstep.recv_first(&match?({:heard, _}, &1)) do
      {:heard, :marker} -> Enum.reverse(acc)
      {:heard, event} -> hear_until_marker([event | acc])
    end
  end

  # Compares element by element, so that a difference names its position in the scenario.
  defp assert_same(actual, expected) do
    assert length(actual) == length(expected)

    for {{a, e}, i} <- Enum.with_index(Enum.zip(actual, expected)) do
      assert {i, a} == {i, e}
    end
  end

  test "differential: a unique registry behaves as Registry does" do
    expected = unique_scenario()
    assert_same(inside(&unique_scenario/0), expected)
    # A few anchors, so that a scenario that quietly does nothing cannot pass.
    assert Enum.at(expected, 1) == {:error, {:already_registered, :me}}
    assert Enum.at(expected, 2) == {:error, {:already_registered, :owner}}
    assert Enum.at(expected, 7) == [:b, :a]
    assert Enum.slice(expected, -3, 3) == [:cleaned, [], 1]
  end

  test "differential: a duplicate registry behaves as Registry does" do
    expected = duplicate_scenario()
    assert_same(inside(&duplicate_scenario/0), expected)
    assert Enum.at(expected, 3) == [{:other, :theirs}, {:me, 1}, {:me, 2}]
  end

  test "differential: select, count_select, count_match, unregister_match (unique keys)" do
    expected = match_scenario(:unique)
    assert_same(inside(fn -> match_scenario(:unique) end), expected)

    assert Enum.at(expected, 1) |> Enum.sort() ==
             Enum.sort([
               {:a, :me, 1},
               {:b, :me, 2},
               {:theirs, :other, 9},
               {:topic, :me, 3},
               {:tuple, :me, {:t, 4}}
             ])

    assert {:raised, ArgumentError, "invalid match specification in Registry.select/2: " <> _} =
             Enum.at(expected, 7)

    assert Enum.at(expected, 33) == [
             {:unregister, Lockstep.RegistryTest.Matchunique, :topic, :me}
           ]
  end

  test "differential: select, count_select, count_match, unregister_match (duplicate keys)" do
    expected = match_scenario(:duplicate)
    assert_same(inside(fn -> match_scenario(:duplicate) end), expected)
    # Partial removals leave the rest, and the listener hears only the last.
    assert Enum.at(expected, 21) == [{:other, 9}, {:me, 1}, {:me, 3}]
    assert Enum.at(expected, 22) == [:topic, :topic, :tuple, :solo]
    assert Enum.at(expected, 23) == []
    assert Enum.at(expected, 25) == [{:other, 9}, {:me, 3}]
  end

  test "select, count_match and unregister_match are labelled steps" do
    bug =
      bug(
        fn ->
          name = Lockstep.RegistryTest.MatchTraced
          {:ok, _} = LR.start_link(keys: :duplicate, name: name)
          {:ok, _} = LR.register(name, "room", 1)
          LR.select(name, [{{:_, :_, :_}, [], [true]}])
          LR.count_select(name, [{{:_, :_, :_}, [], [true]}])
          LR.count_match(name, "room", :_)
          LR.unregister_match(name, "room", 1)
          raise "stop"
        end,
        iterations: 1
      )

    labels = for {_, _, 0, {:sync, {:registry, _, _, _} = label}} <- bug.trace, do: label
    labels = labels ++ for {_, _, 0, {:sync, {:registry, _, _} = label}} <- bug.trace, do: label
    name = Lockstep.RegistryTest.MatchTraced

    for label <- [
          {:registry, :select, name},
          {:registry, :count_select, name},
          {:registry, :count_match, name, "room"},
          {:registry, :unregister_match, name, "room"},
          {:registry, :unregister_owner, name, "room"}
        ] do
      assert label in labels
    end
  end

  test "a lookup racing an unregister_match sees the entry or not, both explored" do
    seen =
      Lockstep.TestHelpers.inside_each(
        fn ->
          name = Lockstep.RegistryTest.MatchRace
          {:ok, _} = LR.start_link(keys: :duplicate, name: name)
          me = self()
          {:ok, _} = LR.register(name, :k, 1)
          Lockstep.spawn(fn -> Lockstep.send(me, {:count, LR.count_match(name, :k, :_)}) end)
          LR.unregister_match(name, :k, 1)
          {:count, count} = Lockstep.recv()
          count
        end,
        iterations: 60,
        seed: 2
      )

    assert Enum.sort(Enum.uniq(seen)) == [0, 1]
  end

  @tag :capture_log
  test "differential: the registry stops with its parent, its owners with :shutdown" do
    expected = exit_scenario()
    assert inside(&exit_scenario/0, allow_crashes: true) == expected

    assert {:boom, :shutdown, {:raised, ArgumentError, "unknown registry: " <> _}} = expected
  end

  test "outside a run, start_link starts a real Registry usable through :via" do
    {:ok, sup} = LR.start_link(keys: :unique, name: Lockstep.RegistryTest.Real)
    assert Process.whereis(Lockstep.RegistryTest.Real) == sup
    assert {:ok, _} = LR.register(Lockstep.RegistryTest.Real, :me, :v)
    assert Registry.lookup(Lockstep.RegistryTest.Real, :me) == [{self(), :v}]

    via = {:via, LR, {Lockstep.RegistryTest.Real, :agent}}
    {:ok, agent} = Agent.start_link(fn -> 41 end, name: via)
    assert Agent.get(via, &(&1 + 1)) == 42
    assert LR.whereis_name({Lockstep.RegistryTest.Real, :agent}) == agent

    assert LR.child_spec(keys: :unique, name: :x) ==
             %{
               Registry.child_spec(keys: :unique, name: :x)
               | start: {LR, :start_link, [[keys: :unique, name: :x]]}
             }
  end

  test "inside a run, a registry started outside it is used as it is" do
    {:ok, _} = Registry.start_link(keys: :duplicate, name: Lockstep.RegistryTest.Outside)
    {:ok, _} = Registry.register(Lockstep.RegistryTest.Outside, :k, :from_test)

    assert inside(fn -> LR.lookup(Lockstep.RegistryTest.Outside, :k) end) == [
             {self(), :from_test}
           ]
  end

  test "each step is labelled with the registry and the key" do
    bug =
      bug(
        fn ->
          {:ok, _} = LR.start_link(keys: :unique, name: Lockstep.RegistryTest.Traced)
          {:ok, _} = LR.register(Lockstep.RegistryTest.Traced, "room", 1)
          LR.lookup(Lockstep.RegistryTest.Traced, "room")
          raise "stop"
        end,
        iterations: 1
      )

    labels = for {_, _, 0, {:sync, label}} <- bug.trace, do: label

    assert [
             {:registry, :register, Lockstep.RegistryTest.Traced, "room"},
             {:registry, :insert_new, Lockstep.RegistryTest.Traced, "room"},
             {:registry, :lookup, Lockstep.RegistryTest.Traced, "room"}
             | _
           ] = labels
  end

  test "registry entries are removed when their owners die, in every schedule" do
    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 name = Lockstep.RegistryTest.Cleanup
                 {:ok, _} = LR.start_link(keys: :duplicate, name: name)
                 me = self()

                 owners =
                   for i <- 1..2 do
                     Lockstep.spawn(fn ->
                       {:ok, _} = LR.register(name, :k, i)
                       Lockstep.send(me, :registered)
                       if i == 1, do: raise("crash"), else: :ok
                     end)
                   end

                 :registered = Lockstep.recv()
                 :registered = Lockstep.recv()
                 refs = Enum.map(owners, &Lockstep.monitor/1)
                 for ref <- refs, do: Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
                 :cleaned = wait_until_empty(name, :k)
                 0 = LR.count(name)
               end,
               iterations: 30,
               seed: 9,
               allow_crashes: true
             )
  end

  test "the window where lookup still returns a dead owner is explored" do
    bug =
      bug(
        fn ->
          name = Lockstep.RegistryTest.Window
          {:ok, _} = LR.start_link(keys: :unique, name: name)
          me = self()

          owner =
            Lockstep.spawn(fn ->
              {:ok, _} = LR.register(name, :k, :v)
              Lockstep.send(me, :registered)
            end)

          :registered = Lockstep.recv()
          ref = Lockstep.monitor(owner)
          Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
          [] = LR.lookup(name, :k)
        end,
        iterations: 100
      )

    assert %Lockstep.BugFound{reason: {:exception, _}} = bug
    assert %MatchError{term: [{_dead, :v}]} = bug.exception
  end

  test "a unique key held by a dead owner not yet cleaned up is taken over" do
    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 name = Lockstep.RegistryTest.TakeOver
                 {:ok, _} = LR.start_link(keys: :unique, name: name)
                 me = self()

                 owner =
                   Lockstep.spawn(fn ->
                     {:ok, _} = LR.register(name, :k, :old)
                     Lockstep.send(me, :registered)
                   end)

                 :registered = Lockstep.recv()
                 ref = Lockstep.monitor(owner)
                 Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
                 {:ok, _} = LR.register(name, :k, :new)
                 [{^me, :new}] = LR.lookup(name, :k)
               end,
               iterations: 40,
               seed: 4
             )
  end
end

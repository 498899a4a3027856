defmodule Lockstep.AtomicsCountersPersistentTermTest do
  use ExUnit.Case, async: true
  import Lockstep.TestHelpers

  alias Lockstep.{Atomics, Counters, PersistentTerm}

  defp attempt(fun) do
    fun.()
  rescue
    e -> {:raised, e.__struct__}
  end

  defp atomics_scenario do
    a = Atomics.new(3, signed: true)
    u = Atomics.new(1, signed: false)

    [
      Atomics.put(a, 1, 10),
      Atomics.get(a, 1),
      Atomics.add(a, 1, 5),
      Atomics.add_get(a, 1, 5),
      Atomics.sub(a, 2, 3),
      Atomics.sub_get(a, 2, 3),
      Atomics.exchange(a, 3, 7),
      Atomics.compare_exchange(a, 3, 7, 8),
      Atomics.compare_exchange(a, 3, 7, 9),
      Atomics.get(a, 3),
      Map.take(Atomics.info(a), [:size, :max, :min]),
      Atomics.sub_get(u, 1, 1),
      attempt(fn -> Atomics.get(a, 4) end),
      attempt(fn -> Atomics.new(0, []) end)
    ]
  end

  defp counters_scenario do
    c = Counters.new(2, [:atomics])
    w = Counters.new(1, [:write_concurrency])

    [
      Counters.add(c, 1, 4),
      Counters.sub(c, 1, 1),
      Counters.get(c, 1),
      Counters.put(c, 2, -5),
      Counters.get(c, 2),
      Counters.add(w, 1, 2),
      Counters.get(w, 1),
      Counters.info(c).size,
      attempt(fn -> Counters.get(c, 3) end)
    ]
  end

  defp persistent_term_scenario do
    key = {__MODULE__, :diff}

    result = [
      PersistentTerm.get(key, :none),
      attempt(fn -> PersistentTerm.get(key) end),
      PersistentTerm.put(key, %{v: 1}),
      PersistentTerm.get(key),
      {key, %{v: 1}} in PersistentTerm.get(),
      PersistentTerm.info().count > 0,
      PersistentTerm.erase(key),
      PersistentTerm.erase(key),
      PersistentTerm.get(key, :gone)
    ]

    result
  end

  test "differential: atomics" do
    expected = atomics_scenario()
    assert inside(&atomics_scenario/0) == expected
    assert Enum.at(expected, 3) == 20
  end

  test "differential: counters" do
    expected = counters_scenario()
    assert inside(&counters_scenario/0) == expected
    assert Enum.at(expected, 2) == 3
  end

  test "differential: persistent_term" do
    expected = persistent_term_scenario()
    assert inside(&persistent_term_scenario/0) == expected
    assert Enum.at(expected, 3) == %{v: 1}
  end

  test "operations are labelled sync points" do
    bug =
      bug(
        fn ->
          a = Atomics.new(2, [])
          Atomics.add(a, 2, 1)
          c = Counters.new(1, [])
          Counters.get(c, 1)
          PersistentTerm.get({__MODULE__, :label}, nil)
          raise "stop"
        end,
        iterations: 1
      )

    labels = for {_, _, 0, {:sync, label}} <- bug.trace, do: label

    assert [
             {:atomics, :new, 2},
             {:atomics, :add, ref, 2},
             {:counters, :new, 1},
             {:counters, :get, cref, 1},
             {:persistent_term, :get, {__MODULE__, :label}}
           ] = labels

    assert is_reference(ref) and is_tuple(cref)
  end

  test "each iteration starts from the VM's terms, which a run leaves as they were" do
    kept = {__MODULE__, :kept}
    fresh = {__MODULE__, :fresh}
    :persistent_term.put(kept, :before)

    assert :ok ==
             Lockstep.Runner.run(
               fn ->
                 # Every iteration starts from the VM's state before the run.
                 :before = PersistentTerm.get(kept)
                 :none = PersistentTerm.get(fresh, :none)
                 PersistentTerm.put(kept, :during)
                 PersistentTerm.put(kept, :again)
                 PersistentTerm.put(fresh, 1)
                 Lockstep.spawn(fn -> PersistentTerm.erase(kept) end)
               end,
               iterations: 20,
               seed: 5
             )

    assert :persistent_term.get(kept) == :before
    assert :persistent_term.get(fresh, :none) == :none
    :persistent_term.erase(kept)
  end

  # A key the VM already has when the scenario starts: erasing it, reading it, putting it.
  defp vm_key_scenario(key) do
    [
      PersistentTerm.get(key),
      PersistentTerm.erase(key),
      attempt(fn -> PersistentTerm.get(key) end),
      PersistentTerm.get(key, :gone),
      PersistentTerm.erase(key),
      Enum.any?(PersistentTerm.get(), &match?({^key, _}, &1)),
      PersistentTerm.put(key, :again),
      for({^key, value} <- PersistentTerm.get(), do: value),
      PersistentTerm.put(key, :replaced),
      PersistentTerm.get(key)
    ]
  end

  test "differential: a key the VM has, erased and put again" do
    key = {__MODULE__, :vm_key}
    :persistent_term.put(key, :vm)
    expected = vm_key_scenario(key)
    :persistent_term.put(key, :vm)
    assert inside(fn -> vm_key_scenario(key) end) == expected

    assert expected ==
             [:vm, true, {:raised, ArgumentError}, :gone, false, false, :ok, [:again]] ++
               [:ok, :replaced]

    # The run changed its own term only.
    assert :persistent_term.get(key) == :vm
    :persistent_term.erase(key)
  end

  test "a run's missing key raises the error :persistent_term.get/1 raises" do
    key = {__MODULE__, :missing}
    :persistent_term.put(key, :vm)

    raised =
      inside(fn ->
        PersistentTerm.erase(key)

        try do
          PersistentTerm.get(key)
        rescue
          e -> {e, hd(__STACKTRACE__)}
        end
      end)

    :persistent_term.erase(key)

    assert {%ArgumentError{message: message},
            {:persistent_term, :get, [^key], [error_info: %{module: :erl_erts_errors}]}} = raised

    assert message =~ "no persistent term stored with this key"
  end

  test "inside a run the run's terms are its own: plain :persistent_term does not see them" do
    key = {__MODULE__, :private}
    shadowed = {__MODULE__, :shadowed}
    :persistent_term.put(shadowed, :vm)

    assert inside(fn ->
             :ok = PersistentTerm.put(key, :run)
             :ok = PersistentTerm.put(shadowed, :run)

             me = self()

             Lockstep.spawn(fn ->
               Lockstep.send(me, {:child, PersistentTerm.get(key), PersistentTerm.get(shadowed)})
             end)

             {:child, :run, :run} = Lockstep.recv()

             {PersistentTerm.get(key), :persistent_term.get(key, :none),
              PersistentTerm.get(shadowed), :persistent_term.get(shadowed),
              Enum.count(PersistentTerm.get(), &match?({^shadowed, _}, &1))}
           end) == {:run, :none, :run, :vm, 1}

    assert :persistent_term.get(key, :none) == :none
    assert :persistent_term.get(shadowed) == :vm
    :persistent_term.erase(shadowed)
  end

  test "a lost update on a read-then-write of an atomic is found" do
    bug =
      bug(
        fn ->
          a = Atomics.new(1, [])
          me = self()

          for _ <- 1..2 do
            Lockstep.spawn(fn ->
              Atomics.put(a, 1, Atomics.get(a, 1) + 1)
              Lockstep.send(me, :done)
            end)
          end

          :done = Lockstep.recv()
          :done = Lockstep.recv()
          2 = Atomics.get(a, 1)
        end,
        iterations: 100
      )

    assert %Lockstep.BugFound{reason: {:exception, _}} = bug
  end

  test "outside a run each function is the plain call" do
    a = Atomics.new(1, [])
    assert Atomics.add_get(a, 1, 2) == 2 and :atomics.get(a, 1) == 2
    c = Counters.new(1, [])
    assert Counters.add(c, 1, 3) == :ok and :counters.get(c, 1) == 3
    key = {__MODULE__, :plain}
    assert PersistentTerm.put(key, 1) == :ok and :persistent_term.get(key) == 1
    assert PersistentTerm.erase(key)
  end
end

defmodule Lockstep.HistoryTest do
  use ExUnit.Case, async: true

  alias Lockstep.Checker.Linearizable
  alias Lockstep.History

  test "outside a run: plain records, oldest first, in the checkers' shape" do
    h = History.new()
    :ok = History.invoke(h, 0, :write, 1)
    :ok = History.ok(h, 0, :write, 1)
    :ok = History.invoke(h, 1, :cas, [1, 2])
    :ok = History.fail(h, 1, :cas, [1, 2])
    :ok = History.invoke(h, 2, :write, 3)
    :ok = History.info(h, 2, :write, nil)

    assert History.events(h) == [
             %{process: 0, type: :invoke, f: :write, value: 1},
             %{process: 0, type: :ok, f: :write, value: 1},
             %{process: 1, type: :invoke, f: :cas, value: [1, 2]},
             %{process: 1, type: :fail, f: :cas, value: [1, 2]},
             %{process: 2, type: :invoke, f: :write, value: 3},
             %{process: 2, type: :info, f: :write, value: nil}
           ]

    assert {:error, _} = Linearizable.check(h, :cas_register)
    History.delete(h)
  end

  test "op/4 records the result, or info and re-raises when the function fails" do
    h = History.new()
    assert History.op(h, :read, nil, fn -> 7 end) == 7
    assert_raise RuntimeError, fn -> History.op(h, :write, 1, fn -> raise "boom" end) end
    assert catch_throw(History.op(h, :write, 2, fn -> throw(:t) end)) == :t
    assert catch_exit(History.op(h, :write, 3, fn -> exit(:e) end)) == :e
    me = self()

    assert [
             %{process: ^me, type: :invoke, f: :read, value: nil},
             %{type: :ok, value: 7},
             %{type: :invoke, value: 1},
             %{type: :info},
             %{type: :invoke, value: 2},
             %{type: :info},
             %{type: :invoke, value: 3},
             %{type: :info}
           ] = History.events(h)
  end

  test "the table belongs to its creator and goes away with it" do
    parent = self()

    pid =
      spawn(fn ->
        send(parent, History.new())
        receive do: (:stop -> :ok)
      end)

    h = receive do: (%History{} = h -> h)
    History.invoke(h, 0, :read, nil)
    ref = Process.monitor(pid)
    send(pid, :stop)
    assert_receive {:DOWN, ^ref, _, _, _}
    assert :ets.info(h.table) == :undefined
  end

  # A register held by a process. The racy client builds compare-and-set from a get and a set, so
  # two clients can both see the expected value and both "succeed"; the atomic one asks the
  # register process to do it in one step.
  defmodule Register do
    def loop(v) do
      case Lockstep.recv() do
        {:get, from} ->
          Lockstep.send(from, {:value, v})
          loop(v)

        {:set, new, from} ->
          Lockstep.send(from, :set)
          loop(new)

        {:cas, expected, new, from} ->
          Lockstep.send(from, {:cas, v == expected})
          loop(if v == expected, do: new, else: v)
      end
    end

    def get(reg) do
      Lockstep.send(reg, {:get, self()})
      {:value, v} = Lockstep.recv()
      v
    end

    def racy_cas(reg, expected, new) do
      if get(reg) == expected do
        Lockstep.send(reg, {:set, new, self()})
        :set = Lockstep.recv()
        true
      else
        false
      end
    end

    def atomic_cas(reg, expected, new) do
      Lockstep.send(reg, {:cas, expected, new, self()})
      {:cas, ok} = Lockstep.recv()
      ok
    end
  end

  defp scenario(cas) do
    fn ->
      h = History.new()
      reg = Lockstep.spawn(fn -> Register.loop(0) end)
      me = self()

      for c <- 1..2 do
        Lockstep.spawn(fn ->
          History.invoke(h, c, :cas, [0, c])

          if cas.(reg, 0, c),
            do: History.ok(h, c, :cas, [0, c]),
            else: History.fail(h, c, :cas, [0, c])

          History.op(h, :read, nil, fn -> Register.get(reg) end)
          Lockstep.send(me, :done)
        end)
      end

      :done = Lockstep.recv()
      :done = Lockstep.recv()

      case Linearizable.check(h, :cas_register, initial: 0) do
        :ok -> :ok
        {:error, violation} -> raise "not linearizable:\n" <> violation.text
      end
    end
  end

  test "inside a run: a racy compare-and-set is found not linearizable" do
    error =
      assert_raise Lockstep.BugFound, fn ->
        Lockstep.Runner.run(scenario(&Register.racy_cas/3), iterations: 100, seed: 7)
      end

    assert Exception.message(error) =~ "not linearizable"
  end

  test "inside a run: an atomic compare-and-set passes" do
    assert Lockstep.Runner.run(scenario(&Register.atomic_cas/3), iterations: 100, seed: 7) == :ok
  end

  test "inside a run, each record is a sync point in the trace" do
    body = fn ->
      h = History.new()
      History.op(h, :read, nil, fn -> 1 end)
      raise "stop: #{length(History.events(h))} events"
    end

    error = assert_raise Lockstep.BugFound, fn -> Lockstep.Runner.run(body, iterations: 1) end
    assert Exception.message(error) =~ "stop: 2 events"
    assert Exception.message(error) =~ "history"
  end

  test "events carry a key for the :kv model, recorded with key:" do
    h = History.new()
    History.op(h, :put, 1, fn -> :ok end, key: :x)
    History.op(h, :put, 2, fn -> :ok end, key: :y)
    History.op(h, :get, nil, fn -> 1 end, key: :x)
    assert [%{f: :put, key: :x}, %{f: :put, key: :x}, %{key: :y} | _] = History.events(h)
    assert :ok = Lockstep.Checker.Linearizable.check(h, :kv)

    # A read of :y that saw :x's value is caught, on :y.
    History.op(h, :get, nil, fn -> 1 end, key: :y)
    assert {:error, v} = Lockstep.Checker.Linearizable.check(h, :kv)
    assert v.text =~ ":y" or v.partition =~ "y"

    # Without key: the events have no :key, as before.
    plain = History.new()
    History.op(plain, :write, 1, fn -> :ok end)
    refute Map.has_key?(hd(History.events(plain)), :key)

    assert_raise ArgumentError, ~r/history options are key: k/, fn ->
      History.op(plain, :write, 1, fn -> :ok end, keys: :x)
    end
  end
end

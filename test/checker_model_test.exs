defmodule Lockstep.CheckerModelTest do
  # A Lockstep.Model written in Elixir must give the same verdicts as the built-in model.
  use ExUnit.Case, async: true

  alias Lockstep.Checker.{Linearizable, SequentialConsistency}

  defmodule CasRegister do
    @behaviour Lockstep.Model

    @impl true
    def init, do: nil

    @impl true
    def step(state, {:read, _}, {:ok, seen}),
      do: if(seen == state, do: {:ok, state}, else: :error)

    def step(state, {:read, _}, _), do: {:ok, state}
    def step(_state, {:write, v}, _), do: {:ok, v}

    def step(state, {:cas, [from, to]}, {:ok, _}),
      do: if(state == from, do: {:ok, to}, else: :error)

    def step(state, {:cas, [from, _]}, {:fail, _}),
      do: if(state != from, do: {:ok, state}, else: :error)

    def step(state, {:cas, [from, to]}, :unknown),
      do: {:ok, if(state == from, do: to, else: state)}
  end

  # States are tuples, inputs use tuples: both must come back to step/3 as they were given.
  defmodule TupleCounter do
    @behaviour Lockstep.Model
    def init, do: {:count, 0}
    def step({:count, n}, {:add, {:by, k}}, _), do: {:ok, {:count, n + k}}

    def step({:count, n} = s, {:get, nil}, {:ok, seen}),
      do: if(seen == n, do: {:ok, s}, else: :error)

    def step(_, _, :unknown), do: :error
  end

  defmodule Broken do
    def init, do: nil
    def step(_, _, _), do: :maybe
  end

  @data Path.expand("../shared/data/porcupine/jepsen", File.cwd!())

  test "an Elixir register gives the built-in verdicts on small histories" do
    stale = [
      {0, :invoke, :write, 1},
      {0, :ok, :write, 1},
      {1, :invoke, :read, nil},
      {1, :ok, :read, nil}
    ]

    assert {:error, v} = Linearizable.check(stale, CasRegister)
    assert v.failing =~ "read"
    assert SequentialConsistency.check(stale, CasRegister) == :ok

    cas = [
      {0, :invoke, :cas, [nil, 1]},
      {1, :invoke, :read, nil},
      {0, :ok, :cas, [nil, 1]},
      {1, :ok, :read, 1}
    ]

    assert Linearizable.check(cas, CasRegister) == :ok
  end

  test "states and values that are tuples reach step/3 unchanged" do
    events = [
      {0, :invoke, :add, {:by, 2}},
      {1, :invoke, :get, nil},
      {0, :ok, :add, {:by, 2}},
      {1, :ok, :get, 2}
    ]

    assert Linearizable.check(events, TupleCounter) == :ok

    assert {:error, _} =
             Linearizable.check(
               events ++ [{1, :invoke, :get, nil}, {1, :ok, :get, 0}],
               TupleCounter
             )
  end

  test "a model returning something else is a clear error" do
    assert_raise ArgumentError, ~r/must return \{:ok, next_state\} or :error, got: :maybe/, fn ->
      Linearizable.check([{0, :invoke, :read, nil}, {0, :ok, :read, nil}], Broken)
    end
  end

  if File.dir?(@data) do
    test "an Elixir CAS register agrees with :cas_register on etcd histories" do
      for n <- ~w(000 001 003 005 018 025) do
        path = {:file, Path.join(@data, "etcd_#{n}.log")}
        builtin = Linearizable.check(path, :cas_register)
        user = Linearizable.check(path, CasRegister)

        assert match?(:ok, builtin) == match?(:ok, user),
               "etcd_#{n}: #{inspect(builtin)} vs #{inspect(user)}"

        assert match?({:error, _}, user) or user == :ok
      end
    end
  else
    IO.puts("Skipping the Elixir-model conformance test: #{@data} is absent")
  end
end

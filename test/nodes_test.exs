defmodule Lockstep.NodesTest do
  # Starts peer nodes: a few seconds per test.
  use ExUnit.Case, async: false
  use Lockstep.Test
  @moduletag :nodes

  alias Lockstep.{BugFound, Corpus, Runner}

  import Lockstep.CorpusChecks, only: [outcome: 1]

  defp hunt(fun, opts), do: Lockstep.CorpusChecks.hunt_fun(fun, opts)

  defp peers,
    do: Enum.filter(Node.list(), &String.starts_with?(Atom.to_string(&1), "lockstep_peer"))

  for {name, seed} <- [check_then_act: 2, transfer_ring: 1] do
    @name name
    @seed seed
    test "#{name}, seed #{seed}: 2 peer nodes find what 1 worker finds" do
      entry = Enum.find(Corpus.all(), &(&1.name == @name))
      opts = entry.opts ++ [seed: @seed, iterations: 300, strategy: :pct]
      one = hunt(&entry.module.run/0, [workers: 1] ++ opts)
      two = hunt(&entry.module.run/0, [nodes: 2] ++ opts)

      assert %BugFound{iteration: iteration} = one
      assert iteration >= 10
      assert %BugFound{} = two
      assert outcome(two) == outcome(one)
      assert peers() == []
    end
  end

  test "a passing hunt on 2 peers runs every iteration once, on the peers" do
    # Each run tells the caller (its pid travels in the closure) which node ran it.
    me = self()

    body = fn ->
      send(me, {:ran, node()})
      :ok
    end

    # (`body` belongs to this in-memory test module: its object code is shipped.)
    assert hunt(body, nodes: 2, iterations: 20, seed: 1) == nil
    ran = for _ <- 1..20, do: assert_receive({:ran, n}, 1_000) && n
    refute_received {:ran, _}
    assert node() not in ran
    assert length(Enum.uniq(ran)) in [1, 2]
    assert peers() == []
  end

  test "nodes given by name: used as they are, and left running" do
    unless Node.alive?() do
      System.cmd("epmd", ["-daemon"])
      {:ok, _} = Node.start(:"nodes_test_#{System.unique_integer([:positive])}", :shortnames)
    end

    paths = Enum.flat_map(:code.get_path(), &[~c"-pa", &1])
    name = :peer.random_name(~c"named_peer")
    {:ok, pid, node} = :peer.start_link(%{name: name, args: paths, wait_boot: 30_000})

    try do
      :erpc.call(node, :application, :ensure_all_started, [:elixir])
      entry = Enum.find(Corpus.all(), &(&1.name == :check_then_act))
      opts = entry.opts ++ [seed: 2, iterations: 300, strategy: :pct]
      one = hunt(&entry.module.run/0, [workers: 1] ++ opts)
      named = hunt(&entry.module.run/0, [nodes: [node]] ++ opts)
      assert %BugFound{} = named
      assert outcome(named) == outcome(one)
      assert node in Node.list()
      assert :erpc.call(node, :erlang, :node, []) == node
    after
      :peer.stop(pid)
    end

    assert_raise ArgumentError, ~r/option :nodes: cannot connect to nowhere@nohost/, fn ->
      Runner.run(fn -> :ok end, nodes: [:nowhere@nohost])
    end
  end

  test "modules instrumented at run time are instrumented on the peers too" do
    :ok = Lockstep.instrument([PlainCode.Counter])

    body = fn ->
      me = self()
      counter = PlainCode.Counter.start()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          PlainCode.Counter.increment(counter)
          Lockstep.send(me, :done)
        end)
      end

      :done = Lockstep.recv()
      :done = Lockstep.recv()
      2 = PlainCode.Counter.get(counter)
    end

    try do
      opts = [seed: 3, iterations: 200]
      one = hunt(body, [workers: 1] ++ opts)
      two = hunt(body, [nodes: 2] ++ opts)
      assert %BugFound{reason: {:exception, _}} = one
      assert outcome(two) == outcome(one)
      assert peers() == []
    after
      Lockstep.uninstrument([PlainCode.Counter])
    end
  end

  test "bad nodes values raise naming :nodes" do
    for bad <- [0, -1, 1.5, [], "2", [1], 65] do
      assert_raise ArgumentError, ~r/option :nodes/, fn ->
        Runner.run(fn -> :ok end, nodes: bad)
      end
    end
  end

  test "mix lockstep.hunt --nodes N sets LOCKSTEP_NODES, which the runner validates" do
    {_, env, _} = Mix.Tasks.Lockstep.Hunt.parse!(["t.exs", "--time", "1s", "--nodes", "2"])
    assert Map.new(env)["LOCKSTEP_NODES"] == "2"
    {_, env, _} = Mix.Tasks.Lockstep.Hunt.parse!(["t.exs", "--time", "1s"])
    refute Map.has_key?(Map.new(env), "LOCKSTEP_NODES")

    assert_raise Mix.Error, ~r/--nodes/, fn ->
      Mix.Tasks.Lockstep.Hunt.parse!(["t.exs", "--time", "1s", "--nodes", "0"])
    end
  end
end

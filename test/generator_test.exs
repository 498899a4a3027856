defmodule Lockstep.GeneratorTest do
  use ExUnit.Case, async: true

  alias Lockstep.Generator, as: G

  test "deterministic for a seed, different across seeds" do
    gen = G.random(1..1000) |> G.take(20)
    assert G.to_list(gen, 1) == G.to_list(gen, 1)
    assert length(G.to_list(gen, 1)) == 20
    refute G.to_list(gen, 1) == G.to_list(gen, 2)
  end

  test "cycle and take" do
    assert G.cycle([:a, :b, :c]) |> G.take(7) |> G.to_list(0) == [:a, :b, :c, :a, :b, :c, :a]
    assert G.cycle([:a]) |> G.take(0) |> G.to_list(0) == []
  end

  test "weighted follows the weights" do
    counts =
      G.weighted([{3, :read}, {1, :write}]) |> G.take(4000) |> G.to_list(5) |> Enum.frequencies()

    assert counts.read in 2800..3200
    assert counts.write in 800..1200
  end

  test "mix interleaves until every generator ends" do
    ops = G.mix([G.cycle([:r]) |> G.take(5), G.cycle([:w]) |> G.take(3)]) |> G.to_list(9)
    assert Enum.frequencies(ops) == %{r: 5, w: 3}
    assert G.mix([]) |> G.to_list(0) == []
  end

  test "each gives every process its own deterministic stream" do
    gen = G.random(1..1_000_000) |> G.take(5)
    per = G.each(gen, [:p1, :p2], 3)
    assert per == G.each(gen, [:p1, :p2], 3)
    assert map_size(per) == 2
    refute per.p1 == per.p2
  end

  test "generators are immutable values" do
    gen = G.random([1, 2, 3]) |> G.take(10)
    first = G.to_list(gen, 4)
    _ = G.to_list(gen, 5)
    assert G.to_list(gen, 4) == first
  end

  test "bad arguments" do
    assert_raise ArgumentError, ~r/non-empty/, fn -> G.random([]) end
    assert_raise ArgumentError, ~r/weighted/, fn -> G.weighted([{0, :a}]) end
    assert_raise ArgumentError, ~r/take\/2/, fn -> G.to_list(G.cycle([1]), 0) end
    assert_raise ArgumentError, ~r/seed/, fn -> G.to_list(G.take(G.cycle([1]), 1), -1) end
    assert_raise ArgumentError, ~r/Lockstep.Generator/, fn -> G.take([1, 2], 1) end
  end
end

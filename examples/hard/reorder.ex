defmodule Lockstep.Hard.Reorder do
  @moduledoc """
  SCTBench's `reorder` written with messages: nine setters and one checker share a state
  process holding two fields, `a` and `b`.

  Each setter sets `a` to 1 and then `b` to -1 with two separate messages, on the assumption
  that nobody looks in between. The checker reads `a`, then `b`, also with two messages, and
  expects either the initial pair `{0, 0}` or the final pair `{1, -1}`. Eleven processes run;
  every setter's two writes and the checker's two reads interleave freely.

  Failing schedule: some setter's `{:set, :a, 1}` is handled, then the checker's `:get a`
  (1), then the checker's `:get b` before any setter's `{:set, :b, -1}` (0): the checker
  sees `{1, 0}`, a pair no setter ever meant to publish. If the checker reads both fields
  before any setter runs, or after every setter finished, it passes.
  """

  @setters 9

  @doc "The shared state: a map of field to value."
  def state(fields) do
    case Lockstep.recv() do
      {:set, field, value} ->
        state(Map.put(fields, field, value))

      {:get, field, from} ->
        Lockstep.send(from, {:value, field, Map.fetch!(fields, field)})
        state(fields)
    end
  end

  defp get(state, field) do
    Lockstep.send(state, {:get, field, self()})
    {:value, ^field, value} = Lockstep.recv_first(&match?({:value, ^field, _}, &1))
    value
  end

  @doc "A setter: two writes that belong together, sent one after the other."
  def setter(state) do
    Lockstep.send(state, {:set, :a, 1})
    Lockstep.send(state, {:set, :b, -1})
  end

  @doc "Nine setters and a checker; the checker must see a consistent pair."
  def run do
    me = self()
    state = Lockstep.spawn(fn -> state(%{a: 0, b: 0}) end)

    for _ <- 1..@setters do
      Lockstep.spawn(fn ->
        setter(state)
        Lockstep.send(me, :set)
      end)
    end

    Lockstep.spawn(fn ->
      a = get(state, :a)
      b = get(state, :b)
      Lockstep.send(me, {:checked, a, b})
    end)

    for _ <- 1..@setters, do: :set = Lockstep.recv_first(&(&1 == :set))
    {:checked, a, b} = Lockstep.recv_first(&match?({:checked, _, _}, &1))

    if {a, b} not in [{0, 0}, {1, -1}] do
      raise "the checker saw a = #{a}, b = #{b}: half of a setter's update"
    end
  end
end

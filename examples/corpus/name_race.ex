defmodule Lockstep.Corpus.NameRace do
  @moduledoc """
  A lazily started singleton: the first caller starts the rate limiter and registers it under
  a name, later callers look the name up.

  `ensure_started/0` is `whereis`, then `spawn` and `register` when the name is free. Two
  callers can both see `nil` before either registers; both start a limiter, and the second
  `register/2` raises `ArgumentError` because the name is taken, crashing that caller.

  Failing schedule: caller 1's `whereis` returns nil, caller 2's `whereis` returns nil,
  caller 1 spawns and registers, caller 2 spawns and its `register` raises. It passes
  whenever one caller registers before the other looks the name up.
  """

  @name :rate_limiter

  @doc "The limiter: allows `limit` requests per key."
  def limiter(limit, used) do
    {:check, key, from} = Lockstep.recv()
    count = Map.get(used, key, 0)
    Lockstep.send(from, {:checked, key, count < limit})
    limiter(limit, Map.put(used, key, count + 1))
  end

  @doc "The registered limiter, started on first use."
  def ensure_started do
    case Lockstep.whereis(@name) do
      nil ->
        pid = Lockstep.spawn(fn -> limiter(10, %{}) end)
        Lockstep.register(pid, @name)
        pid

      pid ->
        pid
    end
  end

  @doc "Whether a request for `key` is allowed."
  def allow?(key) do
    limiter = ensure_started()
    Lockstep.send(limiter, {:check, key, self()})
    {:checked, ^key, allowed} = Lockstep.recv()
    allowed
  end

  @doc "Two callers use the limiter for the first time at once."
  def run do
    me = self()

    for user <- [:alice, :bob] do
      Lockstep.spawn(fn -> Lockstep.send(me, {user, allow?(user)}) end)
    end

    for _ <- 1..2, do: {_user, true} = Lockstep.recv()
  end
end

defmodule Lockstep.Hard.WrongLock do
  @moduledoc """
  SCTBench's `wronglock` written with messages: ten workers increment a shared counter by
  read-modify-write, each under a lock, but one of them takes the wrong lock.

  The counter lives in a state process (`:get` and `:put` are separate messages); two lock
  processes grant one holder at a time. Nine workers lock `:stats`, which guards the
  counter; the tenth, written against an older module, locks `:audit`. Its read-modify-write
  is then only ordered against the others by luck: twelve processes run and most
  interleavings keep it apart from the nine correctly locked updates.

  Failing schedule: a correctly locked worker reads the counter (say 3); the wrong-lock
  worker, holding only `:audit`, reads 3 as well; both write 4. The final count is 9, not
  10. Any schedule where the tenth worker's read and write fall between two other workers'
  critical sections passes.
  """

  @workers 9

  @doc "A lock: grants one holder at a time, queueing the others."
  def lock do
    {:acquire, owner} = Lockstep.recv_first(&match?({:acquire, _}, &1))
    Lockstep.send(owner, {:granted, self()})
    :release = Lockstep.recv_first(&(&1 == :release))
    lock()
  end

  @doc "The counter: a value read and written by separate messages."
  def counter(value) do
    case Lockstep.recv() do
      {:get, from} ->
        Lockstep.send(from, {:count, value})
        counter(value)

      {:put, new} ->
        counter(new)
    end
  end

  defp with_lock(lock, fun) do
    Lockstep.send(lock, {:acquire, self()})
    {:granted, ^lock} = Lockstep.recv_first(&match?({:granted, ^lock}, &1))
    fun.()
    Lockstep.send(lock, :release)
  end

  defp increment(counter) do
    Lockstep.send(counter, {:get, self()})
    {:count, value} = Lockstep.recv_first(&match?({:count, _}, &1))
    Lockstep.send(counter, {:put, value + 1})
  end

  @doc "Nine workers under the right lock, one under the wrong one; all ten must count."
  def run do
    me = self()
    counter = Lockstep.spawn(fn -> counter(0) end)
    stats = Lockstep.spawn(&lock/0)
    audit = Lockstep.spawn(&lock/0)

    for lock <- List.duplicate(stats, @workers) ++ [audit] do
      Lockstep.spawn(fn ->
        with_lock(lock, fn -> increment(counter) end)
        Lockstep.send(me, :done)
      end)
    end

    for _ <- 0..@workers, do: :done = Lockstep.recv_first(&(&1 == :done))

    Lockstep.send(counter, {:get, self()})
    {:count, count} = Lockstep.recv_first(&match?({:count, _}, &1))

    if count != @workers + 1 do
      raise "#{@workers + 1} locked increments left the counter at #{count}"
    end
  end
end

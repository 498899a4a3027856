defmodule Lockstep.Hard.TwoStage do
  @moduledoc """
  SCTBench's `twostage` written with messages: writers update two registers in two stages,
  each under its own lock, and let go of the first lock before they take the second.

  Two registers (state processes with separate `:get` and `:put` messages) hold `first` and
  `second`, with the invariant `second == first + 1` (they start at 0 and 1). Two lock
  processes guard them, `:first_lock` and `:second_lock`. Each of eight writers takes the first
  lock, reads `first` and writes it plus one, releases the first lock, then takes the second
  lock and writes `second` as the new `first` plus one. Two readers take both locks, the first
  one first, read both registers and check the invariant. Fifteen processes run.

  The bug is the gap between the stages: a writer that released the first lock but has not
  yet taken the second one has left `first` updated and `second` not. Failing schedule: a
  writer finishes its first stage (`first` = 1); a reader takes the first lock, then the second
  (free: the writer has not asked for it yet), and reads `first` = 1, `second` = 1. The
  invariant asks for 2. Every schedule where no reader gets both locks inside a writer's gap
  passes: the writers' own stages are ordered by the locks, so the final registers are right.
  """

  @writers 8
  @readers 2

  @doc "A lock: grants one holder at a time, queueing the others."
  def lock do
    {:acquire, owner} = Lockstep.recv_first(&match?({:acquire, _}, &1))
    Lockstep.send(owner, {:granted, self()})
    :release = Lockstep.recv_first(&(&1 == :release))
    lock()
  end

  @doc "A register: a value read and written by separate messages."
  def register(value) do
    case Lockstep.recv() do
      {:get, from} ->
        Lockstep.send(from, {:value, self(), value})
        register(value)

      {:put, new} ->
        register(new)
    end
  end

  defp acquire(lock) do
    Lockstep.send(lock, {:acquire, self()})
    {:granted, ^lock} = Lockstep.recv_first(&match?({:granted, ^lock}, &1))
  end

  defp release(lock), do: Lockstep.send(lock, :release)

  defp get(register) do
    Lockstep.send(register, {:get, self()})
    {:value, ^register, v} = Lockstep.recv_first(&match?({:value, ^register, _}, &1))
    v
  end

  defp writer(%{first: first, second: second, first_lock: l1, second_lock: l2}) do
    acquire(l1)
    n = get(first) + 1
    Lockstep.send(first, {:put, n})
    release(l1)
    # The gap: `first` is n, `second` still the old value.
    acquire(l2)
    Lockstep.send(second, {:put, n + 1})
    release(l2)
  end

  defp reader(%{first: first, second: second, first_lock: l1, second_lock: l2}) do
    acquire(l1)
    acquire(l2)
    {a, b} = {get(first), get(second)}
    release(l2)
    release(l1)
    {a, b}
  end

  @doc "Eight two-stage writers and two readers; every read must see `second == first + 1`."
  def run do
    me = self()

    shared = %{
      first: Lockstep.spawn(fn -> register(0) end),
      second: Lockstep.spawn(fn -> register(1) end),
      first_lock: Lockstep.spawn(&lock/0),
      second_lock: Lockstep.spawn(&lock/0)
    }

    for _ <- 1..@writers do
      Lockstep.spawn(fn ->
        writer(shared)
        Lockstep.send(me, :written)
      end)
    end

    for _ <- 1..@readers do
      Lockstep.spawn(fn -> Lockstep.send(me, {:read, reader(shared)}) end)
    end

    reads =
      for _ <- 1..(@writers + @readers), reduce: [] do
        acc ->
          case Lockstep.recv_first(&(&1 == :written or match?({:read, _}, &1))) do
            :written -> acc
            {:read, pair} -> [pair | acc]
          end
      end

    for {a, b} <- reads, b != a + 1 do
      raise "a reader holding both locks read first = #{a}, second = #{b}: " <>
              "second must be first + 1"
    end

    :ok
  end
end

defmodule Lockstep.Corpus.TransferRing do
  @moduledoc """
  Money transfers that lock the source account, then the destination, then move the money.

  Each account is a process that grants a lock to one owner at a time and queues other
  lockers. Three transfers run at once around a ring: A to B, B to C and C to A. Locking
  "source first" has no global order, so the three can each hold their source while asking
  for a destination another one holds: a three-way deadlock.

  The deadlock needs three ordering constraints at once, one per edge of the cycle: each
  transfer's first lock must be granted before the transfer behind it in the ring asks for
  that account as its destination (A's lock to A->B before C->A's second lock, B's to B->C
  before A->B's, C's to C->A before B->C's). With any one of them reversed, some transfer
  gets both locks and the ring drains. That is a bug of depth 3 in PCT's terms. Each lock
  request blocks its transfer until the account answers, and those waits are natural
  switch points, so a scheduler needs no preemption to line the three grants up.

  Failing schedule: each transfer sends its first `:lock` and is granted it before any
  transfer's second `:lock` is handled; then every transfer waits for a grant held by the
  next: deadlock, with the three transfers and the root blocked.
  """

  @doc "An account: a balance plus a lock with a queue of waiting lockers."
  def account(balance) do
    {:lock, owner} = Lockstep.recv_first(&match?({:lock, _}, &1))
    Lockstep.send(owner, {:locked, self()})
    locked(balance, owner)
  end

  defp locked(balance, owner) do
    case Lockstep.recv_first(&owned_by?(&1, owner)) do
      {:add, ^owner, amount} ->
        locked(balance + amount, owner)

      {:balance, ^owner} ->
        Lockstep.send(owner, {:balance, self(), balance})
        locked(balance, owner)

      {:unlock, ^owner} ->
        account(balance)
    end
  end

  defp owned_by?({_op, owner}, owner), do: true
  defp owned_by?({_op, owner, _arg}, owner), do: true
  defp owned_by?(_msg, _owner), do: false

  defp lock(account) do
    Lockstep.send(account, {:lock, self()})
    {:locked, ^account} = Lockstep.recv_first(&match?({:locked, ^account}, &1))
  end

  @doc "Moves `amount` from `from` to `to` while holding both accounts' locks."
  def transfer(from, to, amount) do
    lock(from)
    lock(to)
    Lockstep.send(from, {:add, self(), -amount})
    Lockstep.send(to, {:add, self(), amount})
    Lockstep.send(to, {:unlock, self()})
    Lockstep.send(from, {:unlock, self()})
  end

  @doc "Three transfers around a ring of accounts; the total must be conserved."
  def run do
    me = self()
    [a, b, c] = for _ <- 1..3, do: Lockstep.spawn(fn -> account(100) end)

    for {from, to} <- [{a, b}, {b, c}, {c, a}] do
      Lockstep.spawn(fn ->
        transfer(from, to, 10)
        Lockstep.send(me, :transferred)
      end)
    end

    for _ <- 1..3, do: :transferred = Lockstep.recv()

    total =
      Enum.sum(
        for account <- [a, b, c] do
          lock(account)
          Lockstep.send(account, {:balance, self()})

          {:balance, ^account, balance} =
            Lockstep.recv_first(&match?({:balance, ^account, _}, &1))

          Lockstep.send(account, {:unlock, self()})
          balance
        end
      )

    if total != 300, do: raise("the accounts hold #{total} after the transfers, expected 300")
  end
end

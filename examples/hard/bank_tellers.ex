defmodule Lockstep.Hard.BankTellers do
  @moduledoc """
  One bank account served by ten tellers: eight take deposits, two pay out withdrawals after
  checking the balance.

  The account process handles `:balance`, `{:deposit, n}` and `{:withdraw, n}` one message at
  a time, and records the lowest balance it ever held. A withdrawing teller asks for the
  balance and, if it covers the amount, sends the withdrawal: check, then act, in two
  messages. The account starts at 20; each depositor adds 10; each withdrawal is 50, so the
  account only covers both withdrawals once enough deposits are in.

  Failing schedule: enough deposits arrive for one withdrawal (balance 50 to 90); both
  withdrawing tellers ask for the balance and each sees it covers 50; both withdraw before
  enough further deposits arrive, and the balance goes below zero. The check at the end
  finds the overdraft in the account's lowest balance. Whenever the second teller's check
  comes after the first teller's withdrawal, or after the deposits, it passes.
  """

  @depositors 8
  @withdrawers 2

  @doc "The account: the balance and the lowest balance so far."
  def account(balance, lowest) do
    case Lockstep.recv() do
      {:balance, from} ->
        Lockstep.send(from, {:balance, balance})
        account(balance, lowest)

      {:deposit, amount} ->
        account(balance + amount, lowest)

      {:withdraw, amount} ->
        account(balance - amount, min(lowest, balance - amount))

      {:lowest, from} ->
        Lockstep.send(from, {:lowest, lowest})
        account(balance, lowest)
    end
  end

  @doc "A teller paying out `amount` if the balance covers it; true when it paid."
  def withdraw(account, amount) do
    Lockstep.send(account, {:balance, self()})
    {:balance, balance} = Lockstep.recv()

    if balance >= amount do
      Lockstep.send(account, {:withdraw, amount})
      true
    else
      false
    end
  end

  @doc "Eight deposits and two guarded withdrawals; the account may never go negative."
  def run do
    me = self()
    account = Lockstep.spawn(fn -> account(20, 20) end)

    for _ <- 1..@depositors do
      Lockstep.spawn(fn ->
        Lockstep.send(account, {:deposit, 10})
        Lockstep.send(me, :teller_done)
      end)
    end

    for _ <- 1..@withdrawers do
      Lockstep.spawn(fn ->
        withdraw(account, 50)
        Lockstep.send(me, :teller_done)
      end)
    end

    for _ <- 1..(@depositors + @withdrawers), do: :teller_done = Lockstep.recv()

    Lockstep.send(account, {:lowest, self()})
    {:lowest, lowest} = Lockstep.recv()
    if lowest < 0, do: raise("the account was overdrawn to #{lowest}")
  end
end

defmodule Lockstep.Examples do
  @moduledoc """
  Small programs with real concurrency bugs, hunted by `mix lockstep.demo` and by the test
  suite. Each module has `title/0` and `run/0` (the test body).
  """

  @examples [
    lost_update: Lockstep.Examples.LostUpdate,
    check_then_act: Lockstep.Examples.CheckThenAct,
    sender_order: Lockstep.Examples.SenderOrder,
    call_deadlock: Lockstep.Examples.CallDeadlock
  ]

  @doc "`[{name, module}]` in demo order."
  def all, do: @examples
end

defmodule Lockstep.Task.Supervised do
  # The task processes behind Lockstep.Task and Lockstep.Task.Supervisor inside a run, shaped
  # like Elixir's Task.Supervised: a task that replies (`async`) waits for its request
  # `{owner, ref, reply_to, callers, mfa}` and answers `{ref, result}`; a task that does not
  # (`start`, `start_child`) just runs its function. `:"$callers"` is set as OTP sets it.
  @moduledoc false

  @typedoc "A function to run: `{module, function, args}`."
  @type mfa_call :: {module(), atom(), [term()]}

  @doc "Starts a task that runs `mfa` and replies to nobody."
  @spec start(pid(), [pid()], mfa_call()) :: {:ok, pid()}
  def start(_owner, callers, mfa), do: {:ok, Lockstep.spawn(fn -> noreply(callers, mfa) end)}

  @doc "Like `start/3`, linked to the caller."
  @spec start_link(pid(), [pid()], mfa_call()) :: {:ok, pid()}
  def start_link(_owner, callers, mfa),
    do: {:ok, Lockstep.spawn_link(fn -> noreply(callers, mfa) end)}

  @doc """
  Starts a linked task that waits for its request from `owner`. With `:monitor` (tasks started
  by a task supervisor on the owner's behalf) it monitors the owner meanwhile: it exits
  `{:shutdown, reason}` if the owner dies first, and `:timeout` after 5000 ms (virtual).
  """
  @spec start_link(pid(), :monitor | :nomonitor) :: {:ok, pid()}
  def start_link(owner, monitor) when monitor in [:monitor, :nomonitor] do
    {:ok, Lockstep.spawn_link(fn -> reply(owner, monitor) end)}
  end

  defp reply(owner, :monitor), do: await_request(owner, Lockstep.monitor(owner), 5000)
  defp reply(owner, :nomonitor), do: await_request(owner, nil, :infinity)

  defp await_request(owner, mref, timeout) do
    matcher = fn
      {^owner, _ref, _reply_to, _callers, _mfa} -> true
      {:DOWN, ^mref, _, _, _} -> mref != nil
      _ -> false
    end

    case Lockstep.recv_first(matcher, timeout) do
      {:ok, {^owner, ref, reply_to, callers, mfa}} ->
        Process.put(:"$callers", callers)
        if mref, do: Lockstep.demonitor(mref, [:flush])
        Lockstep.send(reply_to, {ref, invoke(mfa)})

      {:ok, {:DOWN, ^mref, _, _, reason}} ->
        exit({:shutdown, reason})

      :timeout ->
        exit(:timeout)
    end
  end

  defp noreply(callers, mfa) do
    Process.put(:"$callers", callers)
    invoke(mfa)
  end

  defp invoke({m, f, a}), do: apply(m, f, a)

  @doc "The `:\"$callers\"` list a task started by `owner` gets."
  @spec callers(pid()) :: [pid()]
  def callers(owner) do
    case Process.get(:"$callers") do
      [_ | _] = list -> [owner | list]
      _ -> [owner]
    end
  end
end

defmodule Unmodified.RateLimiter do
  @moduledoc """
  An ordinary rate limiter, written with plain `:atomics` and `System.monotonic_time/1` and
  no knowledge of Lockstep: at most `limit` requests per window of `window_ms` ms.

  `allow?/1` reads the count and then adds one. Two requests that both read `limit - 1` are
  both let through. `mix lockstep.demo` puts this module under control with
  `Lockstep.instrument/1`, unedited, and finds the race.
  """

  defstruct [:ref, :limit, :window_ms]

  def new(limit, window_ms) do
    ref = :atomics.new(2, signed: true)
    :atomics.put(ref, 2, window(window_ms))
    %__MODULE__{ref: ref, limit: limit, window_ms: window_ms}
  end

  def allow?(%__MODULE__{ref: ref, limit: limit, window_ms: ms}) do
    now = window(ms)

    if :atomics.get(ref, 2) != now do
      :atomics.put(ref, 2, now)
      :atomics.put(ref, 1, 0)
    end

    if :atomics.get(ref, 1) < limit do
      :atomics.add(ref, 1, 1)
      true
    else
      false
    end
  end

  defp window(ms), do: div(System.monotonic_time(:millisecond), ms)
end

defmodule Unmodified.RateLimiter.Hunt do
  @moduledoc "The test body the demo hunts: three requests against a limit of two."

  def run do
    limiter = Unmodified.RateLimiter.new(2, 1_000)
    me = self()

    for _ <- 1..3 do
      Lockstep.spawn(fn -> Lockstep.send(me, Unmodified.RateLimiter.allow?(limiter)) end)
    end

    allowed = Enum.count(1..3, fn _ -> Lockstep.recv() end)
    if allowed > 2, do: raise("#{allowed} requests allowed with a limit of 2")
  end
end

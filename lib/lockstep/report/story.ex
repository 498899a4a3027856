defmodule Lockstep.Report.Story do
  # Turns the engine's trace into what a person reads: a `GenServer.call` (or `:gen` call of
  # any OTP behaviour) becomes "calls P1 with :balance" / "takes P3's call :balance" /
  # "replies 100 to P3" / "gets the reply 100", the monitor and demonitor each call makes are
  # left out, and a selective receive that took a message reads as that receive. Everything
  # else passes through. Steps left out are counted, so the report can say so; the full
  # report (and the schedule file) keep every step as the engine recorded it.
  @moduledoc false

  @doc """
  `{trace, hidden}`: the trace with call protocol events replaced by call events and the
  bookkeeping steps removed, and how many steps were removed.
  """
  @spec tell([tuple()]) :: {[tuple()], non_neg_integer()}
  def tell(trace) do
    calls = calls(trace)
    hidden = bookkeeping(trace, calls)

    told =
      trace
      |> Enum.reject(fn {step, _, _, _} -> MapSet.member?(hidden, step) end)
      |> Enum.map(fn {step, time, proc, event} -> {step, time, proc, retell(event, calls)} end)
      |> merge_scans()

    {told, MapSet.size(hidden)}
  end

  # Every `$gen_call` sent in the run: its reference -> {caller pid, request}.
  defp calls(trace) do
    for {_, _, _, {:send, _dest, _to, {:"$gen_call", {_from, ref}, request}}} <- trace,
        is_reference(ref),
        into: %{},
        do: {ref, request}
  end

  defp retell({:send, dest, to, {:"$gen_call", {_from, ref}, request}}, calls)
       when is_map_key(calls, ref),
       do: {:call, dest, to, request}

  defp retell({:receive, {:"$gen_call", {from, ref}, request}}, calls)
       when is_map_key(calls, ref),
       do: {:takes_call, from, request}

  defp retell({:send, _dest, to, {ref, reply}}, calls) when is_map_key(calls, ref),
    do: {:reply, to, reply}

  defp retell({:receive, {ref, reply}}, calls) when is_map_key(calls, ref),
    do: {:call_returns, reply}

  defp retell(event, _calls), do: event

  # The steps of each call's monitor (the caller's step just before it sends the call) and
  # demonitor (its step just after it takes the reply).
  defp bookkeeping(_trace, calls) when map_size(calls) == 0, do: MapSet.new()

  defp bookkeeping(trace, calls) do
    trace
    |> Enum.filter(fn {step, _, proc, _} -> step > 0 and proc != nil end)
    |> Enum.chunk_by(fn {step, _, _, _} -> step end)
    |> Enum.map(fn [{step, _, proc, _} | _] = events ->
      {step, proc, Enum.map(events, &elem(&1, 3))}
    end)
    |> Enum.group_by(&elem(&1, 1))
    |> Enum.flat_map(fn {_proc, own} -> hidden_of(own, calls) end)
    |> MapSet.new()
  end

  defp hidden_of(own, calls) do
    own
    |> Enum.chunk_every(2, 1, :discard)
    |> Enum.flat_map(fn
      [{m, _, [{:monitor, _} | _]}, {_, _, [{:send, _, _, {:"$gen_call", {_, ref}, _}} | _]}]
      when is_map_key(calls, ref) ->
        [m]

      [{_, _, events}, {d, _, [{:demonitor, _} | _]}] ->
        if Enum.any?(events, &reply_taken?(&1, calls)), do: [d], else: []

      _ ->
        []
    end)
  end

  defp reply_taken?({:receive, {ref, _}}, calls), do: is_map_key(calls, ref)
  defp reply_taken?(_, _), do: false

  # A step that scanned the mailbox and took a message in the same step: show the taking.
  defp merge_scans(trace) do
    trace
    |> Enum.chunk_by(fn {step, _, _, _} -> step end)
    |> Enum.flat_map(fn
      [{step, time, proc, {:scan, _, _, _}}, {step, _, _, taken} | rest]
      when elem(taken, 0) in [:receive, :takes_call, :call_returns] ->
        [{step, time, proc, taken} | rest]

      events ->
        events
    end)
  end
end

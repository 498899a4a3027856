defmodule Lockstep.Report.Fields do
  # The named fields of a trace event, for tools (`mix lockstep.dump_trace --format json`):
  # who the event concerns as process ids, what it carried as rendered text, flags and numbers
  # as themselves. `render` turns a term into the report's text (P-aliases for pids, bounded).
  @moduledoc false

  @doc "The fields of `event` (an engine event tuple), without nils, string keys."
  @spec of(tuple(), (term() -> String.t())) :: %{String.t() => boolean() | integer() | String.t()}
  def of(event, render) do
    event
    |> fields(render)
    |> Enum.reject(fn {_k, v} -> v == nil end)
    |> Map.new(fn {k, v} -> {Atom.to_string(k), v} end)
  end

  defp fields({:spawn, child, link}, _r), do: [child: child, link: link]

  defp fields({:send, dest, to, {:"$gen_call", {_from, ref}, request} = msg}, r),
    do: [dest: dest(dest, r), to: to, message: r.(msg), reference: r.(ref), request: r.(request)]

  defp fields({:send, dest, to, msg}, r),
    do: [dest: dest(dest, r), to: to, message: r.(msg), dropped: to == nil]

  defp fields({:receive, msg}, r), do: [message: r.(msg)]
  defp fields({:scan, _base, count, _}, _r), do: [count: count]

  defp fields({:send_after, dest, delay, msg}, r),
    do: [dest: dest(dest, r), delay: delay, message: r.(msg)]

  defp fields({:cancel_timer, left}, _r), do: [left: number(left)]
  defp fields({:read_timer, left}, _r), do: [left: number(left)]
  defp fields({:now, t}, _r), do: [result: t]
  defp fields({:info, target, alive}, _r), do: [target: target, alive: alive]
  defp fields({:monitor, dest}, r), do: [target: dest(dest, r)]
  defp fields({:demonitor, found}, _r), do: [active: found]
  defp fields({:link, target}, _r), do: [target: target]
  defp fields({:unlink, target}, _r), do: [target: target]
  defp fields({:trap_exit, on}, _r), do: [trap_exit: on]
  defp fields({:alive, target, alive}, _r), do: [target: target, result: alive]
  defp fields({:exit_signal, target, reason}, r), do: [target: target, reason: r.(reason)]
  defp fields({:exit, reason}, r), do: [reason: r.(reason)]
  defp fields({:register, name, target}, r), do: [name: r.(name), target: target]
  defp fields({:unregister, name}, r), do: [name: r.(name)]
  defp fields({:whereis, name, result}, r), do: [name: r.(name), result: result]

  defp fields({:global_register, name, target, ok}, r),
    do: [name: r.(name), target: target, result: ok]

  defp fields({:global_unregister, name}, r), do: [name: r.(name)]
  defp fields({:global_whereis, name, result}, r), do: [name: r.(name), result: result]
  defp fields({:sync, label}, r), do: [label: r.(label)]
  defp fields({:sync, label, result}, r), do: [label: r.(label), result: r.(result)]
  defp fields({:failed, why}, _r), do: [reason: to_string(why)]
  defp fields({:deliver, to, msg}, r), do: [to: to, message: r.(msg)]

  defp fields({:died, who, reason, from, link}, r),
    do: [process: who, reason: r.(reason), from: from, link: link]

  defp fields({:vanished, who}, _r), do: [process: who]
  defp fields({:clock, to}, _r), do: [time: to]
  defp fields({:timer_fired, to}, _r), do: [to: to]
  defp fields({:deadline, of}, _r), do: [process: of]
  defp fields(_event, _r), do: []

  defp dest(id, _r) when is_integer(id), do: id
  defp dest(name, r), do: r.(name)

  defp number(n) when is_integer(n), do: n
  defp number(_), do: nil
end

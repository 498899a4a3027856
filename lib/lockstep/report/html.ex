defmodule Lockstep.Report.Html do
  @moduledoc """
  A failing run as a picture: a standalone HTML page (inline CSS, inline SVG, a few lines of
  inline JavaScript; no network, no external assets) with one lane per process and one row per
  step, time flowing down.

  The runner writes it beside every failure's schedule file (same base name, `.html`) and names
  it in the report (`Picture: PATH`); `mix lockstep.html SCHEDULE.json` draws one for any saved
  schedule.

  ## What it shows

    * a lane per process, headed by its P-alias and registered name; events the engine records
      for no process (clock jumps, timers firing, runtime messages such as `:DOWN` and
      `:EXIT` put into a mailbox) go into a first lane, `runtime`; a death (`dies`, `died
      outside Lockstep's control`) and an expiring timeout are drawn in the lane of the process
      they concern
    * a row per step with its number and the virtual clock; a step with several events in one
      lane takes several rows
    * an arrow from each send (or runtime delivery) to the receive that took the message;
      spawns, links, monitors and exit signals as lines to the lane they name; exits, deaths and
      timers as marks of their own
    * the failing step (the last one) marked, the causal slice's steps in full and the others
      dimmed
    * the full text of an event in its tooltip (hover) and, on a click, in the box at the top

  Lane headers collapse a lane on a click; the filter box keeps open only the lanes whose
  alias or name contains one of the words typed. With more than #{12} lanes, only the busiest
  few start open. A long run shows its last `:last_steps` steps (400 by default).

  ## Arrows

  Every send, receive and delivery carries the engine's message number (from a failure, and
  in the `fields` of schedule files written since they had them), so each receive is joined to
  the send it took, exactly. Only a schedule file written before that, whose events are text
  alone, is matched by value: a receive goes to the oldest unmatched send (or delivery) to the
  same process of a message printed the same (the report cuts a message after 100
  characters, and a named destination is taken to be the process registered under that name
  at the end of the run). A send whose receive falls outside the steps shown, or a receive
  whose send does, has no arrow. A schedule file stores no causal slice, so a page drawn from
  one dims nothing.
  """

  @max_open 12
  @last_steps 400

  @row_h 22
  @head_h 48
  @gutter 110
  @lane_w 230
  @thin_w 28
  @glyph_x 12

  @doc """
  The page for a runner failure map (`trace` of `{step, time, proc, event}`, `processes`,
  `slice`, `steps`, ...). Options: `:last_steps` (400), `:title`.
  """
  @spec from_failure(map(), keyword()) :: String.t()
  def from_failure(f, opts \\ []) do
    procs =
      Enum.map(f.processes, fn {id, _pid, name} -> %{id: id, name: name && inspect(name)} end)

    {trace, cut} = window(f.trace, &elem(&1, 0), opts)
    # The events kept by the window are the trace's last ones: so are their message ids.
    ids =
      case f[:message_ids] do
        ids when is_list(ids) and length(ids) == length(f.trace) -> Enum.take(ids, -length(trace))
        _ -> nil
      end

    texts = Lockstep.Report.events(trace, f.processes, ids, f[:nodes])
    events = Enum.zip_with(trace, texts, fn {_, _, _, raw}, ev -> from_raw(ev, raw) end)

    render(
      %{
        title: Keyword.get(opts, :title, "Lockstep: #{f.category} after #{f.steps} steps"),
        headline: Lockstep.Report.summary(f.category),
        detail: Lockstep.Report.detail_text(f),
        processes: procs,
        events: events,
        cut: cut,
        slice: f[:slice],
        failing_step: f.steps,
        source: f[:schedule_path]
      },
      opts
    )
  end

  @doc "The page for a loaded schedule (`Lockstep.Schedule`), from its stored events."
  @spec from_schedule(Lockstep.Schedule.t(), keyword()) :: String.t()
  def from_schedule(%Lockstep.Schedule{} = s, opts \\ []) do
    who = Lockstep.Schedule.process_aliases(s)
    aliases = Enum.map(s.processes, &{&1.id, who.(&1.id), &1.name})
    {trace, cut} = window(s.trace, & &1.step, opts)

    render(
      %{
        title: Keyword.get(opts, :title, "Lockstep: #{s.category} after #{s.steps} steps"),
        headline: Lockstep.Report.summary(s.category),
        detail: s.detail,
        processes: s.processes,
        events: Enum.map(trace, &from_text(&1, aliases)),
        cut: cut,
        slice: nil,
        failing_step: s.steps,
        source: s.path
      },
      opts
    )
  end

  # The last `:last_steps` steps of a trace, and the first step kept when some are left out
  # (also when the run itself kept only its last events).
  defp window(trace, step_of, opts) do
    last = Keyword.get(opts, :last_steps, @last_steps)
    steps = trace |> Enum.map(step_of) |> Enum.dedup()

    if length(steps) > last do
      first = Enum.at(steps, -last)
      {Enum.filter(trace, &(step_of.(&1) >= first)), first}
    else
      case steps do
        [first | _] when first > 1 -> {trace, first}
        _ -> {trace, nil}
      end
    end
  end

  # ----- events, normalized ------------------------------------------------------------------
  # %{step, time, lane (id | :runtime), kind, text, out: {to, key} | nil, in: key | nil,
  #   rel: {kind, id} | nil}

  defp base(%{step: step, time: time, proc: proc, kind: kind, text: text}) do
    %{
      step: step,
      time: time,
      lane: proc || :runtime,
      kind: kind,
      text: text,
      out: nil,
      in: nil,
      rel: nil
    }
  end

  # With the engine's message id, a receive is matched to its own send, exactly.
  defp from_raw(%{fields: %{"id" => id}} = ev, raw) when is_integer(id) do
    e = base(ev)

    case raw do
      {:send, _dest, to, _msg} when is_integer(to) -> %{e | out: {to, {:id, id}}}
      {:deliver, to, _msg} -> %{e | out: {to, {:id, id}}}
      {:receive, _msg} -> %{e | in: {:id, id}}
      _ -> from_raw(Map.delete(ev, :fields), raw)
    end
  end

  defp from_raw(ev, raw) do
    e = base(ev)

    case raw do
      {:send, _dest, to, msg} when is_integer(to) -> %{e | out: {to, {:t, msg}}}
      {:deliver, to, msg} -> %{e | out: {to, {:t, msg}}}
      {:receive, msg} -> %{e | in: {:t, msg}}
      {:spawn, child, _} -> %{e | rel: {:spawn, child}}
      {:link, t} -> %{e | rel: {:link, t}}
      {:unlink, t} -> %{e | rel: {:link, t}}
      {:monitor, t} when is_integer(t) -> %{e | rel: {:monitor, t}}
      {:exit_signal, t, _} -> %{e | rel: {:signal, t}}
      {:died, v, _, _, _} -> %{e | lane: v}
      {:vanished, v} -> %{e | lane: v}
      {:deadline, of} -> %{e | lane: of}
      _ -> e
    end
  end

  # A schedule file written with message ids: exact, as from a failure.
  defp from_text(%{fields: %{"id" => id}} = ev, aliases) when is_integer(id) do
    e = from_text(Map.delete(ev, :fields), aliases)

    case {e.out, e.in} do
      {{to, _}, _} -> %{e | out: {to, {:id, id}}}
      {_, key} when key != nil -> %{e | in: {:id, id}}
      _ -> e
    end
  end

  defp from_text(ev, aliases) do
    e = base(ev)
    text = ev.text

    case ev.kind do
      "send" ->
        case String.ends_with?(text, " (dropped: no such process)") do
          true ->
            e

          false ->
            case target_suffix(text, aliases) do
              {id, suffix} ->
                msg =
                  text |> String.replace_prefix("sends ", "") |> String.replace_suffix(suffix, "")

                %{e | out: {id, {:s, msg}}}

              nil ->
                e
            end
        end

      "receive" ->
        %{e | in: {:s, String.replace_prefix(text, "receives ", "")}}

      "deliver" ->
        case prefix_alias(text, aliases, " gets ") do
          {id, rest} -> %{e | out: {id, {:s, rest}}}
          nil -> e
        end

      "spawn" ->
        rel(e, text, aliases, :spawn)

      kind when kind in ["link", "unlink"] ->
        rel(e, text, aliases, :link)

      "monitor" ->
        rel(e, text, aliases, :monitor)

      "exit_signal" ->
        rel(e, text, aliases, :signal)

      kind when kind in ["died", "vanished"] ->
        case prefix_alias(text, aliases, " ") do
          {id, _} -> %{e | lane: id}
          nil -> e
        end

      "deadline" ->
        case prefix_alias(text, aliases, "'s ") do
          {id, _} -> %{e | lane: id}
          nil -> e
        end

      _ ->
        e
    end
  end

  # " to P2(:counter)" or " to :counter" at the end of a send's text: the longest that fits.
  defp target_suffix(text, aliases) do
    aliases
    |> Enum.flat_map(fn {id, a, name} ->
      [{id, " to " <> a}] ++ if(name, do: [{id, " to " <> name}], else: [])
    end)
    |> Enum.filter(fn {_, suffix} -> String.ends_with?(text, suffix) end)
    |> Enum.max_by(fn {_, suffix} -> byte_size(suffix) end, fn -> nil end)
  end

  defp prefix_alias(text, aliases, sep) do
    aliases
    |> Enum.filter(fn {_, a, _} -> String.starts_with?(text, a <> sep) end)
    |> Enum.max_by(fn {_, a, _} -> byte_size(a) end, fn -> nil end)
    |> case do
      nil ->
        nil

      {id, a, _} ->
        {id, binary_part(text, byte_size(a <> sep), byte_size(text) - byte_size(a <> sep))}
    end
  end

  # The process a spawn, link, monitor or exit signal names: the alias it ends with.
  defp rel(e, text, aliases, kind) do
    text = String.replace_suffix(text, ", linked", "")

    aliases
    |> Enum.filter(fn {_, a, _} -> String.ends_with?(text, " " <> a) end)
    |> Enum.max_by(fn {_, a, _} -> byte_size(a) end, fn -> nil end)
    |> case do
      nil -> e
      {id, _, _} -> %{e | rel: {kind, id}}
    end
  end

  # ----- layout --------------------------------------------------------------------------------

  @doc false
  # The page for normalized input; exposed for tests.
  def render(page, _opts) do
    events = page.events
    cut = page[:cut]

    known = MapSet.new(page.processes, & &1.id)

    extra =
      events
      |> Enum.map(& &1.lane)
      |> Enum.reject(&(&1 == :runtime or MapSet.member?(known, &1)))
      |> Enum.uniq()
      |> Enum.map(&%{id: &1, name: nil})

    runtime? = Enum.any?(events, &(&1.lane == :runtime))

    lanes =
      if(runtime?, do: [%{id: :runtime, name: nil}], else: []) ++
        Enum.sort_by(page.processes ++ extra, & &1.id)

    index = lanes |> Enum.with_index() |> Map.new(fn {l, i} -> {l.id, i} end)

    {rows, nrows} = rows(events)
    events = Enum.zip_with(events, rows, &Map.put(&1, :row, &2))
    slice = page.slice && MapSet.new(page.slice)
    arrows = arrows(events, index, slice)
    open = open_lanes(lanes, events)

    page = %{
      page
      | events: events
    }

    [
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
      esc(page.title),
      "</title>\n<style>\n",
      css(),
      "</style>\n</head>\n<body>\n",
      header(page, lanes, cut, slice),
      svg(page, lanes, index, arrows, nrows, slice, open),
      "\n<script>\n",
      js(),
      "</script>\n</body>\n</html>\n"
    ]
    |> IO.iodata_to_binary()
  end

  # Row of every event: steps in order, one row each, more when a lane has several events in
  # one step.
  defp rows(events) do
    {rows, {base, _step, used}} =
      Enum.map_reduce(events, {0, nil, %{}}, fn e, {base, step, used} ->
        {base, used} =
          if e.step == step, do: {base, used}, else: {base + map_size_rows(used), %{}}

        n = Map.get(used, e.lane, 0)
        {base + n, {base, e.step, Map.put(used, e.lane, n + 1)}}
      end)

    {rows, base + map_size_rows(used)}
  end

  defp map_size_rows(used) when map_size(used) == 0, do: 0
  defp map_size_rows(used), do: used |> Map.values() |> Enum.max()

  # Send-to-receive arrows (oldest equal unmatched message first), then relation lines.
  defp arrows(events, index, slice) do
    {msgs, _} =
      Enum.reduce(events, {[], %{}}, fn e, {acc, pending} ->
        cond do
          e.out != nil ->
            {to, key} = e.out
            {acc, Map.update(pending, {to, key}, [e], &(&1 ++ [e]))}

          e.in != nil and is_integer(e.lane) ->
            case Map.get(pending, {e.lane, e.in}, []) do
              [from | rest] ->
                {[arrow(from, e, "msg", "message: " <> msg_text(e), index, slice) | acc],
                 Map.put(pending, {e.lane, e.in}, rest)}

              [] ->
                {acc, pending}
            end

          true ->
            {acc, pending}
        end
      end)

    rels =
      for %{rel: {kind, id}} = e <- events,
          Map.has_key?(index, id),
          Map.has_key?(index, e.lane) do
        arrow(e, %{e | lane: id}, "rel r-#{kind}", e.text, index, slice)
      end

    Enum.reverse(msgs) ++ rels
  end

  defp msg_text(%{text: "receives " <> rest}), do: rest
  defp msg_text(%{text: text}), do: text

  defp arrow(from, to, class, title, index, slice) do
    %{
      a: Map.fetch!(index, from.lane),
      b: Map.fetch!(index, to.lane),
      y1: y(from.row),
      y2: y(to.row),
      class: class <> " " <> slice_class([from.step, to.step], slice),
      title: title
    }
  end

  defp open_lanes(lanes, _events) when length(lanes) <= @max_open, do: MapSet.new(lanes, & &1.id)

  defp open_lanes(_lanes, events) do
    events
    |> Enum.frequencies_by(& &1.lane)
    |> Enum.sort_by(fn {_, n} -> -n end)
    |> Enum.take(8)
    |> MapSet.new(fn {lane, _} -> lane end)
  end

  defp slice_class(_steps, nil), do: "no-slice"

  defp slice_class(steps, slice) do
    if Enum.all?(steps, &MapSet.member?(slice, &1)), do: "in-slice", else: "out-slice"
  end

  defp y(row), do: @head_h + row * @row_h + div(@row_h, 2)

  defp lane_x(lanes, open, i) do
    lanes
    |> Enum.take(i)
    |> Enum.reduce(@gutter, fn l, x -> x + width(l, open) end)
  end

  defp width(lane, open), do: if(MapSet.member?(open, lane.id), do: @lane_w, else: @thin_w)

  # ----- the page ------------------------------------------------------------------------------

  defp header(page, lanes, cut, slice) do
    procs = Enum.count(lanes, &(&1.id != :runtime))

    [
      "<header>\n<h1>",
      esc(page.headline),
      "</h1>\n",
      if(page.source, do: ["<p class=\"src\">", esc(page.source), "</p>\n"], else: ""),
      "<pre class=\"detail\">",
      esc(page.detail),
      "</pre>\n<p>",
      "#{page.failing_step} steps, #{procs} processes. ",
      if(cut,
        do: "Steps 1..#{cut - 1} are not shown (the last steps are; the schedule has them all). ",
        else: ""
      ),
      if(slice,
        do: "The causal slice's steps are in full, the others dimmed. ",
        else: "No causal slice is known (a schedule file does not store it). "
      ),
      "Hover or click an event for its full text; click a lane's header to fold it.</p>\n",
      "<div class=\"bar\"><label>Lanes: <input id=\"filter\" type=\"search\" ",
      "placeholder=\"P3 :counter ...\"></label> <button id=\"all\">open all</button> ",
      "<button id=\"none\">fold all</button> ",
      legend(),
      "</div>\n<pre id=\"info\">Click an event to see it whole.</pre>\n</header>\n"
    ]
  end

  defp legend do
    [
      "<span class=\"legend\">",
      for {kind, label} <- [
            {"send", "send"},
            {"receive", "receive"},
            {"spawn", "spawn"},
            {"link", "link / monitor"},
            {"exit", "exit"},
            {"timer", "timer / clock"}
          ] do
        [
          "<svg width=\"14\" height=\"14\" viewBox=\"-7 -7 14 14\">",
          glyph(kind),
          "</svg>",
          label,
          " "
        ]
      end,
      "<span class=\"failing-key\">failing step</span></span>"
    ]
  end

  defp svg(page, lanes, index, arrows, nrows, slice, open) do
    total = lane_x(lanes, open, length(lanes))
    height = @head_h + nrows * @row_h + 10
    ends = lifetimes(page.events, index, nrows)

    [
      "<div class=\"chart\"><svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" ",
      "width=\"#{total + 20}\" height=\"#{height}\" data-gutter=\"#{@gutter}\" ",
      "data-wide=\"#{@lane_w}\" data-thin=\"#{@thin_w}\" data-gx=\"#{@glyph_x}\">\n",
      "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" ",
      "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker>",
      "</defs>\n",
      row_backgrounds(page.events, page.failing_step, slice, total),
      "<g id=\"arrows\">\n",
      for a <- arrows do
        [
          "<path class=\"arrow #{a.class}\" data-a=\"#{a.a}\" data-b=\"#{a.b}\" ",
          "data-y1=\"#{a.y1}\" data-y2=\"#{a.y2}\" d=\"",
          path(
            lane_x(lanes, open, a.a) + @glyph_x,
            a.y1,
            lane_x(lanes, open, a.b) + @glyph_x,
            a.y2
          ),
          "\" marker-end=\"url(#head)\" data-text=\"",
          esc(a.title),
          "\"><title>",
          esc(a.title),
          "</title></path>\n"
        ]
      end,
      "</g>\n",
      for {lane, i} <- Enum.with_index(lanes) do
        lane_group(lane, i, lanes, open, page, slice, Map.get(ends, i, {0, nrows}))
      end,
      "</svg></div>\n"
    ]
  end

  # Lifeline of each lane: from the row it was spawned in (when shown) to the row it ended.
  defp lifetimes(events, index, nrows) do
    starts =
      for %{rel: {:spawn, id}} = e <- events, Map.has_key?(index, id), into: %{} do
        {index[id], e.row}
      end

    stops =
      for %{kind: k} = e <- events, k in ["exit", "died", "vanished"], into: %{} do
        {index[e.lane], e.row}
      end

    index
    |> Map.values()
    |> Map.new(fn i -> {i, {Map.get(starts, i, 0), Map.get(stops, i, nrows)}} end)
  end

  defp row_backgrounds(events, failing, slice, total) do
    steps =
      events
      |> Enum.group_by(& &1.step)
      |> Enum.map(fn {step, evs} -> {step, evs |> Enum.map(& &1.row) |> Enum.min_max()} end)
      |> Enum.sort()

    [
      "<g id=\"rows\">\n",
      for {{step, {r1, r2}}, k} <- Enum.with_index(steps) do
        time = events |> Enum.find(&(&1.step == step)) |> Map.fetch!(:time)
        top = @head_h + r1 * @row_h
        h = (r2 - r1 + 1) * @row_h
        fail = if step == failing, do: " failing", else: ""
        stripe = if rem(k, 2) == 0, do: " even", else: ""

        [
          "<g class=\"row #{slice_class([step], slice)}#{fail}#{stripe}\" data-step=\"#{step}\">",
          "<rect class=\"bg\" x=\"0\" y=\"#{top}\" width=\"#{total}\" height=\"#{h}\"/>",
          "<text class=\"num\" x=\"8\" y=\"#{top + 15}\">#{step}.</text>",
          "<text class=\"time\" x=\"50\" y=\"#{top + 15}\">#{time} ms</text>",
          if(fail != "",
            do: "<title>step #{step}: the failing step</title>",
            else: "<title>step #{step} at #{time} ms</title>"
          ),
          "</g>\n"
        ]
      end,
      "</g>\n"
    ]
  end

  defp lane_group(lane, i, lanes, open, page, slice, {from, to}) do
    x = lane_x(lanes, open, i)
    folded = if MapSet.member?(open, lane.id), do: "", else: " folded"
    {label, name} = lane_label(lane)
    full = if name, do: "#{label} #{name}", else: label

    [
      "<g class=\"lane#{folded}\" data-lane=\"#{i}\" data-name=\"",
      esc(full),
      "\" transform=\"translate(#{x},0)\">\n",
      "<g class=\"head\"><rect x=\"0\" y=\"0\" width=\"#{@lane_w - 4}\" height=\"#{@head_h - 6}\"/>",
      "<text class=\"alias\" x=\"6\" y=\"17\">",
      esc(label),
      "</text>",
      if(name,
        do: ["<text class=\"name\" x=\"6\" y=\"34\">", esc(clip(name, 30)), "</text>"],
        else: ""
      ),
      "<title>",
      esc(full),
      " (click to fold or open)</title></g>\n",
      "<line class=\"life\" x1=\"#{@glyph_x}\" x2=\"#{@glyph_x}\" y1=\"#{@head_h + from * @row_h}\" ",
      "y2=\"#{@head_h + (to + 1) * @row_h}\"/>\n",
      for e <- page.events, e.lane == lane.id do
        fail = if e.step == page.failing_step, do: " failing", else: ""

        [
          "<g class=\"ev k-#{esc(e.kind)} #{slice_class([e.step], slice)}#{fail}\" ",
          "data-step=\"#{e.step}\" data-text=\"",
          esc("#{e.step}. #{full}: #{e.text}"),
          "\" transform=\"translate(#{@glyph_x},#{y(e.row)})\">",
          glyph(family(e.kind)),
          "<text class=\"label\" x=\"12\" y=\"4\">",
          esc(clip(e.text, 30)),
          "</text><title>",
          esc("#{e.step}. #{full} @#{e.time} ms: #{e.text}"),
          "</title></g>\n"
        ]
      end,
      "</g>\n"
    ]
  end

  defp lane_label(%{id: :runtime}), do: {"runtime", nil}
  defp lane_label(%{id: id, name: name}), do: {"P#{id}", name}

  defp family(kind) when kind in ["send", "deliver"], do: "send"
  defp family("receive"), do: "receive"
  defp family("spawn"), do: "spawn"

  defp family(kind) when kind in ["link", "unlink", "monitor", "demonitor", "exit_signal"],
    do: "link"

  defp family(kind) when kind in ["exit", "died", "vanished", "failed"], do: "exit"

  defp family(kind)
       when kind in [
              "send_after",
              "cancel_timer",
              "read_timer",
              "timer_fired",
              "timeout",
              "sleep",
              "deadline",
              "clock",
              "now"
            ],
       do: "timer"

  defp family(_), do: "other"

  defp glyph("send"), do: "<circle class=\"g g-send\" r=\"5\"/>"
  defp glyph("receive"), do: "<circle class=\"g g-receive\" r=\"5\"/>"

  defp glyph("spawn"),
    do: "<rect class=\"g g-spawn\" x=\"-5\" y=\"-5\" width=\"10\" height=\"10\"/>"

  defp glyph("link"), do: "<path class=\"g g-link\" d=\"M0,-6 L6,0 L0,6 L-6,0 z\"/>"
  defp glyph("exit"), do: "<path class=\"g g-exit\" d=\"M-5,-5 L5,5 M5,-5 L-5,5\"/>"

  defp glyph("timer"),
    do: "<g class=\"g g-timer\"><circle r=\"5\"/><path d=\"M0,-3 L0,0 L3,0\"/></g>"

  defp glyph(_), do: "<circle class=\"g g-other\" r=\"3\"/>"

  # The same curve the script draws when lanes fold: straight across, bowed when it stays in
  # one lane.
  defp path(x1, y1, x2, y2) when x1 == x2,
    do: "M#{x1},#{y1} C#{x1 + 40},#{y1} #{x2 + 40},#{y2} #{x2},#{y2}"

  # A straight arrow stops short of the receiving glyph, so its head shows.
  defp path(x1, y1, x2, y2) do
    len = :math.sqrt((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1))
    ex = Float.round(x2 - (x2 - x1) * 7 / len, 1)
    ey = Float.round(y2 - (y2 - y1) * 7 / len, 1)
    "M#{x1},#{y1} L#{ex},#{ey}"
  end

  defp clip(text, n) do
    if String.length(text) > n, do: String.slice(text, 0, n - 1) <> "…", else: text
  end

  @doc "Text escaped for HTML content and attribute values."
  @spec esc(term()) :: String.t()
  def esc(text) do
    text
    |> to_string()
    |> String.replace("&", "&amp;")
    |> String.replace("<", "&lt;")
    |> String.replace(">", "&gt;")
    |> String.replace("\"", "&quot;")
    |> String.replace("'", "&#39;")
  end

  defp css do
    """
    body{font:13px system-ui,sans-serif;margin:0;color:#222;background:#fff}
    header{padding:10px 16px;position:sticky;left:0}
    h1{font-size:17px;margin:0 0 6px}
    .src{font-family:monospace;color:#555;margin:0 0 6px}
    pre.detail{background:#f6f6f6;padding:6px 8px;max-height:12em;overflow:auto;margin:0 0 6px}
    #info{background:#fffbe6;border:1px solid #e6d9a8;padding:4px 8px;white-space:pre-wrap;margin:6px 0 0}
    .bar{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
    .legend{margin-left:12px;color:#444}.legend svg{vertical-align:middle;margin:0 2px 0 6px}
    .failing-key{border-left:4px solid #d22;padding-left:4px;margin-left:8px}
    .chart{overflow:auto;padding:0 16px 16px}
    svg text{font:11px ui-monospace,monospace;fill:#222}
    .label{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
    .row .bg{fill:#fff}.row.even .bg{fill:#f4f6fa}
    .row.failing .bg{fill:#ffe1e1;stroke:#d22;stroke-width:1.5}
    .row .time{fill:#777}.row .num{font-weight:bold}
    .head rect{fill:#e8ecf4;stroke:#aab;cursor:pointer}.head .alias{font-weight:bold}
    .lane.folded .head rect{width:24px}.lane.folded .name,.lane.folded .label{display:none}
    .lane.folded .alias{writing-mode:vertical-lr;font-size:9px}
    .life{stroke:#bbb;stroke-dasharray:3 3}
    .ev{cursor:pointer}
    .g-send{fill:#2a62c9}.g-receive{fill:#fff;stroke:#2a62c9;stroke-width:2}
    .g-spawn{fill:#2e9a4e}.g-link{fill:#fff;stroke:#8a4fbf;stroke-width:2}
    .g-exit{stroke:#d22;stroke-width:3}.g-timer circle{fill:#fff;stroke:#d98200;stroke-width:2}
    .g-timer path{stroke:#d98200;fill:none}.g-other{fill:#999}
    .ev.failing .g{stroke:#d22;stroke-width:3}
    .arrow{fill:none;stroke:#2a62c9;stroke-width:1.4}
    .arrow.rel{stroke:#8a4fbf;stroke-dasharray:2 3}.arrow.r-spawn{stroke:#2e9a4e;stroke-dasharray:6 3}
    .arrow.r-signal{stroke:#d22}
    marker path{fill:#555}
    .out-slice{opacity:.3}
    .sel .g{stroke:#000;stroke-width:3}
    """
  end

  defp js do
    """
    (function(){
    var svg=document.getElementById('chart');if(!svg)return;
    var G=+svg.dataset.gutter,W=+svg.dataset.wide,T=+svg.dataset.thin,GX=+svg.dataset.gx;
    var lanes=[].slice.call(svg.querySelectorAll('g.lane'));
    function lay(){var xs=[],x=G;lanes.forEach(function(l,i){xs[i]=x;
    l.setAttribute('transform','translate('+x+',0)');x+=l.classList.contains('folded')?T:W;});
    svg.setAttribute('width',x+20);
    svg.querySelectorAll('.row .bg').forEach(function(r){r.setAttribute('width',x);});
    svg.querySelectorAll('path.arrow').forEach(function(p){var d=p.dataset,
    x1=xs[d.a]+GX,x2=xs[d.b]+GX,y1=+d.y1,y2=+d.y2;
    p.setAttribute('d',x1==x2?'M'+x1+','+y1+' C'+(x1+40)+','+y1+' '+(x2+40)+','+y2+' '+x2+','+y2
    :(function(){var l=Math.hypot(x2-x1,y2-y1);return 'M'+x1+','+y1+' L'+
    (x2-(x2-x1)*7/l).toFixed(1)+','+(y2-(y2-y1)*7/l).toFixed(1);})());});}
    lanes.forEach(function(l){l.querySelector('.head').addEventListener('click',function(){
    l.classList.toggle('folded');lay();});});
    var f=document.getElementById('filter');
    f.addEventListener('input',function(){var w=f.value.toLowerCase().split(/\\s+/).filter(Boolean);
    lanes.forEach(function(l){var n=l.dataset.name.toLowerCase();
    l.classList.toggle('folded',w.length>0&&!w.some(function(t){return n.indexOf(t)>=0;}));});lay();});
    document.getElementById('all').onclick=function(){lanes.forEach(function(l){l.classList.remove('folded');});lay();};
    document.getElementById('none').onclick=function(){lanes.forEach(function(l){l.classList.add('folded');});lay();};
    var info=document.getElementById('info'),sel=null;
    svg.addEventListener('click',function(e){var t=e.target.closest('[data-text]');if(!t)return;
    info.textContent=t.dataset.text;if(sel)sel.classList.remove('sel');sel=t;t.classList.add('sel');});
    })();
    """
  end
end

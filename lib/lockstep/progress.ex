defmodule Lockstep.Progress do
  # A one-line progress display for long hunts on a terminal: iterations, distinct schedules,
  # rate and the time left of max_run_time, redrawn at most once a second after the first two
  # seconds, cleared at the end. Quiet when standard error is not a terminal or CI is set, so
  # logs and CI output never see it; `progress: true | false` forces it either way.
  @moduledoc false

  @first_ms 2_000
  @every_ms 1_000

  defstruct enabled: false, started: 0, last: 0, shown: false, name: "", width: 200

  @doc "A display for a hunt named `name`, started at `started` (monotonic ms)."
  def new(setting, name, started) do
    {enabled, width} = enabled(setting)
    %__MODULE__{enabled: enabled, started: started, last: started, name: name, width: width}
  end

  defp enabled(false), do: {false, 0}

  defp enabled(setting) do
    case terminal_width() do
      nil -> {setting == true, 200}
      width -> {setting == true or System.get_env("CI") in [nil, "", "false", "0"], width}
    end
  end

  # The VM's standard error as a terminal (its width), or nil. The VM cannot ask its own file
  # descriptor, a child it starts inherits it: asked once per VM.
  defp terminal_width do
    case :persistent_term.get({__MODULE__, :terminal}, :unknown) do
      :unknown ->
        width = ask_terminal()
        :persistent_term.put({__MODULE__, :terminal}, width)
        width

      known ->
        known
    end
  end

  defp ask_terminal do
    with sh when is_binary(sh) <- System.find_executable("sh"),
         {_, 0} <- System.cmd(sh, ["-c", "test -t 2"]) do
      case System.cmd(sh, ["-c", "stty size < /dev/tty 2>/dev/null"]) do
        {out, 0} ->
          case String.split(out) do
            [_rows, cols] -> String.to_integer(cols)
            _ -> 80
          end

        _ ->
          80
      end
    else
      _ -> nil
    end
  end

  @doc "Redraws the line when it is due; returns the display."
  def tick(%__MODULE__{enabled: false} = p, _stats, _cfg), do: p

  def tick(%__MODULE__{} = p, stats, cfg) do
    now = System.monotonic_time(:millisecond)

    if now - p.started >= @first_ms and now - p.last >= @every_ms do
      IO.write(:stderr, "\r" <> String.pad_trailing(line(p, stats, cfg, now), p.width - 1))
      %{p | last: now, shown: true}
    else
      p
    end
  end

  @doc "The line a display shows (also for tests)."
  def line(p, stats, cfg, now) do
    elapsed = max(now - p.started, 1)
    rate = round(Map.get(stats, :iterations, 0) * 1000 / elapsed)

    left =
      case cfg.max_run_time do
        :infinity -> ""
        ms -> ", #{max(div(ms - elapsed, 1000), 0)} s left"
      end

    text =
      case stats do
        %{explored: n} ->
          "Lockstep: #{p.name}: explored #{n} schedules (exhaustive), " <>
            "#{pairs(stats)}#{round(n * 1000 / elapsed)}/s#{left}"

        _ ->
          "Lockstep: #{p.name}: #{count(stats.iterations, cfg.iterations)} iterations, " <>
            "#{MapSet.size(stats.schedules)} distinct schedules, #{pairs(stats)}#{rate}/s#{left}"
      end

    String.slice(text, 0, max(p.width - 1, 20))
  end

  defp pairs(%{reads_from: set}), do: Lockstep.ReadsFrom.describe(set) <> ", "
  defp pairs(_), do: ""

  # `mix lockstep.hunt` asks for iterations without end: its budget is time.
  defp count(done, total) when total >= 1_000_000_000, do: "#{done}"
  defp count(done, total), do: "#{done}/#{total}"

  @doc "Clears the line if it was shown."
  def done(%__MODULE__{shown: true, width: width}),
    do: IO.write(:stderr, "\r" <> String.duplicate(" ", width - 1) <> "\r")

  def done(_), do: :ok
end

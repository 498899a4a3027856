defmodule Lockstep.Report do
  # Turns a failed run into a story a person can read: what failed, the schedule one step per
  # line with P-aliases and messages, the seeds, and how to reproduce it.
  @moduledoc false

  @max_lines 120

  @doc "The full report text. `failure` is the runner's failure map."
  @spec format(map(), keyword()) :: String.t()
  def format(f, opts \\ []) do
    max_lines = Keyword.get(opts, :max_lines, @max_lines)
    names = names(f.processes, f[:nodes])
    # The story (calls folded, their bookkeeping left out) unless every step is asked for.
    {trace, hidden} =
      if Keyword.get(opts, :full, false),
        do: {f.trace, 0},
        else: Lockstep.Report.Story.tell(f.trace)

    ([headline(f), "", indent(detail(f, names)), ""] ++
       escapes(f, names) ++
       shrunk(f[:shrink]) ++
       [
         "Schedule (#{f.steps} steps, #{preemptions(f)}#{plural(length(f.processes), "process")}):",
         schedule(trace, names, max_lines)
       ] ++
       hidden_note(hidden) ++
       [""] ++
       causal_slice(%{f | trace: trace}, names, max_lines) ++
       [
         "Processes: " <> processes(f.processes),
         "Seed #{f.seed}, iteration seed #{f.iter_seed}, strategy #{inspect(f.strategy)}."
       ])
    |> Kernel.++(footer(f))
    |> Enum.join("\n")
  end

  defp footer(f) do
    ["Reproduce: #{f.reproduce}"] ++
      case f[:schedule_path] do
        nil ->
          []

        path ->
          ["Schedule: #{path}"] ++
            picture(f) ++ ["Replay: #{f[:replay_command]}"] ++ from_iex(f, path)
      end
  end

  defp picture(f) do
    case f[:picture_path] do
      nil -> []
      path -> ["Picture: #{path}"]
    end
  end

  # A ctest's schedule replays from iex too, with no function to pass.
  defp from_iex(%{test: %{file: file}}, path) when is_binary(file),
    do: [
      "From iex: MIX_ENV=test iex -S mix, then Lockstep.replay(#{inspect(Path.relative_to_cwd(path))})"
    ]

  defp from_iex(_f, _path), do: []

  @doc "The failure's detail as text (the exception, the blocked processes, ...)."
  @spec detail_text(map()) :: String.t()
  def detail_text(f), do: detail(f, names(f.processes, f[:nodes]))

  @doc "An escape (a note of `Lockstep.Escape`) as text, `processes` being `[{id, pid, name}]`."
  @spec escape_text(map(), [tuple()]) :: String.t()
  def escape_text(note, processes), do: escape(note, names(processes), processes)

  defp escape(note, names, processes) do
    pids = Map.new(processes, fn {id, pid, _} -> {pid, id} end)
    Lockstep.Escape.describe(note, &alias_of(&1, names), &term(&1, names), pids)
  end

  # Escapes noted besides the failure being reported.
  defp escapes(f, names) do
    case f[:escapes] do
      notes when is_list(notes) and notes != [] ->
        [
          "Besides, these interactions bypassed Lockstep (escapes), and no schedule explores them:"
          | Enum.map(
              notes,
              &("  " <>
                  Lockstep.Escape.line(&1, fn id -> alias_of(id, names) end, fn t ->
                    term(t, names)
                  end))
            )
        ] ++ [""]

      _ ->
        []
    end
  end

  @doc """
  The run's events rendered for people: `[%{step, time, proc, kind, text}]`, `kind` being the
  event's name (`"send"`, `"receive"`, ...). What a schedule file stores.
  """
  @spec events([tuple()], [tuple()], [non_neg_integer() | nil] | nil, map() | nil) :: [map()]
  def events(trace, processes, message_ids \\ nil, nodes \\ nil) do
    names = names(processes, nodes)
    render = &term(&1, names)
    # The engine's message ids, one per event (nil where none), when the run gave them.
    ids =
      if is_list(message_ids) and length(message_ids) == length(trace),
        do: message_ids,
        else: List.duplicate(nil, length(trace))

    Enum.zip_with(trace, ids, fn {step, time, proc, event}, id ->
      fields = Lockstep.Report.Fields.of(event, render)

      %{
        step: step,
        time: time,
        proc: proc,
        kind: kind(event),
        text: event(event, names),
        fields: if(id, do: Map.put(fields, "id", id), else: fields)
      }
    end)
  end

  defp kind(event) when is_tuple(event) and tuple_size(event) > 0 do
    case elem(event, 0) do
      name when is_atom(name) -> Atom.to_string(name)
      _ -> "event"
    end
  end

  defp kind(_), do: "event"

  # `nodes` (`%{id => node}`, from a cluster run) puts each process's node into its alias.
  defp names(processes, nodes \\ nil) do
    names = Map.new(processes, fn {id, _pid, name} -> {id, name} end)
    node_keys = for {id, node} <- nodes || %{}, into: %{}, do: {{:node, id}, node}
    names = Map.merge(names, node_keys)
    Map.merge(names, pid_aliases(processes, names))
  end

  defp hidden_note(0), do: []

  defp hidden_note(n),
    do: [
      "       (#{plural(n, "step")} of call bookkeeping, a monitor and a demonitor per call, " <>
        "not shown; the full report has every step)"
    ]

  defp plural(1, word), do: "1 #{word}"
  defp plural(n, "process"), do: "#{n} processes"
  defp plural(n, word), do: "#{n} #{word}s"

  defp preemptions(%{preemptions: p}) when is_list(p), do: "#{plural(length(p), "preemption")}, "
  defp preemptions(_), do: ""

  # One paragraph on shrinking: before and after sizes, effort, and whether the result was
  # verified by strict replay.
  defp shrunk(nil), do: []

  defp shrunk(%{skipped: why} = s) when is_binary(why) do
    ["Not shrunk (#{size(s.before)}): #{why}.", ""]
  end

  defp shrunk(%{before: b, after: a} = s) do
    effort =
      "#{s.candidates_tried} candidates, #{s.time_ms} ms" <>
        if(s.complete, do: "", else: ", stopped by :shrink_time")

    line =
      cond do
        a == b ->
          "Shrinking found no smaller failing schedule than #{size(b)} (#{effort})."

        s.verified ->
          "Shrunk from #{b.steps} steps / #{b.preemptions} preemptions to " <>
            "#{a.steps} / #{a.preemptions} (#{effort})."

        true ->
          "Shrinking found a schedule of #{size(a)} (#{effort}), but its strict replay did " <>
            "not fail the same way; the original schedule is shown."
      end

    [line, ""]
  end

  defp size(%{steps: n, preemptions: p}), do: "#{n} steps / #{p} preemptions"

  # The steps that happen before the failure, with their side effects.
  defp causal_slice(%{slice: slice, steps: steps} = f, names, max_lines) when is_list(slice) do
    cond do
      slice == [] ->
        []

      length(slice) == steps ->
        ["Causal slice: all #{steps} steps happen before the failure.", ""]

      # Nearly the whole schedule again says nothing new: name the steps it leaves out.
      length(slice) * 3 > steps * 2 ->
        outside = Enum.to_list(MapSet.difference(MapSet.new(1..steps), MapSet.new(slice)))

        shown =
          if length(outside) > 12,
            do: Enum.join(Enum.take(outside, 12), ", ") <> ", ...",
            else: Enum.join(outside, ", ")

        [
          "Causal slice: #{length(slice)} of #{steps} steps happen before the failure; the " <>
            "others (#{shown}) ran concurrently with it.",
          ""
        ]

      true ->
        keep = MapSet.new(slice)
        trace = Enum.filter(f.trace, fn {step, _, _, _} -> MapSet.member?(keep, step) end)

        [
          "Causal slice (#{length(slice)} of #{steps} steps happen before the failure; " <>
            "the others ran concurrently with it):",
          schedule(trace, names, max_lines),
          ""
        ]
    end
  end

  defp causal_slice(_f, _names, _max_lines), do: []

  defp headline(%{headline: headline}) when is_binary(headline), do: headline

  defp headline(f) do
    # Iterations count from 0 everywhere: here, in file names (`iter3`) and in the API
    # (`iteration: 3`), so a number read here can be pasted there.
    "Lockstep found a bug in iteration #{f.iteration} (of #{f.iterations}, counted from 0): " <>
      summary(f.category)
  end

  @doc "One sentence for a failure category."
  @spec summary(atom()) :: String.t()
  def summary(:exception), do: "the test body failed."
  def summary(:crash), do: "a process crashed."
  def summary(:exit_signal), do: "a process was killed by an exit signal."
  def summary(:deadlock), do: "deadlock."

  def summary(:left_blocked),
    do: "processes were left blocked for good after the test body returned."

  def summary(:step_limit), do: "the step limit was reached."
  def summary(:watchdog), do: "a process stopped reaching sync points."
  def summary(:escape), do: "an interaction bypassed Lockstep (an escape)."
  def summary(:diverged), do: "the replayed program diverged from its schedule."
  def summary(:aborted), do: "the run was stopped."
  def summary(other), do: "#{other}."

  defp detail(%{category: :exception, exception: {kind, payload, stack}}, _names) do
    Exception.format(kind, payload, user_stack(stack)) |> String.trim_trailing()
  end

  defp detail(%{category: :exception, detail: reason}, _names) do
    "the test body's process was killed: #{inspect(reason)}"
  end

  defp detail(%{category: :crash, detail: {id, reason}} = f, names) do
    who = alias_of(id, names)

    case f.exception do
      {kind, payload, stack} ->
        "#{who} crashed:\n" <>
          (Exception.format(kind, payload, user_stack(stack)) |> String.trim_trailing())

      nil ->
        "#{who} exited with #{inspect(reason, limit: 20)}"
    end
  end

  defp detail(%{category: :exit_signal, detail: {id, reason, from}}, names) do
    "#{alias_of(id, names)} was killed by an exit signal from #{alias_of(from, names)}: " <>
      "#{inspect(reason, limit: 20)} (fail_on_abnormal_exit: true fails every abnormal exit)"
  end

  defp detail(%{category: cat, detail: blocked} = f, names)
       when cat in [:deadlock, :left_blocked] do
    lead =
      if cat == :deadlock,
        do: "No process can move and no timer is pending. Blocked:",
        else:
          "The test body returned and the other processes ran until nothing could move; " <>
            "these were left waiting for a message that never comes:"

    vm = Map.get(f, :vm_mailboxes) || %{}
    # Plain messages a blocked process found (and took) when it parked were noted as escapes.
    noted =
      Enum.group_by(f[:escapes] || [], & &1.process, & &1.message)
      |> Map.take(Enum.map(blocked, &elem(&1, 0)))

    lines =
      Enum.map(blocked, fn {id, op, _name, mailbox, _deadline} ->
        box =
          case mailbox do
            [] -> "mailbox empty"
            msgs -> "mailbox: " <> Enum.map_join(msgs, ", ", &term(&1, names))
          end

        box =
          case Enum.uniq(Map.get(noted, id, []) ++ Map.get(vm, id, [])) do
            [] ->
              box

            plain ->
              box <>
                "; in its VM mailbox, bypassing Lockstep: " <>
                Enum.map_join(plain, ", ", &term(&1, names))
          end

        "  #{alias_of(id, names)} waits in #{op} (#{box})"
      end)

    hint =
      if map_size(noted) > 0 or Enum.any?(vm, fn {_, msgs} -> msgs != [] end) do
        [
          "A message in a VM mailbox was sent around Lockstep (plain send/2, " <>
            "Process.send_after/3, a process outside the run): the engine never delivers it. " <>
            "Instrument the module that sends it or use the Lockstep wrapper."
        ]
      else
        []
      end

    Enum.join([lead | lines] ++ hint, "\n")
  end

  defp detail(%{category: :step_limit, detail: steps}, _names) do
    "The run took more than #{steps} steps without the test body finishing (a livelock, or a " <>
      "test that needs a larger :max_steps; step_limit: :stop ends such runs quietly)."
  end

  defp detail(%{category: :watchdog, detail: {id, pid, ms, stack}} = f, names) do
    where =
      case stack do
        [] -> "  (no stacktrace available)"
        stack -> Exception.format_stacktrace(stack) |> String.trim_trailing()
      end

    who =
      if id, do: "#{alias_of(id, names)} (#{inspect(pid)})", else: "A process (#{inspect(pid)})"

    at = location(stack)

    doing =
      case f[:stuck] do
        %{status: :waiting, current_function: {:gen, fun, _}} when fun in [:do_call, :call] ->
          "is blocked in a plain GenServer.call (or another :gen call)#{at}: its reply will " <>
            "not come through Lockstep. Call through Lockstep.GenServer.call/2,3 (or " <>
            "Lockstep.GenStatem, Lockstep.Agent), or instrument the module. "

        %{status: :waiting, current_function: {mod, :sleep, 1}} when mod in [Process, :timer] ->
          "sleeps in a plain Process.sleep/1 (wall-clock time)#{at}. Use Lockstep.sleep/1 " <>
            "(virtual time), or instrument the module. "

        %{status: :waiting} ->
          "is blocked in a plain `receive`#{at}, which waits for a VM message Lockstep does " <>
            "not schedule. Use Lockstep.recv/0,1 or Lockstep.recv_first/1,2, or instrument the " <>
            "module. "

        %{status: status} ->
          "is #{status} without reaching a sync point#{at} (a long computation or a loop " <>
            "that makes no Lockstep call). "

        nil ->
          "is a plain `receive`, a GenServer.call or another blocking call Lockstep does " <>
            "not control; route it through Lockstep (instrument the module or use the " <>
            "Lockstep wrapper). "
      end

    vm =
      case f[:stuck] do
        %{messages: 0} ->
          "Its VM mailbox is empty. "

        %{messages: n, strays: strays} ->
          "Its VM mailbox holds #{n} message(s), bypassing Lockstep: " <>
            Enum.map_join(strays, ", ", &term(&1, names)) <> ". "

        _ ->
          ""
      end

    "#{who} ran for more than #{ms} ms (watchdog) without reaching a Lockstep sync point: " <>
      "it " <> doing <> vm <> "Its stack:\n" <> where
  end

  defp detail(%{category: :escape, detail: note} = f, names) when is_map(note) do
    text = escape(note, names, f.processes)

    case f[:stalled] do
      %{category: category} = stalled ->
        stalled = Map.put(stalled, :escapes, [note | f[:escapes] || []])
        text <> "\nMeanwhile the run came to a stop (#{category}):\n" <> detail(stalled, names)

      nil ->
        text
    end
  end

  defp detail(%{category: :diverged, detail: {:diverged, step, expected, enabled}}, names) do
    "At step #{step} the schedule names #{alias_of(expected, names)}, which cannot run; " <>
      "enabled: #{Enum.map_join(enabled, ", ", &alias_of(&1, names))}."
  end

  defp detail(%{category: :diverged, detail: {:exhausted, step}}, _names) do
    "The run went on to step #{step}; the schedule ends after step #{step - 1}."
  end

  defp detail(%{category: :diverged, detail: d}, _names), do: inspect(d)
  defp detail(%{detail: d}, _names), do: inspect(d)

  defp processes(procs) do
    Enum.map_join(procs, ", ", fn {id, pid, name} ->
      "P#{id} #{inspect(pid)}" <> if(name, do: " (#{inspect(name)})", else: "")
    end)
  end

  @doc "The schedule as lines: numbered steps, with side effects under them."
  def schedule(trace, names, max_lines) do
    trace
    |> Enum.map(fn {step, time, proc, event} ->
      %{step: step, time: time, proc: proc, text: event(event, names)}
    end)
    |> layout(&alias_of(&1, names), max_lines)
  end

  @doc """
  Lays rendered events (`events/2`, or a schedule file's trace) out one step per line, side
  effects under their step, keeping the first and last lines when there are more than
  `max_lines`. `who_is` names a process id (`P1(:counter)`).
  """
  @spec layout([map()], (non_neg_integer() -> String.t()), pos_integer() | :infinity) ::
          String.t()
  def layout(events, who_is, max_lines) do
    lines = not_kept(events) ++ lines(events, who_is)
    n = length(lines)

    if n <= max_lines do
      Enum.join(lines, "\n")
    else
      head = div(max_lines, 3)
      tail = max_lines - head

      Enum.join(
        Enum.take(lines, head) ++
          ["       ... #{n - max_lines} lines omitted (the saved trace has them all) ..."] ++
          Enum.take(lines, -tail),
        "\n"
      )
    end
  end

  # A long run keeps only the last events of its trace (whole steps); say where they start.
  defp not_kept([%{step: first} | _]) when first > 1,
    do: [
      "       (steps 1..#{first - 1} are not kept: a long run keeps its last steps' events; the schedule replays them all)"
    ]

  defp not_kept(_), do: []

  defp lines(events, who_is) do
    {lines, _} =
      Enum.map_reduce(events, nil, fn %{step: step, time: time, proc: proc, text: text},
                                      last_step ->
        # A step without a process is the clock's (racing timers), or the simulated
        # network's (a message arriving on another node, a fault).
        if step != last_step and step > 0 do
          num = String.pad_leading("#{step}.", 6)
          who = if(proc, do: who_is.(proc), else: if(net?(text), do: "net", else: "clock"))
          who = String.pad_trailing(who, 4)
          {"#{num} #{who} #{text}#{at(time)}", step}
        else
          {"         · #{text}", last_step}
        end
      end)

    lines
  end

  defp net?(text) do
    String.starts_with?(text, ["message #", "fault: ", "partition #", "global name "])
  end

  defp at(0), do: ""
  defp at(t), do: "   @#{t}ms"

  defp event({:start}, _), do: "starts"
  defp event({:spawn, c, false}, n), do: "spawns #{alias_of(c, n)}"
  defp event({:spawn, c, true}, n), do: "spawns #{alias_of(c, n)}, linked"

  defp event({:send, dest, to, msg}, n) do
    # To `{name, node}` the cluster's own events say what became of it.
    dropped = if to == nil and not is_tuple(dest), do: " (dropped: no such process)", else: ""
    "sends #{term(msg, n)} to #{dest(dest, n)}#{dropped}"
  end

  defp event({:receive, msg}, n), do: "receives #{term(msg, n)}"

  defp event({:call, dest, _to, request}, n),
    do: "calls #{dest(dest, n)} with #{term(request, n)}"

  defp event({:takes_call, from, request}, n),
    do: "takes #{term(from, n)}'s call #{term(request, n)}"

  defp event({:reply, to, reply}, n), do: "replies #{term(reply, n)} to #{alias_of(to, n)}"
  defp event({:call_returns, reply}, n), do: "gets the reply #{term(reply, n)}"

  defp event({:scan, _base, count, _}, _),
    do: "selective receive looks at #{plural(count, "new message")}"

  defp event({:timeout}, _), do: "receive times out"
  defp event({:sleep}, _), do: "wakes from sleep"

  defp event({:send_after, dest, delay, msg}, n),
    do: "sets a #{delay} ms timer: #{term(msg, n)} to #{dest(dest, n)}"

  defp event({:cancel_timer, false}, _), do: "cancels a timer (already fired or unknown)"
  defp event({:cancel_timer, ms}, _), do: "cancels a timer (#{ms} ms left)"
  defp event({:read_timer, false}, _), do: "reads a timer (already fired or unknown)"
  defp event({:read_timer, ms}, _), do: "reads a timer (#{ms} ms left)"
  defp event({:now, t}, _), do: "reads the clock: #{t} ms"
  defp event({:info, t, true}, n), do: "reads Process.info of #{alias_of(t, n)}"
  defp event({:info, t, false}, n), do: "reads Process.info of #{alias_of(t, n)} (dead)"
  defp event({:monitor, dest}, n), do: "monitors #{dest(dest, n)}"
  defp event({:demonitor, found}, _), do: "demonitors (#{if found, do: "active", else: "gone"})"
  defp event({:link, t}, n), do: "links to #{alias_of(t, n)}"
  defp event({:unlink, t}, n), do: "unlinks from #{alias_of(t, n)}"
  defp event({:trap_exit, on}, _), do: "sets trap_exit to #{on}"
  defp event({:alive, t, a}, n), do: "alive?(#{alias_of(t, n)}) -> #{a}"

  defp event({:exit_signal, t, r}, n),
    do: "sends exit signal #{term(r, n)} to #{alias_of(t, n)}"

  defp event({:exit, :normal}, _), do: "exits normally"
  defp event({:exit, {%{__exception__: true}, _} = r}, n), do: "raises #{term(r, n)}"
  defp event({:exit, r}, n), do: "exits: #{term(r, n)}"
  defp event({:register, name, t}, n), do: "registers #{alias_of(t, n)} as #{inspect(name)}"
  defp event({:unregister, name}, _), do: "unregisters #{inspect(name)}"
  defp event({:whereis, name, nil}, _), do: "whereis(#{inspect(name)}) -> nil"
  defp event({:whereis, name, p}, n), do: "whereis(#{inspect(name)}) -> #{alias_of(p, n)}"
  defp event({:registered, false, count}, _), do: "lists registered names (#{count})"
  defp event({:registered, true, count}, _), do: "lists global names (#{count})"

  defp event({:global_register, name, t, true}, n),
    do: "registers #{alias_of(t, n)} as {:global, #{inspect(name)}}"

  defp event({:global_register, name, t, false}, n),
    do: "fails to register #{alias_of(t, n)} as {:global, #{inspect(name)}} (taken)"

  defp event({:global_unregister, name}, _), do: "unregisters {:global, #{inspect(name)}}"

  defp event({:global_whereis, name, nil}, _), do: "whereis({:global, #{inspect(name)}}) -> nil"

  defp event({:global_whereis, name, p}, n),
    do: "whereis({:global, #{inspect(name)}}) -> #{alias_of(p, n)}"

  defp event({:sync, {:ets, op, table, _key, object}}, n),
    do: "ETS #{op} #{term(object, n)} into #{table(table, n)}"

  defp event({:sync, {:ets, op, table, key}}, n),
    do: "ETS #{op} #{term(key, n)} in #{table(table, n)}"

  defp event({:sync, {:ets, op, table}}, n), do: "ETS #{op} on #{table(table, n)}"
  defp event({:sync, label}, n), do: term(label, n)
  defp event({:sync, label, result}, n), do: "#{event({:sync, label}, n)} -> #{term(result, n)}"
  defp event({:failed, why}, _), do: "fails: #{why}"
  defp event({:deliver, to, msg}, n), do: "#{alias_of(to, n)} gets #{term(msg, n)}"

  defp event({:died, v, r, from, false}, n) when from == v,
    do: "#{alias_of(v, n)} dies: #{term(r, n)} (exit signal to itself)"

  defp event({:died, v, r, from, false}, n),
    do: "#{alias_of(v, n)} dies: #{term(r, n)} (exit signal from #{alias_of(from, n)})"

  defp event({:died, v, r, from, true}, n),
    do: "#{alias_of(v, n)} dies: #{term(r, n)} (through its link to #{alias_of(from, n)})"

  defp event({:vanished, v}, n), do: "#{alias_of(v, n)} died outside Lockstep's control"
  defp event({:clock, to}, _), do: "clock jumps to #{to} ms"
  defp event({:timer_fired, nil}, _), do: "a timer fires (no recipient)"
  defp event({:timer_fired, to}, n), do: "a timer fires for #{alias_of(to, n)}"
  defp event({:deadline, of}, n), do: "#{alias_of(of, n)}'s timeout expires"
  defp event({:net, _, _} = e, n), do: net(e, n)
  defp event({:net, _, _, _} = e, n), do: net(e, n)
  defp event({:net, _, _, _, _} = e, n), do: net(e, n)
  defp event({:net, _, _, _, _, _} = e, n), do: net(e, n)
  defp event(other, _), do: inspect(other)

  # The simulated cluster's events (Lockstep.Cluster).
  defp net({:net, :nodes_started, nodes}, _), do: "starts nodes #{nodes(nodes)}"

  defp net({:net, :partitioned, id, from, to, {mode, one_way, fault}}, _) do
    arrow = if one_way, do: "cannot reach", else: "and"
    tail = if one_way, do: "", else: " are cut off from each other"

    "#{fault(fault)}partition ##{id} (#{inspect(mode)}): #{nodes(from)} #{arrow} " <>
      "#{nodes(to)}#{tail}"
  end

  defp net({:net, :healed, ids, released, fault}, _) do
    parts = Enum.map_join(ids, ", ", &"##{&1}")
    what = if ids == [], do: "heals (no partition was active)", else: "heals partition #{parts}"
    held = if released > 0, do: ", #{plural(released, "deferred message")} move on", else: ""
    fault(fault) <> what <> held
  end

  defp net({:net, :detected, id}, _),
    do: "partition ##{id} detected: the net tick time passed, connections across it are down"

  defp net({:net, :node_stopped, node, fault}, _),
    do: "#{fault(fault)}node #{inspect(node)} stops"

  defp net({:net, :node_started, node, fault}, _),
    do: "#{fault(fault)}node #{inspect(node)} starts again, empty"

  defp net({:net, :ticktime, ms}, _), do: "sets the net tick time to #{ms} ms"

  defp net({:net, :monitor_node, node, true}, _), do: "monitors node #{inspect(node)}"
  defp net({:net, :monitor_node, node, false}, _), do: "stops monitoring node #{inspect(node)}"
  defp net({:net, :nodes, true, count}, _), do: "lists the cluster's nodes (#{count})"
  defp net({:net, :nodes, false, count}, _), do: "lists the connected nodes (#{count})"

  defp net({:net, :sent, id, from, to, held}, _) do
    how = if held, do: "held by a partition", else: "in transit"
    "message ##{id} #{how}: #{inspect(from)} → #{inspect(to)}"
  end

  defp net({:net, :arrived, id, from, to, target}, n),
    do: "message ##{id} arrives: #{inspect(from)} → #{inspect(to)}, for #{alias_of(target, n)}"

  defp net({:net, :dropped, id, from, to, why}, _) do
    why =
      case why do
        {:partition, p} -> "partition ##{p}"
        :nodedown -> "a node is down"
        :no_target -> "no such process there"
        other -> inspect(other)
      end

    "message ##{id} lost: #{inspect(from)} → #{inspect(to)} (#{why})"
  end

  defp net({:net, :global_clash, name, kept, killed}, n),
    do:
      "global name #{term(name, n)} held on both sides at heal: #{alias_of(kept, n)} keeps it, " <>
        "#{alias_of(killed, n)} is killed"

  defp net(other, _), do: inspect(other)

  defp nodes(list), do: Enum.map_join(list, ", ", &inspect/1)
  defp fault(true), do: "fault: "
  defp fault(_), do: ""

  defp table(table, _names) when is_reference(table), do: "an unnamed table"
  defp table(table, names), do: "table " <> term(table, names)

  defp dest(id, names) when is_integer(id), do: alias_of(id, names)
  defp dest(name, _), do: inspect(name)

  @doc "P-alias of a process id, with its registered name if it has one."
  def alias_of(id, names) do
    at =
      case Map.get(names, {:node, id}) do
        nil -> ""
        node -> "@#{node}"
      end

    case Map.get(names, id) do
      nil -> "P#{id}#{at}"
      name -> "P#{id}#{at}(#{inspect(name)})"
    end
  end

  # Pids of the run's processes print as their P-aliases (keyed apart from the integer ids).
  defp pid_aliases(procs, names) do
    Map.new(procs, fn {id, pid, _} -> {{:pid, inspect(pid)}, alias_of(id, names)} end)
  end

  # In a step line an exception is its name and the first line of its message, cut at a word:
  # the report shows it whole once, above.
  defp term({%{__exception__: true} = e, stack}, _names) when is_list(stack) do
    first =
      e
      |> Exception.message()
      |> String.split("\n", trim: true)
      |> Enum.find("", &(String.trim(&1) != ""))
      |> String.trim()

    first =
      if String.length(first) > 70,
        do: (first |> String.slice(0, 70) |> String.replace(~r/\s+\S*$/, "")) <> " ...",
        else: first

    "** (#{inspect(e.__struct__)}) #{first}" |> String.trim_trailing()
  end

  defp term(t, names) do
    text = inspect(t, limit: 8, printable_limit: 60, width: :infinity)

    text =
      Regex.replace(~r/#PID<\d+\.\d+\.\d+>/, text, fn pid ->
        Map.get(names, {:pid, pid}, pid)
      end)

    # A reference reads as #Ref: its numbers differ from run to run, so a report (and a
    # schedule file, which a replay compares step by step) would too.
    text = Regex.replace(~r/#Reference<\d+\.\d+\.\d+\.\d+>/, text, "#Ref")

    if String.length(text) > 100, do: String.slice(text, 0, 97) <> "...", else: text
  end

  # The frames of the user's code: Lockstep's own runtime (which runs every process's body) is
  # left out, so the first frame shown is the user's (or ExUnit's assertion) when there is one.
  defp user_stack(stack) when is_list(stack) do
    case Enum.reject(stack, &runtime_frame?/1) do
      [] -> stack
      own -> own
    end
  end

  defp user_stack(stack), do: stack

  defp runtime_frame?({mod, _, _, _}), do: mod in [Lockstep.Runtime, Lockstep.Runner]
  defp runtime_frame?(_), do: false

  # " in Mod.fun/1 (file.ex:12)": where the stack's first frame is.
  defp location([{mod, fun, arity, info} | _]) when is_atom(mod) do
    arity = if is_list(arity), do: length(arity), else: arity
    file = info[:file]

    place = if file, do: " (#{Path.relative_to_cwd(to_string(file))}:#{info[:line]})", else: ""

    " in #{Exception.format_mfa(mod, fun, arity)}#{place}"
  end

  defp location(_), do: ""

  defp indent(text) do
    text |> String.split("\n") |> Enum.map_join("\n", &("  " <> &1))
  end
end

defmodule Lockstep.GenStatem do
  @moduledoc """
  Runs `:gen_statem` callback modules, unchanged, under Lockstep.

  Write the state machine as usual (`@behaviour :gen_statem`, `callback_mode/0`, `init/1`,
  state functions or `handle_event/4`, optional `terminate/3`) and start and call it through
  this module, whose functions have `:gen_statem`'s names, arguments and results:

      {:ok, pid} = Lockstep.GenStatem.start_link({:local, :door}, Door, :locked, [])
      :ok = Lockstep.GenStatem.call(:door, {:button, 1})
      Lockstep.GenStatem.cast(:door, :close)

  Inside a Lockstep run the machine is a managed process and every event it receives, every
  reply and every timer is a sync point; timeouts run on the run's virtual clock. Outside a run
  each function calls `:gen_statem`'s.

  ## What is mirrored

  The event loop follows `:gen_statem`'s rules:

    * callback modes `:state_functions` and `:handle_event_function`, with or without
      `:state_enter` (enter calls on the initial state and on every state change or
      `repeat_state`; they may not change state, postpone or insert events);
    * `init/1` results `{:ok, state, data}` and `{:ok, state, data, actions}`, `:ignore`,
      `{:stop, reason}`, thrown results; a bad result gives
      `{:error, {:bad_return_from_init, result}}`, an exception `{:error, reason}`;
    * every state callback result: `:next_state`, `:keep_state`, `:keep_state_and_data`,
      `:repeat_state`, `:repeat_state_and_data` (with or without actions), `:stop`,
      `{:stop, reason}`, `{:stop, reason, data}`, `:stop_and_reply` (replies sent before
      `terminate/3`); bad results stop the machine with the same reasons as OTP
      (`{:bad_return_from_state_function, result}`, ...);
    * actions: `{:reply, from, reply}`, `:postpone` / `{:postpone, boolean}` (postponed
      events are retried, oldest first, after the next state change), `{:next_event, type,
      content}` (handled before any other queued or new event, in action order),
      `:hibernate` (a no-op), `change_callback_module`, `push_callback_module`,
      `pop_callback_module`;
    * timeouts on the virtual clock: event timeouts (`integer` or `{:timeout, time, content}`,
      cancelled by any event), state timeouts (`{:state_timeout, time, content}`, cancelled by
      a state change) and generic timeouts (`{{:timeout, name}, time, content}`), with
      `:infinity` or `{type, :cancel}` to cancel, `{type, :update, content}`, `{:abs, true}`
      options (absolute times on the virtual clock, see `Lockstep.now/0`) and zero timeouts
      (queued after the pending events, before any new message);
    * `terminate/3` on stops, crashes (the process then exits with `{reason, stacktrace}` for
      errors), `stop/3`, and an exit signal from the parent when the machine traps exits.
    * `call/3` fails with `{reason, {:gen_statem, :call, [server, request, timeout]}}`:
      `:noproc`, the machine's exit reason, `:timeout`. `{:dirty_timeout, t}` and
      `{:clean_timeout, t}` are accepted and mean `t`. `stop/3` exits with `:noproc`,
      `:timeout` or the reason the machine exited with instead, unwrapped, as `:gen_statem`
      does.

  ## Differences from OTP

    * The client side must go through Lockstep (see `Lockstep.GenServer`): a plain
      `:gen_statem.call/3` to a managed process from inside a run never gets its reply.
    * No logging of crashes, `enter_loop`, `start_monitor`, `send_request`/`wait_response`;
      `:debug`, `:hibernate_after` and `:spawn_opt` options are ignored.
    * System messages are those of `Lockstep.Sys`, sent with it: `get_state` and
      `replace_state` (on `{state, data}`), `get_status` (modules, time-outs, postponed
      events, through the module's `format_status/1,2`), `suspend`, `resume`, `terminate`;
      the `:sys` debug facilities and `change_code` are answered
      `{:error, {:unknown_system_msg, request}}`.
    * Timers are `Lockstep.send_after/3` timers: a timer set with `{:abs, true}` for a time
      already past fires when every process waits (not at once).
    * A late reply after a call timed out stays in the caller's mailbox as
      `{reference, reply}`.
    * `{:via, module, name}` needs a registry that works inside runs: `Lockstep.Global` or
      `Lockstep.Registry`; `{name, node}` addresses a node of the run's simulated cluster
      (`Lockstep.Cluster`).
  """

  alias Lockstep.Gen

  @typedoc "How a state machine is named when started (as `:gen_statem.server_name/0`)."
  @type server_name :: {:local, atom()} | {:global, term()} | {:via, module(), term()}

  @typedoc "What calls and casts can address (as `:gen_statem.server_ref/0`)."
  @type server_ref ::
          pid() | atom() | {atom(), node()} | {:global, term()} | {:via, module(), term()}

  @typedoc "A caller's identity in a `{:call, from}` event."
  @type from :: {pid(), term()}

  # ----- client API ----------------------------------------------------------------------

  @doc """
  Starts an unnamed state machine linked to the caller. Options: `:timeout` for `init/1`
  (virtual ms inside a run); the others are ignored inside a run. Outside a run,
  `:gen_statem.start_link/3`.
  """
  @spec start_link(module(), term(), keyword()) :: :gen_statem.start_ret()
  def start_link(module, args, opts) when is_atom(module) and is_list(opts) do
    if Lockstep.managed?(),
      do: do_start(:link, nil, module, args, opts),
      else: :gen_statem.start_link(module, args, opts)
  end

  @doc "Starts a state machine registered as `name`, linked to the caller."
  @spec start_link(server_name(), module(), term(), keyword()) :: :gen_statem.start_ret()
  def start_link(name, module, args, opts) when is_atom(module) and is_list(opts) do
    if Lockstep.managed?(),
      do: do_start(:link, check_name!(name), module, args, opts),
      else: :gen_statem.start_link(name, module, args, opts)
  end

  @doc "Starts an unnamed state machine without a link."
  @spec start(module(), term(), keyword()) :: :gen_statem.start_ret()
  def start(module, args, opts) when is_atom(module) and is_list(opts) do
    if Lockstep.managed?(),
      do: do_start(:nolink, nil, module, args, opts),
      else: :gen_statem.start(module, args, opts)
  end

  @doc "Starts a state machine registered as `name`, without a link."
  @spec start(server_name(), module(), term(), keyword()) :: :gen_statem.start_ret()
  def start(name, module, args, opts) when is_atom(module) and is_list(opts) do
    if Lockstep.managed?(),
      do: do_start(:nolink, check_name!(name), module, args, opts),
      else: :gen_statem.start(name, module, args, opts)
  end

  @doc """
  Sends a `{:call, from}` event and waits up to `timeout` (virtual ms inside a run; default
  `:infinity`) for the reply. Outside a run, `:gen_statem.call/3`.
  """
  @spec call(server_ref(), term(), timeout() | {:dirty_timeout | :clean_timeout, timeout()}) ::
          term()
  def call(server, request, timeout \\ :infinity) do
    if Lockstep.managed?() do
      wait =
        case timeout do
          {kind, t} when kind in [:dirty_timeout, :clean_timeout] -> t
          {_, _} -> :erlang.error(:badarg, [server, request, timeout])
          t -> t
        end

      location = {:gen_statem, :call, [server, request, timeout]}

      case Gen.whereis(server) do
        :undefined -> exit({:noproc, location})
        pid -> Gen.do_call(pid, {:"$gen_call", {self(), nil}, request}, wait, location)
      end
    else
      :gen_statem.call(server, request, timeout)
    end
  end

  @doc "Sends a `:cast` event; always `:ok`. Outside a run, `:gen_statem.cast/2`."
  @spec cast(server_ref(), term()) :: :ok
  def cast(server, msg) do
    if Lockstep.managed?(), do: Gen.cast(server, msg), else: :gen_statem.cast(server, msg)
  end

  @doc "Answers a `{:call, from}` event. Always `:ok`. Outside a run, `:gen_statem.reply/2`."
  @spec reply(from(), term()) :: :ok
  def reply(from, reply) do
    if Lockstep.managed?(), do: Gen.reply(from, reply), else: :gen_statem.reply(from, reply)
  end

  @doc "Sends the replies of one `{:reply, from, reply}` action or a list of them. `:ok`."
  @spec reply({:reply, from(), term()} | [{:reply, from(), term()}]) :: :ok
  def reply({:reply, from, reply}), do: reply(from, reply)
  def reply(replies) when is_list(replies), do: Enum.each(replies, &reply/1)

  @doc """
  Stops the machine with `reason`, calling its `terminate/3`, and waits up to `timeout` for it
  to exit; exits with `:noproc`, `:timeout` or the other reason it exited with. Outside a run,
  `:gen_statem.stop/3`.
  """
  @spec stop(server_ref(), term(), timeout()) :: :ok
  def stop(server, reason \\ :normal, timeout \\ :infinity) do
    if Lockstep.managed?(),
      do: Gen.stop(server, reason, timeout),
      else: :gen_statem.stop(server, reason, timeout)
  end

  # ----- starting ------------------------------------------------------------------------

  defp check_name!({:local, name} = n) when is_atom(name), do: n
  defp check_name!({:global, _} = n), do: n
  defp check_name!({:via, mod, _} = n) when is_atom(mod), do: n

  defp check_name!(other) do
    raise ArgumentError,
          "a state machine's name must be {:local, atom}, {:global, term} or " <>
            "{:via, module, term}, got: #{inspect(other)}"
  end

  defp do_start(link, name, module, args, opts) do
    timeout = Keyword.get(opts, :timeout, :infinity)

    Gen.start(link, name, timeout, fn starter, parent ->
      init_it(starter, parent, name, module, args)
    end)
  end

  defp init_it(starter, parent, name, mod, args) do
    Process.put(:"$initial_call", {mod, :init, 1})
    p = %{parent: parent, name: name, modules: [mod], callback_mode: nil, state_enter: false}

    result =
      try do
        {:ok, mod.init(args)}
      catch
        :throw, value -> {:ok, value}
        class, reason -> {:EXIT, class, reason, __STACKTRACE__}
      end

    case result do
      {:ok, {:ok, state, data}} ->
        Gen.init_ack(starter, {:ok, self()})
        enter(p, state, data, [])

      {:ok, {:ok, state, data, actions}} ->
        Gen.init_ack(starter, {:ok, self()})
        enter(p, state, data, actions)

      {:ok, {:stop, reason}} ->
        Gen.unregister_name(name)
        Gen.init_ack(starter, {:error, reason})
        exit(reason)

      {:ok, :ignore} ->
        Gen.unregister_name(name)
        Gen.init_ack(starter, :ignore)
        exit(:normal)

      {:ok, other} ->
        Gen.unregister_name(name)
        error = {:bad_return_from_init, other}
        Gen.init_ack(starter, {:error, error})
        exit(error)

      {:EXIT, class, reason, stack} ->
        Gen.unregister_name(name)
        Gen.init_ack(starter, {:error, reason})
        :erlang.raise(class, reason, stack)
    end
  end

  # The first transition: the initial actions run against a stand-in event that is dropped,
  # and the initial state gets its enter call, as in OTP.
  defp enter(p, state, data, actions) do
    q = [{:internal, :init_state}]
    actions = listify(actions) ++ [{:postpone, false}]
    s = %{state_data: {state, data}, postponed: [], timers: %{}, t0q: []}

    case callback_mode(p, p.modules) do
      {:ok, p} ->
        acc = %{next: [], timeouts: [], postpone: false, call_enter: true, state_call: true}
        actions_list(p, s, q, {state, data}, acc, actions)

      {:EXIT, class, reason, stack} ->
        terminate(class, reason, stack, p, s, q)
    end
  end

  defp callback_mode(p, [mod | _] = modules) do
    result =
      try do
        {:ok, mod.callback_mode()}
      catch
        :throw, value -> {:ok, value}
        class, reason -> {:EXIT, class, reason, __STACKTRACE__}
      end

    with {:ok, value} <- result do
      parse_callback_mode(p, modules, value, listify(value), nil, false)
    end
  end

  defp parse_callback_mode(p, modules, value, [mode | rest], found, enter) do
    cond do
      mode in [:state_functions, :handle_event_function] ->
        parse_callback_mode(p, modules, value, rest, mode, enter)

      mode == :state_enter ->
        parse_callback_mode(p, modules, value, rest, found, true)

      true ->
        {:EXIT, :error, {:bad_return_from_callback_mode, value}, []}
    end
  end

  defp parse_callback_mode(_p, _modules, value, [], nil, _enter) do
    {:EXIT, :error, {:bad_return_from_callback_mode, value}, []}
  end

  defp parse_callback_mode(p, modules, _value, [], mode, enter) do
    {:ok, %{p | modules: modules, callback_mode: mode, state_enter: enter}}
  end

  # ----- receiving -----------------------------------------------------------------------

  defp loop_receive(p, s) do
    case Lockstep.recv() do
      {:"$gen_call", from, request} ->
        loop_event(p, s, {{:call, from}, request}, [])

      {:"$gen_cast", msg} ->
        loop_event(p, s, {:cast, msg}, [])

      {:timeout, tag, type} = msg ->
        case s.timers do
          %{^type => {{_timer, ^tag}, content}} ->
            loop_event(p, %{s | timers: Map.delete(s.timers, type)}, {type, content}, [])

          _ ->
            loop_event(p, s, {:info, msg}, [])
        end

      {:system, from, request} ->
        Lockstep.Sys.handle_system_msg(request, from, p.parent, {__MODULE__, :gen_statem}, {p, s})

      {:EXIT, parent, reason} when parent == p.parent ->
        terminate(:exit, reason, [], p, s, [])

      msg ->
        loop_event(p, s, {:info, msg}, [])
    end
  end

  defp loop_event(p, s, event, events) do
    acc = %{next: [], timeouts: [], postpone: false, call_enter: false, state_call: true}
    state_callback(p, s, [event | events], s.state_data, acc, event)
  end

  # ----- state callbacks -----------------------------------------------------------------

  defp state_callback(p, s, q, {state, data} = sd, acc, {type, content}) do
    [mod | _] = p.modules

    result =
      try do
        case p.callback_mode do
          :state_functions -> {:ok, apply(mod, state, [type, content, data])}
          :handle_event_function -> {:ok, mod.handle_event(type, content, state, data)}
        end
      catch
        :throw, value -> {:ok, value}
        class, reason -> {:EXIT, class, reason, __STACKTRACE__}
      end

    case result do
      {:ok, value} -> callback_result(p, s, q, sd, acc, value)
      {:EXIT, class, reason, stack} -> terminate(class, reason, stack, p, s, q)
    end
  end

  defp callback_result(p, s, q, {state, _data} = sd, acc, result) do
    state_call = acc.state_call
    bad_enter = {:bad_state_enter_return_from_state_function, result}

    case result do
      {:next_state, ^state, data} ->
        actions(p, s, q, {state, data}, %{acc | call_enter: false}, [])

      {:next_state, next, data} when state_call ->
        actions(p, s, q, {next, data}, %{acc | call_enter: true}, [])

      {:next_state, _next, _data} ->
        terminate(:error, bad_enter, [], p, %{s | state_data: sd}, q)

      {:next_state, ^state, data, actions} ->
        actions(p, s, q, {state, data}, %{acc | call_enter: false}, actions)

      {:next_state, next, data, actions} when state_call ->
        actions(p, s, q, {next, data}, %{acc | call_enter: true}, actions)

      {:next_state, _next, _data, _actions} ->
        terminate(:error, bad_enter, [], p, %{s | state_data: sd}, q)

      {:keep_state, data} ->
        actions(p, s, q, {state, data}, %{acc | call_enter: false}, [])

      {:keep_state, data, actions} ->
        actions(p, s, q, {state, data}, %{acc | call_enter: false}, actions)

      :keep_state_and_data ->
        actions(p, s, q, sd, %{acc | call_enter: false}, [])

      {:keep_state_and_data, actions} ->
        actions(p, s, q, sd, %{acc | call_enter: false}, actions)

      {:repeat_state, data} ->
        actions(p, s, q, {state, data}, %{acc | call_enter: true}, [])

      {:repeat_state, data, actions} ->
        actions(p, s, q, {state, data}, %{acc | call_enter: true}, actions)

      :repeat_state_and_data ->
        actions(p, s, q, sd, %{acc | call_enter: true}, [])

      {:repeat_state_and_data, actions} ->
        actions(p, s, q, sd, %{acc | call_enter: true}, actions)

      :stop ->
        terminate(:exit, :normal, [], p, %{s | state_data: sd}, q)

      {:stop, reason} ->
        terminate(:exit, reason, [], p, %{s | state_data: sd}, q)

      {:stop, reason, data} ->
        terminate(:exit, reason, [], p, %{s | state_data: {state, data}}, q)

      {:stop_and_reply, reason, replies} ->
        reply_then_terminate(reason, p, %{s | state_data: sd}, q, listify(replies))

      {:stop_and_reply, reason, replies, data} ->
        reply_then_terminate(reason, p, %{s | state_data: {state, data}}, q, listify(replies))

      _ ->
        bad = {:bad_return_from_state_function, result}
        terminate(:error, bad, [], p, %{s | state_data: sd}, q)
    end
  end

  # ----- actions -------------------------------------------------------------------------

  defp actions(p, s, q, sd, acc, []), do: actions_list(p, s, q, sd, acc, [])
  defp actions(p, s, q, sd, acc, actions), do: actions_list(p, s, q, sd, acc, listify(actions))

  defp actions_list(p, s, q, sd, acc, []) do
    if p.state_enter and acc.call_enter do
      {previous, _} = s.state_data
      state_callback(p, s, q, sd, %{acc | state_call: false}, {:enter, previous})
    else
      transition(p, s, q, sd, acc)
    end
  end

  defp actions_list(p, s, q, sd, acc, [action | rest]) do
    state_call = acc.state_call
    fail = fn reason -> terminate(:error, reason, [], p, %{s | state_data: sd}, q) end

    case action do
      {:reply, from, reply} ->
        if from?(from) do
          Gen.reply(from, reply)
          actions_list(p, s, q, sd, acc, rest)
        else
          fail.({:bad_action_from_state_function, action})
        end

      {:hibernate, flag} when is_boolean(flag) ->
        actions_list(p, s, q, sd, acc, rest)

      :hibernate ->
        actions_list(p, s, q, sd, acc, rest)

      {:postpone, flag} when is_boolean(flag) and (not flag or state_call) ->
        actions_list(p, s, q, sd, %{acc | postpone: flag}, rest)

      :postpone when state_call ->
        actions_list(p, s, q, sd, %{acc | postpone: true}, rest)

      :postpone ->
        fail.({:bad_state_enter_action_from_state_function, action})

      {:next_event, type, content} ->
        if event_type?(type) and state_call do
          actions_list(p, s, q, sd, %{acc | next: [{type, content} | acc.next]}, rest)
        else
          tag =
            if state_call,
              do: :bad_action_from_state_function,
              else: :bad_state_enter_action_from_state_function

          fail.({tag, action})
        end

      {tag, module}
      when tag in [:change_callback_module, :push_callback_module] and
             is_atom(module) ->
        modules =
          if tag == :change_callback_module,
            do: [module | tl(p.modules)],
            else: [module | p.modules]

        switch_module(p, s, q, sd, acc, rest, modules, action)

      :pop_callback_module when tl(p.modules) != [] ->
        switch_module(p, s, q, sd, acc, rest, tl(p.modules), action)

      _ ->
        case timeout_action(action) do
          {:ok, timeout} ->
            actions_list(p, s, q, sd, %{acc | timeouts: [timeout | acc.timeouts]}, rest)

          :error ->
            fail.({:bad_action_from_state_function, action})
        end
    end
  end

  defp switch_module(p, s, q, sd, acc, rest, modules, action) do
    if acc.state_call do
      case callback_mode(p, modules) do
        {:ok, p} ->
          actions_list(p, s, q, sd, acc, rest)

        {:EXIT, class, reason, stack} ->
          terminate(class, reason, stack, p, %{s | state_data: sd}, q)
      end
    else
      reason = {:bad_state_enter_action_from_state_function, action}
      terminate(:error, reason, [], p, %{s | state_data: sd}, q)
    end
  end

  # A timeout action as `{type, time | :update | {:abs, time}, content}`, or :error.
  defp timeout_action({type, time, content, opts} = action) do
    if timeout_type?(type) do
      case abs_option(listify(opts), false) do
        abs when is_boolean(abs) and time == :infinity -> {:ok, {type, time, content}}
        true when is_integer(time) -> {:ok, {type, {:abs, time}, content}}
        false when is_integer(time) and time >= 0 -> {:ok, {type, time, content}}
        _ -> bad(action)
      end
    else
      bad(action)
    end
  end

  defp timeout_action({type, time, _content} = action) do
    if timeout_type?(type) and (relative?(time) or time == :update),
      do: {:ok, action},
      else: bad(action)
  end

  defp timeout_action({type, :cancel} = action) do
    if timeout_type?(type), do: {:ok, {type, :infinity, :undefined}}, else: bad(action)
  end

  defp timeout_action(time) do
    if relative?(time), do: {:ok, {:timeout, time, time}}, else: :error
  end

  defp bad(_action), do: :error

  defp abs_option([], abs), do: abs
  defp abs_option([{:abs, abs} | rest], _) when is_boolean(abs), do: abs_option(rest, abs)
  defp abs_option(_, _), do: :badarg

  defp relative?(time), do: (is_integer(time) and time >= 0) or time == :infinity

  defp timeout_type?(:timeout), do: true
  defp timeout_type?(:state_timeout), do: true
  defp timeout_type?({:timeout, _}), do: true
  defp timeout_type?(_), do: false

  defp event_type?({:call, from}), do: from?(from)
  defp event_type?(type) when type in [:cast, :info, :internal], do: true
  defp event_type?(type), do: timeout_type?(type)

  defp from?({pid, _}) when is_pid(pid), do: true
  defp from?(_), do: false

  # ----- transitions ---------------------------------------------------------------------

  defp transition(p, s, [event | events], {next, _} = sd, acc) do
    postponed = if acc.postpone, do: [event | s.postponed], else: s.postponed
    {state, _} = s.state_data

    {events, postponed, s} =
      if next === state do
        {events, postponed, cancel_timer(s, :timeout)}
      else
        s = s |> cancel_timer(:state_timeout) |> cancel_timer(:timeout)
        {Enum.reverse(postponed, events), [], s}
      end

    s = start_timeouts(acc.timeouts, %{s | postponed: postponed}, MapSet.new(), [])
    loop_done(p, %{s | state_data: sd}, Enum.reverse(acc.next, events))
  end

  # Newest timeout action of each type wins; zero timeouts queue after the pending ones.
  defp start_timeouts([], s, _seen, zero), do: %{s | t0q: s.t0q ++ zero}

  defp start_timeouts([{type, time, content} | rest], s, seen, zero) do
    if MapSet.member?(seen, type) do
      start_timeouts(rest, s, seen, zero)
    else
      seen = MapSet.put(seen, type)

      case time do
        :infinity ->
          start_timeouts(rest, cancel_timer(s, type), seen, zero)

        :update ->
          case s.timers do
            %{^type => {timer, _old}} ->
              s = %{s | timers: Map.put(s.timers, type, {timer, content})}
              start_timeouts(rest, s, seen, zero)

            _ ->
              s = %{s | timers: Map.put(s.timers, type, {0, content})}
              start_timeouts(rest, s, seen, [type | zero])
          end

        0 ->
          start_timeouts(rest, register_timer(s, type, 0, content), seen, [type | zero])

        {:abs, at} ->
          timer = start_timer(type, max(at - Lockstep.now(), 0))
          start_timeouts(rest, register_timer(s, type, timer, content), seen, zero)

        ms ->
          timer = start_timer(type, ms)
          start_timeouts(rest, register_timer(s, type, timer, content), seen, zero)
      end
    end
  end

  defp start_timer(type, ms) do
    tag = make_ref()
    {Lockstep.send_after(self(), {:timeout, tag, type}, ms), tag}
  end

  defp register_timer(s, type, timer, content) do
    s = cancel_timer(s, type)
    %{s | timers: Map.put(s.timers, type, {timer, content})}
  end

  defp cancel_timer(s, type) do
    case s.timers do
      %{^type => {0, _}} ->
        %{s | timers: Map.delete(s.timers, type), t0q: List.delete(s.t0q, type)}

      %{^type => {{timer, tag}, _}} ->
        if Lockstep.cancel_timer(timer) == false do
          # Already fired: take its message out of the mailbox, as OTP does.
          _ =
            Lockstep.recv_first(
              fn
                {:timeout, ^tag, _} -> true
                _ -> false
              end,
              0
            )
        end

        %{s | timers: Map.delete(s.timers, type)}

      _ ->
        s
    end
  end

  defp loop_done(p, s, []) do
    case s.t0q do
      [type | _] ->
        {0, content} = Map.fetch!(s.timers, type)
        loop_event(p, cancel_timer(s, type), {type, content}, [])

      [] ->
        loop_receive(p, s)
    end
  end

  defp loop_done(p, s, [event | events]), do: loop_event(p, s, event, events)

  # ----- system messages (see Lockstep.Sys) ----------------------------------------------

  @doc false
  def system_continue(_parent, {p, s}), do: loop_receive(p, s)

  @doc false
  def system_terminate(reason, _parent, {p, s}), do: terminate(:exit, reason, [], p, s, [])

  @doc false
  def system_get_state({_p, s}), do: {:ok, s.state_data}

  @doc false
  def system_replace_state(fun, {p, s}) do
    state_data = fun.(s.state_data)
    {:ok, state_data, {p, %{s | state_data: state_data}}}
  end

  @doc false
  def system_format_status([pdict, sys_state, parent, debug, {p, s}]) do
    name = Lockstep.Sys.status_name(p.name)
    Lockstep.Sys.gen_statem_status([pdict, sys_state, parent, debug], name, p.modules, s)
  end

  # ----- terminating ---------------------------------------------------------------------

  defp reply_then_terminate(reason, p, s, q, []), do: terminate(:exit, reason, [], p, s, q)

  defp reply_then_terminate(reason, p, s, q, [r | rest]) do
    case r do
      {:reply, from, reply} when is_tuple(from) ->
        if from?(from) do
          Gen.reply(from, reply)
          reply_then_terminate(reason, p, s, q, rest)
        else
          terminate(:error, {:bad_reply_action_from_state_function, r}, [], p, s, q)
        end

      _ ->
        terminate(:error, {:bad_reply_action_from_state_function, r}, [], p, s, q)
    end
  end

  defp terminate(class, reason, stack, p, s, _q) do
    [mod | _] = p.modules
    {state, data} = s.state_data

    if function_exported?(mod, :terminate, 3) do
      try do
        mod.terminate(reason, state, data)
      catch
        :throw, _ -> :ok
      end
    end

    case stack do
      [] -> apply(:erlang, class, [reason])
      _ -> :erlang.raise(class, reason, stack)
    end
  end

  defp listify(list) when is_list(list), do: list
  defp listify(item), do: [item]
end

defmodule Lockstep.TestServers.Kv do
  # An ordinary GenServer exercising every callback shape. It reports what happens to it
  # (terminate, info, timeouts) to `notify` with Lockstep.send/2, which outside a run is a
  # plain send, so the same module runs under real OTP and under Lockstep.
  @moduledoc false
  use GenServer

  def start_link(arg), do: Lockstep.GenServer.start_link(__MODULE__, arg)

  defp tell(%{notify: pid}, msg) when is_pid(pid), do: Lockstep.send(pid, msg)
  defp tell(_, _), do: :ok

  @impl true
  def init({mode, notify}) do
    s = %{n: 0, notify: notify, pending: nil}

    case mode do
      {:ok, n} ->
        {:ok, %{s | n: n}}

      {:continue, n} ->
        {:ok, %{s | n: n}, {:continue, :bump}}

      {:timeout, n, t} ->
        {:ok, %{s | n: n}, t}

      {:slow_init, ms} ->
        Lockstep.sleep(ms)
        {:ok, s}

      {:trap, n} ->
        Lockstep.flag(:trap_exit, true)
        {:ok, %{s | n: n}}

      :ignore ->
        :ignore

      {:stop, reason} ->
        {:stop, reason}

      :bad ->
        :what

      :raise ->
        raise "init failed"

      {:throw, n} ->
        throw({:ok, %{s | n: n}})
    end
  end

  @impl true
  def handle_call(:get, _from, s), do: {:reply, s.n, s}
  def handle_call({:add, k}, _from, s), do: {:reply, s.n + k, %{s | n: s.n + k}}

  def handle_call(:later, from, s) do
    tell(s, :parked)
    {:noreply, %{s | pending: from}}
  end

  def handle_call({:stop, reason}, _from, s), do: {:stop, reason, :stopping, s}
  def handle_call({:stop_noreply, reason}, _from, s), do: {:stop, reason, s}
  def handle_call(:raise, _from, _s), do: raise("boom")
  def handle_call({:exit, reason}, _from, _s), do: exit(reason)
  def handle_call({:throw, value}, _from, s), do: throw({:reply, value, s})
  def handle_call(:bad, _from, _s), do: :nonsense
  def handle_call({:reply_timeout, t}, _from, s), do: {:reply, :ok, s, t}
  def handle_call(:continue, _from, s), do: {:reply, :ok, s, {:continue, :bump}}
  def handle_call(:never, _from, s), do: {:noreply, s}

  def handle_call({:slow, backend, timeout}, _from, s) do
    # Asks a backend with its own timeout, answering :unavailable when it does not answer.
    reply =
      try do
        Lockstep.GenServer.call(backend, :fetch, timeout)
      catch
        :exit, _ -> :unavailable
      end

    {:reply, reply, s}
  end

  @impl true
  def handle_cast({:add, k}, s), do: {:noreply, %{s | n: s.n + k}}

  def handle_cast(:release, s) do
    Lockstep.GenServer.reply(s.pending, {:released, s.n})
    {:noreply, %{s | pending: nil}}
  end

  def handle_cast({:stop, reason}, s), do: {:stop, reason, s}
  def handle_cast(:raise, _s), do: raise("cast boom")

  @impl true
  def handle_info(:timeout, s) do
    tell(s, {:timeout_fired, s.n})
    {:noreply, s}
  end

  def handle_info(msg, s) do
    tell(s, {:info, msg})
    {:noreply, s}
  end

  @impl true
  def handle_continue(:bump, s), do: {:noreply, %{s | n: s.n + 1}}

  @impl true
  def terminate(:crash_terminate, _s), do: raise("terminate failed")

  def terminate(reason, s) do
    tell(s, {:terminate, reason})
    :ok
  end
end

defmodule Lockstep.TestServers.Door do
  # A :gen_statem in state_functions mode with state enter calls: a code lock.
  @moduledoc false
  @behaviour :gen_statem

  defp tell(%{notify: pid}, msg) when is_pid(pid), do: Lockstep.send(pid, msg)
  defp tell(_, _), do: :ok

  @impl true
  def callback_mode, do: [:state_functions, :state_enter]

  @impl true
  def init({code, notify}) do
    {:ok, :locked, %{code: code, notify: notify, pressed: [], opened: 0}}
  end

  def locked(:enter, old, data) do
    tell(data, {:enter, :locked, old})
    {:keep_state, %{data | pressed: []}}
  end

  def locked({:call, from}, {:button, digit}, data) do
    pressed = data.pressed ++ [digit]

    cond do
      pressed == data.code ->
        {:next_state, :open, %{data | opened: data.opened + 1}, [{:reply, from, :open}]}

      List.starts_with?(data.code, pressed) ->
        {:keep_state, %{data | pressed: pressed}, [{:reply, from, :more}]}

      true ->
        {:repeat_state, data, [{:reply, from, :wrong}]}
    end
  end

  def locked(:cast, {:button, digit}, data) do
    {:keep_state, %{data | pressed: data.pressed ++ [digit]}}
  end

  def locked(event, content, data), do: common(event, content, :locked, data)

  def open(:enter, old, data) do
    tell(data, {:enter, :open, old})
    {:keep_state_and_data, [{:state_timeout, 10, :lock}]}
  end

  def open(:state_timeout, :lock, data) do
    tell(data, :relocking)
    {:next_state, :locked, data}
  end

  def open(:cast, {:button, _}, _data), do: {:keep_state_and_data, :postpone}
  def open({:call, from}, :status, _data), do: {:keep_state_and_data, {:reply, from, :open}}
  def open(event, content, data), do: common(event, content, :open, data)

  defp common({:call, from}, :status, state, _data),
    do: {:keep_state_and_data, {:reply, from, state}}

  defp common({:call, from}, :opened, _state, data) do
    {:keep_state_and_data, [{:reply, from, {data.opened, data.pressed}}]}
  end

  defp common({:call, from}, :stop, _state, _data) do
    {:stop_and_reply, :normal, [{:reply, from, :bye}]}
  end

  defp common(:info, msg, _state, data) do
    tell(data, {:info, msg})
    :keep_state_and_data
  end

  @impl true
  def terminate(reason, state, data) do
    tell(data, {:terminate, reason, state})
  end
end

defmodule Lockstep.TestServers.Machine do
  # A :gen_statem in handle_event_function mode: logs the events it handles, and turns calls
  # into the actions under test (timeouts, next_event, postpone, bad returns, crashes).
  @moduledoc false
  @behaviour :gen_statem

  defp tell(%{notify: pid}, msg) when is_pid(pid), do: Lockstep.send(pid, msg)
  defp tell(_, _), do: :ok

  defp log(data, entry), do: %{data | log: [entry | data.log]}

  @impl true
  def callback_mode, do: :handle_event_function

  @impl true
  def init({:ok, notify}), do: {:ok, :idle, %{notify: notify, log: []}}

  def init({:actions, notify}),
    do: {:ok, :idle, %{notify: notify, log: []}, [{:next_event, :internal, :boot}]}

  def init({:stop, reason}), do: {:stop, reason}
  def init(:ignore), do: :ignore
  def init(:bad), do: {:what, :ever}
  def init(:raise), do: raise("statem init failed")

  @impl true
  def handle_event({:call, from}, :log, _state, data) do
    {:keep_state_and_data, {:reply, from, Enum.reverse(data.log)}}
  end

  def handle_event({:call, from}, :state, state, _data),
    do: {:keep_state_and_data, {:reply, from, state}}

  def handle_event({:call, from}, {:next_events, events}, _state, _data) do
    {:keep_state_and_data,
     [{:reply, from, :ok} | Enum.map(events, &{:next_event, :internal, &1})]}
  end

  def handle_event({:call, from}, {:event_timeout, t}, _state, _data) do
    {:keep_state_and_data, [{:reply, from, :ok}, t]}
  end

  def handle_event({:call, from}, {:generic, name, t}, _state, _data) do
    {:keep_state_and_data, [{:reply, from, :ok}, {{:timeout, name}, t, {:fired, name}}]}
  end

  def handle_event({:call, from}, {:cancel, name}, _state, _data) do
    {:keep_state_and_data, [{:reply, from, :ok}, {{:timeout, name}, :cancel}]}
  end

  def handle_event({:call, from}, {:update, name}, _state, _data) do
    {:keep_state_and_data, [{:reply, from, :ok}, {{:timeout, name}, :update, {:updated, name}}]}
  end

  def handle_event({:call, from}, {:abs_timeout, at}, _state, _data) do
    {:keep_state_and_data, [{:reply, from, :ok}, {{:timeout, :abs}, at, :abs, [abs: true]}]}
  end

  def handle_event({:call, from}, :zero, _state, _data) do
    actions = [{:reply, from, :ok}, {:state_timeout, 0, :zero}, {:next_event, :internal, :first}]
    {:keep_state_and_data, actions}
  end

  def handle_event({:call, from}, {:state_timeout, t}, _state, _data) do
    {:keep_state_and_data, [{:reply, from, :ok}, {:state_timeout, t, :st}]}
  end

  def handle_event({:call, from}, {:goto, state}, _state, data) do
    {:next_state, state, log(data, {:goto, state}), [{:reply, from, :ok}]}
  end

  def handle_event({:call, from}, {:slow_goto, state, ms}, _state, data) do
    # Timers may fire while the callback runs; leaving the state must drop their messages.
    Lockstep.sleep(ms)
    {:next_state, state, log(data, {:goto, state}), [{:reply, from, :ok}]}
  end

  def handle_event({:call, from}, :repeat, _state, data) do
    {:repeat_state, log(data, :repeat), [{:reply, from, :ok}]}
  end

  def handle_event({:call, _from}, :crash, _state, _data), do: raise("statem boom")
  def handle_event({:call, _from}, :bad, _state, _data), do: :nonsense

  def handle_event({:call, _from}, :bad_action, _state, _data),
    do: {:keep_state_and_data, [:bogus]}

  def handle_event({:call, _from}, {:stop, reason}, _state, data),
    do: {:stop, reason, log(data, :stopping)}

  def handle_event({:call, _from}, :silent, _state, _data), do: :keep_state_and_data

  def handle_event({:call, from}, {:throw, value}, _state, _data),
    do: throw({:keep_state_and_data, {:reply, from, value}})

  def handle_event(:cast, {:job, _}, :busy, _data), do: {:keep_state_and_data, :postpone}
  def handle_event(:cast, {:job, _} = job, _state, data), do: {:keep_state, log(data, job)}
  def handle_event(:cast, :busy, _state, data), do: {:next_state, :busy, log(data, :busy)}
  def handle_event(:cast, :free, _state, data), do: {:next_state, :idle, log(data, :free)}

  def handle_event(type, content, _state, data)
      when type in [:timeout, :state_timeout] or (is_tuple(type) and elem(type, 0) == :timeout) do
    tell(data, {:timed_out, type, content})
    {:keep_state, log(data, {type, content})}
  end

  def handle_event(type, content, _state, data) do
    {:keep_state, log(data, {type, content})}
  end

  @impl true
  def terminate(reason, state, data) do
    tell(data, {:terminate, reason, state})
  end
end

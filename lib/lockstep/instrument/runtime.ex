defmodule Lockstep.Instrument.Runtime do
  @moduledoc """
  What instrumented code calls where a primitive's Lockstep counterpart has another shape:
  Erlang's argument orders, `undefined` where Elixir says `nil`, a send's value being the
  message, `badarg` errors where Elixir raises `ArgumentError`. Each function behaves exactly
  like the primitive it replaces outside a run, and goes through Lockstep inside one. Not
  meant to be called by hand: see `Lockstep.Instrument`.
  """

  import Kernel,
    except: [apply: 2, apply: 3, send: 2, spawn: 3, spawn_link: 3, spawn_monitor: 3, exit: 2]

  alias Lockstep.Instrument.Mapping
  alias Lockstep.Runtime

  @doc "Whether the calling process is managed by a run (rewritten `receive` branches on it)."
  @spec managed() :: boolean()
  def managed, do: Runtime.ctx() != nil

  @doc """
  A rewritten `receive`: the first message for which `predicate` (the receive's patterns and
  guards) holds, as `{:ok, message}`, or `:timeout` once `timeout` ms of virtual time passed.
  """
  @spec receive_match((term() -> boolean()), timeout()) :: {:ok, term()} | :timeout
  def receive_match(predicate, timeout) do
    unless timeout == :infinity or (is_integer(timeout) and timeout >= 0) do
      :erlang.error(:timeout_value)
    end

    case Runtime.ctx() do
      nil -> Lockstep.recv_first(predicate, timeout)
      ctx -> Runtime.recv_match(ctx, predicate, timeout)
    end
  end

  @doc "`erlang:send/2` (`Pid ! Msg`): returns the message."
  def send(dest, message) do
    case Runtime.ctx() do
      nil ->
        :erlang.send(dest, message)

      _ctx ->
        try do
          Lockstep.send(dest, message)
        rescue
          ArgumentError -> :erlang.error(:badarg, [dest, message])
        end

        message
    end
  end

  @doc "`erlang:send/3`."
  def send(dest, message, options) do
    case Runtime.ctx() do
      nil ->
        :erlang.send(dest, message, options)

      _ctx ->
        __MODULE__.send(dest, message)
        :ok
    end
  end

  @doc "`erlang:spawn/3`."
  def spawn(m, f, a), do: mfa_spawn(&Lockstep.spawn/1, m, f, a, fn -> :erlang.spawn(m, f, a) end)

  @doc "`erlang:spawn_link/3`."
  def spawn_link(m, f, a),
    do: mfa_spawn(&Lockstep.spawn_link/1, m, f, a, fn -> :erlang.spawn_link(m, f, a) end)

  @doc "`erlang:spawn_monitor/3`."
  def spawn_monitor(m, f, a),
    do: mfa_spawn(&Lockstep.spawn_monitor/1, m, f, a, fn -> :erlang.spawn_monitor(m, f, a) end)

  @doc "`erlang:spawn_opt/4`."
  def spawn_opt(m, f, a, opts) do
    mfa_spawn(&Lockstep.spawn_opt(&1, opts), m, f, a, fn -> :erlang.spawn_opt(m, f, a, opts) end)
  end

  @doc "`Process.spawn/4`."
  def process_spawn(m, f, a, opts) do
    mfa_spawn(&Lockstep.spawn_opt(&1, opts), m, f, a, fn -> Process.spawn(m, f, a, opts) end)
  end

  defp mfa_spawn(spawner, m, f, a, plain) when is_atom(m) and is_atom(f) and is_list(a) do
    case Runtime.ctx() do
      nil -> plain.()
      _ctx -> spawner.(fn -> :erlang.apply(m, f, a) end)
    end
  end

  defp mfa_spawn(_spawner, _m, _f, _a, plain), do: plain.()

  @doc "`erlang:monitor/2`: processes are monitored through the run; other kinds as usual."
  def monitor(:process, item) do
    case Runtime.ctx() do
      nil -> :erlang.monitor(:process, item)
      _ctx -> Lockstep.monitor(item)
    end
  end

  def monitor(type, item), do: :erlang.monitor(type, item)

  @doc "`erlang:link/1`."
  def link(pid) when is_pid(pid), do: Lockstep.link(pid)
  def link(other), do: :erlang.link(other)

  @doc "`erlang:unlink/1`."
  def unlink(pid) when is_pid(pid), do: Lockstep.unlink(pid)
  def unlink(other), do: :erlang.unlink(other)

  @doc "`erlang:exit/2`."
  def exit(pid, reason) when is_pid(pid), do: Lockstep.exit(pid, reason)
  def exit(other, reason), do: :erlang.exit(other, reason)

  @doc "`erlang:is_process_alive/1`."
  def is_process_alive(pid) when is_pid(pid), do: Lockstep.alive?(pid)
  def is_process_alive(other), do: :erlang.is_process_alive(other)

  @doc "`erlang:register/2`: `badarg` when the name is taken or the process has one."
  def register(name, pid) when is_atom(name) and is_pid(pid) do
    Lockstep.register(pid, name)
  rescue
    ArgumentError -> :erlang.error(:badarg, [name, pid])
  end

  def register(name, other), do: :erlang.register(name, other)

  @doc "`erlang:unregister/1`."
  def unregister(name) do
    Lockstep.unregister(name)
  rescue
    ArgumentError -> :erlang.error(:badarg, [name])
  end

  @doc "`erlang:whereis/1`: `undefined` when nobody holds the name."
  def whereis(name) when is_atom(name) do
    case Lockstep.whereis(name) do
      nil -> :undefined
      pid -> pid
    end
  end

  def whereis(other), do: :erlang.whereis(other)

  @doc "`erlang:process_info/2`: `undefined` for a dead process."
  def process_info(pid, spec) when is_pid(pid) do
    case Lockstep.Process.info(pid, spec) do
      nil -> :undefined
      info -> info
    end
  end

  def process_info(other, spec), do: :erlang.process_info(other, spec)

  @doc "`erlang:send_after/3,4` (time first, as Erlang orders it)."
  def send_after(time, dest, message, options \\ []) do
    case Runtime.ctx() do
      nil -> :erlang.send_after(time, dest, message, options)
      _ctx -> Lockstep.send_after(dest, message, time, options)
    end
  end

  @doc "`erlang:read_timer/2`."
  def read_timer(ref, options) do
    case Runtime.ctx() do
      nil ->
        :erlang.read_timer(ref, options)

      _ctx ->
        left = Lockstep.read_timer(ref)

        if Keyword.get(options, :async, false),
          do: async_reply(:read_timer, ref, left),
          else: left
    end
  end

  defp async_reply(tag, ref, result) do
    Lockstep.send(self(), {tag, ref, result})
    :ok
  end

  @doc "`os:timestamp/0` and `erlang:timestamp/0`: `{mega, secs, micro}` of the system time."
  def timestamp do
    case Runtime.ctx() do
      nil ->
        :os.timestamp()

      _ctx ->
        us = Lockstep.system_time(:microsecond)
        {div(us, 1_000_000_000_000), rem(div(us, 1_000_000), 1_000_000), rem(us, 1_000_000)}
    end
  end

  @doc "`DateTime.utc_now/0,1`, from the run's system clock."
  def utc_now(calendar \\ Calendar.ISO) do
    case Runtime.ctx() do
      nil -> DateTime.utc_now(calendar)
      _ctx -> DateTime.from_unix!(Lockstep.system_time(:microsecond), :microsecond, calendar)
    end
  end

  @doc "`NaiveDateTime.utc_now/0,1`, from the run's system clock."
  def naive_utc_now(calendar \\ Calendar.ISO) do
    case Runtime.ctx() do
      nil -> NaiveDateTime.utc_now(calendar)
      _ctx -> utc_now(calendar) |> DateTime.to_naive()
    end
  end

  @doc "`erlang:apply/2,3` and calls whose module or function is known only at run time."
  def apply(fun, args), do: :erlang.apply(fun, args)

  def apply(m, f, args) when is_atom(m) and is_atom(f) and is_list(args) do
    with ctx when ctx != nil <- Runtime.ctx(),
         {target, function} <- Mapping.target(m, f, length(args)) do
      :erlang.apply(target, function, args)
    else
      _ -> :erlang.apply(m, f, args)
    end
  end

  def apply(m, f, args), do: :erlang.apply(m, f, args)

  @doc "`gen_server:start/3,4`."
  def gen_server_start(module, args, opts),
    do: Lockstep.GenServer.start(module, args, opts)

  def gen_server_start(name, module, args, opts),
    do: Lockstep.GenServer.start(module, args, [{:name, server_name(name)} | opts])

  @doc "`gen_server:start_link/3,4`."
  def gen_server_start_link(module, args, opts),
    do: Lockstep.GenServer.start_link(module, args, opts)

  def gen_server_start_link(name, module, args, opts),
    do: Lockstep.GenServer.start_link(module, args, [{:name, server_name(name)} | opts])

  @doc "`supervisor:start_link/3`."
  def supervisor_start_link(name, module, args),
    do: Lockstep.Supervisor.start_link(module, args, name: server_name(name))

  @doc """
  `supervisor:start_child/2` (outside a run `:supervisor`'s own, which takes the extra
  arguments of a `simple_one_for_one` child without `Supervisor`'s deprecation warning).
  """
  def supervisor_start_child(supervisor, spec_or_args) do
    case Runtime.ctx() do
      nil -> :supervisor.start_child(supervisor, spec_or_args)
      _ctx -> Lockstep.Supervisor.start_child(supervisor, spec_or_args)
    end
  end

  @doc """
  `supervisor:terminate_child/2` (outside a run `:supervisor`'s own, which takes the pid of a
  `simple_one_for_one` child without `Supervisor`'s deprecation warning).
  """
  def supervisor_terminate_child(supervisor, child) do
    case Runtime.ctx() do
      nil -> :supervisor.terminate_child(supervisor, child)
      _ctx -> Lockstep.Supervisor.terminate_child(supervisor, child)
    end
  end

  @doc "`supervisor:count_children/1`: a proplist, where `Supervisor.count_children/1` gives a map."
  def supervisor_count_children(supervisor) do
    case Runtime.ctx() do
      nil -> :supervisor.count_children(supervisor)
      _ctx -> Lockstep.Gen.call(supervisor, :count_children, :infinity)
    end
  end

  @doc "`supervisor:get_childspec/2`."
  def supervisor_get_childspec(supervisor, id) do
    case Runtime.ctx() do
      nil -> :supervisor.get_childspec(supervisor, id)
      _ctx -> Lockstep.Gen.call(supervisor, {:get_childspec, id}, :infinity)
    end
  end

  defp server_name({:local, name}), do: name
  defp server_name(name), do: name
end

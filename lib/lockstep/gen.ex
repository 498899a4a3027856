defmodule Lockstep.Gen do
  # The client side of the generic-server protocol, as every Lockstep OTP wrapper speaks it:
  # the same message shapes as `:gen` (`{:"$gen_call", {pid, tag}, request}` answered by
  # `{tag, reply}`, `{:"$gen_cast", request}`), built from Lockstep primitives so that every
  # step of a call (name lookup, monitor, request, reply or DOWN, timeout) is a sync point.
  # Timeouts run on the run's virtual clock, so a timeout racing a reply is an explorable
  # interleaving.
  @moduledoc false

  @typedoc "What a call or cast can address."
  @type server ::
          pid() | atom() | {atom(), node()} | {:global, term()} | {:via, module(), term()}

  @typedoc "The caller's identity handed to the server; answered with `reply/2`."
  @type from :: {pid(), reference()}

  @doc """
  Resolves `server` to a pid, or `:undefined` when no process goes by that name. Inside a run
  every name lookup is a sync point (a name can be taken or freed between two steps).
  """
  @spec whereis(server()) :: pid() | :undefined
  def whereis(pid) when is_pid(pid), do: pid

  def whereis(name) when is_atom(name) do
    Lockstep.whereis(name) || :undefined
  end

  def whereis({name, node}) when is_atom(name) and node == node() do
    whereis(name)
  end

  def whereis({name, node} = server) when is_atom(name) and is_atom(node) do
    if Lockstep.managed?() do
      # A run simulates one node; a remote name is not reachable from inside it.
      :undefined
    else
      GenServer.whereis(server) || :undefined
    end
  end

  def whereis({:via, mod, name}) when is_atom(mod) do
    mod.whereis_name(name)
  end

  @doc """
  Calls `server` with `request` and waits up to `timeout` ms (virtual inside a run) for the
  reply. Exits the caller as `GenServer.call/3` does: `{:noproc, location}` when nothing runs
  under that name or pid, `{reason, location}` when the server dies first (`{:nodedown, node}`
  for `:noconnection`), `{:timeout, location}` on timeout, `{:calling_self, location}` when a
  process calls itself. `location` is `{caller_module, :call, [server, request, timeout]}`.
  """
  @spec call(server(), term(), timeout(), module()) :: term()
  def call(server, request, timeout, caller_module \\ GenServer) do
    location = {caller_module, :call, [server, request, timeout]}

    case whereis(server) do
      :undefined ->
        exit({:noproc, location})

      pid when pid == self() ->
        exit({:calling_self, location})

      pid ->
        do_call(pid, {:"$gen_call", {self(), nil}, request}, timeout, location)
    end
  end

  @doc """
  Sends a call-shaped message `{label, {self(), tag}, request}` to `pid` and waits for
  `{tag, reply}`, failing as `call/4` does. For protocols that share gen's call shape under
  another label (such as `:"$gen_call"` itself, used by `call/4`).
  """
  @spec do_call(pid(), {atom(), {pid(), nil}, term()}, timeout(), tuple()) :: term()
  def do_call(pid, {label, {caller, nil}, request}, timeout, location) do
    ref = Lockstep.monitor(pid)
    Lockstep.send(pid, {label, {caller, ref}, request})

    matcher = fn
      {^ref, _reply} -> true
      {:DOWN, ^ref, _, _, _} -> true
      _ -> false
    end

    result =
      if timeout == :infinity do
        {:ok, Lockstep.recv_first(matcher)}
      else
        Lockstep.recv_first(matcher, timeout)
      end

    case result do
      {:ok, {^ref, reply}} ->
        Lockstep.demonitor(ref, [:flush])
        reply

      {:ok, {:DOWN, ^ref, _, _, :noconnection}} ->
        exit({{:nodedown, node(pid)}, location})

      {:ok, {:DOWN, ^ref, _, _, reason}} ->
        exit({reason, location})

      :timeout ->
        Lockstep.demonitor(ref, [:flush])
        exit({:timeout, location})
    end
  end

  @doc """
  Sends `{:"$gen_cast", request}` to `server`; like `GenServer.cast/2`, always `:ok`, even
  when nothing runs under that name.
  """
  @spec cast(server(), term()) :: :ok
  def cast(server, request) do
    case whereis(server) do
      :undefined -> :ok
      pid -> Lockstep.send(pid, {:"$gen_cast", request})
    end
  end

  @doc "Answers a call: sends `{tag, reply}` to the caller named in `from`. Always `:ok`."
  @spec reply(from(), term()) :: :ok
  def reply({pid, tag}, reply) when is_pid(pid) do
    Lockstep.send(pid, {tag, reply})
  end
end

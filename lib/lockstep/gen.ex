defmodule Lockstep.Gen do
  # The client side of the generic-server protocol, as every Lockstep OTP wrapper speaks it:
  # the same message shapes as `:gen` (`{:"$gen_call", {pid, tag}, request}` answered by
  # `{tag, reply}`, `{:"$gen_cast", request}`), built from Lockstep primitives so that every
  # step of a call (name lookup, monitor, request, reply or DOWN, timeout) is a sync point.
  # Timeouts run on the run's virtual clock, so a timeout racing a reply is an explorable
  # interleaving. Also the parts of `:gen` and `:proc_lib` a server needs to start (name
  # registration, the starter waiting for `init_ack/2`) and to be stopped (`stop/3`), shared
  # by Lockstep.GenServer and Lockstep.GenStatem.
  @moduledoc false

  alias Lockstep.Runtime

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

  def whereis({:global, name}), do: Lockstep.Global.whereis_name(name)

  def whereis(name) when is_atom(name) do
    Lockstep.whereis(name) || :undefined
  end

  def whereis({name, node} = server) when is_atom(name) and is_atom(node) and name != :global do
    case resolve(server) do
      {:nodedown, _node} -> :undefined
      found -> found
    end
  end

  def whereis({:via, mod, name}) when is_atom(mod) do
    mod.whereis_name(name)
  end

  # `whereis/1`, but `{:nodedown, node}` for `{name, node}` (not `{:global, name}`, which has
  # the same shape when the name is an atom) on a node that is down or not part
  # of the run: a call to it exits as the BEAM's does. Inside a run `{name, node}` is looked up
  # on the simulated node (the caller's own node reads its own registry).
  defp resolve({name, node} = server)
       when is_atom(name) and is_atom(node) and name not in [:global, :via] do
    cond do
      not Lockstep.managed?() ->
        if node == Kernel.node(), do: whereis(name), else: GenServer.whereis(server) || :undefined

      node == Lockstep.Cluster.node() ->
        whereis(name)

      true ->
        case Lockstep.Cluster.lookup(name, node) do
          {:ok, nil} -> :undefined
          {:ok, pid} -> pid
          {:nodedown, _why} -> {:nodedown, node}
        end
    end
  end

  defp resolve(server), do: whereis(server)

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

    case resolve(server) do
      {:nodedown, node} ->
        exit({{:nodedown, node}, location})

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
  def do_call(pid, {label, {caller, nil}, request} = message, timeout, location) do
    case managed_monitor(pid) do
      {:ok, ref} ->
        Lockstep.send(pid, {label, {caller, ref}, request})
        await_reply(pid, ref, timeout, location)

      :unmanaged ->
        plain_call(pid, message, timeout, location)
    end
  end

  defp await_reply(pid, ref, timeout, location) do
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
        exit({{:nodedown, Lockstep.Cluster.node_of(pid)}, location})

      {:ok, {:DOWN, ^ref, _, _, reason}} ->
        exit({reason, location})

      :timeout ->
        Lockstep.demonitor(ref, [:flush])
        exit({:timeout, location})
    end
  end

  # A monitor set up through the run when `pid` belongs to it; `:unmanaged` for a process
  # outside the run (or a caller outside any run).
  defp managed_monitor(pid) do
    ref = make_ref()

    case Runtime.ctx() do
      nil ->
        :unmanaged

      ctx ->
        case Runtime.sync(ctx, {:monitor, pid, ref}) do
          :ok -> {:ok, ref}
          :unmanaged -> :unmanaged
        end
    end
  end

  # A server outside the run answers through the VM's own mailbox: call it as :gen does. The
  # engine does not schedule this wait.
  defp plain_call(pid, {label, {_caller, nil}, request}, timeout, location) do
    {:ok, reply} = :gen.call(pid, label, request, timeout)
    reply
  catch
    :exit, reason -> exit({reason, location})
  end

  @doc """
  Sends `{:"$gen_cast", request}` to `server`; like `GenServer.cast/2`, always `:ok`, even
  when nothing runs under that name. A `{:global, name}` or `{:via, mod, name}` server is sent
  to through `Lockstep.Global.send/2` or `mod.send/2`.
  """
  @spec cast(server(), term()) :: :ok
  def cast(server, request), do: send_quietly(server, {:"$gen_cast", request})

  @doc "Sends `message` to `server` as `cast/2` does (errors are ignored). Always `:ok`."
  @spec send_quietly(server(), term()) :: :ok
  def send_quietly({:global, name}, message) do
    Lockstep.Global.send(name, message)
    :ok
  catch
    _, _ -> :ok
  end

  def send_quietly({:via, mod, name}, message) when is_atom(mod) do
    mod.send(name, message)
    :ok
  catch
    _, _ -> :ok
  end

  def send_quietly({name, node} = server, message) when is_atom(name) and is_atom(node) do
    cond do
      not Lockstep.managed?() ->
        if node == Kernel.node(),
          do: send_quietly(name, message),
          else: send_quietly_plain(server, message)

      node == Lockstep.Cluster.node() ->
        send_quietly(name, message)

      true ->
        # On the simulated node, through the channel: lost there when nobody has the name.
        Lockstep.send(server, message)
    end
  rescue
    ArgumentError -> :ok
  end

  def send_quietly(dest, message) when is_pid(dest) or is_atom(dest) do
    Lockstep.send(dest, message)
  rescue
    ArgumentError -> :ok
  end

  defp send_quietly_plain(dest, message) do
    Kernel.send(dest, message)
    :ok
  catch
    _, _ -> :ok
  end

  @doc "Answers a call: sends `{tag, reply}` to the caller named in `from`. Always `:ok`."
  @spec reply(from(), term()) :: :ok
  def reply({pid, tag}, reply) when is_pid(pid) do
    Lockstep.send(pid, {tag, reply})
  end

  # ----- starting and stopping (the parts of :gen and :proc_lib a server needs) ------------

  @typedoc "A server name as `:gen` takes it."
  @type name :: {:local, atom()} | {:global, term()} | {:via, module(), term()}

  @doc "The pid registered under `name`, or `:undefined`."
  @spec where(name()) :: pid() | :undefined
  def where({:local, name}), do: whereis(name)
  def where({:global, name}), do: Lockstep.Global.whereis_name(name)
  def where({:via, mod, name}), do: mod.whereis_name(name)

  @doc """
  Registers the calling process under `name`: `true`, or `{false, holder}` when the name is
  taken (`holder` may be `:undefined` if the holder ended meanwhile).
  """
  @spec register_name(name()) :: true | {false, pid() | :undefined}
  def register_name({:local, name} = n) do
    Lockstep.register(self(), name)
  rescue
    ArgumentError -> {false, where(n)}
  end

  def register_name({:global, name} = n) do
    case Lockstep.Global.register_name(name, self()) do
      :yes -> true
      :no -> {false, where(n)}
    end
  end

  def register_name({:via, mod, name} = n) do
    case mod.register_name(name, self()) do
      :yes -> true
      :no -> {false, where(n)}
    end
  end

  @doc "Frees `name` (nothing for `nil`). Always `:ok`."
  @spec unregister_name(name() | nil) :: :ok
  def unregister_name(nil), do: :ok

  def unregister_name({:local, name}) do
    Lockstep.unregister(name)
    :ok
  rescue
    ArgumentError -> :ok
  end

  def unregister_name({:global, name}), do: Lockstep.Global.unregister_name(name)

  def unregister_name({:via, mod, name}) do
    _ = mod.unregister_name(name)
    :ok
  end

  @doc """
  Starts a server process as `:gen` and `:proc_lib` do, inside a run.

  Returns `{:error, {:already_started, pid}}` at once when `name` is taken. Otherwise spawns
  the process (linked for `:link`; monitored during the start for `:nolink`); the process
  registers `name` and runs `init.(starter, parent)`, which must answer with `init_ack/2`
  before it starts serving. The caller waits up to `timeout` ms (virtual) for that answer and
  returns it: `{:ok, pid}`, `:ignore`, `{:error, reason}`. If the process ends before
  answering, the result is `{:error, reason}` (seen through the link only when the caller
  traps exits, as with `:proc_lib.start_link/5`); on timeout the process is killed and the
  result is `{:error, :timeout}`. `parent` is the caller for `:link`, the process itself for
  `:nolink`.
  """
  @spec start(:link | :nolink, name() | nil, timeout(), (pid(), pid() -> any())) :: term()
  def start(link, name, timeout, init) when link in [:link, :nolink] do
    case name && where(name) do
      pid when is_pid(pid) -> {:error, {:already_started, pid}}
      _ -> do_start(link, name, timeout, init)
    end
  end

  defp do_start(link, name, timeout, init) do
    starter = self()
    ancestors = [starter | Process.get(:"$ancestors", [])]

    body = fn ->
      Process.put(:"$ancestors", ancestors)
      parent = if link == :link, do: starter, else: self()

      case name && register_name(name) do
        {false, holder} -> init_ack(starter, {:error, {:already_started, holder}})
        _ -> init.(starter, parent)
      end
    end

    case link do
      :link ->
        body |> Lockstep.spawn_link() |> sync_start_link(timeout)

      :nolink ->
        pid = Lockstep.spawn(body)
        sync_start(pid, Lockstep.monitor(pid), timeout)
    end
  end

  defp sync_start_link(pid, timeout) do
    matcher = fn
      {:ack, ^pid, _} -> true
      {:EXIT, ^pid, _} -> true
      _ -> false
    end

    case Lockstep.recv_first(matcher, timeout) do
      {:ok, {:ack, ^pid, return}} ->
        return

      {:ok, {:EXIT, ^pid, reason}} ->
        {:error, reason}

      :timeout ->
        kill_flush(pid)
        {:error, :timeout}
    end
  end

  defp sync_start(pid, ref, timeout) do
    matcher = fn
      {:ack, ^pid, _} -> true
      {:DOWN, ^ref, :process, ^pid, _} -> true
      _ -> false
    end

    case Lockstep.recv_first(matcher, timeout) do
      {:ok, {:ack, ^pid, return}} ->
        Lockstep.demonitor(ref, [:flush])
        return

      {:ok, {:DOWN, ^ref, :process, ^pid, reason}} ->
        {:error, reason}

      :timeout ->
        Lockstep.demonitor(ref, [:flush])
        kill_flush(pid)
        {:error, :timeout}
    end
  end

  defp kill_flush(pid) do
    Lockstep.unlink(pid)
    Lockstep.exit(pid, :kill)

    _ =
      Lockstep.recv_first(
        fn
          {:EXIT, ^pid, _} -> true
          _ -> false
        end,
        0
      )

    :ok
  end

  @doc "Answers the process that started the caller with `start/4`. Always `:ok`."
  @spec init_ack(pid(), term()) :: :ok
  def init_ack(starter, return) do
    Lockstep.send(starter, {:ack, self(), return})
  end

  @doc """
  Stops a server as `:gen.stop/3` does: asks it to terminate with `reason` (a system message
  `{:terminate, reason}`) and waits up to `timeout` ms (virtual) for it to exit. Returns `:ok`
  when it exited with `reason`; exits with `:noproc` when nothing runs under `server`,
  `:timeout` on timeout, or the reason it exited with instead.
  """
  @spec stop(server(), term(), timeout()) :: :ok
  def stop(server, reason, timeout) do
    case whereis(server) do
      :undefined -> exit(:noproc)
      pid -> stop_pid(pid, reason, timeout)
    end
  end

  defp stop_pid(pid, reason, timeout) do
    case managed_monitor(pid) do
      {:ok, mref} -> stop_managed(pid, mref, reason, timeout)
      :unmanaged -> :proc_lib.stop(pid, reason, timeout)
    end
  end

  defp stop_managed(pid, mref, reason, timeout) do
    started = if timeout == :infinity, do: nil, else: Lockstep.now()
    location = {:sys, :terminate, [pid, reason, timeout]}

    try do
      do_call(pid, {:system, {self(), nil}, {:terminate, reason}}, timeout, location)
    catch
      :exit, why ->
        Lockstep.demonitor(mref, [:flush])

        case why do
          {:noproc, {:sys, :terminate, _}} -> exit(:noproc)
          {:timeout, {:sys, :terminate, _}} -> exit(:timeout)
          other -> exit(other)
        end
    end

    remaining = if started, do: max(timeout - (Lockstep.now() - started), 0), else: :infinity

    matcher = fn
      {:DOWN, ^mref, _, _, _} -> true
      _ -> false
    end

    case Lockstep.recv_first(matcher, remaining) do
      {:ok, {:DOWN, ^mref, _, _, ^reason}} ->
        :ok

      {:ok, {:DOWN, ^mref, _, _, other}} ->
        exit(other)

      :timeout ->
        Lockstep.demonitor(mref, [:flush])
        exit(:timeout)
    end
  end
end

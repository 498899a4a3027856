defmodule Lockstep.GenServer do
  @moduledoc """
  Runs `GenServer` callback modules, unchanged, under Lockstep.

  Keep writing servers with `use GenServer`; start them and talk to them through this module
  instead of `GenServer`:

      defmodule Counter do
        use GenServer

        def start_link(n), do: Lockstep.GenServer.start_link(__MODULE__, n, name: __MODULE__)
        def bump, do: Lockstep.GenServer.call(__MODULE__, :bump)

        @impl true
        def init(n), do: {:ok, n}

        @impl true
        def handle_call(:bump, _from, n), do: {:reply, n + 1, n + 1}
      end

  Inside a Lockstep run the server is a managed process: every message it receives, every
  reply, monitor, link, name registration and timeout is a sync point, so the interleavings of
  its clients are explored like any other. Outside a run every function here calls the
  `GenServer` function of the same name, so a library written against `Lockstep.GenServer`
  (for example through `alias Lockstep.GenServer`) behaves normally in development and
  production.

  ## What is mirrored

  The server loop follows `:gen_server`'s rules:

    * `init/1` runs while the starter waits, as in `:proc_lib`: `{:ok, state}`,
      `{:ok, state, timeout | :hibernate | {:continue, term}}`, `:ignore` (`start_link`
      returns `:ignore` and the process exits `:normal`), `{:stop, reason}` (`{:error, reason}`
      and the process exits with `reason`, so a linked starter that does not trap exits dies
      with it), any other value (`{:error, {:bad_return_value, value}}`), an exception
      (`{:error, {exception, stacktrace}}`). A taken name gives
      `{:error, {:already_started, pid}}`.
    * `handle_call/3` may `{:reply, ...}`, `{:noreply, ...}` and answer later with `reply/2`,
      or `{:stop, reason, reply, state}` (the reply is sent after `terminate/2` ran);
      `handle_cast/2`, `handle_info/2` and `handle_continue/2` as in OTP, including timeouts
      (`handle_info(:timeout, state)` after that many milliseconds of virtual time with no
      message), `{:continue, term}` and `throw`n return values.
    * `terminate/2` is called when a callback returns `{:stop, ...}`, when a callback raises
      (the process then exits with `{exception, stacktrace}` for errors, the reason for exits),
      on a bad return value (`{:bad_return_value, value}`), on `stop/3`, and on an exit signal
      from the parent when the server traps exits (it then exits with the parent's reason). A
      server that does not trap exits dies by its parent's signal without `terminate/2`.
    * Names: an atom, `{:global, term}` (a run-wide name space, see `Lockstep.Global`) or
      `{:via, module, term}`; they are freed when the server ends.
    * `call/3` fails like `GenServer.call/3`: `{:noproc, location}` when nothing runs under
      that name or pid, `{reason, location}` when the server dies before replying,
      `{:timeout, location}` after `timeout` ms of virtual time, `{:calling_self, location}`,
      with `location` being `{GenServer, :call, [server, request, timeout]}`. A timeout
      racing a reply is an interleaving like any other: some schedules reply in time, some
      time out.
    * `stop/3` goes through the server's `terminate/2` as `GenServer.stop/3` does and fails
      with `{:noproc | :timeout | reason, {GenServer, :stop, [server, reason, timeout]}}`.

  The process dictionary of the server holds `:"$ancestors"` and `:"$initial_call"` as under
  `:proc_lib`.

  ## Differences from OTP

    * The client side must go through Lockstep: a callback module that calls
      `GenServer.call/3` (or `send/2`, or a plain `receive`) on a managed process from inside
      a run bypasses the engine and waits for a message that never comes; the run's watchdog
      reports it. Alias `Lockstep.GenServer` in the code under test instead.
    * The reverse direction is allowed: a call or stop from inside a run to a server outside
      it (one started before the run) goes through `:gen` directly, with a wall-clock
      timeout; that wait is not a sync point.
    * `:hibernate` (and the `:hibernate_after` option) are accepted and do nothing; `:debug`
      and `:spawn_opt` are ignored; crashes are not logged (the run's report shows them).
    * System messages: `get_state`, `replace_state`, `get_status` (through the module's
      `format_status/1,2`), `suspend`, `resume` and `terminate` are served as gen_server
      serves them, and must be sent with `Lockstep.Sys` (a plain `:sys` call on a managed
      server fails at once, see there); the `:sys` debug facilities and `change_code` are
      answered `{:error, {:unknown_system_msg, message}}`.
    * A late reply, arriving after the caller timed out, stays in the caller's mailbox as
      `{reference, reply}` (process aliases are not simulated), as it did before OTP 24.
    * `{name, node}` addresses `name` on a node of the run's simulated cluster
      (`Lockstep.Cluster`): a call to a node that is down or that the run never named exits
      with `{:nodedown, node}`; `multi_call`/`abcast` are not provided.
    * `{:via, module, name}` needs a registry that works inside runs: `Lockstep.Global` or
      `Lockstep.Registry` (`{:via, Lockstep.Registry, {registry, key}}`).
    * `start/3` spawns the server, then monitors it (two steps, where `:proc_lib` does it
      atomically): a server killed by someone else before it answered its starter is reported
      as `{:error, :noproc}`.
  """

  alias Lockstep.Gen

  defguardp is_timeout(t) when (is_integer(t) and t >= 0) or t == :infinity

  @typedoc "What `call/3` and `cast/2` can address (as `GenServer.server/0`)."
  @type server :: GenServer.server()

  @typedoc "A caller's identity, handed to `handle_call/3`; answer it with `reply/2`."
  @type from :: GenServer.from()

  # ----- client API ----------------------------------------------------------------------

  @doc """
  Starts a server linked to the caller, running `module`'s callbacks with `init_arg`.
  Options: `:name` (an atom, `{:global, term}` or `{:via, module, term}`), `:timeout` (for
  `init/1`, virtual ms inside a run; default `:infinity`); `:debug`, `:hibernate_after` and
  `:spawn_opt` are ignored inside a run. Outside a run, `GenServer.start_link/3`.
  """
  @spec start_link(module(), term(), GenServer.options()) :: GenServer.on_start()
  def start_link(module, init_arg, options \\ []) when is_atom(module) and is_list(options) do
    if Lockstep.managed?() do
      do_start(:link, module, init_arg, options)
    else
      GenServer.start_link(module, init_arg, options)
    end
  end

  @doc "Like `start_link/3`, without a link. Outside a run, `GenServer.start/3`."
  @spec start(module(), term(), GenServer.options()) :: GenServer.on_start()
  def start(module, init_arg, options \\ []) when is_atom(module) and is_list(options) do
    if Lockstep.managed?() do
      do_start(:nolink, module, init_arg, options)
    else
      GenServer.start(module, init_arg, options)
    end
  end

  @doc """
  Calls `server` and waits up to `timeout` ms (virtual inside a run) for its reply; exits as
  described in the moduledoc. Outside a run, `GenServer.call/3`.
  """
  @spec call(server(), term(), timeout()) :: term()
  def call(server, request, timeout \\ 5000)
      when (is_integer(timeout) and timeout >= 0) or timeout == :infinity do
    if Lockstep.managed?() do
      Gen.call(server, request, timeout, GenServer)
    else
      GenServer.call(server, request, timeout)
    end
  end

  @doc "Sends `request` to `server` for `handle_cast/2`; always `:ok`. Outside a run, `GenServer.cast/2`."
  @spec cast(server(), term()) :: :ok
  def cast(server, request) do
    if Lockstep.managed?(), do: Gen.cast(server, request), else: GenServer.cast(server, request)
  end

  @doc "Answers a call received by `handle_call/3`. Always `:ok`. Outside a run, `GenServer.reply/2`."
  @spec reply(from(), term()) :: :ok
  def reply(from, reply) do
    if Lockstep.managed?(), do: Gen.reply(from, reply), else: GenServer.reply(from, reply)
  end

  @doc """
  Stops `server` with `reason`, calling its `terminate/2`, and waits up to `timeout` ms for it
  to exit. Returns `:ok` if it exited with `reason`; exits as described in the moduledoc.
  Outside a run, `GenServer.stop/3`.
  """
  @spec stop(server(), term(), timeout()) :: :ok
  def stop(server, reason \\ :normal, timeout \\ :infinity) do
    if Lockstep.managed?() do
      location = {GenServer, :stop, [server, reason, timeout]}

      case Gen.whereis(server) do
        :undefined ->
          exit({:noproc, location})

        pid when pid == self() ->
          exit({:calling_self, location})

        pid ->
          try do
            Gen.stop(pid, reason, timeout)
          catch
            :exit, why -> exit({why, location})
          end
      end
    else
      GenServer.stop(server, reason, timeout)
    end
  end

  @doc "The pid behind `server`, or `nil`. Outside a run, `GenServer.whereis/1`."
  @spec whereis(server()) :: pid() | {atom(), node()} | nil
  def whereis(server) do
    if Lockstep.managed?() do
      case Gen.whereis(server) do
        :undefined -> nil
        pid -> pid
      end
    else
      GenServer.whereis(server)
    end
  end

  # ----- starting ------------------------------------------------------------------------

  defp do_start(link, module, init_arg, options) do
    name = gen_name(Keyword.get(options, :name))
    timeout = Keyword.get(options, :timeout, :infinity)

    Gen.start(link, name, timeout, fn starter, parent ->
      init_it(starter, parent, name, module, init_arg)
    end)
  end

  defp gen_name(nil), do: nil
  defp gen_name(atom) when is_atom(atom), do: {:local, atom}
  defp gen_name({:global, _} = name), do: name
  defp gen_name({:via, mod, _} = name) when is_atom(mod), do: name

  defp gen_name(other) do
    raise ArgumentError, """
    the :name option must be an atom, {:global, term} or {:via, module, term}, got: \
    #{inspect(other)}
    """
  end

  defp init_it(starter, parent, name, mod, arg) do
    Process.put(:"$initial_call", {mod, :init, 1})
    server = %{parent: parent, mod: mod, name: name}

    case run_init(mod, arg) do
      {:ok, {:ok, state}} ->
        Gen.init_ack(starter, {:ok, self()})
        loop(server, state, :infinity)

      {:ok, {:ok, state, next}} when is_timeout(next) or next == :hibernate ->
        Gen.init_ack(starter, {:ok, self()})
        loop(server, state, next)

      {:ok, {:ok, state, {:continue, _} = continue}} ->
        Gen.init_ack(starter, {:ok, self()})
        loop(server, state, continue)

      {:ok, {:stop, reason}} ->
        Gen.unregister_name(name)
        Gen.init_ack(starter, {:error, reason})
        exit(reason)

      {:ok, :ignore} ->
        Gen.unregister_name(name)
        Gen.init_ack(starter, :ignore)
        exit(:normal)

      {:ok, other} ->
        error = {:bad_return_value, other}
        Gen.init_ack(starter, {:error, error})
        exit(error)

      {:EXIT, class, reason, stack} ->
        Gen.unregister_name(name)
        Gen.init_ack(starter, {:error, terminate_reason(class, reason, stack)})
        :erlang.raise(class, reason, stack)
    end
  end

  defp run_init(mod, arg) do
    {:ok, mod.init(arg)}
  catch
    :throw, value -> {:ok, value}
    class, reason -> {:EXIT, class, reason, __STACKTRACE__}
  end

  # ----- the loop --------------------------------------------------------------------------

  defp loop(server, state, {:continue, continue} = msg) do
    reply = dispatch(server.mod, :handle_continue, continue, state)
    common_reply(reply, server, msg, state)
  end

  defp loop(server, state, :hibernate), do: loop(server, state, :infinity)

  defp loop(server, state, :infinity), do: decode(Lockstep.recv(), server, state, :infinity)

  defp loop(server, state, time) do
    case Lockstep.recv(time) do
      {:ok, msg} -> decode(msg, server, state, time)
      :timeout -> decode(:timeout, server, state, time)
    end
  end

  # System messages are served as gen_server serves them (Lockstep.Sys); the server then goes
  # back to waiting with the same timeout, which starts again.
  defp decode({:system, from, request}, server, state, time) do
    misc = {server, state, time}
    Lockstep.Sys.handle_system_msg(request, from, server.parent, {__MODULE__, :gen_server}, misc)
  end

  defp decode(msg, server, state, _time), do: decode(msg, server, state)

  defp decode({:EXIT, parent, reason} = msg, %{parent: parent} = server, state) do
    terminate(:exit, reason, [], server, msg, state)
  end

  defp decode({:"$gen_call", from, request} = msg, server, state) do
    case call_callback(server.mod, request, from, state) do
      {:ok, {:reply, reply, new_state}} ->
        Gen.reply(from, reply)
        loop(server, new_state, :infinity)

      {:ok, {:reply, reply, new_state, next}}
      when is_timeout(next) or next == :hibernate ->
        Gen.reply(from, reply)
        loop(server, new_state, next)

      {:ok, {:reply, reply, new_state, {:continue, _} = continue}} ->
        Gen.reply(from, reply)
        loop(server, new_state, continue)

      {:ok, {:stop, reason, reply, new_state}} ->
        try do
          terminate(:exit, reason, [], server, msg, new_state)
        after
          Gen.reply(from, reply)
        end

      other ->
        common_reply(other, server, msg, state)
    end
  end

  defp decode({:"$gen_cast", request} = msg, server, state) do
    common_reply(dispatch(server.mod, :handle_cast, request, state), server, msg, state)
  end

  defp decode(msg, server, state) do
    common_reply(dispatch(server.mod, :handle_info, msg, state), server, msg, state)
  end

  defp common_reply(reply, server, msg, state) do
    case reply do
      {:ok, {:noreply, new_state}} ->
        loop(server, new_state, :infinity)

      {:ok, {:noreply, new_state, next}}
      when is_timeout(next) or next == :hibernate ->
        loop(server, new_state, next)

      {:ok, {:noreply, new_state, {:continue, _} = continue}} ->
        loop(server, new_state, continue)

      {:ok, {:stop, reason, new_state}} ->
        terminate(:exit, reason, [], server, msg, new_state)

      {:EXIT, class, reason, stack} ->
        terminate(class, reason, stack, server, msg, state)

      {:ok, bad} ->
        terminate(:exit, {:bad_return_value, bad}, [], server, msg, state)
    end
  end

  defp call_callback(mod, request, from, state) do
    {:ok, mod.handle_call(request, from, state)}
  catch
    :throw, value -> {:ok, value}
    class, reason -> {:EXIT, class, reason, __STACKTRACE__}
  end

  defp dispatch(mod, fun, msg, state) do
    {:ok, apply(mod, fun, [msg, state])}
  catch
    :throw, value ->
      {:ok, value}

    :error, :undef when fun == :handle_info ->
      # As in OTP, a module without handle_info/2 ignores stray messages.
      if function_exported?(mod, :handle_info, 2) do
        {:EXIT, :error, :undef, __STACKTRACE__}
      else
        {:ok, {:noreply, state}}
      end

    class, reason ->
      {:EXIT, class, reason, __STACKTRACE__}
  end

  # ----- system messages (see Lockstep.Sys) ----------------------------------------------

  @doc false
  def system_continue(_parent, {server, state, time}), do: loop(server, state, time)

  @doc false
  def system_terminate(reason, _parent, {server, state, _time}),
    do: terminate(:exit, reason, [], server, nil, state)

  @doc false
  def system_get_state({_server, state, _time}), do: {:ok, state}

  @doc false
  def system_replace_state(fun, {server, state, time}) do
    state = fun.(state)
    {:ok, state, {server, state, time}}
  end

  @doc false
  def system_format_status([pdict, sys_state, parent, debug, {server, state, _time}]) do
    name = Lockstep.Sys.status_name(server.name)
    Lockstep.Sys.gen_server_status([pdict, sys_state, parent, debug], name, server.mod, state)
  end

  # ----- terminating ---------------------------------------------------------------------

  defp terminate(class, reason, stack, server, _msg, state) do
    mod = server.mod

    if function_exported?(mod, :terminate, 2) do
      try do
        mod.terminate(terminate_reason(class, reason, stack), state)
      catch
        :throw, _ -> :ok
      end
    end

    :erlang.raise(class, reason, stack)
  end

  defp terminate_reason(:error, reason, stack), do: {reason, stack}
  defp terminate_reason(:exit, reason, _stack), do: reason
end

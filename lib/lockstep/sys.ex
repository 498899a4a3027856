defmodule Lockstep.Sys do
  @moduledoc """
  `:sys`'s inspection and suspension functions for the servers Lockstep runs:
  `get_state/1,2`, `replace_state/2,3`, `get_status/1,2`, `suspend/1,2`, `resume/1,2` and
  `terminate/2,3`, with `:sys`'s arguments, results and exit reasons.

      {:ok, pid} = Lockstep.GenServer.start_link(Counter, 0)
      :ok = Lockstep.Sys.suspend(pid)
      # calls to pid now wait (and time out, in virtual time) until:
      :ok = Lockstep.Sys.resume(pid)
      Lockstep.Sys.get_state(pid)
      #=> 0

  Outside a run each function calls the `:sys` function of the same name, so code can route
  its `:sys` calls through this module and behave normally in production.

  ## Inside a run

  The request is a system message, `{:system, {caller, tag}, request}`, sent with
  `Lockstep.send/2` and answered as a call is (`Lockstep.Gen`): every step is a sync point, so
  a `get_state` races with the other messages sent to the server, exactly as on the BEAM,
  where a system message is an ordinary message in the mailbox, handled when the server gets
  to it. The servers of `Lockstep.GenServer`, `Lockstep.GenStatem`, `Lockstep.Agent`,
  `Lockstep.Supervisor`, `Lockstep.DynamicSupervisor` and `Lockstep.Task.Supervisor` handle it
  in their receive loops as `:sys.handle_system_msg/6` does:

    * `get_state` answers the callback state of a `GenServer`, `{state, data}` of a
      `:gen_statem`, the state of an `Agent`; `replace_state` applies the function to it, in the
      server, and answers the new state. A function that raises, exits or throws leaves the
      server running with its old state, and the caller raises
      `{:callback_failed, {:gen_server | :gen_statem, :system_replace_state}, {class, reason}}`
      (an `ErlangError`, as `:sys` raises it). As with `:sys`, a state of the form
      `{:error, reason}` makes `get_state` raise `reason`.
    * `get_status` answers `{:status, pid, {:module, :gen_server | :gen_statem},
      [pdict, :running | :suspended, parent, [], status]}`, where `status` is the list OTP's
      `format_status` builds (header, `Status`/`Parent`/`Logged events` data, the state;
      for a state machine `Modules`, `Time-outs` and `Postponed` too). The callback module's
      `format_status/1` or `format_status/2` is applied as OTP applies it.
    * `suspend` makes the server take only system messages (and its parent's exit) until
      `resume`; everything else stays queued in order, so a call to a suspended server waits,
      times out on the virtual clock if it has a timeout, and is served after the resume
      (its late reply then stays in the caller's mailbox).
    * `terminate` stops the server with the given reason, through its `terminate` callback.
    * A system message that arrives while a server waits with a timeout (`{:reply, r, s, 100}`)
      restarts that timeout, as in OTP.

  Timeouts (5000 ms by default) run on the virtual clock. Failures exit the caller as `:sys`
  does: `{:noproc, {:sys, :get_state, [name]}}`, `{:timeout, {:sys, :get_state, [name, 100]}}`,
  `{reason, {:sys, :suspend, [name]}}` when the server dies first, `{:calling_self, ...}`; the
  location is built as `:sys` builds it (so it is `{:sys, {:replace_state, fun}, [name]}` for
  `replace_state`). A process outside the run is asked through `:sys` itself.

  ## Differences from OTP

    * Only these requests are served. The `:sys` debug facilities (`trace`, `log`,
      `statistics`, `install`, `log_to_file`) and `change_code` are answered
      `{:error, {:unknown_system_msg, request}}`, so the debug list in a status is always `[]`.
    * The process dictionary in a status leaves out Lockstep's own entries (the run context
      and the bookkeeping of `Lockstep.ETS` and `Lockstep.Task.Supervisor`).
    * Supervisors: `get_state` answers OTP's shapes built from Lockstep's supervisor state:
      `Supervisor`'s `{:state, name, strategy, {ids, children}, :undefined, intensity, period,
      restarts, 0, auto_shutdown, module, args}` record with `{:child, ...}` records, and
      `%DynamicSupervisor{}` for dynamic and task supervisors. Restart times are seconds of the
      virtual clock; a task supervisor's `mod` is `Lockstep.Task.Supervisor` and its `args` are
      Lockstep's. `replace_state` takes such a value back; a function returning something
      that is not one fails with `{:callback_failed, ..., {:error, {:bad_supervisor_state,
      value}}}` and keeps the supervisor's state (OTP would install it and crash later).
    * Plain `:sys.get_state/1` (or any plain `:sys` call) made from inside a run on a managed
      process cannot be served: it sends a VM message to a process that only takes Lockstep
      messages, and waits for the reply in a plain receive, which stops the whole run. Such a
      request is answered at once by failing the caller: its `:sys` call exits with
      `{{%Lockstep.Error{}, stacktrace}, {:sys, :get_state, [pid]}}`, whose message names the
      `Lockstep.Sys` function to use (see `unmanaged_system_msg/2`). A plain `:sys` call by a
      registered name exits with `:noproc`, since run names are not VM names.
  """

  alias Lockstep.Gen

  @default_timeout 5000

  defguardp is_timeout(t) when (is_integer(t) and t >= 0) or t == :infinity

  @typedoc "A server as `:sys` addresses it (pid, name, `{:global, term}`, `{:via, module, term}`)."
  @type name :: Gen.server()

  # ----- client API ----------------------------------------------------------------------

  @doc """
  The state of the server: the callback state (`{state, data}` for a state machine). Raises
  `reason` when the server answers `{:error, reason}`. See `:sys.get_state/1`.
  """
  @spec get_state(name()) :: term()
  def get_state(name) do
    if Lockstep.managed?(),
      do: name |> send_system_msg(:get_state) |> raise_error(),
      else: :sys.get_state(name)
  end

  @doc "Like `get_state/1`, waiting `timeout` ms (virtual inside a run). See `:sys.get_state/2`."
  @spec get_state(name(), timeout()) :: term()
  def get_state(name, timeout) when is_timeout(timeout) do
    if Lockstep.managed?(),
      do: name |> send_system_msg(:get_state, timeout) |> raise_error(),
      else: :sys.get_state(name, timeout)
  end

  @doc """
  Replaces the server's state with `fun.(state)`, computed in the server, and returns the new
  state. When `fun` fails the server keeps its state and the caller raises
  `{:callback_failed, ...}`. See `:sys.replace_state/2`.
  """
  @spec replace_state(name(), (term() -> term())) :: term()
  def replace_state(name, fun) do
    if Lockstep.managed?(),
      do: name |> send_system_msg({:replace_state, fun}) |> raise_error(),
      else: :sys.replace_state(name, fun)
  end

  @doc "Like `replace_state/2`, waiting `timeout` ms. See `:sys.replace_state/3`."
  @spec replace_state(name(), (term() -> term()), timeout()) :: term()
  def replace_state(name, fun, timeout) when is_timeout(timeout) do
    if Lockstep.managed?(),
      do: name |> send_system_msg({:replace_state, fun}, timeout) |> raise_error(),
      else: :sys.replace_state(name, fun, timeout)
  end

  @doc """
  `{:status, pid, {:module, module}, [pdict, sys_state, parent, debug, status]}`. See
  `:sys.get_status/1` and the moduledoc.
  """
  @spec get_status(name()) :: {:status, pid(), {:module, module()}, list()}
  def get_status(name) do
    if Lockstep.managed?(), do: send_system_msg(name, :get_status), else: :sys.get_status(name)
  end

  @doc "Like `get_status/1`, waiting `timeout` ms. See `:sys.get_status/2`."
  @spec get_status(name(), timeout()) :: {:status, pid(), {:module, module()}, list()}
  def get_status(name, timeout) when is_timeout(timeout) do
    if Lockstep.managed?(),
      do: send_system_msg(name, :get_status, timeout),
      else: :sys.get_status(name, timeout)
  end

  @doc """
  Suspends the server: it handles only system messages until `resume/1`. `:ok`. See
  `:sys.suspend/1`.
  """
  @spec suspend(name()) :: :ok
  def suspend(name) do
    if Lockstep.managed?(), do: send_system_msg(name, :suspend), else: :sys.suspend(name)
  end

  @doc "Like `suspend/1`, waiting `timeout` ms. See `:sys.suspend/2`."
  @spec suspend(name(), timeout()) :: :ok
  def suspend(name, timeout) when is_timeout(timeout) do
    if Lockstep.managed?(),
      do: send_system_msg(name, :suspend, timeout),
      else: :sys.suspend(name, timeout)
  end

  @doc "Resumes a suspended server. `:ok`. See `:sys.resume/1`."
  @spec resume(name()) :: :ok
  def resume(name) do
    if Lockstep.managed?(), do: send_system_msg(name, :resume), else: :sys.resume(name)
  end

  @doc "Like `resume/1`, waiting `timeout` ms. See `:sys.resume/2`."
  @spec resume(name(), timeout()) :: :ok
  def resume(name, timeout) when is_timeout(timeout) do
    if Lockstep.managed?(),
      do: send_system_msg(name, :resume, timeout),
      else: :sys.resume(name, timeout)
  end

  @doc """
  Asks the server to terminate with `reason` (through its `terminate` callback); returns
  `:ok` once it has been asked, without waiting for it to exit. See `:sys.terminate/2`.
  """
  @spec terminate(name(), term()) :: :ok
  def terminate(name, reason) do
    if Lockstep.managed?(),
      do: send_system_msg(name, {:terminate, reason}),
      else: :sys.terminate(name, reason)
  end

  @doc "Like `terminate/2`, waiting `timeout` ms for the answer. See `:sys.terminate/3`."
  @spec terminate(name(), term(), timeout()) :: :ok
  def terminate(name, reason, timeout) when is_timeout(timeout) do
    if Lockstep.managed?(),
      do: send_system_msg(name, {:terminate, reason}, timeout),
      else: :sys.terminate(name, reason, timeout)
  end

  defp raise_error({:error, reason}), do: :erlang.error(reason)
  defp raise_error(state), do: state

  # As sys:send_system_msg/2,3: a call labelled `system`, failures located as sys locates them.
  defp send_system_msg(name, request),
    do: call(name, request, @default_timeout, mfa(name, request))

  defp send_system_msg(name, request, timeout) do
    {m, f, a} = mfa(name, request)
    call(name, request, timeout, {m, f, a ++ [timeout]})
  end

  defp call(name, request, timeout, location) do
    case Gen.whereis(name) do
      :undefined -> exit({:noproc, location})
      pid when pid == self() -> exit({:calling_self, location})
      pid -> Gen.do_call(pid, {:system, {self(), nil}, request}, timeout, location)
    end
  end

  defp mfa(name, {:debug, {fun, arg}}), do: {:sys, fun, [name, arg]}

  defp mfa(name, {:change_code, mod, vsn, extra}),
    do: {:sys, :change_code, [name, mod, vsn, extra]}

  defp mfa(name, {:terminate, reason}), do: {:sys, :terminate, [name, reason]}
  defp mfa(name, request), do: {:sys, request, [name]}

  # ----- the server side -----------------------------------------------------------------

  @typedoc false
  # The module implementing a server loop, and the OTP module it stands for (what get_status
  # and callback failures name).
  @type impl :: {module(), :gen_server | :gen_statem}

  @doc false
  # What a server loop calls on `{:system, from, request}`, as OTP loops call
  # sys:handle_system_msg/6. Never returns: it answers `from`, then continues with
  # `mod.system_continue(parent, misc)`, stops with `mod.system_terminate(reason, parent,
  # misc)`, or waits suspended. `mod` also provides `system_get_state(misc)` (`{:ok, state}`),
  # `system_replace_state(fun, misc)` (`{:ok, state, misc}`) and
  # `system_format_status([pdict, sys_state, parent, debug, misc])`.
  @spec handle_system_msg(term(), Gen.from(), pid(), impl(), term()) :: no_return()
  def handle_system_msg(request, from, parent, impl, misc),
    do: handle_system_msg(:running, request, from, parent, impl, misc)

  defp handle_system_msg(sys_state, request, from, parent, {mod, _} = impl, misc) do
    case do_cmd(sys_state, request, parent, impl, misc) do
      {:suspended, reply, misc} ->
        Gen.reply(from, reply)
        suspend_loop(parent, impl, misc)

      {:running, reply, misc} ->
        Gen.reply(from, reply)
        mod.system_continue(parent, misc)

      {{:terminating, reason}, reply, misc} ->
        Gen.reply(from, reply)
        mod.system_terminate(reason, parent, misc)
    end
  end

  # Suspended, a server takes only system messages and its parent's exit; everything else
  # stays in the mailbox, in order, for when it resumes.
  defp suspend_loop(parent, {mod, _} = impl, misc) do
    matcher = fn
      {:system, _from, _request} -> true
      {:EXIT, ^parent, _reason} -> true
      _ -> false
    end

    case Lockstep.recv_first(matcher) do
      {:system, from, request} -> handle_system_msg(:suspended, request, from, parent, impl, misc)
      {:EXIT, ^parent, reason} -> mod.system_terminate(reason, parent, misc)
    end
  end

  defp do_cmd(_sys_state, :suspend, _parent, _impl, misc), do: {:suspended, :ok, misc}
  defp do_cmd(_sys_state, :resume, _parent, _impl, misc), do: {:running, :ok, misc}

  defp do_cmd(sys_state, :get_state, _parent, impl, misc),
    do: {sys_state, do_get_state(impl, misc), misc}

  defp do_cmd(sys_state, {:replace_state, fun}, _parent, impl, misc) do
    {reply, misc} = do_replace_state(fun, impl, misc)
    {sys_state, reply, misc}
  end

  defp do_cmd(sys_state, :get_status, parent, impl, misc),
    do: {sys_state, get_status(sys_state, parent, impl, misc), misc}

  defp do_cmd(_sys_state, {:terminate, reason}, _parent, _impl, misc),
    do: {{:terminating, reason}, :ok, misc}

  defp do_cmd(sys_state, other, _parent, _impl, misc),
    do: {sys_state, {:error, {:unknown_system_msg, other}}, misc}

  defp do_get_state({mod, otp}, misc) do
    {:ok, state} = mod.system_get_state(misc)
    state
  catch
    class, reason -> {:error, {:callback_failed, {otp, :system_get_state}, {class, reason}}}
  end

  defp do_replace_state(fun, {mod, otp}, misc) do
    {:ok, state, misc} = mod.system_replace_state(fun, misc)
    {state, misc}
  catch
    class, reason ->
      {{:error, {:callback_failed, {otp, :system_replace_state}, {class, reason}}}, misc}
  end

  defp get_status(sys_state, parent, {mod, otp}, misc) do
    pdict = visible_pdict()
    status = mod.system_format_status([pdict, sys_state, parent, [], misc])
    {:status, self(), {:module, otp}, [pdict, sys_state, parent, [], status]}
  end

  # The process dictionary without Lockstep's own entries.
  defp visible_pdict do
    Enum.reject(Process.get(), fn {key, _value} -> internal_key?(key) end)
  end

  defp internal_key?(key) when is_atom(key) do
    name = Atom.to_string(key)
    String.starts_with?(name, "$lockstep") or String.starts_with?(name, "Elixir.Lockstep.")
  end

  defp internal_key?(_key), do: false

  # ----- status formatting, as OTP formats it --------------------------------------------

  @doc false
  # The name a server's status shows (gen:name/1): the registered name, or the pid.
  @spec status_name(Gen.name() | nil) :: term()
  def status_name(nil), do: self()
  def status_name({:local, name}), do: name
  def status_name({:global, name}), do: name
  def status_name({:via, _mod, name}), do: name

  @doc false
  # gen:format_status_header/2.
  @spec header(String.t(), term()) :: charlist() | {charlist(), term()}
  def header(tag_line, name) when is_pid(name),
    do: String.to_charlist(tag_line) ++ ~c" " ++ :erlang.pid_to_list(name)

  def header(tag_line, name) when is_atom(name),
    do: String.to_charlist(tag_line) ++ ~c" " ++ Atom.to_charlist(name)

  def header(tag_line, name), do: {String.to_charlist(tag_line), name}

  @doc false
  # The status list of a generic server, as gen_server:format_status/2 builds it (OTP 25),
  # applying the callback module's format_status/1 or /2.
  @spec gen_server_status(list(), term(), module(), term()) :: list()
  def gen_server_status([pdict, sys_state, parent, _debug], name, mod, state) do
    status =
      case format_callback(mod, %{state: state, log: []}, [pdict, state]) do
        %{EXIT: reason} = map -> Map.put(map, :"$status", [{:data, [{~c"State", reason}]}])
        %{"$status": list} = map when is_list(list) -> map
        %{"$status": item} = map -> %{map | "$status": [item]}
        %{state: state} = map -> Map.put(map, :"$status", [{:data, [{~c"State", state}]}])
      end

    log = if function_exported?(mod, :format_status, 1), do: Map.get(status, :log, []), else: []

    [
      {:header, header("Status for generic server", name)},
      {:data, [{~c"Status", sys_state}, {~c"Parent", parent}, {~c"Logged events", log}]}
      | Map.fetch!(status, :"$status")
    ]
  end

  @doc false
  # The status list of a state machine, as gen_statem:format_status/2 builds it (OTP 25).
  @spec gen_statem_status(list(), term(), [module()], map()) :: list()
  def gen_statem_status([pdict, sys_state, parent, _debug], name, [mod | _] = modules, s) do
    %{state_data: {state, data}, postponed: postponed, timers: timers} = s
    timeouts = Enum.reduce(Map.to_list(timers), [], fn {t, {_, c}}, acc -> [{t, c} | acc] end)

    map = %{state: state, data: data, postponed: postponed, log: [], timeouts: timeouts}

    status =
      case format_callback(mod, map, [pdict, state, data]) do
        %{EXIT: reason} ->
          Map.put(map, :"$status", [{:data, [{~c"State", {state, reason}}]}])

        %{"$status": list} = status when is_list(list) ->
          status

        %{"$status": item} = status ->
          %{status | "$status": [item]}

        %{state: state, data: data} = status ->
          Map.put(status, :"$status", [{:data, [{~c"State", {state, data}}]}])
      end

    [
      {:header, header("Status for state machine", name)},
      {:data,
       [
         {~c"Status", sys_state},
         {~c"Parent", parent},
         {~c"Modules", modules},
         {~c"Time-outs", {map_size(timers), Map.fetch!(status, :timeouts)}},
         {~c"Logged Events", Map.fetch!(status, :log)},
         {~c"Postponed", Map.fetch!(status, :postponed)}
       ]}
      | Map.fetch!(status, :"$status")
    ]
  end

  @doc false
  # The status list of a supervisor (a gen_server whose callback module formats its state as
  # `supervisor` and `DynamicSupervisor` do).
  @spec supervisor_status(list(), term(), term(), module()) :: list()
  def supervisor_status([_pdict, sys_state, parent, _debug], name, state, callback) do
    [
      {:header, header("Status for generic server", name)},
      {:data, [{~c"Status", sys_state}, {~c"Parent", parent}, {~c"Logged events", []}]},
      {:data, [{~c"State", state}]},
      {:supervisor, [{~c"Callback", callback}]}
    ]
  end

  # gen:format_status/4 (OTP 25): the callback module's format_status/1 on the status map, or
  # its format_status/2 on `args` (its result as `:"$status"`); a crash as `:EXIT`.
  defp format_callback(mod, status, args) do
    cond do
      function_exported?(mod, :format_status, 1) ->
        try do
          case mod.format_status(status) do
            new when is_map(new) ->
              merged = Map.merge(status, new)

              if map_size(merged) == map_size(new),
                do: merged,
                else: Map.put(status, :EXIT, exit_text(mod, "returned a map with unknown keys"))

            _ ->
              Map.put(status, :EXIT, exit_text(mod, "did not return a map"))
          end
        catch
          _, _ -> Map.put(status, :EXIT, exit_text(mod, "crashed"))
        end

      function_exported?(mod, :format_status, 2) ->
        try do
          Map.put(status, :"$status", mod.format_status(:normal, args))
        catch
          :throw, result -> Map.put(status, :"$status", result)
          _, _ -> Map.put(status, :EXIT, Atom.to_charlist(mod) ++ ~c":format_status/2 crashed")
        end

      true ->
        status
    end
  end

  defp exit_text(mod, what),
    do: Atom.to_charlist(mod) ++ ~c":format_status/1 " ++ to_charlist(what)

  # ----- plain :sys calls on managed processes ---------------------------------------------

  @doc false
  # Answers a system message that reached a managed process through the VM rather than the
  # run (a plain `:sys` call, whose caller waits in a plain receive and so holds up the whole
  # run): the caller's call fails at once with an error naming the Lockstep.Sys function to
  # use. Called by the runtime while the process waits for its turn; does not touch the run.
  @spec unmanaged_system_msg({pid(), term()}, term()) :: :ok
  def unmanaged_system_msg({caller, tag}, request) when is_pid(caller) do
    mref =
      case tag do
        [:alias | mref] -> mref
        mref -> mref
      end

    error = %Lockstep.Error{message: unmanaged_message(request)}
    {:current_stacktrace, [_process_info | stack]} = Process.info(self(), :current_stacktrace)
    # gen:call waits for the reply or a DOWN of its monitor; a DOWN makes it exit with the
    # reason, which :sys wraps with its location.
    Kernel.send(caller, {:DOWN, mref, :process, self(), {error, stack}})
    :ok
  end

  def unmanaged_system_msg(_from, _request), do: :ok

  defp unmanaged_message(request) do
    {function, arity} =
      case request do
        :get_state -> {"get_state", "1,2"}
        {:replace_state, _} -> {"replace_state", "2,3"}
        :get_status -> {"get_status", "1,2"}
        :suspend -> {"suspend", "1,2"}
        :resume -> {"resume", "1,2"}
        {:terminate, _} -> {"terminate", "2,3"}
        _ -> {nil, nil}
      end

    use =
      if function,
        do: "call Lockstep.Sys.#{function}/#{arity} instead",
        else: "Lockstep.Sys serves get_state, replace_state, get_status, suspend and resume"

    "a plain :sys call (#{inspect(request)}) reached #{inspect(self())}, a process managed by " <>
      "a Lockstep run; it cannot be answered, since its caller waits outside the run: " <> use
  end
end

defmodule Lockstep do
  @moduledoc """
  Controlled concurrency testing for the BEAM.

  Inside a Lockstep run (a `ctest` body, or `Lockstep.Runner.run/2`), every function in this
  module is a *sync point*: the calling process announces the operation to Lockstep's engine and
  waits until the scheduling strategy picks it. The engine then performs the operation, with its
  effects, and the process continues. At most one managed process runs at a time, so each run
  is one exact interleaving, and the same seed always produces the same interleaving.

      Lockstep.spawn(fn -> Lockstep.send(parent, :hello) end)
      Lockstep.recv()
      #=> :hello

  ## Outside a run

  Called from a process that no run manages, each function behaves like the plain BEAM
  primitive it mirrors (`send/2`, `receive`, `Process.send_after/3`, `Process.monitor/1`, ...).
  A library can therefore route its concurrency through `Lockstep` and still run normally in
  development and production, while its tests explore interleavings.

  ## What is controlled

  Messages live in the engine: `send/2`, `recv/0` and `recv_first/1` see only messages sent
  with Lockstep (plus the `:DOWN` and `:EXIT` messages Lockstep generates). A plain `receive`
  inside a managed process waits for a message that never comes; the run's watchdog reports it
  with the process's stacktrace. Time is virtual: `now/0` and `monotonic_time/1` start at 0 in
  every run, `system_time/1` at the run's `:clock_start`, and the clock jumps to the next timer
  only when no process can move (with `timers: :race`, also when the strategy picks the
  clock), so `sleep/1` costs no wall-clock time. When the test body returns, the other
  processes run on until the run settles, as they would on the BEAM.

  ## Differences from the BEAM

    * Delivery is immediate: a message is in the recipient's mailbox as soon as the `send`
      step executes. Races between senders are explored by ordering the sends.
    * `recv_first/1` takes a predicate, which runs in the receiving process. A predicate that
      raises counts as no match.
    * Exit reasons of crashed processes are `{exception, stacktrace}` as on the BEAM, but the
      VM process is ended by Lockstep, so a plain `Process.monitor/1` on a managed pid sees
      `:killed` or `:normal`. Use `monitor/1` to observe the real reason.
  """

  alias Lockstep.Runtime

  @typedoc "A process or a registered name on this node."
  @type dest :: pid() | atom() | {atom(), node()}

  @doc """
  Spawns a managed process running `fun`. Outside a run, `Kernel.spawn/1`.

  The child is numbered in spawn order (the root is `P0`) and starts only when the strategy
  picks its first step.
  """
  @spec spawn((() -> any())) :: pid()
  def spawn(fun) when is_function(fun, 0) do
    case Runtime.ctx() do
      nil -> Kernel.spawn(fun)
      ctx -> Runtime.spawn_child(ctx, fun, :spawn)
    end
  end

  @doc """
  Spawns a managed process linked to the caller, atomically. Outside a run, `Kernel.spawn_link/1`.

  If the child exits abnormally the caller dies with the same reason, unless it traps exits
  (`flag(:trap_exit, true)`), in which case it receives `{:EXIT, child, reason}`.
  """
  @spec spawn_link((() -> any())) :: pid()
  def spawn_link(fun) when is_function(fun, 0) do
    case Runtime.ctx() do
      nil -> Kernel.spawn_link(fun)
      ctx -> Runtime.spawn_child(ctx, fun, :spawn_link)
    end
  end

  @doc """
  Spawns a managed process and monitors it, atomically, returning `{pid, ref}`. Outside a
  run, `Kernel.spawn_monitor/1`.
  """
  @spec spawn_monitor((() -> any())) :: {pid(), reference()}
  def spawn_monitor(fun) when is_function(fun, 0) do
    case Runtime.ctx() do
      nil -> Kernel.spawn_monitor(fun)
      ctx -> Runtime.spawn_monitored(ctx, fun, false)
    end
  end

  @doc """
  Spawns a managed process with `options`, as `Process.spawn/2` (`:erlang.spawn_opt/2`):
  `:link` links it, `:monitor` (or `{:monitor, opts}`) monitors it and returns `{pid, ref}`.
  Other options (`:priority`, `:fullsweep_after`, `:min_heap_size`, ...) are accepted and
  ignored inside a run; outside a run everything goes to `:erlang.spawn_opt/2`.
  """
  @spec spawn_opt((() -> any()), list()) :: pid() | {pid(), reference()}
  def spawn_opt(fun, options) when is_function(fun, 0) and is_list(options) do
    case Runtime.ctx() do
      nil ->
        :erlang.spawn_opt(fun, options)

      ctx ->
        link = :link in options
        monitor = Enum.any?(options, &(&1 == :monitor or match?({:monitor, _}, &1)))

        cond do
          monitor -> Runtime.spawn_monitored(ctx, fun, link)
          link -> Runtime.spawn_child(ctx, fun, :spawn_link)
          true -> Runtime.spawn_child(ctx, fun, :spawn)
        end
    end
  end

  @doc """
  Sends `message` to `dest` (a pid or a registered name) and returns `:ok`.

  Sending to a dead process silently drops the message; sending to a name nobody registered
  raises `ArgumentError`, as `send/2` does. Messages between one sender and one receiver arrive
  in the order they were sent. Outside a run (or to a process no run manages), `Kernel.send/2`.
  """
  @spec send(dest(), term()) :: :ok
  def send(dest, message) do
    with ctx when ctx != nil <- Runtime.ctx(),
         :ok <- Runtime.sync(ctx, {:send, dest, message}) do
      :ok
    else
      {:error, :badarg} -> raise ArgumentError, "no process is registered as #{inspect(dest)}"
      _plain -> plain_send(dest, message)
    end
  end

  defp plain_send(dest, message) do
    Kernel.send(dest, message)
    :ok
  end

  @doc """
  `Process.send/3`: sends `message` to `dest` and returns `:ok`. Inside a run the options
  (`:noconnect`, `:nosuspend`) change nothing, as every destination is on the one simulated
  node; outside a run, `Process.send/3`.
  """
  @spec send(dest(), term(), [:noconnect | :nosuspend]) :: :ok | :noconnect | :nosuspend
  def send(dest, message, options) when is_list(options) do
    case Runtime.ctx() do
      nil -> Process.send(dest, message, options)
      _ctx -> __MODULE__.send(dest, message)
    end
  end

  @doc """
  Receives the oldest message in the caller's mailbox, waiting until there is one.
  Outside a run, a plain `receive`.
  """
  @spec recv() :: term()
  def recv do
    case Runtime.ctx() do
      nil ->
        receive do
          msg -> msg
        end

      ctx ->
        {:msg, msg} = Runtime.sync(ctx, {:recv, :infinity})
        msg
    end
  end

  @doc """
  Receives the oldest message, giving up after `timeout` milliseconds (of virtual time inside a
  run). Returns `{:ok, message}` or `:timeout`.
  """
  @spec recv(timeout()) :: {:ok, term()} | :timeout
  def recv(timeout) do
    check_timeout!(timeout)

    case Runtime.ctx() do
      nil ->
        receive do
          msg -> {:ok, msg}
        after
          timeout -> :timeout
        end

      ctx ->
        case Runtime.sync(ctx, {:recv, timeout}) do
          {:msg, msg} -> {:ok, msg}
          :timeout -> :timeout
        end
    end
  end

  @doc """
  Selective receive: takes the oldest message for which `predicate` returns `true`, leaving the
  others in order, and waits for one if none matches yet.

      reply = Lockstep.recv_first(fn
        {^ref, _} -> true
        _ -> false
      end)

  A predicate that raises or throws counts as no match. Outside a run the mailbox is scanned
  the same way (waiting for new messages by polling, since a predicate cannot be a `receive`
  pattern).

  The predicate should be pure, as a pattern is: under `strategy: :exhaustive` it also runs
  on the messages behind the one it took, and the predicates of a process's last 16
  selective receives run on the messages that come later, so that the exploration knows
  which orders of messages no receive could tell apart.
  """
  @spec recv_first((term() -> boolean())) :: term()
  def recv_first(predicate) when is_function(predicate, 1) do
    {:ok, msg} = recv_first(predicate, :infinity)
    msg
  end

  @doc """
  Like `recv_first/1`, giving up after `timeout` milliseconds (virtual inside a run; counted
  from the start of the receive, as `receive ... after` does). Returns `{:ok, message}` or
  `:timeout`.
  """
  @spec recv_first((term() -> boolean()), timeout()) :: {:ok, term()} | :timeout
  def recv_first(predicate, timeout) when is_function(predicate, 1) do
    check_timeout!(timeout)

    case Runtime.ctx() do
      nil -> plain_recv_first(predicate, deadline(timeout), 1)
      ctx -> Runtime.recv_match(ctx, predicate, timeout)
    end
  end

  defp deadline(:infinity), do: :infinity
  defp deadline(ms), do: System.monotonic_time(:millisecond) + ms

  defp plain_recv_first(predicate, deadline, backoff) do
    {:messages, msgs} = Process.info(self(), :messages)

    case Enum.find(msgs, :none, &Runtime.matches?(predicate, &1)) do
      :none ->
        wait =
          case deadline do
            :infinity -> backoff
            at -> min(backoff, at - System.monotonic_time(:millisecond))
          end

        if wait <= 0 do
          :timeout
        else
          # A receive with a pattern (unlike Process.sleep/1) makes the process take in the
          # messages that arrived meanwhile, so Process.info/2 sees them next time.
          never = make_ref()

          receive do
            ^never -> :ok
          after
            wait -> :ok
          end

          plain_recv_first(predicate, deadline, min(backoff * 2, 16))
        end

      msg ->
        receive do
          ^msg -> {:ok, msg}
        end
    end
  end

  @doc """
  Sends `message` to `dest` after `delay` milliseconds of virtual time and returns a timer
  reference for `cancel_timer/1`. Outside a run, `Process.send_after/3`.

  Timers fire when no process can move: the clock jumps to the earliest timer, and every timer
  due at that instant fires, so their recipients' steps can be interleaved.
  """
  @spec send_after(dest(), term(), non_neg_integer()) :: reference()
  def send_after(dest, message, delay) when is_integer(delay) and delay >= 0,
    do: send_after(dest, message, delay, [])

  @doc """
  `Process.send_after/4`: with `abs: true`, `time` is an absolute time of `monotonic_time/1`
  in milliseconds (virtual inside a run) at which the message is sent; a time already passed
  sends at once. A timer whose destination is a pid is cancelled when that process is dead or
  exits before it fires, as on the BEAM; one to a name looks the name up when it fires.
  """
  @spec send_after(dest(), term(), integer(), [{:abs, boolean()}]) :: reference()
  def send_after(dest, message, time, options) when is_integer(time) and is_list(options) do
    timer(dest, message, time, options, fn _ref -> message end, &Process.send_after/4)
  end

  @doc """
  `:erlang.start_timer/3,4`: like `send_after/4`, but the message is `{:timeout, ref, msg}`,
  `ref` being the timer's reference that this returns.
  """
  @spec start_timer(integer(), dest(), term(), [{:abs, boolean()}]) :: reference()
  def start_timer(time, dest, message, options \\ [])
      when is_integer(time) and is_list(options) do
    timer(dest, message, time, options, &{:timeout, &1, message}, fn dest, msg, time, opts ->
      :erlang.start_timer(time, dest, msg, opts)
    end)
  end

  defp timer(dest, message, time, options, wrap, plain) do
    abs = Keyword.get(options, :abs, false)

    unless is_boolean(abs) and Keyword.keys(options) -- [:abs] == [] and (abs or time >= 0) do
      raise ArgumentError,
            "expected a non-negative time (any integer with abs: true) and only the :abs " <>
              "option, got: #{inspect(time)}, #{inspect(options)}"
    end

    ref = make_ref()
    op = if abs, do: :send_at, else: :send_after

    with ctx when ctx != nil <- Runtime.ctx(),
         :ok <- Runtime.sync(ctx, {op, dest, wrap.(ref), max(time, 0), ref}) do
      ref
    else
      _plain -> plain.(dest, message, time, options)
    end
  end

  @doc """
  Cancels a timer. Returns the milliseconds that remained, or `false` when it already fired or
  never existed. Outside a run (or for a timer no run created), `Process.cancel_timer/1`.
  """
  @spec cancel_timer(reference()) :: non_neg_integer() | false
  def cancel_timer(ref) when is_reference(ref) do
    with ctx when ctx != nil <- Runtime.ctx(),
         result when result != :unmanaged <- Runtime.sync(ctx, {:cancel_timer, ref}) do
      result
    else
      _plain -> Process.cancel_timer(ref)
    end
  end

  @doc """
  `Process.cancel_timer/2`: with `info: false` returns `:ok` instead of the time left;
  `async: true` changes nothing inside a run (the cancel is one step), and outside a run both
  go to `Process.cancel_timer/2`.
  """
  @spec cancel_timer(reference(), async: boolean(), info: boolean()) ::
          non_neg_integer() | false | :ok
  def cancel_timer(ref, options) when is_reference(ref) and is_list(options) do
    case Runtime.ctx() do
      nil ->
        Process.cancel_timer(ref, options)

      _ctx ->
        left = cancel_timer(ref)
        if Keyword.get(options, :info, true), do: left, else: :ok
    end
  end

  @doc """
  The milliseconds left on a timer, or `false` when it fired, was cancelled or never existed.
  Outside a run (or for a timer no run created), `Process.read_timer/1`.
  """
  @spec read_timer(reference()) :: non_neg_integer() | false
  def read_timer(ref) when is_reference(ref) do
    with ctx when ctx != nil <- Runtime.ctx(),
         result when result != :unmanaged <- Runtime.sync(ctx, {:read_timer, ref}) do
      result
    else
      _plain -> Process.read_timer(ref)
    end
  end

  @doc """
  Suspends the caller for `ms` milliseconds of virtual time (`:infinity` waits forever, which a
  run reports as a deadlock if nothing else can move). Outside a run, `Process.sleep/1`.
  """
  @spec sleep(non_neg_integer() | :infinity) :: :ok
  def sleep(ms) do
    check_timeout!(ms)

    case Runtime.ctx() do
      nil ->
        Process.sleep(ms)

      ctx when ms == :infinity ->
        Runtime.recv_match(ctx, fn _ -> false end, :infinity)
        :ok

      ctx ->
        :ok = Runtime.sync(ctx, {:sleep, ms})
    end
  end

  @doc """
  The virtual clock in milliseconds since the run began (0 at the start of every run). Outside
  a run, the VM's monotonic time in milliseconds.
  """
  @spec now() :: non_neg_integer() | integer()
  def now do
    case Runtime.ctx() do
      nil -> System.monotonic_time(:millisecond)
      ctx -> Runtime.sync(ctx, :now)
    end
  end

  @doc """
  The monotonic clock in `unit` (`:native` by default, as `System.monotonic_time/1`): inside a
  run the virtual clock, which starts at 0 in every run and moves only as the run's timers,
  `sleep/1` and the `:time_per_step` option make it; outside a run, `System.monotonic_time/1`.
  """
  @spec monotonic_time(System.time_unit()) :: integer()
  def monotonic_time(unit \\ :native) do
    case Runtime.ctx() do
      nil -> System.monotonic_time(unit)
      ctx -> System.convert_time_unit(Runtime.sync(ctx, :now), :millisecond, unit)
    end
  end

  @doc """
  The system clock in `unit` (default `:native`): inside a run the `:clock_start` option
  (by default 2026-01-01T00:00:00Z) plus the virtual monotonic time, so arithmetic on
  wall-clock time works and is the same on every run; outside a run, `System.system_time/1`.
  """
  @spec system_time(System.time_unit()) :: integer()
  def system_time(unit \\ :native) do
    case Runtime.ctx() do
      nil -> System.system_time(unit)
      ctx -> System.convert_time_unit(Runtime.sync(ctx, :system_time), :millisecond, unit)
    end
  end

  @doc """
  The operating system's clock in `unit` (default `:native`): inside a run the same as
  `system_time/1`; outside a run, `System.os_time/1`.
  """
  @spec os_time(System.time_unit()) :: integer()
  def os_time(unit \\ :native) do
    case Runtime.ctx() do
      nil -> System.os_time(unit)
      _ctx -> system_time(unit)
    end
  end

  @doc """
  Monitors `dest`. When it exits, the caller receives `{:DOWN, ref, :process, pid, reason}`
  (with `{name, node}` in place of the pid when monitored by name); a process that is already
  dead gives `:noproc` at once. Outside a run, `Process.monitor/1`.
  """
  @spec monitor(dest()) :: reference()
  def monitor(dest) do
    ref = make_ref()

    with ctx when ctx != nil <- Runtime.ctx(),
         :ok <- Runtime.sync(ctx, {:monitor, dest, ref}) do
      ref
    else
      _plain -> Process.monitor(dest)
    end
  end

  @doc """
  Removes a monitor. With `:flush`, also removes its `:DOWN` message if one was delivered. With
  `:info`, returns whether the monitor was still active. Outside a run, `Process.demonitor/2`.
  """
  @spec demonitor(reference(), [:flush | :info]) :: boolean()
  def demonitor(ref, options \\ []) when is_reference(ref) and is_list(options) do
    with ctx when ctx != nil <- Runtime.ctx(),
         found when is_boolean(found) <-
           Runtime.sync(ctx, {:demonitor, ref, :flush in options}) do
      if :info in options, do: found, else: true
    else
      _plain -> Process.demonitor(ref, options)
    end
  end

  @doc """
  Links the caller and `pid`. Linking to a dead process raises `ErlangError` with `:noproc`, or,
  when the caller traps exits, delivers `{:EXIT, pid, :noproc}`. Outside a run, `Process.link/1`.
  """
  @spec link(pid()) :: true
  def link(pid) when is_pid(pid) do
    with ctx when ctx != nil <- Runtime.ctx(),
         result when result != :unmanaged <- Runtime.sync(ctx, {:link, pid}) do
      case result do
        :ok -> true
        {:error, :noproc} -> :erlang.error(:noproc, [pid])
      end
    else
      _plain -> Process.link(pid)
    end
  end

  @doc "Removes a link. Outside a run, `Process.unlink/1`."
  @spec unlink(pid()) :: true
  def unlink(pid) when is_pid(pid) do
    with ctx when ctx != nil <- Runtime.ctx(),
         :ok <- Runtime.sync(ctx, {:unlink, pid}) do
      true
    else
      _plain -> Process.unlink(pid)
    end
  end

  @doc """
  Sets a process flag and returns its old value. `:trap_exit` is controlled by the run (exit
  signals become `{:EXIT, from, reason}` messages); other flags are passed to `Process.flag/2`
  and do not affect scheduling.
  """
  @spec flag(atom(), term()) :: term()
  def flag(:trap_exit, value) when is_boolean(value) do
    case Runtime.ctx() do
      nil -> Process.flag(:trap_exit, value)
      ctx -> Runtime.sync(ctx, {:trap_exit, value})
    end
  end

  def flag(flag, value), do: Process.flag(flag, value)

  @doc """
  Whether `pid` is alive, as the run sees it. This is a sync point, so another process may run
  between the check and whatever the caller does next: exactly how check-then-act races show
  up. Outside a run (or for a pid no run manages), `Process.alive?/1`.
  """
  @spec alive?(pid()) :: boolean()
  def alive?(pid) when is_pid(pid) do
    with ctx when ctx != nil <- Runtime.ctx(),
         alive when is_boolean(alive) <- Runtime.sync(ctx, {:alive, pid}) do
      alive
    else
      _plain -> Process.alive?(pid)
    end
  end

  @doc """
  Sends an exit signal to `pid`, with the BEAM's rules: `:kill` cannot be trapped (the target
  dies with `:killed`); a process trapping exits receives `{:EXIT, caller, reason}`; `:normal`
  is ignored unless the target is the caller. Outside a run, `Process.exit/2`.
  """
  @spec exit(pid(), term()) :: true
  def exit(pid, reason) when is_pid(pid) do
    with ctx when ctx != nil <- Runtime.ctx(),
         :ok <- Runtime.sync(ctx, {:exit_signal, pid, reason}) do
      true
    else
      _plain -> Process.exit(pid, reason)
    end
  end

  @doc """
  Registers `pid` under `name` for this run. Raises `ArgumentError` when the name is taken, the
  process already has a name, or it is dead. Outside a run, `Process.register/2`.

  Inside a run names belong to the run (other runs at once have names of their own), so only a
  process of the run can be registered: registering any other raises `ArgumentError`, where
  the VM would take a name that the run could not see and that would outlive it.
  """
  @spec register(pid(), atom()) :: true
  def register(pid, name) when is_pid(pid) and is_atom(name) do
    case Runtime.ctx() do
      nil ->
        Process.register(pid, name)

      ctx ->
        case Runtime.sync(ctx, {:register, name, pid}) do
          :ok ->
            true

          {:error, :badarg} ->
            raise ArgumentError,
                  "could not register #{inspect(pid)} as #{inspect(name)}: the name is taken, " <>
                    "the process already has a name, or it is not alive"

          :unmanaged ->
            raise ArgumentError,
                  "could not register #{inspect(pid)} as #{inspect(name)}: inside a run only " <>
                    "the run's processes can have the run's names, and this one is not the " <>
                    "run's (register it before the run, or start it with Lockstep.spawn)"
        end
    end
  end

  @doc "Removes a registered name; raises `ArgumentError` if it is not registered."
  @spec unregister(atom()) :: true
  def unregister(name) when is_atom(name) do
    case Runtime.ctx() do
      nil ->
        Process.unregister(name)

      ctx ->
        case Runtime.sync(ctx, {:unregister, name}) do
          :ok -> true
          {:error, :badarg} -> raise ArgumentError, "#{inspect(name)} is not registered"
        end
    end
  end

  @doc "The pid registered under `name`, or `nil`. Outside a run, `Process.whereis/1`."
  @spec whereis(atom()) :: pid() | nil
  def whereis(name) when is_atom(name) do
    case Runtime.ctx() do
      nil -> Process.whereis(name)
      ctx -> Runtime.sync(ctx, {:whereis, name})
    end
  end

  @doc """
  Replays a failure in one call: a saved schedule, or one iteration of a hunt.

      Lockstep.replay(&MyTest.body/0, "_build/test/lockstep/MyTest-...json")
      Lockstep.replay(fun, schedule, max_steps: 5_000)
      Lockstep.replay(fun, seed: 7, iteration: 41, expected_steps: 120, strategy: :random)

  With a schedule file's path or a `Lockstep.Schedule`, this is `Lockstep.Replay.run/3`: it
  always raises, `Lockstep.BugFound` when the failure happens again and
  `Lockstep.ReplayDivergence` when the program no longer follows the schedule. With a keyword
  list, this is `Lockstep.Replay.iteration/2`: it re-runs iteration `:iteration` of the hunt
  seeded with `:seed` and returns `:ok` or raises `Lockstep.BugFound`.

  The first call loads the engine's NIF. See `Lockstep.Replay` for starting iex with a project
  (`iex -S mix`) or with a built one (`iex -pa _build/dev/lib/lockstep/ebin`).
  """
  @spec replay((() -> any()), Path.t() | Lockstep.Schedule.t() | keyword(), keyword()) ::
          :ok | no_return()
  def replay(fun, source, opts \\ [])

  def replay(fun, opts, []) when is_function(fun, 0) and is_list(opts),
    do: Lockstep.Replay.iteration(fun, opts)

  def replay(fun, source, opts) when is_function(fun, 0) and is_list(opts),
    do: Lockstep.Replay.run(fun, source, opts)

  @doc """
  Replays the schedule a `ctest` saved, from iex, with no function to pass: the schedule names
  its test, whose file is loaded and whose ctest replays it (see `Lockstep.Replay.ctest/1`).

      $ MIX_ENV=test iex -S mix
      iex> Lockstep.replay("_build/test/lockstep/CounterTest-two_increments-seed7-iter3-81234-5.json")
      ** (Lockstep.BugFound) Lockstep replayed ...: the bug fired again: the test body failed.
  """
  @spec replay(Path.t()) :: no_return() | :ok
  def replay(path) when is_binary(path), do: Lockstep.Replay.ctest(path)

  @doc """
  Puts already compiled modules under control for the hunts that follow: each module is
  rewritten from its `debug_info` (see `Lockstep.Instrument`) and loaded in place of the
  original, until `uninstrument/1`. Prints, for each module, what could not be put under
  control. Raises `ArgumentError` naming a module that cannot be rewritten (no `debug_info`,
  not on the code path, part of Lockstep); the modules before it stay instrumented.

      Lockstep.instrument([SomeDep.Worker, :some_erlang_mod])
      Lockstep.Runner.run(fn -> ... end)
      Lockstep.uninstrument([SomeDep.Worker, :some_erlang_mod])
  """
  @spec instrument([module()]) :: :ok
  def instrument(modules) when is_list(modules) do
    Enum.each(modules, fn module ->
      case Lockstep.Instrument.module(module) do
        {:ok, notes} ->
          Enum.each(notes, &IO.puts(:stderr, "Lockstep: " <> Lockstep.Instrument.format_note(&1)))

        {:error, why} ->
          raise ArgumentError, "Lockstep.instrument/1: " <> why
      end
    end)
  end

  @doc "Puts back the originals of modules `instrument/1` rewrote."
  @spec uninstrument([module()]) :: :ok
  def uninstrument(modules) when is_list(modules) do
    Enum.each(modules, fn module ->
      case Lockstep.Instrument.restore(module) do
        :ok -> :ok
        {:error, why} -> raise ArgumentError, "Lockstep.uninstrument/1: " <> why
      end
    end)
  end

  @doc """
  Marks `expr` as meant to run outside Lockstep's control: it is `expr`, and the compile-time
  check of `ctest` bodies does not warn about the primitives in it (for example a plain
  `send` to the test process that collects results).

      ctest "..." do
        Lockstep.plain(send(collector, {:result, value}))
      end
  """
  defmacro plain(expr), do: expr

  @doc "Whether the calling process is managed by a Lockstep run."
  @spec managed?() :: boolean()
  def managed?, do: Runtime.ctx() != nil

  defp check_timeout!(:infinity), do: :ok
  defp check_timeout!(ms) when is_integer(ms) and ms >= 0, do: :ok

  defp check_timeout!(other) do
    raise ArgumentError,
          "expected a timeout (a non-negative integer or :infinity), got: #{inspect(other)}"
  end
end

defmodule Lockstep.Process do
  @moduledoc """
  The parts of Elixir's `Process` that take part in scheduling, with `Process`'s names and
  return values, so code can `alias Lockstep.Process` and keep calling `Process.register/2`,
  `Process.whereis/1`, `Process.monitor/1` and friends.

  Inside a Lockstep run every function here is a sync point and acts on the run's processes,
  names, monitors, links and virtual clock (see `Lockstep`). Outside a run each one is the
  `Process` function of the same name.

  ## Names

  Registered names live in the run: `register/2`, `unregister/1`, `whereis/1` and
  `registered/0` see only the run's names (a name registered in the VM outside the run is not
  visible inside it, and the other way round). A name is freed when its process ends. Each run
  has names of its own, kept by the engine, so two runs at once (two `async: true` ctests) can
  each register the same name.

  ## Differences from `Process`

    * Inside a run only a process of the run can be registered: `register/2` with any other
      pid raises `ArgumentError` (a VM name would be invisible to the run and outlive it).
    * `registered/0` lists the run's names in name order (`Process.registered/0` gives no
      particular order).
    * `flag/2` controls only `:trap_exit`; other flags go to `Process.flag/2` and do not change
      scheduling.
    * Ports are not managed: `register/2` takes a pid.
  """

  @doc """
  Registers `pid` under `name`. Raises `ArgumentError` when the name is taken, the process
  already has a name, or it is not alive.
  """
  @spec register(pid(), atom()) :: true
  def register(pid, name) when is_pid(pid) and is_atom(name) do
    Lockstep.register(pid, name)
  end

  @doc "Removes a registered name; raises `ArgumentError` if nobody holds it."
  @spec unregister(atom()) :: true
  def unregister(name) when is_atom(name), do: Lockstep.unregister(name)

  @doc "The pid registered under `name`, or `nil`."
  @spec whereis(atom()) :: pid() | nil
  def whereis(name) when is_atom(name), do: Lockstep.whereis(name)

  @doc "The registered names."
  @spec registered() :: [atom()]
  def registered do
    case Lockstep.Runtime.ctx() do
      nil -> Process.registered()
      ctx -> Lockstep.Runtime.sync(ctx, {:registered, false})
    end
  end

  @doc "Whether `pid` is alive (a sync point inside a run: see `Lockstep.alive?/1`)."
  @spec alive?(pid()) :: boolean()
  def alive?(pid), do: Lockstep.alive?(pid)

  @doc "Monitors a process or a registered name; see `Lockstep.monitor/1`."
  @spec monitor(pid() | atom() | {atom(), node()}) :: reference()
  def monitor(item), do: Lockstep.monitor(item)

  @doc "Removes a monitor; `options` as for `Process.demonitor/2`."
  @spec demonitor(reference(), [:flush | :info]) :: boolean()
  def demonitor(ref, options \\ []), do: Lockstep.demonitor(ref, options)

  @doc "Links the caller to `pid`."
  @spec link(pid()) :: true
  def link(pid), do: Lockstep.link(pid)

  @doc "Removes the link between the caller and `pid`."
  @spec unlink(pid()) :: true
  def unlink(pid), do: Lockstep.unlink(pid)

  @doc "Sends an exit signal to `pid`."
  @spec exit(pid(), term()) :: true
  def exit(pid, reason), do: Lockstep.exit(pid, reason)

  @doc "Sets a process flag and returns its old value (see the moduledoc for what is controlled)."
  @spec flag(atom(), term()) :: term()
  def flag(flag, value), do: Lockstep.flag(flag, value)

  @doc """
  Sends `message` to `dest` after `time` milliseconds (virtual inside a run); `abs: true`
  takes `time` as a monotonic time in milliseconds. See `Lockstep.send_after/4`.
  """
  @spec send_after(pid() | atom(), term(), integer(), [{:abs, boolean()}]) :: reference()
  def send_after(dest, message, time, options \\ []),
    do: Lockstep.send_after(dest, message, time, options)

  @doc "Cancels a timer; the milliseconds that remained, or `false` (`:info`, `:async` as `Process`)."
  @spec cancel_timer(reference(), keyword()) :: non_neg_integer() | false | :ok
  def cancel_timer(ref, options \\ []), do: Lockstep.cancel_timer(ref, options)

  @doc "The milliseconds left on a timer, or `false`."
  @spec read_timer(reference()) :: non_neg_integer() | false
  def read_timer(ref), do: Lockstep.read_timer(ref)

  @doc "`Process.send/3`; see `Lockstep.send/3`."
  @spec send(pid() | atom() | {atom(), node()}, term(), [:noconnect | :nosuspend]) ::
          :ok | :noconnect | :nosuspend
  def send(dest, message, options), do: Lockstep.send(dest, message, options)

  @doc "`Process.spawn/2`: `:link` and `:monitor` are honoured; see `Lockstep.spawn_opt/2`."
  @spec spawn((() -> any()), list()) :: pid() | {pid(), reference()}
  def spawn(fun, options), do: Lockstep.spawn_opt(fun, options)

  @info_keys [
    :message_queue_len,
    :messages,
    :links,
    :monitors,
    :monitored_by,
    :registered_name,
    :status,
    :trap_exit
  ]

  @doc """
  `Process.info/2` for the keys tests ask about: `#{Enum.map_join(@info_keys, ", ", &inspect/1)}`,
  one key (`{key, value}`) or a list of them (`[{key, value}]`); `nil` when the process is dead.
  Inside a run it is a sync point and answers from the run: `:messages` are the messages the
  run has delivered, `:status` is `:running` for the caller, `:runnable` for a process that
  could take its next step now and `:waiting` for one blocked in a receive or sleep. Other keys
  (and pids no run manages) go to `Process.info/2`, whose answers about a managed process
  describe the VM process behind it, not the run. Outside a run, `Process.info/2`.
  """
  @spec info(pid(), atom() | [atom()]) :: {atom(), term()} | [{atom(), term()}] | nil
  def info(pid, spec) when is_pid(pid) and (is_atom(spec) or is_list(spec)) do
    keys = List.wrap(spec)

    with ctx when ctx != nil <- Lockstep.Runtime.ctx(),
         true <- Enum.all?(keys, &(&1 in @info_keys)),
         facts when facts != :unmanaged <- Lockstep.Runtime.sync(ctx, {:info, pid}) do
      facts && answer(facts, spec)
    else
      _plain -> Process.info(pid, spec)
    end
  end

  defp answer(facts, key) when is_atom(key), do: {key, fact(facts, key)}
  defp answer(facts, keys), do: Enum.map(keys, &{&1, fact(facts, &1)})

  defp fact(facts, :message_queue_len), do: length(facts.messages)
  defp fact(facts, key), do: Map.fetch!(facts, key)

  @doc "Sleeps for `timeout` milliseconds (virtual inside a run)."
  @spec sleep(timeout()) :: :ok
  def sleep(timeout), do: Lockstep.sleep(timeout)
end

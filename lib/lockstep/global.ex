defmodule Lockstep.Global do
  @moduledoc """
  A global name registry for processes, mirroring `:global`'s name functions.

  Inside a Lockstep run each run has a global name space of its own, kept by the engine apart
  from locally registered names: registering, looking up and unregistering a global name are
  sync points, and a name is freed when the process holding it ends. Outside a run every
  function calls `:global`.

  `Lockstep.GenServer`, `Lockstep.GenStatem` and `Lockstep.Agent` accept `{:global, name}`
  wherever their OTP counterparts do, and resolve it here. The module also works as a `:via`
  module: `{:via, Lockstep.Global, name}` behaves like `{:global, name}`.

      Lockstep.GenServer.start_link(Cache, [], name: {:global, {:cache, 1}})
      Lockstep.GenServer.call({:global, {:cache, 1}}, :size)

  ## In a simulated cluster

  With nodes started by `Lockstep.Cluster`, each node sees the names held by processes on the
  nodes it is connected to: across a partition each half sees only its own, and each half
  can register the same name for a process of its own. When the partition heals, a name held
  on both sides keeps one holder and the other is killed (a `:killed` exit), as with
  `:global`'s default resolver; where that one picks at random, the run keeps the process that
  registered first, so a schedule always resolves the same way. The report shows the clash as
  a step. A process on a stopped node loses its names.

  ## Differences from `:global`

    * No custom resolve function (`register_name/3`), no locks (`set_lock/1`, `trans/2`) and no
      `re_register_name/2`.
    * A name is any term; two names are the same when their external term formats are equal
      (as `=:=` decides for everything but maps with more than 32 keys).
    * Registering a process that has already ended returns `:yes` and leaves the name free,
      as `:global` does once it notices the process is gone.
    * Inside a run, registering a process that is not the run's raises `ArgumentError`:
      `:global` would give it a name of the whole cluster, which the run could not see and
      which would outlive the run.
  """

  alias Lockstep.Runtime

  @doc """
  Registers `pid` under the global `name`. Returns `:yes`, or `:no` when the name is taken.
  A process may hold several global names. Inside a run only a process of the run can be
  registered (the name space is the run's); any other raises `ArgumentError`.
  """
  @spec register_name(term(), pid()) :: :yes | :no
  def register_name(name, pid) when is_pid(pid) do
    case Runtime.ctx() do
      nil ->
        :global.register_name(name, pid)

      ctx ->
        case Runtime.sync(ctx, {:global_register, name, pid}) do
          true ->
            :yes

          false ->
            :no

          :unmanaged ->
            raise ArgumentError,
                  "could not register #{inspect(pid)} under the global name #{inspect(name)}: " <>
                    "inside a run only the run's processes can have the run's global names, " <>
                    "and this one is not the run's"
        end
    end
  end

  @doc "Frees the global `name`, whoever holds it. Always `:ok`."
  @spec unregister_name(term()) :: :ok
  def unregister_name(name) do
    case Runtime.ctx() do
      nil ->
        _ = :global.unregister_name(name)
        :ok

      ctx ->
        :ok = Runtime.sync(ctx, {:global_unregister, name})
    end
  end

  @doc "The pid holding the global `name`, or `:undefined`."
  @spec whereis_name(term()) :: pid() | :undefined
  def whereis_name(name) do
    case Runtime.ctx() do
      nil -> :global.whereis_name(name)
      ctx -> Runtime.sync(ctx, {:global_whereis, name}) || :undefined
    end
  end

  @doc """
  Sends `message` to the process holding the global `name` and returns its pid. Exits with
  `{:badarg, {name, message}}` when nobody holds the name, as `:global.send/2` does.
  """
  @spec send(term(), term()) :: pid()
  def send(name, message) do
    case Runtime.ctx() do
      nil ->
        :global.send(name, message)

      _ctx ->
        case whereis_name(name) do
          :undefined ->
            exit({:badarg, {name, message}})

          pid ->
            Lockstep.send(pid, message)
            pid
        end
    end
  end

  @doc "All global names currently held (in the run: ordered by their external format)."
  @spec registered_names() :: [term()]
  def registered_names do
    case Runtime.ctx() do
      nil -> :global.registered_names()
      ctx -> Runtime.sync(ctx, {:registered, true})
    end
  end
end

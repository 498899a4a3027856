defmodule Lockstep.Cluster do
  @moduledoc """
  A simulated cluster inside one run: named nodes, partitions, node stops and restarts, node
  monitors and a virtual `net_ticktime`, all as steps of the schedule.

  Every process of a run belongs to a node. The root runs on the run's own node (the VM's
  `node()`, `:nonode@nohost` in a plain `mix test`, or the run's `node:` option); its children
  run where their parent runs, unless spawned elsewhere with `spawn/2`. Nodes are plain atoms:
  `:n1` serves as well as `:"n1@host"`.

      ctest "a replicated counter converges" do
        Lockstep.Cluster.start_nodes([:a, :b])
        a = Lockstep.Cluster.spawn(:a, fn -> Replica.loop(0) end)
        b = Lockstep.Cluster.spawn(:b, fn -> Replica.loop(0) end)
        id = Lockstep.Cluster.partition([:a], [:b], :defer)
        ...
        Lockstep.Cluster.heal(id)
      end

  ## What the model does

    * **Messages.** Within a node a message lands in the receiver's mailbox at once. Between
      nodes it travels on the channel of that pair of nodes, and its arrival is a step of its
      own that the strategy schedules: messages from one node to another keep their order, but
      a message relayed through a third node can overtake a direct one, as on distributed
      Erlang. Link and monitor signals travel the same channels.
    * **Partitions.** `partition/3` cuts traffic between two groups of nodes, both ways or one
      way (`one_way: true`: the first group cannot reach the second, the second still reaches
      the first). In `:drop` mode what crosses is lost; in `:defer` mode it waits and arrives
      at `heal/1`, in send order. Once a partition has lasted the net tick time
      (`set_ticktime/1`, 15000 ms of virtual time by default), monitors across it fire
      `{:DOWN, ref, :process, pid, :noconnection}`, links deliver `:noconnection` exits, and
      node monitors get `{:nodedown, node}`, as when the VM's ticker gives up on a connection.
    * **Node stops.** `stop_node/1` ends every process on the node (reason `:killed`), fires
      `{:nodedown, node}` at node monitors elsewhere, and `:noconnection` DOWN messages and
      exits at remote monitors and links. `start_node/1` brings the node back empty: no
      processes, names or tables.
    * **Names.** Registered names, named ETS tables and persistent terms are per node; sending
      to `{name, node}` reaches `name` on `node` (lost, as on the BEAM, when nobody has that
      name there). Global names (`Lockstep.Global`) are cluster-wide; when partitioned halves
      each registered a name and the partition heals, the process registered first keeps it
      and the other is killed (`:global`'s default resolver kills one of them).
    * **Faults chosen by the strategy.** With the run option `faults: [partitions: p,
      crashes: c]` the strategy itself may partition two nodes, heal, and stop and restart
      nodes at steps it picks, within that budget. Those faults are steps of the schedule:
      recorded in the schedule file, replayed strictly, and dropped by the shrinker when the
      failure does not need them.

  Outside a run the functions that only script a simulation (`start_nodes/1`, `partition/3`,
  `heal/1`, `stop_node/1`, `start_node/1`, `set_ticktime/1`) raise `ArgumentError`; the others
  act on the real VM (`spawn/2` is `Node.spawn/2`, `node_of/1` is `node/1`).

  ## Limits

    * Spawning on a node the run never named raises `ArgumentError`; on a node that is down
      it returns a pid that is dead at once (its link or monitor fires `:noconnection`), as
      on the BEAM.
    * A restarted node comes back without processes, names or tables, but persistent terms
      put on it before the stop are still there.
    * A partition is not seen by `Lockstep.Global` until the net tick time has passed: until
      then each side still counts the other as connected (where `:global` would block).
    * `whereis_on/2` and a call to `{name, node}` read the other node's registry at the step
      they run, even across a partition (the message that follows is what the partition holds
      back).
  """

  alias Lockstep.{Native, Runtime}

  @typedoc "A node of the simulated cluster."
  @type node_name :: atom()

  @typedoc "A partition's id, as `partition/3` returns it."
  @type partition_id :: pos_integer()

  @doc """
  Names nodes of the run's cluster (idempotent: a node already named keeps its state). They
  start up and connected to every other node. Returns `:ok`.
  """
  @spec start_nodes([node_name()]) :: :ok
  def start_nodes(nodes) when is_list(nodes) do
    Enum.each(nodes, &node_name!(&1, :start_nodes))
    :ok = script(:start_nodes, {:cluster, :start_nodes, nodes})
  end

  @doc """
  Every node of the run's cluster, up or down, the run's own node first. Outside a run,
  `[node() | Node.list()]`.
  """
  @spec nodes() :: [node_name()]
  def nodes do
    case Runtime.ctx() do
      nil -> [Kernel.node() | Node.list()]
      ctx -> sync!(ctx, {:cluster, :nodes, true})
    end
  end

  @doc """
  The other nodes that are up and connected to the caller's node: what `Node.list/0` answers
  there. A node on the other side of a partition stays in the list until the net tick time
  has passed, as on the BEAM. Outside a run, `Node.list/0`.
  """
  @spec nodes_up() :: [node_name()]
  def nodes_up do
    case Runtime.ctx() do
      nil -> Node.list()
      ctx -> sync!(ctx, {:cluster, :nodes, false})
    end
  end

  @doc """
  Spawns a managed process running `fun` on `node`. Outside a run, `Node.spawn/2`.
  """
  @spec spawn(node_name(), (() -> any())) :: pid()
  def spawn(node, fun) when is_function(fun, 0) do
    node_name!(node, :spawn)

    case Runtime.ctx() do
      nil -> Node.spawn(node, fun)
      ctx -> spawn!(ctx, fun, {:cluster, :spawn, node, false, nil}, node)
    end
  end

  @doc """
  Spawns a managed process running `fun` on `node`, linked to the caller. A link across nodes
  breaks with `:noconnection` when the nodes lose each other. Outside a run, `Node.spawn_link/2`.
  """
  @spec spawn_link(node_name(), (() -> any())) :: pid()
  def spawn_link(node, fun) when is_function(fun, 0) do
    node_name!(node, :spawn_link)

    case Runtime.ctx() do
      nil -> Node.spawn_link(node, fun)
      ctx -> spawn!(ctx, fun, {:cluster, :spawn, node, true, nil}, node)
    end
  end

  @doc """
  Spawns a managed process running `fun` on `node` and monitors it, atomically: `{pid, ref}`.
  Outside a run, `Node.spawn_monitor/2`.
  """
  @spec spawn_monitor(node_name(), (() -> any())) :: {pid(), reference()}
  def spawn_monitor(node, fun) when is_function(fun, 0) do
    node_name!(node, :spawn_monitor)

    case Runtime.ctx() do
      nil ->
        Node.spawn_monitor(node, fun)

      ctx ->
        ref = make_ref()
        {spawn!(ctx, fun, {:cluster, :spawn, node, false, ref}, node), ref}
    end
  end

  @doc """
  Cuts traffic between the nodes of `group_a` and those of `group_b` (a node or a list of
  nodes each) and returns the partition's id for `heal/1`.

  The third argument is the mode, `:drop` (the default: messages across are lost) or
  `:defer` (they arrive at heal, in send order), or options: `mode:` and `one_way: true`
  (only traffic from `group_a` to `group_b` is cut). Raises `ArgumentError` for a node the
  run never named, a node in both groups, or an empty group.
  """
  @spec partition(node_name() | [node_name()], node_name() | [node_name()], atom() | keyword()) ::
          partition_id()
  def partition(group_a, group_b, mode_or_opts \\ :drop) do
    a = group!(group_a)
    b = group!(group_b)
    {mode, one_way} = partition_opts!(mode_or_opts)
    script(:partition, {:cluster, :partition, a, b, mode, one_way})
  end

  @doc """
  Heals every active partition (`heal/0`) or the one with `id`. Deferred messages then travel
  on, in send order; global names taken on both sides are resolved. Returns `:ok`.
  """
  @spec heal(partition_id() | :all) :: :ok
  def heal(id \\ :all) do
    unless id == :all or (is_integer(id) and id > 0) do
      raise ArgumentError, "heal/1 takes a partition id or :all, got #{inspect(id)}"
    end

    :ok = script(:heal, {:cluster, :heal, id})
  end

  @doc """
  Stops `node`: its processes end (reason `:killed`), traffic to and from it is lost, node
  monitors elsewhere get `{:nodedown, node}`, and remote monitors and links of its processes
  fire with `:noconnection`. The run's own node cannot be stopped. Returns `:ok`.
  """
  @spec stop_node(node_name()) :: :ok
  def stop_node(node) do
    node_name!(node, :stop_node)
    :ok = script(:stop_node, {:cluster, :stop_node, node})
  end

  @doc "Brings a stopped `node` back up, empty (no processes, names, tables). Returns `:ok`."
  @spec start_node(node_name()) :: :ok
  def start_node(node) do
    node_name!(node, :start_node)
    :ok = script(:start_node, {:cluster, :start_node, node})
  end

  @doc """
  `Node.monitor/2`: with `true` the caller gets `{:nodedown, node}` when `node` stops or is cut
  off from the caller's node (after the net tick time); at once if it already is. With `false`
  the monitor is removed. Returns `true`.
  """
  @spec monitor_node(node_name(), boolean()) :: true
  def monitor_node(node, flag) when is_boolean(flag) do
    node_name!(node, :monitor_node)

    case Runtime.ctx() do
      nil -> Node.monitor(node, flag)
      ctx -> sync!(ctx, {:cluster, :monitor_node, node, flag})
    end
  end

  @doc """
  Sets the virtual `net_ticktime` in milliseconds (default 15000): how long a partition lasts
  before monitors, links and node monitors across it fire. Returns `:ok`.
  """
  @spec set_ticktime(pos_integer()) :: :ok
  def set_ticktime(ms) do
    unless is_integer(ms) and ms > 0 do
      raise ArgumentError,
            "set_ticktime/1 takes a positive number of milliseconds, got #{inspect(ms)}"
    end

    :ok = script(:set_ticktime, {:cluster, :set_ticktime, ms})
  end

  @doc """
  The node `pid` runs on. Not a step: a process never changes node. For a pid outside the
  run (or outside a run), `node/1`.
  """
  @spec node_of(pid()) :: node_name()
  def node_of(pid) when is_pid(pid) do
    with {run, _tag, _id, _runner} <- Runtime.ctx(),
         node when is_atom(node) and node != nil <- Native.run_node_of(run, pid) do
      node
    else
      _ -> Kernel.node(pid)
    end
  end

  def node_of(other), do: Kernel.node(other)

  @doc "The caller's node (`node/0` as the model answers it)."
  @spec node() :: node_name()
  def node, do: node_of(self())

  @doc """
  The process registered as `name` on `node`, or `nil`. A step (the name may be taken or
  freed between two steps). Raises `ArgumentError` when `node` is down or unknown. Outside a
  run only this node's registry can be read (`nil` for any other node).
  """
  @spec whereis_on(atom(), node_name()) :: pid() | nil
  def whereis_on(name, node) when is_atom(name) do
    case lookup(name, node) do
      {:ok, found} -> found
      {:nodedown, why} -> raise ArgumentError, why
    end
  end

  @doc false
  # For Lockstep.Gen: `{:ok, pid | nil}`, or `{:nodedown, why}` when the node is down or
  # unknown.
  def lookup(name, node) do
    node_name!(node, :whereis_on)

    case Runtime.ctx() do
      nil ->
        {:ok, if(node == Kernel.node(), do: Process.whereis(name))}

      ctx ->
        case Runtime.sync(ctx, {:cluster, :whereis_on, name, node}) do
          {:refused, why} -> {:nodedown, why}
          found -> {:ok, found}
        end
    end
  end

  # ----- helpers -----------------------------------------------------------------------------

  defp spawn!(ctx, fun, op, node) do
    case Runtime.spawn_with(ctx, fun, op) do
      pid when is_pid(pid) -> pid
      {:refused, why} -> raise ArgumentError, "could not spawn on #{inspect(node)}: #{why}"
    end
  end

  defp script(what, op) do
    case Runtime.ctx() do
      nil ->
        raise ArgumentError,
              "Lockstep.Cluster.#{what} simulates a cluster inside a Lockstep run " <>
                "(a ctest or Lockstep.run); outside one there is no simulated cluster"

      ctx ->
        sync!(ctx, op)
    end
  end

  defp sync!(ctx, op) do
    case Runtime.sync(ctx, op) do
      {:refused, why} -> raise ArgumentError, why
      reply -> reply
    end
  end

  defp node_name!(node, _what) when is_atom(node) and node not in [nil, true, false], do: node

  defp node_name!(node, what) do
    raise ArgumentError, "#{what}: a node is named by an atom, got #{inspect(node)}"
  end

  defp group!(node) when is_atom(node), do: [node_name!(node, :partition)]

  defp group!(nodes) when is_list(nodes) do
    Enum.map(nodes, &node_name!(&1, :partition))
  end

  defp group!(other) do
    raise ArgumentError,
          "partition: a group is a node or a list of nodes, got #{inspect(other)}"
  end

  defp partition_opts!(mode) when mode in [:drop, :defer], do: {mode, false}

  defp partition_opts!(opts) when is_list(opts) do
    Enum.each(opts, fn
      {:mode, m} when m in [:drop, :defer] -> :ok
      {:one_way, b} when is_boolean(b) -> :ok
      other -> raise ArgumentError, "partition: unknown or bad option #{inspect(other)}"
    end)

    {Keyword.get(opts, :mode, :drop), Keyword.get(opts, :one_way, false)}
  end

  defp partition_opts!(other) do
    raise ArgumentError,
          "partition: the mode is :drop or :defer, or options [mode:, one_way:], " <>
            "got #{inspect(other)}"
  end
end

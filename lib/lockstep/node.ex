defmodule Lockstep.Node do
  @moduledoc """
  `Node`'s process-facing functions, answered by the run's simulated cluster
  (`Lockstep.Cluster`) inside a run and by `Node` outside one. Instrumented code calling
  `Node.list/0`, `Node.self/0`, `Node.spawn/2` or `Node.monitor/2` (and `node/0`, `node/1`)
  reaches these.
  """

  alias Lockstep.Cluster

  @doc "`Node.self/0`: the caller's node."
  @spec self() :: node()
  def self, do: Cluster.node()

  @doc "`Node.alive?/0`: whether the caller's node is part of a cluster."
  @spec alive?() :: boolean()
  def alive? do
    if Lockstep.managed?(), do: length(Cluster.nodes()) > 1, else: Node.alive?()
  end

  @doc "`Node.list/0`: the other nodes up and connected to the caller's node."
  @spec list() :: [node()]
  def list, do: Cluster.nodes_up()

  @doc """
  `Node.list/1`: `:visible` and `:connected` as `list/0`, `:this` the caller's node, `:known`
  every node of the run (up or down), `:hidden` none; a list of these is the union.
  """
  @spec list(atom() | [atom()]) :: [node()]
  def list(types) do
    if Lockstep.managed?(),
      do: types |> List.wrap() |> Enum.flat_map(&of_type/1) |> Enum.uniq(),
      else: Node.list(types)
  end

  defp of_type(t) when t in [:visible, :connected], do: Cluster.nodes_up()
  defp of_type(:this), do: [Cluster.node()]
  defp of_type(:known), do: Cluster.nodes()
  defp of_type(:hidden), do: []
  defp of_type(other), do: raise(ArgumentError, "Node.list/1: unknown type #{inspect(other)}")

  @doc "`Node.monitor/2`."
  @spec monitor(node(), boolean()) :: true
  def monitor(node, flag), do: Cluster.monitor_node(node, flag)

  @doc "`Node.spawn/2`."
  @spec spawn(node(), (() -> any())) :: pid()
  def spawn(node, fun), do: Cluster.spawn(node, fun)

  @doc "`Node.spawn_link/2`."
  @spec spawn_link(node(), (() -> any())) :: pid()
  def spawn_link(node, fun), do: Cluster.spawn_link(node, fun)

  @doc "`Node.spawn_monitor/2`."
  @spec spawn_monitor(node(), (() -> any())) :: {pid(), reference()}
  def spawn_monitor(node, fun), do: Cluster.spawn_monitor(node, fun)
end

defmodule Lockstep.RunSpace do
  # The name spaces of runs for VM-wide state the engine does not keep: the table names of
  # `Lockstep.ETS`, the persistent terms of `Lockstep.PersistentTerm`. Each such state lives in
  # one public table for all runs, whose entries are keyed `{space, key}`, `space` being the
  # iteration's tag (part of the context every process of the iteration carries, new in each
  # iteration). The first entry an iteration writes asks the runner to remove all of the
  # iteration's entries once its processes are gone (`Lockstep.SharedState.on_cleanup/2`),
  # which the runner does however the iteration ended.
  #
  # The table is created the first time a run needs it, owned by a process of its own that
  # nothing links to, so that it outlives the runs (and the test) that happened to create it.
  @moduledoc false

  alias Lockstep.{Runtime, SharedState}

  @doc """
  The name space of the iteration `ctx` belongs to: its tag, or `{tag, node}` for a process on
  another node than the root's in a simulated cluster (names of tables and persistent terms
  are per node there).
  """
  @spec space(Runtime.ctx()) :: reference() | {reference(), atom()}
  def space({run, tag, _id, _runner}) do
    case node_of(run) do
      node when is_atom(node) and node != nil and node != node() -> {tag, node}
      _ -> tag
    end
  end

  # A process never changes node: ask the engine once per process and run.
  defp node_of(run) do
    case Process.get(:"$lockstep_node") do
      {^run, node} ->
        node

      _ ->
        node = Lockstep.Native.run_node_of(run, self())
        Process.put(:"$lockstep_node", {run, node})
        node
    end
  end

  @doc """
  Makes sure `table` exists and that the iteration of `ctx` has its entries removed when it
  ends. Call it before writing an entry; returns the iteration's space.
  """
  @spec open(atom(), Runtime.ctx()) :: reference() | {reference(), atom()}
  def open(table, ctx) do
    ensure(table)
    space = space(ctx)

    if :ets.insert_new(table, {{space}, :cleanup}) do
      SharedState.on_cleanup(ctx, fn -> forget(table, space) end)
    end

    space
  end

  @doc "The entry under `key` in the iteration's space: `{:ok, value}` or `:error`."
  @spec fetch(atom(), Runtime.ctx(), term()) :: {:ok, term()} | :error
  def fetch(table, ctx, key) do
    case :ets.lookup(table, {space(ctx), key}) do
      [{_, value}] -> {:ok, value}
      [] -> :error
    end
  rescue
    # No run has written an entry yet.
    ArgumentError -> :error
  end

  @doc "Every `{key, value}` entry of the iteration's space."
  @spec entries(atom(), Runtime.ctx()) :: [{term(), term()}]
  def entries(table, ctx) do
    :ets.select(table, [{{{space(ctx), :"$1"}, :"$2"}, [], [{{:"$1", :"$2"}}]}])
  rescue
    ArgumentError -> []
  end

  @doc "Removes every entry of `space` from `table`."
  @spec forget(atom(), reference() | {reference(), atom()}) :: true
  def forget(table, space) do
    :ets.match_delete(table, {{space, :_}, :_})
    :ets.delete(table, {space})
  end

  @doc "Creates the public table `table` unless it exists, owned by a process of its own."
  @spec ensure(atom()) :: :ok
  def ensure(table) do
    if :ets.whereis(table) == :undefined do
      caller = self()
      ref = make_ref()

      {_pid, monitor} =
        :erlang.spawn_monitor(fn ->
          :erlang.group_leader(:erlang.whereis(:init), self())

          created =
            try do
              :ets.new(table, [:set, :public, :named_table, read_concurrency: true])
            rescue
              # Another run created it first.
              ArgumentError -> false
            end

          send(caller, {ref, :ready})
          if created, do: Process.sleep(:infinity)
        end)

      receive do
        {^ref, :ready} -> Process.demonitor(monitor, [:flush])
        {:DOWN, ^monitor, :process, _, reason} -> exit({:lockstep_run_space, table, reason})
      end
    end

    :ok
  end
end

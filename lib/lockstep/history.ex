defmodule Lockstep.History do
  @moduledoc """
  Records what clients invoked and observed, for the history checkers.

      history = Lockstep.History.new()

      Lockstep.spawn(fn ->
        Lockstep.History.op(history, :write, 1, fn -> Register.write(reg, 1) end)
      end)

      Lockstep.History.op(history, :read, nil, fn -> Register.read(reg) end)
      # ... wait for the clients ...
      :ok = Lockstep.Checker.Linearizable.check(history, :register)

  ## Inside a run

  Each record is a sync point (a shared-state sync on the history), so the order of the records
  is the order the schedule chose, and an operation's invocation and completion are separate
  steps that other processes can run between. A client records the invocation just before it
  acts and the completion just after it has seen the result. Outside a run, records are plain
  appends.

  ## Storage

  A history is a public ETS table owned by the process that called `new/0`: any process may
  record into it, and it disappears with its owner. In a Lockstep run, create it in the test body
  (the run's root process), which ends with the iteration, so no history outlives its iteration.
  `delete/1` frees it earlier.

  ## Events

  `events/1` returns maps `%{process: p, type: t, f: f, value: v}`, oldest first, the shape the
  checkers take. `op/4` records the calling pid as the process; the checkers number
  non-integer processes in order of first appearance.

  ## Keys

  The `:kv` model checks each key as a register of its own, and its events carry the key:
  `op/5` with `key: k` (and `invoke/5`, `ok/5`, `fail/5`, `info/5`) records it, and `events/1`
  gives it as `:key`.

      Lockstep.History.op(history, :put, 5, fn -> Store.put(s, :x, 5) end, key: :x)
      Lockstep.History.op(history, :get, nil, fn -> Store.get(s, :x) end, key: :x)
      :ok = Lockstep.Checker.Linearizable.check(history, :kv)
  """

  alias Lockstep.Runtime

  @enforce_keys [:table]
  defstruct [:table]

  @type t :: %__MODULE__{table: :ets.tid()}
  @type kind :: :invoke | :ok | :fail | :info

  @doc "A new, empty history owned by the calling process."
  @spec new() :: t()
  def new do
    table = :ets.new(:lockstep_history, [:ordered_set, :public, write_concurrency: true])
    :ets.insert(table, {:seq, 0})
    %__MODULE__{table: table}
  end

  @doc "Records that `process` invoked `f` with `value`."
  @spec invoke(t(), term(), term(), term(), keyword()) :: :ok
  def invoke(history, process, f, value, opts \\ []),
    do: record(history, :invoke, process, f, value, opts)

  @doc "Records that `process`'s pending `f` completed with `value`."
  @spec ok(t(), term(), term(), term(), keyword()) :: :ok
  def ok(history, process, f, value, opts \\ []),
    do: record(history, :ok, process, f, value, opts)

  @doc "Records that `process`'s pending `f` definitely failed (see the checkers' `:fail` option)."
  @spec fail(t(), term(), term(), term(), keyword()) :: :ok
  def fail(history, process, f, value, opts \\ []),
    do: record(history, :fail, process, f, value, opts)

  @doc "Records that the outcome of `process`'s pending `f` is unknown (it may have taken effect)."
  @spec info(t(), term(), term(), term(), keyword()) :: :ok
  def info(history, process, f, value, opts \\ []),
    do: record(history, :info, process, f, value, opts)

  @doc """
  Records an invocation of `f` with `value` by the calling process, runs `fun`, and records its
  result as the `:ok` value. When `fun` raises, exits or throws, records `:info` (the effect is
  unknown) and re-raises. Returns `fun`'s result.
  """
  @spec op(t(), term(), term(), (() -> result), keyword()) :: result when result: term()
  def op(history, f, value, fun, opts \\ []) when is_function(fun, 0) do
    me = self()
    invoke(history, me, f, value, opts)

    try do
      fun.()
    catch
      kind, reason ->
        info(history, me, f, nil, opts)
        :erlang.raise(kind, reason, __STACKTRACE__)
    else
      result ->
        ok(history, me, f, result, opts)
        result
    end
  end

  @doc """
  Records a transaction by the calling process for `Lockstep.Checker.Isolation`: invokes `:txn`
  with `micro_ops` (reads as `[:r, key, nil]`), runs `fun`, and records how it ended.

  `fun` returns the completed micro-ops (reads with the values seen: `[:r, :x, [1, 2]]` for
  list-append, `[:r, :x, 3]` for rw-register), as a list or `{:ok, list}`: recorded as `:ok`.
  `{:fail, reason}` or `:abort` means the transaction definitely did not commit: recorded as
  `:fail` with `micro_ops`. When `fun` raises, exits or throws, records `:info` (it may or may
  not have committed) and re-raises. Returns `fun`'s result.

      History.txn(h, [[:r, :x, nil], [:append, :x, 3]], fn ->
        list = Store.read(store, :x)
        Store.append(store, :x, 3)
        [[:r, :x, list], [:append, :x, 3]]
      end)

  Micro-ops may also be tuples (`{:append, :x, 3}`).
  """
  @spec txn(t(), [list() | tuple()], (() -> result)) :: result when result: term()
  def txn(history, micro_ops, fun) when is_list(micro_ops) and is_function(fun, 0) do
    me = self()
    invoke(history, me, :txn, micro_ops)

    try do
      fun.()
    catch
      kind, reason ->
        info(history, me, :txn, micro_ops)
        :erlang.raise(kind, reason, __STACKTRACE__)
    else
      result ->
        case result do
          {:ok, done} when is_list(done) -> ok(history, me, :txn, done)
          done when is_list(done) -> ok(history, me, :txn, done)
          {:fail, _} -> fail(history, me, :txn, micro_ops)
          :abort -> fail(history, me, :txn, micro_ops)
          other -> bad_txn_result!(history, me, micro_ops, other)
        end

        result
    end
  end

  defp bad_txn_result!(history, me, micro_ops, other) do
    info(history, me, :txn, micro_ops)

    raise ArgumentError,
          "Lockstep.History.txn/3: the function must return the completed micro-ops (a list " <>
            "or {:ok, list}), {:fail, reason} or :abort, got: #{inspect(other)}"
  end

  @doc "The recorded events, oldest first."
  @spec events(t()) :: [%{process: term(), type: kind(), f: term(), value: term()}]
  def events(%__MODULE__{table: table}) do
    for {n, type, process, f, value, key} <- :ets.tab2list(table), is_integer(n) do
      event = %{process: process, type: type, f: f, value: value}
      if key == :none, do: event, else: Map.put(event, :key, key)
    end
  end

  @doc "Frees the history's table. The history cannot be used afterwards."
  @spec delete(t()) :: :ok
  def delete(%__MODULE__{table: table}) do
    :ets.delete(table)
    :ok
  end

  defp record(%__MODULE__{table: table}, type, process, f, value, opts) do
    key =
      case opts do
        [] -> :none
        [key: key] -> key
        other -> raise ArgumentError, "history options are key: k, got: #{inspect(other)}"
      end

    case Runtime.ctx() do
      nil -> :ok
      ctx -> Runtime.sync(ctx, {:sync, {__MODULE__, table}, true, {:history, type, f}})
    end

    n = :ets.update_counter(table, :seq, 1)
    :ets.insert(table, {n, type, process, f, value, key})
    :ok
  end
end

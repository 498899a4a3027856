defmodule Lockstep.Checker.Isolation do
  @moduledoc """
  Transactional isolation by dependency cycles, in the style of Elle (Kingsbury and Alvaro,
  "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020), with
  Adya's anomaly definitions.

  A history holds transactions: events with `f: :txn` whose values are micro-ops. Record them
  with `Lockstep.History.txn/3`, or read Jepsen EDN (`{:type :ok, :f :txn, :value [[:append :x
  1] [:r :y [1 2]]], :process 0}`). Two workloads:

    * `:list_append` - `[:append, k, v]` and `[:r, k, [v1, v2, ...]]`; appended values are
      unique per key, so a read's list shows the key's version order.
    * `:rw_register` - `[:w, k, v]` and `[:r, k, v]`; written values are unique per key and
      never `nil` (the initial state). Only part of the version order can be inferred: the
      initial state precedes every write, and a transaction that read `a` and then wrote `b`
      puts `a` before `b`.

  From these the checker infers dependencies between transactions: ww (version order), wr
  (who wrote what was read), rw (anti-dependencies: a read of one version, a write of a later
  one), process order and real-time order, and looks for cycles: G0 (ww only), G1c (ww and
  wr), G-single (exactly one rw), G2-item (two or more), each also `-process` and `-realtime`
  when it needs those orders. Found without cycles: G1a (a read of a failed transaction's
  write), G1b (a read of a value that was not its writer's last write of the key), internal
  (a transaction disagreeing with its own reads and writes), lost update (two transactions
  read the same version and both wrote the key), dirty update (a committed append after a
  failed one), duplicate elements, incompatible orders (reads that are not prefixes of each
  other) and garbage reads (values nobody wrote).

  `:info` transactions may or may not have committed: their writes count only once a
  committed read has seen them, so they are never the only evidence of an anomaly.

  ## Consistency models

  | model | forbids |
  |---|---|
  | `:read_uncommitted` | G0, internal, duplicate-elements, incompatible-order, garbage-read |
  | `:read_committed` | the above, G1a, G1b, G1c, dirty-update |
  | `:causal` | read-committed's, G0-process, G1c-process |
  | `:snapshot_isolation` | read-committed's, G-single, lost-update |
  | `:repeatable_read` | read-committed's, G-single, G2-item, lost-update |
  | `:serializable` (default) | read-committed's, G-single, G2-item, lost-update |
  | `:strict_serializable` | serializable's and every `-process` and `-realtime` cycle |

  Repeatable read is Adya's PL-2.99 (it forbids G2-item); without predicates it forbids what
  serializability does. G-single stands in for snapshot isolation's G-SI.

  ## Results

    * `:ok` - no anomaly the model forbids can be inferred. The check is sound, not
      complete: a history may hide anomalies its reads do not reveal (most of all with
      rw-register).
    * `{:error, %{anomalies: [...], text: text, counts: [{kind, n}], forbidden: [kind], ...}}`
      - anomalies the model forbids were found. `text` has a summary line, then each anomaly
      with its transactions (label `T<event>`, process, events, micro-ops) and, for cycles,
      every edge with why it holds (`T3 -wr-> T5: T3 appended 2 to :x, and T5 read :x = [1
      2]`). Anomalies the model allows are listed too, after the forbidden ones. Each anomaly
      is a map with `:type` (`:g_single`, `:g1a`, ...), `:name` (`"G-single"`), `:text`,
      `:txns` and `:steps`.
    * `{:unknown, why}` - a search budget ran out before the answer was known (never a guess).
    * `{:invalid, message}` - the history could not be read (not transactions, repeated
      values, unknown micro-ops, ...).

  ## Options

    * `:consistency_model` - see the table (default `:serializable`)
    * `:max_steps` - budget of the G-single search, in edges looked at (default `nil`: 200
      million; `:infinity` for none)
    * `:format`, `:strict` - for history texts, as in `Lockstep.Checker`
  """

  alias Lockstep.Native

  @models [
    :read_uncommitted,
    :read_committed,
    :causal,
    :snapshot_isolation,
    :repeatable_read,
    :serializable,
    :strict_serializable
  ]
  @workloads [:list_append, :rw_register]
  @defaults [consistency_model: :serializable, max_steps: nil, format: :auto, strict: false]

  @type workload :: :list_append | :rw_register
  @type result ::
          :ok | {:error, map()} | {:unknown, String.t()} | {:invalid, String.t()}

  @doc "The consistency models, weakest first."
  @spec models() :: [atom()]
  def models, do: @models

  @doc """
  Checks `history` (a `Lockstep.History`, a list of events, a history text or `{:file,
  path}`) of `workload` transactions against `opts[:consistency_model]`.
  """
  @spec check(Lockstep.Checker.history(), workload(), keyword()) :: result()
  def check(history, workload, opts \\ []) do
    o = options!(workload, opts)

    with {:ok, h} <- history(history, o) do
      Native.checker_isolation(h, workload, o)
    end
  end

  defp history({:file, path}, _o) do
    case File.read(path) do
      {:ok, text} -> {:ok, text}
      {:error, reason} -> {:invalid, "cannot read #{path}: #{:file.format_error(reason)}"}
    end
  end

  defp history(text, _o) when is_binary(text), do: {:ok, text}
  defp history(other, o), do: Lockstep.Checker.events(other, o)

  @caller "Lockstep.Checker.Isolation.check/3"

  defp options!(workload, opts) do
    unless workload in @workloads do
      raise ArgumentError,
            "#{@caller}: the workload must be :list_append or :rw_register, got: " <>
              inspect(workload)
    end

    unless Keyword.keyword?(opts) do
      raise ArgumentError, "#{@caller}: options must be a keyword list, got: #{inspect(opts)}"
    end

    Enum.each(opts, fn {key, value} ->
      unless Keyword.has_key?(@defaults, key) do
        raise ArgumentError,
              "#{@caller}: unknown option #{inspect(key)} (known: " <>
                Enum.map_join(Keyword.keys(@defaults), ", ", &inspect/1) <> ")"
      end

      unless valid?(key, value) do
        raise ArgumentError,
              "#{@caller}: option #{inspect(key)} must be #{expected(key)}, got: " <>
                inspect(value)
      end
    end)

    o = Map.new(Keyword.merge(@defaults, opts))
    %{o | consistency_model: Atom.to_string(o.consistency_model)}
  end

  defp valid?(:consistency_model, m), do: m in @models
  defp valid?(:max_steps, s), do: s in [nil, :infinity] or (is_integer(s) and s > 0)
  defp valid?(:format, f), do: f in [:auto, :edn, :json]
  defp valid?(:strict, s), do: is_boolean(s)

  defp expected(:consistency_model), do: "one of " <> Enum.map_join(@models, ", ", &inspect/1)
  defp expected(:max_steps), do: "nil, :infinity or a positive integer"
  defp expected(:format), do: ":auto, :edn or :json"
  defp expected(:strict), do: "a boolean"
end

defmodule Lockstep.Checker do
  @moduledoc """
  History checkers: is what the clients saw explainable by a sequential specification?

  Record a history (with `Lockstep.History`, or from a Jepsen-style file), then ask:

    * `Lockstep.Checker.Linearizable.check/3` - every operation took effect at one instant
      between its invocation and its completion (Herlihy & Wing).
    * `Lockstep.Checker.SequentialConsistency.check/3` - some interleaving that keeps each
      process's own order explains the history (Lamport); real time is ignored.
    * `Lockstep.Checker.Causal.check/3` - causal consistency (`:cc`, `:cm` or `:ccv`) of
      read/write histories.
    * `Lockstep.Checker.Isolation.check/3` - isolation levels of transactional histories
      (list-append, rw-register), from read uncommitted to strict serializability, by
      dependency cycles (Elle).

  The search runs in Rust on a dirty CPU scheduler, so a long check never blocks a normal
  scheduler. `mix lockstep.check` checks files from the command line.

  ## Results

    * `:ok` - the history is explained by the model.
    * `{:error, %Lockstep.Checker.Violation{}}` - it is not; `violation.text` says why, in
      prose, and `violation.failing` names the operation that could not be placed.
    * `{:unknown, why}` - a budget ran out before a verdict (never a guess).
    * `{:invalid, message}` - the history could not be read (a completion without an
      invocation, an operation the model does not know, an unsupported term, ...).

  Invalid options raise `ArgumentError` before anything is checked.

  ## Histories

  A history is one of:

    * a `Lockstep.History`;
    * a list of events, each a map `%{process: p, type: t, f: f, value: v}` (optionally with
      `:key`) or a tuple `{p, t, f, v}`, where `t` is `:invoke`, `:ok`, `:fail` or `:info`, `f` an
      atom or a string, and `p` any term (when they are not all non-negative integers, processes
      are numbered in order of first appearance);
    * a string holding a history text: Jepsen EDN op maps, a Jepsen etcd log, or JSON events;
    * `{:file, path}`.

  ## Models and their operations

  The `f` of each event names the operation; the invocation's value is its argument, the `:ok`
  completion's value its result.

  | model | operations (`f`) |
  |---|---|
  | `:register` | `:read` (`:r`, `:get`) returning the value; `:write` (`:w`, `:put`) of a value |
  | `:cas_register` | those, and `:cas` with `[expected, new]` (a `:fail` completion: it did not match) |
  | `:kv` | `:read`/`:write`/`:cas` as above, each event with a `:key` (`Lockstep.History.op/5`, `key:`) |
  | `:counter` | `:add` (`:incr`, `:increment`) by the value (default 1); `:read`; `:fetch_add` (`:get_and_add`) returning the value before, `:add_get` (`:add_and_get`, `:incr_get`, `:increment_and_get`) the value after |
  | `:set` | `:add` of an element; `:read` returning the elements (any order) |
  | `:queue` | `:enqueue` (`:enq`) of a value; `:dequeue` (`:deq`) returning it (a `:fail`: the queue was empty) |
  | `:mutex` | `:acquire` (`:lock`; a `:fail`: not acquired) and `:release` (`:unlock`) |

  Values may be `nil`, booleans, atoms, integers (64-bit), strings, lists, tuples (checked as
  lists) and maps. Floats, pids, references and funs are not supported. Values may nest at most
  100 levels deep (each list, tuple or map is a level); a deeper one is `{:invalid, message}`,
  never a crash.

  ## Options

    * `:rules` - read the history as a Jepsen-era tool does: `:knossos`, `:porcupine` or
      `:strict` (default `nil`: Lockstep's own reading, the same as `:lockstep`). A preset sets
      `:initial`, `:info`, `:fail`, `:nil_reads` and `:strict` (see "Rules presets" below);
      those options given explicitly override it
    * `:initial` - the initial value of the register, of every key (`:kv`, `:multi_register`)
      or of the counter
      (default `nil`; counters default to 0)
    * `:nil_reads` - how an `:ok` read of `nil` is read: `:value` (default; the register held
      `nil`) or `:unknown` (the value read is not known, so the read is legal in any state;
      Knossos's reading, also inside `:txn` operations)
    * `:info` - how an `:info` completion is read: `:open` (default; the operation may take
      effect at any time after its invocation, Knossos and Porcupine semantics) or `:discard`
      (it never happened; only sound if the system guarantees it)
    * `:fail` - how a `:fail` completion is read: `:observe` (default; for compare-and-set, lock
      acquisition and dequeues the failure is itself an observation, other failed operations
      are dropped) or `:discard` (every failed operation is dropped)
    * `:partition` - check independent parts (e.g. each key of a `:kv` history) separately
      (default `true`; linearizability only, results do not depend on it)
    * `:threads` - worker threads for partitions (default 1; 0 means one per core)
    * `:max_steps` - model-step budget per partition; exhausted gives `{:unknown, why}`
    * `:time_limit` - wall-clock budget in milliseconds (default 60000, one minute;
      `:infinity` for none); exhausted gives `{:unknown, why}` (for Elixir models, per round of
      questions)
    * `:max_memory` - bytes the search may hold (default 4 GiB, shared by the threads;
      `:infinity` for none); exhausted gives `{:unknown, why}`, never a crash. A search needs
      about 250 bytes per operation of a mostly sequential history (25 MB per 100,000
      operations), more where many operations overlap
    * `:diagnostics` - keep several longest partial linearizations in the explanation
    * `:html` - a file path: when the history is not linearizable, write a self-contained HTML
      timeline of the failing operations there (`violation.html_path` says where)
    * `:format` - for history texts: `:auto` (default), `:edn`, `:jepsen_log` or `:json`
    * `:strict` - for history texts: a line that is not a history event (other log output in
      a Jepsen etcd log) makes the history `{:invalid, message}` naming the line (default
      `false`: such lines are skipped, and a warning is logged with their count and the first
      one's line number)

  ## Rules presets

  Jepsen-era checkers read the same history differently. Of Knossos's 120 cas-register test
  histories, Lockstep's defaults give 110 Knossos's verdict, and only 28 once the register
  starts at 0 as in Knossos's tests; `rules: :knossos` gives 119 (the other one holds nemesis
  operations only, which is "no operations" here, never a pass).

  | option | `nil` / `:lockstep` | `:knossos` | `:porcupine` | `:strict` |
  |---|---|---|---|---|
  | `:nil_reads` | `:value` | `:unknown` | `:value` | `:value` |
  | `:fail` | `:observe` | `:discard` | `:observe` | `:observe` |
  | `:info` | `:open` | `:open` | `:open` | `:open` |
  | `:initial` | `nil` | `0` | `nil` | `nil` |
  | `:strict` | `false` | `false` | `false` | `true` |

  Knossos (`knossos.history/preprocess`) drops every failed operation, failed compare-and-sets
  included, and its models accept a read of `nil` in any state; its tests start registers at
  0. Porcupine's Jepsen harness reads `nil` as "no value" (the initial state), a failed
  compare-and-set as having seen another value, a timed-out read as observing nothing, and
  leaves `:info` operations pending to the end. `:strict` is Lockstep's reading that also
  refuses lines that are not history events.

  A history text or file with no operations at all is `{:invalid, "no operations: ..."}`, not
  `:ok`: an empty file is far more likely a mistake than a history that passes.
  """

  alias Lockstep.Checker.Violation
  alias Lockstep.Native

  require Logger

  @builtin [:register, :cas_register, :kv, :multi_register, :counter, :set, :queue, :mutex]

  @typedoc "A history, in any of the accepted shapes (see \"Histories\")."
  @type history :: Lockstep.History.t() | [map() | tuple()] | String.t() | {:file, Path.t()}

  @type result :: :ok | {:error, Violation.t()} | {:unknown, String.t()} | {:invalid, String.t()}

  @doc "The names of the built-in models."
  @spec builtin_models() :: [atom()]
  def builtin_models, do: @builtin

  @rules [:lockstep, :knossos, :porcupine, :strict]

  # Set by the `:rules` preset unless given explicitly.
  @preset_keys [:initial, :info, :fail, :nil_reads, :strict]

  @defaults [
    rules: nil,
    initial: nil,
    info: :open,
    fail: :observe,
    nil_reads: :value,
    partition: true,
    threads: 1,
    max_steps: nil,
    time_limit: 60_000,
    max_memory: 4 * 1024 * 1024 * 1024,
    diagnostics: false,
    html: nil,
    format: :auto,
    strict: false
  ]

  @doc false
  # Validates options for `caller` (a name used in messages); returns a map with every key.
  @spec options!(keyword(), String.t()) :: map()
  def options!(opts, caller) do
    Native.ensure!()

    unless Keyword.keyword?(opts) do
      raise ArgumentError, "#{caller}: options must be a keyword list, got: #{inspect(opts)}"
    end

    Enum.each(opts, fn {key, value} ->
      unless Keyword.has_key?(@defaults, key) do
        raise ArgumentError,
              "#{caller}: unknown option #{inspect(key)} (known: " <>
                Enum.map_join(Keyword.keys(@defaults), ", ", &inspect/1) <> ")"
      end

      case validate(key, value) do
        :ok -> :ok
        {:error, expected} -> bad!(caller, key, value, expected)
      end
    end)

    o =
      @defaults
      |> Keyword.merge(preset(Keyword.get(opts, :rules)))
      |> Keyword.merge(opts)
      |> Map.new()

    %{
      model: nil,
      rules: o.rules,
      initial: o.initial,
      info: o.info,
      fail: o.fail,
      nil_reads: o.nil_reads,
      partition: o.partition,
      threads: o.threads,
      max_steps: o.max_steps,
      time_limit_ms: unbounded(o.time_limit),
      max_memory: unbounded(o.max_memory),
      diagnostics: o.diagnostics,
      html: o.html != nil,
      html_path: o.html,
      format: o.format,
      strict: o.strict
    }
  end

  @doc """
  What a rules preset sets (`:info`, `:fail`, `:nil_reads`, `:initial` and `:strict`), as the
  engine defines it; see "Rules presets" above.
  """
  @spec rules(atom()) :: keyword()
  def rules(name) when name in @rules, do: preset(name)

  defp preset(nil), do: []

  defp preset(name) do
    {:ok, values} = Native.checker_rules(name)
    Enum.map(@preset_keys, &{&1, Map.fetch!(values, &1)})
  end

  defp validate(:rules, v) when is_nil(v) or v in @rules, do: :ok

  defp validate(:rules, _),
    do: {:error, "nil, " <> Enum.map_join(@rules, ", ", &inspect/1)}

  defp validate(:nil_reads, v) when v in [:value, :unknown], do: :ok
  defp validate(:nil_reads, _), do: {:error, ":value or :unknown"}
  defp validate(:info, v) when v in [:open, :discard], do: :ok
  defp validate(:info, _), do: {:error, ":open or :discard"}
  defp validate(:fail, v) when v in [:observe, :discard], do: :ok
  defp validate(:fail, _), do: {:error, ":observe or :discard"}

  defp validate(key, v) when key in [:partition, :diagnostics, :strict] and is_boolean(v),
    do: :ok

  defp validate(key, _) when key in [:partition, :diagnostics, :strict],
    do: {:error, "a boolean"}

  defp validate(:threads, v) when is_integer(v) and v >= 0, do: :ok
  defp validate(:threads, _), do: {:error, "a non-negative integer"}

  defp validate(:max_steps, v) when is_nil(v) or (is_integer(v) and v > 0), do: :ok
  defp validate(:max_steps, _), do: {:error, "nil or a positive integer"}

  defp validate(key, v)
       when key in [:time_limit, :max_memory] and
              (v in [nil, :infinity] or (is_integer(v) and v > 0)),
       do: :ok

  defp validate(key, _) when key in [:time_limit, :max_memory],
    do: {:error, ":infinity or a positive integer"}

  defp validate(:html, v) when is_nil(v) or is_binary(v), do: :ok
  defp validate(:html, _), do: {:error, "nil or a file path (a string)"}
  defp validate(:format, v) when v in [:auto, :edn, :jepsen_log, :json], do: :ok
  defp validate(:format, _), do: {:error, ":auto, :edn, :jepsen_log or :json"}

  defp validate(:initial, v) do
    if representable?(v),
      do: :ok,
      else: {:error, "nil, a boolean, atom, integer, string, list, tuple or map"}
  end

  defp unbounded(:infinity), do: nil
  defp unbounded(v), do: v

  defp bad!(caller, key, value, expected) do
    raise ArgumentError,
          "#{caller}: option #{inspect(key)} must be #{expected}, got: #{inspect(value)}"
  end

  @doc false
  # The model argument: `{:builtin, name}` or `{:module, module}`; raises on anything else.
  @spec model!(atom(), String.t()) :: {:builtin, String.t()} | {:module, module()}
  def model!(model, _caller) when model in @builtin, do: {:builtin, Atom.to_string(model)}

  def model!(model, caller) when is_atom(model) do
    if Code.ensure_loaded?(model) and function_exported?(model, :init, 0) and
         function_exported?(model, :step, 3) do
      {:module, model}
    else
      raise ArgumentError,
            "#{caller}: model must be one of #{Enum.map_join(@builtin, ", ", &inspect/1)} " <>
              "or a module implementing Lockstep.Model (init/0 and step/3), got: #{inspect(model)}"
    end
  end

  def model!(model, caller) do
    raise ArgumentError,
          "#{caller}: model must be a built-in model name or a Lockstep.Model module, got: " <>
            inspect(model)
  end

  @doc false
  # Turns any accepted history into event maps for the NIFs, or `{:invalid, message}`.
  @spec events(history(), map()) :: {:ok, [map()]} | {:invalid, String.t()}
  def events(%Lockstep.History{} = history, _o),
    do: {:ok, number(Lockstep.History.events(history))}

  def events({:file, path}, o) do
    case File.read(path) do
      {:ok, text} ->
        case parse(text, o, path) do
          {:invalid, message} -> {:invalid, "#{path}: #{message}"}
          ok -> ok
        end

      {:error, reason} ->
        {:invalid, "cannot read #{path}: #{:file.format_error(reason)}"}
    end
  end

  def events(text, o) when is_binary(text), do: parse(text, o, "the history text")

  def events(list, _o) when is_list(list) do
    list
    |> Enum.with_index(1)
    |> Enum.reduce_while([], fn {event, i}, acc ->
      case event(event) do
        {:ok, e} ->
          {:cont, [e | acc]}

        :error ->
          {:halt,
           {:invalid,
            "event #{i}: expected %{process:, type:, f:, value:} " <>
              "or {process, type, f, value}, got: #{inspect(event)}"}}
      end
    end)
    |> case do
      {:invalid, _} = invalid -> invalid
      events -> {:ok, events |> Enum.reverse() |> number()}
    end
  end

  def events(other, _o) do
    {:invalid,
     "a history must be a Lockstep.History, a list of events, a history text or " <>
       "{:file, path}, got: #{inspect(other)}"}
  end

  defp parse(text, o, what) do
    case Native.checker_parse(text, o.format, o.strict) do
      {:ok, events, nil} ->
        {:ok, events}

      {:ok, events, {count, first}} ->
        Logger.warning(
          "Lockstep.Checker: #{what}: #{skipped_text(count, first)} " <>
            "(strict: true refuses them)"
        )

        {:ok, events}

      {:error, message} ->
        {:invalid, message}
    end
  end

  @doc false
  # How the lines skipped in a history text are reported (as the engine words it).
  @spec skipped_text(pos_integer(), pos_integer()) :: String.t()
  def skipped_text(1, first),
    do: "skipped 1 line that is not a history event, first at line #{first}"

  def skipped_text(count, first),
    do: "skipped #{count} lines that are not history events, first at line #{first}"

  defp event(%{process: _, type: _, f: _} = e), do: {:ok, Map.put_new(e, :value, nil)}
  defp event({p, t, f, v}), do: {:ok, %{process: p, type: t, f: f, value: v}}
  defp event(_), do: :error

  # Processes that are not all non-negative integers are numbered by first appearance.
  defp number(events) do
    if Enum.all?(events, &(is_integer(&1.process) and &1.process >= 0)) do
      events
    else
      {numbered, _} =
        Enum.map_reduce(events, %{}, fn e, ids ->
          ids = Map.put_new(ids, e.process, map_size(ids))
          {%{e | process: Map.fetch!(ids, e.process)}, ids}
        end)

      numbered
    end
  end

  @doc false
  # Converts a NIF result: explanation maps become Violation structs, HTML is written out.
  @spec result(term(), map()) :: result()
  def result({:error, %{text: _} = exp}, o) do
    violation = struct(Violation, Map.take(exp, [:text, :partition, :failing, :total_ops]))

    case {o.html_path, exp} do
      {path, %{html: html}} when is_binary(path) ->
        File.mkdir_p!(Path.dirname(path))
        File.write!(path, html)
        {:error, %{violation | html_path: path}}

      _ ->
        {:error, violation}
    end
  end

  def result(other, _o), do: other

  @doc false
  # Runs the check in `mode` (:linearizable | :sequential) with a built-in or Elixir model.
  @spec run(history(), atom(), keyword(), atom(), String.t()) :: result()
  def run(history, model, opts, mode, caller) do
    which = model!(model, caller)
    o = options!(opts, caller)

    with {:ok, events} <- events(history, o) do
      case which do
        {:builtin, name} ->
          o = %{o | model: name}

          result =
            case mode do
              :linearizable -> Native.checker_linearizable(events, o)
              :sequential -> Native.checker_sequential(events, o)
            end

          result(result, o)

        {:module, module} ->
          Lockstep.Checker.External.check(module, events, %{o | html: false}, mode)
      end
    end
  end

  @doc false
  @spec representable?(term()) :: boolean()
  def representable?(v) when is_atom(v) or is_binary(v), do: true

  def representable?(v) when is_integer(v),
    do: v >= -0x8000000000000000 and v <= 0x7FFFFFFFFFFFFFFF

  def representable?(v) when is_list(v), do: Enum.all?(v, &representable?/1)
  def representable?(v) when is_tuple(v), do: v |> Tuple.to_list() |> representable?()

  def representable?(v) when is_map(v),
    do: Enum.all?(v, fn {k, x} -> representable?(k) and representable?(x) end)

  def representable?(_), do: false
end

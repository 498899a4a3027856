defmodule Lockstep.Options do
  # One schema for every entry point (ctest, Runner.run); validated up front so a typo fails
  # before any iteration runs, with the key and the accepted values in the message.
  @moduledoc false

  # Each strategy and the options it takes, with their defaults and what they accept.
  @strategies %{
    random: [],
    pct: [depth: {3, "a positive integer", :pos_integer}],
    fair_pct: [
      depth: {3, "a positive integer", :pos_integer},
      prefix: {nil, "a positive integer (steps of PCT before the random walk)", :pos_integer}
    ],
    pos: [],
    idpct: [depth: {1..5, "a range a..b of integers with 1 <= a <= b", :depth_range}],
    exhaustive: [
      max_schedules: {100_000, "a positive integer or :infinity", :budget},
      reduction: {true, "a boolean", :boolean},
      observers: {true, "a boolean", :boolean}
    ]
  }

  # The sampling strategies (each iteration's schedule drawn from its seed)...
  @strategy_names [:pct, :fair_pct, :pos, :idpct, :random]
  # ... and the ones that explore: every behaviour once (Lockstep.Runner.Exhaustive).
  @exploring [:exhaustive]

  @strategy_forms ":pct, {:pct, depth: d}, :random, :fair_pct, " <>
                    "{:fair_pct, depth: d, prefix: n}, :pos, :idpct, {:idpct, depth: a..b}, " <>
                    ":exhaustive or {:exhaustive, max_schedules: n, reduction: false, observers: false}"

  @schema [
    iterations: {100, "a positive integer", :pos_integer},
    strategy: {:pos, "one of " <> @strategy_forms, :strategy},
    seed: {nil, "a non-negative integer", :non_neg_integer},
    max_steps: {1000, "a positive integer", :pos_integer},
    step_limit: {:fail, ":fail or :stop", {:in, [:fail, :stop]}},
    allow_crashes: {false, "a boolean", :boolean},
    fail_on_blocked: {false, "a boolean", :boolean},
    fail_on_abnormal_exit: {false, "a boolean", :boolean},
    timers: {:idle, ":idle or :race", {:in, [:idle, :race]}},
    settle: {5_000, "a non-negative integer (virtual milliseconds) or :infinity", :settle},
    time_per_step: {0, "a non-negative integer (virtual milliseconds)", :non_neg_integer},
    clock_start: {
      1_767_225_600_000,
      "a non-negative integer (ms since the Unix epoch) or a DateTime",
      :clock_start
    },
    # Shorter than GenServer.call's default timeout (5000 ms), so that a process stuck in a
    # plain call is reported, with its stack, before the call times out.
    watchdog: {2_000, "a positive integer (milliseconds)", :pos_integer},
    escapes: {:fail, ":fail or :warn", {:in, [:fail, :warn]}},
    # The simulated cluster (Lockstep.Cluster): the root's node, and faults the strategy may
    # inject on its own.
    node: {nil, "an atom (the run's own node name)", :node},
    faults: {[], "a keyword list [partitions: n, crashes: n] of non-negative integers", :faults},
    max_run_time: {30_000, "a positive integer (milliseconds) or :infinity", :budget},
    trace_dir: {nil, "a path (string)", :string},
    keep_failures: {100, "a positive integer or :infinity", :budget},
    # For `ctest`: replay this schedule file as a regression test instead of hunting.
    regression: {nil, "a schedule file's path (string)", :string},
    verbose: {false, "a boolean", :boolean},
    progress: {:auto, ":auto, true or false", {:in, [:auto, true, false]}},
    report: {:story, ":story or :full", {:in, [:story, :full]}},
    shrink: {true, "a boolean", :boolean},
    shrink_time: {5_000, "a positive integer (milliseconds)", :pos_integer},
    workers: {1, "a positive integer (at most 256) or :schedulers", :workers},
    # Spread the iterations over BEAM nodes: k local peers (`:peer`) or existing node names.
    nodes: {nil, "a positive integer (at most 64) or a non-empty list of node names", :nodes},
    # Set by `ctest`: where the test lives, for the report's reproduce line.
    test: {nil, "a map", :map}
  ]

  @keys Keyword.keys(@schema)

  # The options that shape what a run does, kept in a schedule file so a replay runs the same.
  @run_settings [
    :max_steps,
    :allow_crashes,
    :fail_on_blocked,
    :step_limit,
    :fail_on_abnormal_exit,
    :timers,
    :settle,
    :time_per_step,
    :clock_start,
    :faults,
    :node
  ]

  @doc "The options a schedule file records and a replay restores."
  def run_settings, do: @run_settings

  @doc """
  The engine's run options for validated settings (a map holding `run_settings/0`).
  """
  @spec engine_settings(map()) :: map()
  def engine_settings(cfg) do
    %{
      max_steps: cfg.max_steps,
      allow_crashes: cfg.allow_crashes,
      fail_on_blocked: cfg.fail_on_blocked,
      fail_on_abnormal_exit: cfg.fail_on_abnormal_exit,
      race_timers: cfg.timers == :race,
      settle: cfg.settle,
      time_per_step: cfg.time_per_step,
      epoch: clock_ms(cfg.clock_start),
      faults: Map.new(cfg.faults),
      node: cfg.node
    }
  end

  @doc "A `:clock_start` value in milliseconds since the Unix epoch."
  def clock_ms(%DateTime{} = at), do: DateTime.to_unix(at, :millisecond)
  def clock_ms(ms) when is_integer(ms), do: ms

  @doc "How many iterations a validated `:workers` value runs at once."
  @spec workers(pos_integer() | :schedulers) :: pos_integer()
  def workers(:schedulers), do: System.schedulers_online()
  def workers(n) when is_integer(n), do: n

  @doc "The strategy used when none is given."
  def default_strategy, do: @schema[:strategy] |> elem(0)

  @doc "The accepted option names."
  def keys, do: @keys

  @doc """
  The sampling strategies the `:strategy` option accepts on their own (without options); the
  exploring ones (`exploring?/1`) are left out: a hunt of N iterations means nothing to them.
  """
  @spec strategies() :: [atom()]
  def strategies, do: @strategy_names

  @doc "Whether a validated `:strategy` value explores every behaviour instead of sampling."
  @spec exploring?(atom() | {atom(), keyword()}) :: boolean()
  def exploring?({name, _}), do: name in @exploring
  def exploring?(name), do: name in @exploring

  @doc """
  Validates `opts` (a keyword list) and returns a map with every key, defaults filled in.
  Raises `ArgumentError` naming the offending key and what it accepts.
  """
  @spec validate!(keyword(), String.t()) :: map()
  def validate!(opts, where \\ "Lockstep") do
    unless Keyword.keyword?(opts) do
      raise ArgumentError, "#{where} options must be a keyword list, got: #{inspect(opts)}"
    end

    Enum.each(opts, fn {key, value} ->
      case Keyword.fetch(@schema, key) do
        :error ->
          raise ArgumentError,
                "unknown #{where} option #{inspect(key)}; accepted options: " <>
                  Enum.map_join(@keys, ", ", &inspect/1)

        {:ok, {_default, expected, valid?}} ->
          unless (value == nil and key in [:seed, :trace_dir, :test, :node]) or
                   valid?(valid?, value) do
            raise ArgumentError,
                  "invalid value for #{where} option #{inspect(key)}: expected #{expected}, " <>
                    "got: #{inspect(value)}"
          end

          if key == :strategy, do: check_strategy_options!(value, where)
      end
    end)

    Map.new(@schema, fn {key, {default, _, _}} -> {key, Keyword.get(opts, key, default)} end)
  end

  @doc """
  The engine's run options for a validated `:strategy` value: a map with the `strategy` name
  and its parameters (`depth`; `depth` and `prefix`; `depth_min` and `depth_max`), to merge into
  the options of `Lockstep.Native.run_new/4`.
  """
  @spec engine_strategy(atom() | {atom(), keyword()}) :: map()
  def engine_strategy(name) when is_atom(name), do: engine_strategy({name, []})

  def engine_strategy({name, opts}) do
    params =
      Map.new(@strategies[name], fn {key, {default, _, _}} ->
        {key, Keyword.get(opts, key, default)}
      end)

    case {name, params} do
      {:idpct, %{depth: first..last//_}} -> %{strategy: :idpct, depth_min: first, depth_max: last}
      {:fair_pct, %{prefix: nil}} -> %{strategy: :fair_pct, depth: params.depth}
      _ -> Map.put(params, :strategy, name)
    end
  end

  # The strategy's own options, checked one by one so the message names the offending key.
  defp check_strategy_options!(name, _where) when is_atom(name), do: :ok

  defp check_strategy_options!({name, opts} = value, where) do
    accepted = @strategies[name]

    Enum.each(opts, fn {key, v} ->
      case Keyword.fetch(accepted, key) do
        :error ->
          raise ArgumentError,
                "unknown #{inspect(key)} in #{where} option :strategy #{inspect(value)}; " <>
                  "#{inspect(name)} accepts " <> accepted_keys(accepted)

        {:ok, {_default, expected, valid?}} ->
          unless valid?(valid?, v) do
            raise ArgumentError,
                  "invalid #{inspect(key)} in #{where} option :strategy #{inspect(value)}: " <>
                    "expected #{expected}, got: #{inspect(v)}"
          end
      end
    end)
  end

  defp accepted_keys([]), do: "no options"
  defp accepted_keys(accepted), do: Enum.map_join(Keyword.keys(accepted), ", ", &inspect/1)

  defp valid?(:pos_integer, v), do: is_integer(v) and v > 0
  defp valid?(:non_neg_integer, v), do: is_integer(v) and v >= 0
  defp valid?(:boolean, v), do: is_boolean(v)
  defp valid?(:string, v), do: is_binary(v)
  defp valid?(:map, v), do: is_map(v)
  defp valid?({:in, values}, v), do: v in values
  defp valid?(:budget, v), do: v == :infinity or valid?(:pos_integer, v)
  defp valid?(:settle, v), do: v == :infinity or valid?(:non_neg_integer, v)
  defp valid?(:clock_start, %DateTime{} = at), do: DateTime.to_unix(at, :millisecond) >= 0
  defp valid?(:clock_start, v), do: valid?(:non_neg_integer, v)
  defp valid?(:depth_range, first..last//step), do: step == 1 and first >= 1 and first <= last
  defp valid?(:depth_range, _), do: false
  defp valid?(:node, v), do: is_atom(v) and v not in [true, false]

  defp valid?(:faults, v) do
    Keyword.keyword?(v) and
      Enum.all?(v, fn {k, n} -> k in [:partitions, :crashes] and is_integer(n) and n >= 0 end)
  end

  # The shape only; check_strategy_options!/2 then checks each of the strategy's options.
  defp valid?(:strategy, name) when name in @strategy_names or name in @exploring, do: true

  defp valid?(:strategy, {name, opts})
       when (name in @strategy_names or name in @exploring) and is_list(opts),
       do: Keyword.keyword?(opts)

  defp valid?(:strategy, _), do: false
  defp valid?(:nodes, nil), do: true
  defp valid?(:nodes, k) when is_integer(k), do: k >= 1 and k <= 64

  defp valid?(:nodes, [_ | _] = names),
    do: Enum.all?(names, &(is_atom(&1) and &1 not in [nil, true, false]))

  defp valid?(:nodes, _), do: false
  defp valid?(:workers, :schedulers), do: true
  defp valid?(:workers, n), do: is_integer(n) and n >= 1 and n <= 256
end

defmodule Lockstep.Options do
  # One schema for every entry point (ctest, Runner.run); validated up front so a typo fails
  # before any iteration runs, with the key and the accepted values in the message.
  @moduledoc false

  @strategies [:pct, :random]

  @schema [
    iterations: {100, "a positive integer", :pos_integer},
    strategy: {:pct, "one of :pct, {:pct, depth: d} or :random", :strategy},
    seed: {nil, "a non-negative integer", :non_neg_integer},
    max_steps: {1000, "a positive integer", :pos_integer},
    step_limit: {:fail, ":fail or :stop", {:in, [:fail, :stop]}},
    allow_crashes: {false, "a boolean", :boolean},
    fail_on_blocked: {false, "a boolean", :boolean},
    watchdog: {5_000, "a positive integer (milliseconds)", :pos_integer},
    max_run_time: {30_000, "a positive integer (milliseconds) or :infinity", :budget},
    trace_dir: {nil, "a path (string)", :string},
    verbose: {false, "a boolean", :boolean},
    shrink: {true, "a boolean", :boolean},
    shrink_time: {5_000, "a positive integer (milliseconds)", :pos_integer},
    # Set by `ctest`: where the test lives, for the report's reproduce line.
    test: {nil, "a map", :map}
  ]

  @keys Keyword.keys(@schema)

  @doc "The accepted option names."
  def keys, do: @keys

  @doc "The strategy names the `:strategy` option accepts on their own (without options)."
  def strategies, do: @strategies

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
          unless (value == nil and key in [:seed, :trace_dir, :test]) or valid?(valid?, value) do
            raise ArgumentError,
                  "invalid value for #{where} option #{inspect(key)}: expected #{expected}, " <>
                    "got: #{inspect(value)}"
          end
      end
    end)

    Map.new(@schema, fn {key, {default, _, _}} -> {key, Keyword.get(opts, key, default)} end)
  end

  @doc "Splits a strategy option into the engine's name and PCT depth."
  def strategy_parts(:pct), do: {:pct, 3}
  def strategy_parts({:pct, opts}), do: {:pct, Keyword.get(opts, :depth, 3)}
  def strategy_parts(name) when is_atom(name), do: {name, 3}

  defp valid?(:pos_integer, v), do: is_integer(v) and v > 0
  defp valid?(:non_neg_integer, v), do: is_integer(v) and v >= 0
  defp valid?(:boolean, v), do: is_boolean(v)
  defp valid?(:string, v), do: is_binary(v)
  defp valid?(:map, v), do: is_map(v)
  defp valid?({:in, values}, v), do: v in values
  defp valid?(:budget, v), do: v == :infinity or valid?(:pos_integer, v)
  defp valid?(:strategy, s) when s in @strategies, do: true

  defp valid?(:strategy, {:pct, opts}) when is_list(opts) do
    Keyword.keyword?(opts) and Keyword.keys(opts) -- [:depth] == [] and
      valid?(:pos_integer, Keyword.get(opts, :depth, 3))
  end

  defp valid?(:strategy, _), do: false
end

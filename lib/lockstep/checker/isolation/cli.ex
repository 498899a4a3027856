defmodule Lockstep.Checker.Isolation.CLI do
  @moduledoc false
  # `mix lockstep.check PATH... --isolation WORKLOAD [--consistency-model MODEL]`: isolation
  # checks of transactional history files (see Mix.Tasks.Lockstep.Check).

  alias Lockstep.Checker.Isolation

  @switches [
    isolation: :string,
    consistency_model: :string,
    max_steps: :integer,
    verbose: :boolean,
    strict: :boolean
  ]

  @doc "Whether the arguments ask for an isolation check."
  @spec wanted?([String.t()]) :: boolean()
  def wanted?(args),
    do: Enum.any?(args, &(&1 == "--isolation" or String.starts_with?(&1, "--isolation=")))

  @doc "Runs the checks and returns the exit status: 0 all valid, 1 any not, 2 unknown or errors."
  @spec main([String.t()]) :: 0 | 1 | 2
  def main(args) do
    with {:ok, paths, opts} <- parse(args),
         {:ok, workload} <- workload(opts[:isolation]),
         {:ok, model} <- model(opts[:consistency_model]),
         {:ok, files} <- files(paths) do
      check_opts =
        [consistency_model: model, strict: Keyword.get(opts, :strict, false)] ++
          case opts[:max_steps] do
            nil -> []
            0 -> [max_steps: :infinity]
            n -> [max_steps: n]
          end

      files
      |> Enum.map(fn
        {:missing, path, why} -> {path, {:invalid, why}}
        path -> {path, check(path, workload, check_opts)}
      end)
      |> report(model, opts)
    else
      {:error, message} -> Mix.Tasks.Lockstep.Check.usage_error(message)
    end
  end

  defp check(path, workload, opts) do
    Isolation.check({:file, path}, workload, opts)
  rescue
    e in ArgumentError -> {:invalid, Exception.message(e)}
  end

  defp parse(args) do
    case OptionParser.parse(args, strict: @switches) do
      {_, _, [{switch, _} | _]} -> {:error, "bad or unknown option #{switch} (with --isolation)"}
      {_, [], _} -> {:error, "give at least one history file or directory"}
      {opts, paths, []} -> {:ok, paths, opts}
    end
  end

  defp workload("list-append"), do: {:ok, :list_append}
  defp workload("list_append"), do: {:ok, :list_append}
  defp workload("rw-register"), do: {:ok, :rw_register}
  defp workload("rw_register"), do: {:ok, :rw_register}

  defp workload(other),
    do: {:error, "--isolation must be list-append or rw-register, got #{inspect(other)}"}

  defp model(nil), do: {:ok, :serializable}

  defp model(name) do
    known = Isolation.models()

    case Enum.find(known, &(Atom.to_string(&1) == String.replace(name, "-", "_"))) do
      nil ->
        {:error,
         "unknown consistency model #{inspect(name)} (known: " <>
           Enum.map_join(known, ", ", &dashed/1) <> ")"}

      m ->
        {:ok, m}
    end
  end

  defp dashed(model), do: model |> Atom.to_string() |> String.replace("_", "-")

  # Directories give their regular, non-hidden files in name order (not recursive).
  defp files(paths) do
    {:ok,
     Enum.flat_map(paths, fn p ->
       cond do
         File.dir?(p) ->
           p
           |> File.ls!()
           |> Enum.reject(&String.starts_with?(&1, "."))
           |> Enum.sort()
           |> Enum.map(&Path.join(p, &1))
           |> Enum.filter(&File.regular?/1)

         File.exists?(p) ->
           [p]

         true ->
           [{:missing, p, "cannot read #{p}: no such file or directory"}]
       end
     end)}
  end

  defp report(results, model, opts) do
    name = dashed(model)

    codes =
      for {path, result} <- results do
        {line, code} = line(result, name)
        Mix.shell().info("#{path}: #{line}")

        case {result, opts[:verbose]} do
          {{:error, %{text: text}}, true} -> Mix.shell().info(text)
          _ -> :ok
        end

        code
      end

    counts = Enum.frequencies(codes)

    Mix.shell().info(
      "#{length(results)} histories: #{Map.get(counts, :ok, 0)} #{name}, " <>
        "#{Map.get(counts, :violation, 0)} not #{name}, #{Map.get(counts, :unknown, 0)} unknown, " <>
        "#{Map.get(counts, :invalid, 0)} errors"
    )

    cond do
      Map.has_key?(counts, :unknown) or Map.has_key?(counts, :invalid) or results == [] -> 2
      Map.has_key?(counts, :violation) -> 1
      true -> 0
    end
  end

  defp line(:ok, name), do: {name, :ok}

  defp line({:error, %{text: text}}, _name),
    do: {text |> String.split("\n", parts: 2) |> hd(), :violation}

  defp line({:unknown, why}, _name), do: {"unknown (#{why})", :unknown}
  defp line({:invalid, message}, _name), do: {"error: #{message}", :invalid}
end

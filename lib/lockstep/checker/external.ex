defmodule Lockstep.Checker.External do
  # Drives a check with a `Lockstep.Model` written in Elixir: the Rust search runs with a memo
  # table of model steps, stops with the questions it could not answer, and this module answers
  # them with the model's step/3 and runs the search again, until a round asks nothing new.
  #
  # Terms cross into Rust as checker values, where tuples become lists. So that the model sees
  # the terms it produced and the history recorded, each value and state is remembered under its
  # converted form and mapped back when a question comes out.
  @moduledoc false

  alias Lockstep.{Checker, Native}

  @spec check(module(), [map()], map(), :linearizable | :sequential) :: Checker.result()
  def check(module, events, o, mode) do
    initial = module.init()

    unless Checker.representable?(initial) do
      raise ArgumentError,
            "#{inspect(module)}.init/0 returned #{inspect(initial)}, which is not a supported " <>
              "state (see Lockstep.Model, \"States\")"
    end

    terms =
      Enum.reduce(events, %{}, fn e, acc ->
        acc
        |> remember(e.value)
        |> remember(Map.get(e, :key))
        |> Map.put({:f, to_string(e.f)}, e.f)
      end)
      |> remember(initial)

    case Native.checker_external_new(events, o, initial) do
      {:ok, ref} -> rounds(module, ref, mode, terms)
      {:error, message} -> {:invalid, message}
    end
  end

  defp rounds(module, ref, mode, terms) do
    case Native.checker_external_run(ref, mode) do
      {:done, result} ->
        Checker.result(result, %{html_path: nil})

      {:questions, questions} ->
        {answers, terms} = Enum.map_reduce(questions, terms, &answer(module, &1, &2))

        case Native.checker_external_answer(ref, answers) do
          :ok -> rounds(module, ref, mode, terms)
          {:error, message} -> raise ArgumentError, "#{inspect(module)}.step/3: #{message}"
        end
    end
  end

  defp answer(module, {state, input, output}, terms) do
    state = back(terms, state)
    input = input(terms, input)
    output = output(terms, output)

    case module.step(state, input, output) do
      {:ok, next} ->
        unless Checker.representable?(next) do
          raise ArgumentError,
                "#{inspect(module)}.step/3 returned the state #{inspect(next)}, which is not " <>
                  "supported (see Lockstep.Model, \"States\")"
        end

        {{:ok, next}, remember(terms, next)}

      :error ->
        {:error, terms}

      other ->
        raise ArgumentError,
              "#{inspect(module)}.step(#{inspect(state)}, #{inspect(input)}, #{inspect(output)}) " <>
                "must return {:ok, next_state} or :error, got: #{inspect(other)}"
    end
  end

  defp input(terms, {f, value}), do: {Map.get(terms, {:f, f}, f), back(terms, value)}

  defp input(terms, {f, key, value}),
    do: {Map.get(terms, {:f, f}, f), back(terms, key), back(terms, value)}

  defp output(terms, {tag, value}), do: {tag, back(terms, value)}
  defp output(_terms, :unknown), do: :unknown

  defp remember(terms, term), do: Map.put_new(terms, {:v, converted(term)}, term)

  defp back(terms, value), do: Map.get(terms, {:v, value}, value)

  # The term as it comes back from Rust: tuples become lists.
  defp converted(t) when is_tuple(t), do: t |> Tuple.to_list() |> converted()
  defp converted(t) when is_list(t), do: Enum.map(t, &converted/1)
  defp converted(t) when is_map(t), do: Map.new(t, fn {k, v} -> {converted(k), converted(v)} end)
  defp converted(t), do: t
end

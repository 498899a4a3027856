defmodule Lockstep.Generator do
  @moduledoc """
  Seeded, immutable generators of operations for clients of a concurrency test.

  A generator describes a sequence; nothing random happens until it is realised with a seed, and
  the same seed always gives the same sequence. Generators are plain values: combine them freely
  and hand one to several processes.

      alias Lockstep.Generator, as: G

      ops =
        G.mix([
          G.random(for v <- 1..3, do: {:write, v}),
          G.cycle([{:read, nil}])
        ])
        |> G.take(6)

      G.to_list(ops, 42)
      #=> e.g. [{:read, nil}, {:write, 2}, {:read, nil}, {:write, 3}, {:write, 1}, {:read, nil}]

      G.each(ops, [:p1, :p2], 42)
      #=> %{p1: [...6 ops...], p2: [...6 ops...]}, each process with its own stream

  Inside a Lockstep run, derive the seed from the run (for example from a value the test
  body received) rather than from the clock, so a failing schedule replays with the same
  operations.
  """

  @enforce_keys [:next]
  defstruct [:next]

  @typedoc "A generator of terms."
  @opaque t :: %__MODULE__{next: (:rand.state() -> {:value, term(), :rand.state(), t()} | :done)}

  @doc "Uniformly random elements of the non-empty `enumerable`, forever."
  @spec random(Enumerable.t()) :: t()
  def random(enumerable) do
    items = nonempty!(enumerable, "random/1")
    tuple = List.to_tuple(items)
    size = tuple_size(tuple)
    forever(fn rand -> pick(tuple, size, rand) end)
  end

  @doc "The elements of the non-empty `enumerable` in order, starting again at the end, forever."
  @spec cycle(Enumerable.t()) :: t()
  def cycle(enumerable), do: cycle_from(nonempty!(enumerable, "cycle/1"), [])

  defp cycle_from(all, []), do: cycle_from(all, all)

  defp cycle_from(all, [x | rest]) do
    %__MODULE__{next: fn rand -> {:value, x, rand, cycle_from(all, rest)} end}
  end

  @doc """
  Random elements chosen in proportion to their weights, forever: `weighted([{3, :read},
  {1, :write}])` gives `:read` about three times out of four. Weights are positive integers.
  """
  @spec weighted([{pos_integer(), term()}]) :: t()
  def weighted(pairs) do
    unless pairs != [] and Enum.all?(pairs, &match?({w, _} when is_integer(w) and w > 0, &1)) do
      raise ArgumentError,
            "weighted/1 expects a non-empty list of {positive_integer_weight, element}, " <>
              "got: #{inspect(pairs)}"
    end

    total = pairs |> Enum.map(&elem(&1, 0)) |> Enum.sum()

    forever(fn rand ->
      {n, rand} = :rand.uniform_s(total, rand)
      {choose(pairs, n), rand}
    end)
  end

  @doc """
  Interleaves generators: each element comes from one of `generators` picked at random among
  those not yet exhausted. Ends when all are.
  """
  @spec mix([t()]) :: t()
  def mix(generators) do
    Enum.each(generators, &generator!(&1, "mix/1"))

    %__MODULE__{
      next: fn rand -> mix_next(List.to_tuple(generators), rand) end
    }
  end

  defp mix_next({}, _rand), do: :done

  defp mix_next(gens, rand) do
    {i, rand} = :rand.uniform_s(tuple_size(gens), rand)
    gen = elem(gens, i - 1)

    case gen.next.(rand) do
      {:value, v, rand, gen} ->
        rest = put_elem(gens, i - 1, gen)
        {:value, v, rand, %__MODULE__{next: &mix_next(rest, &1)}}

      :done ->
        mix_next(Tuple.delete_at(gens, i - 1), rand)
    end
  end

  @doc "The first `n` elements of `generator` (fewer if it ends sooner)."
  @spec take(t(), non_neg_integer()) :: t()
  def take(generator, n) when is_integer(n) and n >= 0 do
    generator!(generator, "take/2")
    take_next(generator, n)
  end

  defp take_next(_gen, 0), do: %__MODULE__{next: fn _ -> :done end}

  defp take_next(gen, n) do
    %__MODULE__{
      next: fn rand ->
        case gen.next.(rand) do
          {:value, v, rand, gen} -> {:value, v, rand, take_next(gen, n - 1)}
          :done -> :done
        end
      end
    }
  end

  @doc """
  Realises a finite `generator` with `seed` (a non-negative integer). Raises if the generator is
  infinite beyond 1,000,000 elements (use `take/2`).
  """
  @spec to_list(t(), non_neg_integer()) :: [term()]
  def to_list(generator, seed) do
    generator!(generator, "to_list/2")
    realise(generator, rand(seed), [], 1_000_000)
  end

  @doc """
  Realises `generator` once per process in `processes`, each with its own stream derived from
  `seed` and the process's position: `%{process => [elements]}`. The generator must be finite.
  """
  @spec each(t(), [term()], non_neg_integer()) :: %{term() => [term()]}
  def each(generator, processes, seed) when is_list(processes) do
    generator!(generator, "each/3")

    processes
    |> Enum.with_index()
    |> Map.new(fn {p, i} ->
      {p, realise(generator, rand(:erlang.phash2({seed, i}, 4_294_967_296)), [], 1_000_000)}
    end)
  end

  defp realise(_gen, _rand, _acc, 0) do
    raise ArgumentError, "the generator did not end within 1000000 elements; bound it with take/2"
  end

  defp realise(gen, rand, acc, budget) do
    case gen.next.(rand) do
      {:value, v, rand, gen} -> realise(gen, rand, [v | acc], budget - 1)
      :done -> Enum.reverse(acc)
    end
  end

  defp rand(seed) when is_integer(seed) and seed >= 0, do: :rand.seed_s(:exsss, seed)

  defp rand(seed),
    do: raise(ArgumentError, "a seed must be a non-negative integer, got: #{inspect(seed)}")

  defp forever(draw) do
    %__MODULE__{
      next: fn rand ->
        {v, rand} = draw.(rand)
        {:value, v, rand, forever(draw)}
      end
    }
  end

  defp pick(tuple, size, rand) do
    {i, rand} = :rand.uniform_s(size, rand)
    {elem(tuple, i - 1), rand}
  end

  defp choose([{w, x} | rest], n), do: if(n <= w, do: x, else: choose(rest, n - w))

  defp nonempty!(enumerable, fun) do
    case Enum.to_list(enumerable) do
      [] -> raise ArgumentError, "#{fun} needs a non-empty enumerable"
      items -> items
    end
  end

  defp generator!(%__MODULE__{}, _fun), do: :ok

  defp generator!(other, fun),
    do: raise(ArgumentError, "#{fun} expects a Lockstep.Generator, got: #{inspect(other)}")
end

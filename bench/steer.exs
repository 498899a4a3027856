# Reads-from steering (issue 14): an experiment that bench/corpus.exs runs as the strategy
# `steer` (`--strategies pos,steer,steer-d25-flip`). It was measured against plain POS and
# not kept in the product (see bench/README.md for the figures); it stays here so that the
# measurement can be repeated.
#
# A steered hunt is sequential. It keeps the schedule (choice sequence) of every run that
# covered a reads-from pair not seen before in the hunt, and derives some later iterations from
# the kept schedules. Iteration i draws only from its own seed (the engine's seed for iteration
# i, which also seeds its POS) and from what the iterations before it kept, so the same hunt
# seed runs the same schedules every time:
#
#   * while nothing is kept, and for the iterations whose draw says fresh (100 - D percent),
#     the iteration is a plain POS run: exactly the one the default hunt runs at iteration i;
#   * the others (D percent, default 50) pick a kept schedule (the parent), a cut point k in
#     0..length-1, and run the engine's `:prefixed` strategy: the parent's first k choices,
#     then POS seeded from the iteration's seed.
#
# Variants, as dash-separated tokens after `steer`: `dN` sets D; the parent is drawn uniformly
# (`uniform`, the default), from the eight kept last (`newest`) or weighted by the new pairs
# each kept run covered (`novel`); the cut falls anywhere (`any`, the default) or in the second
# half of the parent (`late`); `flip` proposes, at the step after the prefix, another process of
# the parent than the one that ran there (the prefix ends one step earlier if it is not enabled).

defmodule Bench.Steer do
  alias Lockstep.{Native, Runner}

  @min_expected_steps 50

  @defaults %{derive: 50, pick: :uniform, cut: :any, flip: false}

  @doc "The parameters of a `steer...` strategy name, or `{:error, token}`."
  def parse("steer" <> rest) do
    rest
    |> String.split("-", trim: true)
    |> Enum.reduce_while({:ok, @defaults}, fn token, {:ok, acc} ->
      case token(token) do
        {key, value} -> {:cont, {:ok, Map.put(acc, key, value)}}
        :error -> {:halt, {:error, token}}
      end
    end)
  end

  defp token("d" <> n) do
    case Integer.parse(n) do
      {d, ""} when d in 0..100 -> {:derive, d}
      _ -> :error
    end
  end

  defp token(p) when p in ["uniform", "newest", "novel"], do: {:pick, String.to_atom(p)}
  defp token(c) when c in ["any", "late"], do: {:cut, String.to_atom(c)}
  defp token("flip"), do: {:flip, true}
  defp token(_), do: :error

  @doc """
  Hunts `fun` with the runner options `opts` (strategy `:pos`) for at most `opts[:iterations]`
  iterations. Returns `{:found, iterations, category, how}` (iterations up to and including the
  failing one; `how` is `:derived` or `:fresh`, how that iteration was planned) or `:miss`.
  """
  def hunt(fun, opts, params) do
    cfg = Runner.config!(opts, "bench steer") |> Map.put(:reads_from?, true)
    state = %{seen: MapSet.new(), kept: {}, weights: {}, longest: 0}
    loop(fun, cfg, params, 0, state)
  end

  defp loop(_fun, cfg, _params, i, _state) when i >= cfg.iterations, do: :miss

  defp loop(fun, cfg, params, i, state) do
    planned = cfg.seed |> Native.seed_iteration(i) |> plan(state, params)
    overrides = Map.put(planned, :expected_steps, max(state.longest, @min_expected_steps))

    case Runner.run_choices(fun, cfg, i, overrides) do
      {:fail, failure} ->
        {:found, i + 1, failure.category, if(planned == %{}, do: :fresh, else: :derived)}

      {_kind, steps, {_fingerprint, pairs}, %{choices: choices}} ->
        new = for <<h::64 <- pairs>>, not MapSet.member?(state.seen, h), do: h
        kept? = new != []

        state = %{
          state
          | longest: max(state.longest, steps),
            seen: Enum.into(new, state.seen),
            kept: if(kept?, do: Tuple.append(state.kept, choices), else: state.kept),
            weights: if(kept?, do: Tuple.append(state.weights, length(new)), else: state.weights)
        }

        loop(fun, cfg, params, i + 1, state)
    end
  end

  # The iteration's plan: no override (plain POS) or a `:prefixed` run.
  defp plan(_iter_seed, %{kept: {}}, _params), do: %{}

  defp plan(iter_seed, %{kept: kept} = state, params) do
    rng = :rand.seed_s(:exsss, iter_seed)
    {coin, rng} = :rand.uniform_s(100, rng)

    if coin > params.derive do
      %{}
    else
      {pick, rng} = parent(params.pick, state, rng)
      parent = elem(kept, pick - 1)
      {cut, rng} = cut(params.cut, max(length(parent), 1), rng)
      prefix = Enum.take(parent, cut - 1)
      choices = if params.flip, do: flip(prefix, parent, cut, rng), else: prefix
      %{strategy: :prefixed, then: :pos, choices: choices}
    end
  end

  defp parent(:uniform, state, rng), do: :rand.uniform_s(tuple_size(state.kept), rng)

  defp parent(:newest, state, rng) do
    n = tuple_size(state.kept)
    {k, rng} = :rand.uniform_s(min(n, 8), rng)
    {n - k + 1, rng}
  end

  defp parent(:novel, state, rng) do
    weights = Tuple.to_list(state.weights)
    {x, rng} = :rand.uniform_s(Enum.sum(weights), rng)

    index =
      Enum.reduce_while(weights, {x, 1}, fn w, {left, i} ->
        if left <= w, do: {:halt, i}, else: {:cont, {left - w, i + 1}}
      end)

    {index, rng}
  end

  # A cut in 1..n: the prefix is the first cut - 1 choices.
  defp cut(:any, n, rng), do: :rand.uniform_s(n, rng)

  defp cut(:late, n, rng) do
    {c, rng} = :rand.uniform_s(n - div(n, 2), rng)
    {c + div(n, 2), rng}
  end

  defp flip(prefix, parent, cut, rng) do
    ran = Enum.at(parent, cut - 1)

    case parent |> Enum.uniq() |> List.delete(ran) do
      [] ->
        prefix

      others ->
        {k, _rng} = :rand.uniform_s(length(others), rng)
        prefix ++ [Enum.at(others, k - 1)]
    end
  end
end

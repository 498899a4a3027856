defmodule Lockstep.TestHelpers do
  @moduledoc false

  @doc "Runs `fun` with the environment variables `vars` set (`nil` unsets), then restores them."
  def with_env(vars, fun) do
    old = Map.new(vars, fn {k, _} -> {k, System.get_env(k)} end)

    Enum.each(vars, fn
      {k, nil} -> System.delete_env(k)
      {k, v} -> System.put_env(k, v)
    end)

    try do
      fun.()
    after
      Enum.each(old, fn
        {k, nil} -> System.delete_env(k)
        {k, v} -> System.put_env(k, v)
      end)
    end
  end

  @doc "Runs `fun` once-or-more under Lockstep and returns its value through the test process."
  def inside(fun, opts \\ []) do
    parent = self()
    tag = make_ref()

    Lockstep.Runner.run(
      fn -> send(parent, {tag, fun.()}) end,
      Keyword.merge([iterations: 1, seed: 1], opts)
    )

    receive do
      {^tag, value} -> value
    after
      0 -> flunk_missing()
    end
  end

  defp flunk_missing, do: raise("the run ended without a result")

  @doc "Runs `fun` under Lockstep with `opts` and returns its value in every iteration, in order."
  def inside_each(fun, opts) do
    parent = self()
    tag = make_ref()
    Lockstep.Runner.run(fn -> send(parent, {tag, fun.()}) end, opts)
    collect(tag, [])
  end

  defp collect(tag, acc) do
    receive do
      {^tag, value} -> collect(tag, [value | acc])
    after
      0 -> Enum.reverse(acc)
    end
  end

  @doc "The `Lockstep.BugFound` raised by a run, or nil."
  def bug(fun, opts \\ []) do
    Lockstep.Runner.run(fun, Keyword.merge([seed: 7], opts))
    nil
  rescue
    e in Lockstep.BugFound -> e
  end
end

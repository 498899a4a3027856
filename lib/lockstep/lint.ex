defmodule Lockstep.Lint do
  # A compile-time look at a ctest body: a bare concurrency primitive there (a plain `send`,
  # `spawn`, `receive`, `GenServer.call`, `:ets.insert`, ...) bypasses Lockstep unless the test
  # module is instrumented, and so does a call into a module of the project that uses such
  # primitives without being instrumented. Each is a warning pointing at the line, never an
  # error; `Lockstep.plain(expr)` marks one call as intended.
  @moduledoc false

  alias Lockstep.Instrument.Mapping

  @kernel %{send: 2, spawn: 1, spawn_link: 1, spawn_monitor: 1}

  @doc "Warns about what in `body` bypasses Lockstep (nothing when the module is instrumented)."
  @spec check(Macro.t(), Macro.Env.t()) :: :ok
  def check(body, env) do
    unless Module.get_attribute(env.module, :lockstep_lint_skip) do
      {_, seen} = Macro.prewalk(body, MapSet.new(), &visit(&1, &2, env))
      _ = seen
    end

    :ok
  end

  # `Lockstep.plain(expr)`: left alone.
  defp visit({{:., _, [{:__aliases__, _, [:Lockstep]}, :plain]}, _, [_]}, seen, _env),
    do: {:ok, seen}

  defp visit({:receive, meta, [_ | _]} = node, seen, env) do
    warn(env, meta, "a plain `receive`")
    {node, seen}
  end

  defp visit({name, meta, args} = node, seen, env) when is_atom(name) and is_list(args) do
    if Map.get(@kernel, name) == length(args) and not local?(env, name, length(args)) do
      warn(env, meta, "a plain `#{name}/#{length(args)}`")
    end

    {node, seen}
  end

  defp visit({{:., _, [module, fun]}, meta, args} = node, seen, env)
       when is_atom(fun) and is_list(args) do
    case expand(module, env) do
      mod when is_atom(mod) and not is_nil(mod) ->
        {node, remote(mod, fun, length(args), meta, seen, env)}

      _ ->
        {node, seen}
    end
  end

  defp visit(node, seen, _env), do: {node, seen}

  defp remote(mod, fun, arity, meta, seen, env) do
    case Mapping.target(mod, fun, arity) do
      {target, _} when target != mod ->
        warn(env, meta, "a plain `#{inspect(mod)}.#{fun}/#{arity}`")
        seen

      _ ->
        if MapSet.member?(seen, mod) or not uninstrumented_user_of_primitives?(mod) do
          seen
        else
          IO.warn(
            "Lockstep: this ctest calls #{inspect(mod)}, which uses concurrency primitives " <>
              "but is not instrumented, so what it does bypasses Lockstep: add the :lockstep " <>
              "compiler to mix.exs, or Lockstep.instrument([#{inspect(mod)}]) before the hunt",
            stack(env, meta)
          )

          MapSet.put(seen, mod)
        end
    end
  end

  # A project module (not Lockstep's, not Elixir's or OTP's) whose compiled code calls a
  # primitive the rewriter would replace, and which carries no instrumentation mark.
  defp uninstrumented_user_of_primitives?(mod) do
    with false <- Mapping.lockstep_module?(mod),
         {:module, _} <- Code.ensure_compiled(mod),
         path when is_list(path) <- :code.which(mod),
         false <- system_path?(path),
         false <- Lockstep.Instrument.instrumented?(mod),
         {:ok, {_, [imports: imports]}} <- :beam_lib.chunks(path, [:imports]) do
      Enum.any?(imports, fn {m, f, a} -> match?({_, _}, Mapping.target(m, f, a)) end)
    else
      _ -> false
    end
  end

  defp system_path?(path) do
    path = List.to_string(path)
    String.starts_with?(path, List.to_string(:code.lib_dir())) or path =~ "/elixir/lib/"
  end

  defp expand({:__aliases__, _, _} = alias_ast, env), do: Macro.expand(alias_ast, env)
  defp expand(mod, _env) when is_atom(mod), do: mod
  defp expand(_, _), do: nil

  defp local?(env, name, arity),
    do: Module.defines?(env.module, {name, arity})

  defp warn(env, meta, what) do
    IO.warn(
      "Lockstep: #{what} in a ctest body bypasses Lockstep (nothing of it is scheduled): use " <>
        "the Lockstep API or its wrappers, `use Lockstep.Test, instrument: true`, or wrap the " <>
        "call in Lockstep.plain/1 if it is meant to run outside Lockstep's control",
      stack(env, meta)
    )
  end

  defp stack(env, meta), do: Macro.Env.stacktrace(%{env | line: meta[:line] || env.line})
end

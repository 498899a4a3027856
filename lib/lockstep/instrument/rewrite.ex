defmodule Lockstep.Instrument.Rewrite do
  # The rewriter: Erlang abstract forms in, forms whose concurrency goes through Lockstep out.
  #
  #   * A call `M:F(Args)` of a primitive (see `Lockstep.Instrument.Mapping`) becomes a call of
  #     its replacement; an auto-imported BIF called without a module (`spawn(F)` in Erlang)
  #     counts as `erlang:F`, unless the module defines or un-imports a function of that name.
  #   * `Dest ! Msg` becomes `Lockstep.Instrument.Runtime.send(Dest, Msg)`.
  #   * `fun erlang:send/2` and other captured primitives capture the replacement instead.
  #   * A call whose module or function is a run-time value goes through
  #     `Lockstep.Instrument.Runtime.apply/3`, which looks the table up when it runs.
  #   * `receive` keeps its original form for processes outside a run and, inside one, becomes
  #     the engine's selective receive: the clauses' patterns and guards make the predicate,
  #     the message that satisfies it is matched once more by the same clauses in the process
  #     (which binds their variables), and `after` becomes the receive's virtual timeout.
  #
  # Nothing else changes: patterns and guards hold no primitive, and annotations (file and
  # line) are kept, so errors in instrumented code point at the original source.
  @moduledoc false

  alias Lockstep.Instrument.Mapping

  @rt Lockstep.Instrument.Runtime

  @typedoc "Something the rewriter could not put under control, with where it is."
  @type note :: %{module: module(), function: {atom(), arity()}, line: term(), text: String.t()}

  @doc "Rewrites a module's forms; returns the new forms and the notes on what stays out."
  @spec forms([tuple()]) :: {[tuple()], [note()]}
  def forms(forms) do
    module =
      Enum.find_value(forms, fn
        {:attribute, _, :module, m} -> m
        _ -> nil
      end)

    ctx = %{
      module: module,
      locals: for({:function, _, f, a, _} <- forms, into: MapSet.new(), do: {f, a}),
      no_auto: no_auto_imports(forms),
      function: nil
    }

    Process.put(:lockstep_rewrite_notes, [])
    Process.put(:lockstep_rewrite_vars, 0)

    try do
      forms =
        forms
        |> Enum.map(fn
          {:function, l, f, a, clauses} ->
            {:function, l, f, a, walk(clauses, %{ctx | function: {f, a}})}

          other ->
            other
        end)
        |> mark()

      {forms, Enum.reverse(Process.get(:lockstep_rewrite_notes))}
    after
      Process.delete(:lockstep_rewrite_notes)
      Process.delete(:lockstep_rewrite_vars)
    end
  end

  # `-lockstep_instrumented(true).` right after `-module(...)`: how a module says it was
  # rewritten (the lint and the compiler read it back from `module_info(:attributes)`).
  defp mark(forms) do
    {head, rest} = Enum.split_while(forms, &(not match?({:attribute, _, :module, _}, &1)))

    case rest do
      [{:attribute, l, :module, _} = mod | tail] ->
        head ++ [mod, {:attribute, l, :lockstep_instrumented, true} | tail]

      [] ->
        forms
    end
  end

  defp no_auto_imports(forms) do
    for {:attribute, _, :compile, opts} <- forms,
        opt <- List.wrap(opts),
        entry <- no_auto_entries(opt),
        into: MapSet.new(),
        do: entry
  end

  defp no_auto_entries({:no_auto_import, fas}) when is_list(fas), do: fas
  defp no_auto_entries(:no_auto_import), do: [:all]
  defp no_auto_entries(_), do: []

  # ----- the walk ------------------------------------------------------------------------------

  defp walk({:call, l, callee, args}, ctx) do
    args = walk(args, ctx)

    case callee do
      {:remote, rl, {:atom, _, m}, {:atom, _, f}} ->
        remote_call(l, rl, m, f, args, ctx)

      {:remote, rl, m, f} ->
        # The module or the function is known only when the call runs.
        args_list = Enum.reduce(Enum.reverse(args), {nil, l}, &{:cons, l, &1, &2})
        {:call, l, rt(rl, :apply), [walk(m, ctx), walk(f, ctx), args_list]}

      {:atom, al, f} ->
        if auto_imported?(f, length(args), ctx) do
          remote_call(l, al, :erlang, f, args, ctx)
        else
          {:call, l, callee, args}
        end

      other ->
        {:call, l, walk(other, ctx), args}
    end
  end

  defp walk({:op, l, :!, dest, msg}, ctx) do
    {:call, l, rt(l, :send), [walk(dest, ctx), walk(msg, ctx)]}
  end

  defp walk({:receive, l, clauses}, ctx), do: receive_(l, clauses, nil, ctx)

  defp walk({:receive, l, clauses, timeout, after_body}, ctx),
    do: receive_(l, clauses, {timeout, after_body}, ctx)

  defp walk({:fun, l, {:function, {:atom, ml, m}, {:atom, fl, f}, {:integer, al, a}}} = fun, ctx) do
    case Mapping.target(m, f, a) do
      {:uncontrolled, text} ->
        note(ctx, l, text)
        fun

      {tm, tf} ->
        {:fun, l, {:function, {:atom, ml, tm}, {:atom, fl, tf}, {:integer, al, a}}}

      nil ->
        fun
    end
  end

  defp walk(tuple, ctx) when is_tuple(tuple) do
    tuple |> Tuple.to_list() |> Enum.map(&walk(&1, ctx)) |> List.to_tuple()
  end

  defp walk(list, ctx) when is_list(list), do: Enum.map(list, &walk(&1, ctx))
  defp walk(other, _ctx), do: other

  defp remote_call(l, rl, m, f, args, ctx) do
    case Mapping.target(m, f, length(args)) do
      {:uncontrolled, text} ->
        note(ctx, l, text)
        {:call, l, {:remote, rl, {:atom, rl, m}, {:atom, rl, f}}, args}

      {tm, tf} ->
        {:call, l, {:remote, rl, {:atom, rl, tm}, {:atom, rl, tf}}, args}

      nil ->
        {:call, l, {:remote, rl, {:atom, rl, m}, {:atom, rl, f}}, args}
    end
  end

  defp auto_imported?(f, arity, ctx) do
    not MapSet.member?(ctx.locals, {f, arity}) and
      not MapSet.member?(ctx.no_auto, :all) and
      not MapSet.member?(ctx.no_auto, {f, arity}) and
      :erl_internal.bif(f, arity)
  end

  defp rt(l, function), do: {:remote, l, {:atom, l, @rt}, {:atom, l, function}}

  # ----- receive -------------------------------------------------------------------------------

  #     case Runtime:managed() of
  #       false -> <the original receive>;
  #       true ->
  #         case Runtime:receive_match(fun(V) -> case V of P1 when G1 -> true; ...;
  #                                                        _ -> false end end, Timeout) of
  #           {ok, M} -> case M of P1 when G1 -> B1; ... end;
  #           timeout -> After
  #         end
  #     end
  #
  # Outside a run the original receive runs as it was (a process is managed or not for its
  # whole life). Patterns and guards are copied, so variables bound before the receive are
  # matched, not rebound, in the predicate (a closure) and in the second match alike.
  defp receive_(l, clauses, after_part, ctx) do
    original =
      case after_part do
        nil -> {:receive, l, clauses}
        {timeout, body} -> {:receive, l, clauses, timeout, body}
      end

    v = fresh(l)
    m = fresh(l)

    tests =
      for {:clause, cl, pattern, guards, _body} <- clauses do
        {:clause, cl, pattern, guards, [{:atom, cl, true}]}
      end

    predicate =
      {:fun, l,
       {:clauses,
        [
          {:clause, l, [v], [],
           [{:case, l, v, tests ++ [{:clause, l, [{:var, l, :_}], [], [{:atom, l, false}]}]}]}
        ]}}

    timeout = if after_part, do: walk(elem(after_part, 0), ctx), else: {:atom, l, :infinity}
    taken = {:clause, l, [{:tuple, l, [{:atom, l, :ok}, m]}], [], [rematch(l, m, clauses, ctx)]}

    outcomes =
      case after_part do
        nil -> [taken]
        {_, body} -> [taken, {:clause, l, [{:atom, l, :timeout}], [], walk(body, ctx)}]
      end

    managed = {:case, l, {:call, l, rt(l, :receive_match), [predicate, timeout]}, outcomes}

    {:case, l, {:call, l, rt(l, :managed), []},
     [
       {:clause, l, [{:atom, l, false}], [], [original]},
       {:clause, l, [{:atom, l, true}], [], [managed]}
     ]}
  end

  defp rematch(l, _m, [], _ctx), do: {:atom, l, :ok}

  defp rematch(l, m, clauses, ctx) do
    {:case, l, m,
     for {:clause, cl, pattern, guards, body} <- clauses do
       {:clause, cl, pattern, guards, walk(body, ctx)}
     end}
  end

  defp fresh(l) do
    n = Process.get(:lockstep_rewrite_vars) + 1
    Process.put(:lockstep_rewrite_vars, n)
    {:var, l, :"_lockstep@#{n}"}
  end

  defp note(ctx, l, text) do
    entry = %{module: ctx.module, function: ctx.function, line: line(l), text: text}
    Process.put(:lockstep_rewrite_notes, [entry | Process.get(:lockstep_rewrite_notes)])
  end

  defp line(anno), do: :erl_anno.line(anno)
end

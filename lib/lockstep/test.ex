defmodule Lockstep.Test do
  @moduledoc """
  ExUnit integration: `ctest` is a test whose body Lockstep runs many times, each under a
  different schedule.

      defmodule CounterTest do
        use ExUnit.Case, async: true
        use Lockstep.Test, iterations: 200

        ctest "two increments are never lost" do
          counter = Lockstep.spawn(fn -> Counter.loop(0) end)
          for _ <- 1..2, do: Lockstep.spawn(fn -> Counter.increment(counter) end)
          ...
          assert Counter.get(counter) == 2
        end

        ctest "a slower one", iterations: 1_000, strategy: :random do
          ...
        end
      end

  `use Lockstep.Test` takes the options of `Lockstep.Runner.run/2` as module defaults
  (`iterations: 100`, `strategy: :pos`, `max_steps: 1000`, ...); each `ctest` can override them.
  It also does `use ExUnit.Case` unless the module already did (pass `async: true` to it, or
  call `use ExUnit.Case, async: true` yourself first).

  Each `ctest` is a real ExUnit test, tagged `:ctest` (so `mix test --only ctest` runs just
  these). Its seed derives from ExUnit's seed and the test's module and name, so
  `mix test --seed N` reproduces a failure exactly; `LOCKSTEP_SEED` overrides it.

  When an iteration fails, the test fails with the report of `Lockstep.BugFound`. When the
  failure is an ExUnit assertion, the assertion itself is raised (with the report in front), so
  ExUnit still shows its diff. The failing schedule is saved (see `Lockstep.Schedule`) and the
  report ends with the command that replays it: `mix lockstep.replay PATH`.

  ## Replaying instead of hunting

  With `LOCKSTEP_REPLAY=PATH` in the environment, the `ctest` that schedule was recorded from
  replays it strictly (`Lockstep.Replay.run/3`) instead of hunting; other tests run as usual.
  `mix lockstep.replay PATH` sets it and runs that one test.

  ## What was explored

  With `mix test --trace` (or `LOCKSTEP_VERBOSE=1`, or `verbose: true`), a ctest that finds no
  bug prints what it explored: iterations run, distinct schedules, runs stopped at the step
  limit and the longest run.
  """

  @doc false
  defmacro __using__(opts) do
    {async, opts} = Keyword.pop(opts, :async, false)
    {instrument, opts} = Keyword.pop(opts, :instrument, false)
    # Set now, while the module's body is expanded, so each `ctest` below sees it.
    Module.put_attribute(__CALLER__.module, :lockstep_lint_skip, instrument == true)

    quote do
      unless Module.has_attribute?(__MODULE__, :ex_unit_tests) do
        use ExUnit.Case, async: unquote(async)
      end

      @lockstep_instrument unquote(instrument)

      # `mix test` compiles test files without debug_info; the rewriter reads the module's.
      # The module is rewritten before ExUnit's own callback hands it to the runner, which
      # may start an async module at once: so the rewrite goes first.
      if @lockstep_instrument do
        @compile :debug_info
        lockstep_after = Module.delete_attribute(__MODULE__, :after_compile) || []
        @after_compile Lockstep.Instrument
        Enum.each(
          Enum.reverse(lockstep_after),
          &Module.put_attribute(__MODULE__, :after_compile, &1)
        )
      end

      # Keeps the module's object code: `nodes:` sends it to the peers (it has no file).
      @after_compile Lockstep.Peers

      import Lockstep.Test, only: [ctest: 2, ctest: 3, ctest: 4]
      require Lockstep

      @lockstep_defaults Lockstep.Options.validate!(unquote(opts), "use Lockstep.Test") &&
                           unquote(opts)
    end
  end

  @doc """
  Defines a controlled test. `opts` override the module's defaults for this test.
  """
  defmacro ctest(name, context_or_opts \\ [], opts_or_block)

  defmacro ctest(name, opts, do: block) when is_list(opts),
    do: define(name, quote(do: _), opts, block, __CALLER__)

  defmacro ctest(name, context, do: block), do: define(name, context, [], block, __CALLER__)

  @doc """
  A controlled test that takes ExUnit's context (what `setup` returned), matched against
  `context` as `test "name", context do` does, with `opts` for this test.
  """
  defmacro ctest(name, context, opts, do: block),
    do: define(name, context, opts, block, __CALLER__)

  defp define(name, context, opts, block, caller) do
    Lockstep.Lint.check(block, caller)
    body = Macro.escape(block, unquote: true)
    context = Macro.escape(context, unquote: true)

    quote bind_quoted: [name: name, opts: opts, body: body, context: context] do
      Lockstep.Options.validate!(opts, "ctest #{inspect(name)}")
      test_name = ExUnit.Case.register_test(__ENV__, :ctest, name, [:ctest])
      lockstep_opts = Keyword.merge(@lockstep_defaults, opts)
      lockstep_where = %{file: __ENV__.file, line: __ENV__.line}

      def unquote(test_name)(unquote(context)) do
        Lockstep.Test.__run__(
          __MODULE__,
          unquote(name),
          unquote(Macro.escape(lockstep_where)),
          unquote(lockstep_opts),
          fn -> unquote(body) end
        )
      end
    end
  end

  @doc false
  def __run__(module, name, where, opts, fun) do
    exunit_seed = ExUnit.configuration()[:seed] || 0

    test = Map.merge(where, %{module: module, name: name, exunit_seed: exunit_seed})

    opts =
      opts
      |> Keyword.put(:test, test)
      |> Keyword.put_new_lazy(:seed, fn ->
        :erlang.phash2({exunit_seed, module, name}, 4_294_967_296)
      end)

    opts =
      if ExUnit.configuration()[:trace], do: Keyword.put_new(opts, :verbose, true), else: opts

    try do
      execute(fun, test, opts)
    rescue
      bug in Lockstep.BugFound ->
        case bug.exception do
          %ExUnit.AssertionError{} = assertion ->
            message = bug.message <> "\n\nThe failed assertion:\n" <> (assertion.message || "")
            reraise %{assertion | message: message}, bug.stacktrace

          _ ->
            reraise bug, __STACKTRACE__
        end
    end
  end

  # What a ctest does with its body: replay the schedule `LOCKSTEP_REPLAY` names when it is this
  # test's (see `Lockstep.Replay.from_env/1`), else hunt.
  defp execute(fun, test, opts) do
    Lockstep.Options.validate!(Keyword.take(opts, [:regression]), "ctest")
    {regression, opts} = Keyword.pop(opts, :regression)

    case Lockstep.Replay.from_env(test) do
      {:replay, schedule} ->
        Lockstep.Replay.run(
          fun,
          schedule,
          Keyword.take(opts, [:watchdog, :test]) ++ shrink_env() ++ regression_env()
        )

      _ when is_binary(regression) ->
        Lockstep.Replay.run(
          fun,
          regression,
          Keyword.take(opts, [:watchdog, :test]) ++ [regression: true]
        )

      {:other_test, schedule} ->
        IO.puts(
          :stderr,
          "Lockstep: LOCKSTEP_REPLAY names a schedule of #{recorded_from(schedule.test)}; " <>
            "ctest #{inspect(test.name)} of #{inspect(test.module)} hunts as usual."
        )

        Lockstep.Runner.run(fun, opts)

      :none ->
        Lockstep.Runner.run(fun, opts)
    end
  end

  # `LOCKSTEP_REPLAY_MODE=regression` (set by `mix lockstep.replay --regression`).
  defp regression_env do
    if System.get_env("LOCKSTEP_REPLAY_MODE") == "regression", do: [regression: true], else: []
  end

  # `LOCKSTEP_SHRINK=MS` (set by `mix lockstep.shrink`): shrink the replayed failure within MS
  # milliseconds.
  defp shrink_env do
    case System.get_env("LOCKSTEP_SHRINK") do
      nil ->
        []

      text ->
        case Integer.parse(text) do
          {ms, ""} when ms > 0 ->
            [shrink: true, shrink_time: ms]

          _ ->
            raise ArgumentError,
                  "LOCKSTEP_SHRINK must be a positive integer (milliseconds), got: #{inspect(text)}"
        end
    end
  end

  defp recorded_from(nil), do: "no test (a run started outside a ctest)"
  defp recorded_from(%{module: m, name: n}), do: "ctest #{inspect(n)} of #{m}"
end

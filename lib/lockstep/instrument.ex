defmodule Lockstep.Instrument do
  @moduledoc """
  Puts unmodified code under Lockstep's control by rewriting its concurrency primitives into
  calls of the Lockstep API: `send`/`!`, `spawn*`, `receive ... after`, `Process.*`, timers,
  the clocks, `GenServer`/`:gen_server`, `:gen_statem`, `Agent`, `Task`, `Supervisor`,
  `DynamicSupervisor`, `Registry`, `:ets`, `:atomics`, `:counters`, `:persistent_term`,
  `:global` and `:sys`.

  One rewriter serves every way in, because it works on Erlang's abstract format, which
  Elixir modules (after macro expansion, from their `debug_info`), Erlang sources and compiled
  `.beam` files all have:

    * a whole project, in the test build only: the `:lockstep` Mix compiler (see
      `Mix.Tasks.Compile.Lockstep`) rewrites the project's modules, and the dependencies you
      name, after they are compiled;
    * test bodies: `use Lockstep.Test, instrument: true` rewrites the test module itself;
    * already compiled modules, at load time: `Lockstep.instrument([SomeDep.Worker,
      :some_erlang_mod])` before a hunt, `Lockstep.uninstrument/1` (or `restore/1`) after it.

  ## What rewritten code does

  Outside a run it behaves as the original: each replacement calls the original primitive
  when the calling process is not managed, and a rewritten `receive` runs the original
  receive. Inside a run every primitive is a sync point. A `receive` becomes the engine's
  selective receive: its patterns and guards are the predicate, the message is matched again
  by the same clauses in the process (binding their variables, pinned ones included), and
  `after` is a virtual timeout. `use GenServer` and `@behaviour :gen_statem` modules keep
  working, as `GenServer.start_link/3` and friends become `Lockstep.GenServer`'s.

  ## What cannot be put under control

  NIFs and ports, `erlang:yield/0`, `hibernate`, `timer:send_interval` and a few others are
  named in the notes that `module/2` and the compiler print, with the module, function and
  line. A module compiled without `debug_info` cannot be rewritten at all: that is an error
  naming it. Lockstep's own modules are never rewritten.
  """

  alias Lockstep.Instrument.{Mapping, Rewrite}

  @typedoc "What could not be put under control: a call, where it is, and why."
  @type note :: Rewrite.note()

  @doc """
  Rewrites a module's `.beam` binary (it must carry `debug_info`). Returns the new binary and
  the notes, or `{:error, reason}` naming what was wrong.
  """
  @spec beam(binary()) ::
          {:ok, module(), binary(), [note()]} | {:already, module()} | {:error, String.t()}
  def beam(binary) when is_binary(binary) do
    with {:ok, module, forms} <- abstract_code(binary),
         :ok <- check_module(module),
         false <- instrumented_forms?(forms) && {:already, module} do
      {forms, notes} = Rewrite.forms(forms)

      case :compile.forms(forms, compile_options(module, binary)) do
        {:ok, ^module, new} -> {:ok, module, new, notes}
        {:error, errors, _warnings} -> {:error, compile_error(module, errors)}
      end
    end
  end

  @doc """
  Rewrites the loaded (or loadable) `module` from its `debug_info` and loads the result.
  The original binary is kept so that `restore/1` can put it back. Returns the notes.
  """
  @spec module(module()) :: {:ok, [note()]} | {:error, String.t()}
  def module(module) when is_atom(module) do
    with {:ok, binary, file} <- object_code(module) do
      case beam(binary) do
        {:ok, ^module, new, notes} ->
          with :ok <- load(module, new, file) do
            remember_original(module, binary, file)
            {:ok, notes}
          end

        {:already, ^module} ->
          {:ok, []}

        {:error, _} = error ->
          error
      end
    end
  end

  @doc "Puts back the original of a module rewritten by `module/1`."
  @spec restore(module()) :: :ok | {:error, String.t()}
  def restore(module) do
    case :persistent_term.get({__MODULE__, module}, nil) do
      nil ->
        {:error, "#{inspect(module)} was not instrumented by Lockstep.instrument/1"}

      {binary, file} ->
        with :ok <- load(module, binary, file) do
          :persistent_term.erase({__MODULE__, module})
          :ok
        end
    end
  end

  @doc false
  # `use Lockstep.Test, instrument: true`: the test module, just compiled, is rewritten and
  # loaded again, so the bodies of its ctests run under control as written.
  def __after_compile__(env, bytecode) do
    case beam(bytecode) do
      {:ok, module, new, notes} ->
        :ok = load(module, new, String.to_charlist(env.file))

        for note <- notes do
          IO.warn("Lockstep: " <> format_note(note), [
            {module, :__info__, 1, [file: env.file, line: note.line]}
          ])
        end

      {:already, _} ->
        :ok

      {:error, why} ->
        raise CompileError, file: env.file, line: 0, description: "Lockstep: " <> why
    end
  end

  @doc "Whether `module` (loaded) is an instrumented version."
  @spec instrumented?(module()) :: boolean()
  def instrumented?(module) do
    Code.ensure_loaded?(module) and
      Keyword.get(module.module_info(:attributes), :lockstep_instrumented) == [true]
  end

  @doc "A note as one line: `Mod.fun/arity (line N): text`."
  @spec format_note(note()) :: String.t()
  def format_note(%{module: m, function: {f, a}, line: line, text: text}) do
    "#{inspect(m)}.#{f}/#{a} (line #{line}): #{text}"
  end

  def format_note(%{module: m, line: line, text: text}),
    do: "#{inspect(m)} (line #{line}): #{text}"

  # ----- helpers -----------------------------------------------------------------------------

  defp abstract_code(binary) do
    case :beam_lib.chunks(binary, [:debug_info]) do
      {:ok, {module, [debug_info: {:debug_info_v1, backend, data}]}} ->
        case backend.debug_info(:erlang_v1, module, data, []) do
          {:ok, forms} ->
            {:ok, module, forms}

          {:error, why} ->
            {:error, "#{inspect(module)} has no usable debug_info (#{inspect(why)})"}
        end

      {:ok, {module, [debug_info: :none]}} ->
        {:error, no_debug_info(module)}

      {:ok, {module, _}} ->
        {:error, no_debug_info(module)}

      {:error, :beam_lib, {:missing_chunk, _, _}} ->
        {:error, "the binary has no debug_info chunk: it cannot be rewritten"}

      {:error, :beam_lib, why} ->
        {:error, "not a readable .beam binary: #{inspect(why)}"}
    end
  end

  defp no_debug_info(module) do
    "#{inspect(module)} was compiled without debug_info, so it cannot be rewritten: " <>
      "recompile it with debug_info (Elixir's default; `erlc +debug_info` for Erlang)"
  end

  defp check_module(module) do
    cond do
      Mapping.lockstep_module?(module) ->
        {:error, "#{inspect(module)} is part of Lockstep and is never instrumented"}

      function_exported?(module, :__protocol__, 1) ->
        {:error, "#{inspect(module)} is a protocol; its implementations can be instrumented"}

      true ->
        :ok
    end
  end

  defp instrumented_forms?(forms),
    do: Enum.any?(forms, &match?({:attribute, _, :lockstep_instrumented, _}, &1))

  # Elixir modules never rely on Erlang's auto-imports (every call is explicit), so their
  # forms are compiled with `no_auto_import`, as Elixir compiles them.
  defp compile_options(module, binary) do
    elixir? = String.starts_with?(Atom.to_string(module), "Elixir.")

    source =
      case :beam_lib.chunks(binary, [:compile_info]) do
        {:ok, {_, [compile_info: info]}} -> Keyword.take(info, [:source])
        _ -> []
      end

    [:binary, :return_errors, :debug_info, :nowarn_unused_vars, :nowarn_shadow_vars] ++
      if(elixir?, do: [:no_auto_import], else: []) ++ source
  end

  defp compile_error(module, errors) do
    details =
      for {file, items} <- errors, {line, mod, desc} <- items do
        "#{file}:#{inspect(line)}: #{mod.format_error(desc)}"
      end

    "rewriting #{inspect(module)} produced code that does not compile (a Lockstep bug; " <>
      "please report it): " <> Enum.join(details, "; ")
  end

  defp object_code(module) do
    case :code.get_object_code(module) do
      {^module, binary, file} ->
        {:ok, binary, file}

      :error ->
        {:error, "#{inspect(module)} has no .beam file on the code path to rewrite"}
    end
  end

  defp remember_original(module, binary, file) do
    case :persistent_term.get({__MODULE__, module}, nil) do
      nil -> :persistent_term.put({__MODULE__, module}, {binary, file})
      _kept -> :ok
    end
  end

  @doc false
  # Loads a new version in place of the current one. Processes still running the version
  # before it (a loop that only makes local calls never leaves its version) are ended by the
  # purge, as a code upgrade would end them; the count is printed. The Mix compiler reloads
  # rewritten modules through here too.
  def load(module, binary, file) do
    unless :code.soft_purge(module) do
      stale = Enum.count(Process.list(), &:erlang.check_process_code(&1, module))
      :code.purge(module)

      IO.puts(
        :stderr,
        "Lockstep: ended #{stale} process(es) still running an old version of " <>
          "#{inspect(module)} to load a new one"
      )
    end

    {:module, ^module} = :code.load_binary(module, file, binary)
    :ok
  end
end

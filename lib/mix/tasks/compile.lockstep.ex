defmodule Mix.Tasks.Compile.Lockstep do
  @shortdoc "Instruments the project's compiled modules for Lockstep (test build only)"

  @moduledoc """
  Rewrites the project's compiled modules (Elixir and Erlang alike) so that Lockstep controls
  their concurrency, in the test build only: dev and prod builds never see rewritten code.
  Add it after Mix's own compilers in `mix.exs`:

      def project do
        [
          ...,
          compilers: Mix.compilers() ++ [:lockstep],
          deps: [{:lockstep, path: "../lockstep", only: :test}]
        ]
      end

  It runs after the Elixir and Erlang compilers, reads each new `.beam` of the project's
  compile path, rewrites it from its `debug_info` (see `Lockstep.Instrument`) and writes it
  back in place, marked with the `lockstep_instrumented` attribute so that it is never
  rewritten twice; modules already loaded are reloaded. Outside a run the rewritten code
  behaves as the original, so the project's ordinary tests keep passing.

  What could not be put under control (a port, a NIF, `erlang:yield/0`, ...) is printed once,
  when the module is rewritten, with the module, function and line.

  ## Configuration

  Under the `:lockstep` key of the project:

    * `:envs` - the Mix environments in which to instrument (default `[:test]`); elsewhere
      the compiler does nothing
    * `:deps` - dependencies (by application name) whose modules are instrumented too, in
      the same build (default `[]`)
    * `:skip` - modules left as they are (default `[]`)

  ## Options

    * `--force` - rewrite every module that is not instrumented yet, whatever its timestamp
  """

  use Mix.Task.Compiler

  @impl Mix.Task.Compiler
  def run(args) do
    {opts, _, _} = OptionParser.parse(args, switches: [force: :boolean])
    config = Keyword.get(Mix.Project.config(), :lockstep, [])

    if Mix.env() in Keyword.get(config, :envs, [:test]) do
      skip = MapSet.new(Keyword.get(config, :skip, []))
      dirs = [Mix.Project.compile_path() | Enum.map(Keyword.get(config, :deps, []), &dep_ebin/1)]
      results = Enum.flat_map(dirs, &instrument_dir(&1, skip, opts))
      diagnostics = Enum.flat_map(results, &elem(&1, 1))
      status = if Enum.any?(results, &(elem(&1, 0) == :error)), do: :error, else: :ok
      changed = Enum.any?(results, &(elem(&1, 0) == :rewritten))
      {if(status == :ok and not changed, do: :noop, else: status), diagnostics}
    else
      {:noop, []}
    end
  end

  @impl Mix.Task.Compiler
  def manifests, do: []

  @impl Mix.Task.Compiler
  def clean, do: :ok

  defp dep_ebin(app) do
    dir = Path.join([Mix.Project.build_path(), "lib", to_string(app), "ebin"])

    unless File.dir?(dir) do
      Mix.raise(
        "Lockstep: the dependency #{inspect(app)} named in :lockstep :deps has no " <>
          "compiled modules at #{dir}"
      )
    end

    dir
  end

  defp instrument_dir(dir, skip, _opts) do
    dir
    |> Path.join("*.beam")
    |> Path.wildcard()
    |> Enum.sort()
    |> Enum.map(&instrument_file(&1, skip))
  end

  defp instrument_file(path, skip) do
    module = path |> Path.basename(".beam") |> String.to_atom()

    cond do
      MapSet.member?(skip, module) -> {:skipped, []}
      marked?(path) -> {:skipped, []}
      true -> rewrite(path, module)
    end
  end

  defp marked?(path) do
    case :beam_lib.chunks(String.to_charlist(path), [:attributes]) do
      {:ok, {_, [attributes: attrs]}} -> Keyword.get(attrs, :lockstep_instrumented) == [true]
      _ -> false
    end
  end

  defp rewrite(path, module) do
    binary = File.read!(path)

    case Lockstep.Instrument.beam(binary) do
      {:ok, ^module, new, notes} ->
        File.write!(path, new)
        reload(module, path, new)
        {:rewritten, Enum.map(notes, &diagnostic(&1, path))}

      {:already, _} ->
        {:skipped, []}

      {:error, why} ->
        if protocol_or_own?(why) do
          {:skipped, []}
        else
          Mix.shell().error("Lockstep: " <> why)
          {:error, [diagnostic(%{text: why, line: 0}, path, :error)]}
        end
    end
  end

  # Protocols stay as they are (consolidation rewrites them), and so do Lockstep's modules.
  defp protocol_or_own?(why),
    do: why =~ "is a protocol" or why =~ "is part of Lockstep"

  # A module the Elixir compiler left loaded is replaced by its rewritten version.
  defp reload(module, path, binary) do
    if :code.is_loaded(module) != false do
      Lockstep.Instrument.load(module, binary, String.to_charlist(path))
    end
  end

  defp diagnostic(note, path, severity \\ :information) do
    text =
      case note do
        %{function: {_, _}} -> Lockstep.Instrument.format_note(note)
        %{text: text} -> text
      end

    if severity == :information, do: Mix.shell().info("Lockstep: " <> text)

    %Mix.Task.Compiler.Diagnostic{
      compiler_name: "lockstep",
      file: source_of(path),
      position: note[:line] || 0,
      message: text,
      severity: severity
    }
  end

  defp source_of(path) do
    case :beam_lib.chunks(String.to_charlist(path), [:compile_info]) do
      {:ok, {_, [compile_info: info]}} -> info |> Keyword.get(:source, path) |> to_string()
      _ -> path
    end
  end
end

defmodule Mix.Tasks.Compile.LockstepNative do
  @shortdoc "Builds the Lockstep NIF with cargo and installs it into priv/native"

  @moduledoc """
  Builds the `lockstep_nif` crate with cargo and installs the shared library
  as `priv/native/liblockstep_nif.so`, where `Lockstep.Native` loads it.

  It lives in `mix.exs` because Mix runs compilers before `lib/` is compiled,
  and it runs first so the library exists when the Elixir compiler executes
  `Lockstep.Native`'s `@on_load` hook.

  Cargo is invoked on every compile: its freshness check is exact and takes a
  few tens of milliseconds, unlike a one-second-granularity mtime check of our
  own. The library is copied only when its bytes changed, through a temporary
  file and a rename, so a VM that has the old file mapped is never disturbed.

  ## Cargo profile

  `:prod` always builds `release`. Other environments build `release` too
  unless `LOCKSTEP_CARGO_PROFILE` is set to `debug` or `release`. Release is the
  default because the scheduler runs on every sync point of every explored
  schedule: tests run many schedules, and an optimised engine repays its
  extra build time within a single test run. Measured on a 2-core machine: a
  clean build takes 10.0 s in release against 7.9 s in debug, a rebuild after
  a change to the NIF crate about 2 s in either, and a no-op compile about
  40 ms on top of Mix's own start-up.

  ## Options

    * `--warnings-as-errors` - fails the build when rustc reports warnings

  Cargo's output is streamed as it runs; errors and warnings are also returned
  as diagnostics pointing at the Rust source.
  """

  use Mix.Task.Compiler

  @crate "lockstep_nif"
  @library "lib#{@crate}.so"
  @profiles ~w(debug release)

  @impl Mix.Task.Compiler
  def run(args) do
    {opts, _, _} = OptionParser.parse(args, switches: [warnings_as_errors: :boolean])

    with {:ok, profile} <- profile(),
         {:ok, cargo} <- cargo_or_skip(),
         {:ok, output} <- cargo_build(cargo, profile),
         diagnostics = parse_diagnostics(output),
         :ok <- check_warnings(diagnostics, opts),
         {:ok, status} <- install(built_library(profile)) do
      {status, diagnostics}
    else
      {:error, diagnostics} when is_list(diagnostics) ->
        {:error, diagnostics}

      :skip ->
        {:noop, []}

      {:error, message} ->
        Mix.shell().error("** Could not build the Lockstep NIF: #{message}")
        {:error, [error(message)]}
    end
  end

  @impl Mix.Task.Compiler
  def manifests, do: [manifest()]

  @impl Mix.Task.Compiler
  def clean do
    File.rm(installed_library())
    File.rm(manifest())
    :ok
  end

  defp manifest, do: Path.join(Mix.Project.manifest_path(), "compile.lockstep_native")

  defp root, do: Path.dirname(Mix.Project.project_file())

  defp installed_library, do: Path.join([root(), "priv", "native", @library])

  defp built_library(profile) do
    target_dir = System.get_env("CARGO_TARGET_DIR") || Path.join(root(), "target")
    Path.join([Path.expand(target_dir, root()), profile, @library])
  end

  defp profile do
    case {Mix.env(), System.get_env("LOCKSTEP_CARGO_PROFILE")} do
      {:prod, _} ->
        {:ok, "release"}

      {_, nil} ->
        {:ok, "release"}

      {_, profile} when profile in @profiles ->
        {:ok, profile}

      {_, other} ->
        {:error, "LOCKSTEP_CARGO_PROFILE must be debug or release, got: #{inspect(other)}"}
    end
  end

  # Without cargo the NIF is not built, and that is not an error: a library that routes its
  # calls through Lockstep compiles and runs for its users without Rust; only starting a run
  # needs the NIF (`Lockstep.Native.ensure!/0` says so, and how to get it). Said once per
  # build directory, not on every compile.
  defp cargo_or_skip do
    notice = Path.join(Mix.Project.manifest_path(), "lockstep_native.skipped")

    case cargo() do
      {:ok, cargo} ->
        File.rm(notice)
        {:ok, cargo}

      {:error, message} ->
        unless File.exists?(notice) do
          Mix.shell().info(
            "Lockstep: #{message}. The NIF is not built: the pass-through API works, " <>
              "runs and checks need it (install Rust, then `mix deps.compile lockstep --force`)."
          )

          File.mkdir_p!(Path.dirname(notice))
          File.write!(notice, message)
        end

        :skip
    end
  end

  defp cargo do
    # rustup's default place, under $HOME as the shell sees it.
    fallback = Path.join(System.get_env("HOME") || System.user_home() || "/", ".cargo/bin/cargo")

    cond do
      path = System.find_executable("cargo") ->
        {:ok, path}

      File.regular?(fallback) ->
        {:ok, fallback}

      true ->
        {:error, "cargo not found on PATH; install Rust (https://rustup.rs) to build the NIF"}
    end
  end

  defp cargo_build(cargo, profile) do
    args =
      ["build", "-p", @crate, "--color", "never"] ++
        if(profile == "release", do: ["--release"], else: [])

    port =
      Port.open({:spawn_executable, cargo}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        {:line, 4096},
        {:args, args},
        {:cd, root()}
      ])

    case collect(port, [], "", false) do
      {0, lines} ->
        {:ok, lines}

      {status, lines} ->
        diagnostics = parse_diagnostics(lines)
        errors = for %{severity: :error} = d <- diagnostics, do: d

        Mix.shell().error(
          "** Could not build the Lockstep NIF: `cargo #{Enum.join(args, " ")}` " <>
            "exited with status #{status} (see cargo's output above)"
        )

        {:error,
         if(errors == [], do: [error("cargo exited with status #{status}")], else: errors)}
    end
  end

  # Streams cargo's output line by line. The lone "Finished" line of a build
  # with nothing to do is held back so that a no-op compile stays quiet.
  defp collect(port, lines, partial, working?) do
    receive do
      {^port, {:data, {:noeol, chunk}}} ->
        collect(port, lines, partial <> chunk, working?)

      {^port, {:data, {:eol, chunk}}} ->
        line = partial <> chunk
        working? = working? or not String.match?(line, ~r/^\s*Finished /)
        if working?, do: Mix.shell().info(line)
        collect(port, [line | lines], "", working?)

      {^port, {:exit_status, status}} ->
        {status, Enum.reverse(lines)}
    end
  end

  @header ~r/^(error|warning)(?:\[\w+\])?: (.*)$/
  @location ~r/^\s*--> (.+):(\d+):(\d+)$/
  @summary ~r/^(could not compile|build failed|`\S+` \(.*\) generated \d+ warnings?)/

  # Turns rustc's human-readable output into Mix diagnostics: each
  # "error: ..." or "warning: ..." header, located by the "-->" line under it.
  defp parse_diagnostics(lines) do
    lines
    |> Enum.reduce([], fn line, acc ->
      case {Regex.run(@header, line), Regex.run(@location, line), acc} do
        {[_, severity, message], _, acc} ->
          [{String.to_atom(severity), message, nil} | acc]

        {nil, [_, file, line, col], [{severity, message, nil} | acc]} ->
          position = {String.to_integer(line), String.to_integer(col)}
          [{severity, message, {file, position}} | acc]

        _ ->
          acc
      end
    end)
    |> Enum.reverse()
    |> Enum.reject(fn {_, message, _} -> String.match?(message, @summary) end)
    |> Enum.map(fn
      {severity, message, nil} ->
        diagnostic(severity, message, Path.join(root(), "Cargo.toml"), 0)

      {severity, message, {file, position}} ->
        diagnostic(severity, message, Path.expand(file, root()), position)
    end)
  end

  defp check_warnings(diagnostics, opts) do
    if Keyword.get(opts, :warnings_as_errors, false) and
         Enum.any?(diagnostics, &(&1.severity == :warning)) do
      Mix.shell().error("** Rust warnings are treated as errors (--warnings-as-errors)")
      {:error, Enum.map(diagnostics, &%{&1 | severity: :error})}
    else
      :ok
    end
  end

  defp install(source) do
    target = installed_library()

    with {:ok, bytes} <- read(source) do
      if File.read(target) == {:ok, bytes} do
        {:ok, :noop}
      else
        temp = "#{target}.#{System.unique_integer([:positive])}.tmp"
        File.mkdir_p!(Path.dirname(target))
        File.write!(temp, bytes)
        File.rename!(temp, target)
        File.mkdir_p!(Path.dirname(manifest()))
        File.write!(manifest(), target)
        # On a clean tree priv/ did not exist when Mix built _build/<env>/lib/lockstep,
        # so the priv link is missing until the structure is built again.
        Mix.Project.build_structure()
        {:ok, :ok}
      end
    end
  end

  defp read(source) do
    case File.read(source) do
      {:ok, bytes} ->
        {:ok, bytes}

      {:error, reason} ->
        {:error, "cargo did not produce #{source}: #{:file.format_error(reason)}"}
    end
  end

  defp error(message), do: diagnostic(:error, message, Path.join(root(), "Cargo.toml"), 0)

  defp diagnostic(severity, message, file, position) do
    %Mix.Task.Compiler.Diagnostic{
      compiler_name: "lockstep_native",
      file: file,
      message: message,
      position: position,
      severity: severity
    }
  end
end

defmodule Lockstep.MixProject do
  use Mix.Project

  def project do
    [
      app: :lockstep,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      compilers: [:lockstep_native | Mix.compilers()],
      elixirc_paths: elixirc_paths(Mix.env()),
      deps: []
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end

  defp elixirc_paths(:prod), do: ["lib"]
  defp elixirc_paths(_), do: ["lib", "examples", "test/support"]
end

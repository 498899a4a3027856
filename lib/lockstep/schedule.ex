defmodule Lockstep.Schedule do
  @moduledoc """
  A failing run written down: which test, which strategy and seeds, how it failed, and the
  process picked at each step. Replaying those choices (`Lockstep.Replay`) runs the program
  through the very same interleaving again.

  When a hunt fails, the runner saves the failing run as a schedule file next to its text
  report and names both in the `Lockstep.BugFound` message (`:schedule_path`):

      Schedule: _build/test/lockstep/CounterTest-two_increments-seed7-iter3-81234-5.json
      Replay: mix lockstep.replay _build/test/lockstep/CounterTest-two_increments-seed7-iter3-81234-5.json

  ## The file

  Readable JSON, one field per line and one trace event per line, so files diff well. The
  engine reads and writes it, and checks it on both ways: a file with another `format`, a
  `version` this Lockstep does not read, a missing or malformed field, or fields that contradict
  each other is refused with a message naming the problem. `created_by`, `test`,
  `expected_steps`, `detail`, `shrunk_from` and `processes` may be absent; every other field
  below is required (`trace` too: a run with no events has `"trace": []`).

    * `format` - always `"lockstep-schedule"`; `version` - the format version (1)
    * `created_by` - `"lockstep 0.1.0"`
    * `test` - `{module, name, file, line}` of the `ctest`, or `null` (or absent) for runs
      started with `Lockstep.Runner.run/2`; `file` is relative to the project root
    * `strategy` - `{name, params, text}`: `"pct"`, `{"depth": 3}` and the option as written
      (`"{:pct, depth: 3}"`); `name` is one of `pct`, `fair_pct`, `pos`, `idpct`, `random`
    * `seed`, `iteration`, `iter_seed` - the hunt's seed, the failing iteration (zero-based)
      and that iteration's own seed; `expected_steps` - the run-length estimate the strategy
      was given (PCT places its change points with it)
    * `settings` - `{max_steps, allow_crashes, fail_on_blocked, step_limit,
      fail_on_abnormal_exit, timers, settle, time_per_step, clock_start, faults, node}`, the
      run options that change what a replay does (`settle` is `null` for `:infinity`,
      `clock_start` in ms since the Unix epoch, `faults` `{partitions, crashes}`, `node` the
      run's own node or `null`); files written before the last seven existed read with their
      defaults
    * `steps` - the number of steps; `category` - `"exception"`, `"crash"`,
      `"exit_signal"`, `"deadlock"`, `"left_blocked"`, `"step_limit"`, `"watchdog"`,
      `"escape"`, `"diverged"`, `"aborted"` (any other is refused); `detail` - the failure as
      text
    * `choices` - the process id picked at each step (what strict replay follows); with
      `timers: :race`, `4294967295` marks a step at which the clock jumped to the next timer
    * `shrunk_from` - `null`, or `{steps, preemptions, choices}` of the schedule this one was
      shrunk from (`choices` optional)
    * `processes` - `[{id, name}]`, `name` the registered name as Elixir prints it, or `null`
    * `trace` - `[{step, time, proc, kind, text}]`: every event of the run, `kind` its name
      (`"send"`, `"receive"`, ...) and `text` what the report prints for it

  ## Where files go

  Into the `:trace_dir` option of `Lockstep.Runner.run/2` and `ctest`, else the directory in
  the `LOCKSTEP_SCHEDULE_DIR` environment variable, else `_build/<env>/lockstep` inside a Mix
  project (the system's temporary directory otherwise). Names are built from the test, the
  seed, the iteration, the OS process id and a counter, and each file is created exclusively
  (an existing file is never overwritten; the name is retried), so tests running in parallel,
  in one VM or in several, never collide.

  ## In Elixir

  `load/1` reads a file into this struct: `test` is a map with string `:module` and `:name`,
  `strategy` the option as Elixir spells it (`:pct`, `{:pct, depth: 2}`), `category` an atom,
  `settings` a map with atom keys, `trace` a list of maps with `:step`, `:time`, `:proc`,
  `:kind` and `:text`. `save/2` writes a struct under a directory; `write/2` to an exact path.
  """

  alias Lockstep.{Native, Options, ScheduleError}

  @format "lockstep-schedule"
  @version 1

  defstruct version: @version,
            created_by: nil,
            test: nil,
            strategy: :pct,
            seed: 0,
            iteration: 0,
            iter_seed: 0,
            expected_steps: nil,
            settings: %{
              max_steps: 1000,
              allow_crashes: false,
              fail_on_blocked: false,
              step_limit: :fail,
              fail_on_abnormal_exit: false,
              timers: :idle,
              settle: 5_000,
              time_per_step: 0,
              clock_start: 1_767_225_600_000,
              faults: [],
              node: nil
            },
            steps: 0,
            category: nil,
            detail: "",
            choices: [],
            shrunk_from: nil,
            processes: [],
            trace: [],
            path: nil

  @typedoc """
  A schedule. `path` is the file it was loaded from or saved to (not part of the file).
  """
  @type t :: %__MODULE__{
          version: pos_integer(),
          created_by: String.t() | nil,
          test:
            %{
              module: String.t(),
              name: String.t(),
              file: String.t() | nil,
              line: pos_integer() | nil
            }
            | nil,
          strategy: term(),
          seed: non_neg_integer(),
          iteration: non_neg_integer(),
          iter_seed: non_neg_integer(),
          expected_steps: non_neg_integer() | nil,
          settings: %{
            max_steps: pos_integer(),
            allow_crashes: boolean(),
            fail_on_blocked: boolean(),
            step_limit: :fail | :stop,
            fail_on_abnormal_exit: boolean(),
            timers: :idle | :race,
            settle: non_neg_integer() | :infinity,
            time_per_step: non_neg_integer(),
            clock_start: non_neg_integer(),
            faults: [partitions: non_neg_integer(), crashes: non_neg_integer()],
            node: atom() | nil
          },
          steps: non_neg_integer(),
          category: atom() | String.t(),
          detail: String.t(),
          choices: [non_neg_integer()],
          shrunk_from:
            %{
              steps: non_neg_integer(),
              preemptions: non_neg_integer(),
              choices: [non_neg_integer()] | nil
            }
            | nil,
          processes: [%{id: non_neg_integer(), name: String.t() | nil}],
          trace: [
            %{
              step: non_neg_integer(),
              time: non_neg_integer(),
              proc: non_neg_integer() | nil,
              kind: String.t(),
              text: String.t(),
              fields: %{String.t() => boolean() | integer() | String.t()}
            }
          ],
          path: Path.t() | nil
        }

  @doc "The format version this Lockstep writes and reads."
  @spec version() :: pos_integer()
  def version, do: @version

  # ----- reading -----------------------------------------------------------------------------

  @doc """
  Reads a schedule file. Returns `{:error, message}` when the file cannot be read or is not a
  schedule this Lockstep reads; the message names the file and the problem.
  """
  @spec load(Path.t()) :: {:ok, t()} | {:error, String.t()}
  def load(path) do
    case File.read(path) do
      {:ok, text} ->
        case from_json(text) do
          {:ok, schedule} -> {:ok, %{schedule | path: path}}
          {:error, why} -> {:error, "#{path}: #{why}"}
        end

      {:error, reason} ->
        {:error, "#{path}: cannot read the schedule file: #{:file.format_error(reason)}"}
    end
  end

  @doc "Like `load/1`, but raises `Lockstep.ScheduleError`."
  @spec load!(Path.t()) :: t()
  def load!(path) do
    case load(path) do
      {:ok, schedule} -> schedule
      {:error, message} -> raise ScheduleError, message: message, path: path
    end
  end

  @doc "Reads a schedule from JSON text (the contents of a file)."
  @spec from_json(binary()) :: {:ok, t()} | {:error, String.t()}
  def from_json(text) when is_binary(text) do
    case Native.schedule_decode(text) do
      {:ok, map} -> {:ok, from_map(map)}
      {:error, why} -> {:error, why}
    end
  end

  # Keys are spelled out as literals so that their atoms exist before the engine decodes a file
  # (it makes map keys atoms only when the atom already exists).
  defp from_map(m) do
    %__MODULE__{
      version: m.version,
      created_by: m.created_by,
      test: m.test && pick(m.test, [:module, :name, :file, :line]),
      strategy: strategy_term(pick(m.strategy, [:name, :params, :text])),
      seed: m.seed,
      iteration: m.iteration,
      iter_seed: m.iter_seed,
      expected_steps: m.expected_steps,
      settings: settings(m.settings),
      steps: m.steps,
      category: existing_atom(m.category),
      detail: m.detail,
      choices: m.choices,
      shrunk_from: m.shrunk_from && pick(m.shrunk_from, [:steps, :preemptions, :choices]),
      processes: Enum.map(m.processes, &pick(&1, [:id, :name])),
      trace: Enum.map(m.trace, &event/1)
    }
  end

  defp pick(map, keys), do: Map.new(keys, &{&1, Map.get(map, &1)})

  # A trace event as read: its fields (absent in older files) with string keys.
  defp event(e) do
    e
    |> pick([:step, :time, :proc, :kind, :text])
    |> Map.put(:fields, Map.new(Map.get(e, :fields) || %{}, fn {k, v} -> {to_string(k), v} end))
  end

  # The file's settings (the engine filled in defaults for fields older files lack).
  defp settings(s) do
    s
    |> pick([:max_steps, :allow_crashes, :fail_on_blocked, :fail_on_abnormal_exit])
    |> Map.merge(%{
      step_limit: if(s[:step_limit] == "stop", do: :stop, else: :fail),
      timers: if(s[:timers] == "race", do: :race, else: :idle),
      settle: s[:settle] || :infinity,
      time_per_step: s[:time_per_step],
      clock_start: s[:clock_start],
      faults: faults_in(s[:faults]),
      node: s[:node] && String.to_atom(s[:node])
    })
  end

  defp faults_in(nil), do: []

  defp faults_in(f) do
    for key <- [:partitions, :crashes], (f[key] || 0) > 0, do: {key, f[key]}
  end

  defp settings_out(s) do
    defaults = %__MODULE__{}.settings
    s = Map.merge(defaults, s)

    %{s | settle: if(s.settle == :infinity, do: nil, else: s.settle)}
    |> Map.update!(:clock_start, &Options.clock_ms/1)
    |> Map.update!(:faults, &Map.new/1)
    |> Map.update!(:node, &(&1 && Atom.to_string(&1)))
  end

  # The option as written, when it is a plain literal; else the structured name and params.
  defp strategy_term(%{text: text} = spec) when is_binary(text) do
    with {:ok, ast} <- Code.string_to_quoted(text, existing_atoms_only: true),
         ast = Macro.prewalk(ast, &integer_range/1),
         true <- Macro.quoted_literal?(ast) do
      {value, _} = Code.eval_quoted(ast)
      value
    else
      _ -> strategy_term(%{spec | text: nil})
    end
  end

  defp strategy_term(%{name: name, params: params}) when map_size(params) == 0,
    do: existing_atom(name)

  defp strategy_term(%{name: name, params: params}) do
    {existing_atom(name), Enum.map(params, fn {k, v} -> {existing_atom(k), v} end)}
  end

  # `a..b` of integer literals (as in `{:idpct, depth: 1..5}`) is a literal for this purpose.
  defp integer_range({:.., _, [a, b]}) when is_integer(a) and is_integer(b),
    do: Macro.escape(a..b)

  defp integer_range(ast), do: ast

  defp existing_atom(name) when is_atom(name), do: name

  defp existing_atom(name) when is_binary(name) do
    String.to_existing_atom(name)
  rescue
    ArgumentError -> name
  end

  @doc """
  How reports name process `id` of this schedule's run: `P1`, or `P1(:counter)` when it was
  registered.

  Each call looks through the process list; to name many processes (a whole trace), build the
  lookup once with `process_aliases/1`.
  """
  @spec process_alias(t(), non_neg_integer()) :: String.t()
  def process_alias(%__MODULE__{processes: processes}, id) do
    case Enum.find(processes, &(&1.id == id)) do
      %{name: name} -> alias_text(id, name)
      nil -> alias_text(id, nil)
    end
  end

  @doc """
  `process_alias/2` for every process at once: a function from a process id to its name in
  reports, backed by a map built once, so naming each of a trace's events costs the same however
  many processes the run had.
  """
  @spec process_aliases(t()) :: (non_neg_integer() -> String.t())
  def process_aliases(%__MODULE__{processes: processes}) do
    # The first entry of an id wins, as in process_alias/2.
    names = Enum.reduce(processes, %{}, &Map.put_new(&2, &1.id, &1.name))
    fn id -> alias_text(id, Map.get(names, id)) end
  end

  defp alias_text(id, name) when is_binary(name), do: "P#{id}(#{name})"
  defp alias_text(id, _), do: "P#{id}"

  # ----- writing -----------------------------------------------------------------------------

  @doc """
  The schedule as JSON text, checked by the engine. `{:error, message}` names the field at
  fault.
  """
  @spec to_json(t()) :: {:ok, binary()} | {:error, String.t()}
  def to_json(%__MODULE__{} = s), do: Native.schedule_encode(to_map(s))

  defp to_map(s) do
    %{
      format: @format,
      version: s.version,
      created_by: s.created_by,
      test: s.test,
      strategy: strategy_spec(s.strategy),
      seed: s.seed,
      iteration: s.iteration,
      iter_seed: s.iter_seed,
      expected_steps: s.expected_steps,
      settings: settings_out(s.settings),
      steps: s.steps,
      category: s.category,
      detail: s.detail,
      choices: s.choices,
      shrunk_from: s.shrunk_from,
      processes: s.processes,
      trace: s.trace
    }
  end

  # A strategy the options accept is written with the engine's parameters (`{"depth": 3}`,
  # `{"depth_min": 1, "depth_max": 5}`); anything else (read from a newer file) as it came.
  defp strategy_spec(s) do
    Options.validate!(strategy: s)
    name = if is_atom(s), do: s, else: elem(s, 0)
    %{name: name, params: Map.delete(Options.engine_strategy(s), :strategy), text: inspect(s)}
  rescue
    ArgumentError -> other_strategy_spec(s)
  end

  defp other_strategy_spec(name) when is_atom(name),
    do: %{name: name, params: %{}, text: inspect(name)}

  defp other_strategy_spec({name, params} = s) when is_atom(name) and is_list(params) do
    if Keyword.keyword?(params),
      do: %{name: name, params: Map.new(params), text: inspect(s)},
      else: %{name: inspect(s), params: %{}, text: inspect(s)}
  end

  defp other_strategy_spec(other),
    do: %{name: inspect(other), params: %{}, text: inspect(other)}

  @doc """
  Writes the schedule into `dir` (created if missing) under a new, unique name and returns its
  path. The name is made of the test, the seed, the iteration, the OS process id and a counter;
  the file is created exclusively, and another name is tried if it exists, so parallel writers
  never collide.
  """
  @spec save(t(), Path.t()) :: {:ok, Path.t()} | {:error, String.t()}
  def save(%__MODULE__{} = s, dir) do
    with {:ok, json} <- to_json(s) do
      create_unique(dir, base_name(s), ".json", json)
    end
  end

  @doc "Writes the schedule to exactly `path`, replacing any file there."
  @spec write(t(), Path.t()) :: :ok | {:error, String.t()}
  def write(%__MODULE__{} = s, path) do
    with {:ok, json} <- to_json(s) do
      case File.write(path, json) do
        :ok -> :ok
        {:error, reason} -> {:error, "cannot write #{path}: #{:file.format_error(reason)}"}
      end
    end
  end

  defp base_name(%{test: test, seed: seed, iteration: i}) do
    slug =
      case test do
        %{module: m, name: n} -> (m <> "-" <> n) |> String.replace(~r/[^A-Za-z0-9_.-]+/, "_")
        _ -> "run"
      end

    "#{String.slice(slug, 0, 80)}-seed#{seed}-iter#{i}"
  end

  @doc false
  # Creates `dir/base-<os pid>-<n><ext>` exclusively with `contents`, trying new counters while
  # the name is taken. Also used by the runner for the text report when no schedule is written.
  @spec create_unique(Path.t(), String.t(), String.t(), iodata()) ::
          {:ok, Path.t()} | {:error, String.t()}
  def create_unique(dir, base, ext, contents) do
    case File.mkdir_p(dir) do
      :ok -> try_create(dir, base, ext, contents, 20)
      {:error, reason} -> {:error, "cannot create #{dir}: #{:file.format_error(reason)}"}
    end
  end

  defp try_create(dir, _base, _ext, _contents, 0),
    do: {:error, "could not find a free file name in #{dir}"}

  defp try_create(dir, base, ext, contents, tries) do
    name = "#{base}-#{System.pid()}-#{System.unique_integer([:positive, :monotonic])}#{ext}"
    path = Path.join(dir, name)

    case File.open(path, [:write, :exclusive, :binary]) do
      {:ok, io} ->
        result = IO.binwrite(io, contents)
        File.close(io)

        case result do
          :ok -> {:ok, path}
          {:error, reason} -> {:error, "cannot write #{path}: #{inspect(reason)}"}
        end

      {:error, :eexist} ->
        try_create(dir, base, ext, contents, tries - 1)

      {:error, reason} ->
        {:error, "cannot create #{path}: #{:file.format_error(reason)}"}
    end
  end

  # ----- from a failed run -------------------------------------------------------------------

  @doc false
  # The schedule of a failed iteration: `f` is the runner's failure map, `cfg` its config.
  @spec from_failure(map(), map()) :: t()
  def from_failure(f, cfg) do
    %__MODULE__{
      created_by: "lockstep #{lockstep_version()}",
      test: test_identity(cfg[:test]),
      strategy: cfg.strategy,
      seed: cfg.seed,
      iteration: f.iteration,
      iter_seed: f.iter_seed,
      expected_steps: f[:expected_steps],
      settings: Map.take(cfg, Options.run_settings()),
      steps: length(f.schedule),
      category: f.category,
      detail: printable(Lockstep.Report.detail_text(f)),
      choices: f.schedule,
      shrunk_from: f[:shrunk_from],
      processes:
        Enum.map(f.processes, fn {id, _pid, name} ->
          %{id: id, name: name && inspect(name)}
        end),
      trace:
        f.trace
        |> Lockstep.Report.events(f.processes, f[:message_ids], f[:nodes])
        |> Enum.map(fn e ->
          fields =
            Map.new(e.fields, fn {k, v} -> {k, if(is_binary(v), do: printable(v), else: v)} end)

          %{e | text: printable(e.text), fields: fields}
        end)
    }
  end

  # A user's exception message may hold bytes that are not UTF-8; JSON text cannot.
  # The invalid stretches are written as Elixir binaries (`<<255>>`).
  defp printable(text) do
    if String.valid?(text) do
      text
    else
      text
      |> String.chunk(:valid)
      |> Enum.map_join(fn chunk -> if String.valid?(chunk), do: chunk, else: inspect(chunk) end)
    end
  end

  defp lockstep_version do
    # Loaded (not started) is enough to read the version, also in a bare iex.
    _ = Application.load(:lockstep)

    case Application.spec(:lockstep, :vsn) do
      nil -> "(unknown version)"
      vsn -> to_string(vsn)
    end
  end

  defp test_identity(%{module: module, name: name} = test) do
    %{
      module: if(is_atom(module), do: inspect(module), else: to_string(module)),
      name: to_string(name),
      file: test[:file] && relative(test[:file]),
      line: test[:file] && test[:line]
    }
  end

  defp test_identity(_), do: nil

  defp relative(file) do
    file = to_string(file)
    rel = Path.relative_to_cwd(file)
    if Path.type(rel) == :relative, do: rel, else: file
  end
end

defmodule Lockstep.Native do
  # The Rust engine, loaded from priv/native/liblockstep_nif.so (built by the
  # :lockstep_native compiler in mix.exs). Only NIF stubs live here; the public
  # API is a layer above. The NIF is needed only where runs happen: a library
  # that routes its calls through Lockstep works without it (and without cargo)
  # for its own users, so a library that cannot be loaded is remembered, not
  # fatal, and `ensure!/0` (called where runs and checks start) raises one
  # clear error saying how to get it.
  @moduledoc false

  @on_load :load_nif

  @doc false
  def load_nif do
    path = library_path()

    case :erlang.load_nif(String.to_charlist(path), 0) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        :persistent_term.put({__MODULE__, :load_error}, {reason, text, path <> ".so"})
        :ok
    end
  end

  @doc false
  # Raises Lockstep.Error when the NIF is not loaded, saying why and how to build it.
  @spec ensure!() :: :ok
  def ensure! do
    case :persistent_term.get({__MODULE__, :load_error}, nil) do
      nil -> :ok
      {reason, text, path} -> raise Lockstep.Error, message: unavailable(reason, text, path)
    end
  end

  @doc false
  def unavailable(reason, text, path) do
    "the Lockstep engine (its NIF) is not built here, so no run or check can start " <>
      "(#{reason}: #{text}; expected at #{path}). Lockstep's pass-through API works without it. " <>
      "To build it, install Rust (https://rustup.rs: cargo on PATH) and recompile Lockstep: " <>
      "`mix deps.compile lockstep --force` in a project that depends on it, `mix compile` in " <>
      "Lockstep itself (scripts/setup installs what is missing on a fresh machine)."
  end

  defp library_path do
    case :code.priv_dir(:lockstep) do
      {:error, _} -> Path.join([__DIR__, "..", "..", "priv", "native", "liblockstep_nif"])
      priv -> Path.join(priv, "native/liblockstep_nif")
    end
  end

  # NIF stubs

  def engine_version, do: :erlang.nif_error(:nif_not_loaded)
  def seed_iteration(_seed, _iteration), do: :erlang.nif_error(:nif_not_loaded)
  def run_new(_opts, _tag, _runner, _node), do: :erlang.nif_error(:nif_not_loaded)
  def explore_new(_opts), do: :erlang.nif_error(:nif_not_loaded)
  def explore_finish(_explorer, _failed), do: :erlang.nif_error(:nif_not_loaded)
  def explore_status(_explorer), do: :erlang.nif_error(:nif_not_loaded)
  def run_bind(_run, _id, _pid), do: :erlang.nif_error(:nif_not_loaded)
  def run_start(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_op(_run, _id, _op), do: :erlang.nif_error(:nif_not_loaded)
  def run_submit_for(_run, _id, _op), do: :erlang.nif_error(:nif_not_loaded)
  def run_start_for(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_consume(_run, _id, _index), do: :erlang.nif_error(:nif_not_loaded)
  def run_consume_scanned(_run, _id, _index, _rejected), do: :erlang.nif_error(:nif_not_loaded)
  def run_note_rejected(_run, _id, _rejections), do: :erlang.nif_error(:nif_not_loaded)
  def run_status(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_outcome(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_result(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_trace(_run, _max), do: :erlang.nif_error(:nif_not_loaded)
  def run_message_ids(_run, _max), do: :erlang.nif_error(:nif_not_loaded)
  def run_choices(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_procs(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_unreaped(_run, _ended_only), do: :erlang.nif_error(:nif_not_loaded)
  def run_abort(_run, _why), do: :erlang.nif_error(:nif_not_loaded)
  def run_annotate(_run, _id, _result), do: :erlang.nif_error(:nif_not_loaded)
  def run_release(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_statuses(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_fingerprint(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_reads_from(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_node_of(_run, _pid), do: :erlang.nif_error(:nif_not_loaded)
  def run_nodes(_run), do: :erlang.nif_error(:nif_not_loaded)
  def schedule_encode(_map), do: :erlang.nif_error(:nif_not_loaded)
  def schedule_decode(_json), do: :erlang.nif_error(:nif_not_loaded)
  def schedule_trace_json(_json), do: :erlang.nif_error(:nif_not_loaded)
  def run_preemptions(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_slice(_run, _from), do: :erlang.nif_error(:nif_not_loaded)
  def shrink_new(_choices, _preemptions), do: :erlang.nif_error(:nif_not_loaded)
  def shrink_next(_shrinker), do: :erlang.nif_error(:nif_not_loaded)

  def shrink_feedback(_shrinker, _same_failure, _choices, _preemptions),
    do: :erlang.nif_error(:nif_not_loaded)

  def shrink_info(_shrinker), do: :erlang.nif_error(:nif_not_loaded)
  def checker_parse(_text, _format, _strict), do: :erlang.nif_error(:nif_not_loaded)
  def checker_linearizable(_events, _opts), do: :erlang.nif_error(:nif_not_loaded)
  def checker_sequential(_events, _opts), do: :erlang.nif_error(:nif_not_loaded)
  def checker_causal(_events, _opts, _variant), do: :erlang.nif_error(:nif_not_loaded)
  def checker_check_paths(_paths, _opts), do: :erlang.nif_error(:nif_not_loaded)
  def checker_rules(_name), do: :erlang.nif_error(:nif_not_loaded)
  def checker_isolation(_history, _workload, _opts), do: :erlang.nif_error(:nif_not_loaded)
  def checker_external_new(_events, _opts, _initial), do: :erlang.nif_error(:nif_not_loaded)
  def checker_external_run(_check, _mode), do: :erlang.nif_error(:nif_not_loaded)
  def checker_external_answer(_check, _answers), do: :erlang.nif_error(:nif_not_loaded)
end

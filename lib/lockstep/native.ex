defmodule Lockstep.Native do
  # The Rust engine, loaded from priv/native/liblockstep_nif.so (built by the
  # :lockstep_native compiler in mix.exs). Only NIF stubs live here; the public
  # API is a layer above. If the library cannot be loaded, this module refuses
  # to load at all, so a missing build fails at the first call site instead of
  # surfacing later as :nif_not_loaded.
  @moduledoc false

  @on_load :load_nif

  @doc false
  def load_nif do
    path = library_path()

    case :erlang.load_nif(String.to_charlist(path), 0) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        IO.puts(:stderr, """
        ** (Lockstep) could not load the Lockstep NIF: #{reason}: #{text}
           expected at: #{path}.so
           Build it with `mix compile` (runs cargo), or run scripts/setup on a fresh machine.\
        """)

        {:error, {:lockstep_nif_not_loaded, reason}}
    end
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
  def run_bind(_run, _id, _pid), do: :erlang.nif_error(:nif_not_loaded)
  def run_start(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_op(_run, _id, _op), do: :erlang.nif_error(:nif_not_loaded)
  def run_submit_for(_run, _id, _op), do: :erlang.nif_error(:nif_not_loaded)
  def run_start_for(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_consume(_run, _id, _index), do: :erlang.nif_error(:nif_not_loaded)
  def run_status(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_outcome(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_trace(_run, _max), do: :erlang.nif_error(:nif_not_loaded)
  def run_choices(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_procs(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_unreaped(_run, _ended_only), do: :erlang.nif_error(:nif_not_loaded)
  def run_abort(_run, _why), do: :erlang.nif_error(:nif_not_loaded)
  def run_release(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_statuses(_run), do: :erlang.nif_error(:nif_not_loaded)
  def run_fingerprint(_run), do: :erlang.nif_error(:nif_not_loaded)
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
  def checker_isolation(_history, _workload, _opts), do: :erlang.nif_error(:nif_not_loaded)
  def checker_external_new(_events, _opts, _initial), do: :erlang.nif_error(:nif_not_loaded)
  def checker_external_run(_check, _mode), do: :erlang.nif_error(:nif_not_loaded)
  def checker_external_answer(_check, _answers), do: :erlang.nif_error(:nif_not_loaded)
end

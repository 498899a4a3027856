defmodule Lockstep.OtpDiff do
  # Differential testing of the OTP wrappers: one scenario, run with the real OTP module in a
  # plain process, with the Lockstep wrapper outside a run (which must pass through to OTP),
  # and with the Lockstep wrapper under several schedules of a Lockstep run. Results are
  # compared after replacing pids, references and stacktraces by placeholders.
  @moduledoc false

  import ExUnit.Assertions

  @doc """
  Runs `scenario.(real)` in a plain process, `scenario.(wrapper)` in a plain process and under
  `iterations` schedules of a run; asserts all results are equal and returns the normalized
  result.
  """
  def assert_same(scenario, real, wrapper, opts \\ []) do
    expected = norm(plain(fn -> scenario.(real) end))
    assert norm(plain(fn -> scenario.(wrapper) end)) == expected, "passthrough differs from OTP"

    results = fn -> scenario.(wrapper) end |> under_lockstep(opts) |> Enum.map(&norm/1)
    assert results != []

    for result <- Enum.uniq(results) do
      assert result == expected
    end

    expected
  end

  @doc "Runs `fun` in a fresh plain process and returns its value (or how the process died)."
  def plain(fun) do
    parent = self()
    tag = make_ref()

    {pid, mref} =
      spawn_monitor(fn ->
        send(parent, {tag, fun.()})
        # End abnormally so linked servers that do not trap exits go too.
        exit(:scenario_over)
      end)

    receive do
      {^tag, value} ->
        receive do
          {:DOWN, ^mref, _, _, _} -> :ok
        end

        value

      {:DOWN, ^mref, _, _, reason} ->
        {:scenario_died, reason}
    after
      5_000 ->
        Process.exit(pid, :kill)
        flunk("the plain scenario did not finish")
    end
  end

  @doc "Runs `fun` under `:iterations` schedules (default 12) and returns every result."
  def under_lockstep(fun, opts \\ []) do
    Lockstep.TestHelpers.inside_each(
      fun,
      Keyword.merge([iterations: 12, seed: 5, allow_crashes: true], opts)
    )
  end

  @doc "Replaces pids by `:pid`, references by `:ref` and stacktraces by `:stack`."
  def norm(pid) when is_pid(pid), do: :pid
  def norm(ref) when is_reference(ref), do: :ref

  def norm([{m, f, a, loc} | _] = list)
      when is_atom(m) and is_atom(f) and (is_integer(a) or is_list(a)) and is_list(loc),
      do: if(stacktrace?(list), do: :stack, else: Enum.map(list, &norm/1))

  def norm(list) when is_list(list), do: Enum.map(list, &norm/1)
  def norm(tuple) when is_tuple(tuple), do: tuple |> Tuple.to_list() |> norm() |> List.to_tuple()

  def norm(%{} = map),
    do: :maps.from_list(for {k, v} <- :maps.to_list(map), do: {norm(k), norm(v)})

  def norm(other), do: other

  defp stacktrace?(list) do
    Enum.all?(list, fn
      {m, f, a, loc} ->
        is_atom(m) and is_atom(f) and (is_integer(a) or is_list(a)) and is_list(loc)

      _ ->
        false
    end)
  end

  @doc "Receives the next message matching `pred` (through Lockstep, so in and out of runs)."
  def next(pred), do: Lockstep.recv_first(pred)

  @doc "Receives the next `{:DOWN, ref, ...}` and returns its reason."
  def down(ref) do
    {:DOWN, ^ref, :process, _, reason} = next(&match?({:DOWN, ^ref, _, _, _}, &1))
    reason
  end

  @doc "Receives the next `{:EXIT, _, reason}` and returns its reason."
  def exit_reason do
    {:EXIT, _, reason} = next(&match?({:EXIT, _, _}, &1))
    reason
  end
end

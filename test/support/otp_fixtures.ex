defmodule Lockstep.Fixtures.Worker do
  @moduledoc false
  # A supervised worker written only with Lockstep primitives, so it runs both inside a run and
  # on plain OTP (where the primitives fall back to the BEAM's). It speaks the gen call/cast
  # protocol through `Lockstep.Gen`.
  #
  # Options: `:id` (child id, default the module), `:name` (registered before start_link
  # returns), `:notify` (a pid told `{:started, id, pid}` on start and
  # `{:terminating, id, reason}` when the worker stops on an exit signal; implies trapping
  # exits), `:trap_exit`, `:ignore_shutdown` (traps exits and ignores them, so only a kill
  # stops it), `:start` (`:ignore` or `{:error, reason}` makes start_link return that),
  # `:restart`, `:shutdown`.

  alias Lockstep.Gen

  def child_spec(opts) do
    spec = %{id: Keyword.get(opts, :id, __MODULE__), start: {__MODULE__, :start_link, [opts]}}
    Map.merge(spec, Map.new(Keyword.take(opts, [:restart, :shutdown, :type, :significant])))
  end

  # With DynamicSupervisor's :extra_arguments, the extra argument comes first.
  def start_link(extra, opts), do: start_link(Keyword.put(opts, :extra, extra))

  def start_link(opts \\ []) do
    case Keyword.get(opts, :start, :ok) do
      :ok ->
        # Like GenServer.start_link/3: returns once the worker has initialised (trapping exits,
        # registered its name), so nothing can reach it half-started.
        parent = self()
        tag = make_ref()
        pid = Lockstep.spawn_link(fn -> init(parent, tag, opts) end)

        case Lockstep.recv_first(&match?({^tag, _}, &1)) do
          {^tag, :ready} -> {:ok, pid}
          {^tag, error} -> error
        end

      other ->
        other
    end
  end

  defp init(parent, tag, opts) do
    trap = opts[:trap_exit] || opts[:notify] != nil || opts[:ignore_shutdown] || false
    if trap, do: Lockstep.flag(:trap_exit, true)

    case register(opts[:name]) do
      :ok ->
        if notify = opts[:notify], do: Lockstep.send(notify, {:started, id(opts), self()})
        Lockstep.send(parent, {tag, :ready})
        loop(opts, 0)

      error ->
        Lockstep.send(parent, {tag, error})
    end
  end

  defp register(nil), do: :ok

  defp register(name) do
    Lockstep.register(self(), name)
    :ok
  rescue
    ArgumentError -> {:error, {:already_started, Lockstep.whereis(name)}}
  end

  defp id(opts), do: Keyword.get(opts, :id, __MODULE__)

  defp loop(opts, count) do
    case Lockstep.recv() do
      {:"$gen_call", from, :ping} ->
        Gen.reply(from, {:pong, count})
        loop(opts, count + 1)

      {:"$gen_call", from, :id} ->
        Gen.reply(from, id(opts))
        loop(opts, count)

      {:"$gen_call", from, :extra} ->
        Gen.reply(from, opts[:extra])
        loop(opts, count)

      {:"$gen_call", from, {:stop, reason}} ->
        Gen.reply(from, :ok)
        exit(reason)

      {:"$gen_call", _from, :crash} ->
        raise "worker crashed on request"

      {:"$gen_cast", {:exit, reason}} ->
        exit(reason)

      {:EXIT, _from, reason} ->
        cond do
          opts[:ignore_shutdown] ->
            loop(opts, count)

          notify = opts[:notify] ->
            Lockstep.send(notify, {:terminating, id(opts), reason})
            exit(reason)

          true ->
            exit(reason)
        end
    end
  end
end

defmodule Lockstep.Fixtures.Flaky do
  @moduledoc false
  # A start function that works once; every later start fails, so a supervisor's restarts of
  # it are retried until its intensity runs out. `gate` is a :counters reference.
  def start(gate) do
    if :counters.get(gate, 1) == 0 do
      :counters.add(gate, 1, 1)
      Lockstep.Fixtures.Worker.start_link(id: :flaky)
    else
      {:error, :unavailable}
    end
  end
end

defmodule Lockstep.Fixtures.ModSup do
  @moduledoc false
  # A module-based supervisor whose init/1 result is chosen by its argument.
  use Lockstep.Supervisor

  def start_link(arg, opts \\ []), do: Lockstep.Supervisor.start_link(__MODULE__, arg, opts)

  @impl true
  def init({:children, children, opts}), do: Lockstep.Supervisor.init(children, opts)
  def init({:return, value}), do: value
  def init({:fail, how}), do: Lockstep.Fixtures.fail(how)
end

defmodule Lockstep.Fixtures.ModDynSup do
  @moduledoc false
  # A module-based dynamic supervisor whose init/1 result is its argument.
  use Lockstep.DynamicSupervisor

  def start_link(result), do: Lockstep.DynamicSupervisor.start_link(__MODULE__, result)

  @impl true
  def init({:fail, how}), do: Lockstep.Fixtures.fail(how)
  def init(result), do: result
end

defmodule Lockstep.Fixtures do
  @moduledoc false

  @doc "Fails the way `how` names: `:raise`, `:exit`, or `{:throw, value}`."
  def fail(:raise), do: raise("init failed")
  def fail(:exit), do: exit(:init_exit)
  def fail({:throw, value}), do: throw(value)
end

defmodule Lockstep.OTPCase do
  @moduledoc false
  # Differential testing: a scenario written against Lockstep's API runs once on plain OTP
  # (outside any run, where the wrappers pass through) and under Lockstep for several
  # schedules; the normalized results must be equal.

  import ExUnit.Assertions

  @doc "Runs `fun` in a fresh plain process (no run) and returns its value."
  def outside(fun) do
    parent = self()
    tag = make_ref()

    {pid, mref} =
      spawn_monitor(fn ->
        send(parent, {tag, fun.()})
      end)

    receive do
      {^tag, value} ->
        receive do
          {:DOWN, ^mref, _, ^pid, _} -> value
        end

      {:DOWN, ^mref, _, ^pid, reason} ->
        flunk("the scenario crashed outside a run: #{inspect(reason)}")
    end
  end

  @doc "Runs `fun` under Lockstep for `iterations` schedules and returns every value."
  def inside_all(fun, opts \\ []) do
    Lockstep.TestHelpers.inside_each(
      fun,
      Keyword.merge([iterations: 8, seed: 11, max_steps: 5_000], opts)
    )
  end

  @doc """
  Asserts that `fun` gives the same normalized result on OTP and under Lockstep (every
  explored schedule). Returns the normalized result.
  """
  def same_as_otp(fun, opts \\ []) do
    expected = normalize(outside(fun))
    got = inside_all(fun, opts)
    assert got != [], "the run produced no result"

    for value <- got do
      assert normalize(value) == expected
    end

    expected
  end

  @doc """
  Replaces pids and references by `{:pid, n}` / `{:ref, n}` numbered by first appearance,
  and stack traces in `{exception, stacktrace}` by `:stacktrace`.
  """
  def normalize(term) do
    {term, _} = norm(term, %{})
    term
  end

  defp norm(pid, seen) when is_pid(pid), do: label(pid, :pid, seen)
  defp norm(ref, seen) when is_reference(ref), do: label(ref, :ref, seen)

  defp norm({%{__exception__: true} = e, [{_, _, _, _} | _]}, seen) do
    {e, seen} = norm(e, seen)
    {{e, :stacktrace}, seen}
  end

  defp norm(tuple, seen) when is_tuple(tuple) do
    {list, seen} = norm(Tuple.to_list(tuple), seen)
    {List.to_tuple(list), seen}
  end

  defp norm(list, seen) when is_list(list) do
    Enum.map_reduce(list, seen, &norm/2)
  end

  defp norm(%{} = map, seen) do
    {pairs, seen} = map |> Map.to_list() |> Enum.sort() |> norm(seen)
    {Map.new(pairs), seen}
  end

  defp norm(other, seen), do: {other, seen}

  defp label(x, kind, seen) do
    case seen do
      %{^x => n} ->
        {{kind, n}, seen}

      _ ->
        n = map_size(seen)
        {{kind, n}, Map.put(seen, x, n)}
    end
  end
end

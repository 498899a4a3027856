defmodule Lockstep.Peers do
  @moduledoc false
  # The BEAM nodes of a `nodes:` hunt. `nodes: k` starts k local peers with OTP's `:peer`
  # (stopped when the hunt ends); `nodes: [name, ...]` uses nodes that already run. Either way
  # the caller must be a distributed node: when it is not, distribution is started here (a
  # short name, `lockstep_<random>`), and an epmd daemon with it. Peers get the caller's code
  # path (`-pa`), so Lockstep, its NIF and every module compiled to disk load there; the
  # module of the hunted function is shipped as object code when it has none on disk but is
  # loaded from a binary (see `ship/2`).

  @doc "Starts or connects the nodes; returns `{nodes, stop}` where `stop.()` ends the ones started."
  @spec start(pos_integer() | [node()], module() | nil) :: {[node()], (() -> :ok)}
  def start(spec, mod) do
    ensure_distributed!()

    {nodes, stop} =
      case spec do
        k when is_integer(k) ->
          peers = for _ <- 1..k, do: start_peer()
          {Enum.map(peers, &elem(&1, 1)), fn -> Enum.each(peers, &stop_peer/1) end}

        names when is_list(names) ->
          for n <- names do
            Node.connect(n) == true or
              raise ArgumentError, "option :nodes: cannot connect to #{n}"
          end

          {names, fn -> :ok end}
      end

    try do
      instrumented = instrumented_here()

      for node <- nodes do
        ship(node, mod)
        Enum.each(instrumented, &ship_instrumented(node, &1))
      end
    rescue
      e ->
        stop.()
        reraise e, __STACKTRACE__
    end

    {nodes, stop}
  end

  defp ensure_distributed! do
    unless Node.alive?() do
      System.cmd("epmd", ["-daemon"])
      name = :"lockstep_#{System.unique_integer([:positive])}_#{:os.getpid()}"

      case Node.start(name, :shortnames) do
        {:ok, _} ->
          :ok

        {:error, why} ->
          raise ArgumentError, "option :nodes: cannot start distribution: #{inspect(why)}"
      end
    end
  end

  defp start_peer do
    # `-connect_all false`: the peers talk to the caller only, not to each other.
    paths = [~c"-connect_all", ~c"false" | Enum.flat_map(:code.get_path(), &[~c"-pa", &1])]
    name = :peer.random_name(~c"lockstep_peer")
    {:ok, pid, node} = :peer.start_link(%{name: name, args: paths, wait_boot: 30_000})
    # The peer's application environment (Lockstep reads a few keys) as the caller's.
    :erpc.call(node, :application, :ensure_all_started, [:elixir])
    {pid, node}
  end

  defp stop_peer({pid, _node}) do
    Process.unlink(pid)
    :peer.stop(pid)
  catch
    :exit, _ -> :ok
  end

  # Makes `mod` (the hunted function's module) loadable on `node`: nothing to do when the
  # node finds it on its code path; otherwise its object code goes over, when the caller has
  # it (on disk, or captured at compile time by `use Lockstep.Test`).
  defp ship(_node, nil), do: :ok

  defp ship(node, mod) do
    if :erpc.call(node, :code, :ensure_loaded, [mod]) == {:module, mod} do
      :ok
    else
      case object_code(mod) do
        {bin, file} ->
          {:module, ^mod} = :erpc.call(node, :code, :load_binary, [mod, file, bin])
          :ok

        nil ->
          raise ArgumentError,
                "option :nodes: module #{inspect(mod)} exists only in this node's memory " <>
                  "(no object code to send to #{node}); hunt a function of a compiled module"
      end
    end
  end

  # The modules rewritten on this node (by `Lockstep.instrument/1` at run time, or a test
  # module's `use Lockstep.Test, instrument: true`): a peer loads the original from disk, or
  # has none, so it gets the rewritten version. Modules rewritten on disk by the Mix compiler
  # are already rewritten where the peer loads them from.
  defp instrumented_here do
    for {m, _} <- :code.all_loaded(),
        Keyword.get(m.module_info(:attributes), :lockstep_instrumented) == [true],
        do: m
  end

  defp ship_instrumented(node, mod) do
    unless :erpc.call(node, Lockstep.Instrument, :instrumented?, [mod]) do
      case object_code(mod) do
        {bin, file} ->
          new =
            case Lockstep.Instrument.beam(bin) do
              {:ok, ^mod, new, _notes} -> new
              {:already, ^mod} -> bin
              {:error, why} -> raise ArgumentError, "option :nodes: #{why}"
            end

          :ok = :erpc.call(node, Lockstep.Instrument, :load, [mod, new, file])

        nil ->
          raise ArgumentError,
                "option :nodes: instrumented module #{inspect(mod)} has no object code to " <>
                  "send to #{node}"
      end
    end
  end

  defp object_code(mod) do
    case :code.get_object_code(mod) do
      {^mod, bin, file} ->
        {bin, file}

      :error ->
        case :persistent_term.get({__MODULE__, mod}, nil) do
          nil -> nil
          bin -> {bin, ~c"#{inspect(mod)}.beam"}
        end
    end
  end

  @doc false
  # `@after_compile` hook (set by `use Lockstep.Test`): keeps the module's object code, which
  # a module compiled in memory (an ExUnit test file) has nowhere else.
  def __after_compile__(env, bytecode) do
    :persistent_term.put({__MODULE__, env.module}, bytecode)
  end
end

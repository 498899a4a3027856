# The cost of instrumented code outside a run: the same module measured as compiled, then
# rewritten by Lockstep.instrument/1, side by side in one run. Run: scripts/bench instrument
Code.put_compiler_option(:debug_info, true)

{:module, _, plain_beam, _} =
  defmodule Bench.Plain do
    @moduledoc false
    use GenServer

    def ping_pong(n) do
      me = self()
      echo = spawn(fn -> echo_loop(me) end)

      Enum.each(1..n, fn i ->
        send(echo, {:ping, i})

        receive do
          {:pong, ^i} -> :ok
        end
      end)

      send(echo, :stop)
    end

    defp echo_loop(parent) do
      receive do
        {:ping, i} ->
          send(parent, {:pong, i})
          echo_loop(parent)

        :stop ->
          :ok
      end
    end

    def calls(server, n), do: Enum.each(1..n, fn i -> GenServer.call(server, {:echo, i}) end)

    def ets(table, n) do
      Enum.each(1..n, fn i ->
        :ets.insert(table, {i, i})
        [{^i, ^i}] = :ets.lookup(table, i)
      end)
    end

    @impl true
    def init(:ok), do: {:ok, nil}
    @impl true
    def handle_call({:echo, i}, _from, s), do: {:reply, i, s}
  end

defmodule Bench.Instrument do
  @n 100_000
  @rounds 5

  def run(plain_beam) do
    {:ok, Bench.Plain, instrumented_beam, _notes} = Lockstep.Instrument.beam(plain_beam)

    load = fn beam ->
      :code.purge(Bench.Plain)
      {:module, Bench.Plain} = :code.load_binary(Bench.Plain, ~c"bench/instrument.exs", beam)
    end

    {:ok, server} = GenServer.start_link(Bench.Plain, :ok)
    table = :ets.new(:bench_instrument, [:public])

    cases = [
      {"send/receive round trip", fn -> Bench.Plain.ping_pong(@n) end},
      {"GenServer.call", fn -> Bench.Plain.calls(server, @n) end},
      {"ETS insert + lookup", fn -> Bench.Plain.ets(table, @n) end}
    ]

    # Alternate the two versions so both see the same machine.
    results =
      for _round <- 1..@rounds, reduce: %{} do
        acc ->
          plain = measure(cases)
          load.(instrumented_beam)
          instrumented = measure(cases)
          load.(plain_beam)

          Enum.reduce(cases, acc, fn {name, _}, acc ->
            Map.update(
              acc,
              name,
              [{plain[name], instrumented[name]}],
              &[{plain[name], instrumented[name]} | &1]
            )
          end)
      end

    IO.puts("Instrumented code outside a run, #{@n} operations, best of #{@rounds} rounds:\n")
    IO.puts(String.pad_trailing("", 26) <> "   original   instrumented   ratio")

    for {name, _} <- cases do
      pairs = results[name]
      plain = pairs |> Enum.map(&elem(&1, 0)) |> Enum.min()
      inst = pairs |> Enum.map(&elem(&1, 1)) |> Enum.min()

      IO.puts(
        String.pad_trailing(name, 26) <>
          String.pad_leading("#{ns(plain)} ns", 11) <>
          String.pad_leading("#{ns(inst)} ns", 15) <>
          String.pad_leading(:erlang.float_to_binary(inst / plain, decimals: 2) <> "x", 8)
      )
    end
  end

  defp measure(cases) do
    Map.new(cases, fn {name, fun} ->
      {us, _} = :timer.tc(fun)
      {name, us}
    end)
  end

  defp ns(us), do: Float.round(us * 1000 / @n, 1)
end

Bench.Instrument.run(plain_beam)

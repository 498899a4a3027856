defmodule PlainCode.Counter do
  # Ordinary code, written with plain primitives: the instrumentation tests put it under
  # control without editing it.
  @moduledoc false

  def start, do: spawn(fn -> loop(0) end)

  def increment(counter) do
    send(counter, {:get, self()})

    value =
      receive do
        {:value, ^counter, v} -> v
      end

    send(counter, {:set, value + 1})
    :ok
  end

  def get(counter) do
    send(counter, {:get, self()})

    receive do
      {:value, ^counter, v} -> v
    after
      1_000 -> :timeout
    end
  end

  defp loop(n) do
    receive do
      {:get, from} ->
        send(from, {:value, self(), n})
        loop(n)

      {:set, v} ->
        loop(v)
    end
  end
end

defmodule PlainCode.Cache do
  @moduledoc false
  use GenServer

  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, :ok, opts)

  # Lookup, then insert on a miss: two clients can both miss and both count a miss.
  def fetch(server, key, fun) do
    case :ets.lookup(table(server), key) do
      [{^key, value}] ->
        value

      [] ->
        value = fun.()
        GenServer.call(server, {:put, key, value})
        value
    end
  end

  def misses(server), do: GenServer.call(server, :misses)
  def table(server), do: GenServer.call(server, :table)

  @impl true
  def init(:ok) do
    table = :ets.new(:plain_cache, [:set, :public])
    {:ok, %{table: table, misses: 0}}
  end

  @impl true
  def handle_call({:put, key, value}, _from, state) do
    :ets.insert(state.table, {key, value})
    {:reply, :ok, %{state | misses: state.misses + 1}}
  end

  def handle_call(:misses, _from, state), do: {:reply, state.misses, state}
  def handle_call(:table, _from, state), do: {:reply, state.table, state}
end

defmodule PlainCode.Clock do
  @moduledoc false
  def elapsed(fun) do
    t0 = System.monotonic_time(:millisecond)
    fun.()
    System.monotonic_time(:millisecond) - t0
  end

  def wait_for(tag, timeout) do
    receive do
      {^tag, value} -> {:ok, value}
    after
      timeout -> :timeout
    end
  end
end

defmodule PlainCode.SafeCounter do
  @moduledoc false
  # The correct twin of PlainCode.Counter: the increment is one message.
  def start, do: spawn(fn -> loop(0) end)
  def increment(counter), do: send(counter, :increment) && :ok

  def get(counter) do
    send(counter, {:get, self()})

    receive do
      {:value, ^counter, v} -> v
    end
  end

  defp loop(n) do
    receive do
      :increment ->
        loop(n + 1)

      {:get, from} ->
        send(from, {:value, self(), n})
        loop(n)
    end
  end
end

defmodule PlainCode.Receives do
  @moduledoc false
  # Receive forms the rewriter must keep exact: pinned variables, guards, several clauses,
  # after 0, a variable timeout, nested receives, no clauses at all.
  def pinned(ref, timeout) do
    receive do
      {^ref, :later} -> :later
      {^ref, n} when is_integer(n) and n > 10 -> {:big, n}
      {^ref, n} -> {:small, n}
    after
      timeout -> :timeout
    end
  end

  def now_or_never do
    receive do
      msg -> {:got, msg}
    after
      0 -> :empty
    end
  end

  def nested(ref) do
    receive do
      {^ref, :first} ->
        receive do
          {^ref, :second} -> :both
        after
          50 -> :only_first
        end
    end
  end

  def just_wait(ms) do
    receive do
    after
      ms -> :waited
    end
  end
end

defmodule PlainCode.Untouched do
  @moduledoc false
  # Plain primitives, never instrumented: the ctest lint warns about calls into it.
  def ping(pid), do: send(pid, :ping)
end

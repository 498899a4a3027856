defmodule Lockstep.Agent do
  @moduledoc """
  `Agent`'s API under Lockstep: state kept in a server process, read and changed with
  functions.

      {:ok, counter} = Lockstep.Agent.start_link(fn -> 0 end)
      Lockstep.Agent.update(counter, &(&1 + 1))
      Lockstep.Agent.get(counter, & &1)
      #=> 1

  Inside a run the agent is a `Lockstep.GenServer` speaking `Agent`'s protocol, so each
  `get/3`, `update/3`, `get_and_update/3` and `cast/2` is a call or cast whose interleaving with
  other clients is explored: the classic read-then-write race

      n = Lockstep.Agent.get(counter, & &1)
      Lockstep.Agent.update(counter, fn _ -> n + 1 end)

  loses updates in some schedules, where `get_and_update/3` does not. Outside a run every
  function calls the `Agent` function of the same name.

  Functions given as `fun` run inside the agent process; `{module, fun, args}` forms call
  `apply(module, fun, [state | args])` there, as `Agent` does.

  ## Differences from `Agent`

  Those of `Lockstep.GenServer` (the client API must be this module's, `:sys` requests go
  through `Lockstep.Sys`; a late reply after a timeout stays in the caller's mailbox). The
  default timeouts are 5000 ms of virtual time inside a run.
  """

  alias Lockstep.GenServer, as: Server

  @typedoc "An agent: a pid or a name, as `Agent.agent/0`."
  @type agent :: Agent.agent()

  @typedoc "The agent's state."
  @type state :: term()

  @doc "Starts an agent linked to the caller, with state `fun.()`. Options as `Agent.start_link/2`."
  @spec start_link((() -> term()), GenServer.options()) :: Agent.on_start()
  def start_link(fun, options \\ []) when is_function(fun, 0) do
    if Lockstep.managed?() do
      Server.start_link(__MODULE__.Server, fun, options)
    else
      Agent.start_link(fun, options)
    end
  end

  @doc "Starts an agent linked to the caller, with state `apply(module, fun, args)`."
  @spec start_link(module(), atom(), [term()], GenServer.options()) :: Agent.on_start()
  def start_link(module, fun, args, options \\ []) do
    if Lockstep.managed?() do
      Server.start_link(__MODULE__.Server, {module, fun, args}, options)
    else
      Agent.start_link(module, fun, args, options)
    end
  end

  @doc "Starts an agent without a link, with state `fun.()`."
  @spec start((() -> term()), GenServer.options()) :: Agent.on_start()
  def start(fun, options \\ []) when is_function(fun, 0) do
    if Lockstep.managed?() do
      Server.start(__MODULE__.Server, fun, options)
    else
      Agent.start(fun, options)
    end
  end

  @doc "Starts an agent without a link, with state `apply(module, fun, args)`."
  @spec start(module(), atom(), [term()], GenServer.options()) :: Agent.on_start()
  def start(module, fun, args, options \\ []) do
    if Lockstep.managed?() do
      Server.start(__MODULE__.Server, {module, fun, args}, options)
    else
      Agent.start(module, fun, args, options)
    end
  end

  @doc "Returns `fun.(state)`, computed in the agent."
  @spec get(agent(), (state() -> a), timeout()) :: a when a: var
  def get(agent, fun, timeout \\ 5000) when is_function(fun, 1) do
    if Lockstep.managed?(),
      do: Server.call(agent, {:get, fun}, timeout),
      else: Agent.get(agent, fun, timeout)
  end

  @doc "Returns `apply(module, fun, [state | args])`, computed in the agent."
  @spec get(agent(), module(), atom(), [term()], timeout()) :: term()
  def get(agent, module, fun, args, timeout \\ 5000) do
    if Lockstep.managed?(),
      do: Server.call(agent, {:get, {module, fun, args}}, timeout),
      else: Agent.get(agent, module, fun, args, timeout)
  end

  @doc """
  Runs `fun.(state)`, which must return `{value, new_state}`; returns `value` and keeps
  `new_state`, in one step of the agent. Any other return stops the agent with
  `{:bad_return_value, returned}`.
  """
  @spec get_and_update(agent(), (state() -> {a, state()}), timeout()) :: a when a: var
  def get_and_update(agent, fun, timeout \\ 5000) when is_function(fun, 1) do
    if Lockstep.managed?(),
      do: Server.call(agent, {:get_and_update, fun}, timeout),
      else: Agent.get_and_update(agent, fun, timeout)
  end

  @doc "Like `get_and_update/3`, with `apply(module, fun, [state | args])`."
  @spec get_and_update(agent(), module(), atom(), [term()], timeout()) :: term()
  def get_and_update(agent, module, fun, args, timeout \\ 5000) do
    if Lockstep.managed?(),
      do: Server.call(agent, {:get_and_update, {module, fun, args}}, timeout),
      else: Agent.get_and_update(agent, module, fun, args, timeout)
  end

  @doc "Replaces the state with `fun.(state)` and waits for it to be done. Returns `:ok`."
  @spec update(agent(), (state() -> state()), timeout()) :: :ok
  def update(agent, fun, timeout \\ 5000) when is_function(fun, 1) do
    if Lockstep.managed?(),
      do: Server.call(agent, {:update, fun}, timeout),
      else: Agent.update(agent, fun, timeout)
  end

  @doc "Like `update/3`, with `apply(module, fun, [state | args])`."
  @spec update(agent(), module(), atom(), [term()], timeout()) :: :ok
  def update(agent, module, fun, args, timeout \\ 5000) do
    if Lockstep.managed?(),
      do: Server.call(agent, {:update, {module, fun, args}}, timeout),
      else: Agent.update(agent, module, fun, args, timeout)
  end

  @doc "Replaces the state with `fun.(state)` without waiting. Always `:ok`."
  @spec cast(agent(), (state() -> state())) :: :ok
  def cast(agent, fun) when is_function(fun, 1) do
    if Lockstep.managed?(),
      do: Server.cast(agent, {:cast, fun}),
      else: Agent.cast(agent, fun)
  end

  @doc "Like `cast/2`, with `apply(module, fun, [state | args])`."
  @spec cast(agent(), module(), atom(), [term()]) :: :ok
  def cast(agent, module, fun, args) do
    if Lockstep.managed?(),
      do: Server.cast(agent, {:cast, {module, fun, args}}),
      else: Agent.cast(agent, module, fun, args)
  end

  @doc "Stops the agent with `reason`, as `Agent.stop/3`."
  @spec stop(agent(), term(), timeout()) :: :ok
  def stop(agent, reason \\ :normal, timeout \\ :infinity) do
    if Lockstep.managed?(),
      do: Server.stop(agent, reason, timeout),
      else: Agent.stop(agent, reason, timeout)
  end

  defmodule Server do
    # The agent's callbacks: the same requests as Agent's own server understands.
    @moduledoc false
    use GenServer

    @impl true
    def init(fun) do
      # As Agent.Server does: the process is known by the function it was started with.
      Process.put(:"$initial_call", initial_call(fun))
      {:ok, run(fun, [])}
    end

    defp initial_call({module, fun, args}), do: {module, fun, length(args)}

    defp initial_call(fun) do
      {:module, module} = Function.info(fun, :module)
      {:name, name} = Function.info(fun, :name)
      {module, name, 0}
    end

    @impl true
    def handle_call({:get, fun}, _from, state), do: {:reply, run(fun, [state]), state}

    def handle_call({:update, fun}, _from, state), do: {:reply, :ok, run(fun, [state])}

    def handle_call({:get_and_update, fun}, _from, state) do
      case run(fun, [state]) do
        {reply, new_state} -> {:reply, reply, new_state}
        other -> {:stop, {:bad_return_value, other}, state}
      end
    end

    @impl true
    def handle_cast({:cast, fun}, state), do: {:noreply, run(fun, [state])}

    @impl true
    def handle_info(_msg, state), do: {:noreply, state}

    defp run({module, fun, args}, extra), do: apply(module, fun, extra ++ args)
    defp run(fun, extra), do: apply(fun, extra)
  end
end

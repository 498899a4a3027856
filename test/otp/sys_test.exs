defmodule Lockstep.SysTest.Busy do
  # A server whose calls can keep it busy for a while, so that a system message waits.
  @moduledoc false
  use GenServer

  @impl true
  def init(n), do: {:ok, n}

  @impl true
  def handle_call(:get, _from, n), do: {:reply, n, n}
  def handle_call({:add, k}, _from, n), do: {:reply, n + k, n + k}

  def handle_call({:busy, notify, ms}, _from, n) do
    Lockstep.send(notify, :busy)
    Lockstep.sleep(ms)
    {:reply, :done, n}
  end

  def handle_call(:own_state, _from, n) do
    reply =
      try do
        Lockstep.Sys.get_state(self())
      catch
        :exit, reason -> {:exit, reason}
      end

    {:reply, reply, n}
  end

  @impl true
  def handle_cast({:add, k}, n), do: {:noreply, n + k}
end

defmodule Lockstep.SysTest.Formatted do
  # A server with a format_status/2 callback, which get_status applies.
  @moduledoc false
  use GenServer

  @impl true
  def init(n), do: {:ok, n}

  @impl true
  def format_status(:normal, [_pdict, n]), do: [data: [{~c"Formatted", n * 100}]]
end

defmodule Lockstep.SysTest.Gate do
  # A :gen_statem with a long state timeout and postponed casts, to see both in a status.
  @moduledoc false
  @behaviour :gen_statem

  @impl true
  def callback_mode, do: :handle_event_function

  @impl true
  def init(n), do: {:ok, :closed, %{n: n}}

  @impl true
  def handle_event({:call, from}, :open, :closed, data) do
    {:next_state, :open, data, [{:reply, from, :ok}, {:state_timeout, 60_000, :close}]}
  end

  def handle_event({:call, from}, :get, state, data),
    do: {:keep_state_and_data, [{:reply, from, {state, data.n}}]}

  def handle_event(:cast, {:add, k}, :closed, data), do: {:keep_state, %{data | n: data.n + k}}
  def handle_event(:cast, {:add, _}, :open, _data), do: {:keep_state_and_data, :postpone}
  def handle_event(:state_timeout, :close, :open, data), do: {:next_state, :closed, data}
end

defmodule Lockstep.SysTest do
  # Names are VM-wide in the plain runs, so these tests do not run concurrently.
  use ExUnit.Case, async: false

  @moduletag :capture_log

  import Lockstep.OtpDiff, only: [plain: 1]
  import Lockstep.TestHelpers

  alias Lockstep.Fixtures.Worker
  alias Lockstep.SysTest.{Busy, Formatted, Gate}
  alias Lockstep.TestServers.Kv

  @real %{
    gs: GenServer,
    statem: :gen_statem,
    agent: Agent,
    sup: Supervisor,
    dsup: DynamicSupervisor,
    sys: :sys
  }

  @wrapper %{
    gs: Lockstep.GenServer,
    statem: Lockstep.GenStatem,
    agent: Lockstep.Agent,
    sup: Lockstep.Supervisor,
    dsup: Lockstep.DynamicSupervisor,
    sys: Lockstep.Sys
  }

  # The scenario with OTP's modules and `:sys` in a plain process, with the wrappers outside a
  # run (passing through), and with the wrappers under `iterations` schedules of a run: the
  # normalized results must all be equal. Returns the normalized result.
  defp same(scenario, opts \\ []) do
    expected = normalize(plain(fn -> scenario.(@real) end))
    assert normalize(plain(fn -> scenario.(@wrapper) end)) == expected, "passthrough differs"

    results =
      inside_each(
        fn -> scenario.(@wrapper) end,
        Keyword.merge([iterations: 10, seed: 3, allow_crashes: true], opts)
      )

    assert length(results) == Keyword.get(opts, :iterations, 10)

    for result <- results do
      assert normalize(result) == expected
    end

    expected
  end

  # Pids and references numbered by first appearance (Lockstep.OTPCase), after turning the
  # pid in a status header's text into the pid itself.
  defp normalize(term), do: term |> unheader() |> Lockstep.OTPCase.normalize()

  defp unheader({:header, text}) when is_list(text) do
    case :string.split(text, ~c"<", :trailing) do
      [tag, pid] -> {:header, {tag, :erlang.list_to_pid(~c"<" ++ pid)}}
      [_text] -> {:header, text}
    end
  end

  defp unheader(tuple) when is_tuple(tuple),
    do: tuple |> Tuple.to_list() |> unheader() |> List.to_tuple()

  defp unheader(list) when is_list(list) do
    if List.ascii_printable?(list), do: list, else: Enum.map(list, &unheader/1)
  end

  defp unheader(%{__struct__: _} = struct), do: struct

  defp unheader(%{} = map), do: Map.new(map, fn {k, v} -> {unheader(k), unheader(v)} end)
  defp unheader(other), do: other

  # A status with its process dictionary sorted (its order is the VM's hash order).
  defp status({:status, pid, mod, [pdict, sys_state, parent, debug, misc]}),
    do: {:status, pid, mod, [Enum.sort(pdict), sys_state, parent, debug, misc]}

  defp caught(fun) do
    fun.()
  catch
    kind, reason -> {kind, reason}
  end

  defp exit_reason(pid) do
    {:EXIT, ^pid, reason} = Lockstep.recv_first(&match?({:EXIT, ^pid, _}, &1))
    reason
  end

  defp sys_state({:status, _, _, [_pdict, sys_state | _]}), do: sys_state

  describe "GenServer, compared with OTP" do
    test "get_state and replace_state, a failing function leaves the server as it was" do
      result =
        same(fn m ->
          {:ok, s} = m.gs.start_link(Busy, 1)

          [
            m.sys.get_state(s),
            m.sys.get_state(s, 1000),
            m.sys.replace_state(s, &(&1 + 10)),
            m.gs.call(s, :get),
            caught(fn -> m.sys.replace_state(s, fn _ -> raise "boom" end) end),
            caught(fn -> m.sys.replace_state(s, fn _ -> exit(:nope) end, 1000) end),
            caught(fn -> m.sys.replace_state(s, fn _ -> throw(:up) end) end),
            m.gs.call(s, :get),
            # :sys raises the reason of a state that reads {:error, reason}.
            caught(fn -> m.sys.replace_state(s, fn n -> {:error, n} end) end),
            caught(fn -> m.sys.get_state(s) end),
            m.sys.replace_state(s, fn {:error, n} -> n end)
          ]
        end)

      assert result == [
               1,
               1,
               11,
               11,
               {:error,
                {:callback_failed, {:gen_server, :system_replace_state},
                 {:error, %RuntimeError{message: "boom"}}}},
               {:error, {:callback_failed, {:gen_server, :system_replace_state}, {:exit, :nope}}},
               {:error, {:callback_failed, {:gen_server, :system_replace_state}, {:throw, :up}}},
               11,
               {:error, 11},
               {:error, 11},
               11
             ]
    end

    test "get_status: pdict, running, parent, the state formatted as gen_server formats it" do
      result =
        same(fn m ->
          {:ok, a} = m.gs.start_link(Busy, 7)
          {:ok, b} = m.gs.start(Formatted, 3, name: :sys_formatted)
          statuses = [status(m.sys.get_status(a)), status(m.sys.get_status(:sys_formatted, 500))]
          m.gs.stop(b)
          statuses
        end)

      me = {:pid, 1}

      assert [
               {:status, {:pid, 0}, {:module, :gen_server},
                [
                  ["$ancestors": [^me], "$initial_call": {Busy, :init, 1}],
                  :running,
                  ^me,
                  [],
                  [
                    header: {~c"Status for generic server ", {:pid, 0}},
                    data: [{~c"Status", :running}, {~c"Parent", ^me}, {~c"Logged events", []}],
                    data: [{~c"State", 7}]
                  ]
                ]},
               {:status, b, {:module, :gen_server},
                [
                  ["$ancestors": [^me], "$initial_call": {Formatted, :init, 1}],
                  :running,
                  b,
                  [],
                  [
                    header: ~c"Status for generic server sys_formatted",
                    data: [{~c"Status", :running}, {~c"Parent", b}, {~c"Logged events", []}],
                    data: [{~c"Formatted", 300}]
                  ]
                ]}
             ] = result
    end

    test "suspended: calls wait and time out, sys requests are served, resume serves the rest" do
      result =
        same(fn m ->
          {:ok, s} = m.gs.start_link(Busy, 1)
          :ok = m.gs.cast(s, {:add, 1})
          :ok = m.sys.suspend(s)
          :ok = m.gs.cast(s, {:add, 10})
          timed_out = caught(fn -> m.gs.call(s, :get, 50) end)
          suspended = [m.sys.get_state(s), sys_state(m.sys.get_status(s)), m.sys.suspend(s)]
          :ok = m.sys.resume(s)
          # The cast and the call that timed out were kept, in order, and are handled now.
          after_resume = [m.gs.call(s, {:add, 100}), sys_state(m.sys.get_status(s))]
          {timed_out, suspended, after_resume, m.sys.resume(s)}
        end)

      assert result ==
               {{:exit, {:timeout, {GenServer, :call, [{:pid, 0}, :get, 50]}}},
                [2, :suspended, :ok], [112, :running], :ok}
    end

    test "a sys request waits behind the server's work, and times out in virtual time" do
      result =
        same(fn m ->
          me = self()
          {:ok, s} = m.gs.start_link(Busy, 5)
          caller = Lockstep.spawn(fn -> Lockstep.send(me, m.gs.call(s, {:busy, me, 300})) end)
          :busy = Lockstep.recv()
          timed_out = caught(fn -> m.sys.get_state(s, 50) end)
          status = caught(fn -> m.sys.get_status(s, 20) end)
          later = m.sys.get_state(s)
          # (A late reply to a timed-out request stays in the mailbox under Lockstep.)
          {timed_out, status, later, Lockstep.recv_first(&(&1 == :done)), is_pid(caller)}
        end)

      assert result ==
               {{:exit, {:timeout, {:sys, :get_state, [{:pid, 0}, 50]}}},
                {:exit, {:timeout, {:sys, :get_status, [{:pid, 0}, 20]}}}, 5, :done, true}
    end

    test "a system message restarts the timeout the server waits with" do
      result =
        same(fn m ->
          {:ok, s} = m.gs.start_link(Kv, {{:timeout, 4, 400}, self()})
          Lockstep.sleep(250)
          4 = m.sys.get_state(s).n
          Lockstep.sleep(250)
          # 500 ms since the start, but only 250 since the system message.
          early = Lockstep.recv_first(&match?({:timeout_fired, _}, &1), 0)
          {early, Lockstep.recv_first(&match?({:timeout_fired, _}, &1), 1000)}
        end)

      assert result == {:timeout, {:ok, {:timeout_fired, 4}}}
    end

    test "failures: no process, a dead pid, calling self, a server that dies meanwhile" do
      result =
        same(fn m ->
          Lockstep.flag(:trap_exit, true)
          {:ok, s} = m.gs.start_link(Busy, 1)
          own = m.gs.call(s, :own_state)
          {:ok, k} = m.gs.start_link(Kv, {{:ok, 1}, nil})
          m.gs.stop(k)

          [
            own,
            caught(fn -> m.sys.get_state(:sys_nobody) end),
            caught(fn -> m.sys.suspend(:sys_nobody, 10) end),
            caught(fn -> m.sys.get_status(k) end),
            caught(fn -> m.sys.replace_state(k, & &1) end),
            m.sys.terminate(s, :enough),
            exit_reason(s)
          ]
        end)

      assert [
               {:exit, {:calling_self, {:sys, :get_state, [{:pid, 0}]}}},
               {:exit, {:noproc, {:sys, :get_state, [:sys_nobody]}}},
               {:exit, {:noproc, {:sys, :suspend, [:sys_nobody, 10]}}},
               {:exit, {:noproc, {:sys, :get_status, [{:pid, 1}]}}},
               {:exit, {:noproc, {:sys, {:replace_state, _fun}, [{:pid, 1}]}}},
               :ok,
               :enough
             ] = result
    end
  end

  describe ":gen_statem, compared with OTP" do
    test "get_state is {state, data}; replace_state; a failing function" do
      result =
        same(fn m ->
          {:ok, g} = m.statem.start_link(Gate, 1, [])

          [
            m.sys.get_state(g),
            m.sys.replace_state(g, fn {state, data} -> {state, %{data | n: 5}} end),
            m.statem.call(g, :get),
            caught(fn -> m.sys.replace_state(g, fn _ -> raise ArgumentError end) end),
            m.statem.call(g, :get)
          ]
        end)

      assert result == [
               {:closed, %{n: 1}},
               {:closed, %{n: 5}},
               {:closed, 5},
               {:error,
                {:callback_failed, {:gen_statem, :system_replace_state},
                 {:error, %ArgumentError{}}}},
               {:closed, 5}
             ]
    end

    test "get_status shows the modules, time-outs and postponed events" do
      result =
        same(fn m ->
          {:ok, g} = m.statem.start_link({:local, :sys_gate}, Gate, 1, [])
          closed = status(m.sys.get_status(g))
          :ok = m.statem.call(g, :open)
          :ok = m.statem.cast(g, {:add, 2})
          # The postponed cast is in the status once the machine has handled it.
          {:open, 1} = m.statem.call(g, :get)
          {closed, status(m.sys.get_status(:sys_gate))}
        end)

      me = {:pid, 1}

      assert {{:status, {:pid, 0}, {:module, :gen_statem},
               [
                 ["$ancestors": [^me], "$initial_call": {Gate, :init, 1}],
                 :running,
                 ^me,
                 [],
                 [
                   header: ~c"Status for state machine sys_gate",
                   data: [
                     {~c"Status", :running},
                     {~c"Parent", ^me},
                     {~c"Modules", [Gate]},
                     {~c"Time-outs", {0, []}},
                     {~c"Logged Events", []},
                     {~c"Postponed", []}
                   ],
                   data: [{~c"State", {:closed, %{n: 1}}}]
                 ]
               ]}, open} = result

      assert {:status, _, _,
              [
                _,
                :running,
                _,
                [],
                [
                  _,
                  data: [
                    _,
                    _,
                    _,
                    {~c"Time-outs", {1, [state_timeout: :close]}},
                    _,
                    {~c"Postponed", [{:cast, {:add, 2}}]}
                  ],
                  data: [{~c"State", {:open, %{n: 1}}}]
                ]
              ]} = open
    end

    test "suspended: a call times out, resume serves it and the later ones" do
      result =
        same(fn m ->
          {:ok, g} = m.statem.start_link(Gate, 1, [])
          :ok = m.sys.suspend(g, 1000)
          timed_out = caught(fn -> m.statem.call(g, :get, 30) end)
          :ok = m.statem.cast(g, {:add, 1})
          during = [m.sys.get_state(g), sys_state(m.sys.get_status(g))]
          :ok = m.sys.resume(g, 1000)
          {timed_out, during, m.statem.call(g, :get)}
        end)

      assert result ==
               {{:exit, {:timeout, {:gen_statem, :call, [{:pid, 0}, :get, 30]}}},
                [{:closed, %{n: 1}}, :suspended], {:closed, 2}}
    end
  end

  describe "Agent, compared with OTP" do
    test "get_state, replace_state, get_status, suspend and resume" do
      result =
        same(fn m ->
          {:ok, a} = m.agent.start_link(fn -> %{hits: 0} end)
          :ok = m.agent.update(a, &%{&1 | hits: &1.hits + 1})
          got = m.sys.get_state(a)
          replaced = m.sys.replace_state(a, &%{&1 | hits: 10})
          failed = caught(fn -> m.sys.replace_state(a, fn _ -> raise "no" end) end)
          st = status(m.sys.get_status(a))
          :ok = m.sys.suspend(a)
          timed_out = caught(fn -> m.agent.get(a, & &1.hits, 40) end)
          :ok = m.sys.resume(a)
          {got, replaced, failed, st, timed_out, m.agent.get(a, & &1.hits)}
        end)

      me = {:pid, 1}

      assert {%{hits: 1}, %{hits: 10},
              {:error,
               {:callback_failed, {:gen_server, :system_replace_state},
                {:error, %RuntimeError{message: "no"}}}},
              {:status, {:pid, 0}, {:module, :gen_server},
               [
                 ["$ancestors": [^me], "$initial_call": {__MODULE__, _fun_name, 0}],
                 :running,
                 ^me,
                 [],
                 [
                   header: {~c"Status for generic server ", {:pid, 0}},
                   data: [{~c"Status", :running}, {~c"Parent", ^me}, {~c"Logged events", []}],
                   data: [{~c"State", %{hits: 10}}]
                 ]
               ]}, {:exit, {:timeout, {GenServer, :call, [{:pid, 0}, {:get, _}, 40]}}},
              10} = result
    end
  end

  describe "supervisors, compared with OTP" do
    test "Supervisor: get_state is supervisor's #state{} record; get_status" do
      result =
        same(fn m ->
          children = [
            {Worker, id: :a},
            Supervisor.child_spec({Worker, id: :b}, restart: :temporary)
          ]

          {:ok, sup} = m.sup.start_link(children, strategy: :one_for_one, max_restarts: 2)
          {sup, m.sys.get_state(sup), status(m.sys.get_status(sup))}
        end)

      {sup, state, st} = result
      me = {:pid, 3}

      assert {:state, {^sup, Supervisor.Default}, :one_for_one,
              {[:b, :a],
               %{
                 a:
                   {:child, {:pid, 1}, :a, {Worker, :start_link, [[id: :a]]}, :permanent, false,
                    5000, :worker, [Worker]},
                 b:
                   {:child, {:pid, 2}, :b, {Worker, :start_link, [[id: :b]]}, :temporary, false,
                    5000, :worker, [Worker]}
               }}, :undefined, 2, 5, [], 0, :never, Supervisor.Default,
              {:ok, {%{intensity: 2, period: 5, strategy: :one_for_one}, [_, _]}}} = state

      assert {:status, ^sup, {:module, :gen_server},
              [
                ["$ancestors": [^me], "$initial_call": {:supervisor, Supervisor.Default, 1}],
                :running,
                ^me,
                [],
                [
                  header: {~c"Status for generic server ", ^sup},
                  data: [{~c"Status", :running}, {~c"Parent", ^me}, {~c"Logged events", []}],
                  data: [{~c"State", ^state}],
                  supervisor: [{~c"Callback", Supervisor.Default}]
                ]
              ]} = st
    end

    test "Supervisor: suspended, it neither answers nor restarts; resume catches up" do
      result =
        same(fn m ->
          {:ok, sup} = m.sup.start_link([{Worker, id: :a}], strategy: :one_for_one)
          [{:a, child, :worker, _}] = m.sup.which_children(sup)
          :ok = m.sys.suspend(sup)
          ref = Lockstep.monitor(child)
          Lockstep.exit(child, :kill)
          {:DOWN, ^ref, _, _, :killed} = Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
          timed_out = caught(fn -> m.gs.call(sup, :which_children, 30) end)
          # The child's exit waits in the mailbox: the state still names the dead child.
          {:state, _, _, {_, %{a: {:child, during, _, _, _, _, _, _, _}}}, _, _, _, _, _, _, _, _} =
            m.sys.get_state(sup)

          :ok = m.sys.resume(sup)
          [{:a, restarted, :worker, _}] = m.sup.which_children(sup)
          replaced = m.sys.replace_state(sup, fn st -> put_elem(st, 5, 9) end)
          bad = caught(fn -> m.sys.replace_state(sup, fn _ -> raise "no" end) end)
          {timed_out, during == child, restarted != child, elem(replaced, 5), bad}
        end)

      assert {{:exit, {:timeout, {GenServer, :call, [_, :which_children, 30]}}}, true, true, 9,
              {:error,
               {:callback_failed, {:gen_server, :system_replace_state},
                {:error, %RuntimeError{message: "no"}}}}} = result
    end

    test "DynamicSupervisor: get_state is its struct; replace_state; suspend and resume" do
      result =
        same(fn m ->
          {:ok, sup} = m.dsup.start_link(strategy: :one_for_one, max_children: 3)
          {:ok, child} = m.dsup.start_child(sup, {Worker, id: :w})
          state = m.sys.get_state(sup)
          replaced = m.sys.replace_state(sup, &%{&1 | max_children: 1})
          full = m.dsup.start_child(sup, {Worker, id: :x})
          :ok = m.sys.suspend(sup)
          timed_out = caught(fn -> m.gs.call(sup, :count_children, 20) end)
          :ok = m.sys.resume(sup)
          st = status(m.sys.get_status(sup))
          {child, state, replaced.max_children, full, timed_out, st}
        end)

      {child, state, 1, full, timed_out, st} = result
      sup = {:pid, 1}
      me = {:pid, 2}

      assert %DynamicSupervisor{
               args:
                 {:ok,
                  %{
                    extra_arguments: [],
                    intensity: 3,
                    max_children: 3,
                    period: 5,
                    strategy: :one_for_one
                  }},
               children: %{
                 ^child =>
                   {{Worker, :start_link, [[id: :w]]}, :permanent, 5000, :worker, [Worker]}
               },
               extra_arguments: [],
               max_children: 3,
               max_restarts: 3,
               max_seconds: 5,
               mod: Supervisor.Default,
               name: {^sup, Supervisor.Default},
               restarts: [],
               strategy: :one_for_one
             } = state

      assert full == {:error, :max_children}
      assert {:exit, {:timeout, {GenServer, :call, [^sup, :count_children, 20]}}} = timed_out

      assert {:status, ^sup, {:module, :gen_server},
              [
                ["$ancestors": [^me], "$initial_call": {:supervisor, Supervisor.Default, 1}],
                :running,
                ^me,
                [],
                [
                  header: {~c"Status for generic server ", ^sup},
                  data: [{~c"Status", :running}, {~c"Parent", ^me}, {~c"Logged events", []}],
                  data: [{~c"State", %DynamicSupervisor{max_children: 1}}],
                  supervisor: [{~c"Callback", Supervisor.Default}]
                ]
              ]} = st
    end
  end

  describe "inside a run" do
    test "a sys request is a message like the others: it races with another sender's cast" do
      results =
        inside_each(
          fn ->
            {:ok, s} = Lockstep.GenServer.start_link(Busy, 0)
            Lockstep.spawn(fn -> Lockstep.GenServer.cast(s, {:add, 1}) end)
            Lockstep.Sys.get_state(s)
          end,
          iterations: 40,
          seed: 9
        )

      assert Enum.sort(Enum.uniq(results)) == [0, 1]
    end

    test "from one sender, a cast and then a sys request arrive in order" do
      results =
        inside_each(
          fn ->
            {:ok, s} = Lockstep.GenServer.start_link(Busy, 0)
            Lockstep.GenServer.cast(s, {:add, 1})
            Lockstep.Sys.get_state(s)
          end,
          iterations: 20,
          seed: 9
        )

      assert Enum.uniq(results) == [1]
    end

    test "a server left suspended with a caller waiting is a deadlock, not a hang" do
      bug =
        bug(fn ->
          {:ok, s} = Lockstep.GenServer.start_link(Busy, 0)
          :ok = Lockstep.Sys.suspend(s)
          Lockstep.GenServer.call(s, :get, :infinity)
        end)

      assert {:deadlock, _} = bug.reason
    end

    test "a task supervisor answers with a %DynamicSupervisor{}" do
      assert %DynamicSupervisor{mod: Lockstep.Task.Supervisor, children: children} =
               inside(fn ->
                 {:ok, sup} = Lockstep.Task.Supervisor.start_link()

                 {:ok, _pid} =
                   Lockstep.Task.Supervisor.start_child(sup, fn -> Lockstep.recv() end)

                 Lockstep.Sys.get_state(sup)
               end)

      assert map_size(children) == 1
    end

    test "a plain :sys call on a managed server fails at once, naming Lockstep.Sys" do
      started = System.monotonic_time(:millisecond)

      result =
        inside(fn ->
          {:ok, s} = Lockstep.GenServer.start_link(Busy, 0)
          {caught(fn -> :sys.get_state(s) end), caught(fn -> :sys.suspend(s, 100) end), s}
        end)

      assert System.monotonic_time(:millisecond) - started < 2_000

      assert {{:exit, {{%Lockstep.Error{message: get}, [_ | _]}, {:sys, :get_state, [s]}}},
              {:exit, {{%Lockstep.Error{message: suspend}, [_ | _]}, {:sys, :suspend, [s, 100]}}},
              s} = result

      assert get =~ "call Lockstep.Sys.get_state/1,2 instead"
      assert suspend =~ "call Lockstep.Sys.suspend/1,2 instead"
    end

    test "uncaught, a plain :sys call is reported as the caller's crash, without the watchdog" do
      bug =
        bug(
          fn ->
            {:ok, s} = Lockstep.GenServer.start_link(Busy, 0)
            :sys.get_state(s)
          end,
          iterations: 1
        )

      assert {:exception, _} = bug.reason
      assert Exception.message(bug) =~ "Lockstep.Sys.get_state/1,2"
    end
  end
end

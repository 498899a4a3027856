defmodule Lockstep.CheckerIsolationTest do
  use ExUnit.Case, async: true
  use Lockstep.Test, iterations: 50

  import ExUnit.CaptureIO

  alias Lockstep.Checker.Isolation
  alias Lockstep.History

  @read_skew """
  {:type :ok, :f :txn, :process 0, :value [[:r :x []] [:r :y [1]]]}
  {:type :ok, :f :txn, :process 1, :value [[:append :x 1] [:append :y 1]]}
  {:type :ok, :f :txn, :process 2, :value [[:r :x [1]]]}
  """

  @write_skew """
  {:type :ok, :f :txn, :process 0, :value [[:r :x []] [:append :y 1]]}
  {:type :ok, :f :txn, :process 1, :value [[:r :y []] [:append :x 1]]}
  {:type :ok, :f :txn, :process 2, :value [[:r :x [1]] [:r :y [1]]]}
  """

  test "a history text: anomalies by name, with the cycle explained" do
    assert {:error, %{anomalies: [a], forbidden: [:g_single], text: text}} =
             Isolation.check(@read_skew, :list_append, consistency_model: :snapshot_isolation)

    assert a.type == :g_single and a.name == "G-single"
    assert [%{label: "T1", process: 0, status: :ok}, %{label: "T2"}] = a.txns
    assert [%{from: "T1", to: "T2", kind: :rw, why: why}, %{kind: :wr}] = a.steps
    assert why =~ "T1 read :x = [], and T2 appended 1, the next element"
    assert text =~ "not snapshot-isolation: G-single (1)"
    assert :ok = Isolation.check(@read_skew, :list_append, consistency_model: :read_committed)
  end

  test "anomalies a model allows are not violations; the default model is serializable" do
    assert :ok =
             Isolation.check(@write_skew, :list_append, consistency_model: :snapshot_isolation)

    assert {:error, %{forbidden: [:g2_item]}} = Isolation.check(@write_skew, :list_append)
    assert Isolation.models() |> length() == 7
  end

  @tag :tmp_dir
  test "files, event lists and rw-register histories", %{tmp_dir: dir} do
    path = Path.join(dir, "h.edn")
    File.write!(path, @read_skew)
    assert {:error, %{forbidden: [:g_single]}} = Isolation.check({:file, path}, :list_append)
    assert {:invalid, "cannot read " <> _} = Isolation.check({:file, path <> ".no"}, :list_append)

    events = [
      %{process: 0, type: :invoke, f: :txn, value: [{:w, :x, 1}, {:r, :y, nil}]},
      %{process: 1, type: :invoke, f: :txn, value: [{:w, :y, 1}, {:r, :x, nil}]},
      %{process: 0, type: :ok, f: :txn, value: [{:w, :x, 1}, {:r, :y, 1}]},
      %{process: 1, type: :ok, f: :txn, value: [{:w, :y, 1}, {:r, :x, 1}]}
    ]

    assert {:error, %{forbidden: [:g1c], anomalies: [%{text: text}]}} =
             Isolation.check(events, :rw_register, consistency_model: :read_committed)

    assert text =~ "T1 wrote :x = 1, and T2 read it"
  end

  test "bad input is {:invalid, message}; bad options raise" do
    dup = """
    {:type :ok, :f :txn, :process 0, :value [[:append :x 1]]}
    {:type :ok, :f :txn, :process 1, :value [[:append :x 1]]}
    """

    assert {:invalid, msg} = Isolation.check(dup, :list_append)
    assert msg =~ "unique per key"
    assert {:invalid, msg} = Isolation.check("{:type :ok, :f :read, :process 0}", :list_append)
    assert msg =~ "expected a transaction"
    assert {:invalid, _} = Isolation.check("", :list_append)

    assert {:invalid, _} =
             Isolation.check([%{process: 0, type: :ok, f: :txn, value: 1.5}], :rw_register)

    assert {:invalid, _} = Lockstep.Native.checker_isolation(:nope, :list_append, %{})
    assert {:invalid, _} = Lockstep.Native.checker_isolation([], :bogus, %{})
    assert {:invalid, _} = Lockstep.Native.checker_isolation([], :list_append, :not_a_map)

    assert {:invalid, _} =
             Lockstep.Native.checker_isolation([], :list_append, %{consistency_model: "x"})

    assert_raise ArgumentError, ~r/workload/, fn -> Isolation.check(@read_skew, :bank) end

    assert_raise ArgumentError, ~r/consistency_model/, fn ->
      Isolation.check(@read_skew, :list_append, consistency_model: :linearizable)
    end

    assert_raise ArgumentError, ~r/unknown option/, fn ->
      Isolation.check(@read_skew, :list_append, model: :serializable)
    end
  end

  test "History.txn/3 records invoke and ok, fail or info" do
    h = History.new()
    done = [[:r, :x, []], [:append, :x, 1]]
    assert History.txn(h, [[:r, :x, nil], [:append, :x, 1]], fn -> done end) == done
    assert History.txn(h, [[:append, :x, 2]], fn -> {:fail, :conflict} end) == {:fail, :conflict}
    assert_raise RuntimeError, fn -> History.txn(h, [[:append, :x, 3]], fn -> raise "x" end) end
    assert History.txn(h, [[:r, :x, nil]], fn -> {:ok, [[:r, :x, [1]]]} end)

    assert_raise ArgumentError, ~r/completed micro-ops/, fn ->
      History.txn(h, [[:r, :x, nil]], fn -> :weird end)
    end

    assert [
             %{type: :invoke, f: :txn, value: [[:r, :x, nil], [:append, :x, 1]]},
             %{type: :ok, value: ^done},
             %{type: :invoke},
             %{type: :fail, value: [[:append, :x, 2]]},
             %{type: :invoke},
             %{type: :info, value: [[:append, :x, 3]]},
             %{type: :invoke},
             %{type: :ok, value: [[:r, :x, [1]]]},
             %{type: :invoke},
             %{type: :info}
           ] = History.events(h)

    assert :ok = Isolation.check(h, :list_append, consistency_model: :strict_serializable)
  end

  defp task(args) do
    err =
      capture_io(:stderr, fn ->
        send(
          self(),
          {:out, capture_io(fn -> send(self(), {:code, Mix.Tasks.Lockstep.Check.main(args)}) end)}
        )
      end)

    assert_received {:code, code}
    assert_received {:out, out}
    {code, out, err}
  end

  @tag :tmp_dir
  test "mix lockstep.check --isolation", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "a_skew.edn"), @read_skew)
    File.write!(Path.join(dir, "b_write_skew.edn"), @write_skew)
    File.write!(Path.join(dir, "c_bad.edn"), "{:type :ok, :f :read, :process 0}")

    {code, out, _} =
      task([dir, "--isolation", "list-append", "--consistency-model", "snapshot-isolation"])

    assert code == 2
    assert out =~ "a_skew.edn: not snapshot-isolation: G-single (1)\n"
    assert out =~ "b_write_skew.edn: snapshot-isolation\n"
    assert out =~ "c_bad.edn: error: event 1: expected a transaction"

    assert out =~
             "3 histories: 1 snapshot-isolation, 1 not snapshot-isolation, 0 unknown, 1 errors"

    ok = Path.join(dir, "b_write_skew.edn")

    assert {0, _, _} =
             task([ok, "--isolation=list-append", "--consistency-model", "read-committed"])

    {code, out, _} = task([ok, "--isolation", "list-append", "--verbose"])
    assert code == 1
    assert out =~ "not serializable: G2-item (1)"
    assert out =~ "T1 -rw-> T2: T1 read :x = [], and T2 appended 1"

    {code, _, err} = task([ok, "--isolation", "bank"])
    assert code == 2 and err =~ "--isolation must be list-append or rw-register"
    {code, _, err} = task([ok, "--isolation", "list-append", "--consistency-model", "acid"])
    assert code == 2 and err =~ "unknown consistency model"
    {code, _, err} = task([ok, "--isolation", "list-append", "--model", "kv"])
    assert code == 2 and err =~ "unknown option --model"
    {code, out, _} = task([Path.join(dir, "none.edn"), "--isolation", "rw-register"])
    assert code == 2 and out =~ "none.edn: error: cannot read"
  end

  defmodule Store do
    @moduledoc false
    # A list-append store: a process holding a map of key to list.

    def loop(state) do
      case Lockstep.recv() do
        {:get, k, from} ->
          Lockstep.send(from, {:value, Map.get(state, k, [])})
          loop(state)

        {:append, k, v, from} ->
          Lockstep.send(from, :appended)
          loop(Map.update(state, k, [v], &(&1 ++ [v])))

        {:txn, ops, from} ->
          {done, state} =
            Enum.map_reduce(ops, state, fn
              [:r, k, _], s -> {[:r, k, Map.get(s, k, [])], s}
              [:append, k, v] = op, s -> {op, Map.update(s, k, [v], &(&1 ++ [v]))}
            end)

          Lockstep.send(from, {:done, done})
          loop(state)
      end
    end

    def get(store, k) do
      Lockstep.send(store, {:get, k, self()})
      {:value, v} = Lockstep.recv()
      v
    end

    def append(store, k, v) do
      Lockstep.send(store, {:append, k, v, self()})
      :appended = Lockstep.recv()
    end

    # The seeded bug: a read-modify-write of two keys, one message per micro-op, no lock.
    def racy_update(store, v) do
      x = get(store, :x)
      y = get(store, :y)
      append(store, :x, v)
      append(store, :y, v)
      [[:r, :x, x], [:r, :y, y], [:append, :x, v], [:append, :y, v]]
    end

    def atomic_update(store, v) do
      Lockstep.send(
        store,
        {:txn, [[:r, :x, nil], [:r, :y, nil], [:append, :x, v], [:append, :y, v]], self()}
      )

      {:done, done} = Lockstep.recv()
      done
    end
  end

  defp scenario(update) do
    fn ->
      h = History.new()
      store = Lockstep.spawn(fn -> Store.loop(%{}) end)
      me = self()

      for v <- 1..2 do
        Lockstep.spawn(fn ->
          ops = [[:r, :x, nil], [:r, :y, nil], [:append, :x, v], [:append, :y, v]]
          History.txn(h, ops, fn -> update.(store, v) end)
          Lockstep.send(me, :done)
        end)
      end

      :done = Lockstep.recv()
      :done = Lockstep.recv()

      History.txn(h, [[:r, :x, nil], [:r, :y, nil]], fn ->
        [[:r, :x, Store.get(store, :x)], [:r, :y, Store.get(store, :y)]]
      end)

      case Isolation.check(h, :list_append, consistency_model: :serializable) do
        :ok -> :ok
        {:error, %{text: text}} -> raise text
      end
    end
  end

  ctest "transactions run atomically by the store are serializable" do
    scenario(&Store.atomic_update/2).()
  end

  test "a racy read-modify-write over two keys is found, by name" do
    error =
      assert_raise Lockstep.BugFound, fn ->
        Lockstep.Runner.run(scenario(&Store.racy_update/2), iterations: 200, seed: 11)
      end

    message = Exception.message(error)
    assert message =~ "not serializable:"
    assert message =~ "lost-update"
    assert message =~ "both read the initial state of :x and appended to it"
    assert message =~ "G-single"
  end
end

defmodule Lockstep.DeepTermsTest do
  # No term, however deep or large, crashes the VM: every NIF that reads user terms converts
  # them without recursion, or refuses them with an error that names the limit. Each entry
  # point gets a list nested 100,000 deep (the checkers used to overflow a dirty scheduler's
  # stack, and kill the VM, at about 240).
  use ExUnit.Case, async: true

  alias Lockstep.Checker.{Causal, Linearizable, SequentialConsistency}
  alias Lockstep.Native

  @depth 100_000
  @limit 100

  defp nested(depth), do: Enum.reduce(1..depth//1, 1, fn _, acc -> [acc] end)

  defp deep, do: nested(@depth)

  # An error message never echoes a whole term.
  defp short!(message) do
    assert is_binary(message)
    assert byte_size(message) < 1_000, "message of #{byte_size(message)} bytes"
    message
  end

  defp write_history(value), do: [{0, :invoke, :write, value}, {0, :ok, :write, value}]

  describe "checkers" do
    test "values at the limit are checked; deeper ones are refused, naming the limit" do
      at_limit = nested(@limit)
      assert :ok = Linearizable.check(write_history(at_limit), :register)
      assert :ok = SequentialConsistency.check(write_history(at_limit), :register)
      assert :ok = Causal.check(write_history(at_limit), :cc)

      for depth <- [@limit + 1, @depth] do
        history = write_history(nested(depth))

        for result <- [
              Linearizable.check(history, :register),
              SequentialConsistency.check(history, :register),
              Causal.check(history, :cc),
              Causal.check(history, :ccv)
            ] do
          assert {:invalid, message} = result
          assert short!(message) =~ "event 1: :value: value nested deeper than #{@limit} levels"
        end
      end
    end

    test "deep keys, initial values and tuples and maps count as levels" do
      key_history = [
        %{process: 0, type: :invoke, f: :put, key: deep(), value: 1},
        %{process: 0, type: :ok, f: :put, key: deep(), value: 1}
      ]

      assert {:invalid, message} = Linearizable.check(key_history, :kv)
      assert short!(message) =~ ":key: value nested deeper than #{@limit} levels"

      assert {:invalid, message} =
               Linearizable.check(write_history(1), :register, initial: deep())

      assert short!(message) =~ ":initial: value nested deeper than #{@limit} levels"

      mixed =
        Enum.reduce(1..@depth, 1, fn i, acc -> if rem(i, 2) == 0, do: {acc}, else: %{a: acc} end)

      assert {:invalid, message} = Linearizable.check(write_history(mixed), :register)
      assert short!(message) =~ "deeper than #{@limit} levels"
    end

    test "a very wide value is fine" do
      wide = Enum.to_list(1..200_000)
      assert :ok = Linearizable.check(write_history(wide), :register)
    end

    defmodule DeepModel do
      @behaviour Lockstep.Model
      def init, do: 0
      def step(_state, _input, _output), do: {:ok, Enum.reduce(1..100_000, 1, fn _, a -> [a] end)}
    end

    test "an Elixir model's deep state is refused" do
      history = [{0, :invoke, :incr, nil}, {0, :ok, :incr, nil}]

      error = assert_raise ArgumentError, fn -> Linearizable.check(history, DeepModel) end
      assert error.message =~ "next state: value nested deeper than #{@limit} levels"
    end

    test "history files and texts nested too deep are refused" do
      edn =
        "{:process 0, :type :invoke, :f :write, :value #{String.duplicate("[", @depth)}1" <>
          "#{String.duplicate("]", @depth)}}\n"

      assert {:invalid, message} = Linearizable.check(edn, :register)
      assert short!(message) =~ "nesting deeper than"

      dir = Path.join(System.tmp_dir!(), "lockstep-deep-#{System.unique_integer([:positive])}")
      File.mkdir_p!(dir)
      path = Path.join(dir, "deep.edn")
      File.write!(path, edn)

      assert [{^path, {:invalid, message}, nil}] =
               Native.checker_check_paths(
                 [path],
                 Lockstep.Checker.options!([], "t") |> Map.put(:model, "register")
               )

      assert short!(message) =~ "nesting deeper than"
      File.rm_rf!(dir)

      json = String.duplicate(~s({"list": [), @depth) <> "1" <> String.duplicate("]}", @depth)

      assert {:invalid, message} =
               Linearizable.check("[{\"process\": 0, \"value\": #{json}}]", :register,
                 format: :json
               )

      short!(message)
    end
  end

  describe "schedules" do
    test "encoding refuses deep terms; decoding refuses deep JSON" do
      assert {:error, message} = Native.schedule_encode(deep())
      assert short!(message) =~ "expected a map"

      assert {:error, message} =
               Native.schedule_encode(%{format: "lockstep-schedule", detail: deep()})

      assert short!(message) =~ "nested deeper than"

      text = String.duplicate("[", @depth) <> String.duplicate("]", @depth)
      assert {:error, message} = Native.schedule_decode(text)
      assert short!(message) =~ "not JSON"
      assert {:error, _} = Native.schedule_trace_json(text)
    end
  end

  describe "runs" do
    test "bad options are refused with a short message" do
      assert {:error, message} = Native.run_new(deep(), make_ref(), self(), node())
      assert short!(message) =~ "options must be a map"

      assert {:error, message} = Native.run_new(%{seed: deep()}, make_ref(), self(), node())
      assert short!(message) =~ "bad value for seed"

      assert {:error, message} = Native.shrink_new(deep(), [])
      assert short!(message) =~ "choices must be a list"
    end

    test "deep messages, exit reasons, labels and names go through a run and its report" do
      v = deep()

      bug =
        Lockstep.TestHelpers.bug(
          fn ->
            me = self()
            echo = Lockstep.spawn(fn -> Lockstep.send(me, Lockstep.recv()) end)
            Lockstep.send(echo, v)
            assert Lockstep.recv() == v
            Lockstep.send(me, {:again, v})
            assert {:again, ^v} = Lockstep.recv_first(&match?({:again, _}, &1))
            :yes = Lockstep.Global.register_name(v, self())
            assert Lockstep.Global.whereis_name(v) == self()
            Lockstep.SharedState.sync(Lockstep.SharedState.object(:deep, v), true, {:deep, v})
            Lockstep.spawn(fn -> exit(v) end)
            Lockstep.sleep(1)
            raise "deep done"
          end,
          iterations: 1,
          allow_crashes: true
        )

      assert %Lockstep.BugFound{} = bug
      assert Exception.message(bug) =~ "deep done"
    end

    test "a deep operation term is refused with a short message" do
      assert {:error, message} = run_op_outside(deep())
      assert short!(message) =~ "malformed operation [[[["
    end
  end

  # Submits `op` from the bound root of a fresh run, as a process of the run would.
  defp run_op_outside(op) do
    parent = self()
    run = Native.run_new(%{}, make_ref(), self(), node())

    root =
      spawn(fn ->
        receive do
          {:"$lockstep_wake", _} -> :ok
        end

        send(parent, {:result, Native.run_op(run, 0, op)})
      end)

    :ok = Native.run_bind(run, 0, root)
    Native.run_start(run)

    receive do
      {:result, result} -> result
    after
      5_000 -> flunk("no answer")
    end
  end
end

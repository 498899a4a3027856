defmodule Lockstep.NativeBadInputTest do
  # The NIF never crashes the VM on bad input: it answers {:error, reason} naming the problem.
  use ExUnit.Case, async: true
  alias Lockstep.Native

  defp new_run(opts \\ %{}), do: Native.run_new(opts, make_ref(), self(), node())

  test "run_new rejects bad options with a reason" do
    assert {:error, msg} = new_run(%{strategy: :fifo})
    assert msg =~ "unknown strategy"
    assert {:error, msg} = new_run(%{max_steps: -1})
    assert msg =~ "max_steps"
    assert {:error, msg} = Native.run_new([], make_ref(), self(), node())
    assert msg =~ "must be a map"
  end

  test "improper lists are refused with an error, not a panic" do
    assert {:error, msg} = Native.shrink_new([1 | 2], [])
    assert msg =~ "choices must be a list of process ids"
    assert {:error, msg} = Native.shrink_new([0, 1], [1 | 2])
    assert msg =~ "preemptions must be a list of step numbers"
    assert {:ok, sh} = Native.shrink_new([0, 1], [])
    assert {:error, _} = Native.shrink_feedback(sh, true, [0 | 1], [])

    assert {:error, msg} = new_run(%{strategy: :replay, choices: [0 | 1]})
    assert msg =~ "bad value for choices"

    assert {:invalid, "paths must be a list of strings"} =
             Native.checker_check_paths(["a" | "b"], %{})

    # A well-formed event before the improper tail: the tail is reached while iterating.
    events = [%{process: 0, type: :invoke, f: :read, value: nil} | :tail]
    assert {:invalid, msg} = Native.checker_linearizable(events, %{})
    assert msg =~ "events must be a list"
    assert {:invalid, msg} = Native.checker_causal(events, %{}, :cc)
    assert msg =~ "events must be a list"
  end

  test "binding and sync points are checked" do
    run = new_run()
    assert {:error, msg} = Native.run_bind(run, 3, self())
    assert msg =~ "unknown process P3"
    pid = spawn(fn -> Process.sleep(:infinity) end)
    assert :ok = Native.run_bind(run, 0, pid)
    assert {:error, "P0 is already bound"} = Native.run_bind(run, 0, self())
    # The test process is not P0 of this run.
    assert {:error, msg} = Native.run_op(run, 0, :now)
    assert msg =~ "not P0"
    assert {:error, _} = Native.run_op(run, 7, :now)
    assert {:error, _} = Native.run_consume(run, 0, 0)
    assert {:error, msg} = Native.run_consume_scanned(run, 0, 0, [1])
    assert msg =~ "not the running process"
    assert {:error, _} = Native.run_note_rejected(run, 0, [{0, 0}])
    assert_raise ArgumentError, fn -> Native.run_consume_scanned(run, 0, 0, :not_a_list) end
    assert_raise ArgumentError, fn -> Native.run_note_rejected(run, 0, [{-1, 0}]) end
    assert_raise ArgumentError, fn -> Native.run_op(:not_a_run, 0, :now) end
    Process.exit(pid, :kill)
  end

  test "malformed operations are named in the error" do
    parent = self()
    run = new_run()

    root =
      spawn(fn ->
        receive do
          :go -> :ok
        end

        results =
          for op <- [
                :bogus,
                {:send},
                {:send, 123, :x},
                {:recv, -5},
                {:sleep, :soon},
                {:monitor, self(), :not_a_ref}
              ] do
            Native.run_op(run, 0, op)
          end

        send(parent, {:results, results})
      end)

    :ok = Native.run_bind(run, 0, root)
    Native.run_start(run)
    # The root's start step wakes it with {tag, :ok}; it ignores that and issues bad ops.
    send(root, :go)
    assert_receive {:results, results}, 1_000

    assert [
             {:error, "unknown operation bogus"},
             {:error, "malformed operation {send}"},
             {:error, "expected a pid, a registered name or {name, node}, got 123"},
             {:error, "timeout must be a non-negative integer or :infinity, got -5"},
             {:error, "sleep time must be a non-negative integer, got soon"},
             {:error, "expected a reference, got not_a_ref"}
           ] = results
  end

  test "a managed process killed behind the engine's back is noticed and the run ends" do
    tag = make_ref()
    run = Native.run_new(%{}, tag, self(), node())
    root = spawn(fn -> Process.sleep(:infinity) end)
    :ok = Native.run_bind(run, 0, root)
    Native.run_start(run)
    Process.exit(root, :kill)
    assert_receive {^tag, :finished, nil}, 1_000
    assert {:exception, :killed} = Native.run_outcome(run)
  end

  test "a spawned process whose reserved id something else bound first does not outlive the run" do
    parent = self()

    Lockstep.Runner.run(
      fn ->
        {run, _tag, _id, _runner} = ctx = Lockstep.Runtime.ctx()
        {:spawned, child} = Lockstep.Runtime.sync(ctx, :spawn)
        # A foreign process binds the reserved id before the spawned process can.
        hostile = spawn(fn -> Process.sleep(:infinity) end)
        :ok = Native.run_bind(run, child, hostile)
        victim = spawn(fn -> Process.sleep(:infinity) end)

        error =
          assert_raise Lockstep.Error, fn -> Lockstep.Runtime.bind_child(run, child, victim) end

        send(parent, {:victim, victim, error.message})
        Process.exit(hostile, :kill)
      end,
      iterations: 1,
      allow_crashes: true
    )

    assert_receive {:victim, victim, message}
    assert message =~ "could not bind spawned process P1: P1 is already bound"
    refute Process.alive?(victim)
  end
end

defmodule Lockstep.TaskTest do
  use ExUnit.Case, async: true

  import Lockstep.OTPCase

  alias Lockstep.Task, as: T

  @moduletag :capture_log

  defp next(pattern?), do: Lockstep.recv_first(pattern?)

  # Waits until `pid` has exited (so its reply or DOWN is already in the owner's mailbox).
  defp wait_exit(pid) do
    ref = Lockstep.monitor(pid)
    {:DOWN, ^ref, _, _, reason} = next(&match?({:DOWN, ^ref, _, _, _}, &1))
    reason
  end

  defp stuck, do: T.async(fn -> Lockstep.recv() end)

  describe "compared with OTP" do
    test "async and await, await_many, completed" do
      result =
        same_as_otp(fn ->
          t1 = T.async(fn -> :one end)
          t2 = T.async(String, :duplicate, ["ab", 2])
          t3 = T.async(fn -> Process.get(:"$callers") end)
          many = T.await_many([T.async(fn -> 1 end), T.async(fn -> 2 end), T.completed(3)])
          {T.await(t1), T.await(t2, :infinity), T.await(t3), many, t2.mfa, t1.mfa, t1.owner}
        end)

      assert {:one, "abab", [{:pid, 0}], [1, 2, 3], {String, :duplicate, 2}, {:erlang, :apply, 2},
              {:pid, 0}} = result
    end

    test "await exits with the task's crash reason and with :timeout" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)
            raised = T.async(fn -> raise "boom" end)
            exited = T.async(fn -> exit(:bad) end)
            slow = stuck()

            reasons = [
              catch_exit(T.await(raised)),
              catch_exit(T.await(exited, 1000)),
              catch_exit(T.await(slow, 30))
            ]

            links = Enum.sort(for _ <- 1..2, do: elem(next(&match?({:EXIT, _, _}, &1)), 2))
            T.shutdown(slow, :brutal_kill)
            many = catch_exit(T.await_many([T.async(fn -> :ok end), stuck()], 20))
            {reasons, links, many, raised}
          end,
          allow_crashes: true
        )

      assert {[
                {{%RuntimeError{message: "boom"}, :stacktrace},
                 {Task, :await, [%Task{pid: raised_pid}, 5000]}},
                {:bad, {Task, :await, [%Task{}, 1000]}},
                {:timeout, {Task, :await, [%Task{}, 30]}}
              ], links, {:timeout, {Task, :await_many, [[%Task{}, %Task{}], 20]}},
              %Task{pid: raised_pid}} = result

      assert links == Enum.sort([:bad, {%RuntimeError{message: "boom"}, :stacktrace}])
    end

    test "yield, yield_many and ignore" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)
            waiting = stuck()
            before = T.yield(waiting, 10)
            Lockstep.send(waiting.pid, :go)
            later = T.yield(waiting, 1000)

            done = T.async(fn -> :done end)
            crashed = T.async(fn -> exit(:crashed) end)
            slow = stuck()
            wait_exit(done.pid)
            wait_exit(crashed.pid)
            many = for {_task, result} <- T.yield_many([done, crashed, slow], 20), do: result
            ignored_running = T.ignore(slow)
            finished = T.async(fn -> :finished end)
            wait_exit(finished.pid)
            {before, later, many, ignored_running, T.ignore(finished)}
          end,
          allow_crashes: true
        )

      assert result ==
               {nil, {:ok, :go}, [{:ok, :done}, {:exit, :crashed}, nil], nil, {:ok, :finished}}
    end

    test "shutdown of running, finished, crashed and stubborn tasks" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)
            running = stuck()
            finished = T.async(fn -> :finished end)
            crashed = T.async(fn -> exit(:crashed) end)

            me = self()

            stubborn =
              T.async(fn ->
                Lockstep.flag(:trap_exit, true)
                Lockstep.send(me, :trapping)
                Lockstep.recv_first(&(&1 == :never))
              end)

            next(&(&1 == :trapping))
            wait_exit(finished.pid)
            wait_exit(crashed.pid)

            [
              T.shutdown(running),
              T.shutdown(finished),
              T.shutdown(crashed, :brutal_kill),
              T.shutdown(stuck(), :brutal_kill),
              T.shutdown(stubborn, 20)
            ]
          end,
          allow_crashes: true
        )

      assert result == [nil, {:ok, :finished}, {:exit, :crashed}, nil, {:exit, :killed}]
    end

    test "start and start_link run the function; only the owner may await" do
      result =
        same_as_otp(fn ->
          me = self()
          {:ok, a} = T.start(fn -> Lockstep.send(me, {:ran, :start}) end)
          {:ok, b} = T.start_link(Lockstep, :send, [me, {:ran, :start_link}])
          runs = Enum.sort(for _ <- 1..2, do: next(&match?({:ran, _}, &1)))
          task = T.async(fn -> :mine end)

          other =
            Lockstep.spawn(fn ->
              outcome =
                try do
                  T.await(task, 100)
                rescue
                  e in ArgumentError -> {:raised, e.__struct__}
                end

              Lockstep.send(me, {:other, outcome})
            end)

          {:other, outcome} = next(&match?({:other, _}, &1))
          {is_pid(a) and is_pid(b) and is_pid(other), runs, outcome, T.await(task)}
        end)

      assert result ==
               {true, [{:ran, :start}, {:ran, :start_link}], {:raised, ArgumentError}, :mine}
    end
  end

  test "await's timeout runs on the virtual clock" do
    for {elapsed, reason} <-
          inside_all(fn ->
            task = stuck()
            t0 = Lockstep.now()
            reason = catch_exit(T.await(task, 60_000))
            {Lockstep.now() - t0, elapsed_reason(reason)}
          end) do
      assert elapsed == 60_000
      assert reason == :timeout
    end
  end

  defp elapsed_reason({reason, {Task, :await, _}}), do: reason
end

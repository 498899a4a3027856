defmodule Lockstep.TaskStreamTest do
  use ExUnit.Case, async: true

  import Lockstep.OTPCase

  alias Lockstep.Task, as: T
  alias Lockstep.Task.Supervisor, as: TSup

  @moduletag :capture_log

  defp next(pattern?), do: Lockstep.recv_first(pattern?)

  defp exited(pid) do
    ref = Lockstep.monitor(pid)
    next(&match?({:DOWN, ^ref, _, _, _}, &1))
  end

  # Nothing the stream did is left in the caller's mailbox.
  defp mailbox_clean?, do: Lockstep.recv(0) == :timeout

  # A coordinator that lets the tasks of `order` (their inputs) finish one at a time in that
  # order: each task reports ready and waits; the next is released when the previous has exited.
  defp coordinator(order) do
    Lockstep.spawn(fn ->
      ready =
        for _ <- order, into: %{} do
          {:ready, input, pid} = Lockstep.recv_first(&match?({:ready, _, _}, &1))
          {input, pid}
        end

      for input <- order do
        pid = Map.fetch!(ready, input)
        ref = Lockstep.monitor(pid)
        Lockstep.send(pid, :go)
        Lockstep.recv_first(&match?({:DOWN, ^ref, _, _, _}, &1))
      end
    end)
  end

  defp gated(coordinator, fun) do
    fn input ->
      Lockstep.send(coordinator, {:ready, input, self()})
      Lockstep.recv_first(&(&1 == :go))
      fun.(input)
    end
  end

  describe "compared with OTP" do
    test "ordered results, with a function and with {module, function, args}" do
      result =
        same_as_otp(fn ->
          doubled = 1..6 |> T.async_stream(&(&1 * 2), max_concurrency: 2) |> Enum.to_list()
          dup = ["a", "b"] |> T.async_stream(String, :duplicate, [3]) |> Enum.to_list()
          {doubled, dup, mailbox_clean?()}
        end)

      assert result ==
               {Enum.map(1..6, &{:ok, &1 * 2}), [ok: "aaa", ok: "bbb"], true}
    end

    test "ordered: true waits for earlier elements; ordered: false delivers as tasks finish" do
      result =
        same_as_otp(fn ->
          run = fn ordered ->
            coord = coordinator([3, 1, 2])

            [1, 2, 3]
            |> T.async_stream(gated(coord, & &1), max_concurrency: 3, ordered: ordered)
            |> Enum.to_list()
          end

          {run.(true), run.(false), mailbox_clean?()}
        end)

      assert result == {[ok: 1, ok: 2, ok: 3], [ok: 3, ok: 1, ok: 2], true}
    end

    test "a crashing element, with the caller trapping exits: {:exit, reason}, zipped or not" do
      result =
        same_as_otp(
          fn ->
            Lockstep.flag(:trap_exit, true)

            work = fn
              2 -> exit(:bad)
              i -> i
            end

            plain = [1, 2, 3] |> T.async_stream(work) |> Enum.to_list()
            zipped = [1, 2, 3] |> T.async_stream(work, zip_input_on_exit: true) |> Enum.to_list()
            {plain, zipped, mailbox_clean?()}
          end,
          allow_crashes: true
        )

      assert result == {[ok: 1, exit: :bad, ok: 3], [ok: 1, exit: {2, :bad}, ok: 3], true}
    end

    test "a crashing element takes a caller that does not trap exits down with it" do
      result =
        same_as_otp(
          fn ->
            me = self()

            pid =
              Lockstep.spawn(fn ->
                Lockstep.recv_first(&(&1 == :go))

                list =
                  [1, 2]
                  |> T.async_stream(fn
                    2 -> exit(:bad)
                    i -> i
                  end)
                  |> Enum.to_list()

                Lockstep.send(me, {:finished, list})
              end)

            ref = Lockstep.monitor(pid)
            Lockstep.send(pid, :go)
            next(&match?({:DOWN, ^ref, _, _, _}, &1))
          end,
          allow_crashes: true
        )

      assert {:DOWN, {:ref, 0}, :process, {:pid, 1}, :bad} = result
    end

    test "timeouts: :kill_task gives {:exit, :timeout}; :exit exits the caller" do
      result =
        same_as_otp(fn ->
          work = fn
            :stuck -> Lockstep.recv()
            i -> i
          end

          killed =
            [1, :stuck, 3]
            |> T.async_stream(work, timeout: 100, on_timeout: :kill_task)
            |> Enum.to_list()

          exited = catch_exit([:stuck] |> T.async_stream(work, timeout: 50) |> Enum.to_list())
          {killed, exited, mailbox_clean?()}
        end)

      assert result ==
               {[ok: 1, exit: :timeout, ok: 3], {:timeout, {Task.Supervised, :stream, [50]}},
                true}
    end

    test "halting early stops the remaining tasks and leaves nothing behind" do
      result =
        same_as_otp(fn ->
          Lockstep.flag(:trap_exit, true)
          me = self()

          taken =
            1..5
            |> T.async_stream(fn i -> i end, max_concurrency: 2)
            |> Enum.take(2)

          zipped =
            [:a, :b, :c]
            |> T.async_stream(fn x -> Lockstep.send(me, {:ran, x}) && x end, max_concurrency: 1)
            |> Stream.zip(1..2)
            |> Enum.to_list()

          # Zip pulls a third element before it sees 1..2 is exhausted, so :c ran too.
          ran = for _ <- 1..3, do: next(&match?({:ran, _}, &1))
          {taken, zipped, ran, mailbox_clean?()}
        end)

      assert result ==
               {[ok: 1, ok: 2], [{{:ok, :a}, 1}, {{:ok, :b}, 2}], [ran: :a, ran: :b, ran: :c],
                true}
    end
  end

  describe "Task.Supervisor, compared with OTP" do
    test "async, async_nolink, start_child, children, max_children" do
      result =
        same_as_otp(
          fn ->
            me = self()
            {:ok, sup} = TSup.start_link(max_children: 2)
            # Each task is awaited until it has exited, so the supervisor no longer counts it.
            linked_task = TSup.async(sup, fn -> :linked end)
            linked = T.await(linked_task)
            exited(linked_task.pid)
            crashing = TSup.async_nolink(sup, fn -> exit(:nolink_crash) end)
            crash = catch_exit(T.await(crashing))
            yielded = TSup.async_nolink(sup, fn -> raise "boom" end) |> T.yield()
            {:ok, child} = TSup.start_child(sup, fn -> Lockstep.recv() end)
            {:ok, sender} = TSup.start_child(sup, Lockstep, :send, [me, :started_child])
            next(&(&1 == :started_child))
            exited(sender)
            children = TSup.children(sup)
            {:ok, _} = TSup.start_child(sup, fn -> Lockstep.recv() end)
            full = TSup.start_child(sup, fn -> :never end)

            raised =
              try do
                TSup.async(sup, fn -> :never end)
              rescue
                e in RuntimeError -> e.__struct__
              end

            stopped = TSup.terminate_child(sup, child)
            :ok = Lockstep.DynamicSupervisor.stop(sup)
            {linked, crash, yielded, children == [child], full, raised, stopped}
          end,
          allow_crashes: true
        )

      assert {:linked, {:nolink_crash, {Task, :await, [%Task{}, 5000]}},
              {:exit, {%RuntimeError{message: "boom"}, :stacktrace}}, true,
              {:error, :max_children}, RuntimeError, :ok} = result
    end

    test "async_stream_nolink yields {:exit, reason} for a crash; async_stream links" do
      result =
        same_as_otp(
          fn ->
            {:ok, sup} = TSup.start_link()

            work = fn
              2 -> exit(:bad)
              i -> i * 10
            end

            nolink = TSup.async_stream_nolink(sup, 1..3, work, ordered: true) |> Enum.to_list()
            Lockstep.flag(:trap_exit, true)
            linked = TSup.async_stream(sup, 1..3, work) |> Enum.to_list()
            mfa = TSup.async_stream_nolink(sup, ["x"], String, :duplicate, [2]) |> Enum.to_list()
            clean = mailbox_clean?()
            :ok = Lockstep.DynamicSupervisor.stop(sup)
            {nolink, linked, mfa, clean}
          end,
          allow_crashes: true
        )

      assert result ==
               {[ok: 10, exit: :bad, ok: 30], [ok: 10, exit: :bad, ok: 30], [ok: "xx"], true}
    end
  end

  test "the order of unordered results is explored" do
    orders =
      inside_all(
        fn ->
          [1, 2, 3]
          |> T.async_stream(& &1, max_concurrency: 3, ordered: false)
          |> Enum.map(fn {:ok, i} -> i end)
        end,
        iterations: 40
      )

    assert Enum.all?(orders, &(Enum.sort(&1) == [1, 2, 3]))
    assert length(Enum.uniq(orders)) > 1
  end
end

defmodule Lockstep.GenTest do
  use ExUnit.Case, async: true

  import Lockstep.TestHelpers

  alias Lockstep.Gen

  # A minimal server speaking the gen protocol, written with Lockstep primitives.
  defp echo_server do
    receive_loop = fn loop ->
      case Lockstep.recv() do
        {:"$gen_call", from, :stop} ->
          Gen.reply(from, :stopping)
          exit(:shutdown)

        {:"$gen_call", from, {:crash, reason}} ->
          _ = from
          exit(reason)

        {:"$gen_call", _from, :ignore} ->
          loop.(loop)

        {:"$gen_call", from, msg} ->
          Gen.reply(from, {:echo, msg})
          loop.(loop)

        {:"$gen_cast", {:to, pid, msg}} ->
          Lockstep.send(pid, msg)
          loop.(loop)
      end
    end

    Lockstep.spawn(fn -> receive_loop.(receive_loop) end)
  end

  test "a call gets its reply, by pid and by registered name" do
    assert inside(fn ->
             pid = echo_server()
             Lockstep.register(pid, :echo)
             {Gen.call(pid, :hi, 5000), Gen.call(:echo, :there, :infinity)}
           end) == {{:echo, :hi}, {:echo, :there}}
  end

  test "a cast is delivered; a cast to an unknown name is :ok" do
    assert inside(fn ->
             pid = echo_server()
             :ok = Gen.cast(:nobody, :x)
             :ok = Gen.cast(pid, {:to, self(), :casted})
             Lockstep.recv()
           end) == :casted
  end

  test "calls fail with the reasons GenServer.call/3 exits with" do
    assert inside(fn ->
             catch_exit(Gen.call(:nobody, :req, 100))
           end) == {:noproc, {GenServer, :call, [:nobody, :req, 100]}}

    assert {{:boom, {GenServer, :call, [pid, {:crash, :boom}, 1000]}}, pid} =
             inside(
               fn ->
                 pid = echo_server()
                 {catch_exit(Gen.call(pid, {:crash, :boom}, 1000)), pid}
               end,
               allow_crashes: true
             )

    assert {{:timeout, {GenServer, :call, [pid, :ignore, 50]}}, pid, 50} =
             inside(fn ->
               pid = echo_server()
               t0 = Lockstep.now()
               reason = catch_exit(Gen.call(pid, :ignore, 50))
               {reason, pid, Lockstep.now() - t0}
             end)
  end

  test "calling oneself exits with :calling_self" do
    assert {{:calling_self, {GenServer, :call, [pid, :x, 10]}}, pid} =
             inside(fn -> {catch_exit(Gen.call(self(), :x, 10)), self()} end)
  end

  test "a dead pid gives :noproc" do
    assert {:noproc, {GenServer, :call, [_pid, :x, 10]}} =
             inside(fn ->
               pid = Lockstep.spawn(fn -> :ok end)
               ref = Lockstep.monitor(pid)
               {:DOWN, ^ref, _, _, _} = Lockstep.recv()
               catch_exit(Gen.call(pid, :x, 10))
             end)
  end
end

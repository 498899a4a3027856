defmodule Lockstep.InstrumentTest do
  # Unmodified code, put under control at load time: bugs found without editing it, the
  # correct twins passing, the same behaviour outside a run, and clear words for what cannot
  # be rewritten.
  use ExUnit.Case, async: false

  import Lockstep.OtpDiff, only: [plain: 1, norm: 1]
  import Lockstep.TestHelpers

  @modules [
    PlainCode.Counter,
    PlainCode.SafeCounter,
    PlainCode.Cache,
    PlainCode.Clock,
    PlainCode.Receives
  ]

  setup_all do
    Lockstep.instrument(@modules)
    on_exit(fn -> Lockstep.uninstrument(@modules) end)
    :ok
  end

  defp two_increments(mod) do
    fn ->
      c = mod.start()
      me = self()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          mod.increment(c)
          Lockstep.send(me, :done)
        end)
      end

      Lockstep.recv()
      Lockstep.recv()
      if mod.get(c) != 2, do: raise("lost update")
    end
  end

  test "the instrumented modules are marked" do
    assert Enum.all?(@modules, &Lockstep.Instrument.instrumented?/1)
  end

  test "a lost update in an unmodified counter is found, replayed and shrunk; its twin passes" do
    bug = bug(two_increments(PlainCode.Counter), iterations: 200)
    assert bug.message =~ "lost update"
    assert bug.shrink.after.preemptions <= bug.shrink.before.preemptions

    assert_raise Lockstep.BugFound, ~r/lost update/, fn ->
      Lockstep.replay(two_increments(PlainCode.Counter), bug.schedule_path)
    end

    assert bug(two_increments(PlainCode.SafeCounter), iterations: 200) == nil
  end

  test "a GenServer and ETS cache that looks up then inserts counts two misses" do
    body = fn ->
      {:ok, s} = PlainCode.Cache.start_link()
      me = self()

      for _ <- 1..2 do
        Lockstep.spawn(fn ->
          PlainCode.Cache.fetch(s, :k, fn -> 42 end)
          Lockstep.send(me, :done)
        end)
      end

      Lockstep.recv()
      Lockstep.recv()
      if PlainCode.Cache.misses(s) != 1, do: raise("two misses")
    end

    bug = bug(body, iterations: 200)
    assert bug.message =~ "two misses"
    assert bug.message =~ "ETS insert {:k, 42} into an unnamed table"
  end

  test "outside a run the instrumented code behaves as the original" do
    scenario = fn ->
      c = PlainCode.Counter.start()
      :ok = PlainCode.Counter.increment(c)
      ref = make_ref()
      send(self(), {ref, 5})
      send(self(), {ref, 50})
      send(self(), {ref, :later})
      {:ok, s} = PlainCode.Cache.start_link()

      {PlainCode.Counter.get(c), PlainCode.Receives.pinned(ref, 0),
       PlainCode.Receives.pinned(ref, 0), PlainCode.Receives.pinned(ref, 0),
       PlainCode.Receives.pinned(ref, 0), PlainCode.Receives.now_or_never(),
       PlainCode.Receives.just_wait(1), PlainCode.Cache.fetch(s, :a, fn -> 1 end),
       PlainCode.Cache.fetch(s, :a, fn -> 2 end), PlainCode.Cache.misses(s)}
    end

    instrumented = norm(plain(scenario))
    Lockstep.uninstrument(@modules)

    try do
      assert norm(plain(scenario)) == instrumented
    after
      Lockstep.instrument(@modules)
    end

    assert instrumented ==
             {1, {:small, 5}, {:big, 50}, :later, :timeout, :empty, :waited, 1, 1, 1}
  end

  test "receive keeps pinned variables, guards, clause order and timeouts inside a run" do
    results =
      inside_each(
        fn ->
          ref = make_ref()
          other = make_ref()
          me = self()
          Lockstep.spawn(fn -> Lockstep.send(me, {other, :first}) end)
          Lockstep.send(me, {ref, 5})
          Lockstep.send(me, {ref, 50})

          {PlainCode.Receives.pinned(ref, 10), PlainCode.Receives.pinned(ref, 10),
           PlainCode.Receives.pinned(ref, 10), PlainCode.Receives.nested(other),
           PlainCode.Clock.elapsed(fn -> PlainCode.Receives.just_wait(25) end)}
        end,
        iterations: 20
      )

    assert Enum.uniq(results) == [{{:small, 5}, {:big, 50}, :timeout, :only_first, 25}]
  end

  test "receive ... after 0 races with a concurrent send" do
    results =
      inside_each(
        fn ->
          me = self()
          Lockstep.spawn(fn -> Lockstep.send(me, :hi) end)
          PlainCode.Receives.now_or_never()
        end,
        iterations: 40
      )

    assert Enum.sort(Enum.uniq(results)) == [:empty, {:got, :hi}]
  end

  test "the clocks read the virtual clock" do
    assert inside(fn -> PlainCode.Clock.elapsed(fn -> Lockstep.sleep(40) end) end) == 40
  end

  # Called through a function so the compiler does not look for a module built at test time.
  defp erl, do: :plain_erl_worker

  describe "Erlang" do
    setup do
      dir = Path.join(System.tmp_dir!(), "lockstep-erl-#{System.unique_integer([:positive])}")
      File.mkdir_p!(dir)
      src = Path.expand("fixtures/erl/plain_erl_worker.erl", __DIR__)

      {:ok, :plain_erl_worker} =
        :compile.file(String.to_charlist(src), [:debug_info, outdir: String.to_charlist(dir)])

      :code.add_patha(String.to_charlist(dir))
      {:module, _} = :code.load_file(:plain_erl_worker)

      on_exit(fn ->
        Lockstep.Instrument.restore(:plain_erl_worker)
        :code.del_path(String.to_charlist(dir))
        :code.purge(:plain_erl_worker)
        :code.delete(:plain_erl_worker)
        File.rm_rf!(dir)
      end)

      :ok
    end

    test "! and receive ... after in an unmodified module: the lost update is found" do
      {:ok, notes} = Lockstep.Instrument.module(:plain_erl_worker)
      assert [%{function: {:yielding, 0}, text: text}] = notes
      assert text =~ "erlang:yield/0"

      body = fn ->
        w = erl().start()
        me = self()

        for _ <- 1..2 do
          Lockstep.spawn(fn ->
            erl().bump(w)
            Lockstep.send(me, :done)
          end)
        end

        Lockstep.recv()
        Lockstep.recv()
        if erl().read(w) != 2, do: raise("lost update")
      end

      assert bug(body, iterations: 200).message =~ "lost update"
    end

    test "guards, timeouts, auto-imported spawn and exported variables work as in Erlang" do
      plain_results = fn ->
        me = self()
        send(self(), {:t, 0})
        send(self(), {:t, 7})
        a = erl().await(:t, 0)
        b = erl().await(:t, 0)
        c = erl().await(:t, 0)
        pid = erl().auto_spawn(me)
        spawned = Lockstep.recv_first(&match?({:spawned, _}, &1))
        {a, b, c, spawned == {:spawned, pid}, erl().exported(me)}
      end

      expected = plain(plain_results)
      Lockstep.Instrument.module(:plain_erl_worker)
      assert plain(plain_results) == expected

      inside_run = fn ->
        me = self()
        Lockstep.send(me, {:t, 0})
        Lockstep.send(me, {:t, 7})
        a = erl().await(:t, 0)
        b = erl().await(:t, 0)
        c = erl().await(:t, 30)
        pid = erl().auto_spawn(me)
        spawned = Lockstep.recv_first(&match?({:spawned, _}, &1))
        {a, b, c, spawned == {:spawned, pid}, erl().exported(me)}
      end

      assert Enum.uniq(inside_each(inside_run, iterations: 10)) == [expected]
      assert expected == {:bad, {:ok, 7}, :timeout, true, 2}
    end
  end

  describe "what cannot be instrumented" do
    test "a module without debug_info is refused, naming it" do
      {:ok, :no_dbg, binary} =
        :compile.forms(
          [{:attribute, 1, :module, :no_dbg}, {:attribute, 1, :export, []}],
          [:binary]
        )

      assert {:error, why} = Lockstep.Instrument.beam(binary)
      assert why =~ "no_dbg"
      assert why =~ "debug_info"
    end

    test "Lockstep's own modules and garbage are refused with a reason" do
      assert_raise ArgumentError, ~r/part of Lockstep/, fn ->
        Lockstep.instrument([Lockstep.Runner])
      end

      assert {:error, why} = Lockstep.Instrument.beam("not a beam")
      assert why =~ "not a readable .beam"

      assert_raise ArgumentError, ~r/no .beam file/, fn ->
        Lockstep.instrument([:no_such_module_here])
      end

      assert {:error, _} = Lockstep.Instrument.restore(:no_such_module_here)
    end

    test "instrumenting twice is harmless" do
      assert :ok = Lockstep.instrument([PlainCode.Counter])
      assert Lockstep.Instrument.instrumented?(PlainCode.Counter)
    end
  end
end

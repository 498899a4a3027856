defmodule Lockstep.LintTest do
  # The compile-time check of ctest bodies: bare primitives and calls into uninstrumented
  # modules that use them are warned about, at their line; Lockstep.plain/1 and
  # `instrument: true` silence it; compilation never fails.
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO

  defp compile(source) do
    capture_io(:stderr, fn ->
      [{mod, _}] = Code.compile_string(source, "lint_fixture.exs")
      :code.purge(mod)
      :code.delete(mod)
    end)
  end

  defp module(name, opts, body) do
    """
    defmodule #{name} do
      use ExUnit.Case
      use Lockstep.Test#{opts}
      # Not a test module of this suite: without ExUnit's callback it is never handed to the
      # runner (which refuses modules once the suite runs). The lint runs as `ctest` expands.
      Module.delete_attribute(__MODULE__, :after_compile)

      ctest "body" do
    #{body}
      end
    end
    """
  end

  test "bare primitives in a ctest body are named with their line" do
    out =
      compile(
        module("LintBare", "", """
            pid = spawn(fn -> :ok end)
            send(pid, :hi)
            receive do
              _ -> :ok
            after
              0 -> :ok
            end
            :ets.new(:lint_table, [])
            GenServer.cast(pid, :x)
        """)
      )

    assert out =~ "a plain `spawn/1` in a ctest body bypasses Lockstep"
    assert out =~ "lint_fixture.exs:9"
    assert out =~ "a plain `send/2`"
    assert out =~ "a plain `receive`"
    assert out =~ "a plain `:ets.new/2`"
    assert out =~ "a plain `GenServer.cast/2`"
  end

  test "the Lockstep API, Lockstep.plain/1 and instrument: true are not warned about" do
    refute compile(
             module("LintClean", "", """
                 me = self()
                 Lockstep.spawn(fn -> Lockstep.send(me, :hi) end)
                 Lockstep.recv()
                 Lockstep.plain(send(me, :collected))
             """)
           ) =~ "in a ctest body bypasses Lockstep"

    refute compile(
             module("LintInstrumented", ", instrument: true", """
                 send(self(), :hi)
                 receive do
                   :hi -> :ok
                 end
             """)
           ) =~ "in a ctest body bypasses Lockstep"
  end

  test "a call into a module that uses primitives but is not instrumented is named" do
    out = compile(module("LintCallee", "", "    PlainCode.Untouched.ping(self())"))
    assert out =~ "calls PlainCode.Untouched, which uses concurrency primitives"
    assert out =~ "Lockstep.instrument([PlainCode.Untouched])"
  end
end

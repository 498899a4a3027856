defmodule Lockstep.CheckerConformanceTest do
  # Porcupine's conformance histories (see ../shared/data/porcupine/EXPECTED.md), through the mix
  # task's code path and through Linearizable.check/3. Skipped when the data is absent.
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  alias Lockstep.Checker.Linearizable

  @data Path.expand("../shared/data/porcupine", File.cwd!())

  if File.dir?(@data) do
    @moduletag timeout: 120_000
  else
    IO.puts("Skipping the checker conformance tests: #{@data} is absent")
    @moduletag skip: "conformance data absent (#{@data})"
  end

  # From EXPECTED.md: every other non-empty etcd history is not linearizable; etcd_095 is empty.
  @linearizable ~w(002 005 007 018 025 031 038 045 048 049 051 053 056 067 075 076 080 087 092
                   098 100 101 102)
  @kv_expected %{
    "c01-ok.txt" => :ok,
    "c10-ok.txt" => :ok,
    "c50-ok.txt" => :ok,
    "c01-bad.txt" => :violation,
    "c10-bad.txt" => :violation,
    "c50-bad.txt" => :violation
  }

  defp jepsen_expected do
    for n <- 0..102, n != 95, into: %{} do
      id = n |> Integer.to_string() |> String.pad_leading(3, "0")
      {"etcd_#{id}.log", if(id in @linearizable, do: :ok, else: :violation)}
    end
  end

  defp task(args) do
    output = capture_io(fn -> send(self(), {:code, Mix.Tasks.Lockstep.Check.main(args)}) end)
    assert_received {:code, code}

    verdicts =
      for line <- String.split(output, "\n"),
          [_, path, verdict] <- [
            Regex.run(~r/^(\S+): (linearizable|not linearizable|unknown|error)/, line)
          ],
          into: %{} do
        {Path.basename(path), verdict}
      end

    {code, verdicts, output}
  end

  defp word(:ok), do: "linearizable"
  defp word(:violation), do: "not linearizable"

  defp kind(:ok), do: :ok
  defp kind({:error, %Lockstep.Checker.Violation{}}), do: :violation
  defp kind(other), do: other

  test "mix lockstep.check: all 102 etcd histories match EXPECTED.md; the empty one is an error" do
    {code, verdicts, output} = task([Path.join(@data, "jepsen"), "--model", "cas_register"])
    # etcd_095.log is empty: no operations is an error (exit 2), not a pass.
    assert code == 2
    assert verdicts["etcd_095.log"] == "error"
    assert output =~ "etcd_095.log: error: no operations: the history is empty"
    assert output =~ "103 histories: 23 linearizable, 79 not linearizable, 0 unknown, 1 errors"

    for {file, expected} <- jepsen_expected() do
      assert verdicts[file] == word(expected), "#{file}: got #{inspect(verdicts[file])}"
    end

    # Violations name the operation that could not be placed.
    assert output =~ ~r/etcd_001\.log: not linearizable: process \d+: \w+/
  end

  test "mix lockstep.check: the kv histories with initial \"\"" do
    {code, verdicts, _} = task([Path.join(@data, "kv"), "--model", "kv", "--initial", ~s("")])

    assert code == 1
    assert verdicts == Map.new(@kv_expected, fn {f, v} -> {f, word(v)} end)
  end

  test "Linearizable.check/3 agrees with EXPECTED.md on every etcd history" do
    for {file, expected} <- jepsen_expected() do
      path = Path.join([@data, "jepsen", file])
      assert kind(Linearizable.check({:file, path}, :cas_register)) == expected, file
    end
  end

  test "Linearizable.check/3 on the kv histories, from text and from event lists" do
    for {file, expected} <- @kv_expected do
      text = File.read!(Path.join([@data, "kv", file]))
      assert kind(Linearizable.check(text, :kv, initial: "")) == expected, file
      {:ok, events} = Lockstep.Checker.events(text, %{format: :auto, strict: false})
      assert kind(Linearizable.check(events, :kv, initial: "", threads: 2)) == expected, file
    end

    # Unpartitioned search agrees (only on the small ones: it is exponentially slower).
    for file <- ["c01-ok.txt", "c01-bad.txt"] do
      text = File.read!(Path.join([@data, "kv", file]))

      assert kind(Linearizable.check(text, :kv, initial: "", partition: false)) ==
               @kv_expected[file]
    end
  end
end

defmodule Lockstep.SimpleOneForOneTest do
  # Erlang code still starts `simple_one_for_one` supervisors (`supervisor:start_child(Sup,
  # Args)`): Lockstep.Supervisor runs them as OTP does, compared with OTP's supervisor.
  use ExUnit.Case, async: true
  import Lockstep.OtpDiff

  defmodule Sup do
    @moduledoc false
    def init(:ok) do
      {:ok,
       {{:simple_one_for_one, 3, 5},
        [
          {:w, {Lockstep.SimpleOneForOneTest.Worker, :start_link, [:base]}, :temporary, 1000,
           :worker, []}
        ]}}
    end
  end

  defmodule Worker do
    @moduledoc false
    def start_link(base, extra) do
      {:ok, Lockstep.spawn_link(fn -> Lockstep.recv_first(&(&1 == {:stop, base, extra})) end)}
    end
  end

  test "children from the template with extra arguments, listed, counted and terminated" do
    scenario = fn sup_mod, start_child, terminate_child ->
      {:ok, sup} = sup_mod.start_link(Sup, :ok)
      {:ok, a} = start_child.(sup, [1])
      {:ok, _b} = start_child.(sup, [2])

      listed =
        sup_mod.which_children(sup) |> Enum.map(fn {id, _pid, type, mods} -> {id, type, mods} end)

      :ok = terminate_child.(sup, a)

      {listed, sup_mod.count_children(sup),
       start_child.(sup, %{id: :x, start: {Worker, :start_link, [:y, :z]}})}
    end

    real = fn ->
      scenario.(Supervisor, &:supervisor.start_child/2, &:supervisor.terminate_child/2)
    end

    lockstep = fn ->
      scenario.(
        Lockstep.Supervisor,
        &Lockstep.Supervisor.start_child/2,
        &Lockstep.Supervisor.terminate_child/2
      )
    end

    expected = norm(plain(real))

    assert {[{:undefined, :worker, []}, {:undefined, :worker, []}], %{active: 1, workers: 1},
            {:error, _}} = expected

    for result <- lockstep |> under_lockstep(iterations: 8) |> Enum.map(&norm/1) |> Enum.uniq() do
      assert result == expected
    end
  end
end

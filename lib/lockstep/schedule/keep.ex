defmodule Lockstep.Schedule.Keep do
  # Bounds what failures leave on disk: after a failure saves its schedule file and report,
  # only the newest `keep` failures' files of each test in that directory are kept. Only files named as the
  # runner names them (`<test>-seed<S>-iter<I>-<os pid>-<n>.json|.txt|.html`) are touched; a schedule
  # saved elsewhere, renamed or written by `mix lockstep.shrink` is the user's.
  @moduledoc false

  @pattern ~r/^(.*)-seed\d+-iter\d+-\d+-\d+\.(json|txt|html)$/

  @doc """
  Deletes the files of all but the newest `keep` failures of each test in `dir` (`:infinity`
  keeps all).
  `protect` (a path) is never deleted. Returns how many failures' files were removed.
  """
  @spec prune(Path.t(), pos_integer() | :infinity, Path.t() | nil) :: non_neg_integer()
  def prune(_dir, :infinity, _protect), do: 0

  def prune(dir, keep, protect) when is_integer(keep) and keep > 0 do
    protected = protect && Path.rootname(Path.expand(protect))

    case File.ls(dir) do
      {:ok, names} ->
        names
        |> Enum.filter(&Regex.match?(@pattern, &1))
        |> Enum.group_by(&Path.rootname/1)
        |> Enum.map(fn {root, files} -> {{newest(dir, files), counter(root)}, root, files} end)
        |> Enum.group_by(fn {_, root, _} -> test_of(root) end)
        |> Enum.flat_map(fn {_test, failures} ->
          failures |> Enum.sort(:desc) |> Enum.drop(keep)
        end)
        |> Enum.reject(fn {_, root, _} -> Path.expand(Path.join(dir, root)) == protected end)
        |> Enum.map(fn {_, _, files} -> Enum.each(files, &File.rm(Path.join(dir, &1))) end)
        |> length()

      {:error, _} ->
        0
    end
  end

  defp test_of(root), do: root |> String.split(~r/-seed\d+-iter\d+-/) |> hd()

  # The file name's last number: within one VM, later failures have larger ones (a tie-break
  # for files written within the same second).
  defp counter(root) do
    case Regex.run(~r/-(\d+)$/, root) do
      [_, n] -> String.to_integer(n)
      _ -> 0
    end
  end

  defp newest(dir, files) do
    files
    |> Enum.map(fn f ->
      case File.stat(Path.join(dir, f), time: :posix) do
        {:ok, %{mtime: t}} -> t
        _ -> 0
      end
    end)
    |> Enum.max()
  end
end

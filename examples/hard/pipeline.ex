defmodule Lockstep.Hard.Pipeline do
  @moduledoc """
  A pipeline with credit-based back-pressure: three producers feed a bounded stage, four
  workers pull from it, a collector gathers the results.

  The stage buffers at most two items. A producer may send an item only while it holds a
  credit: each producer starts with one, and the stage returns one each time it dispatches
  an item to a worker (to the producer whose item left).
  Workers ask the stage for work with `{:ask, worker}`; the stage hands a buffered item to
  the first waiting worker. The initial credits were sized when there were two producers;
  with three, three items can be in the buffer at once. Ten processes run (the root,
  the collector, the stage, four workers, three producers), each producer sends four items,
  and a run takes up to about 170 steps.

  Failing schedule: all three producers' first items reach the stage before any worker's
  first `:ask` (or, later, while every worker is between a result and its next ask): the
  third item finds the buffer full and the stage raises. Whenever a worker is waiting by
  the time the third item lands, the pipeline drains and the collector gets all twelve
  results.
  """

  @capacity 2
  @producers 3
  @items 4
  @workers 4

  @doc "The stage: buffered items (with their producer), and the workers waiting for one."
  def stage(buffer, waiting) do
    case Lockstep.recv() do
      {:item, producer, item} ->
        if length(buffer) == @capacity do
          raise "stage buffer overflow: #{@capacity} items held, #{inspect(item)} arrived"
        end

        dispatch(buffer ++ [{producer, item}], waiting)

      {:ask, worker} ->
        dispatch(buffer, waiting ++ [worker])

      :stop ->
        Enum.each(waiting, &Lockstep.send(&1, :stop))
        stop_rest(@workers - length(waiting))
    end
  end

  # After the last result: every worker still to ask is told to stop.
  defp stop_rest(0), do: :ok

  defp stop_rest(n) do
    {:ask, worker} = Lockstep.recv_first(&match?({:ask, _}, &1))
    Lockstep.send(worker, :stop)
    stop_rest(n - 1)
  end

  defp dispatch([{producer, item} | rest], [worker | waiting]) do
    Lockstep.send(worker, {:work, item})
    Lockstep.send(producer, :credit)
    dispatch(rest, waiting)
  end

  defp dispatch(buffer, waiting), do: stage(buffer, waiting)

  @doc "A producer: one item per credit."
  def produce(stage, items) do
    for item <- items do
      :credit = Lockstep.recv()
      Lockstep.send(stage, {:item, self(), item})
    end
  end

  @doc "A worker: asks for work, passes the result on, until told to stop."
  def work(stage, collector) do
    Lockstep.send(stage, {:ask, self()})

    case Lockstep.recv() do
      {:work, item} ->
        Lockstep.send(collector, {:result, item})
        work(stage, collector)

      :stop ->
        :ok
    end
  end

  @doc "The collector: waits for `n` results and reports them to `to`."
  def collect(0, results, to), do: Lockstep.send(to, {:collected, results})

  def collect(n, results, to) do
    {:result, item} = Lockstep.recv()
    collect(n - 1, [item | results], to)
  end

  @doc "Three producers, four workers, one collector; every item must arrive once."
  def run do
    me = self()
    expected = @producers * @items
    collector = Lockstep.spawn(fn -> collect(expected, [], me) end)
    stage = Lockstep.spawn(fn -> stage([], []) end)

    for _ <- 1..@workers, do: Lockstep.spawn(fn -> work(stage, collector) end)

    for p <- 1..@producers do
      producer = Lockstep.spawn(fn -> produce(stage, for(i <- 1..@items, do: {p, i})) end)
      Lockstep.send(producer, :credit)
    end

    {:collected, results} = Lockstep.recv()
    Lockstep.send(stage, :stop)

    if length(Enum.uniq(results)) != expected do
      raise "the collector got #{length(Enum.uniq(results))} distinct results of #{expected}"
    end
  end
end

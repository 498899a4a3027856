defmodule Lockstep.Corpus.SenderOrder do
  @moduledoc """
  A metrics aggregator that expects its configuration before any sample, because the process
  that sends the configuration was started before the one that sends samples.

  Messages from one sender to one receiver keep their order; messages from two different
  senders have no order at all, whatever order the senders were started in. When the first
  sample arrives before the configuration, the aggregator has no scale factor yet and
  crashes on it.

  Failing schedule: the sampler sends `{:sample, 12}` before the config loader sends
  `{:config, ...}`; the aggregator takes the sample first and its pattern match on the
  missing configuration raises. It passes whenever the configuration arrives first.
  """

  @doc "The aggregator: scales samples with the configured factor."
  def aggregator(config, total, parent) do
    case Lockstep.recv() do
      {:config, config} ->
        aggregator(config, total, parent)

      {:sample, value} ->
        %{scale: scale} = config
        aggregator(config, total + value * scale, parent)

      :report ->
        Lockstep.send(parent, {:total, total})
    end
  end

  @doc "The config loader starts first, the sampler second."
  def run do
    me = self()
    aggregator = Lockstep.spawn(fn -> aggregator(nil, 0, me) end)
    Lockstep.spawn(fn -> Lockstep.send(aggregator, {:config, %{scale: 10}}) end)

    Lockstep.spawn(fn ->
      Lockstep.send(aggregator, {:sample, 12})
      Lockstep.send(me, :sampled)
    end)

    :sampled = Lockstep.recv()
    Lockstep.send(aggregator, :report)
    {:total, 120} = Lockstep.recv()
  end
end

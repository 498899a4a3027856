defmodule Lockstep.Error do
  @moduledoc """
  Raised when Lockstep itself is misused: an operation the engine cannot accept (for example a
  malformed argument reaching the engine, or a managed process calling into a run it does not
  belong to). Bugs in the code under test are reported as `Lockstep.BugFound` instead.
  """
  defexception [:message]
end

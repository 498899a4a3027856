# Fail at once, with the loader's message, if the NIF was not built.
Lockstep.Native.ensure!()

# Tests tagged :slow run with `mix test --include slow`.
ExUnit.start(exclude: [:slow])

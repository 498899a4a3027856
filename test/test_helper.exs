# Fail at once, with the loader's message, if the NIF was not built.
Code.ensure_loaded!(Lockstep.Native)

# Tests tagged :slow run with `mix test --include slow`.
ExUnit.start(exclude: [:slow])

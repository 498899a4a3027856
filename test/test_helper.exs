# Fail at once, with the loader's message, if the NIF was not built.
Code.ensure_loaded!(Lockstep.Native)

# Tests tagged :slow run with `mix test --include slow`; :lint_fixture marks the modules
# test/lint_test.exs compiles only to read their warnings.
ExUnit.start(exclude: [:slow, :lint_fixture])

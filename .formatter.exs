# Used by "mix format"
locals_without_parens = [ctest: 2, ctest: 3]

[
  inputs: ["{mix,.formatter}.exs", "{config,lib,test,examples,bench}/**/*.{ex,exs}"],
  locals_without_parens: locals_without_parens,
  export: [locals_without_parens: locals_without_parens]
]

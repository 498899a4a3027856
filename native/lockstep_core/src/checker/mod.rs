//! History checkers (linearizability, sequential and causal consistency).

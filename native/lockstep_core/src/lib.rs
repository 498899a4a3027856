//! Lockstep's engine: a pure-Rust controller for controlled concurrency testing of BEAM programs.

pub mod checker;

//! rustler bridge: converts terms to engine operations and replies back to terms, wakes the
//! process the engine picks, and watches every managed process. All scheduling logic lives in
//! `lockstep_core`; nothing here decides anything.

mod atoms;
mod checker;
mod cluster;
mod decode;
mod encode;
mod explore;
mod isolation;
mod payload;
mod run;
mod schedule;
mod shrink;
mod terms;

#[rustler::nif]
fn engine_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The seed of iteration `iteration` of a hunt seeded with `seed` (the engine's derivation, so
/// Elixir never re-implements it).
#[rustler::nif]
fn seed_iteration(seed: u64, iteration: u64) -> u64 {
    lockstep_core::seed::iteration_seed(seed, iteration)
}

fn load(_env: rustler::Env, _info: rustler::Term) -> bool {
    true
}

rustler::init!("Elixir.Lockstep.Native", load = load);

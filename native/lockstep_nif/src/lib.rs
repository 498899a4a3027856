//! rustler bridge: converts terms and wakes processes; all logic lives in `lockstep_core`.

#[rustler::nif]
fn engine_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

rustler::init!("Elixir.Lockstep.Native");

//! Terms kept across NIF calls: each in an owned environment of its own, so a message's heap is
//! freed when the engine drops it, and pids, refs and funs survive the sender's death.

use rustler::env::SavedTerm;
use rustler::{Env, OwnedEnv, Term};
use std::fmt;
use std::sync::Arc;

pub struct Stored {
    env: OwnedEnv,
    term: SavedTerm,
}

// SAFETY: a `Stored` is only reached through the run's mutex (the engine that holds it lives
// inside it), so no two threads touch its environment at once. `OwnedEnv` and `SavedTerm` are
// already `Send`; `Sync` is needed only because engine payloads are shared through `Arc`.
unsafe impl Sync for Stored {}

/// The engine's payload type in the bridge.
#[derive(Clone)]
pub struct Payload(Arc<Stored>);

impl Payload {
    pub fn new(term: Term<'_>) -> Payload {
        let env = OwnedEnv::new();
        let term = env.save(term);
        Payload(Arc::new(Stored { env, term }))
    }

    /// A copy of the stored term in `env`.
    pub fn load<'a>(&self, env: Env<'a>) -> Term<'a> {
        let s = &self.0;
        s.env.run(|owned| s.term.load(owned).in_env(env))
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<term>")
    }
}

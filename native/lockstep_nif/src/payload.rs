//! Terms kept across NIF calls. Atoms, integers that fit in 64 bits and local pids are kept
//! as values, the same in every environment; anything else is copied into a process-independent
//! environment of its own, so a message's heap is freed when the engine drops it, and refs
//! and funs survive the sender's death.

use rustler::sys::{enif_alloc_env, enif_free_env, enif_make_copy, ErlNifEnv, ErlNifTerm};
use rustler::{Atom, Encoder, Env, LocalPid, Term};
use std::fmt;
use std::sync::Arc;

/// A term copied into an environment that only this value owns.
pub struct Stored {
    env: *mut ErlNifEnv,
    term: ErlNifTerm,
}

// SAFETY: a `Stored` is only reached through the run's mutex (the engine that holds it lives
// inside it), so no two threads touch its environment at once; the environment belongs to no
// process, and is only read (copied out of) after it was filled.
unsafe impl Send for Stored {}
unsafe impl Sync for Stored {}

impl Drop for Stored {
    fn drop(&mut self) {
        // SAFETY: the environment was allocated by `Payload::new` and is freed only here.
        unsafe { enif_free_env(self.env) }
    }
}

/// The engine's payload type in the bridge.
#[derive(Clone)]
pub enum Payload {
    Atom(Atom),
    Int(i64),
    Pid(LocalPid),
    Stored(Arc<Stored>),
}

impl Payload {
    pub fn new(term: Term<'_>) -> Payload {
        if let Ok(a) = term.decode::<Atom>() {
            return Payload::Atom(a);
        }
        if let Ok(n) = term.decode::<i64>() {
            return Payload::Int(n);
        }
        if let Ok(p) = term.decode::<LocalPid>() {
            return Payload::Pid(p);
        }
        // SAFETY: a fresh process-independent environment, and a copy of a live term into it.
        let stored = unsafe {
            let env = enif_alloc_env();
            Stored {
                env,
                term: enif_make_copy(env, term.as_c_arg()),
            }
        };
        Payload::Stored(Arc::new(stored))
    }

    /// A copy of the stored term in `env`.
    pub fn load<'a>(&self, env: Env<'a>) -> Term<'a> {
        match self {
            Payload::Atom(a) => a.encode(env),
            Payload::Int(n) => n.encode(env),
            Payload::Pid(p) => p.encode(env),
            // SAFETY: `s.term` lives in `s.env`, which lives as long as `s`; the copy is made
            // in the caller's environment.
            Payload::Stored(s) => unsafe { Term::new(env, enif_make_copy(env.as_c_arg(), s.term)) },
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<term>")
    }
}

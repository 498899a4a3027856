//! The explorer resource: one exhaustive exploration (`lockstep_core::explore`) kept across
//! the runs of a hunt. `run_new` with `strategy: :exhaustive, explorer: ref` takes the next
//! run's strategy from it; `explore_finish` hands it the run's end and says where the
//! exploration stands. Nothing here decides anything.

use crate::atoms;
use crate::terms::show;
use lockstep_core::explore::{ExploreConfig, Explorer, Status};
use lockstep_core::strategy::Strategy;
use rustler::{Encoder, Env, ResourceArc, Term};
use std::sync::Mutex;

pub struct ExplorerResource {
    inner: Mutex<Explorer>,
}

#[rustler::resource_impl]
impl rustler::Resource for ExplorerResource {}

fn err<'a>(env: Env<'a>, msg: impl std::fmt::Display) -> Term<'a> {
    (atoms::error(), msg.to_string()).encode(env)
}

fn config(opts: Term<'_>) -> Result<ExploreConfig, String> {
    let env = opts.get_env();
    if !opts.is_map() {
        return Err(format!(
            "explorer options must be a map, got {}",
            show(opts)
        ));
    }
    let max_schedules = match opts.map_get(atoms::max_schedules().encode(env)) {
        Err(_) => None,
        Ok(t) if t == atoms::infinity().encode(env) || t == atoms::nil().encode(env) => None,
        Ok(t) => match t.decode::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "bad value for max_schedules: {} (a positive integer or :infinity)",
                    show(t)
                ))
            }
        },
    };
    let no_reduction = match opts.map_get(atoms::reduction().encode(env)) {
        Err(_) => false,
        Ok(t) => match t.decode::<bool>() {
            Ok(b) => !b,
            Err(_) => return Err(format!("bad value for reduction: {} (a boolean)", show(t))),
        },
    };
    let no_observers = match opts.map_get(atoms::observers().encode(env)) {
        Err(_) => false,
        Ok(t) => match t.decode::<bool>() {
            Ok(b) => !b,
            Err(_) => return Err(format!("bad value for observers: {} (a boolean)", show(t))),
        },
    };
    Ok(ExploreConfig {
        max_schedules,
        no_reduction,
        no_observers,
    })
}

/// A new exploration: `opts` is a map with `max_schedules` (a positive integer, `:infinity`
/// or absent), `reduction` (default true; false runs every interleaving) and `observers`
/// (default true; false takes every two additions to one mailbox as dependent).
#[rustler::nif]
fn explore_new<'a>(env: Env<'a>, opts: Term<'a>) -> Term<'a> {
    match config(opts) {
        Ok(c) => ResourceArc::new(ExplorerResource {
            inner: Mutex::new(Explorer::new(c)),
        })
        .encode(env),
        Err(e) => err(env, e),
    }
}

/// The strategy of the exploration's next run (for `run_new`).
pub(crate) fn next_strategy(opts: Term<'_>) -> Result<Box<dyn Strategy>, String> {
    let env = opts.get_env();
    let term = opts
        .map_get(atoms::explorer().encode(env))
        .map_err(|_| "strategy :exhaustive needs an explorer (from explore_new)".to_string())?;
    let ex: ResourceArc<ExplorerResource> = term
        .decode()
        .map_err(|_| format!("bad value for explorer: {} (an explorer)", show(term)))?;
    let mut ex = ex
        .inner
        .lock()
        .map_err(|_| "the explorer was poisoned by an earlier panic".to_string())?;
    match ex.next_run() {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err("the exploration is over: no run is left to explore".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn status<'a>(env: Env<'a>, s: Status) -> Term<'a> {
    match s {
        Status::Running { schedules } => (atoms::running(), schedules).encode(env),
        Status::Done { schedules } => (atoms::done(), schedules).encode(env),
        Status::Budget { schedules } => (atoms::budget(), schedules).encode(env),
    }
}

/// The run taken from the explorer ended (`failed`: with a failure at its last step). Returns
/// `{:running, n}`, `{:done, n}` or `{:budget, n}` (`n` runs explored), or `{:error, reason}`.
#[rustler::nif]
fn explore_finish<'a>(env: Env<'a>, ex: ResourceArc<ExplorerResource>, failed: bool) -> Term<'a> {
    let Ok(mut ex) = ex.inner.lock() else {
        return err(env, "the explorer was poisoned by an earlier panic");
    };
    match ex.finish_run(failed) {
        Ok(s) => status(env, s),
        Err(e) => err(env, e),
    }
}

/// `{status, sleep_blocked}`: where the exploration stands, and the runs that met a node where
/// every enabled process slept (0 when the reduction is optimal).
#[rustler::nif]
fn explore_status<'a>(env: Env<'a>, ex: ResourceArc<ExplorerResource>) -> Term<'a> {
    let Ok(ex) = ex.inner.lock() else {
        return err(env, "the explorer was poisoned by an earlier panic");
    };
    (status(env, ex.status()), ex.sleep_blocked()).encode(env)
}

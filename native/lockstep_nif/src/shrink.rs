//! Shrinking and slicing failed runs: a finished run's preemptions and causal slice, and the
//! engine's schedule shrinker as a resource the runner drives (propose, run guided, answer).
//!
//! Steps are 1-based numbers throughout, as in traces; a schedule is a list of process ids.

use crate::atoms;
use crate::run::{lock, RunResource};
use crate::terms::{decode_list, show};
use lockstep_core::shrink::{Shrinker, Size};
use lockstep_core::slice::{causal_slice_bounded, failure_points, Point};
use lockstep_core::ProcId;
use rustler::{Encoder, Env, ResourceArc, Term};
use std::sync::{Mutex, MutexGuard};

mod keys {
    rustler::atoms! {
        best,
        best_preemptions,
        before,
        after,
        steps,
        preemptions,
        candidates,
        accepted,
        done,
        step_budget,
    }
}

fn err<'a>(env: Env<'a>, msg: impl std::fmt::Display) -> Term<'a> {
    (atoms::error(), msg.to_string()).encode(env)
}

/// A list of process ids.
fn choices_of(t: Term<'_>) -> Result<Vec<ProcId>, String> {
    decode_list::<u32>(t)
        .map(|v| v.into_iter().map(ProcId).collect())
        .ok_or_else(|| {
            format!(
                "choices must be a list of process ids (integers >= 0), got {t}",
                t = show(t)
            )
        })
}

/// Preemption step numbers (1-based, each at most `steps`) as per-step flags.
fn flags_of(t: Term<'_>, steps: usize) -> Result<Vec<bool>, String> {
    let list: Vec<u64> = decode_list(t).ok_or_else(|| {
        format!(
            "preemptions must be a list of step numbers (integers >= 1), got {t}",
            t = show(t)
        )
    })?;
    let mut flags = vec![false; steps];
    for s in list {
        match usize::try_from(s).ok().filter(|s| (1..=steps).contains(s)) {
            Some(s) => flags[s - 1] = true,
            None => {
                return Err(format!(
                    "preemption step {s} is outside the schedule's {steps} steps"
                ))
            }
        }
    }
    Ok(flags)
}

/// The step numbers whose flag is set.
fn steps_of(flags: &[bool]) -> Vec<u64> {
    flags
        .iter()
        .enumerate()
        .filter(|(_, f)| **f)
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

fn ids(choices: &[ProcId]) -> Vec<u32> {
    choices.iter().map(|p| p.0).collect()
}

/// The steps of a run that were preemptions (switched away from a still-enabled process).
#[rustler::nif]
fn run_preemptions<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => steps_of(st.ctl.preemption_flags()).encode(env),
        Err(e) => err(env, e),
    }
}

/// The steps that happen before `from`, ascending, `from`'s own steps included. `from` is
/// `nil` (the finished run's failure: the ending process, or every blocked one), a step
/// number, or a list of step numbers. Call it before `run_release`, which drops the trace.
#[rustler::nif(schedule = "DirtyCpu")]
fn run_slice<'a>(env: Env<'a>, run: ResourceArc<RunResource>, from: Term<'a>) -> Term<'a> {
    let st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    let trace = st.ctl.trace();
    let points = if from.decode::<rustler::Atom>().ok() == Some(atoms::nil()) {
        match st.ctl.outcome() {
            Some(outcome) => failure_points(trace, outcome),
            None => {
                return err(
                    env,
                    "the run has not finished: it has no failure to slice from",
                )
            }
        }
    } else {
        let steps: Vec<u64> = match from.decode::<u64>() {
            Ok(s) => vec![s],
            Err(_) => match decode_list::<u64>(from) {
                Some(v) => v,
                None => {
                    return err(
                        env,
                        format!(
                            "slice from nil, a step number or a list of them, got {from}",
                            from = show(from)
                        ),
                    )
                }
            },
        };
        let last = st.ctl.steps();
        if let Some(bad) = steps.iter().find(|s| **s == 0 || **s > last) {
            return err(
                env,
                format!("step {bad} is not a step of this run (1..{last})"),
            );
        }
        steps.into_iter().map(Point::Step).collect()
    };
    causal_slice_bounded(trace, &points).encode(env)
}

pub struct ShrinkResource {
    state: Mutex<Shrinker>,
}

#[rustler::resource_impl]
impl rustler::Resource for ShrinkResource {}

fn shrinker(sh: &ResourceArc<ShrinkResource>) -> MutexGuard<'_, Shrinker> {
    // A shrinker holds no invariant a panic could break half-way that matters more than
    // answering: recover the guard.
    match sh.state.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `{:ok, shrinker}` for a failing schedule and its preemption steps, or `{:error, why}`.
#[rustler::nif]
fn shrink_new<'a>(env: Env<'a>, choices: Term<'a>, preemptions: Term<'a>) -> Term<'a> {
    let built = choices_of(choices).and_then(|c| {
        let flags = flags_of(preemptions, c.len())?;
        Shrinker::new(c, flags).map_err(|e| e.to_string())
    });
    match built {
        Ok(s) => (
            atoms::ok(),
            ResourceArc::new(ShrinkResource {
                state: Mutex::new(s),
            }),
        )
            .encode(env),
        Err(e) => err(env, e),
    }
}

/// The next proposal, `{choices, max_steps}`: run `choices` guided, stopping at `max_steps`
/// (a longer run could not be accepted). `nil` when no proposal is left.
#[rustler::nif]
fn shrink_next<'a>(env: Env<'a>, sh: ResourceArc<ShrinkResource>) -> Term<'a> {
    let mut s = shrinker(&sh);
    match s.next_candidate() {
        Some(c) => (ids(&c), s.step_budget()).encode(env),
        None => atoms::nil().encode(env),
    }
}

/// The pending proposal's run: whether it failed the same way, the choices it executed and
/// its preemption steps. `{:ok, accepted?}` or `{:error, why}`.
#[rustler::nif]
fn shrink_feedback<'a>(
    env: Env<'a>,
    sh: ResourceArc<ShrinkResource>,
    same_failure: Term<'a>,
    choices: Term<'a>,
    preemptions: Term<'a>,
) -> Term<'a> {
    let Ok(same) = same_failure.decode::<bool>() else {
        return err(
            env,
            format!(
                "same_failure must be a boolean, got {same_failure}",
                same_failure = show(same_failure)
            ),
        );
    };
    let decoded = choices_of(choices).and_then(|c| {
        let flags = flags_of(preemptions, c.len())?;
        Ok((c, flags))
    });
    match decoded {
        Ok((c, flags)) => match shrinker(&sh).feedback(same, c, flags) {
            Ok(accepted) => (atoms::ok(), accepted).encode(env),
            Err(e) => err(env, e),
        },
        Err(e) => err(env, e),
    }
}

fn size_term<'a>(env: Env<'a>, s: Size) -> Term<'a> {
    let m = rustler::types::map::map_new(env);
    m.map_put(keys::steps(), s.steps)
        .and_then(|m| m.map_put(keys::preemptions(), s.preemptions))
        .unwrap_or(m)
}

/// `%{best, best_preemptions, before, after, candidates, accepted, done, step_budget}` where
/// `before`/`after` are `%{steps, preemptions}`.
#[rustler::nif]
fn shrink_info<'a>(env: Env<'a>, sh: ResourceArc<ShrinkResource>) -> Term<'a> {
    let s = shrinker(&sh);
    let pairs: Vec<(Term<'a>, Term<'a>)> = vec![
        (keys::best().encode(env), ids(s.best()).encode(env)),
        (
            keys::best_preemptions().encode(env),
            steps_of(s.best_flags()).encode(env),
        ),
        (keys::before().encode(env), size_term(env, s.initial_size())),
        (keys::after().encode(env), size_term(env, s.size())),
        (keys::candidates().encode(env), s.candidates().encode(env)),
        (keys::accepted().encode(env), s.accepted().encode(env)),
        (keys::done().encode(env), s.is_done().encode(env)),
        (keys::step_budget().encode(env), s.step_budget().encode(env)),
    ];
    Term::map_from_pairs(env, &pairs)
        .unwrap_or_else(|_| err(env, "could not build the shrinker's summary"))
}

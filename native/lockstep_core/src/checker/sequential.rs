//! Sequential consistency (Lamport 1979): some interleaving of the processes' operations that keeps
//! each process's own order (program order) is legal for the model. Unlike linearizability, real
//! time between different processes is ignored.
//!
//! Sequential consistency is **not compositional**: a history whose every key is sequentially
//! consistent on its own may still have no single interleaving that works for all keys. So this
//! checker never partitions. The search is a depth-first walk over "how far each process has got"
//! plus the model state, memoising visited (positions, state) pairs, in the spirit of Lowe's cache.
//! Open operations may be left out (they may never have happened).

use super::history::Operation;
use super::models::{Model, Step};
use super::search::SearchLimits;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

/// Verdict of a consistency check other than linearizability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum ConsistencyVerdict {
    Consistent,
    Inconsistent { reason: String },
    Unknown { why: String },
}

impl ConsistencyVerdict {
    pub fn is_consistent(&self) -> bool {
        matches!(self, ConsistencyVerdict::Consistent)
    }
    pub fn is_inconsistent(&self) -> bool {
        matches!(self, ConsistencyVerdict::Inconsistent { .. })
    }
}

/// Checks sequential consistency of `ops` against `model`, with an optional model-step budget.
pub fn check_sequential<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    max_steps: Option<u64>,
) -> ConsistencyVerdict {
    let limits = SearchLimits {
        max_steps,
        ..SearchLimits::default()
    };
    check_sequential_with(model, ops, &limits)
}

/// [`check_sequential`] with every budget of a search: model steps, a deadline and memory.
pub fn check_sequential_with<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    limits: &SearchLimits,
) -> ConsistencyVerdict {
    let max_steps = limits.max_steps;
    // Program order: each process's operations by invocation time.
    let mut by_proc: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        by_proc.entry(op.process).or_default().push(i);
    }
    let seqs: Vec<Vec<usize>> = by_proc
        .into_values()
        .map(|mut v| {
            v.sort_by_key(|&i| (ops[i].call, i));
            v
        })
        .collect();
    let nproc = seqs.len();
    let mut remaining = ops.iter().filter(|o| o.ret.is_some()).count();
    if remaining == 0 {
        return ConsistencyVerdict::Consistent;
    }

    let mut states: Vec<M::State> = vec![model.init()];
    let mut ids: HashMap<M::State, u32> = HashMap::new();
    ids.insert(model.init(), 0);
    let mut visited: HashSet<(Vec<u32>, u32)> = HashSet::new();
    let mut pos: Vec<u32> = vec![0; nproc];
    let mut state: u32 = 0;
    visited.insert((pos.clone(), state));
    // Path of (process moved, previous state, whether the op was applied).
    let mut path: Vec<(usize, u32, bool)> = Vec::new();
    let mut cursors: Vec<usize> = vec![0];
    // The longest legal prefix, copied from the path when the walk backs out of it (copying it
    // each time it grows would be quadratic in a long history).
    let mut best: Vec<usize> = Vec::new();
    let mut deepest = 0usize;
    let mut state_bytes = model.state_bytes(&model.init());
    let mut steps = 0u64;
    let mut unanswered = false;
    let mut applied_n = 0usize;

    while let Some(cursor) = cursors.last_mut() {
        if *cursor >= 2 * nproc {
            cursors.pop();
            if applied_n == deepest && best.len() < deepest {
                let mut replay = vec![0u32; nproc];
                best = path
                    .iter()
                    .filter_map(|&(q, _, a)| {
                        let i = seqs[q][replay[q] as usize];
                        replay[q] += 1;
                        a.then_some(i)
                    })
                    .collect();
            }
            if let Some((p, prev, applied)) = path.pop() {
                pos[p] -= 1;
                state = prev;
                let op = &ops[seqs[p][pos[p] as usize]];
                if applied {
                    applied_n -= 1;
                    if op.ret.is_some() {
                        remaining += 1;
                    }
                }
            }
            continue;
        }
        let c = *cursor;
        *cursor += 1;
        let (p, skip) = (c / 2, c % 2 == 1);
        let Some(&i) = seqs[p].get(pos[p] as usize) else {
            continue;
        };
        let op = &ops[i];
        let next = if skip {
            if op.ret.is_some() {
                continue;
            }
            state
        } else {
            steps += 1;
            if max_steps.is_some_and(|m| steps > m) {
                return ConsistencyVerdict::Unknown {
                    why: format!(
                        "step budget of {} model steps exhausted",
                        max_steps.unwrap_or(0)
                    ),
                };
            }
            if steps & 0xfff == 0 {
                if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                    return ConsistencyVerdict::Unknown {
                        why: "time budget exhausted".into(),
                    };
                }
                let used = visited.capacity() * (nproc * 4 + 48) + state_bytes;
                if let Some(max) = limits.max_memory.filter(|&max| used > max) {
                    return ConsistencyVerdict::Unknown {
                        why: format!(
                            "memory budget of {} MiB exhausted (raise max_memory)",
                            max >> 20
                        ),
                    };
                }
            }
            match model.step(&states[state as usize], &op.input, &op.output) {
                Step::Legal(s) => match ids.get(&s) {
                    Some(&id) => id,
                    None => {
                        state_bytes += 2 * model.state_bytes(&s) + 32;
                        let id = states.len() as u32;
                        ids.insert(s.clone(), id);
                        states.push(s);
                        id
                    }
                },
                Step::Illegal => continue,
                Step::Unanswered => {
                    unanswered = true;
                    continue;
                }
            }
        };
        pos[p] += 1;
        if !visited.insert((pos.clone(), next)) {
            pos[p] -= 1;
            continue;
        }
        path.push((p, state, !skip));
        state = next;
        if !skip {
            applied_n += 1;
        }
        if !skip && op.ret.is_some() {
            remaining -= 1;
            if remaining == 0 {
                return ConsistencyVerdict::Consistent;
            }
        }
        deepest = deepest.max(applied_n);
        cursors.push(0);
    }
    if unanswered {
        return ConsistencyVerdict::Unknown {
            why: "the model has unanswered steps".into(),
        };
    }
    let mut reason = format!(
        "No interleaving of the {} processes' operations in program order is legal. \
         The longest legal prefix places {} of {} operations:",
        nproc,
        best.len(),
        ops.len()
    );
    let mut s = model.init();
    for (k, &i) in best.iter().enumerate() {
        if let Step::Legal(n) = model.step(&s, &ops[i].input, &ops[i].output) {
            s = n;
        }
        reason.push_str(&format!(
            "\n  {:>3}. process {}: {}  => {}",
            k + 1,
            ops[i].process,
            model.describe_operation(&ops[i].input, &ops[i].output),
            model.describe_state(&s)
        ));
    }
    ConsistencyVerdict::Inconsistent { reason }
}

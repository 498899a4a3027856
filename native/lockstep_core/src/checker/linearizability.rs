//! Linearizability checking (Herlihy & Wing 1990) with P-compositionality.
//!
//! A history is linearizable when every operation can be given a single instant between its
//! invocation and its return such that, in that order, the model accepts every operation and its
//! observed output. The per-partition search is in [`super::search`]. Horn and Kroening
//! ("Faster linearizability checking via P-compositionality", 2015) observe that for a model made of
//! independent objects (e.g. a key-value map is one register per key) the history is linearizable iff
//! each object's sub-history is, so each partition is searched on its own: the cost becomes the sum,
//! not the product. Partitions are searched smallest first; a violation in any partition decides the
//! verdict, and with several threads the smallest violating partition is still the one reported.

use super::history::Operation;
use super::models::{Model, Partition, Step};
use super::report::{render_text, Explanation, OpView, PartialView, StepView};
use super::search::{search, GaveUp, Partial, SearchLimits, SearchOutcome, SearchStats};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default memory budget of a check: 4 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

/// Options for a linearizability check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinearizabilityOptions {
    /// Split by the model's partition function when it has one.
    pub partition: bool,
    /// Worker threads for partitions (0: one per core). Results do not depend on this.
    pub threads: usize,
    /// Model-step budget per partition; exceeding it yields `Unknown`.
    pub max_steps: Option<u64>,
    /// Wall-clock budget for the whole check; exceeding it yields `Unknown`.
    pub time_limit_ms: Option<u64>,
    /// Bytes the whole check may hold (shared evenly by the threads); exceeding it yields
    /// `Unknown`, never an allocation failure. Default [`DEFAULT_MAX_MEMORY`].
    pub max_memory: Option<u64>,
    /// Keep several longest partial linearizations instead of one (pruning stays on).
    pub diagnostics: bool,
}

impl Default for LinearizabilityOptions {
    fn default() -> Self {
        LinearizabilityOptions {
            partition: true,
            threads: 1,
            max_steps: None,
            time_limit_ms: None,
            max_memory: Some(DEFAULT_MAX_MEMORY),
            diagnostics: false,
        }
    }
}

impl LinearizabilityOptions {
    /// The budgets of one search started now, with the whole memory budget.
    pub fn search_limits(&self) -> SearchLimits {
        SearchLimits {
            max_steps: self.max_steps,
            deadline: self
                .time_limit_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms)),
            max_memory: self
                .max_memory
                .map(|b| usize::try_from(b).unwrap_or(usize::MAX)),
            max_partials: if self.diagnostics { 8 } else { 1 },
        }
    }
}

/// The answer for one history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    Linearizable,
    NotLinearizable {
        explanation: Box<Explanation>,
    },
    /// The budget ran out (or the model could not answer) before a verdict: never a guess.
    Unknown {
        why: String,
    },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
    pub fn is_violation(&self) -> bool {
        matches!(self, Verdict::NotLinearizable { .. })
    }
}

/// A verdict plus what the search did.
#[derive(Clone, Debug)]
pub struct LinearizabilityReport {
    pub verdict: Verdict,
    /// One linearization per partition (operation indices), when linearizable.
    pub witnesses: Vec<Vec<usize>>,
    pub partitions: usize,
    /// Summed over partitions that ran.
    pub stats: SearchStats,
}

enum PartResult<S> {
    Done(SearchOutcome<S>, SearchStats),
    Skipped,
}

/// Checks typed operations against `model`.
pub fn check_operations<M>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    opts: &LinearizabilityOptions,
) -> LinearizabilityReport
where
    M: Model + Sync,
    M::State: Send,
    M::Input: Sync,
    M::Output: Sync,
{
    let mut parts: Vec<Partition> = if opts.partition {
        model.partition(ops).unwrap_or_default()
    } else {
        Vec::new()
    };
    let partitioned = !parts.is_empty();
    if !partitioned {
        parts = vec![Partition {
            label: String::new(),
            ops: (0..ops.len()).collect(),
        }];
    }
    // Smallest first, ties by earliest invocation: deterministic, and cheap violations come first.
    let mut parts: Vec<Partition> = parts.into_iter().filter(|p| !p.ops.is_empty()).collect();
    parts.sort_by_key(|p| {
        (
            p.ops.len(),
            p.ops
                .iter()
                .map(|&i| ops.get(i).map_or(0, |o| o.call))
                .min(),
        )
    });
    let limits = opts.search_limits();

    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    }
    .min(parts.len())
    .max(1);
    let limits = SearchLimits {
        max_memory: opts
            .max_memory
            .map(|b| usize::try_from(b / threads as u64).unwrap_or(usize::MAX)),
        ..limits
    };

    // Index of the first (smallest) violating partition so far; larger ones may be abandoned.
    let first_bad = AtomicUsize::new(usize::MAX);
    let run = |rank: usize| -> PartResult<M::State> {
        if rank > first_bad.load(Ordering::Relaxed) {
            return PartResult::Skipped;
        }
        let stop = || rank > first_bad.load(Ordering::Relaxed);
        let (outcome, stats) = search(model, ops, &parts[rank].ops, &limits, &stop);
        if matches!(outcome, SearchOutcome::Illegal(_)) {
            first_bad.fetch_min(rank, Ordering::Relaxed);
        }
        PartResult::Done(outcome, stats)
    };

    let mut results: Vec<PartResult<M::State>> = Vec::with_capacity(parts.len());
    if threads <= 1 {
        for rank in 0..parts.len() {
            let r = run(rank);
            let bad = matches!(r, PartResult::Done(SearchOutcome::Illegal(_), _));
            results.push(r);
            if bad {
                break;
            }
        }
    } else {
        let slots: Vec<Mutex<Option<PartResult<M::State>>>> =
            (0..parts.len()).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let rank = next.fetch_add(1, Ordering::Relaxed);
                    if rank >= parts.len() {
                        break;
                    }
                    let r = run(rank);
                    if let Ok(mut slot) = slots[rank].lock() {
                        *slot = Some(r);
                    }
                });
            }
        });
        results = slots
            .into_iter()
            .map(|m| m.into_inner().ok().flatten().unwrap_or(PartResult::Skipped))
            .collect();
    }

    let mut stats = SearchStats::default();
    let mut witnesses = Vec::new();
    let mut unknown: Option<String> = None;
    let mut violation: Option<(usize, Vec<Partial<M::State>>)> = None;
    for (rank, r) in results.into_iter().enumerate() {
        let PartResult::Done(outcome, s) = r else {
            continue;
        };
        stats.steps += s.steps;
        stats.configurations += s.configurations;
        stats.states += s.states;
        match outcome {
            SearchOutcome::Linearizable(w) => witnesses.push(w),
            SearchOutcome::Illegal(partials) => {
                if violation.as_ref().is_none_or(|(r0, _)| rank < *r0) {
                    violation = Some((rank, partials));
                }
            }
            SearchOutcome::Unknown(why) => {
                if unknown.is_none() {
                    let label = if partitioned {
                        format!(" on {}", parts[rank].label)
                    } else {
                        String::new()
                    };
                    unknown = Some(match why {
                        GaveUp::StepBudget(n) => {
                            format!("step budget of {n} model steps exhausted{label}")
                        }
                        GaveUp::TimeBudget => match opts.time_limit_ms {
                            Some(ms) => format!("time budget of {ms} ms exhausted{label}"),
                            None => format!("time budget exhausted{label}"),
                        },
                        GaveUp::MemoryBudget(bytes) => format!(
                            "memory budget of {} MiB exhausted{label} (raise max_memory)",
                            bytes >> 20
                        ),
                        GaveUp::Cancelled => format!("search cancelled{label}"),
                        GaveUp::Unanswered => format!("the model has unanswered steps{label}"),
                    });
                }
            }
        }
    }
    let verdict = if let Some((rank, partials)) = violation {
        let label = partitioned.then(|| parts[rank].label.clone());
        Verdict::NotLinearizable {
            explanation: Box::new(explain(model, ops, &parts[rank].ops, label, &partials)),
        }
    } else if let Some(why) = unknown {
        Verdict::Unknown { why }
    } else {
        Verdict::Linearizable
    };
    if !verdict.is_linearizable() {
        witnesses.clear();
    }
    LinearizabilityReport {
        verdict,
        witnesses,
        partitions: parts.len(),
        stats,
    }
}

fn view<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>], i: usize) -> OpView {
    let op = &ops[i];
    OpView {
        index: i,
        process: op.process,
        description: model.describe_operation(&op.input, &op.output),
        call: op.call,
        ret: op.ret,
        place: None,
    }
}

/// Builds the explanation for a violating partition from the search's longest partial orders.
pub(crate) fn explain<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    part: &[usize],
    label: Option<String>,
    partials: &[Partial<M::State>],
) -> Explanation {
    let mut part_ops: Vec<usize> = part.to_vec();
    part_ops.sort_by_key(|&i| (ops[i].call, i));
    let mut longest = Vec::new();
    for p in partials {
        let mut state = model.init();
        let mut steps = Vec::new();
        for &i in &p.order {
            if let Step::Legal(s) = model.step(&state, &ops[i].input, &ops[i].output) {
                state = s;
            }
            steps.push(StepView {
                op: view(model, ops, i),
                state_after: model.describe_state(&state),
            });
        }
        let here = model.describe_state(&state);
        let reason = match p.stuck {
            Some(i) => {
                let desc = model.describe_operation(&ops[i].input, &ops[i].output);
                match model.step(&state, &ops[i].input, &ops[i].output) {
                    Step::Illegal => format!(
                        "It must take effect before it returns, but here {here}, so \"{desc}\" is impossible; \
                         and no other operation invoked before its return can go first and lead anywhere legal."
                    ),
                    _ => format!(
                        "Here {here}. \"{desc}\" could take effect now, but every continuation after it \
                         has already been shown to fail, and no other pending operation can go first."
                    ),
                }
            }
            None => format!("Here {here}, and no remaining operation can take effect."),
        };
        longest.push(PartialView {
            steps,
            state: here,
            stuck: p.stuck.map(|i| view(model, ops, i)),
            reason,
        });
    }
    let text = render_text(label.as_deref(), ops.len(), part.len(), &longest);
    Explanation {
        partition: label,
        total_ops: ops.len(),
        ops: part_ops.into_iter().map(|i| view(model, ops, i)).collect(),
        longest,
        text,
    }
}

//! Seeded transactional histories from a simulated store, for tests and benchmarks.
//!
//! Processes take turns at random. Each runs transactions of a few micro-ops over a window of
//! keys that slides as the history grows (so list-append reads stay short). How a transaction
//! executes is its [`Mode`]: a correct store runs it atomically at one instant between its
//! invocation and completion (the history is strict serializable); the faulty modes read from
//! a snapshot taken at invocation and write at completion without conflict checks (snapshot
//! isolation without first-committer-wins: lost updates, write skew), or apply the micro-ops
//! one turn at a time, interleaved with other transactions (no isolation at all).

use super::Workload;
use crate::checker::history::{Event, EventKind};
use crate::checker::value::Value;
use std::collections::HashMap;

/// How the simulated store runs a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Atomic,
    /// Reads from a snapshot taken at invocation; writes at completion.
    Snapshot,
    /// One micro-op per turn, straight against the store.
    Interleaved,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub workload: Workload,
    pub seed: u64,
    pub txns: usize,
    pub processes: u64,
    /// Keys in use at once.
    pub keys: u64,
    /// Micro-ops per transaction, at most.
    pub max_ops: usize,
    /// Per mille of transactions in each faulty mode: `(snapshot, interleaved)`.
    pub faults: (u32, u32),
    /// Per mille of transactions that fail (no effect) and that end `:info` (effect or not).
    pub fail: u32,
    pub info: u32,
}

impl Spec {
    pub fn correct(workload: Workload, seed: u64, txns: usize) -> Self {
        Spec {
            workload,
            seed,
            txns,
            processes: 5,
            keys: 6,
            max_ops: 4,
            faults: (0, 0),
            fail: 30,
            info: 30,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone)]
enum Planned {
    Read(u64),
    Write(u64, i64),
}

struct Running {
    ops: Vec<Planned>,
    done: Vec<Value>,
    mode: Mode,
    cursor: usize,
    snapshot: Option<HashMap<u64, Value>>,
    /// Writes to apply at completion (snapshot mode).
    buffered: Vec<(u64, i64)>,
    outcome: EventKind,
    /// Whether an `:info` transaction takes effect.
    effect: bool,
    executed: bool,
}

fn key(k: u64) -> Value {
    Value::Int(k as i64)
}

fn apply(store: &mut HashMap<u64, Value>, workload: Workload, k: u64, v: i64) {
    match workload {
        Workload::ListAppend => {
            if let Value::List(l) = store.entry(k).or_insert_with(|| Value::List(Vec::new())) {
                l.push(Value::Int(v));
            }
        }
        Workload::RwRegister => {
            store.insert(k, Value::Int(v));
        }
    }
}

fn read(view: &HashMap<u64, Value>, workload: Workload, k: u64) -> Value {
    match (view.get(&k), workload) {
        (Some(v), _) => v.clone(),
        (None, Workload::ListAppend) => Value::List(Vec::new()),
        (None, Workload::RwRegister) => Value::Nil,
    }
}

fn mop(workload: Workload, p: &Planned, read: Option<Value>) -> Value {
    let (f, k, v) = match (p, workload) {
        (Planned::Read(k), _) => ("r", *k, read.unwrap_or(Value::Nil)),
        (Planned::Write(k, v), Workload::ListAppend) => ("append", *k, Value::Int(*v)),
        (Planned::Write(k, v), Workload::RwRegister) => ("w", *k, Value::Int(*v)),
    };
    Value::List(vec![Value::Keyword(f.into()), key(k), v])
}

/// Runs one micro-op against `view` (reads) and the store or the buffer (writes).
fn step(r: &mut Running, store: &mut HashMap<u64, Value>, workload: Workload, apply_now: bool) {
    let p = r.ops[r.cursor].clone();
    let m = match &p {
        Planned::Read(k) => {
            let v = match &mut r.snapshot {
                Some(snap) => read(snap, workload, *k),
                None => read(store, workload, *k),
            };
            mop(workload, &p, Some(v))
        }
        Planned::Write(k, v) => {
            if let Some(snap) = &mut r.snapshot {
                apply(snap, workload, *k, *v);
            }
            if apply_now {
                apply(store, workload, *k, *v);
            } else {
                r.buffered.push((*k, *v));
            }
            mop(workload, &p, None)
        }
    };
    r.done.push(m);
    r.cursor += 1;
}

/// A seeded history of `spec.txns` transactions.
pub fn history(spec: &Spec) -> Vec<Event> {
    let mut rng = Rng(spec.seed);
    let w = spec.workload;
    let mut store: HashMap<u64, Value> = HashMap::new();
    let mut next_value: i64 = 1;
    let mut running: Vec<Option<Running>> = (0..spec.processes).map(|_| None).collect();
    let mut events = Vec::new();
    let mut started = 0usize;
    let mut active = 0usize;
    while started < spec.txns || active > 0 {
        let p = rng.below(spec.processes) as usize;
        match running[p].take() {
            None => {
                if started >= spec.txns {
                    continue;
                }
                started += 1;
                active += 1;
                let base = started as u64 / 64;
                let n = 1 + rng.below(spec.max_ops as u64) as usize;
                let ops: Vec<Planned> = (0..n)
                    .map(|_| {
                        let k = base + rng.below(spec.keys);
                        if rng.below(2) == 0 {
                            Planned::Read(k)
                        } else {
                            next_value += 1;
                            Planned::Write(k, next_value)
                        }
                    })
                    .collect();
                let roll = rng.below(1000) as u32;
                let mode = if roll < spec.faults.0 {
                    Mode::Snapshot
                } else if roll < spec.faults.0 + spec.faults.1 {
                    Mode::Interleaved
                } else {
                    Mode::Atomic
                };
                let roll = rng.below(1000) as u32;
                let outcome = if mode != Mode::Atomic {
                    EventKind::Ok
                } else if roll < spec.fail {
                    EventKind::Fail
                } else if roll < spec.fail + spec.info {
                    EventKind::Info
                } else {
                    EventKind::Ok
                };
                let invoked: Vec<Value> = ops.iter().map(|o| mop(w, o, None)).collect();
                events.push(Event::new(
                    p as u64,
                    EventKind::Invoke,
                    "txn",
                    Value::List(invoked),
                ));
                running[p] = Some(Running {
                    snapshot: (mode == Mode::Snapshot).then(|| store.clone()),
                    ops,
                    done: Vec::new(),
                    mode,
                    cursor: 0,
                    buffered: Vec::new(),
                    outcome,
                    effect: rng.below(2) == 0,
                    executed: false,
                });
            }
            Some(mut r) => {
                let finished = match r.mode {
                    Mode::Atomic => {
                        if !r.executed {
                            r.executed = true;
                            let takes_effect = match r.outcome {
                                EventKind::Fail => false,
                                EventKind::Info => r.effect,
                                _ => true,
                            };
                            let mut scratch = store.clone();
                            while r.cursor < r.ops.len() {
                                let target = if takes_effect {
                                    &mut store
                                } else {
                                    &mut scratch
                                };
                                step(&mut r, target, w, true);
                            }
                            false
                        } else {
                            true
                        }
                    }
                    Mode::Interleaved => {
                        if r.cursor < r.ops.len() {
                            step(&mut r, &mut store, w, true);
                            false
                        } else {
                            true
                        }
                    }
                    Mode::Snapshot => {
                        while r.cursor < r.ops.len() {
                            step(&mut r, &mut store, w, false);
                        }
                        if r.executed {
                            for (k, v) in std::mem::take(&mut r.buffered) {
                                apply(&mut store, w, k, v);
                            }
                            true
                        } else {
                            r.executed = true;
                            false
                        }
                    }
                };
                if finished {
                    active -= 1;
                    let value = match r.outcome {
                        EventKind::Ok => Value::List(r.done),
                        _ => Value::List(r.ops.iter().map(|o| mop(w, o, None)).collect()),
                    };
                    events.push(Event::new(p as u64, r.outcome, "txn", value));
                } else {
                    running[p] = Some(r);
                }
            }
        }
    }
    events
}

/// A history as EDN op maps, one per line.
pub fn to_edn(events: &[Event]) -> String {
    let mut out = String::new();
    for (i, e) in events.iter().enumerate() {
        let t = match e.kind {
            EventKind::Invoke => "invoke",
            EventKind::Ok => "ok",
            EventKind::Fail => "fail",
            EventKind::Info => "info",
        };
        out.push_str(&format!(
            "{{:type :{t}, :f :{}, :value {}, :process {}, :index {i}}}\n",
            e.f, e.value, e.process
        ));
    }
    out
}

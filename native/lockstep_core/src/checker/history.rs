//! Histories: the raw event log a test records, and the operations a checker works on.
//!
//! A history is a sequence of events. Each client process invokes an operation and later sees it
//! complete with `ok` (it happened), `fail` (it did not happen, although for some operations the
//! failure itself is an observation, e.g. a failed compare-and-set saw a different value) or `info`
//! (unknown: it may or may not have happened, at any time from its invocation onwards). Pairing turns
//! events into [`RawOperation`]s; a model then encodes those into typed [`Operation`]s.
//!
//! The event position is the only clock: an operation's interval is `[call, ret)` in event indices, and
//! an open operation (`info`, or never completed) has no return.

use super::error::CheckError;
use super::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One line of a Jepsen-style history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub process: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The operation name (`read`, `write`, `cas`, `get`, ...).
    pub f: String,
    #[serde(default = "nil")]
    pub value: Value,
    /// The key for multi-register / key-value histories, when the history carries it separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The 1-based line of the text the event was read from (where its op map starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The `:index` the history gives the event: Jepsen numbers every op of a history, the
    /// nemesis's too, so it is the op's position in the history it was recorded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

fn nil() -> Value {
    Value::Nil
}

impl Event {
    pub fn new(process: u64, kind: EventKind, f: &str, value: Value) -> Self {
        Event {
            process,
            kind,
            f: f.to_string(),
            value,
            key: None,
            line: None,
            index: None,
        }
    }

    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }

    pub fn with_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn with_index(mut self, index: u64) -> Self {
        self.index = Some(index);
        self
    }
}

/// What the positions of a history's events count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionUnit {
    /// Client events, 1-based (histories that were not read from a text).
    #[default]
    Event,
    /// Lines of the file, 1-based.
    Line,
    /// The ops' own `:index` (Jepsen histories that carry one).
    Index,
}

/// Where each event is, in the terms a person finds it in the file: the `:index` when every
/// event carries one, else the line when every event has one, else the event's number.
pub fn positions(events: &[Event]) -> (PositionUnit, Vec<u64>) {
    if !events.is_empty() && events.iter().all(|e| e.index.is_some()) {
        (
            PositionUnit::Index,
            events.iter().map(|e| e.index.unwrap_or(0)).collect(),
        )
    } else if !events.is_empty() && events.iter().all(|e| e.line.is_some()) {
        (
            PositionUnit::Line,
            events.iter().map(|e| e.line.unwrap_or(0)).collect(),
        )
    } else {
        (PositionUnit::Event, (1..=events.len() as u64).collect())
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Fail,
    /// `info`, or no completion at all: may have taken effect at any point after the invocation.
    Open,
}

/// How `:info` completions are read. Jepsen-era tools differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoMode {
    /// The operation stays open to the end of the history (Knossos / Porcupine semantics).
    #[default]
    Open,
    /// The operation is dropped as if it never happened (only sound if the system guarantees it).
    Discard,
}

/// How `:fail` completions are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// A failure is handed to the model: operations whose failure is an observation (compare-and-set,
    /// lock acquisition, dequeue from an empty queue) are checked as returning `fail`; others are
    /// dropped because they did not happen.
    #[default]
    Observe,
    /// Every failed operation is dropped.
    Discard,
}

/// How an `:ok` read that returned `nil` is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NilReads {
    /// `nil` is the value read: the register (or key) held `nil` (Porcupine, Lockstep).
    #[default]
    Value,
    /// `nil` means the value is not known: the read is legal in any state (Knossos, whose
    /// clients record a read whose answer was lost as a read of `nil`).
    Unknown,
}

/// Options that affect how events become operations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryOptions {
    #[serde(default)]
    pub info: InfoMode,
    #[serde(default)]
    pub fail: FailMode,
    #[serde(default)]
    pub nil_reads: NilReads,
}

/// How Jepsen-era tools read a history: a preset of [`HistoryOptions`], the initial value and
/// strictness, so that a history gets the verdict the tool it was written for would give.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rules {
    /// Lockstep's defaults: `nil` reads are values, a failed compare-and-set is observed,
    /// `:info` stays open, registers start at `nil`, lines that are not events are skipped.
    #[default]
    Lockstep,
    /// Knossos (`knossos.history/preprocess` and `knossos.model`): every `:fail` operation is
    /// dropped, an `:ok` read of `nil` is a read of an unknown value, `:info` stays open, and
    /// registers start at 0 (what Knossos's own cas-register and multi-register tests use).
    Knossos,
    /// Porcupine (its Jepsen etcd harness): `nil` reads mean "no value" (the initial `nil`), a
    /// failed compare-and-set saw a different value, a failed read observed nothing, `:info`
    /// and unanswered operations stay open to the end; lines it does not recognise are skipped.
    Porcupine,
    /// Lockstep's defaults, and a line that is not a history event is an error.
    Strict,
}

impl Rules {
    pub fn name(self) -> &'static str {
        match self {
            Rules::Lockstep => "lockstep",
            Rules::Knossos => "knossos",
            Rules::Porcupine => "porcupine",
            Rules::Strict => "strict",
        }
    }

    /// How the preset reads events.
    pub fn history(self) -> HistoryOptions {
        match self {
            Rules::Knossos => HistoryOptions {
                info: InfoMode::Open,
                fail: FailMode::Discard,
                nil_reads: NilReads::Unknown,
            },
            Rules::Lockstep | Rules::Porcupine | Rules::Strict => HistoryOptions::default(),
        }
    }

    /// The initial value of registers and keys under this preset (`None`: `nil`).
    pub fn initial(self) -> Option<Value> {
        match self {
            Rules::Knossos => Some(Value::Int(0)),
            _ => None,
        }
    }

    /// Whether lines that are not history events are refused.
    pub fn strict(self) -> bool {
        self == Rules::Strict
    }
}

impl std::str::FromStr for Rules {
    type Err = CheckError;
    fn from_str(s: &str) -> Result<Self, CheckError> {
        match s {
            "lockstep" | "default" => Ok(Rules::Lockstep),
            "knossos" => Ok(Rules::Knossos),
            "porcupine" => Ok(Rules::Porcupine),
            "strict" => Ok(Rules::Strict),
            other => Err(CheckError::Options {
                message: format!(
                    "unknown rules {other:?} (known: knossos, porcupine, strict, lockstep)"
                ),
            }),
        }
    }
}

/// An invocation paired with its completion, before any model has interpreted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawOperation {
    pub process: u64,
    pub f: String,
    pub key: Option<Value>,
    /// The value given at invocation.
    pub input: Value,
    /// The value given at completion (`None` when open).
    pub output: Option<Value>,
    pub outcome: Outcome,
    /// Event index of the invocation.
    pub call: usize,
    /// Event index of the completion; `None` for open operations.
    pub ret: Option<usize>,
}

/// A model-typed operation: what the search algorithms consume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    pub process: u64,
    pub input: I,
    pub output: O,
    /// Invocation time (any monotone clock; event index for parsed histories).
    pub call: u64,
    /// Return time, or `None` when the operation is open to the end of the history.
    pub ret: Option<u64>,
    /// Index of the [`RawOperation`] this came from, for messages.
    pub source: usize,
}

/// Pairs invocations with completions per process.
///
/// Completions without an invocation are errors, except a lone `info` (Jepsen logs those for
/// nemesis-like actors), which is ignored. Invocations never completed are open.
pub fn pair_events(
    events: &[Event],
    opts: &HistoryOptions,
) -> Result<Vec<RawOperation>, CheckError> {
    let mut ops: Vec<Option<RawOperation>> = Vec::new();
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        for v in std::iter::once(&ev.value).chain(ev.key.as_ref()) {
            v.check_depth().map_err(|message| CheckError::History {
                event: i + 1,
                message,
            })?;
        }
        match ev.kind {
            EventKind::Invoke => {
                if pending.contains_key(&ev.process) {
                    return Err(CheckError::History {
                        event: i + 1,
                        message: format!(
                            "process {} invoked {} while its previous operation was still pending",
                            ev.process, ev.f
                        ),
                    });
                }
                pending.insert(ev.process, ops.len());
                ops.push(Some(RawOperation {
                    process: ev.process,
                    f: ev.f.clone(),
                    key: ev.key.clone(),
                    input: ev.value.clone(),
                    output: None,
                    outcome: Outcome::Open,
                    call: i,
                    ret: None,
                }));
            }
            kind => {
                let Some(slot) = pending.remove(&ev.process) else {
                    if kind == EventKind::Info {
                        continue;
                    }
                    return Err(CheckError::History {
                        event: i + 1,
                        message: format!(
                            "process {} completed {} without a pending invocation",
                            ev.process, ev.f
                        ),
                    });
                };
                let Some(op) = ops.get_mut(slot).and_then(|o| o.as_mut()) else {
                    continue;
                };
                if op.f != ev.f {
                    return Err(CheckError::History {
                        event: i + 1,
                        message: format!(
                            "process {} invoked {} but completed {}",
                            ev.process, op.f, ev.f
                        ),
                    });
                }
                match kind {
                    EventKind::Ok => {
                        op.outcome = Outcome::Ok;
                        op.output = Some(ev.value.clone());
                        op.ret = Some(i);
                    }
                    EventKind::Fail => {
                        if opts.fail == FailMode::Discard {
                            ops[slot] = None;
                        } else {
                            op.outcome = Outcome::Fail;
                            op.output = Some(ev.value.clone());
                            op.ret = Some(i);
                        }
                    }
                    _ => {
                        if opts.info == InfoMode::Discard {
                            ops[slot] = None;
                        }
                    }
                }
            }
        }
    }
    Ok(ops.into_iter().flatten().collect())
}

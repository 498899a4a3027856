//! Transactions read from history events: invocations paired with completions, their micro-ops
//! decoded for a workload.

use super::Workload;
use crate::checker::error::CheckError;
use crate::checker::history::{Event, EventKind};
use crate::checker::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mop {
    /// `[:append k v]` (list-append).
    Append { key: Value, value: Value },
    /// `[:w k v]` (rw-register).
    Write { key: Value, value: Value },
    /// `[:r k v]`: `None` when the value read is not known (an invocation, an `:info` txn).
    /// A list-append read of `nil` is the empty list.
    Read { key: Value, value: Option<Value> },
}

impl Mop {
    pub fn key(&self) -> &Value {
        match self {
            Mop::Append { key, .. } | Mop::Write { key, .. } | Mop::Read { key, .. } => key,
        }
    }
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Committed.
    Ok,
    /// Definitely aborted: its writes must never be seen.
    Fail,
    /// `:info` or never completed: it may or may not have committed.
    Info,
}

/// A transaction: what one process invoked and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub process: u64,
    pub status: Status,
    pub mops: Vec<Mop>,
    /// 0-based event index of the invocation; `None` for a completion recorded without one.
    pub invoke: Option<usize>,
    /// 0-based event index of the completion (`:ok`, `:fail` or `:info`), if any.
    pub complete: Option<usize>,
}

impl Txn {
    /// The event a transaction is named after (1-based): its invocation, else its completion.
    pub fn number(&self) -> usize {
        self.invoke.or(self.complete).unwrap_or(0) + 1
    }

    /// `T12`: the transaction invoked at event 12.
    pub fn label(&self) -> String {
        format!("T{}", self.number())
    }

    /// `T12 (process 3, events 12..15, ok): [[:r :x [1 2]] [:append :y 4]]`.
    pub fn describe(&self) -> String {
        let events = match (self.invoke, self.complete) {
            (Some(i), Some(c)) => format!("events {}..{}", i + 1, c + 1),
            (Some(i), None) => format!("invoked at event {}, never completed", i + 1),
            (None, Some(c)) => format!("completed at event {}, invocation not recorded", c + 1),
            (None, None) => "no events".to_string(),
        };
        let status = match self.status {
            Status::Ok => "committed",
            Status::Fail => "failed",
            Status::Info => "outcome unknown",
        };
        format!(
            "{} (process {}, {events}, {status}): {}",
            self.label(),
            self.process,
            mops_text(&self.mops)
        )
    }
}

/// A value for an explanation: long lists keep their ends.
pub fn show(v: &Value) -> String {
    match v {
        Value::List(items) if items.len() > 8 => {
            let mut s = String::from("[");
            for x in &items[..3] {
                let _ = write!(s, "{x} ");
            }
            s.push_str("...");
            for x in &items[items.len() - 3..] {
                let _ = write!(s, " {x}");
            }
            let _ = write!(s, "] ({} elements)", items.len());
            s
        }
        other => crate::excerpt::excerpt(&other.to_string(), 120),
    }
}

/// A key for an explanation: keywords as they are (`:x`), others named (`key 4`).
pub fn show_key(k: &Value) -> String {
    match k {
        Value::Keyword(_) => show(k),
        other => format!("key {}", show(other)),
    }
}

fn mop_text(m: &Mop) -> String {
    match m {
        Mop::Append { key, value } => format!("[:append {} {}]", show(key), show(value)),
        Mop::Write { key, value } => format!("[:w {} {}]", show(key), show(value)),
        Mop::Read { key, value } => match value {
            Some(v) => format!("[:r {} {}]", show(key), show(v)),
            None => format!("[:r {} ?]", show(key)),
        },
    }
}

/// The micro-ops, EDN-like, at most 12 of them.
pub fn mops_text(mops: &[Mop]) -> String {
    let mut s = String::from("[");
    for (i, m) in mops.iter().take(12).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&mop_text(m));
    }
    if mops.len() > 12 {
        let _ = write!(s, " ... ({} more)", mops.len() - 12);
    }
    s.push(']');
    s
}

fn decode_mops(
    value: &Value,
    workload: Workload,
    reads_known: bool,
    event: usize,
) -> Result<Vec<Mop>, CheckError> {
    let bad = |m: String| CheckError::model(event + 1, m);
    let Value::List(items) = value else {
        return Err(bad(format!(
            "a transaction's value must be a list of micro-ops, got {}",
            show(value)
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let parts = item.as_list().unwrap_or(&[]);
        let (f, key, v) = match parts {
            [f, k, v] => (f.as_name(), k, v),
            _ => {
                return Err(bad(format!(
                    "a micro-op must be [f key value], got {}",
                    show(item)
                )))
            }
        };
        let mop = match (f, workload) {
            (Some("append"), Workload::ListAppend) => Mop::Append {
                key: key.clone(),
                value: v.clone(),
            },
            (Some("w" | "write"), Workload::RwRegister) => Mop::Write {
                key: key.clone(),
                value: v.clone(),
            },
            (Some("r" | "read"), _) => {
                let value = if !reads_known {
                    None
                } else {
                    match (workload, v) {
                        (Workload::ListAppend, Value::Nil) => Some(Value::List(Vec::new())),
                        (Workload::ListAppend, Value::List(_)) => Some(v.clone()),
                        (Workload::ListAppend, other) => {
                            return Err(bad(format!(
                                "a list-append read must see a list (or nil), got {}",
                                show(other)
                            )))
                        }
                        (Workload::RwRegister, _) => Some(v.clone()),
                    }
                };
                Mop::Read {
                    key: key.clone(),
                    value,
                }
            }
            _ => {
                let known = match workload {
                    Workload::ListAppend => ":append and :r",
                    Workload::RwRegister => ":w and :r",
                };
                return Err(bad(format!(
                    "unknown micro-op {} for the {} workload (known: {known})",
                    show(item),
                    workload.name()
                )));
            }
        };
        out.push(mop);
    }
    Ok(out)
}

/// Pairs invocations with completions per process and decodes every transaction's micro-ops.
///
/// An `:ok` transaction's micro-ops (with the values read) come from its completion; a failed or
/// `:info` one's from its completion if it carries a list, else from its invocation, with reads
/// unknown. A completion without an invocation is a transaction of its own (Jepsen histories of
/// completed operations only). An invocation never completed is `:info`.
pub fn transactions(events: &[Event], workload: Workload) -> Result<Vec<Txn>, CheckError> {
    let mut txns: Vec<Txn> = Vec::new();
    let mut pending: HashMap<u64, (usize, usize)> = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        ev.value
            .check_depth()
            .map_err(|message| CheckError::History {
                event: i + 1,
                message,
            })?;
        if ev.f != "txn" {
            return Err(CheckError::model(
                i + 1,
                format!(
                    "expected a transaction (:f :txn), got :f {}",
                    crate::excerpt::quoted(&ev.f)
                ),
            ));
        }
        match ev.kind {
            EventKind::Invoke => {
                if pending.contains_key(&ev.process) {
                    return Err(CheckError::History {
                        event: i + 1,
                        message: format!(
                            "process {} invoked a transaction while its previous one was still pending",
                            ev.process
                        ),
                    });
                }
                let mops = decode_mops(&ev.value, workload, false, i)?;
                pending.insert(ev.process, (txns.len(), i));
                txns.push(Txn {
                    process: ev.process,
                    status: Status::Info,
                    mops,
                    invoke: Some(i),
                    complete: None,
                });
            }
            kind => {
                let status = match kind {
                    EventKind::Ok => Status::Ok,
                    EventKind::Fail => Status::Fail,
                    _ => Status::Info,
                };
                let carries_list = matches!(ev.value, Value::List(_));
                match pending.remove(&ev.process) {
                    Some((slot, _)) => {
                        let txn = &mut txns[slot];
                        txn.status = status;
                        txn.complete = Some(i);
                        if status == Status::Ok {
                            txn.mops = decode_mops(&ev.value, workload, true, i)?;
                        } else if carries_list {
                            txn.mops = decode_mops(&ev.value, workload, false, i)?;
                        }
                    }
                    None => {
                        let mops = decode_mops(&ev.value, workload, status == Status::Ok, i)?;
                        txns.push(Txn {
                            process: ev.process,
                            status,
                            mops,
                            invoke: None,
                            complete: Some(i),
                        });
                    }
                }
            }
        }
    }
    Ok(txns)
}

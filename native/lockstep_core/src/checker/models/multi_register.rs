//! Registers named by keys, read and written by transactions: `:txn` operations whose value
//! is a list of micro-operations `[f key value]` (`[[:r :x 1] [:w :y 2]]`), `f` one of `r` /
//! `read`, `w` / `write`, `append`. A transaction takes effect at one instant, all of it:
//! checking it for linearizability is checking the history of transactions for strict
//! serializability over the registers.
//!
//! Reads take their values from the completion (the invocation names what will be read, the
//! completion what was); a read of `nil` follows [`NilReads`]. A failed transaction did not
//! happen and is dropped; an open one (`:info`, never completed) may have written at any time
//! after its invocation, and its reads observed nothing. Single-key `read` / `write` / `cas`
//! operations with a `:key` (the key-value form) are accepted as one-operation transactions.
//!
//! Partitioning: transactions that share a key are connected, and keys connected through
//! transactions (union-find) form one group; each group is an independent object, so it is
//! searched on its own. When every transaction touches one key, that is one group per key.

use super::kv::{append, KvState};
use super::register::{RegisterInput, RegisterOutput};
use super::{canonical_f, HistoryModel, Keys, Model, Partition, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{HistoryOptions, NilReads, Operation, Outcome, RawOperation};
use crate::checker::value::Value;
use std::collections::BTreeMap;

/// One micro-operation of a transaction; keys are numbers into [`MultiRegisterModel::keys`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Micro {
    /// A read of this value, or of a value not known (`None`).
    Read(usize, Option<Value>),
    Write(usize, Value),
    Append(usize, Value),
    /// Compare-and-set (single-key operations only).
    Cas(usize, Value, Value),
}

impl Micro {
    fn key(&self) -> usize {
        match self {
            Micro::Read(k, _) | Micro::Write(k, _) | Micro::Append(k, _) | Micro::Cas(k, _, _) => {
                *k
            }
        }
    }
}

/// A transaction: its micro-operations, applied in order at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub micro: Vec<Micro>,
    /// Whether the history wrote it as a `:txn` (for descriptions).
    pub txn: bool,
}

/// The multi-register model.
#[derive(Clone, Debug)]
pub struct MultiRegisterModel {
    pub initial: Value,
    pub keys: Keys,
}

impl MultiRegisterModel {
    pub fn new(initial: Value) -> Self {
        MultiRegisterModel {
            initial,
            keys: Keys::default(),
        }
    }

    /// Reads a transaction's micro-operations from `value`.
    fn micro_ops(
        &mut self,
        value: &Value,
        open: bool,
        nil_reads: NilReads,
        event: usize,
    ) -> Result<Vec<Micro>, CheckError> {
        let bad = |what: String| {
            CheckError::model(
                event,
                format!(
                    "a :txn value is a list of [f key value] micro-operations (f: r, w or \
                     append); {what}"
                ),
            )
        };
        let Some(items) = value.as_list() else {
            return Err(bad(format!("got {value}")));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let (f, key, v) = match item.as_list() {
                Some([f, key, v]) => (f, key, v),
                _ => return Err(bad(format!("got the micro-operation {item}"))),
            };
            let name = f.as_name().map(canonical_f);
            let k = self.keys.number(key);
            out.push(match name {
                Some("read") => {
                    // An open transaction's reads observed nothing; a read of nil may mean
                    // "not known".
                    let unknown = open || (v.is_nil() && nil_reads == NilReads::Unknown);
                    Micro::Read(k, (!unknown).then(|| v.clone()))
                }
                Some("write") => Micro::Write(k, v.clone()),
                Some("append") => Micro::Append(k, v.clone()),
                _ => return Err(bad(format!("got the micro-operation {item}"))),
            });
        }
        Ok(out)
    }
}

impl Model for MultiRegisterModel {
    type State = KvState;
    type Input = Txn;
    type Output = RegisterOutput;

    fn init(&self) -> KvState {
        KvState::filled(self.keys.len(), &self.initial)
    }

    fn step(&self, state: &KvState, input: &Txn, output: &RegisterOutput) -> Step<KvState> {
        let mut st = state.clone();
        for m in &input.micro {
            let Some(current) = st.get(m.key()) else {
                return Step::Illegal;
            };
            st = match m {
                Micro::Read(_, None) => continue,
                Micro::Read(_, Some(v)) => {
                    if v != current {
                        return Step::Illegal;
                    }
                    continue;
                }
                Micro::Write(k, v) => st.set(*k, v.clone()),
                Micro::Append(k, v) => st.set(*k, append(current, v)),
                Micro::Cas(k, expected, new) => match (output, expected == current) {
                    (RegisterOutput::Fail, false) | (RegisterOutput::Unknown, false) => continue,
                    (RegisterOutput::Fail, true) => return Step::Illegal,
                    (_, true) => st.set(*k, new.clone()),
                    (_, false) => return Step::Illegal,
                },
            };
        }
        Step::Legal(st)
    }

    fn partition(&self, ops: &[Operation<Txn, RegisterOutput>]) -> Option<Vec<Partition>> {
        // Union-find over keys: a transaction joins every key it touches.
        let mut parent: Vec<usize> = (0..self.keys.len()).collect();
        fn root(parent: &mut [usize], mut k: usize) -> usize {
            while parent[k] != k {
                parent[k] = parent[parent[k]];
                k = parent[k];
            }
            k
        }
        for op in ops {
            let mut keys = op.input.micro.iter().map(Micro::key);
            if let Some(first) = keys.next() {
                for k in keys {
                    let (a, b) = (root(&mut parent, first), root(&mut parent, k));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
            }
        }
        let mut groups: BTreeMap<usize, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for k in 0..self.keys.len() {
            let r = root(&mut parent, k);
            groups.entry(r).or_default().0.push(k);
        }
        for (i, op) in ops.iter().enumerate() {
            if let Some(k) = op.input.micro.first().map(Micro::key) {
                let r = root(&mut parent, k);
                groups.entry(r).or_default().1.push(i);
            }
        }
        Some(
            groups
                .into_values()
                .filter(|(_, ops)| !ops.is_empty())
                .map(|(keys, ops)| {
                    let names: Vec<String> = keys.iter().map(|&k| self.keys.name(k)).collect();
                    let label = match names.len() {
                        1 => format!("key {}", names[0]),
                        n if n <= 8 => format!("keys {}", names.join(", ")),
                        n => format!("keys {} and {} more", names[..8].join(", "), n - 8),
                    };
                    Partition { label, ops }
                })
                .collect(),
        )
    }

    fn describe_operation(&self, input: &Txn, output: &RegisterOutput) -> String {
        let out = super::register::outcome_suffix(output);
        if let (false, [m]) = (input.txn, &input.micro[..]) {
            return match m {
                Micro::Read(k, Some(v)) => format!("read {} -> {v}", self.keys.name(*k)),
                Micro::Read(k, None) => format!("read {}{out}", self.keys.name(*k)),
                Micro::Write(k, v) => format!("write {} {v}{out}", self.keys.name(*k)),
                Micro::Append(k, v) => format!("append {} {v}{out}", self.keys.name(*k)),
                Micro::Cas(k, a, b) => format!("cas {} from {a} to {b}{out}", self.keys.name(*k)),
            };
        }
        let micro: Vec<String> = input
            .micro
            .iter()
            .map(|m| match m {
                Micro::Read(k, Some(v)) => format!("[r {} {v}]", self.keys.name(*k)),
                Micro::Read(k, None) => format!("[r {} ?]", self.keys.name(*k)),
                Micro::Write(k, v) => format!("[w {} {v}]", self.keys.name(*k)),
                Micro::Append(k, v) => format!("[append {} {v}]", self.keys.name(*k)),
                Micro::Cas(k, a, b) => format!("cas {} from {a} to {b}", self.keys.name(*k)),
            })
            .collect();
        if input.txn {
            format!("txn {}{out}", micro.join(" "))
        } else {
            format!("{}{out}", micro.join(" "))
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        let parts: Vec<String> = state
            .values()
            .enumerate()
            .map(|(k, v)| format!("{} => {v}", self.keys.name(k)))
            .collect();
        format!("the registers hold {{{}}}", parts.join(", "))
    }
}

impl HistoryModel for MultiRegisterModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        opts: &HistoryOptions,
    ) -> Result<Option<(Txn, RegisterOutput)>, CheckError> {
        let event = op.call + 1;
        if op.f == "txn" {
            if op.outcome == Outcome::Fail {
                // An aborted transaction did not happen.
                return Ok(None);
            }
            let open = op.outcome == Outcome::Open;
            // The completion says what was read; an open one (or a completion without a
            // value) leaves the invocation's.
            let value = match &op.output {
                Some(v) if !open && !v.is_nil() => v,
                _ => &op.input,
            };
            let micro = self.micro_ops(value, open, opts.nil_reads, event)?;
            let observes = micro.iter().any(|m| !matches!(m, Micro::Read(_, None)));
            if !observes {
                return Ok(None);
            }
            let out = if open {
                RegisterOutput::Unknown
            } else {
                RegisterOutput::Ok
            };
            return Ok(Some((Txn { micro, txn: true }, out)));
        }
        // A single-key operation, as a transaction of one.
        let Some(key) = &op.key else {
            return Err(CheckError::model(
                event,
                format!(
                    "{} is neither a :txn nor an operation with a :key (multi_register)",
                    op.f
                ),
            ));
        };
        let k = self.keys.number(key);
        let encoded = if op.f == "append" {
            match op.outcome {
                Outcome::Fail => None,
                Outcome::Open => {
                    Some((Micro::Append(k, op.input.clone()), RegisterOutput::Unknown))
                }
                Outcome::Ok => Some((Micro::Append(k, op.input.clone()), RegisterOutput::Ok)),
            }
        } else {
            super::register::encode_register_op(&op.f, op, true, event, opts.nil_reads)?.map(
                |(input, out)| {
                    let micro = match (input, &out) {
                        (RegisterInput::Read, RegisterOutput::Read(v)) => {
                            Micro::Read(k, Some(v.clone()))
                        }
                        (RegisterInput::Read, _) => Micro::Read(k, None),
                        (RegisterInput::Write(v), _) => Micro::Write(k, v),
                        (RegisterInput::Cas(a, b), _) => Micro::Cas(k, a, b),
                    };
                    let out = match out {
                        RegisterOutput::Read(_) => RegisterOutput::Ok,
                        other => other,
                    };
                    (micro, out)
                },
            )
        };
        Ok(encoded.map(|(m, out)| {
            (
                Txn {
                    micro: vec![m],
                    txn: false,
                },
                out,
            )
        }))
    }
}

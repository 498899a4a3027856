//! A key-value map (a family of independent registers), partitionable by key.
//!
//! Supports `get`/`read`, `put`/`write`, `append` and `cas`. `append` concatenates strings, or pushes
//! onto a list; appending to `nil` starts a string (for a string argument) or a one-element list.
//!
//! The state is a vector indexed by key number with a cached incremental hash, so that a step costs
//! one new value plus reference-count bumps, and hashing a state is O(1) whatever the value sizes.

use super::register::{encode_register_op, RegisterInput, RegisterOutput};
use super::{fast_hash, HistoryModel, Keys, Model, Partition, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{HistoryOptions, Operation, RawOperation};
use crate::checker::value::Value;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    Register(RegisterInput),
    Append(Value),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvInput {
    /// Key number (index into [`KvModel::keys`]).
    pub key: usize,
    pub op: KvOp,
}

#[derive(Clone, Debug)]
pub struct KvState {
    hash: u64,
    slots: Arc<Vec<(u64, Arc<Value>)>>,
}

impl PartialEq for KvState {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.slots, &other.slots)
                || self
                    .slots
                    .iter()
                    .zip(other.slots.iter())
                    .all(|(a, b)| a.0 == b.0 && (Arc::ptr_eq(&a.1, &b.1) || a.1 == b.1)))
    }
}
impl Eq for KvState {}

impl Hash for KvState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash)
    }
}

impl KvState {
    pub fn get(&self, key: usize) -> Option<&Value> {
        self.slots.get(key).map(|s| &*s.1)
    }

    fn slot_hash(key: usize, v: &Value) -> u64 {
        fast_hash(&(key, v))
    }

    /// `keys` slots, each holding `initial`.
    pub(crate) fn filled(keys: usize, initial: &Value) -> KvState {
        let slots: Vec<(u64, Arc<Value>)> = (0..keys)
            .map(|k| (KvState::slot_hash(k, initial), Arc::new(initial.clone())))
            .collect();
        let hash = slots.iter().fold(0u64, |h, s| h.wrapping_add(s.0));
        KvState {
            hash,
            slots: Arc::new(slots),
        }
    }

    /// The values of the slots, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Value> {
        self.slots.iter().map(|s| &*s.1)
    }

    pub(crate) fn set(&self, key: usize, v: Value) -> KvState {
        let mut slots: Vec<(u64, Arc<Value>)> = (*self.slots).clone();
        let h = Self::slot_hash(key, &v);
        let mut hash = self.hash;
        if let Some(slot) = slots.get_mut(key) {
            hash = hash.wrapping_sub(slot.0).wrapping_add(h);
            *slot = (h, Arc::new(v));
        }
        KvState {
            hash,
            slots: Arc::new(slots),
        }
    }
}

/// The key-value model. Keys are numbered as they are first seen while encoding.
#[derive(Clone, Debug)]
pub struct KvModel {
    pub initial: Value,
    pub keys: Keys,
}

impl KvModel {
    pub fn new(initial: Value) -> Self {
        KvModel {
            initial,
            keys: Keys::default(),
        }
    }
}

pub(crate) fn append(current: &Value, arg: &Value) -> Value {
    match (current, arg) {
        (Value::Str(a), Value::Str(b)) => {
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(a);
            s.push_str(b);
            Value::Str(s)
        }
        (Value::List(items), _) => {
            let mut items = items.clone();
            items.push(arg.clone());
            Value::List(items)
        }
        (Value::Nil, Value::Str(b)) => Value::Str(b.clone()),
        (_, _) => Value::List(vec![arg.clone()]),
    }
}

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = RegisterOutput;

    fn init(&self) -> KvState {
        KvState::filled(self.keys.len(), &self.initial)
    }

    fn step(&self, state: &KvState, input: &KvInput, output: &RegisterOutput) -> Step<KvState> {
        let Some(current) = state.get(input.key) else {
            return Step::Illegal;
        };
        match (&input.op, output) {
            (KvOp::Register(RegisterInput::Read), RegisterOutput::Read(v)) => {
                if v == current {
                    Step::Legal(state.clone())
                } else {
                    Step::Illegal
                }
            }
            (KvOp::Register(RegisterInput::Read), _) => Step::Legal(state.clone()),
            (KvOp::Register(RegisterInput::Write(v)), _) => {
                Step::Legal(state.set(input.key, v.clone()))
            }
            (KvOp::Register(RegisterInput::Cas(expected, new)), out) => {
                let matches = expected == current;
                match (out, matches) {
                    (RegisterOutput::Fail, false) => Step::Legal(state.clone()),
                    (RegisterOutput::Fail, true) => Step::Illegal,
                    (RegisterOutput::Unknown, false) => Step::Legal(state.clone()),
                    (_, true) => Step::Legal(state.set(input.key, new.clone())),
                    (_, false) => Step::Illegal,
                }
            }
            (KvOp::Append(v), _) => Step::Legal(state.set(input.key, append(current, v))),
        }
    }

    fn partition(&self, ops: &[Operation<KvInput, RegisterOutput>]) -> Option<Vec<Partition>> {
        let mut by_key: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_key.entry(op.input.key).or_default().push(i);
        }
        Some(
            by_key
                .into_iter()
                .map(|(k, ops)| Partition {
                    label: format!("key {}", self.keys.name(k)),
                    ops,
                })
                .collect(),
        )
    }

    fn describe_operation(&self, input: &KvInput, output: &RegisterOutput) -> String {
        let key = self.keys.name(input.key);
        let out = super::register::outcome_suffix(output);
        match &input.op {
            KvOp::Register(RegisterInput::Read) => format!("get {key}{out}"),
            KvOp::Register(RegisterInput::Write(v)) => format!("put {key} {v}{out}"),
            KvOp::Register(RegisterInput::Cas(a, b)) => format!("cas {key} from {a} to {b}{out}"),
            KvOp::Append(v) => format!("append {key} {v}{out}"),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        let parts: Vec<String> = state
            .slots
            .iter()
            .enumerate()
            .map(|(k, (_, v))| format!("{} => {}", self.keys.name(k), v))
            .collect();
        format!("the map holds {{{}}}", parts.join(", "))
    }
}

impl HistoryModel for KvModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        opts: &HistoryOptions,
    ) -> Result<Option<(KvInput, RegisterOutput)>, CheckError> {
        let event = op.call + 1;
        let Some(key) = &op.key else {
            return Err(CheckError::model(event, format!("{} has no :key", op.f)));
        };
        let key = self.keys.number(key);
        if op.f == "append" {
            return Ok(match op.outcome {
                crate::checker::history::Outcome::Fail => None,
                crate::checker::history::Outcome::Open => Some((
                    KvInput {
                        key,
                        op: KvOp::Append(op.input.clone()),
                    },
                    RegisterOutput::Unknown,
                )),
                crate::checker::history::Outcome::Ok => Some((
                    KvInput {
                        key,
                        op: KvOp::Append(op.input.clone()),
                    },
                    RegisterOutput::Ok,
                )),
            });
        }
        Ok(
            encode_register_op(&op.f, op, true, event, opts.nil_reads)?.map(|(r, out)| {
                (
                    KvInput {
                        key,
                        op: KvOp::Register(r),
                    },
                    out,
                )
            }),
        )
    }
}

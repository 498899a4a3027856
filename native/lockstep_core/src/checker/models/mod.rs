//! Sequential specifications ("models") the checkers compare histories against.
//!
//! A model is a deterministic state machine: from a state, an operation with its observed output is
//! either legal (and leads to exactly one next state) or illegal. Nondeterministic specifications
//! (several possible next states) are supported through [`PowerSet`], which turns them into
//! deterministic ones over sets of states, the standard construction.
//!
//! ## Plugging in a model written in Elixir
//! The search never needs a model to be Rust code: it only asks for [`Model::step`] answers, and a
//! step may answer [`Step::Unanswered`]. The search then treats that branch as closed for this round
//! and carries on: if it still finds a complete linearization using only answered steps, the verdict
//! `Linearizable` is definitive; otherwise it reports `Unknown` rather than a violation.
//! [`external::MemoModel`] is such a model: a memo table of `(state, input, output) -> next state`
//! that records every question it could not answer. A NIF drives it in rounds: run the check, hand
//! the recorded questions to the Elixir `step/3` callback, insert the answers, and run again. Each
//! round answers at least one new question, states are plain [`Value`](super::value::Value)s, so
//! the loop terminates with the same verdict a native model would give.

pub mod counter;
pub mod external;
pub mod kv;
pub mod multi_register;
pub mod mutex;
pub mod queue;
pub mod register;
pub mod set;

use super::error::CheckError;
use super::history::{HistoryOptions, Operation, RawOperation};
use std::fmt::Debug;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The answer to "can this operation, with this output, happen in this state?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<S> {
    Legal(S),
    Illegal,
    /// The model does not know yet (e.g. a memo table awaiting an answer from Elixir).
    Unanswered,
}

/// A group of operations checked independently of the others (P-compositionality).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Human-readable name, e.g. `key "3"`.
    pub label: String,
    /// Indices into the operation slice given to [`Model::partition`].
    pub ops: Vec<usize>,
}

/// A deterministic sequential specification.
pub trait Model {
    /// Model states. Hashing and equality must agree; states are interned and memoised by the search.
    type State: Clone + Eq + Hash + Debug;
    type Input: Debug;
    type Output: Debug;

    fn init(&self) -> Self::State;

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Step<Self::State>;

    /// Splits a history into independent parts (e.g. by key), or `None` when the model is not
    /// partitionable. Only sound for models that are a product of independent objects.
    fn partition(&self, _ops: &[Operation<Self::Input, Self::Output>]) -> Option<Vec<Partition>> {
        None
    }

    fn describe_operation(&self, input: &Self::Input, output: &Self::Output) -> String;

    fn describe_state(&self, state: &Self::State) -> String;

    /// Bytes a state holds (inline and on the heap), for the search's memory budget.
    fn state_bytes(&self, _state: &Self::State) -> usize {
        std::mem::size_of::<Self::State>()
    }
}

/// An encoded operation's input and output, or `None` when the operation is dropped.
pub type Encoded<M> = Option<(<M as Model>::Input, <M as Model>::Output)>;

/// Operations typed for model `M`.
pub type Operations<M> = Vec<Operation<<M as Model>::Input, <M as Model>::Output>>;

/// A model that can interpret paired history operations (decides which ones matter and how).
pub trait HistoryModel: Model {
    /// Turns one raw operation into model input and output; `Ok(None)` drops it (e.g. a failed write,
    /// which did not happen, or an open read, which observed nothing).
    fn encode(
        &mut self,
        op: &RawOperation,
        opts: &HistoryOptions,
    ) -> Result<Encoded<Self>, CheckError>;
}

/// Encodes every raw operation with `model`.
pub fn encode_operations<M: HistoryModel>(
    model: &mut M,
    raw: &[RawOperation],
    opts: &HistoryOptions,
) -> Result<Operations<M>, CheckError> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, op) in raw.iter().enumerate() {
        if let Some((input, output)) = model.encode(op, opts)? {
            out.push(Operation {
                process: op.process,
                input,
                output,
                call: op.call as u64,
                ret: op.ret.map(|r| r as u64),
                source: i,
            });
        }
    }
    Ok(out)
}

/// A sequential specification whose steps may lead to several states.
pub trait NondeterministicModel {
    type State: Clone + Ord + Hash + Debug;
    type Input: Debug;
    type Output: Debug;
    fn init(&self) -> Vec<Self::State>;
    /// Every state the operation may lead to (empty: illegal).
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Vec<Self::State>;
    fn describe_operation(&self, input: &Self::Input, output: &Self::Output) -> String;
    fn describe_state(&self, state: &Self::State) -> String;
}

/// Determinises a [`NondeterministicModel`]: a state is the sorted set of possible states.
pub struct PowerSet<N>(pub N);

impl<N: NondeterministicModel> Model for PowerSet<N> {
    type State = Vec<N::State>;
    type Input = N::Input;
    type Output = N::Output;

    fn init(&self) -> Self::State {
        let mut s = self.0.init();
        s.sort();
        s.dedup();
        s
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Step<Self::State> {
        let mut next: Vec<N::State> = state
            .iter()
            .flat_map(|s| self.0.step(s, input, output))
            .collect();
        if next.is_empty() {
            return Step::Illegal;
        }
        next.sort();
        next.dedup();
        Step::Legal(next)
    }

    fn describe_operation(&self, input: &Self::Input, output: &Self::Output) -> String {
        self.0.describe_operation(input, output)
    }

    fn describe_state(&self, state: &Self::State) -> String {
        let parts: Vec<String> = state.iter().map(|s| self.0.describe_state(s)).collect();
        format!("one of {{{}}}", parts.join(", "))
    }
}

/// A small, fast, deterministic hasher (the multiply-rotate scheme used by rustc's FxHasher).
/// Used for interning and memo tables, where SipHash's DoS resistance is not needed.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(FX_SEED);
    }
    fn finish(&self) -> u64 {
        // A final avalanche so that the low bits (used for bucketing) depend on every input bit.
        mix64(self.0)
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;

/// SplitMix64 finaliser.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn fast_hash<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = FastHasher::default();
    t.hash(&mut h);
    h.finish()
}

/// Maps common Jepsen spellings of an operation name onto a canonical one.
pub(crate) fn canonical_f(f: &str) -> &str {
    match f {
        "r" | "read" | "get" => "read",
        "w" | "write" | "put" => "write",
        "cas" | "compare-and-set" | "compare_and_set" => "cas",
        other => other,
    }
}

/// The keys of a keyed model, numbered in order of first appearance.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    list: Vec<crate::checker::value::Value>,
    index: std::collections::BTreeMap<crate::checker::value::Value, usize>,
}

impl Keys {
    /// Number for `key`, allocating one if new.
    pub fn number(&mut self, key: &crate::checker::value::Value) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        self.list.push(key.clone());
        self.index.insert(key.clone(), self.list.len() - 1);
        self.list.len() - 1
    }

    /// The key numbered `key`, for messages.
    pub fn name(&self, key: usize) -> String {
        self.list
            .get(key)
            .map(|k| k.to_string())
            .unwrap_or_else(|| format!("#{key}"))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

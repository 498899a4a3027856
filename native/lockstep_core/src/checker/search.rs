//! The Wing–Gong–Lowe linearizability search for one (partition of a) history.
//!
//! Wing and Gong (1993) search for a linearization by repeatedly choosing, among the operations whose
//! invocation precedes the earliest outstanding return, one that the model accepts, and backtracking
//! when none does. Lowe ("Testing for linearizability", 2017) made the search practical by memoising
//! configurations: the set of operations already linearized (a bitset) together with the model state
//! reached. Two paths reaching the same configuration have the same futures, so the second one is
//! cut. The history is kept as a doubly linked list of call and return entries in time order; an
//! operation being linearized is "lifted" out of the list (both entries) and put back on backtrack
//! (as in Porcupine, by Athalye), so finding the next candidate is a walk from the list head.
//!
//! Implementation notes (ours): model states are interned to `u32` ids, so a configuration is a
//! bitset plus one id; the bitset's hash is maintained incrementally (XOR of one random key per
//! operation), so a cache probe costs one hash-table lookup plus a word comparison on a hit. Model
//! steps are memoised per (state id, operation) in a dense table while it stays small, so repeated
//! questions (the common case: the same operation tried from the same state along many paths) cost
//! one array read instead of a model call and an interning lookup.
//! Open operations (`info`) have no return entry: they may be linearized wherever they help, and the
//! search succeeds once every *completed* operation is linearized — leaving an open operation out is
//! the same as letting it take effect after the end of the history.

use super::history::Operation;
use super::models::{fast_hash, mix64, Model, Step};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

/// Budgets and diagnostics for one search.
#[derive(Clone, Debug)]
pub struct SearchLimits {
    /// Maximum number of model steps before giving up with `Unknown`.
    pub max_steps: Option<u64>,
    /// Wall-clock deadline before giving up with `Unknown`.
    pub deadline: Option<Instant>,
    /// How many longest partial linearizations to keep for explanations (at least one is kept).
    pub max_partials: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_steps: None,
            deadline: None,
            max_partials: 1,
        }
    }
}

/// Why a search stopped without a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GaveUp {
    StepBudget(u64),
    TimeBudget,
    Cancelled,
    /// The model left some steps unanswered (see [`Step::Unanswered`]).
    Unanswered,
}

/// A longest prefix of a linearization that could not be extended.
#[derive(Clone, Debug)]
pub struct Partial<S> {
    /// Operation indices (into the full operation slice) in linearization order.
    pub order: Vec<usize>,
    /// Model state after `order`.
    pub state: S,
    /// The operation whose return was reached without it being linearizable next.
    pub stuck: Option<usize>,
}

#[derive(Clone, Debug)]
pub enum SearchOutcome<S> {
    /// A witness: operation indices in linearization order (open operations left out were placed
    /// after the end).
    Linearizable(Vec<usize>),
    Illegal(Vec<Partial<S>>),
    Unknown(GaveUp),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchStats {
    pub steps: u64,
    pub configurations: usize,
    pub states: usize,
}

const NIL: u32 = u32::MAX;
const MEMO_UNKNOWN: u32 = u32::MAX;
const MEMO_ILLEGAL: u32 = u32::MAX - 1;
/// Upper bound on step-memo entries (4 bytes each).
const MEMO_LIMIT: usize = 1 << 22;
const HEAD: u32 = 0;

#[derive(Default, Clone, Copy)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Visited configurations: bitset words and state id per entry, chained on hash collisions.
struct ConfigCache {
    words: usize,
    bits: Vec<u64>,
    state: Vec<u32>,
    chain: Vec<u32>,
    heads: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl ConfigCache {
    fn new(words: usize) -> Self {
        ConfigCache {
            words,
            bits: Vec::new(),
            state: Vec::new(),
            chain: Vec::new(),
            heads: HashMap::default(),
        }
    }

    fn len(&self) -> usize {
        self.state.len()
    }

    /// Inserts the configuration; false if it was already present.
    fn insert(&mut self, key: u64, bits: &[u64], state: u32) -> bool {
        let w = self.words;
        match self.heads.entry(key) {
            Entry::Occupied(mut o) => {
                let mut at = *o.get();
                while at != NIL {
                    let i = at as usize;
                    if self.state[i] == state && self.bits[i * w..(i + 1) * w] == *bits {
                        return false;
                    }
                    at = self.chain[i];
                }
                let first = *o.get();
                let id = self.state.len() as u32;
                self.bits.extend_from_slice(bits);
                self.state.push(state);
                self.chain.push(first);
                *o.get_mut() = id;
                true
            }
            Entry::Vacant(v) => {
                let id = self.state.len() as u32;
                v.insert(id);
                self.bits.extend_from_slice(bits);
                self.state.push(state);
                self.chain.push(NIL);
                true
            }
        }
    }
}

/// Interns model states to dense ids. Each state is stored once; the table maps its hash to the
/// first id with that hash, and ids with equal hashes are chained.
struct Interner<S> {
    states: Vec<S>,
    chain: Vec<u32>,
    heads: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl<S: Eq + std::hash::Hash> Interner<S> {
    fn new() -> Self {
        Interner {
            states: Vec::new(),
            chain: Vec::new(),
            heads: HashMap::default(),
        }
    }

    fn intern(&mut self, s: S) -> u32 {
        let h = fast_hash(&s);
        let id = self.states.len() as u32;
        match self.heads.entry(h) {
            Entry::Occupied(mut o) => {
                let mut at = *o.get();
                while at != NIL {
                    if self.states[at as usize] == s {
                        return at;
                    }
                    at = self.chain[at as usize];
                }
                self.chain.push(*o.get());
                *o.get_mut() = id;
            }
            Entry::Vacant(v) => {
                v.insert(id);
                self.chain.push(NIL);
            }
        }
        self.states.push(s);
        id
    }
}

/// Searches for a linearization of the operations `subset` (indices into `ops`).
///
/// `stop` is polled every few thousand steps; returning true cancels the search.
pub fn search<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    subset: &[usize],
    limits: &SearchLimits,
    stop: &dyn Fn() -> bool,
) -> (SearchOutcome<M::State>, SearchStats) {
    let n = subset.len();
    let mut stats = SearchStats::default();

    // Entries in time order; at equal times calls come first (treating them as concurrent, the
    // permissive reading of a tie).
    let mut timeline: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
    let mut completed = 0usize;
    for (j, &g) in subset.iter().enumerate() {
        let Some(op) = ops.get(g) else { continue };
        timeline.push((op.call, 0, j as u32));
        if let Some(r) = op.ret {
            timeline.push((r, 1, j as u32));
            completed += 1;
        }
    }
    timeline.sort_unstable();
    let m = timeline.len();
    let mut next: Vec<u32> = (0..=m as u32)
        .map(|i| if (i as usize) < m { i + 1 } else { NIL })
        .collect();
    let mut prev: Vec<u32> = (0..=m as u32).map(|i| i.wrapping_sub(1)).collect();
    let mut entry_op: Vec<u32> = vec![0; m + 1];
    let mut entry_ret: Vec<bool> = vec![false; m + 1];
    let mut ret_node: Vec<u32> = vec![NIL; n];
    for (k, &(_, kind, j)) in timeline.iter().enumerate() {
        let node = k + 1;
        entry_op[node] = j;
        entry_ret[node] = kind == 1;
        if kind == 1 {
            ret_node[j as usize] = node as u32;
        }
    }
    prev[0] = NIL;

    let words = n.div_ceil(64).max(1);
    let zobrist: Vec<u64> = (0..n as u64)
        .map(|j| mix64(j.wrapping_add(0x9e37_79b9_7f4a_7c15)))
        .collect();
    let mut bits = vec![0u64; words];
    let mut bits_hash = 0u64;
    let mut cache = ConfigCache::new(words);
    let mut interner = Interner::new();
    let mut state = interner.intern(model.init());
    // Dense memo of model steps: row per state id (while it fits), column per operation.
    let mut memo: Vec<u32> = Vec::new();
    let mut memo_rows = 0usize;
    if n <= MEMO_LIMIT {
        memo.resize(n, MEMO_UNKNOWN);
        memo_rows = 1;
    }

    let mut remaining = completed;
    let mut stack_node: Vec<u32> = Vec::with_capacity(n);
    let mut stack_state: Vec<u32> = Vec::with_capacity(n);
    let mut partials: Vec<(Vec<u32>, u32, Option<u32>)> = Vec::new();
    let mut best_depth = 0usize;
    let max_partials = limits.max_partials.max(1);
    let mut unanswered = false;
    let mut steps: u64 = 0;

    let finish = |stats: &mut SearchStats, steps: u64, cache: &ConfigCache, states: usize| {
        stats.steps = steps;
        stats.configurations = cache.len();
        stats.states = states;
    };

    if remaining == 0 {
        finish(&mut stats, 0, &cache, interner.states.len());
        return (SearchOutcome::Linearizable(Vec::new()), stats);
    }

    let mut node = next[HEAD as usize];
    loop {
        if node != NIL && !entry_ret[node as usize] {
            let j = entry_op[node as usize] as usize;
            steps += 1;
            let over_steps = limits.max_steps.is_some_and(|max| steps > max);
            if over_steps || steps & 0xfff == 0 {
                let over_time = limits.deadline.is_some_and(|d| Instant::now() >= d);
                if over_steps || over_time || stop() {
                    finish(&mut stats, steps, &cache, interner.states.len());
                    let why = if over_steps {
                        GaveUp::StepBudget(limits.max_steps.unwrap_or(0))
                    } else if over_time {
                        GaveUp::TimeBudget
                    } else {
                        GaveUp::Cancelled
                    };
                    return (SearchOutcome::Unknown(why), stats);
                }
            }
            let cached = if (state as usize) < memo_rows {
                memo[state as usize * n + j]
            } else {
                MEMO_UNKNOWN
            };
            let stepped = if cached == MEMO_ILLEGAL {
                None
            } else if cached != MEMO_UNKNOWN {
                Some(cached)
            } else {
                let op = &ops[subset[j]];
                match model.step(&interner.states[state as usize], &op.input, &op.output) {
                    Step::Legal(s) => {
                        let id = interner.intern(s);
                        if id as usize == memo_rows && (memo_rows + 1) * n <= MEMO_LIMIT {
                            memo.resize((memo_rows + 1) * n, MEMO_UNKNOWN);
                            memo_rows += 1;
                        }
                        if (state as usize) < memo_rows {
                            memo[state as usize * n + j] = id;
                        }
                        Some(id)
                    }
                    Step::Illegal => {
                        if (state as usize) < memo_rows {
                            memo[state as usize * n + j] = MEMO_ILLEGAL;
                        }
                        None
                    }
                    Step::Unanswered => {
                        unanswered = true;
                        None
                    }
                }
            };
            if let Some(new_state) = stepped {
                bits[j / 64] |= 1u64 << (j % 64);
                let new_hash = bits_hash ^ zobrist[j];
                let key = new_hash ^ mix64(u64::from(new_state) ^ 0x5851_f42d_4c95_7f2d);
                if cache.insert(key, &bits, new_state) {
                    bits_hash = new_hash;
                    stack_node.push(node);
                    stack_state.push(state);
                    state = new_state;
                    // Lift the call entry and its return out of the list.
                    let rn = ret_node[j];
                    for x in [node, rn] {
                        if x == NIL {
                            continue;
                        }
                        let (p, nx) = (prev[x as usize], next[x as usize]);
                        next[p as usize] = nx;
                        if nx != NIL {
                            prev[nx as usize] = p;
                        }
                    }
                    if rn != NIL {
                        remaining -= 1;
                        if remaining == 0 {
                            finish(&mut stats, steps, &cache, interner.states.len());
                            let order = stack_node
                                .iter()
                                .map(|&e| subset[entry_op[e as usize] as usize])
                                .collect();
                            return (SearchOutcome::Linearizable(order), stats);
                        }
                    }
                    node = next[HEAD as usize];
                    continue;
                }
                bits[j / 64] &= !(1u64 << (j % 64));
            }
            node = next[node as usize];
        } else {
            // A return entry (or the end): no remaining candidate works here.
            let depth = stack_node.len();
            if depth >= best_depth {
                if depth > best_depth {
                    best_depth = depth;
                    partials.clear();
                }
                if partials.len() < max_partials {
                    let order = stack_node.iter().map(|&e| entry_op[e as usize]).collect();
                    let stuck = (node != NIL).then(|| entry_op[node as usize]);
                    partials.push((order, state, stuck));
                }
            }
            let (Some(e), Some(s)) = (stack_node.pop(), stack_state.pop()) else {
                break;
            };
            let j = entry_op[e as usize] as usize;
            bits[j / 64] &= !(1u64 << (j % 64));
            bits_hash ^= zobrist[j];
            state = s;
            let rn = ret_node[j];
            if rn != NIL {
                remaining += 1;
            }
            // Put the entries back, in reverse order of removal.
            for x in [rn, e] {
                if x == NIL {
                    continue;
                }
                let (p, nx) = (prev[x as usize], next[x as usize]);
                next[p as usize] = x;
                if nx != NIL {
                    prev[nx as usize] = x;
                }
            }
            node = next[e as usize];
        }
    }

    finish(&mut stats, steps, &cache, interner.states.len());
    if unanswered {
        return (SearchOutcome::Unknown(GaveUp::Unanswered), stats);
    }
    let partials = partials
        .into_iter()
        .map(|(order, st, stuck)| Partial {
            order: order.into_iter().map(|j| subset[j as usize]).collect(),
            state: interner.states[st as usize].clone(),
            stuck: stuck.map(|j| subset[j as usize]),
        })
        .collect();
    (SearchOutcome::Illegal(partials), stats)
}

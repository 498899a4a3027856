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
    /// Bytes the search may hold (configurations, states, memo) before giving up with `Unknown`.
    pub max_memory: Option<usize>,
    /// How many longest partial linearizations to keep for explanations (at least one is kept).
    pub max_partials: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_steps: None,
            deadline: None,
            max_memory: None,
            max_partials: 1,
        }
    }
}

/// Why a search stopped without a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GaveUp {
    StepBudget(u64),
    TimeBudget,
    /// The budget in bytes that the search would have exceeded.
    MemoryBudget(usize),
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

/// Visited configurations, stored compactly so that memory stays near-linear in the history.
///
/// A configuration is the set of linearized operations plus the model state. Rather than a bitset
/// of every operation (which made a sequential history of n operations cost n²/8 bytes), the set is
/// kept in invocation-rank space as a *frontier* `f`, the first completed operation not linearized,
/// and one sorted list: the open operations below `f` that are *not* linearized (the holes), then
/// the operations above `f` that are (the extras). Below `f` every completed operation is in the
/// set, and nothing invoked after the return of the operation at `f` can be linearized before it,
/// so the extras are at most the operations overlapping it; the holes are the open operations the
/// search has passed over. Equality is exact; the hash is the incremental one of the full set.
struct ConfigCache {
    state: Vec<u32>,
    front: Vec<u32>,
    /// Start of entry i's list in `lists`; entry i ends where i + 1 starts.
    start: Vec<usize>,
    lists: Vec<u32>,
    chain: Vec<u32>,
    heads: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl ConfigCache {
    fn new() -> Self {
        ConfigCache {
            state: Vec::new(),
            front: Vec::new(),
            start: vec![0],
            lists: Vec::new(),
            chain: Vec::new(),
            heads: HashMap::default(),
        }
    }

    fn len(&self) -> usize {
        self.state.len()
    }

    /// Bytes held, counting vectors and the hash table at their capacity.
    fn bytes(&self) -> usize {
        use std::mem::size_of;
        (self.state.capacity() + self.front.capacity() + self.chain.capacity()) * size_of::<u32>()
            + self.start.capacity() * size_of::<usize>()
            + self.lists.capacity() * size_of::<u32>()
            + self.heads.capacity() * (size_of::<u64>() + size_of::<u32>() + 4)
    }

    /// Inserts the configuration; false if it was already present.
    fn insert(&mut self, key: u64, state: u32, front: u32, list: &[u32]) -> bool {
        let id = self.state.len() as u32;
        let first = self.heads.get(&key).copied().unwrap_or(NIL);
        let mut at = first;
        while at != NIL {
            let i = at as usize;
            if self.state[i] == state
                && self.front[i] == front
                && self.lists[self.start[i]..self.start[i + 1]] == *list
            {
                return false;
            }
            at = self.chain[i];
        }
        self.heads.insert(key, id);
        self.state.push(state);
        self.front.push(front);
        self.lists.extend_from_slice(list);
        self.start.push(self.lists.len());
        self.chain.push(first);
        true
    }
}

/// The linearized set in rank space, with its frontier and holes kept up to date (see
/// [`ConfigCache`]).
struct Linearized {
    /// Bit r set: the operation of rank r is linearized.
    members: Vec<u64>,
    /// Bit r set: rank r is an open operation.
    open_mask: Vec<u64>,
    /// First completed rank not linearized (`n` when there is none).
    front: usize,
    /// Open ranks below `front` not linearized.
    holes: std::collections::BTreeSet<u32>,
    /// Operations linearized.
    count: usize,
    n: usize,
}

impl Linearized {
    fn new(open: &[bool]) -> Self {
        let n = open.len();
        let words = n.div_ceil(64).max(1);
        let mut open_mask = vec![0u64; words];
        for (r, &o) in open.iter().enumerate() {
            if o {
                open_mask[r / 64] |= 1 << (r % 64);
            }
        }
        let mut l = Linearized {
            members: vec![0u64; words],
            open_mask,
            front: 0,
            holes: Default::default(),
            count: 0,
            n,
        };
        l.advance();
        l
    }

    /// Moves the frontier past linearized and open ranks; the open ones passed over that are not
    /// linearized become holes.
    fn advance(&mut self) {
        while self.front < self.n {
            let (w, b) = (self.front / 64, self.front % 64);
            let passable = self.members[w] | self.open_mask[w];
            let ones = ((passable >> b).trailing_ones() as usize).min(self.n - self.front);
            let span = if ones == 64 {
                u64::MAX
            } else {
                ((1u64 << ones) - 1) << b
            };
            let mut holes = self.open_mask[w] & !self.members[w] & span;
            while holes != 0 {
                self.holes
                    .insert((w * 64 + holes.trailing_zeros() as usize) as u32);
                holes &= holes - 1;
            }
            self.front += ones;
            if b + ones < 64 {
                break;
            }
        }
    }

    fn add(&mut self, rank: usize, open: bool) {
        self.members[rank / 64] |= 1 << (rank % 64);
        self.count += 1;
        if open {
            if rank < self.front {
                self.holes.remove(&(rank as u32));
            }
        } else if rank == self.front {
            self.advance();
        }
    }

    fn remove(&mut self, rank: usize, open: bool) {
        self.members[rank / 64] &= !(1 << (rank % 64));
        self.count -= 1;
        if rank < self.front {
            if open {
                self.holes.insert(rank as u32);
            } else {
                self.front = rank;
                drop(self.holes.split_off(&(rank as u32)));
            }
        }
    }

    /// The holes, then the linearized ranks above the frontier, ascending, into `out`. Costs the
    /// holes plus the span from the frontier to the highest extra, in words.
    fn key(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.holes.iter().copied());
        // Linearized below the frontier: every rank there but the holes.
        let mut left = self.count - (self.front - self.holes.len());
        let mut w = self.front / 64;
        while left > 0 && w < self.members.len() {
            let mut word = self.members[w];
            if w == self.front / 64 {
                word &= u64::MAX.checked_shl((self.front % 64) as u32).unwrap_or(0);
            }
            while word != 0 && left > 0 {
                out.push((w * 64 + word.trailing_zeros() as usize) as u32);
                word &= word - 1;
                left -= 1;
            }
            w += 1;
        }
    }
}

/// Interns model states to dense ids. Each state is stored once; the table maps its hash to the
/// first id with that hash, and ids with equal hashes are chained.
struct Interner<S> {
    states: Vec<S>,
    /// Bytes held by the states (as the model measures them) and the table.
    bytes: usize,
    chain: Vec<u32>,
    heads: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl<S: Eq + std::hash::Hash> Interner<S> {
    fn new() -> Self {
        Interner {
            states: Vec::new(),
            bytes: 0,
            chain: Vec::new(),
            heads: HashMap::default(),
        }
    }

    fn intern(&mut self, s: S, bytes: usize) -> u32 {
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
        self.bytes += bytes + 24;
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

    // Invocation ranks, and the open operations' own indices (see `ConfigCache`).
    let mut rank: Vec<u32> = vec![0; n];
    let mut open_by_rank: Vec<bool> = Vec::with_capacity(n);
    for &(_, kind, j) in &timeline {
        if kind == 0 {
            rank[j as usize] = open_by_rank.len() as u32;
            open_by_rank.push(ops[subset[j as usize]].ret.is_none());
        }
    }
    let mut lin = Linearized::new(&open_by_rank);
    let mut key_list: Vec<u32> = Vec::new();
    let zobrist: Vec<u64> = (0..n as u64)
        .map(|j| mix64(j.wrapping_add(0x9e37_79b9_7f4a_7c15)))
        .collect();
    let mut bits_hash = 0u64;
    let mut cache = ConfigCache::new();
    let mut interner = Interner::new();
    let init = model.init();
    let init_bytes = model.state_bytes(&init);
    let mut state = interner.intern(init, init_bytes);
    // What the search holds besides the cache, the interner and the memo (all O(n)).
    let fixed_bytes = n * 64 + timeline.len() * 16;
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
                let used = fixed_bytes + cache.bytes() + interner.bytes + memo.capacity() * 4;
                let over_memory = limits.max_memory.is_some_and(|max| used > max);
                if over_steps || over_time || over_memory || stop() {
                    finish(&mut stats, steps, &cache, interner.states.len());
                    let why = if over_steps {
                        GaveUp::StepBudget(limits.max_steps.unwrap_or(0))
                    } else if over_time {
                        GaveUp::TimeBudget
                    } else if over_memory {
                        GaveUp::MemoryBudget(limits.max_memory.unwrap_or(0))
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
                        let bytes = model.state_bytes(&s);
                        let id = interner.intern(s, bytes);
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
                let (r, open) = (rank[j] as usize, ret_node[j] == NIL);
                lin.add(r, open);
                lin.key(&mut key_list);
                let new_hash = bits_hash ^ zobrist[j];
                let key = new_hash ^ mix64(u64::from(new_state) ^ 0x5851_f42d_4c95_7f2d);
                if cache.insert(key, new_state, lin.front as u32, &key_list) {
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
                lin.remove(r, open);
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
            lin.remove(rank[j] as usize, ret_node[j] == NIL);
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

#[cfg(test)]
mod tests {
    use super::Linearized;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The set a (frontier, holes and extras) key stands for.
    fn decode(l: &Linearized, open: &[bool]) -> BTreeSet<usize> {
        let mut list = Vec::new();
        l.key(&mut list);
        let mut set: BTreeSet<usize> = (0..l.front).collect();
        for r in list {
            let r = r as usize;
            if r < l.front {
                assert!(open[r], "a hole is an open operation");
                set.remove(&r);
            } else {
                set.insert(r);
            }
        }
        set
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// After any sequence of additions and removals, the compact key decodes to exactly the
        /// set of linearized ranks, and the frontier is the first completed rank not in it.
        #[test]
        fn the_compact_key_is_the_set(
            open in prop::collection::vec(prop::bool::weighted(0.2), 1..200),
            fill in prop::collection::vec(any::<prop::sample::Index>(), 0..200),
            moves in prop::collection::vec(any::<prop::sample::Index>(), 0..400),
        ) {
            let n = open.len();
            let mut l = Linearized::new(&open);
            let mut set = BTreeSet::new();
            // A long run of set ranks first (in any order), so the frontier crosses words.
            let mut prefix: Vec<usize> = (0..fill.len().min(n)).collect();
            let len = prefix.len();
            for (i, f) in fill.iter().enumerate().take(len) {
                prefix.swap(i, i + f.index(len - i));
            }
            let moves = prefix.into_iter().chain(moves.into_iter().map(|m| m.index(n)));
            for r in moves {
                if set.remove(&r) {
                    l.remove(r, open[r]);
                } else {
                    set.insert(r);
                    l.add(r, open[r]);
                }
                prop_assert_eq!(&decode(&l, &open), &set);
                let front = (0..n).find(|&r| !open[r] && !set.contains(&r)).unwrap_or(n);
                prop_assert_eq!(l.front, front);
            }
        }
    }
}

//! The dependency graph between transactions, its strongly connected components (Tarjan,
//! iterative) and shortest paths inside one component (breadth-first, with a step budget).

use crate::checker::value::Value;

/// Edge kinds, as bits so that a search can allow several.
pub const WW: u8 = 1;
pub const WR: u8 = 2;
pub const RW: u8 = 4;
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;

pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

/// How a version order between two writes of a key is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Basis {
    /// List-append: the key's elements in the order a transaction's read showed them.
    Observed { reader: u32 },
    /// Rw-register: this transaction read the earlier version and then wrote the later one.
    ReadThenWrite { txn: u32 },
    /// Rw-register: every written version follows the initial (`nil`) state.
    Initial,
}

/// Why an edge holds, for explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// The source wrote `prev`, the target `next`, a later version of `key`.
    Ww {
        key: Value,
        prev: Value,
        next: Value,
        basis: Basis,
    },
    /// The source wrote `value`, which the target read (list-append: the last element of the
    /// list it read).
    Wr { key: Value, value: Value },
    /// The source read `read` (a version: list-append, the last element of the list read;
    /// `nil` for the initial state), the target wrote `next`, a later version of `key`.
    Rw {
        key: Value,
        read: Value,
        next: Value,
        basis: Basis,
    },
    /// The source read `read` of `key`; the target is a junction standing for every writer of
    /// a version after it (the edges out of it say which).
    RwToJunction { key: Value, read: Value },
    /// Consecutive transactions of one process.
    Process { process: u64 },
    /// The source completed (0-based event) before the target was invoked.
    Realtime { completed: usize, invoked: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub to: u32,
    pub kind: u8,
    pub why: u32,
}

/// Nodes `0..txns` are transactions; nodes from `txns` on are junctions, which stand for a
/// set of rw edges (every reader of a version to every writer of a later one) so that
/// their number stays linear: a junction is entered only by rw edges and left only by
/// ww-kind edges, so a path through it counts one rw edge, as the direct edge would.
pub struct Graph {
    pub txns: usize,
    pub adj: Vec<Vec<Edge>>,
    pub whys: Vec<Why>,
}

impl Graph {
    pub fn new(txns: usize) -> Self {
        Graph {
            txns,
            adj: vec![Vec::new(); txns],
            whys: Vec::new(),
        }
    }

    pub fn nodes(&self) -> usize {
        self.adj.len()
    }

    pub fn add_junction(&mut self) -> u32 {
        self.adj.push(Vec::new());
        (self.adj.len() - 1) as u32
    }

    pub fn is_junction(&self, n: u32) -> bool {
        n as usize >= self.txns
    }

    /// Adds an edge (self-loops are dropped: a transaction does not depend on itself).
    pub fn add(&mut self, from: u32, to: u32, kind: u8, why: Why) {
        if from == to {
            return;
        }
        self.whys.push(why);
        let why = (self.whys.len() - 1) as u32;
        self.adj[from as usize].push(Edge { to, kind, why });
    }

    /// Sorts each node's edges by target then kind (so that searches prefer ww over wr over
    /// rw between the same two nodes) and drops repeats, keeping the first reason.
    pub fn finish(&mut self) {
        for edges in &mut self.adj {
            edges.sort_by_key(|e| (e.to, e.kind, e.why));
            edges.dedup_by_key(|e| (e.to, e.kind));
        }
    }

    pub fn edge_count(&self) -> usize {
        self.adj.iter().map(Vec::len).sum()
    }
}

/// Strongly connected components of the edges whose kind is in `mask`.
pub struct Components {
    /// Each node's component. Components are numbered in reverse topological order: an edge
    /// between two components goes from a higher number to a lower one.
    pub comp: Vec<u32>,
    pub sizes: Vec<u32>,
}

impl Components {
    pub fn nontrivial(&self) -> impl Iterator<Item = u32> + '_ {
        self.sizes
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 1)
            .map(|(c, _)| c as u32)
    }

    /// The members of every non-trivial component, by component.
    pub fn members(&self) -> std::collections::BTreeMap<u32, Vec<u32>> {
        let mut out: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
        for (n, c) in self.comp.iter().enumerate() {
            if self.sizes[*c as usize] > 1 {
                out.entry(*c).or_default().push(n as u32);
            }
        }
        out
    }
}

/// Tarjan's algorithm without recursion.
pub fn components(g: &Graph, mask: u8) -> Components {
    const NONE: u32 = u32::MAX;
    let n = g.nodes();
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut comp = vec![NONE; n];
    let mut sizes: Vec<u32> = Vec::new();
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let mut next = 0u32;
    for s in 0..n {
        if index[s] != NONE {
            continue;
        }
        index[s] = next;
        low[s] = next;
        next += 1;
        stack.push(s as u32);
        on_stack[s] = true;
        calls.push((s as u32, 0));
        while let Some(top) = calls.last_mut() {
            let v = top.0 as usize;
            if let Some(e) = g.adj[v].get(top.1) {
                top.1 += 1;
                if e.kind & mask == 0 {
                    continue;
                }
                let w = e.to as usize;
                if index[w] == NONE {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    calls.push((w as u32, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                calls.pop();
                if let Some(parent) = calls.last() {
                    let p = parent.0 as usize;
                    low[p] = low[p].min(low[v]);
                }
                if low[v] == index[v] {
                    let c = sizes.len() as u32;
                    let mut size = 0;
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        comp[w as usize] = c;
                        size += 1;
                        if w as usize == v {
                            break;
                        }
                    }
                    sizes.push(size);
                }
            }
        }
    }
    Components { comp, sizes }
}

/// Breadth-first searches that reuse their arrays, counting the edges they look at.
pub struct Searcher {
    seen: Vec<u32>,
    parent: Vec<(u32, u32)>,
    dist: Vec<u32>,
    stamp: u32,
    pub steps: u64,
    pub budget: u64,
}

/// A path as the edges taken: `(from, index of the edge in from's list)`.
pub type Path = Vec<(u32, u32)>;

impl Searcher {
    pub fn new(nodes: usize, budget: u64) -> Self {
        Searcher {
            seen: vec![0; nodes],
            parent: vec![(0, 0); nodes],
            dist: vec![0; nodes],
            stamp: 0,
            steps: 0,
            budget,
        }
    }

    pub fn exhausted(&self) -> bool {
        self.steps >= self.budget
    }

    /// Searches from `from` over edges of `mask` between nodes `keep` accepts. Returns false
    /// when the budget ran out before the search ended.
    pub fn explore(
        &mut self,
        g: &Graph,
        mask: u8,
        from: u32,
        keep: impl Fn(u32) -> bool,
        mut stop: impl FnMut(u32) -> bool,
    ) -> bool {
        self.stamp += 1;
        let stamp = self.stamp;
        self.seen[from as usize] = stamp;
        self.dist[from as usize] = 0;
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(v) = queue.pop_front() {
            if stop(v) {
                return true;
            }
            for (i, e) in g.adj[v as usize].iter().enumerate() {
                self.steps += 1;
                if self.steps >= self.budget {
                    return false;
                }
                let w = e.to;
                if e.kind & mask == 0 || self.seen[w as usize] == stamp || !keep(w) {
                    continue;
                }
                self.seen[w as usize] = stamp;
                self.parent[w as usize] = (v, i as u32);
                self.dist[w as usize] = self.dist[v as usize] + 1;
                queue.push_back(w);
            }
        }
        true
    }

    /// Whether the last search reached `n`.
    pub fn reached(&self, n: u32) -> bool {
        self.seen[n as usize] == self.stamp
    }

    pub fn distance(&self, n: u32) -> u32 {
        self.dist[n as usize]
    }

    /// The path the last search found from its start to `to` (which it reached).
    pub fn path_to(&self, from: u32, to: u32) -> Path {
        let mut out = Vec::new();
        let mut n = to;
        while n != from {
            let (p, i) = self.parent[n as usize];
            out.push((p, i));
            n = p;
        }
        out.reverse();
        out
    }

    /// The shortest cycle through the edge `edge` (`(u, i)`: u's i-th edge, to v): the edge,
    /// then a shortest path back from v to u over `mask` inside the component `comp` names.
    /// `None` when there is none or the budget ran out.
    pub fn cycle_through(
        &mut self,
        g: &Graph,
        mask: u8,
        edge: (u32, u32),
        comps: &Components,
    ) -> Option<Path> {
        let (u, i) = edge;
        let v = g.adj[u as usize][i as usize].to;
        let c = comps.comp[u as usize];
        if comps.comp[v as usize] != c {
            return None;
        }
        self.explore(g, mask, v, |w| comps.comp[w as usize] == c, |w| w == u);
        if !self.reached(u) {
            return None;
        }
        let mut path = vec![edge];
        path.extend(self.path_to(v, u));
        Some(path)
    }
}

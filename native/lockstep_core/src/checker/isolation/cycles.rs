//! Finding and naming cycles: strongly connected components of the graph restricted to the
//! edge kinds an anomaly allows, then a short cycle in each by breadth-first search.
//!
//! | layer | edges | a cycle through | names |
//! |---|---|---|---|
//! | 1 | ww | any edge | G0 |
//! | 2 | ww, wr | a wr edge | G1c |
//! | 3 | ww, wr, rw | an rw edge | G-single (one rw), else G2-item |
//! | 4 | ww, wr, process | a process edge | G0-process, G1c-process |
//! | 5 | all | a process or real-time edge | by its edges, `-process` or `-realtime` |
//!
//! Every layer is complete: a non-trivial component holds a cycle, and one is exhibited. The
//! one search that is not linear is G-single's (is there a cycle with exactly one rw edge?):
//! for each rw edge u -> v inside a layer-3 component it asks whether v reaches u over ww and
//! wr edges, pruned by the topological order of layer 2's components. It has a step budget;
//! when that runs out in a component without a G-single found, the component still shows a
//! cycle (G2-item or G-single), and the search is counted as undecided.

use super::anomaly::{classify, AnomalyKind, Found};
use super::graph::{components, Components, Graph, Path, Searcher, PROCESS, REALTIME, RW, WR, WW};
use std::collections::{BTreeMap, HashSet};

/// How many candidate edges a component's search starts from, keeping the shortest cycle.
const CANDIDATES: usize = 8;

pub struct Cycles {
    pub found: Vec<Found>,
    /// Components where the G-single search ran out of budget without finding one.
    pub undecided: usize,
}

struct Collector<'g> {
    g: &'g Graph,
    found: Vec<Found>,
    /// The kind and transactions of every cycle kept.
    seen: HashSet<(AnomalyKind, Vec<u32>)>,
    /// The transactions of every cycle kept.
    seen_nodes: HashSet<Vec<u32>>,
}

impl Collector<'_> {
    /// Keeps a cycle unless one of its kind on the same transactions is kept, or (`any_kind`,
    /// for the last layer, whose cycles only strict serializability forbids, and it forbids
    /// every cycle) one of any kind.
    fn push(&mut self, path: Path, any_kind: bool) {
        let kind = classify(self.g, &path);
        let mut nodes: Vec<u32> = path
            .iter()
            .map(|p| p.0)
            .filter(|n| !self.g.is_junction(*n))
            .collect();
        nodes.sort_unstable();
        if any_kind && self.seen_nodes.contains(&nodes) {
            return;
        }
        self.seen_nodes.insert(nodes.clone());
        if self.seen.insert((kind, nodes)) {
            self.found.push(Found {
                kind,
                txns: Vec::new(),
                cycle: Some(path),
                note: String::new(),
            });
        }
    }
}

/// One cycle per non-trivial component of `mask`'s edges, through an edge of `required`.
fn layer(c: &mut Collector<'_>, s: &mut Searcher, mask: u8, required: u8) -> Components {
    let g = c.g;
    let comps = components(g, mask);
    for (comp, nodes) in comps.members() {
        let mut best: Option<Path> = None;
        let mut tried = 0;
        'nodes: for &u in &nodes {
            for (i, e) in g.adj[u as usize].iter().enumerate() {
                if e.kind & required == 0 || e.kind & mask == 0 || comps.comp[e.to as usize] != comp
                {
                    continue;
                }
                // A process or real-time edge beside a dependency between the same two
                // transactions adds no cycle of its own.
                if e.kind & (PROCESS | REALTIME) != 0
                    && g.adj[u as usize]
                        .iter()
                        .any(|x| x.to == e.to && x.kind & (WW | WR | RW) != 0)
                {
                    continue;
                }
                if let Some(p) = s.cycle_through(g, mask, (u, i as u32), &comps) {
                    if best.as_ref().is_none_or(|b| p.len() < b.len()) {
                        best = Some(p);
                    }
                }
                tried += 1;
                if tried >= CANDIDATES {
                    break 'nodes;
                }
            }
        }
        if let Some(p) = best {
            c.push(p, required == PROCESS | REALTIME);
        }
    }
    comps
}

pub fn find(g: &Graph, budget: u64) -> Cycles {
    let mut c = Collector {
        g,
        found: Vec::new(),
        seen: HashSet::new(),
        seen_nodes: HashSet::new(),
    };
    let mut exhibit = Searcher::new(g.nodes(), u64::MAX);
    layer(&mut c, &mut exhibit, WW, WW);
    let d = layer(&mut c, &mut exhibit, WW | WR, WR);
    let undecided = single(&mut c, &mut exhibit, &d, budget);
    layer(&mut c, &mut exhibit, WW | WR | PROCESS, PROCESS);
    layer(
        &mut c,
        &mut exhibit,
        WW | WR | RW | PROCESS | REALTIME,
        PROCESS | REALTIME,
    );
    Cycles {
        found: c.found,
        undecided,
    }
}

/// Layer 3: G-single where there is one, else G2-item. Returns the undecided components.
fn single(c: &mut Collector<'_>, exhibit: &mut Searcher, d: &Components, budget: u64) -> usize {
    let g = c.g;
    let f = components(g, WW | WR | RW);
    let mut search = Searcher::new(g.nodes(), budget);
    let mut undecided = 0;
    for (comp, nodes) in f.members() {
        let mut by_target: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
        for &u in &nodes {
            for (i, e) in g.adj[u as usize].iter().enumerate() {
                if e.kind == RW && f.comp[e.to as usize] == comp {
                    by_target.entry(e.to).or_default().push((u, i as u32));
                }
            }
        }
        let Some(first) = by_target.values().next().and_then(|s| s.first()).copied() else {
            continue;
        };
        let mut best: Option<Path> = None;
        let mut complete = true;
        let mut after_found = 0;
        for (v, sources) in &by_target {
            let lo = sources
                .iter()
                .map(|(u, _)| d.comp[*u as usize])
                .min()
                .unwrap_or(0);
            // Components are numbered sinks first: v reaches only components numbered at most
            // its own.
            if d.comp[*v as usize] < lo {
                continue;
            }
            if search.exhausted()
                || !search.explore(
                    g,
                    WW | WR,
                    *v,
                    |w| f.comp[w as usize] == comp && d.comp[w as usize] >= lo,
                    |_| false,
                )
            {
                complete = false;
                break;
            }
            for (u, i) in sources {
                if search.reached(*u)
                    && best
                        .as_ref()
                        .is_none_or(|b| search.distance(*u) as usize + 1 < b.len())
                {
                    let mut p = vec![(*u, *i)];
                    p.extend(search.path_to(*v, *u));
                    best = Some(p);
                }
            }
            if best.is_some() {
                after_found += 1;
                if after_found > CANDIDATES {
                    break;
                }
            }
        }
        match best {
            Some(p) => c.push(p, false),
            None => {
                if let Some(p) = exhibit.cycle_through(g, WW | WR | RW, first, &f) {
                    if classify(g, &p) != AnomalyKind::GSingle && !complete {
                        undecided += 1;
                    }
                    c.push(p, false);
                }
            }
        }
    }
    undecided
}

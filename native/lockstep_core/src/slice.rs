//! Causal slices: the steps of a run that happen before a given point (usually the failure).
//!
//! Happens-before is the smallest transitive relation containing:
//!
//! - **program order**: each step of a process precedes its next step (and its death);
//! - **spawn**: a `spawn` precedes the child's first step;
//! - **messages**: a `send` precedes the receive that took that message; a `send_after`
//!   precedes its timer's firing, which precedes the receive of the fired message;
//! - **exits**: a process's exit (or death by signal, or vanishing) precedes the `DOWN`/`EXIT`
//!   messages and the deaths it caused, and those precede their receives; an exit signal
//!   precedes the death or `EXIT` message it caused; setting up the monitor or link precedes
//!   the `DOWN`/`EXIT` delivery (and the linked death) that relies on it;
//! - **names**: the `register` in force precedes a `whereis`, `send` or `monitor` by name that
//!   resolved through it;
//! - **shared state**: two `Sync` operations on conflicting objects are ordered as in the trace.
//!   An object is `(table << 32) | key` (key 0 = the whole table); two accesses conflict when
//!   they are in the same table, one is a whole-table access or both name the same key, and at
//!   least one writes.
//!
//! Events between steps (deliveries after a process vanished, timer fires) become their own
//! nodes, so they link their causes to their effects without dragging in unrelated steps.
//! Messages a selective receive looked at but did not take are not dependencies.
//!
//! The slice is computed in one backward pass after one forward pass: linear in the trace
//! (with hash lookups), so it is cheap enough to compute for every failing run.

use crate::controller::Outcome;
use crate::ids::{MonitorId, MsgId, Name, ProcId, TimerId};
use crate::op::{Dest, DownItem, Message};
use crate::trace::{Event, EventKind, NetEvent};
use std::collections::HashMap;

/// What to slice back from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Point {
    /// A step, by its 1-based number.
    Step(u64),
    /// The last thing a process did: its death if it died, else its last step.
    End(ProcId),
}

/// The points a failure is about: the ending process for exceptions and crashes, every blocked
/// process for deadlocks and leftovers (and the root, which returned), the last step otherwise.
/// Empty for a completed run.
pub fn failure_points<P>(trace: &[Event<P>], outcome: &Outcome<P>) -> Vec<Point> {
    match outcome {
        Outcome::Completed => Vec::new(),
        Outcome::RootExit(_) => vec![Point::End(ProcId::ROOT)],
        Outcome::Crash { proc, .. } | Outcome::Killed { proc, .. } => vec![Point::End(*proc)],
        Outcome::Deadlock(blocked) => blocked.iter().map(|b| Point::End(b.proc)).collect(),
        Outcome::LeftBlocked(blocked) => std::iter::once(Point::End(ProcId::ROOT))
            .chain(blocked.iter().map(|b| Point::End(b.proc)))
            .collect(),
        Outcome::StepLimit { .. } | Outcome::Diverged(_) | Outcome::Aborted(_) => trace
            .iter()
            .filter(|e| e.proc.is_some())
            .map(|e| e.step)
            .max()
            .map(Point::Step)
            .into_iter()
            .collect(),
    }
}

/// Events a causal slice looks back over at most: the slice of a failure in a run of millions
/// of steps costs what it costs for the last `SLICE_WINDOW` events.
pub const SLICE_WINDOW: usize = 50_000;

/// [`causal_slice`] over the last [`SLICE_WINDOW`] events of `trace` (whole steps): causes
/// further back are left out.
pub fn causal_slice_bounded<P>(trace: &[Event<P>], points: &[Point]) -> Vec<u64> {
    causal_slice(
        &trace[crate::trace::tail_start(trace, SLICE_WINDOW)..],
        points,
    )
}

/// The steps (1-based, ascending) that happen before any of `points`, the points' own steps
/// included. Targets that name no step of the trace are ignored.
pub fn causal_slice<P>(trace: &[Event<P>], points: &[Point]) -> Vec<u64> {
    let graph = Graph::build(trace);
    let mut needed = vec![false; graph.nodes.len()];
    for t in points {
        let node = match t {
            Point::Step(s) => graph.step_node.get(s).copied(),
            Point::End(p) => graph.last_of.get(p).copied(),
        };
        if let Some(n) = node {
            needed[n] = true;
        }
    }
    let mut later = SyncUse::default();
    for n in (0..graph.nodes.len()).rev() {
        let node = &graph.nodes[n];
        if !needed[n] && node.syncs.iter().any(|s| later.conflicts(*s)) {
            needed[n] = true;
        }
        if needed[n] {
            for s in &node.syncs {
                later.add(*s);
            }
            for d in &node.deps {
                needed[*d] = true;
            }
        }
    }
    let mut steps: Vec<u64> = graph
        .nodes
        .iter()
        .zip(&needed)
        .filter_map(|(node, need)| node.step.filter(|_| *need))
        .collect();
    steps.sort_unstable();
    steps
}

/// A step, or an event between or inside steps that has causes and effects of its own (a
/// delivery, a death, a vanishing).
#[derive(Default)]
struct Node {
    /// The step number, for step nodes.
    step: Option<u64>,
    /// Earlier nodes this one depends on (always smaller indices).
    deps: Vec<usize>,
    /// Shared-state accesses: (object, write).
    syncs: Vec<(u64, bool)>,
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    step_node: HashMap<u64, usize>,
    /// The latest node of each process: its last step, or its death.
    last_of: HashMap<ProcId, usize>,
}

/// The forward pass's bookkeeping.
#[derive(Default)]
struct Builder {
    g: Graph,
    /// The step node whose effects are being recorded; `None` between steps.
    current: Option<usize>,
    current_proc: Option<ProcId>,
    /// Processes that died during the current step (their death nodes), in order.
    dying: Vec<(ProcId, usize)>,
    /// The target of the current step's exit signal, if it sent one.
    signalled: Option<ProcId>,
    spawned_by: HashMap<ProcId, usize>,
    producer: HashMap<MsgId, usize>,
    timer_set_by: HashMap<TimerId, usize>,
    monitor_by: HashMap<MonitorId, usize>,
    registered: HashMap<Name, (usize, ProcId)>,
    linked_by: HashMap<(ProcId, ProcId), usize>,
    death_of: HashMap<ProcId, usize>,
}

fn pair(a: ProcId, b: ProcId) -> (ProcId, ProcId) {
    (a.min(b), a.max(b))
}

impl Graph {
    fn build<P>(trace: &[Event<P>]) -> Graph {
        let mut b = Builder::default();
        for e in trace {
            b.event(e);
        }
        b.g
    }
}

impl Builder {
    fn node(&mut self, step: Option<u64>, deps: Vec<usize>) -> usize {
        self.g.nodes.push(Node {
            step,
            deps,
            syncs: Vec::new(),
        });
        self.g.nodes.len() - 1
    }

    fn dep(&mut self, node: usize, on: Option<usize>) {
        if let Some(d) = on.filter(|d| *d < node) {
            self.g.nodes[node].deps.push(d);
        }
    }

    /// The step node for `proc`'s event at `step`, created (with its program-order and spawn
    /// dependencies) on the step's first event.
    fn step_node(&mut self, step: u64, proc: ProcId) -> usize {
        if let Some(&n) = self.g.step_node.get(&step) {
            return n;
        }
        let prev = self.g.last_of.get(&proc).copied();
        let mut deps: Vec<usize> = prev.into_iter().collect();
        if prev.is_none() {
            deps.extend(self.spawned_by.get(&proc).copied());
        }
        let n = self.node(Some(step), deps);
        self.g.step_node.insert(step, n);
        self.g.last_of.insert(proc, n);
        self.current = Some(n);
        self.current_proc = Some(proc);
        self.dying.clear();
        self.signalled = None;
        n
    }

    /// A process's death, as a node of its own depending on its cause and its last step.
    fn died(&mut self, victim: ProcId, cause: Option<usize>) -> usize {
        let mut deps: Vec<usize> = self.g.last_of.get(&victim).copied().into_iter().collect();
        deps.extend(cause);
        let n = self.node(None, deps);
        self.g.last_of.insert(victim, n);
        self.death_of.insert(victim, n);
        self.dying.push((victim, n));
        self.registered.retain(|_, (_, p)| *p != victim);
        n
    }

    fn resolve_name(&self, name: &Name) -> Option<usize> {
        self.registered.get(name).map(|(n, _)| *n)
    }

    fn event<P>(&mut self, e: &Event<P>) {
        use EventKind as K;
        // Every step's first event names its process; later events of the same step may not.
        let at = match e.proc {
            Some(p) => Some(self.step_node(e.step, p)),
            None => self.current,
        };
        match &e.kind {
            K::Spawn { child, link } => {
                if let Some(n) = at {
                    self.spawned_by.insert(*child, n);
                    if let (true, Some(me)) = (*link, e.proc) {
                        self.linked_by.insert(pair(me, *child), n);
                    }
                }
            }
            K::Send { dest, to, id, .. } => {
                if let Some(n) = at {
                    if to.is_some() {
                        self.producer.insert(*id, n);
                    }
                    if let Dest::Name(name) = dest {
                        let reg = self.resolve_name(name);
                        self.dep(n, reg);
                    }
                }
            }
            K::Net(NetEvent::Sent { id, .. }) => {
                if let Some(n) = at {
                    self.producer.entry(*id).or_insert(n);
                }
            }
            K::Net(NetEvent::Arrived { id, .. }) if e.proc.is_none() => {
                // A channel's step: it follows the send it carries, and the receive follows it.
                let deps: Vec<usize> = self.producer.get(id).copied().into_iter().collect();
                let n = match self.g.step_node.get(&e.step) {
                    Some(&n) => n,
                    None => {
                        let n = self.node(Some(e.step), deps);
                        self.g.step_node.insert(e.step, n);
                        n
                    }
                };
                self.current = Some(n);
                self.current_proc = None;
                self.producer.insert(*id, n);
            }
            K::Receive { id, .. } => {
                if let Some(n) = at {
                    let from = self.producer.get(id).copied();
                    self.dep(n, from);
                }
            }
            K::SendAfter { timer, .. } => {
                if let Some(n) = at {
                    self.timer_set_by.insert(*timer, n);
                }
            }
            K::Monitor { monitor, target } => {
                if let Some(n) = at {
                    self.monitor_by.insert(*monitor, n);
                    if let Dest::Name(name) = target {
                        let reg = self.resolve_name(name);
                        self.dep(n, reg);
                    }
                }
            }
            K::Link { target } => {
                if let (Some(n), Some(me)) = (at, e.proc) {
                    self.linked_by.insert(pair(me, *target), n);
                }
            }
            K::Unlink { target } => {
                if let Some(me) = e.proc {
                    self.linked_by.remove(&pair(me, *target));
                }
            }
            K::Signal { target, .. } => self.signalled = Some(*target),
            K::Exit { .. } => {
                if let (Some(n), Some(me)) = (at, e.proc) {
                    self.death_of.insert(me, n);
                    self.dying.push((me, n));
                    self.registered.retain(|_, (_, p)| *p != me);
                }
            }
            K::Died { victim, .. } => {
                // Killed by this step's exit signal, or through a link to a process that died
                // earlier in the same step.
                let through_link = if self.signalled == Some(*victim) {
                    None
                } else {
                    self.dying.iter().rev().find_map(|(d, dn)| {
                        self.linked_by
                            .get(&pair(*d, *victim))
                            .map(|link| (*dn, *link))
                    })
                };
                let cause = through_link.map(|(dn, _)| dn).or(at);
                let n = self.died(*victim, cause);
                if let Some((_, link)) = through_link {
                    self.dep(n, Some(link));
                }
            }
            K::Vanished { victim } => {
                // Outside any step: later deliveries in this group are its effects.
                self.dying.clear();
                let n = self.died(*victim, None);
                self.current = Some(n);
                self.current_proc = None;
            }
            K::Deliver { to, id, msg } => {
                let (from, via) = match msg {
                    Message::Down { monitor, item, .. } => {
                        let from = match item {
                            DownItem::Proc(p) => Some(*p),
                            DownItem::Name(_) | DownItem::At { .. } => None,
                        };
                        (from, self.monitor_by.get(monitor).copied())
                    }
                    Message::Exit { from, .. } => {
                        let by_signal =
                            self.current_proc == Some(*from) && self.signalled == Some(*to);
                        let link = if by_signal {
                            None
                        } else {
                            self.linked_by.get(&pair(*from, *to)).copied()
                        };
                        (Some(*from), link)
                    }
                    Message::User(_) | Message::NodeDown { .. } => (None, None),
                };
                // The delivery follows the death that caused it (if it was in this group), or
                // else whatever this step or group did.
                let cause = from
                    .and_then(|f| self.dying.iter().rev().find(|(d, _)| *d == f))
                    .map(|(_, dn)| *dn)
                    .or(at);
                let n = self.node(None, cause.into_iter().collect());
                self.dep(n, via);
                // A DOWN or EXIT about a process that died earlier (`noproc`) follows its death.
                let death = from.and_then(|f| self.death_of.get(&f).copied());
                self.dep(n, death);
                self.producer.insert(*id, n);
            }
            K::Register { name, target } => {
                if let Some(n) = at {
                    self.registered.insert(name.clone(), (n, *target));
                }
            }
            K::Unregister { name } => {
                self.registered.remove(name);
            }
            K::Whereis {
                name,
                found: Some(_),
                ..
            } => {
                if let Some(n) = at {
                    let reg = self.resolve_name(name);
                    self.dep(n, reg);
                }
            }
            K::Sync { object, write, .. } => {
                if let Some(n) = at {
                    self.g.nodes[n].syncs.push((*object, *write));
                }
            }
            K::Clock { .. } | K::Deadline { .. } | K::TimerFired { .. } => {
                if let K::TimerFired {
                    timer,
                    id: Some(id),
                    ..
                } = &e.kind
                {
                    if let Some(&set) = self.timer_set_by.get(timer) {
                        self.producer.insert(*id, set);
                    }
                }
                // Between steps: nothing recorded from here on belongs to the last step.
                self.current = None;
                self.current_proc = None;
                self.dying.clear();
            }
            _ => {}
        }
    }
}

/// Shared-state accesses by nodes already known to be in the slice, per table.
#[derive(Default)]
struct SyncUse {
    tables: HashMap<u32, TableUse>,
}

#[derive(Default)]
struct TableUse {
    whole_read: bool,
    whole_write: bool,
    any_key_read: bool,
    any_key_write: bool,
    /// Per key: (read, written).
    keys: HashMap<u32, (bool, bool)>,
}

fn split(object: u64) -> (u32, u32) {
    ((object >> 32) as u32, object as u32)
}

impl SyncUse {
    fn add(&mut self, (object, write): (u64, bool)) {
        let (table, key) = split(object);
        let t = self.tables.entry(table).or_default();
        match (key, write) {
            (0, false) => t.whole_read = true,
            (0, true) => t.whole_write = true,
            (k, w) => {
                let e = t.keys.entry(k).or_default();
                if w {
                    e.1 = true;
                    t.any_key_write = true;
                } else {
                    e.0 = true;
                    t.any_key_read = true;
                }
            }
        }
    }

    /// Whether an access conflicts with one already recorded.
    fn conflicts(&self, (object, write): (u64, bool)) -> bool {
        let (table, key) = split(object);
        let Some(t) = self.tables.get(&table) else {
            return false;
        };
        let (read_here, written_here) = if key == 0 {
            (
                t.whole_read || t.any_key_read,
                t.whole_write || t.any_key_write,
            )
        } else {
            let (r, w) = t.keys.get(&key).copied().unwrap_or_default();
            (t.whole_read || r, t.whole_write || w)
        };
        written_here || (write && read_here)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(table: u32, key: u32) -> u64 {
        (u64::from(table) << 32) | u64::from(key)
    }

    fn sync(step: u64, proc: u32, object: u64, write: bool) -> Event<()> {
        Event {
            step,
            time: 0,
            proc: Some(ProcId(proc)),
            kind: EventKind::Sync {
                object,
                write,
                label: (),
                result: None,
            },
        }
    }

    #[test]
    fn conflicts_follow_tables_keys_and_writes() {
        let mut u = SyncUse::default();
        u.add((obj(1, 5), false));
        assert!(!u.conflicts((obj(1, 5), false)), "read after read");
        assert!(u.conflicts((obj(1, 5), true)), "write before a read");
        assert!(!u.conflicts((obj(1, 6), true)), "another key");
        assert!(u.conflicts((obj(1, 0), true)), "whole-table write");
        assert!(!u.conflicts((obj(1, 0), false)), "whole-table read");
        assert!(!u.conflicts((obj(2, 5), true)), "another table");
        u.add((obj(3, 0), true));
        assert!(
            u.conflicts((obj(3, 9), false)),
            "any key under a whole-table write"
        );
    }

    #[test]
    fn reads_do_not_order_each_other_but_writes_do() {
        // P1 writes k1, P2 reads k1, P3 reads k1, P4 writes k2; slice from P3's read.
        let trace = vec![
            sync(1, 1, obj(1, 1), true),
            sync(2, 2, obj(1, 1), false),
            sync(3, 4, obj(1, 2), true),
            sync(4, 3, obj(1, 1), false),
        ];
        assert_eq!(causal_slice(&trace, &[Point::Step(4)]), vec![1, 4]);
        // A whole-table write after them depends on every access to the table.
        let mut t2 = trace.clone();
        t2.push(sync(5, 5, obj(1, 0), true));
        assert_eq!(causal_slice(&t2, &[Point::Step(5)]), vec![1, 2, 3, 4, 5]);
        assert_eq!(causal_slice(&t2, &[Point::End(ProcId(4))]), vec![3]);
        assert!(causal_slice(&t2, &[Point::Step(99)]).is_empty());
    }
}

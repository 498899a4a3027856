//! The controller's cluster operations: spawning on nodes, routing between nodes through channel
//! processes, partitions and their net ticks, stopping and starting nodes, node monitors, the
//! global name space's views, and injected faults. The cluster's pure state lives in
//! [`crate::cluster`]; this module applies it to processes, mailboxes, monitors and links.

use super::{Controller, Termination, Timed};
use crate::cluster::{ClusterError, Mode, NodeId, MAX_NODES};
use crate::ids::{MsgId, Name, ProcId};
use crate::op::Op;
use crate::op::{ClusterOp, Dest, DownItem, Message, OpKind, Reason, Reply};
use crate::process::{Channel, Process, State, Transit, TransitTo};
use crate::seed::{self, SeedRng};
use crate::strategy::{Candidate, IterationInfo};
use crate::trace::{DropWhy, EventKind, NetEvent};
use std::collections::BTreeSet;

/// How many faults the controller may inject into a run: partitions (each isolates one node
/// from the other nodes of the cluster, and may heal later) and crashes (each stops one node,
/// which may come back later). The root's node is never touched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultBudget {
    pub partitions: u32,
    pub crashes: u32,
}

impl FaultBudget {
    pub fn is_empty(&self) -> bool {
        self.partitions == 0 && self.crashes == 0
    }
}

/// One injected fault. Its [`Fault::code`] makes the schedule's choice ([`ProcId::fault`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut the node off from every other node but the root's (mode `drop`, both ways).
    Isolate(NodeId),
    /// Heal the partition that isolated the node.
    Heal(NodeId),
    Stop(NodeId),
    Restart(NodeId),
}

impl Fault {
    pub fn code(self) -> u32 {
        let (kind, node) = match self {
            Fault::Isolate(n) => (0, n),
            Fault::Heal(n) => (1, n),
            Fault::Stop(n) => (2, n),
            Fault::Restart(n) => (3, n),
        };
        kind * MAX_NODES as u32 + u32::from(node.0)
    }

    pub fn decode(code: u32) -> Option<Fault> {
        let node = NodeId((code % MAX_NODES as u32) as u16);
        match code / MAX_NODES as u32 {
            0 => Some(Fault::Isolate(node)),
            1 => Some(Fault::Heal(node)),
            2 => Some(Fault::Stop(node)),
            3 => Some(Fault::Restart(node)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Planned {
    Isolate,
    Heal,
    Stop,
    Restart,
}

/// The injector's state within a run.
pub(crate) struct FaultState {
    budget: FaultBudget,
    used_partitions: u32,
    used_crashes: u32,
    /// The strategy picks faults itself (a replay); otherwise `plan` says when.
    offered: bool,
    /// (step, what), latest first (popped from the end).
    plan: Vec<(u64, Planned)>,
    rng: SeedRng,
    /// Nodes isolated by a fault, with the partition that isolates each.
    isolated: Vec<(NodeId, u32)>,
    /// Nodes stopped by a fault.
    stopped: Vec<NodeId>,
}

impl FaultState {
    pub(crate) fn new(budget: FaultBudget, info: &IterationInfo, offered: bool) -> Self {
        let mut rng = seed::rng(seed::mix64(info.seed ^ 0xFA17));
        let mut plan = Vec::new();
        if !offered {
            let span = info.expected_steps.max(20);
            let mut draw = |plan: &mut Vec<(u64, Planned)>, start: Planned, end: Planned| {
                let at = 1 + seed::below(&mut rng, span);
                let lasts = 1 + seed::below(&mut rng, span / 2 + 1);
                plan.push((at, start));
                plan.push((at + lasts, end));
            };
            for _ in 0..budget.partitions {
                draw(&mut plan, Planned::Isolate, Planned::Heal);
            }
            for _ in 0..budget.crashes {
                draw(&mut plan, Planned::Stop, Planned::Restart);
            }
            // Latest last, stable for equal steps so the order is the draw order.
            plan.sort_by_key(|&(at, _)| std::cmp::Reverse(at));
        }
        FaultState {
            budget,
            used_partitions: 0,
            used_crashes: 0,
            offered,
            plan,
            rng,
            isolated: Vec::new(),
            stopped: Vec::new(),
        }
    }
}

impl<P: Clone> Controller<P> {
    // ----- queries ------------------------------------------------------------------------

    /// The name of the node a process runs on (`None` for an unknown process).
    pub fn node_of(&self, proc: ProcId) -> Option<&Name> {
        self.procs
            .get(proc.index())
            .map(|p| self.cluster.name(p.node))
    }

    /// The simulated cluster (nodes and partitions).
    pub fn cluster(&self) -> &crate::cluster::Cluster {
        &self.cluster
    }

    /// For a channel process: the names of the nodes it carries traffic from and to.
    pub fn channel_of(&self, proc: ProcId) -> Option<(&Name, &Name)> {
        let c = self.procs.get(proc.index())?.channel.as_ref()?;
        Some((self.cluster.name(c.from), self.cluster.name(c.to)))
    }

    pub(super) fn whereis_on(&self, node: NodeId, name: &str) -> Option<ProcId> {
        self.names.get(node.index())?.get(name).copied()
    }

    /// The holder of a global name as `node` sees it: the first one on a node it is connected
    /// to.
    pub(super) fn global_holder(&self, node: NodeId, name: &str) -> Option<ProcId> {
        let holders = self.globals.get(name)?;
        holders
            .iter()
            .copied()
            .find(|h| self.cluster.connected(node, self.procs[h.index()].node))
    }

    pub(super) fn drop_global(&mut self, name: &Name, holder: ProcId) {
        if let Some(holders) = self.globals.get_mut(name) {
            holders.retain(|h| *h != holder);
            if holders.is_empty() {
                self.globals.remove(name);
            }
        }
        self.procs[holder.index()].globals.remove(name);
    }

    /// Whether `target` runs on another node than `proc`.
    pub(super) fn remote(&self, proc: ProcId, target: ProcId) -> bool {
        match self.procs.get(target.index()) {
            Some(t) => t.node != self.procs[proc.index()].node,
            None => false,
        }
    }

    /// Whether node `a` can reach node `b` for a monitor or a link: both up and connected.
    pub(super) fn reaches(&self, a: NodeId, b: NodeId) -> bool {
        self.cluster.connected(a, b)
    }

    // ----- spawning and sending -------------------------------------------------------------

    pub(super) fn spawn_on(
        &mut self,
        pick: ProcId,
        node: NodeId,
        link: bool,
        monitor: bool,
    ) -> Reply<P> {
        let me = Some(pick);
        let child = ProcId(self.procs.len() as u32);
        self.procs.push(Process::new(Some(pick), node));
        self.unbound += 1;
        if link {
            self.procs[pick.index()].links.insert(child);
            self.procs[child.index()].links.insert(pick);
        }
        self.strategy.on_spawn(child);
        self.record(me, EventKind::Spawn { child, link });
        if monitor {
            let m = self.add_monitor(pick, child, DownItem::Proc(child));
            self.record(
                me,
                EventKind::Monitor {
                    monitor: m,
                    target: Dest::Proc(child),
                },
            );
            Reply::SpawnedMonitored(child, m)
        } else {
            Reply::Spawned(child)
        }
    }

    /// `send(to, msg)`: instant within a node, through the pair's channel across nodes. A send
    /// to an unregistered local name fails; one to `{name, node}` never does.
    pub(super) fn send(&mut self, pick: ProcId, to: Dest, msg: P) -> Reply<P> {
        let here = self.procs[pick.index()].node;
        let (node, target) = match &to {
            Dest::Proc(p) => (Some(self.procs[p.index()].node), Some(TransitTo::Proc(*p))),
            Dest::Name(n) => match self.whereis_on(here, n) {
                Some(p) => (Some(here), Some(TransitTo::Proc(p))),
                None => return self.fail(pick, crate::op::OpError::Badarg),
            },
            Dest::At { name, node } => match self.cluster.lookup(node) {
                Some(n) if n == here => (Some(n), self.whereis_on(n, name).map(TransitTo::Proc)),
                Some(n) => (Some(n), Some(TransitTo::Name(name.clone()))),
                None => (None, None),
            },
        };
        let id = self.next_msg_id();
        // Within the node the message lands now; across nodes the channel takes it after the
        // send is recorded (the step's first event); otherwise it is lost, as on the BEAM.
        let (delivered, transit) = match (node, target) {
            (Some(n), Some(TransitTo::Proc(t))) if n == here => {
                let landed = self.push(t, id, Some(pick), Message::User(msg.clone()));
                (landed.then_some(t), None)
            }
            (Some(n), Some(t)) => {
                let reached = match &t {
                    TransitTo::Proc(p) => Some(*p),
                    TransitTo::Name(_) => None,
                };
                let item = Transit::Msg {
                    id,
                    from: Some(pick),
                    to: t,
                    msg: Message::User(msg.clone()),
                };
                (reached, Some((n, item)))
            }
            _ => (None, None),
        };
        let ev = EventKind::Send {
            dest: to,
            to: delivered,
            id,
            msg,
        };
        self.record(Some(pick), ev);
        if let Some((n, item)) = transit {
            self.transmit(here, n, item);
        }
        Reply::Ok
    }

    /// Deliver a runtime message from node `origin` to `to`: at once on the same node, through
    /// the channel otherwise. Returns the message's id.
    pub(super) fn route(
        &mut self,
        origin: NodeId,
        to: ProcId,
        from: Option<ProcId>,
        msg: Message<P>,
    ) -> Option<MsgId> {
        let dest = self.procs[to.index()].node;
        if dest == origin {
            return self.deliver(to, from, msg);
        }
        let id = self.next_msg_id();
        let item = Transit::Msg {
            id,
            from,
            to: TransitTo::Proc(to),
            msg,
        };
        self.transmit(origin, dest, item);
        Some(id)
    }

    /// Hand something to the channel from `a` to `b`, unless a down node or a `drop` partition
    /// loses it.
    pub(super) fn transmit(&mut self, a: NodeId, b: NodeId, item: Transit<P>) {
        let id = item.id();
        let lost = if !self.cluster.is_up(a) || !self.cluster.is_up(b) {
            Some(DropWhy::NodeDown)
        } else {
            match self.cluster.cut(a, b) {
                Some(p) if p.mode == Mode::Drop => Some(DropWhy::Partition(p.id)),
                _ => None,
            }
        };
        let (from, to) = (self.cluster.name(a).clone(), self.cluster.name(b).clone());
        if let Some(why) = lost {
            self.record(
                None,
                EventKind::Net(NetEvent::Dropped { id, from, to, why }),
            );
            return;
        }
        let held = self.cluster.cut(a, b).is_some();
        let chan = self.channel(a, b);
        let c = self.procs[chan.index()]
            .channel
            .as_mut()
            .expect("a channel process");
        c.held = held;
        c.queue.push_back(item);
        self.record(None, EventKind::Net(NetEvent::Sent { id, from, to, held }));
    }

    /// The channel process from `a` to `b`, made at first use.
    fn channel(&mut self, a: NodeId, b: NodeId) -> ProcId {
        if let Some(&c) = self.channels.get(&(a, b)) {
            return c;
        }
        let id = ProcId(self.procs.len() as u32);
        let mut p = Process::new(None, a);
        p.state = State::Waiting(Op::Deliver);
        p.channel = Some(Box::new(Channel {
            from: a,
            to: b,
            queue: Default::default(),
            held: false,
        }));
        self.procs.push(p);
        self.channels.insert((a, b), id);
        self.strategy.on_spawn(id);
        id
    }

    /// A channel's step: deliver the oldest thing it carries.
    pub(super) fn arrive(&mut self, chan: ProcId) {
        let Some(c) = self.procs[chan.index()].channel.as_mut() else {
            return;
        };
        let Some(item) = c.queue.pop_front() else {
            return;
        };
        let (a, b) = (c.from, c.to);
        self.land(a, b, item);
    }

    /// Apply something that arrived on node `b` from node `a`.
    fn land(&mut self, a: NodeId, b: NodeId, item: Transit<P>) {
        let (from_name, to_name) = (self.cluster.name(a).clone(), self.cluster.name(b).clone());
        match item {
            Transit::Msg { id, from, to, msg } => {
                let target = match to {
                    TransitTo::Proc(p) => Some(p),
                    TransitTo::Name(n) => self.whereis_on(b, &n),
                }
                .filter(|t| self.is_alive(*t));
                let Some(t) = target else {
                    let why = DropWhy::NoTarget;
                    let ev = NetEvent::Dropped {
                        id,
                        from: from_name,
                        to: to_name,
                        why,
                    };
                    self.record(None, EventKind::Net(ev));
                    return;
                };
                let user = matches!(msg, Message::User(_));
                let copy = (!user).then(|| msg.clone());
                if self.push(t, id, from, msg) {
                    let ev = NetEvent::Arrived {
                        id,
                        from: from_name,
                        to: to_name,
                        target: t,
                    };
                    self.record(None, EventKind::Net(ev));
                    if let Some(msg) = copy {
                        self.record(None, EventKind::Deliver { to: t, id, msg });
                    }
                }
            }
            Transit::Signal {
                id,
                from,
                target,
                reason,
                abnormal,
                link,
            } => {
                let ev = NetEvent::Arrived {
                    id,
                    from: from_name,
                    to: to_name,
                    target,
                };
                self.record(None, EventKind::Net(ev));
                if !self.is_alive(target) {
                    return;
                }
                if !link {
                    self.signal(from, target, reason, abnormal);
                } else if self.procs[target.index()].trap_exit {
                    let msg = Message::Exit { from, reason };
                    self.deliver(target, Some(from), msg);
                } else if !reason.is_normal() {
                    let how = Termination::Signal {
                        from,
                        link: true,
                        abnormal,
                    };
                    self.terminate(target, reason, how);
                }
            }
        }
    }

    // ----- cluster operations ---------------------------------------------------------------

    pub(super) fn cluster_op(&mut self, pick: ProcId, op: ClusterOp) -> Reply<P> {
        match self.try_cluster_op(pick, op) {
            Ok(reply) => reply,
            Err(e) => Reply::Refused(e.to_string()),
        }
    }

    fn try_cluster_op(&mut self, pick: ProcId, op: ClusterOp) -> Result<Reply<P>, ClusterError> {
        let here = self.procs[pick.index()].node;
        let net = |e| EventKind::Net(e);
        Ok(match op {
            ClusterOp::Spawn {
                node,
                link,
                monitor,
            } => {
                let n = self.cluster.resolve(&node)?;
                let reply = self.spawn_on(pick, n, link, monitor);
                if !self.cluster.is_up(n) {
                    // As on the BEAM: a pid that is dead at once, its link and monitor firing
                    // with `noconnection`.
                    let child = ProcId(self.procs.len() as u32 - 1);
                    self.procs[child.index()].state = State::Waiting(Op::Start);
                    self.unbound -= 1;
                    self.terminate(child, Reason::NoConnection, Termination::NodeDown);
                }
                reply
            }
            ClusterOp::StartNodes { names } => {
                for name in &names {
                    let n = self.cluster.add(name.clone())?;
                    if self.names.len() <= n.index() {
                        self.names.resize_with(n.index() + 1, Default::default);
                    }
                }
                self.record(Some(pick), net(NetEvent::NodesStarted { nodes: names }));
                Reply::Ok
            }
            ClusterOp::Partition {
                from,
                to,
                mode,
                one_way,
            } => {
                let from = self.node_set(&from)?;
                let to = self.node_set(&to)?;
                Reply::Partition(self.partition(Some(pick), from, to, mode, one_way, false)?)
            }
            ClusterOp::Heal { partition } => {
                self.heal(Some(pick), partition, false)?;
                Reply::Ok
            }
            ClusterOp::StopNode { node } => {
                let n = self.cluster.resolve(&node)?;
                if n == NodeId::ROOT {
                    return Err(ClusterError::RootNode);
                }
                if !self.cluster.is_up(n) {
                    return Err(ClusterError::NodeDown(node));
                }
                self.stop_node(Some(pick), n, false);
                Reply::Ok
            }
            ClusterOp::StartNode { node } => {
                let n = self.cluster.resolve(&node)?;
                if self.cluster.is_up(n) {
                    return Err(ClusterError::BadGroups(format!(
                        "node {node} is already up"
                    )));
                }
                self.start_node(Some(pick), n, false);
                Reply::Ok
            }
            ClusterOp::MonitorNode { node, on } => {
                let n = self.cluster.resolve(&node)?;
                self.record(
                    Some(pick),
                    net(NetEvent::MonitorNode {
                        node: node.clone(),
                        on,
                    }),
                );
                if !on {
                    if let Some(i) = self
                        .node_monitors
                        .iter()
                        .position(|&(w, o)| w == n && o == pick)
                    {
                        self.node_monitors.remove(i);
                    }
                } else if n != here && !self.cluster.connected(here, n) {
                    self.deliver(pick, None, Message::NodeDown { node });
                } else {
                    self.node_monitors.push((n, pick));
                }
                Reply::Bool(true)
            }
            ClusterOp::SetTicktime { ms } => {
                if ms == 0 {
                    return Err(ClusterError::BadGroups(
                        "the net tick time must be at least 1 ms".into(),
                    ));
                }
                self.cluster.ticktime = ms;
                self.record(Some(pick), net(NetEvent::Ticktime { ms }));
                Reply::Ok
            }
            ClusterOp::Nodes { all } => {
                let names: Vec<Name> = if all {
                    self.cluster
                        .nodes()
                        .iter()
                        .map(|n| n.name.clone())
                        .collect()
                } else {
                    self.cluster
                        .visible(here)
                        .into_iter()
                        .map(|n| self.cluster.name(n).clone())
                        .collect()
                };
                let count = names.len();
                self.record(Some(pick), net(NetEvent::Nodes { all, count }));
                Reply::Nodes(names)
            }
            ClusterOp::WhereisOn { name, node } => {
                let n = self.cluster.resolve(&node)?;
                if !self.cluster.is_up(n) {
                    return Err(ClusterError::NodeDown(node));
                }
                let found = self.whereis_on(n, &name);
                self.record(Some(pick), EventKind::Whereis { name, found });
                Reply::Whereis(found)
            }
        })
    }

    fn node_set(&self, names: &[Name]) -> Result<BTreeSet<NodeId>, ClusterError> {
        names.iter().map(|n| self.cluster.resolve(n)).collect()
    }

    fn partition(
        &mut self,
        by: Option<ProcId>,
        from: BTreeSet<NodeId>,
        to: BTreeSet<NodeId>,
        mode: Mode,
        one_way: bool,
        fault: bool,
    ) -> Result<u32, ClusterError> {
        let names = |c: &Self, s: &BTreeSet<NodeId>| -> Vec<Name> {
            s.iter().map(|n| c.cluster.name(*n).clone()).collect()
        };
        let (from_names, to_names) = (names(self, &from), names(self, &to));
        let id = self
            .cluster
            .partition(from, to, mode, one_way, self.now, fault)?;
        let ev = NetEvent::Partitioned {
            id,
            from: from_names,
            to: to_names,
            mode,
            one_way,
            fault,
        };
        self.record(by, EventKind::Net(ev));
        self.refresh_channels();
        let key = (
            self.now.saturating_add(self.cluster.ticktime),
            self.next_seq(),
        );
        self.timers.insert(key, Timed::Tick(id));
        self.ticks.insert(id, key);
        Ok(id)
    }

    /// Recompute which channels a partition holds; with `drop`, what a cut channel carries is
    /// lost (the connection broke).
    fn refresh_channels(&mut self) {
        let chans: Vec<ProcId> = self.channels.values().copied().collect();
        for chan in chans {
            let c = self.procs[chan.index()].channel.as_ref().expect("channel");
            let (a, b) = (c.from, c.to);
            let cut = self.cluster.cut(a, b).map(|p| (p.id, p.mode));
            let c = self.procs[chan.index()].channel.as_mut().expect("channel");
            c.held = cut.is_some();
            if let Some((pid, Mode::Drop)) = cut {
                let lost: Vec<MsgId> = c.queue.drain(..).map(|t| t.id()).collect();
                self.record_lost(a, b, lost, DropWhy::Partition(pid));
            }
        }
    }

    fn record_lost(&mut self, a: NodeId, b: NodeId, ids: Vec<MsgId>, why: DropWhy) {
        for id in ids {
            let ev = NetEvent::Dropped {
                id,
                from: self.cluster.name(a).clone(),
                to: self.cluster.name(b).clone(),
                why,
            };
            self.record(None, EventKind::Net(ev));
        }
    }

    fn heal(
        &mut self,
        by: Option<ProcId>,
        id: Option<u32>,
        fault: bool,
    ) -> Result<(), ClusterError> {
        let healed = self.cluster.heal(id)?;
        for p in &healed {
            if let Some(key) = self.ticks.remove(&p.id) {
                self.timers.remove(&key);
            }
        }
        let before: Vec<ProcId> = self
            .channels
            .values()
            .copied()
            .filter(|c| {
                self.procs[c.index()]
                    .channel
                    .as_ref()
                    .is_some_and(|c| c.held)
            })
            .collect();
        self.refresh_channels();
        let released: Vec<ProcId> = before
            .into_iter()
            .filter(|c| {
                self.procs[c.index()]
                    .channel
                    .as_ref()
                    .is_some_and(|c| !c.held)
            })
            .collect();
        let count: usize = released
            .iter()
            .map(|c| {
                self.procs[c.index()]
                    .channel
                    .as_ref()
                    .map_or(0, |c| c.queue.len())
            })
            .sum();
        let ev = NetEvent::Healed {
            ids: healed.iter().map(|p| p.id).collect(),
            released: count,
            fault,
        };
        self.record(by, EventKind::Net(ev));
        // Deferred traffic arrives at once, in send order across the released channels.
        loop {
            let next = released
                .iter()
                .filter_map(|&c| {
                    let ch = self.procs[c.index()].channel.as_ref()?;
                    ch.queue.front().map(|t| (t.id(), c))
                })
                .min();
            let Some((_, chan)) = next else { break };
            self.arrive(chan);
        }
        self.resolve_clashes();
        Ok(())
    }

    /// After a heal: a global name held on both sides keeps its first holder; the others are
    /// killed, as `:global`'s default resolution does.
    fn resolve_clashes(&mut self) {
        let clashing: Vec<Name> = self
            .globals
            .iter()
            .filter(|(_, h)| h.len() > 1)
            .map(|(n, _)| n.clone())
            .collect();
        for name in clashing {
            while let Some(holders) = self.globals.get(&name).cloned() {
                let pair = holders.iter().enumerate().find_map(|(i, &p)| {
                    holders[i + 1..]
                        .iter()
                        .copied()
                        .find(|&q| {
                            self.cluster
                                .connected(self.procs[p.index()].node, self.procs[q.index()].node)
                        })
                        .map(|q| (p, q))
                });
                let Some((kept, killed)) = pair else { break };
                self.drop_global(&name, killed);
                let ev = NetEvent::GlobalClash {
                    name: name.clone(),
                    kept,
                    killed,
                };
                self.record(None, EventKind::Net(ev));
                let how = Termination::Signal {
                    from: kept,
                    link: false,
                    abnormal: false,
                };
                self.terminate(killed, Reason::Killed, how);
            }
        }
    }

    /// A partition's net tick passed: the connection is down both ways; monitors, links and
    /// node monitors across it fire with `noconnection`.
    pub(super) fn detect(&mut self, id: u32) {
        let Some(p) = self.cluster.partition_mut(id) else {
            return;
        };
        p.detected = true;
        let part = p.clone();
        self.record(None, EventKind::Net(NetEvent::Detected { id }));
        self.refresh_channels();
        let node = |c: &Self, p: ProcId| c.procs[p.index()].node;
        let spanning: Vec<_> = self
            .monitors
            .iter()
            .filter(|(_, r)| part.separates(node(self, r.owner), node(self, r.target)))
            .map(|(m, r)| (*m, r.owner, r.item.clone()))
            .collect();
        for (m, owner, item) in spanning {
            self.drop_monitor(m);
            let down = Message::Down {
                monitor: m,
                item,
                reason: Reason::NoConnection,
            };
            self.deliver(owner, None, down);
        }
        let mut links = Vec::new();
        for (i, p) in self.procs.iter().enumerate() {
            for &l in &p.links {
                if i < l.index() && part.separates(p.node, node(self, l)) {
                    links.push((ProcId(i as u32), l));
                }
            }
        }
        for (a, b) in links {
            self.procs[a.index()].links.remove(&b);
            self.procs[b.index()].links.remove(&a);
            for (me, other) in [(a, b), (b, a)] {
                if !self.is_alive(me) {
                    continue;
                }
                if self.procs[me.index()].trap_exit {
                    let msg = Message::Exit {
                        from: other,
                        reason: Reason::NoConnection,
                    };
                    self.deliver(me, None, msg);
                } else {
                    let how = Termination::Signal {
                        from: other,
                        link: true,
                        abnormal: true,
                    };
                    self.terminate(me, Reason::NoConnection, how);
                }
            }
        }
        let fired: Vec<(NodeId, ProcId)> = self
            .node_monitors
            .iter()
            .copied()
            .filter(|&(w, o)| part.separates(node(self, o), w))
            .collect();
        self.node_monitors.retain(|m| !fired.contains(m));
        for (w, owner) in fired {
            let node = self.cluster.name(w).clone();
            self.deliver(owner, None, Message::NodeDown { node });
        }
    }

    fn stop_node(&mut self, by: Option<ProcId>, n: NodeId, fault: bool) {
        self.cluster.set_up(n, false);
        let name = self.cluster.name(n).clone();
        self.record(
            by,
            EventKind::Net(NetEvent::NodeStopped {
                node: name.clone(),
                fault,
            }),
        );
        // What travels to or from it is lost.
        let chans: Vec<(NodeId, NodeId, ProcId)> = self
            .channels
            .iter()
            .filter(|((a, b), _)| *a == n || *b == n)
            .map(|((a, b), c)| (*a, *b, *c))
            .collect();
        for (a, b, c) in chans {
            let lost: Vec<MsgId> = self.procs[c.index()]
                .channel
                .as_mut()
                .map(|c| c.queue.drain(..).map(|t| t.id()).collect())
                .unwrap_or_default();
            self.record_lost(a, b, lost, DropWhy::NodeDown);
        }
        // Its timers stop with it.
        let procs = &self.procs;
        let timers = &mut self.timers;
        self.timer_keys.retain(|_, key| {
            let ours = matches!(timers.get(key), Some(Timed::Msg { from, .. }) if procs[from.index()].node == n);
            if ours {
                timers.remove(key);
            }
            !ours
        });
        let victims: Vec<ProcId> = (0..self.procs.len())
            .map(|i| ProcId(i as u32))
            .filter(|p| {
                let p = &self.procs[p.index()];
                p.node == n && p.channel.is_none() && p.is_alive()
            })
            .collect();
        for v in victims {
            if matches!(self.procs[v.index()].state, State::Unbound) {
                self.procs[v.index()].state = State::Exited(Reason::Killed);
                self.unbound -= 1;
                continue;
            }
            self.terminate(v, Reason::Killed, Termination::NodeDown);
        }
        let fired: Vec<ProcId> = self
            .node_monitors
            .iter()
            .filter(|(w, _)| *w == n)
            .map(|(_, o)| *o)
            .collect();
        self.node_monitors
            .retain(|(w, o)| *w != n && self.procs[o.index()].node != n);
        for owner in fired {
            if self.is_alive(owner) {
                self.deliver(owner, None, Message::NodeDown { node: name.clone() });
            }
        }
    }

    fn start_node(&mut self, by: Option<ProcId>, n: NodeId, fault: bool) {
        self.cluster.set_up(n, true);
        self.names[n.index()].clear();
        let name = self.cluster.name(n).clone();
        self.record(
            by,
            EventKind::Net(NetEvent::NodeStarted { node: name, fault }),
        );
    }

    // ----- injected faults ------------------------------------------------------------------

    /// Nodes faults may touch: every node but the root's.
    fn fault_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        (1..self.cluster.nodes().len()).map(|i| NodeId(i as u16))
    }

    fn fault_possible(&self, f: Fault) -> bool {
        let s = &self.faults;
        let up = |n: NodeId| self.cluster.is_up(n);
        match f {
            Fault::Isolate(n) => {
                s.used_partitions < s.budget.partitions
                    && n.index() < self.cluster.nodes().len()
                    && n != NodeId::ROOT
                    && up(n)
                    && !s.isolated.iter().any(|(m, _)| *m == n)
            }
            Fault::Heal(n) => s.isolated.iter().any(|(m, _)| *m == n),
            Fault::Stop(n) => {
                s.used_crashes < s.budget.crashes
                    && n.index() < self.cluster.nodes().len()
                    && n != NodeId::ROOT
                    && up(n)
            }
            Fault::Restart(n) => s.stopped.contains(&n),
        }
    }

    /// With a strategy that picks faults (a replay), every fault possible now is a candidate.
    pub(super) fn offer_faults(&mut self) {
        if !self.faults.offered || self.faults.budget.is_empty() || !self.cluster.is_cluster() {
            return;
        }
        let nodes: Vec<NodeId> = self.fault_nodes().collect();
        for n in nodes {
            for f in [
                Fault::Isolate(n),
                Fault::Heal(n),
                Fault::Stop(n),
                Fault::Restart(n),
            ] {
                if self.fault_possible(f) {
                    self.enabled
                        .push(Candidate::new(ProcId::fault(f.code()), OpKind::Fault));
                }
            }
        }
    }

    /// The fault the seed's plan injects at this step, if one is due and possible (a due one
    /// that is not possible yet waits).
    pub(super) fn planned_fault(&mut self) -> Option<Fault> {
        if self.faults.offered || !self.cluster.is_cluster() {
            return None;
        }
        let &(at, what) = self.faults.plan.last()?;
        if at > self.step {
            return None;
        }
        let nodes: Vec<NodeId> = self.fault_nodes().collect();
        let options: Vec<Fault> = match what {
            Planned::Isolate => nodes.iter().map(|&n| Fault::Isolate(n)).collect(),
            Planned::Stop => nodes.iter().map(|&n| Fault::Stop(n)).collect(),
            Planned::Heal => self
                .faults
                .isolated
                .first()
                .map(|&(n, _)| Fault::Heal(n))
                .into_iter()
                .collect(),
            Planned::Restart => self
                .faults
                .stopped
                .first()
                .map(|&n| Fault::Restart(n))
                .into_iter()
                .collect(),
        };
        let possible: Vec<Fault> = options
            .into_iter()
            .filter(|&f| self.fault_possible(f))
            .collect();
        if possible.is_empty() {
            return None;
        }
        self.faults.plan.pop();
        let i = seed::below(&mut self.faults.rng, possible.len() as u64) as usize;
        Some(possible[i])
    }

    pub(super) fn inject(&mut self, f: Fault) {
        if !self.fault_possible(f) {
            return;
        }
        match f {
            Fault::Isolate(n) => {
                // Cut off from every other node, the root's included.
                let rest: BTreeSet<NodeId> = (0..self.cluster.nodes().len())
                    .map(|i| NodeId(i as u16))
                    .filter(|&m| m != n)
                    .collect();
                let one: BTreeSet<NodeId> = [n].into();
                if let Ok(id) = self.partition(None, one, rest, Mode::Drop, false, true) {
                    self.faults.used_partitions += 1;
                    self.faults.isolated.push((n, id));
                }
            }
            Fault::Heal(n) => {
                if let Some(i) = self.faults.isolated.iter().position(|(m, _)| *m == n) {
                    let (_, id) = self.faults.isolated.remove(i);
                    // The test may have healed it already.
                    let _ = self.heal(None, Some(id), true);
                }
            }
            Fault::Stop(n) => {
                self.faults.used_crashes += 1;
                self.faults.stopped.push(n);
                self.stop_node(None, n, true);
            }
            Fault::Restart(n) => {
                self.faults.stopped.retain(|m| *m != n);
                if !self.cluster.is_up(n) {
                    self.start_node(None, n, true);
                }
            }
        }
    }
}

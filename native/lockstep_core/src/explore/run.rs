//! One run under the explorer: the [`Exhaustive`] strategy replays the planned prefix, follows
//! the planned wakeup sequence, then picks the lowest enabled process outside the sleep set. It
//! records, per step, who ran, the step's footprint and what enabled it.

use super::footprint::{Footprint, Res};
use super::touch::Touch;
use super::WNode;
use crate::ids::{MonitorId, MsgId, ProcId, TimerId};
use crate::op::OpKind;
use crate::strategy::{Candidate, Decision, IterationInfo, PickError, Strategy};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What one step of a run did, as the explorer keeps it.
#[derive(Clone, Debug)]
pub(crate) struct StepRec {
    pub pick: ProcId,
    pub fp: Footprint,
    /// The processes enabled before the step.
    pub enabled: Vec<ProcId>,
    /// Steps one of which must precede this one for it to be enabled (`None`: always enabled
    /// once its process is at it).
    pub needs: Option<Vec<usize>>,
    /// For steps past the branch point: the sleep set and the wakeup branches left at the node.
    pub sleep: Vec<(ProcId, Footprint)>,
    pub wut: Vec<WNode>,
    /// Processes the step killed (their pending operations never ran).
    pub killed: Vec<ProcId>,
    /// What the step did to mailboxes, for telling which additions receives observed.
    pub obs: StepObs,
}

/// What one step did to mailboxes (see [`super::observe`]). Only facts of the step itself, so
/// that a step replayed in a later run keeps them.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepObs {
    /// The messages the step added, with the mailbox each went to.
    pub adds: Vec<(ProcId, MsgId)>,
    /// A selective receive's scan.
    pub scan: Option<ScanRec>,
    /// A plain receive took this message (it would have taken any).
    pub took_any: Option<MsgId>,
    /// `(x, y)`: the selective receive that took `x`, earlier, rejects `y`, which came later.
    pub later: Vec<(MsgId, MsgId)>,
    /// The explorer's model of a mailbox disagreed with the engine's (or the step reached the
    /// cluster, whose channels it does not model): the run is analysed without observers.
    pub inexact: bool,
}

/// A selective receive's scan step.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScanRec {
    /// It began the receive (a continuation scans from where the last scan ended).
    pub fresh: bool,
    /// The messages it was handed, oldest first.
    pub batch: Vec<MsgId>,
    /// The message it took, if any: the messages before it in `batch` were rejected.
    pub took: Option<MsgId>,
    /// Messages behind the one taken that the receive's pattern rejects.
    pub rejected: Vec<MsgId>,
}

/// The plan for the next run (see [`super::Explorer`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// Forced picks; the last one is the new branch.
    pub prefix: Vec<ProcId>,
    /// The sleep set at the branch node (the branch's own node, index `prefix.len() - 1`).
    pub sleep: Vec<(ProcId, Footprint)>,
    /// The wakeup tree below the branch, followed leftmost-first.
    pub subtree: Vec<WNode>,
}

#[derive(Default)]
pub(crate) struct RunState {
    pub plan: Plan,
    pub steps: Vec<StepRec>,
    pub diverged: bool,
    /// The run met a node where every enabled process slept.
    pub blocked: bool,
    /// Treat every step as global (time moves with every step).
    pub all_global: bool,
    path: Vec<WNode>,
    sleep: Vec<(ProcId, Footprint)>,
    links: Vec<(ProcId, ProcId)>,
    names: BTreeMap<u64, ProcId>,
    /// Each monitor set up in the run: its target and its owner.
    monitors: BTreeMap<MonitorId, (ProcId, ProcId)>,
    mailboxes: BTreeMap<ProcId, Vec<(MsgId, usize, Option<MonitorId>)>>,
    deadline_step: BTreeMap<ProcId, usize>,
    /// Timers armed to a name (resolved when they fire).
    by_name: Vec<TimerId>,
    /// Timers armed to a process id, by the process (its end drops them).
    timer_to: BTreeMap<TimerId, ProcId>,
    spawn_step: BTreeMap<ProcId, usize>,
    /// The messages each process's selective receives took, in order.
    selective_takes: BTreeMap<ProcId, Vec<MsgId>>,
    current: Option<Candidate>,
    /// The candidates of the latest decision.
    offered: Vec<Candidate>,
}

impl RunState {
    pub fn new(plan: Plan, all_global: bool) -> Self {
        RunState {
            path: plan.subtree.clone(),
            plan,
            all_global,
            ..RunState::default()
        }
    }

    fn exit_effects(&self, v: ProcId, fp: &mut Footprint) {
        fp.write(Res::Live(v));
        fp.write(Res::Mailbox(v));
        for &(a, b) in &self.links {
            let other = if a == v {
                b
            } else if b == v {
                a
            } else {
                continue;
            };
            fp.write(Res::Mailbox(other));
            fp.write(Res::Live(other));
        }
        // A monitored process's end puts a DOWN in its monitor's owner's mailbox, if the owner
        // is still alive then: written whether or not it is, as dependency may not depend on it.
        for &(t, owner) in self.monitors.values() {
            if t == v && owner != v {
                fp.write(Res::Mailbox(owner));
            }
        }
        let mut held = false;
        for (&h, &p) in &self.names {
            if p == v {
                fp.write(Res::Name(h));
                held = true;
            }
        }
        if held {
            fp.read(Res::Space(false));
            fp.read(Res::Space(true));
        }
    }

    fn release(&mut self, v: ProcId) {
        self.names.retain(|_, p| *p != v);
        self.mailboxes.remove(&v);
    }

    /// The footprint of `c`'s operation before any of its effects are known.
    fn base(&self, c: &Candidate) -> Footprint {
        let me = c.proc;
        let mut fp = Footprint::new(me);
        if self.all_global || c.fatal {
            fp.global = true;
            return fp;
        }
        let target = c.target;
        let name = c.name;
        let global_name = matches!(
            c.op,
            OpKind::GlobalRegister | OpKind::GlobalUnregister | OpKind::GlobalWhereis
        );
        if c.timed {
            // What a timed step does depends on whether its deadline passed; the submit that
            // follows it takes the deadline out of the queue.
            fp.read(Res::Wake(me));
            fp.write(Res::Timers);
        }
        match c.op {
            OpKind::Start => fp.read(Res::Proc(me)),
            OpKind::Spawn => fp.write(Res::Spawns),
            OpKind::Send => {
                if let Some(t) = target {
                    fp.write(Res::Queue(t));
                    fp.read(Res::Live(t));
                }
                // Every send through a name writes the name: two of them do not commute in a
                // state where the name is held (they fill one mailbox), so they are never
                // independent, whatever the name resolved to where they were seen.
                if let Some(n) = name {
                    fp.write(Res::Name(n));
                }
            }
            // A receive touches only the message it takes (see `touch`).
            OpKind::Recv | OpKind::RecvMatch => {}
            OpKind::Demonitor | OpKind::TrapExit => fp.write(Res::Mailbox(me)),
            // A sleep ends when its deadline fires (the step's `needs`); see `timed` above.
            OpKind::Sleep => {}
            // Arming reads the clock (the deadline is now + delay) and adds to the queue, where
            // its place among timers due at one time is its creation order. A timer to a dead
            // process is dropped at once.
            OpKind::SendAfter => {
                fp.read(Res::Clock);
                fp.write(Res::Timers);
                if let Some(t) = target {
                    fp.read(Res::Live(t));
                }
            }
            // Both reply with the time left.
            OpKind::CancelTimer => {
                fp.read(Res::Clock);
                fp.write(Res::Timers);
            }
            OpKind::ReadTimer => {
                fp.read(Res::Clock);
                fp.read(Res::Timers);
            }
            OpKind::Now | OpKind::SystemTime => fp.read(Res::Clock),
            // Racing timers: the clock jumps to the earliest timer and fires what is due (the
            // fires' effects come as touches).
            OpKind::Clock => {
                fp.write(Res::Clock);
                fp.write(Res::Timers);
            }
            OpKind::Monitor | OpKind::Link => {
                if let Some(t) = target {
                    fp.read(Res::Live(t));
                }
                if let Some(n) = name {
                    fp.read(Res::Name(n));
                }
                fp.write(Res::Mailbox(me));
            }
            OpKind::Unlink | OpKind::Alive => {
                if let Some(t) = target {
                    fp.read(Res::Live(t));
                }
            }
            OpKind::Signal => {
                if let Some(t) = target {
                    self.exit_effects(t, &mut fp);
                }
            }
            OpKind::Exit => self.exit_effects(me, &mut fp),
            OpKind::Register | OpKind::GlobalRegister => {
                if let Some(t) = target {
                    fp.read(Res::Live(t));
                }
                if let Some(n) = name {
                    fp.write(Res::Name(n));
                }
                fp.read(Res::Space(global_name));
            }
            OpKind::Unregister | OpKind::GlobalUnregister => {
                if let Some(n) = name {
                    fp.write(Res::Name(n));
                }
                fp.read(Res::Space(global_name));
            }
            OpKind::Whereis | OpKind::GlobalWhereis => {
                if let Some(t) = target {
                    fp.read(Res::Live(t));
                }
                if let Some(n) = name {
                    fp.read(Res::Name(n));
                }
            }
            OpKind::Registered => {
                fp.write(Res::Space(false));
                fp.write(Res::Space(true));
            }
            OpKind::Sync => match c.object {
                Some((o, w)) => fp.add(Res::Object(o), w),
                None => fp.global = true,
            },
            OpKind::Info | OpKind::Cluster | OpKind::Deliver | OpKind::Fault => fp.global = true,
        }
        fp
    }

    fn touch(&mut self, proc: Option<ProcId>, t: &Touch) {
        let Some(k) = self.steps.len().checked_sub(1) else {
            return;
        };
        let actor = proc.unwrap_or(self.steps[k].pick);
        let mut fp = std::mem::replace(&mut self.steps[k].fp, Footprint::new(ProcId::ROOT));
        match *t {
            Touch::Spawn { child, link } => {
                fp.write(Res::Proc(child));
                self.spawn_step.insert(child, k);
                if link {
                    self.links.push((actor, child));
                }
            }
            Touch::Monitor { monitor } => {
                let target = match self.current {
                    Some(c) if c.op == OpKind::Monitor => c.target,
                    // spawn_monitor: the child just spawned.
                    _ => self
                        .spawn_step
                        .iter()
                        .find(|(_, s)| **s == k)
                        .map(|(p, _)| *p),
                };
                if let Some(t) = target {
                    self.monitors.insert(monitor, (t, actor));
                }
            }
            Touch::Demonitor { monitor } => {
                if let Some((t, _)) = self.monitors.get(&monitor) {
                    fp.read(Res::Live(*t));
                }
            }
            Touch::Link { target } => {
                self.links.push((actor, target));
                fp.read(Res::Live(target));
            }
            Touch::Unlink { target } => {
                fp.read(Res::Live(target));
            }
            Touch::Added { to, id, down } => {
                fp.write(Res::Queue(to));
                fp.write(Res::Msg(id));
                self.mailboxes.entry(to).or_default().push((id, k, down));
                self.steps[k].obs.adds.push((to, id));
            }
            Touch::Received { id } => {
                fp.read(Res::Msg(id));
                let step = &mut self.steps[k];
                let obs = &mut step.obs;
                // A selective receive that took a message commutes with messages added behind
                // it: drop the mailbox read its scan put in.
                if matches!(self.current, Some(c) if c.op == OpKind::RecvMatch) {
                    fp.acc.retain(|&(r, w)| {
                        w || (r != Res::Mailbox(actor) && r != Res::Queue(actor))
                    });
                    match obs.scan.as_mut() {
                        Some(scan) => scan.took = Some(id),
                        None => obs.inexact = true,
                    }
                    self.selective_takes.entry(actor).or_default().push(id);
                } else {
                    obs.took_any = Some(id);
                }
                let mb = self.mailboxes.entry(actor).or_default();
                // What could have been taken instead: not the messages the scan rejected.
                // A message taken that the scan was not handed: the model lost track.
                let taken_at = obs
                    .scan
                    .as_ref()
                    .map(|scan| scan.batch.iter().position(|m| *m == id));
                match (taken_at, &obs.scan, &mut step.needs) {
                    (Some(None), _, _) => obs.inexact = true,
                    (Some(Some(pos)), Some(scan), Some(needs)) => {
                        let could =
                            |m: &MsgId| scan.batch[pos..].contains(m) && !scan.rejected.contains(m);
                        needs.clear();
                        needs.extend(mb.iter().filter(|m| could(&m.0)).map(|m| m.1));
                    }
                    _ => {}
                }
                // A receive with a timeout is enabled by its deadline too: it needs nothing.
                if self.steps[k].needs.is_none()
                    && matches!(self.current, Some(c) if c.op == OpKind::Recv && !c.timed)
                {
                    self.steps[k].needs = Some(mb.iter().map(|m| m.1).collect());
                }
                mb.retain(|m| m.0 != id);
            }
            Touch::Scan { base, count, first } => {
                // A scan that matches nothing, with a deadline, depends on every message
                // there: one more, added before it, might have matched before the deadline.
                // Without one, on the order of the messages added (see `super::observe`).
                let timed = matches!(self.current, Some(c) if c.timed);
                fp.read(if timed {
                    Res::Mailbox(actor)
                } else {
                    Res::Queue(actor)
                });
                let mb = self.mailboxes.entry(actor).or_default();
                let obs = &mut self.steps[k].obs;
                if mb.get(base).map(|m| m.0) != Some(first) || mb.len() != base + count {
                    obs.inexact = true;
                }
                obs.scan = Some(ScanRec {
                    fresh: base == 0,
                    batch: mb.iter().skip(base).map(|m| m.0).collect(),
                    ..ScanRec::default()
                });
                if count > 0 && !timed {
                    let needs = mb.iter().skip(base).map(|m| m.1).collect();
                    self.steps[k].needs = Some(needs);
                }
            }
            Touch::Rejected { id } => match self.steps[k].obs.scan.as_mut() {
                Some(scan) => scan.rejected.push(id),
                None => self.steps[k].obs.inexact = true,
            },
            Touch::RejectedEarlier { back, id } => {
                let takes = self.selective_takes.get(&actor).map_or(&[][..], |t| &t[..]);
                match takes.len().checked_sub(back + 1).map(|i| takes[i]) {
                    Some(x) => self.steps[k].obs.later.push((x, id)),
                    None => self.steps[k].obs.inexact = true,
                }
            }
            Touch::Dropped { id } => {
                if let Some(mb) = self.mailboxes.get_mut(&actor) {
                    mb.retain(|m| m.0 != id);
                }
            }
            Touch::Timeout => {
                // A receive that timed out would have taken a message added before it.
                if matches!(self.current, Some(c) if matches!(c.op, OpKind::Recv | OpKind::RecvMatch))
                {
                    fp.read(Res::Mailbox(actor));
                }
                if let Some(s) = self.deadline_step.remove(&actor) {
                    self.steps[k].needs = Some(vec![s]);
                }
            }
            Touch::Died { victim } => {
                self.steps[k].killed.push(victim);
                // The victim's pending operation never runs: the death is dependent with
                // whatever it would have done.
                if let Some(c) = self.offered.iter().find(|c| c.proc == victim).copied() {
                    let theirs = self.base(&c);
                    fp.global |= theirs.global;
                    for (r, w) in theirs.acc {
                        fp.add(r, w);
                    }
                }
                self.exit_effects(victim, &mut fp);
                self.release(victim);
            }
            Touch::Exit => self.release(actor),
            Touch::Named { name, target } => {
                self.names.insert(name, target);
            }
            Touch::Unnamed { name } => {
                self.names.remove(&name);
            }
            Touch::TimerFired { timer, to, id } => {
                // Like a send from outside every process: the timer leaves the queue and its
                // message joins the mailbox. One to a name resolved the name where it fired.
                fp.write(Res::Timers);
                if self.by_name.contains(&timer) {
                    fp.global = true;
                }
                match to {
                    Some(to) => {
                        fp.read(Res::Live(to));
                        fp.write(Res::Queue(to));
                        if let Some(id) = id {
                            fp.write(Res::Msg(id));
                            self.mailboxes.entry(to).or_default().push((id, k, None));
                            self.steps[k].obs.adds.push((to, id));
                        }
                    }
                    None => fp.global = true,
                }
            }
            Touch::Armed { timer, by_pid } => {
                if !by_pid {
                    self.by_name.push(timer);
                } else if let Some(t) = self.current.and_then(|c| c.target) {
                    self.timer_to.insert(timer, t);
                }
            }
            Touch::TimerRead { timer } => {
                // The timer is gone once its process has ended.
                if let Some(&t) = self.timer_to.get(&timer) {
                    fp.read(Res::Live(t));
                }
            }
            Touch::DeadlineArmed => {
                fp.read(Res::Clock);
                fp.write(Res::Timers);
            }
            Touch::Deadline { of } => {
                fp.write(Res::Timers);
                fp.write(Res::Wake(of));
                self.deadline_step.insert(of, k);
            }
            Touch::Clock => {
                fp.write(Res::Clock);
                fp.write(Res::Timers);
            }
            Touch::Net => {
                fp.global = true;
                self.steps[k].obs.inexact = true;
            }
            Touch::Tick => fp.global = true,
            Touch::Other => {}
        }
        self.steps[k].fp = fp;
    }

    fn pick(&mut self, d: &Decision<'_>) -> Result<ProcId, PickError> {
        let k = d.step as usize;
        let enabled: Vec<ProcId> = d.enabled.iter().map(|c| c.proc).collect();
        let branch = self.plan.prefix.len();
        // The sleep set of this node, for nodes past the branch.
        if k == branch && k > 0 {
            self.sleep = std::mem::take(&mut self.plan.sleep);
            self.filter_sleep(k - 1);
        } else if k > branch {
            self.filter_sleep(k - 1);
        }
        let mut wut = Vec::new();
        let pick = if k < branch {
            let want = self.plan.prefix[k];
            if !enabled.contains(&want) {
                self.diverged = true;
                return Err(PickError::Diverged {
                    step: d.step + 1,
                    expected: want,
                    enabled,
                });
            }
            want
        } else {
            let asleep = |p: ProcId, s: &[(ProcId, Footprint)]| s.iter().any(|(q, _)| *q == p);
            let mut chosen = None;
            let path = std::mem::take(&mut self.path);
            let mut rest = path.into_iter();
            for c in rest.by_ref() {
                if enabled.contains(&c.proc) && !asleep(c.proc, &self.sleep) {
                    chosen = Some(c);
                    break;
                }
            }
            match chosen {
                Some(c) => {
                    wut = rest.collect();
                    self.path = c.children;
                    c.proc
                }
                None => match enabled.iter().find(|p| !asleep(**p, &self.sleep)) {
                    Some(p) => *p,
                    None => {
                        self.blocked = true;
                        enabled[0]
                    }
                },
            }
        };
        let cand = d
            .enabled
            .iter()
            .find(|c| c.proc == pick)
            .copied()
            .unwrap_or_else(|| Candidate::new(pick, OpKind::Start));
        let fp = self.base(&cand);
        self.current = Some(cand);
        self.offered.clear();
        self.offered.extend_from_slice(d.enabled);
        let sleep = if k >= branch {
            self.sleep.clone()
        } else {
            Vec::new()
        };
        self.steps.push(StepRec {
            pick,
            fp,
            enabled,
            needs: if cand.op == OpKind::Start {
                self.spawn_step.get(&pick).map(|s| vec![*s])
            } else {
                None
            },
            sleep,
            wut,
            killed: Vec::new(),
            obs: StepObs::default(),
        });
        Ok(pick)
    }

    /// Keep the sleepers independent of step `k`.
    fn filter_sleep(&mut self, k: usize) {
        let fp = &self.steps[k].fp;
        self.sleep.retain(|(_, q)| !fp.dependent(q));
    }
}

/// The strategy of an explored run (build it with [`super::Explorer::next_run`]).
pub struct Exhaustive {
    pub(crate) state: Arc<Mutex<RunState>>,
}

impl Exhaustive {
    fn with<R>(&self, f: impl FnOnce(&mut RunState) -> R) -> R {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

impl Strategy for Exhaustive {
    fn name(&self) -> &'static str {
        "exhaustive"
    }

    fn begin(&mut self, _info: &IterationInfo) {}

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        self.with(|s| s.pick(decision))
    }

    fn picks_faults(&self) -> bool {
        true
    }

    fn wants_events(&self) -> bool {
        true
    }

    fn on_event(&mut self, proc: Option<ProcId>, touch: &Touch) {
        self.with(|s| s.touch(proc, touch))
    }
}

//! Exhaustive exploration with optimal dynamic partial-order reduction (Abdulla, Aronis,
//! Jonsson, Sagonas, "Optimal Dynamic Partial Order Reduction", POPL 2014).
//!
//! Two schedules are *equivalent* when one is obtained from the other by swapping adjacent
//! independent steps: they reach the same state. The explorer runs the program once per
//! equivalence class (Mazurkiewicz trace) of its complete schedules. It works across runs:
//!
//! 1. a run is planned: a prefix of choices to replay, then a *wakeup sequence* to follow, then
//!    the lowest enabled process that is not in the node's *sleep set*;
//! 2. during the run, the [`Exhaustive`] strategy records each step's [`Footprint`], built from
//!    the picked operation (targets and names resolved as executing resolves them) and from
//!    what the controller reports it did ([`Touch`]: mailboxes filled, deaths, timers fired);
//! 3. after the run ([`Explorer::finish_run`]), each *race* (two dependent steps of different
//!    processes, the first happening immediately before the second, the second not enabled by
//!    the first) is reversed: the steps after the first that do not happen after it, then the
//!    second's process, form a sequence inserted into the wakeup tree of the first's node,
//!    unless a sleeping process or an existing branch already covers it;
//! 4. the deepest node with a wakeup branch left is the next branch point; the process explored
//!    there goes to its sleep set.
//!
//! Two additions to one mailbox are dependent in a run's analysis only where one of the run's
//! receives told their order apart (observers, after Aronis et al., TACAS 2018; see
//! [`observe`]): a selective receive that rejects a message does not see its place in the
//! queue. Sleep sets and wakeup trees compare steps of different runs and keep every two
//! additions to one mailbox dependent, which may cost a redundant run, never a missed one.
//!
//! Dependency is conservative where the engine cannot say more: steps that touch the cluster
//! or read `process_info` are dependent with everything, as are all spawns with each other
//! (ids go in spawn order). Virtual time is a clock and a timer queue (see [`Footprint`]):
//! steps that neither read the time nor touch a timer commute with the clock's jumps. With
//! racing timers the clock's step can be taken away by a step independent of the steps
//! around it, so two rules keep the exploration complete: where a step that moves the clock or
//! changes the queue passed the clock over, the clock gets a branch at that node; and a race
//! reversed against a clock step ends its wakeup sequence with that step, so that a sleeper
//! or branch that would cancel it does not stand for the reversal. Where a reversal turns out
//! impossible (a wakeup step whose process is not enabled), the run carries on from the next
//! enabled branch: the explored runs may then include a redundant one, never fewer.

mod footprint;
mod observe;
mod run;
mod touch;

pub use footprint::Footprint;
pub use run::Exhaustive;
pub use touch::Touch;

use crate::ids::ProcId;
use observe::{Observers, Relation};
use run::{Plan, RunState, StepRec};
use std::sync::{Arc, Mutex};

/// A node of a wakeup tree: a process, the footprint of the step it will take, what follows.
#[derive(Clone, Debug)]
pub struct WNode {
    pub proc: ProcId,
    pub fp: Footprint,
    pub children: Vec<WNode>,
}

/// Explorer settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExploreConfig {
    /// Stop after this many runs (`None`: until every class is explored).
    pub max_schedules: Option<u64>,
    /// Treat every step as dependent with every other (no reduction): for runs where the
    /// clock moves with every step, and to count all interleavings.
    pub no_reduction: bool,
    /// Take every two additions to one mailbox as dependent, whatever the receives observed
    /// (see [`observe`]): to measure what observers save.
    pub no_observers: bool,
}

/// Where an exploration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// More runs to go; `schedules` explored so far.
    Running { schedules: u64 },
    /// Every behaviour explored, in `schedules` runs.
    Done { schedules: u64 },
    /// The budget ran out after `schedules` runs.
    Budget { schedules: u64 },
}

/// What went wrong between runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExploreError {
    /// The program did not follow a replayed prefix: it is not deterministic under its schedule.
    Diverged { step: usize },
    /// `finish_run` without a run under way, or `next_run` while one is.
    Protocol(&'static str),
}

impl std::fmt::Display for ExploreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExploreError::Diverged { step } => write!(
                f,
                "the program diverged from a replayed schedule at step {step}: \
                 it does not behave the same under the same schedule"
            ),
            ExploreError::Protocol(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for ExploreError {}

/// A node of the exploration: one step of the current run, the state before it.
#[derive(Clone, Debug)]
struct Node {
    step: StepRec,
}

/// The exploration across runs (see the module docs).
pub struct Explorer {
    config: ExploreConfig,
    stack: Vec<Node>,
    plan: Option<Plan>,
    current: Option<Arc<Mutex<RunState>>>,
    /// Index of the branch node of the run under way.
    branch: Option<usize>,
    schedules: u64,
    blocked: u64,
    status: Status,
}

impl Explorer {
    pub fn new(config: ExploreConfig) -> Self {
        Explorer {
            config,
            stack: Vec::new(),
            plan: Some(Plan::default()),
            current: None,
            branch: None,
            schedules: 0,
            blocked: 0,
            status: Status::Running { schedules: 0 },
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Runs explored so far.
    pub fn schedules(&self) -> u64 {
        self.schedules
    }

    /// Runs that met a node where every enabled process slept (0 for optimal exploration).
    pub fn sleep_blocked(&self) -> u64 {
        self.blocked
    }

    /// The strategy for the next run, or `None` once the exploration is over.
    pub fn next_run(&mut self) -> Result<Option<Box<dyn crate::strategy::Strategy>>, ExploreError> {
        if self.current.is_some() {
            return Err(ExploreError::Protocol("a run is already under way"));
        }
        if !matches!(self.status, Status::Running { .. }) {
            return Ok(None);
        }
        let Some(plan) = self.plan.take() else {
            return Ok(None);
        };
        self.branch = plan.prefix.len().checked_sub(1);
        let state = Arc::new(Mutex::new(RunState::new(plan, self.config.no_reduction)));
        self.current = Some(state.clone());
        Ok(Some(Box::new(Exhaustive { state })))
    }

    /// The run under way ended; `failed` when it ended at its last step with a failure (a
    /// crash or abnormal root exit), which cuts off every other process.
    pub fn finish_run(&mut self, failed: bool) -> Result<Status, ExploreError> {
        let Some(state) = self.current.take() else {
            return Err(ExploreError::Protocol("no run is under way"));
        };
        let run = match Arc::try_unwrap(state) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(shared) => {
                let mut g = shared.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::take(&mut *g)
            }
        };
        if run.diverged {
            let step = run.steps.len();
            self.status = Status::Running {
                schedules: self.schedules,
            };
            return Err(ExploreError::Diverged { step });
        }
        self.schedules += 1;
        if run.blocked {
            self.blocked += 1;
        }
        let mut steps = run.steps;
        if failed {
            if let Some(last) = steps.last_mut() {
                last.fp.global = true;
            }
        }
        self.merge(steps);
        if failed {
            self.cut_off();
        }
        self.killed_pending();
        self.clock_pending();
        self.analyse();
        self.plan = self.backtrack();
        self.status = match (&self.plan, self.config.max_schedules) {
            (None, _) => Status::Done {
                schedules: self.schedules,
            },
            (Some(_), Some(max)) if self.schedules >= max => Status::Budget {
                schedules: self.schedules,
            },
            _ => Status::Running {
                schedules: self.schedules,
            },
        };
        Ok(self.status)
    }

    /// Take the run's steps into the stack: nodes before the branch stay as they are; the
    /// branch node takes its new step; nodes past it are new.
    fn merge(&mut self, steps: Vec<StepRec>) {
        let keep = self.branch.unwrap_or(0);
        self.stack
            .truncate(keep + usize::from(self.branch.is_some()));
        for (k, s) in steps.into_iter().enumerate() {
            if k < keep {
                continue;
            }
            if Some(k) == self.branch {
                let node = &mut self.stack[k].step;
                node.pick = s.pick;
                node.fp = s.fp;
                node.needs = s.needs;
                node.killed = s.killed;
                node.obs = s.obs;
                continue;
            }
            self.stack.push(Node { step: s });
        }
    }

    /// Find the races of the run just merged and insert their reversals.
    fn analyse(&mut self) {
        let n = self.stack.len();
        let mut slots: Vec<ProcId> = Vec::new();
        let slot_of = |slots: &mut Vec<ProcId>, p: ProcId| match slots.iter().position(|q| *q == p)
        {
            Some(i) => i,
            None => {
                slots.push(p);
                slots.len() - 1
            }
        };
        let procs: Vec<usize> = (0..n)
            .map(|j| slot_of(&mut slots, self.stack[j].step.pick))
            .collect();
        let width = slots.len();
        let mut pos = vec![0u32; n];
        let mut count = vec![0u32; width];
        let mut prev = vec![None; n];
        let mut last: Vec<Option<usize>> = vec![None; width];
        let mut vc: Vec<Vec<u32>> = Vec::with_capacity(n);
        let mut direct: Vec<Vec<usize>> = Vec::with_capacity(n);
        let mut ordered: Vec<Vec<usize>> = Vec::with_capacity(n);
        // Per step, the part of its clock its process's next step inherits.
        let mut passed: Vec<Vec<u32>> = Vec::with_capacity(n);
        let steps: Vec<&StepRec> = self.stack.iter().map(|node| &node.step).collect();
        let observers = if self.config.no_observers {
            None
        } else {
            Observers::of(&steps)
        };
        for j in 0..n {
            let p = procs[j];
            count[p] += 1;
            pos[j] = count[p];
            prev[j] = last[p];
            last[p] = Some(j);
            // What the process's next step inherits leaves out what this one only needed to
            // be enabled (`Ordered`): a scan that took nothing holds nothing up.
            let mut inherited = match prev[j] {
                Some(q) => passed[q].clone(),
                None => vec![0; width],
            };
            let mut clock = inherited.clone();
            let (mut d, mut o) = (Vec::new(), Vec::new());
            // Latest first: a step already known to happen before this one (through a later
            // dependency or the process's previous step) adds nothing to its clock, and is in
            // no race with it (see `through_prev` and `through_other` below).
            for i in (0..j).rev() {
                if procs[i] == p || inherited[procs[i]] >= pos[i] {
                    continue;
                }
                let rel = match &observers {
                    Some(obs) => obs.relation(steps[i], steps[j]),
                    None if steps[i].fp.dependent(&steps[j].fp) => Relation::Dependent,
                    None => Relation::Independent,
                };
                match rel {
                    Relation::Independent => continue,
                    Relation::Dependent => {
                        d.push(i);
                        for (c, x) in inherited.iter_mut().zip(&vc[i]) {
                            *c = (*c).max(*x);
                        }
                    }
                    Relation::Ordered => o.push(i),
                }
                for (c, x) in clock.iter_mut().zip(&vc[i]) {
                    *c = (*c).max(*x);
                }
            }
            clock[p] = pos[j];
            inherited[p] = pos[j];
            vc.push(clock);
            passed.push(inherited);
            // In step order, as the races are reversed in.
            d.reverse();
            o.reverse();
            direct.push(d);
            ordered.push(o);
        }
        let hb = |i: usize, k: usize| vc[k][procs[i]] >= pos[i];
        let mut races = Vec::new();
        for j in 0..n {
            for &i in &direct[j] {
                let through_prev = prev[j].is_some_and(|q| q > i && passed[q][procs[i]] >= pos[i]);
                let through_other = direct[j]
                    .iter()
                    .chain(&ordered[j])
                    .any(|&k| k > i && hb(i, k));
                if through_prev || through_other {
                    continue;
                }
                let reversible = match &self.stack[j].step.needs {
                    None => true,
                    Some(needs) => needs.iter().any(|&k| k != i && (k < i || !hb(i, k))),
                };
                if reversible {
                    races.push((i, j));
                }
            }
        }
        // Where each killed process was last killed (see `doomed` below).
        let mut last_killed: Vec<(ProcId, usize)> = Vec::new();
        for (k, node) in self.stack.iter().enumerate() {
            for &v in &node.step.killed {
                match last_killed.iter_mut().find(|(p, _)| *p == v) {
                    Some(slot) => slot.1 = k,
                    None => last_killed.push((v, k)),
                }
            }
        }
        for (i, j) in races {
            let mut v: Vec<Footprint> = (i + 1..n)
                .filter(|&k| !hb(i, k))
                .map(|k| self.stack[k].step.fp.clone())
                .collect();
            v.push(self.stack[j].step.fp.clone());
            // Racing timers: the clock's step is not persistent (a cancel, independent of the
            // steps of `v`, can take it away), so a sleeper or a branch that covers `v` alone
            // need not reverse the race. The clock's step goes at the end of the sequence.
            if self.stack[i].step.pick == ProcId::CLOCK {
                v.push(self.stack[i].step.fp.clone());
            }
            // A process killed later in this run never took the step it was waiting at: it
            // cannot stand for a sequence it has no step in (its step may never come).
            let doomed: Vec<ProcId> = last_killed
                .iter()
                .filter(|(_, k)| *k >= i)
                .map(|(p, _)| *p)
                .collect();
            let node = &mut self.stack[i].step;
            let covered = node
                .sleep
                .iter()
                .any(|(q, fp)| weak_initial(*q, fp, &v, &doomed).is_some());
            if !covered {
                insert(&mut node.wut, v, &doomed, &node.enabled);
            }
        }
    }

    /// The last step ended the run: the processes that could have gone instead never took a
    /// step, so no race names them. Each gets a branch of its own at the last node.
    fn cut_off(&mut self) {
        let Some(node) = self.stack.last_mut() else {
            return;
        };
        let s = &mut node.step;
        for &q in &s.enabled {
            if q == s.pick || s.sleep.iter().any(|(p, _)| *p == q) {
                continue;
            }
            let mut fp = Footprint::new(q);
            fp.global = true;
            insert(&mut s.wut, vec![fp], &[], &s.enabled);
        }
    }

    /// A step that killed a process with an enabled operation disabled that operation, which
    /// never ran and so is in no race: the victim gets a branch of its own at that node.
    fn killed_pending(&mut self) {
        let from = self.branch.unwrap_or(0);
        for node in &mut self.stack[from..] {
            let s = &mut node.step;
            for &v in &s.killed {
                if v == s.pick || !s.enabled.contains(&v) || s.sleep.iter().any(|(p, _)| *p == v) {
                    continue;
                }
                let mut fp = Footprint::new(v);
                fp.global = true;
                insert(&mut s.wut, vec![fp], &[], &s.enabled);
            }
        }
    }

    /// Racing timers: the clock is a choice while a timer is pending, and a step that moves
    /// the clock or changes the queue (arming, cancelling, a deadline taken out, a death,
    /// which drops the timers addressed to the process) may take that choice away or change
    /// what it fires, while the clock's own step may never come in the run. Where the clock
    /// was passed over for such a step, it gets a branch of its own at that node.
    fn clock_pending(&mut self) {
        let from = self.branch.unwrap_or(0);
        for node in &mut self.stack[from..] {
            let s = &mut node.step;
            if s.pick == ProcId::CLOCK
                || !s.enabled.contains(&ProcId::CLOCK)
                || s.sleep.iter().any(|(p, _)| *p == ProcId::CLOCK)
            {
                continue;
            }
            let moves = s.fp.global
                || s.fp.acc.iter().any(|&(r, w)| {
                    w && matches!(
                        r,
                        footprint::Res::Clock | footprint::Res::Timers | footprint::Res::Live(_)
                    )
                });
            if moves {
                let mut fp = Footprint::new(ProcId::CLOCK);
                fp.global = true;
                insert(&mut s.wut, vec![fp], &[], &s.enabled);
            }
        }
    }

    /// Pop finished nodes; at the deepest node with a wakeup branch left, plan that branch.
    fn backtrack(&mut self) -> Option<Plan> {
        while let Some(node) = self.stack.last_mut() {
            let s = &mut node.step;
            let explored = (s.pick, s.fp.clone());
            if !s.sleep.iter().any(|(q, _)| *q == s.pick) {
                s.sleep.push(explored);
            }
            while !s.wut.is_empty() {
                let c = s.wut.remove(0);
                let asleep = s.sleep.iter().any(|(q, _)| *q == c.proc);
                if asleep || !s.enabled.contains(&c.proc) {
                    continue;
                }
                s.pick = c.proc;
                s.fp = c.fp.clone();
                let k = self.stack.len() - 1;
                let mut prefix: Vec<ProcId> = self.stack[..k].iter().map(|n| n.step.pick).collect();
                prefix.push(c.proc);
                return Some(Plan {
                    prefix,
                    sleep: self.stack[k].step.sleep.clone(),
                    subtree: c.children,
                });
            }
            self.stack.pop();
        }
        None
    }
}

/// Whether `p` (taking a step with footprint `pfp` if it has none in `w`) is a weak initial of
/// `w`: `Some(Some(k))` when its first step in `w` is at `k` and nothing before it in `w` is
/// dependent with it; `Some(None)` when it has no step in `w` and is independent of all of `w`.
/// `doomed` processes have no `Some(None)` case: they may be killed before their step.
fn weak_initial(
    p: ProcId,
    pfp: &Footprint,
    w: &[Footprint],
    doomed: &[ProcId],
) -> Option<Option<usize>> {
    match w.iter().position(|e| e.proc == p) {
        Some(k) => (!w[..k].iter().any(|e| e.dependent(&w[k]))).then_some(Some(k)),
        None => (!doomed.contains(&p) && !w.iter().any(|e| e.dependent(pfp))).then_some(None),
    }
}

/// Insert `w` into the wakeup tree whose root's children are `root`, unless a branch already
/// covers it. Returns whether it was added. A branch of a process not `enabled` at the node
/// covers nothing: it is never taken (a reversal against a receive that only its deadline
/// could enable, with timers that fire only once every process waits, plans one).
fn insert(
    root: &mut Vec<WNode>,
    mut w: Vec<Footprint>,
    doomed: &[ProcId],
    enabled: &[ProcId],
) -> bool {
    let mut node = root;
    let mut at_root = true;
    loop {
        if !at_root && node.is_empty() {
            return false;
        }
        let found = node
            .iter()
            .enumerate()
            .filter(|(_, c)| !at_root || enabled.contains(&c.proc))
            .find_map(|(ci, c)| weak_initial(c.proc, &c.fp, &w, doomed).map(|k| (ci, k)));
        match found {
            Some((ci, k)) => {
                if let Some(k) = k {
                    w.remove(k);
                }
                node = &mut node[ci].children;
                at_root = false;
            }
            None => {
                if let Some(chain) = chain(w) {
                    node.push(chain);
                }
                return true;
            }
        }
    }
}

fn chain(w: Vec<Footprint>) -> Option<WNode> {
    w.into_iter().rev().fold(None, |below, fp| {
        Some(WNode {
            proc: fp.proc,
            fp,
            children: below.into_iter().collect(),
        })
    })
}

//! Partial-order sampling (Yuan, Yang, Gu, "Partial Order Aware Concurrency Sampling", CAV 2018).
//!
//! **Idea.** Each pending operation carries a random priority and the enabled operation with
//! the highest priority runs. After an operation executes, the pending operations that *race*
//! with it get fresh priorities, and the process that ran gets a fresh priority for its next
//! operation; every other priority is kept. A spawned process's first step gets a fresh one.
//!
//! One departure: a step that races with nothing at all (`start`, `spawn`, `sleep`, `now`,
//! timers, `demonitor`; see [`super::race`]) keeps the priority of the process that ran it.
//! Such steps are not events of the partial order being sampled, so a process's invisible
//! steps and the visible operation after them share one priority, drawn once. Without this, a
//! process that spawns a dozen workers in a row gets a fresh priority after every spawn and
//! loses the processor to the workers it has already started: the workers spawned first get
//! far ahead of those spawned last, whichever order of their racing operations the bug needs.
//! Kept, the spawning process's one draw decides how many workers it starts before any of
//! them acts, anywhere from none to all of them.
//!
//! A random walk samples *interleavings*, and most interleavings differ only in the order of
//! independent operations, which no program can observe; orders of racing operations then come
//! out very unevenly. Keeping the priorities of operations that do not race with what just ran
//! makes POS sample the *partial orders* of racing operations much closer to uniformly. In
//! particular, when one process waits to perform an operation that none of another process's
//! next `m` steps races with, the other process gets all `m` steps in first with probability
//! `1/(m+1)` (the waiting priority stays put while each step draws afresh), where a random walk
//! gives `2^-m`; and unlike PCT, POS needs no estimate of the run length.
//!
//! What races is decided from the pending operations alone ([`super::Candidate::races_with`]):
//! sends to one mailbox, a send and the receiver's receive, exit signals, monitors, links and
//! `alive?` on one process or its own exit, registry operations on one name, and shared-state
//! operations on conflicting objects where at least one writes. Races are checked against the
//! operations enabled at the next decision; a process that becomes enabled through the executed
//! operation (a receiver woken by a send) is among them.
//!
//! **Options.** None.
//!
//! **When to pick it.** Programs with many processes doing mostly independent work around a few
//! interactions; bugs that need one process to get through several steps while another waits
//! to act; long runs, where PCT's change points spread thin.

use super::race::{is_invisible, RaceProbe};
use super::{Candidate, Decision, IterationInfo, PickError, Strategy};
use crate::ids::ProcId;
use crate::seed::{self, SeedRng};
use rand_chacha::rand_core::Rng;

pub struct Pos {
    rng: SeedRng,
    /// Priority of each process's pending operation; larger runs first.
    priority: Vec<u64>,
    /// The clock's priority (racing timers), re-drawn like a pending operation's.
    clock: u64,
    /// The operation picked at the previous decision (executed since).
    last: Option<Candidate>,
}

impl Pos {
    pub fn new() -> Self {
        Pos {
            rng: seed::rng(0),
            priority: Vec::new(),
            clock: 0,
            last: None,
        }
    }

    /// The priority of `proc`'s pending operation (0 for a process not seen yet).
    pub fn priority(&self, proc: ProcId) -> u64 {
        if proc.is_clock() {
            return self.clock;
        }
        self.priority.get(proc.index()).copied().unwrap_or(0)
    }

    fn redraw(&mut self, proc: ProcId) {
        if proc.is_clock() {
            self.clock = self.rng.next_u64();
            return;
        }
        if self.priority.len() <= proc.index() {
            self.priority.resize(proc.index() + 1, 0);
        }
        self.priority[proc.index()] = self.rng.next_u64();
    }
}

impl Default for Pos {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for Pos {
    fn name(&self) -> &'static str {
        "pos"
    }

    /// POS re-draws the priorities of the operations that race with the one just run.
    fn needs_races(&self) -> bool {
        true
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.rng = seed::rng(info.seed);
        self.priority.clear();
        self.clock = 0;
        self.last = None;
    }

    fn on_spawn(&mut self, proc: ProcId) {
        self.redraw(proc);
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        if let Some(done) = self.last.take() {
            // The process that ran has a new pending operation, which takes a fresh priority
            // unless the step was invisible to every other process.
            if !is_invisible(done.op) {
                self.redraw(done.proc);
            }
            let probe = RaceProbe::new(&done);
            for c in decision.enabled {
                if probe.races_with(c) {
                    self.redraw(c.proc);
                }
            }
        }
        let mut best = &decision.enabled[0];
        for c in &decision.enabled[1..] {
            // Ties are practically impossible with 64-bit draws; the lower id wins them.
            if self.priority(c.proc) > self.priority(best.proc) {
                best = c;
            }
        }
        self.last = Some(*best);
        Ok(best.proc)
    }
}

//! Fair PCT: [PCT](super::Pct) for a prefix of the run, then a uniform random walk.
//!
//! **Idea.** PCT always runs the highest-priority enabled process. A process that polls for
//! something another process must do (a receive with a zero timeout in a loop, re-reading a
//! flag in ETS) is always enabled, so once it holds the top priority it can starve the process
//! it waits for until the step limit ends the run: PCT reports a livelock the program does not
//! have. Fair PCT schedules the first `prefix` steps exactly as PCT does (with its `d - 1`
//! change points drawn within the prefix) and from then on picks uniformly among the enabled
//! processes. Every enabled process then runs with probability at least `1/n` at each step, so
//! a spin loop ends after a few steps more than the prefix. Bugs reachable within the prefix
//! keep PCT's probabilistic guarantee.
//!
//! The combination comes from Microsoft's Coyote testing framework, whose `fair-prioritization`
//! strategy runs its priority-based (PCT-style) strategy for a bounded number of steps and a
//! random strategy after them, so that liveness checks are not fooled by unfair schedules.
//!
//! **Options.** `depth` (`d`, default 3). `prefix`: steps of PCT before the random walk; by
//! default three quarters of the expected steps `k` (the longest run seen so far). Stopping
//! short of `k` keeps most of PCT's reach while letting the estimate settle: a run that spins
//! through the whole prefix ends a little after it, and with a prefix of `k` that tail would
//! lengthen every next estimate, and so every next prefix, until runs met the step limit.
//!
//! **When to pick it.** Programs with busy-waiting, polling or retry loops that only end when
//! another process acts; anywhere PCT reports step-limit failures that are not real livelocks.

use super::{Decision, IterationInfo, Pct, PickError, Strategy};
use crate::ids::ProcId;
use crate::seed;

pub struct FairPct {
    pct: Pct,
    /// The configured prefix; `None`: three quarters of the expected steps.
    prefix: Option<u64>,
    /// The prefix of the current iteration.
    switch_at: u64,
}

impl FairPct {
    pub fn new(depth: u32, prefix: Option<u64>) -> Self {
        let prefix = prefix.map(|p| p.max(1));
        FairPct {
            pct: Pct::with_horizon(depth, prefix),
            prefix,
            switch_at: 0,
        }
    }

    /// The default prefix for `expected_steps`: three quarters of it, at least one step.
    pub fn default_prefix(expected_steps: u64) -> u64 {
        (expected_steps.saturating_mul(3) / 4).max(1)
    }

    /// Steps scheduled by PCT in the current iteration; later ones are a random walk.
    pub fn prefix(&self) -> u64 {
        self.switch_at
    }

    /// The PCT half (its change points and priorities).
    pub fn pct(&self) -> &Pct {
        &self.pct
    }
}

impl Strategy for FairPct {
    fn name(&self) -> &'static str {
        "fair_pct"
    }

    fn needs_races(&self) -> bool {
        false
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.switch_at = self
            .prefix
            .unwrap_or_else(|| FairPct::default_prefix(info.expected_steps));
        // PCT draws its change points within the prefix.
        self.pct = Pct::with_horizon(self.pct.depth(), Some(self.switch_at));
        self.pct.begin(info);
    }

    fn on_spawn(&mut self, proc: ProcId) {
        self.pct.on_spawn(proc);
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        if decision.step < self.switch_at {
            return self.pct.pick(decision);
        }
        let i = seed::below(self.pct.rng(), decision.enabled.len() as u64) as usize;
        Ok(decision.enabled[i].proc)
    }
}

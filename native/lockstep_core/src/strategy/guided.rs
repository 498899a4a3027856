//! Guided runs: follow a proposed choice sequence where it can be followed, and finish the run
//! without preempting anyone where it cannot. The shrinker runs its candidate schedules this way.
//!
//! At step `i` the strategy picks `choices[i]` if that process is enabled. Otherwise (the list
//! is exhausted, or the proposed process is not enabled there) it falls back to a fixed
//! non-preemptive rule: keep running the previous step's process if it is still enabled, else
//! run the lowest enabled id. Unlike strict [`Replay`](super::Replay), a guided run never
//! diverges, and it draws nothing at random: the same choices give the same run. The schedule
//! it actually executed (the controller's `choices()`) is what a strict replay reproduces.

use super::{Decision, IterationInfo, PickError, Strategy};
use crate::ids::ProcId;

pub struct Guided {
    choices: Vec<ProcId>,
}

impl Guided {
    pub fn new(choices: Vec<ProcId>) -> Self {
        Guided { choices }
    }

    /// The non-preemptive fallback: the previous process if it is still enabled, else the
    /// lowest enabled id.
    pub fn fallback(decision: &Decision<'_>) -> ProcId {
        decision
            .last
            .filter(|l| decision.enabled.iter().any(|c| c.proc == *l))
            .unwrap_or(decision.enabled[0].proc)
    }
}

impl Strategy for Guided {
    fn name(&self) -> &'static str {
        "guided"
    }

    fn needs_races(&self) -> bool {
        false
    }

    fn picks_faults(&self) -> bool {
        true
    }

    fn begin(&mut self, _info: &IterationInfo) {}

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        let proposed = self
            .choices
            .get(decision.step as usize)
            .copied()
            .filter(|want| decision.enabled.iter().any(|c| c.proc == *want));
        Ok(proposed.unwrap_or_else(|| Guided::fallback(decision)))
    }
}

//! Uniform random walk: at every step, each enabled process is equally likely to run. Cheap and
//! surprisingly effective for shallow races; weak when a bug needs one process to win many
//! consecutive picks (the probability shrinks geometrically). No options; fair by construction,
//! so spin loops end.

use super::{Decision, IterationInfo, PickError, Strategy};
use crate::ids::ProcId;
use crate::seed::{self, SeedRng};

pub struct RandomWalk {
    rng: SeedRng,
}

impl RandomWalk {
    pub fn new() -> Self {
        RandomWalk { rng: seed::rng(0) }
    }
}

impl Default for RandomWalk {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for RandomWalk {
    fn name(&self) -> &'static str {
        "random"
    }

    fn needs_races(&self) -> bool {
        false
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.rng = seed::rng(info.seed);
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        let i = seed::below(&mut self.rng, decision.enabled.len() as u64) as usize;
        Ok(decision.enabled[i].proc)
    }
}

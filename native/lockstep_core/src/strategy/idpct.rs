//! Iterative-depth PCT: [PCT](super::Pct) whose bug depth changes from one iteration to the next.
//!
//! **Idea.** PCT's guarantee holds for bugs of depth `d` or less, but a larger `d` spends change
//! points that shallow bugs do not need (each adds a preemption that may undo the ordering the
//! bug needs), so the best depth is the bug's own, which is not known in advance. IdPct runs
//! iteration `i` with depth `depth_min + (i mod (depth_max - depth_min + 1))`: the depths
//! cycle, so every depth in the range gets its share of the iterations from the first cycle on,
//! and how a hunt behaves does not depend on how many iterations it is given. The depth is a
//! function of the iteration index alone, so a failing iteration replays with the same depth.
//! Within an iteration everything is PCT (Burckhardt et al., ASPLOS 2010).
//!
//! **Options.** `depth_min..depth_max` (default `1..5`).
//!
//! **When to pick it.** When PCT with its default depth finds nothing and the bug's depth is
//! unknown, or as a hedge across a suite of tests with bugs of different depths.

use super::{Decision, IterationInfo, Pct, PickError, Strategy};
use crate::ids::ProcId;

pub struct IdPct {
    depth_min: u32,
    depth_max: u32,
    pct: Pct,
}

impl IdPct {
    /// Depths `depth_min..=depth_max`; clamped to `1 <= depth_min <= depth_max`.
    pub fn new(depth_min: u32, depth_max: u32) -> Self {
        let depth_min = depth_min.max(1);
        let depth_max = depth_max.max(depth_min);
        IdPct {
            depth_min,
            depth_max,
            pct: Pct::new(depth_min),
        }
    }

    /// The depth iteration `iteration` runs with.
    pub fn depth_for(&self, iteration: u64) -> u32 {
        let width = u64::from(self.depth_max - self.depth_min) + 1;
        self.depth_min + (iteration % width) as u32
    }

    /// The depth of the current iteration.
    pub fn depth(&self) -> u32 {
        self.pct.depth()
    }

    /// The PCT instance of the current iteration.
    pub fn pct(&self) -> &Pct {
        &self.pct
    }
}

impl Strategy for IdPct {
    fn name(&self) -> &'static str {
        "idpct"
    }

    fn needs_races(&self) -> bool {
        false
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.pct = Pct::new(self.depth_for(info.iteration));
        self.pct.begin(info);
    }

    fn on_spawn(&mut self, proc: ProcId) {
        self.pct.on_spawn(proc);
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        self.pct.pick(decision)
    }
}

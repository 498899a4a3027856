//! Scheduling strategies: given the enabled processes and their pending operations, pick the one
//! that runs next. A strategy sees no wall-clock time and draws only from the seed it is given,
//! so the same seed yields the same schedule.

mod guided;
mod pct;
mod random;
mod replay;

pub use guided::Guided;
pub use pct::Pct;
pub use random::RandomWalk;
pub use replay::Replay;

use crate::ids::ProcId;
use crate::op::OpKind;
use serde::{Deserialize, Serialize};

/// What a strategy is told when an iteration begins.
#[derive(Clone, Copy, Debug)]
pub struct IterationInfo {
    /// The iteration's own seed (already derived from the hunt's seed and the index).
    pub seed: u64,
    /// Zero-based index of the iteration within the hunt.
    pub iteration: u64,
    /// How many steps a run is expected to take (the longest run seen so far, or an estimate).
    pub expected_steps: u64,
}

/// One enabled process and the operation it will perform if picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub proc: ProcId,
    pub op: OpKind,
    /// The process the operation acts on, if any.
    pub target: Option<ProcId>,
    /// For shared-state sync points: the object touched (hashed) and whether it writes.
    pub object: Option<(u64, bool)>,
}

/// The scheduler's view at one decision.
#[derive(Debug)]
pub struct Decision<'a> {
    /// Steps executed so far in this run (the decision being made is step `step + 1`).
    pub step: u64,
    /// Enabled processes in ascending id order; never empty.
    pub enabled: &'a [Candidate],
    /// The process that ran the previous step, if any.
    pub last: Option<ProcId>,
}

/// A strategy could not make its decision (only replay can fail: the program diverged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickError {
    Diverged {
        step: u64,
        expected: ProcId,
        enabled: Vec<ProcId>,
    },
    Exhausted {
        step: u64,
    },
}

/// A scheduling strategy. Implementations cite their paper in their module docs.
pub trait Strategy: Send {
    fn name(&self) -> &'static str;
    /// Called once before the first decision of an iteration.
    fn begin(&mut self, info: &IterationInfo);
    /// A process came into existence (the root, then each child at its spawn).
    fn on_spawn(&mut self, _proc: ProcId) {}
    /// Pick one of `decision.enabled`.
    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError>;
}

/// A serialisable description of a strategy, from which each iteration's instance is built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StrategyConfig {
    Random,
    Pct {
        /// Bug depth `d`: the strategy inserts `d - 1` priority change points.
        depth: u32,
    },
    Replay {
        choices: Vec<ProcId>,
    },
    /// Follow `choices` where they are enabled, else run non-preemptively (see [`Guided`]).
    Guided {
        choices: Vec<ProcId>,
    },
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig::Pct { depth: 3 }
    }
}

impl StrategyConfig {
    pub fn build(&self) -> Box<dyn Strategy> {
        match self {
            StrategyConfig::Random => Box::new(RandomWalk::new()),
            StrategyConfig::Pct { depth } => Box::new(Pct::new(*depth)),
            StrategyConfig::Replay { choices } => Box::new(Replay::new(choices.clone())),
            StrategyConfig::Guided { choices } => Box::new(Guided::new(choices.clone())),
        }
    }
}

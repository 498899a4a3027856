//! Scheduling strategies: given the enabled processes and their pending operations, pick the one
//! that runs next. A strategy sees no wall-clock time, draws only from the seed it is given and
//! keeps its state in plain vectors indexed by process id, so the same seed yields the same
//! schedule.
//!
//! - `random` ([`RandomWalk`]): shallow races; a cheap baseline.
//! - `pct` ([`Pct`]): the default; bugs needing a few ordering constraints.
//! - `fair_pct` ([`FairPct`]): as `pct`, for programs that spin (poll until another process
//!   acts).
//! - `pos` ([`Pos`]): many processes doing mostly independent work; bugs needing one process to
//!   win several picks in a row while another waits.
//! - `idpct` ([`IdPct`]): the bug depth is unknown; PCT's depth cycles over the iterations.
//! - `replay` ([`Replay`]): re-running a recorded schedule.
//! - `guided` ([`Guided`]): following a candidate schedule where it can (the shrinker's).
//! - `prefixed` ([`Prefixed`]): a recorded prefix, then another strategy (reads-from
//!   steering's derived runs).

mod fair_pct;
mod guided;
mod idpct;
mod pct;
mod pos;
mod prefixed;
mod race;
mod random;
mod replay;

pub use fair_pct::FairPct;
pub use guided::Guided;
pub use idpct::IdPct;
pub use pct::Pct;
pub use pos::Pos;
pub use prefixed::Prefixed;
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

/// One enabled process and the operation it will perform if picked. What strategies need to
/// tell which pending operations race (see [`Candidate::races_with`]). `target`, `object` and
/// `name` are filled in only for strategies whose [`Strategy::needs_races`] is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub proc: ProcId,
    pub op: OpKind,
    /// The process the operation acts on, if any. For a send, monitor, `whereis` or
    /// `unregister` by name: the process the name resolves to at this decision (`None` if
    /// unregistered); for `register`: the process being named.
    pub target: Option<ProcId>,
    /// For shared-state sync points: the object touched (see [`crate::op::sync_object`]) and
    /// whether it writes.
    pub object: Option<(u64, bool)>,
    /// For `register`, `unregister`, `whereis` and a send or monitor by name: the name's
    /// [`crate::op::name_hash`].
    pub name: Option<u64>,
    /// The operation may end the run in some state: an exit signal (the target may be the
    /// root, or linked to it, or every abnormal exit may fail the run) or an abnormal end of
    /// the process itself. Whether it does depends on the state, so an explorer orders it
    /// against every other step.
    pub fatal: bool,
    /// The operation waits with a deadline: a receive with a timeout, or a sleep. Whether its
    /// deadline has passed decides what it does (see [`crate::explore`]).
    pub timed: bool,
}

impl Candidate {
    /// A candidate with no target, object or name (what `Start`, `Now`, `Sleep`, ... carry).
    pub fn new(proc: ProcId, op: OpKind) -> Self {
        Candidate {
            proc,
            op,
            target: None,
            object: None,
            name: None,
            fatal: false,
            timed: false,
        }
    }
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
    /// Whether the strategy tells racing operations apart, and so needs each [`Candidate`]
    /// described in full: target (names resolved), name and shared-state object. When false,
    /// the controller hands it candidates carrying only `proc` and `op` and skips that work at
    /// every step. Strategies that never look past `proc` and `op` say false; the default is
    /// true.
    fn needs_races(&self) -> bool {
        true
    }

    /// Whether the strategy picks injected faults itself (see `Config::faults`): true for
    /// strategies that follow a recorded schedule, which then offers every fault the budget
    /// allows as a candidate. Other strategies never see fault candidates: the controller
    /// injects faults at steps drawn from the iteration's seed.
    fn picks_faults(&self) -> bool {
        false
    }

    /// Whether the strategy wants to hear of each event the controller records
    /// ([`Strategy::on_event`]): what the step just picked did beyond its own operation (the
    /// mailboxes it filled, the processes that died of it, timers that fired after it). The
    /// default is false, and the controller then does no work for it.
    fn wants_events(&self) -> bool {
        false
    }

    /// An event was recorded, summarised as a [`crate::explore::Touch`] (only called when
    /// [`Strategy::wants_events`] is true). Events belong to the step picked last, or, for
    /// timers that fire while nothing can run, to the step after which nothing could.
    fn on_event(&mut self, _proc: Option<ProcId>, _touch: &crate::explore::Touch) {}
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
    /// PCT for a prefix of the run, then a fair random walk.
    FairPct {
        depth: u32,
        /// Steps of PCT before the random walk; `None`: three quarters of the expected steps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<u64>,
    },
    /// Partial-order sampling.
    Pos,
    /// PCT whose depth cycles through `depth_min..=depth_max` over the iterations.
    #[serde(rename = "idpct")]
    IdPct {
        depth_min: u32,
        depth_max: u32,
    },
    Replay {
        choices: Vec<ProcId>,
    },
    /// Follow `choices` where they are enabled, else run non-preemptively (see [`Guided`]).
    Guided {
        choices: Vec<ProcId>,
    },
    /// Follow `choices` while they are enabled, then `then` (see [`Prefixed`]).
    Prefixed {
        choices: Vec<ProcId>,
        then: Box<StrategyConfig>,
    },
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig::Pct { depth: 3 }
    }
}

impl StrategyConfig {
    /// The strategy's name, as its instances report it.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Random => "random",
            StrategyConfig::Pct { .. } => "pct",
            StrategyConfig::FairPct { .. } => "fair_pct",
            StrategyConfig::Pos => "pos",
            StrategyConfig::IdPct { .. } => "idpct",
            StrategyConfig::Replay { .. } => "replay",
            StrategyConfig::Guided { .. } => "guided",
            StrategyConfig::Prefixed { then, .. } => then.name(),
        }
    }

    /// Check the parameters, naming the one that is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if let StrategyConfig::Prefixed { then, .. } = self {
            return match **then {
                StrategyConfig::Replay { .. }
                | StrategyConfig::Guided { .. }
                | StrategyConfig::Prefixed { .. } => Err(format!(
                    "a prefix must be followed by a sampling strategy, got {}",
                    then.name()
                )),
                _ => then.validate(),
            };
        }
        match *self {
            StrategyConfig::Pct { depth } | StrategyConfig::FairPct { depth, .. } if depth == 0 => {
                Err(format!("{} depth must be at least 1, got 0", self.name()))
            }
            StrategyConfig::FairPct {
                prefix: Some(0), ..
            } => Err("fair_pct prefix must be at least 1 step, got 0".into()),
            StrategyConfig::IdPct {
                depth_min,
                depth_max,
            } if depth_min == 0 || depth_min > depth_max => Err(format!(
                "idpct needs 1 <= depth_min <= depth_max, \
                 got depth_min {depth_min}, depth_max {depth_max}"
            )),
            _ => Ok(()),
        }
    }

    /// A fresh strategy instance. Out-of-range parameters (see [`StrategyConfig::validate`])
    /// are clamped to the nearest valid value.
    pub fn build(&self) -> Box<dyn Strategy> {
        match self {
            StrategyConfig::Random => Box::new(RandomWalk::new()),
            StrategyConfig::Pct { depth } => Box::new(Pct::new(*depth)),
            StrategyConfig::FairPct { depth, prefix } => Box::new(FairPct::new(*depth, *prefix)),
            StrategyConfig::Pos => Box::new(Pos::new()),
            StrategyConfig::IdPct {
                depth_min,
                depth_max,
            } => Box::new(IdPct::new(*depth_min, *depth_max)),
            StrategyConfig::Replay { choices } => Box::new(Replay::new(choices.clone())),
            StrategyConfig::Guided { choices } => Box::new(Guided::new(choices.clone())),
            StrategyConfig::Prefixed { choices, then } => {
                Box::new(Prefixed::new(choices.clone(), then.build()))
            }
        }
    }
}

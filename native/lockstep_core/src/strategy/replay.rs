//! Strict replay of a recorded choice sequence. Raises a divergence when the recorded process is
//! not enabled at its step: the program no longer behaves as it did when the schedule was taken.

use super::{Decision, IterationInfo, PickError, Strategy};
use crate::ids::ProcId;

pub struct Replay {
    choices: Vec<ProcId>,
}

impl Replay {
    pub fn new(choices: Vec<ProcId>) -> Self {
        Replay { choices }
    }
}

impl Strategy for Replay {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn needs_races(&self) -> bool {
        false
    }

    fn picks_faults(&self) -> bool {
        true
    }

    fn begin(&mut self, _info: &IterationInfo) {}

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        let Some(&want) = self.choices.get(decision.step as usize) else {
            return Err(PickError::Exhausted {
                step: decision.step + 1,
            });
        };
        if decision.enabled.iter().any(|c| c.proc == want) {
            Ok(want)
        } else {
            Err(PickError::Diverged {
                step: decision.step + 1,
                expected: want,
                enabled: decision.enabled.iter().map(|c| c.proc).collect(),
            })
        }
    }
}

//! A recorded prefix, then another strategy: the first `choices.len()` decisions follow
//! `choices` and every later one is the inner strategy's. Reads-from steering derives new runs
//! from kept ones this way: the kept run's first `k` choices, then a fresh POS seeded from the
//! iteration's own seed.
//!
//! The prefix is followed as long as it can be: at the first step whose proposed process is not
//! enabled (the run has already gone elsewhere, through a fault or a different message), the
//! prefix is dropped and the inner strategy decides from there on. So a prefixed run never
//! diverges, and, the inner strategy being deterministic, the same prefix and seed give the same
//! run. The inner strategy hears of every spawn and event from the start, so its state is that
//! of a run it did not pick until the prefix ends.

use super::{Decision, IterationInfo, PickError, Strategy};
use crate::explore::Touch;
use crate::ids::ProcId;

pub struct Prefixed {
    choices: Vec<ProcId>,
    inner: Box<dyn Strategy>,
    /// Whether the prefix still holds (false once a proposal was not enabled).
    following: bool,
}

impl Prefixed {
    pub fn new(choices: Vec<ProcId>, inner: Box<dyn Strategy>) -> Self {
        Prefixed {
            choices,
            inner,
            following: true,
        }
    }
}

impl Strategy for Prefixed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn needs_races(&self) -> bool {
        self.inner.needs_races()
    }

    fn wants_events(&self) -> bool {
        self.inner.wants_events()
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.following = true;
        self.inner.begin(info);
    }

    fn on_spawn(&mut self, proc: ProcId) {
        self.inner.on_spawn(proc);
    }

    fn on_event(&mut self, proc: Option<ProcId>, touch: &Touch) {
        self.inner.on_event(proc, touch);
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        if self.following {
            match self.choices.get(decision.step as usize) {
                Some(want) if decision.enabled.iter().any(|c| c.proc == *want) => return Ok(*want),
                _ => self.following = false,
            }
        }
        self.inner.pick(decision)
    }
}

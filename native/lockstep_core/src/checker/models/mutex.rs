//! A mutex: `acquire` and `release` by a process. A failed `acquire` (when failures are observed)
//! means the lock was held by someone at that moment.

use super::{HistoryModel, Model, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{FailMode, HistoryOptions, Outcome, RawOperation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutexInput {
    Acquire(u64),
    Release(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutexOutput {
    Ok,
    Fail,
    Unknown,
}

#[derive(Clone, Debug, Default)]
pub struct MutexModel;

impl Model for MutexModel {
    /// The holder, if any.
    type State = Option<u64>;
    type Input = MutexInput;
    type Output = MutexOutput;

    fn init(&self) -> Option<u64> {
        None
    }

    fn step(
        &self,
        state: &Option<u64>,
        input: &MutexInput,
        output: &MutexOutput,
    ) -> Step<Option<u64>> {
        match (input, output, state) {
            (MutexInput::Acquire(p), MutexOutput::Ok, None) => Step::Legal(Some(*p)),
            (MutexInput::Acquire(_), MutexOutput::Ok, Some(_)) => Step::Illegal,
            (MutexInput::Acquire(_), MutexOutput::Fail, Some(h)) => Step::Legal(Some(*h)),
            (MutexInput::Acquire(_), MutexOutput::Fail, None) => Step::Illegal,
            (MutexInput::Acquire(p), MutexOutput::Unknown, None) => Step::Legal(Some(*p)),
            (MutexInput::Acquire(_), MutexOutput::Unknown, held) => Step::Legal(*held),
            (MutexInput::Release(p), MutexOutput::Unknown, Some(h)) if h == p => Step::Legal(None),
            (MutexInput::Release(_), MutexOutput::Unknown, held) => Step::Legal(*held),
            (MutexInput::Release(p), _, Some(h)) if h == p => Step::Legal(None),
            (MutexInput::Release(_), _, _) => Step::Illegal,
        }
    }

    fn describe_operation(&self, input: &MutexInput, output: &MutexOutput) -> String {
        let out = match output {
            MutexOutput::Ok => "ok",
            MutexOutput::Fail => "fail",
            MutexOutput::Unknown => "? (outcome unknown)",
        };
        match input {
            MutexInput::Acquire(_) => format!("acquire -> {out}"),
            MutexInput::Release(_) => format!("release -> {out}"),
        }
    }

    fn describe_state(&self, state: &Option<u64>) -> String {
        match state {
            None => "the lock is free".into(),
            Some(p) => format!("the lock is held by process {p}"),
        }
    }
}

impl HistoryModel for MutexModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        opts: &HistoryOptions,
    ) -> Result<Option<(MutexInput, MutexOutput)>, CheckError> {
        let input = match op.f.as_str() {
            "acquire" | "lock" => MutexInput::Acquire(op.process),
            "release" | "unlock" => MutexInput::Release(op.process),
            f => {
                return Err(CheckError::model(
                    op.call + 1,
                    format!("mutex has no operation {f}"),
                ))
            }
        };
        let output = match op.outcome {
            Outcome::Ok => MutexOutput::Ok,
            Outcome::Open => MutexOutput::Unknown,
            Outcome::Fail => {
                if opts.fail == FailMode::Observe && matches!(input, MutexInput::Acquire(_)) {
                    MutexOutput::Fail
                } else {
                    return Ok(None);
                }
            }
        };
        Ok(Some((input, output)))
    }
}

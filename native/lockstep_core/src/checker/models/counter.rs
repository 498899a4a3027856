//! A counter: `add`/`incr` (by the value, default 1), `read`, and the fetch-and-add operations
//! that return a value: `fetch_add` (the value before) and `add_get` (the value after).

use super::{canonical_f, HistoryModel, Model, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{HistoryOptions, Outcome, RawOperation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterInput {
    Add(i64),
    Read,
    /// Adds and returns the value before.
    FetchAdd(i64),
    /// Adds and returns the value after.
    AddGet(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterOutput {
    Read(i64),
    Ok,
    Unknown,
}

#[derive(Clone, Debug, Default)]
pub struct CounterModel {
    pub initial: i64,
}

impl Model for CounterModel {
    type State = i64;
    type Input = CounterInput;
    type Output = CounterOutput;

    fn init(&self) -> i64 {
        self.initial
    }

    fn step(&self, state: &i64, input: &CounterInput, output: &CounterOutput) -> Step<i64> {
        match (input, output) {
            (CounterInput::Read, CounterOutput::Read(v)) if v == state => Step::Legal(*state),
            (CounterInput::Read, CounterOutput::Read(_)) => Step::Illegal,
            (CounterInput::Read, _) => Step::Legal(*state),
            (CounterInput::Add(d), _) => Step::Legal(state.wrapping_add(*d)),
            (CounterInput::FetchAdd(d), CounterOutput::Read(v)) if v == state => {
                Step::Legal(state.wrapping_add(*d))
            }
            (CounterInput::AddGet(d), CounterOutput::Read(v)) if *v == state.wrapping_add(*d) => {
                Step::Legal(*v)
            }
            (CounterInput::FetchAdd(_) | CounterInput::AddGet(_), CounterOutput::Read(_)) => {
                Step::Illegal
            }
            (CounterInput::FetchAdd(d) | CounterInput::AddGet(d), _) => {
                Step::Legal(state.wrapping_add(*d))
            }
        }
    }

    fn describe_operation(&self, input: &CounterInput, output: &CounterOutput) -> String {
        let out = match output {
            CounterOutput::Read(v) => format!(" -> {v}"),
            CounterOutput::Ok => " -> ok".into(),
            CounterOutput::Unknown => " -> ? (outcome unknown)".into(),
        };
        match input {
            CounterInput::Add(d) => format!("add {d}{out}"),
            CounterInput::Read => format!("read{out}"),
            CounterInput::FetchAdd(d) => format!("fetch_add {d}{out}"),
            CounterInput::AddGet(d) => format!("add_get {d}{out}"),
        }
    }

    fn describe_state(&self, state: &i64) -> String {
        format!("the counter is {state}")
    }
}

impl HistoryModel for CounterModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        _opts: &HistoryOptions,
    ) -> Result<Option<(CounterInput, CounterOutput)>, CheckError> {
        let event = op.call + 1;
        match (canonical_f(&op.f), op.outcome) {
            (_, Outcome::Fail) => Ok(None),
            ("read", Outcome::Open) => Ok(None),
            ("read", Outcome::Ok) => {
                let v = op.output.as_ref().and_then(|v| v.as_int()).ok_or_else(|| {
                    CheckError::model(event, "a counter read must return an integer")
                })?;
                Ok(Some((CounterInput::Read, CounterOutput::Read(v))))
            }
            (
                f @ ("fetch_add" | "get_and_add" | "fetch_and_add" | "add_get" | "add_and_get"
                | "incr_get" | "increment_and_get"),
                outcome,
            ) => {
                let d = if op.input.is_nil() {
                    1
                } else {
                    op.input.as_int().ok_or_else(|| {
                        CheckError::model(event, format!("{f} expects an integer"))
                    })?
                };
                let fetch = matches!(f, "fetch_add" | "get_and_add" | "fetch_and_add");
                let input = if fetch {
                    CounterInput::FetchAdd(d)
                } else {
                    CounterInput::AddGet(d)
                };
                let out = match outcome {
                    Outcome::Open => CounterOutput::Unknown,
                    _ => CounterOutput::Read(
                        op.output.as_ref().and_then(|v| v.as_int()).ok_or_else(|| {
                            CheckError::model(event, format!("{f} must return an integer"))
                        })?,
                    ),
                };
                Ok(Some((input, out)))
            }
            ("add" | "incr" | "increment", outcome) => {
                let d = if op.input.is_nil() {
                    1
                } else {
                    op.input
                        .as_int()
                        .ok_or_else(|| CheckError::model(event, "add expects an integer"))?
                };
                let out = if outcome == Outcome::Open {
                    CounterOutput::Unknown
                } else {
                    CounterOutput::Ok
                };
                Ok(Some((CounterInput::Add(d), out)))
            }
            (f, _) => Err(CheckError::model(
                event,
                format!("counter has no operation {f}"),
            )),
        }
    }
}

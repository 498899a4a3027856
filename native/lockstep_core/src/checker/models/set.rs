//! A grow-only set: `add v` and `read` (returning the whole set, in any order).

use super::{canonical_f, HistoryModel, Model, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{HistoryOptions, Outcome, RawOperation};
use crate::checker::value::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetInput {
    Add(Value),
    Read,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOutput {
    /// The elements read, sorted and deduplicated.
    Read(Vec<Value>),
    Ok,
    Unknown,
}

#[derive(Clone, Debug, Default)]
pub struct SetModel;

impl Model for SetModel {
    /// Sorted, deduplicated elements.
    type State = Vec<Value>;
    type Input = SetInput;
    type Output = SetOutput;

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn step(&self, state: &Vec<Value>, input: &SetInput, output: &SetOutput) -> Step<Vec<Value>> {
        match (input, output) {
            (SetInput::Read, SetOutput::Read(seen)) if seen == state => Step::Legal(state.clone()),
            (SetInput::Read, SetOutput::Read(_)) => Step::Illegal,
            (SetInput::Read, _) => Step::Legal(state.clone()),
            (SetInput::Add(v), _) => match state.binary_search(v) {
                Ok(_) => Step::Legal(state.clone()),
                Err(at) => {
                    let mut next = state.clone();
                    next.insert(at, v.clone());
                    Step::Legal(next)
                }
            },
        }
    }

    fn describe_operation(&self, input: &SetInput, output: &SetOutput) -> String {
        match (input, output) {
            (SetInput::Add(v), SetOutput::Unknown) => format!("add {v} -> ? (outcome unknown)"),
            (SetInput::Add(v), _) => format!("add {v} -> ok"),
            (SetInput::Read, SetOutput::Read(seen)) => {
                format!("read -> {}", Value::List(seen.clone()))
            }
            (SetInput::Read, _) => "read".into(),
        }
    }

    fn state_bytes(&self, state: &Vec<Value>) -> usize {
        std::mem::size_of::<Vec<Value>>() + state.iter().map(Value::bytes).sum::<usize>()
    }

    fn describe_state(&self, state: &Vec<Value>) -> String {
        format!("the set is {}", Value::List(state.clone()))
    }
}

impl HistoryModel for SetModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        _opts: &HistoryOptions,
    ) -> Result<Option<(SetInput, SetOutput)>, CheckError> {
        let event = op.call + 1;
        match (canonical_f(&op.f), op.outcome) {
            (_, Outcome::Fail) => Ok(None),
            ("read", Outcome::Open) => Ok(None),
            ("read", Outcome::Ok) => {
                let mut seen: Vec<Value> = match &op.output {
                    Some(Value::List(items)) => items.clone(),
                    Some(Value::Nil) | None => Vec::new(),
                    Some(other) => {
                        return Err(CheckError::model(
                            event,
                            format!("a set read must return a collection, got {other}"),
                        ))
                    }
                };
                seen.sort();
                seen.dedup();
                Ok(Some((SetInput::Read, SetOutput::Read(seen))))
            }
            ("add", outcome) => Ok(Some((
                SetInput::Add(op.input.clone()),
                if outcome == Outcome::Open {
                    SetOutput::Unknown
                } else {
                    SetOutput::Ok
                },
            ))),
            (f, _) => Err(CheckError::model(
                event,
                format!("set has no operation {f}"),
            )),
        }
    }
}

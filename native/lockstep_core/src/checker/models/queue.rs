//! A FIFO queue: `enqueue v`, `dequeue` (returns the head; a `:fail` means the queue was empty).

use super::{HistoryModel, Model, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{FailMode, HistoryOptions, Outcome, RawOperation};
use crate::checker::value::Value;
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueInput {
    Enqueue(Value),
    Dequeue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOutput {
    Dequeued(Value),
    Empty,
    Ok,
    Unknown,
}

#[derive(Clone, Debug, Default)]
pub struct QueueModel;

impl Model for QueueModel {
    type State = VecDeque<Value>;
    type Input = QueueInput;
    type Output = QueueOutput;

    fn init(&self) -> VecDeque<Value> {
        VecDeque::new()
    }

    fn step(
        &self,
        state: &VecDeque<Value>,
        input: &QueueInput,
        output: &QueueOutput,
    ) -> Step<VecDeque<Value>> {
        match (input, output) {
            (QueueInput::Enqueue(v), _) => {
                let mut next = state.clone();
                next.push_back(v.clone());
                Step::Legal(next)
            }
            (QueueInput::Dequeue, QueueOutput::Empty) if state.is_empty() => {
                Step::Legal(state.clone())
            }
            (QueueInput::Dequeue, QueueOutput::Empty) => Step::Illegal,
            (QueueInput::Dequeue, QueueOutput::Dequeued(v)) if state.front() == Some(v) => {
                let mut next = state.clone();
                next.pop_front();
                Step::Legal(next)
            }
            (QueueInput::Dequeue, QueueOutput::Dequeued(_)) => Step::Illegal,
            (QueueInput::Dequeue, _) => {
                let mut next = state.clone();
                next.pop_front();
                Step::Legal(next)
            }
        }
    }

    fn describe_operation(&self, input: &QueueInput, output: &QueueOutput) -> String {
        let out = match output {
            QueueOutput::Dequeued(v) => format!(" -> {v}"),
            QueueOutput::Empty => " -> empty".into(),
            QueueOutput::Ok => " -> ok".into(),
            QueueOutput::Unknown => " -> ? (outcome unknown)".into(),
        };
        match input {
            QueueInput::Enqueue(v) => format!("enqueue {v}{out}"),
            QueueInput::Dequeue => format!("dequeue{out}"),
        }
    }

    fn state_bytes(&self, state: &VecDeque<Value>) -> usize {
        std::mem::size_of::<VecDeque<Value>>() + state.iter().map(Value::bytes).sum::<usize>()
    }

    fn describe_state(&self, state: &VecDeque<Value>) -> String {
        format!(
            "the queue holds {}",
            Value::List(state.iter().cloned().collect())
        )
    }
}

impl HistoryModel for QueueModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        opts: &HistoryOptions,
    ) -> Result<Option<(QueueInput, QueueOutput)>, CheckError> {
        let event = op.call + 1;
        match (op.f.as_str(), op.outcome) {
            ("enqueue" | "enq", Outcome::Fail) => Ok(None),
            ("enqueue" | "enq", o) => Ok(Some((
                QueueInput::Enqueue(op.input.clone()),
                if o == Outcome::Open {
                    QueueOutput::Unknown
                } else {
                    QueueOutput::Ok
                },
            ))),
            ("dequeue" | "deq", Outcome::Ok) => Ok(Some((
                QueueInput::Dequeue,
                QueueOutput::Dequeued(op.output.clone().unwrap_or(Value::Nil)),
            ))),
            ("dequeue" | "deq", Outcome::Fail) if opts.fail == FailMode::Observe => {
                Ok(Some((QueueInput::Dequeue, QueueOutput::Empty)))
            }
            ("dequeue" | "deq", Outcome::Fail) => Ok(None),
            ("dequeue" | "deq", Outcome::Open) => {
                Ok(Some((QueueInput::Dequeue, QueueOutput::Unknown)))
            }
            (f, _) => Err(CheckError::model(
                event,
                format!("queue has no operation {f}"),
            )),
        }
    }
}

//! A model defined outside Rust, answered step by step through a memo table.
//!
//! The search asks [`Model::step`] questions; [`MemoModel`] answers from its table and records every
//! question it cannot answer yet (see the module docs of [`super`] for the round-based protocol a NIF
//! uses with an Elixir `step/3` callback). Because answers only accumulate, a question answered once
//! is never asked of Elixir again, and every round makes progress.

use super::{HistoryModel, Model, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{HistoryOptions, Outcome, RawOperation};
use crate::checker::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExternalInput {
    pub f: String,
    pub key: Option<Value>,
    pub value: Value,
}

/// What a client observed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalOutput {
    Ok(Value),
    Fail(Value),
    Unknown,
}

/// One step question: may `input` observing `output` happen in `state`, and if so, what next?
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepQuestion {
    pub state: Value,
    pub input: ExternalInput,
    pub output: ExternalOutput,
}

/// A model whose transitions are supplied from outside (e.g. by Elixir callbacks).
#[derive(Debug)]
pub struct MemoModel {
    pub name: String,
    pub initial: Value,
    /// Known answers: `Some(next)` legal, `None` illegal.
    answers: BTreeMap<StepQuestion, Option<Value>>,
    unanswered: Mutex<BTreeSet<StepQuestion>>,
}

impl MemoModel {
    pub fn new(name: &str, initial: Value) -> Self {
        MemoModel {
            name: name.to_string(),
            initial,
            answers: BTreeMap::new(),
            unanswered: Mutex::new(BTreeSet::new()),
        }
    }

    /// Records the answer to a question (`None`: the step is illegal).
    pub fn answer(&mut self, question: StepQuestion, next: Option<Value>) {
        self.answers.insert(question, next);
    }

    /// Questions asked since the last call, in a deterministic order.
    pub fn take_unanswered(&self) -> Vec<StepQuestion> {
        match self.unanswered.lock() {
            Ok(mut set) => std::mem::take(&mut *set).into_iter().collect(),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner())
                .into_iter()
                .collect(),
        }
    }

    pub fn answered(&self) -> usize {
        self.answers.len()
    }
}

impl Model for MemoModel {
    type State = Value;
    type Input = ExternalInput;
    type Output = ExternalOutput;

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, input: &ExternalInput, output: &ExternalOutput) -> Step<Value> {
        let question = StepQuestion {
            state: state.clone(),
            input: input.clone(),
            output: output.clone(),
        };
        match self.answers.get(&question) {
            Some(Some(next)) => Step::Legal(next.clone()),
            Some(None) => Step::Illegal,
            None => {
                if let Ok(mut set) = self.unanswered.lock() {
                    set.insert(question);
                }
                Step::Unanswered
            }
        }
    }

    fn describe_operation(&self, input: &ExternalInput, output: &ExternalOutput) -> String {
        let key = input
            .key
            .as_ref()
            .map(|k| format!(" {k}"))
            .unwrap_or_default();
        let out = match output {
            ExternalOutput::Ok(v) => format!("ok {v}"),
            ExternalOutput::Fail(v) => format!("fail {v}"),
            ExternalOutput::Unknown => "? (outcome unknown)".into(),
        };
        format!("{}{} {} -> {}", input.f, key, input.value, out)
    }

    fn state_bytes(&self, state: &Value) -> usize {
        state.bytes()
    }

    fn describe_state(&self, state: &Value) -> String {
        format!("the {} model is in state {}", self.name, state)
    }
}

impl HistoryModel for MemoModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        _opts: &HistoryOptions,
    ) -> Result<Option<(ExternalInput, ExternalOutput)>, CheckError> {
        let input = ExternalInput {
            f: op.f.clone(),
            key: op.key.clone(),
            value: op.input.clone(),
        };
        let out = op.output.clone().unwrap_or(Value::Nil);
        let output = match op.outcome {
            Outcome::Ok => ExternalOutput::Ok(out),
            Outcome::Fail => ExternalOutput::Fail(out),
            Outcome::Open => ExternalOutput::Unknown,
        };
        Ok(Some((input, output)))
    }
}

//! A single register, optionally with compare-and-set.

use super::{canonical_f, HistoryModel, Model, Step};
use crate::checker::error::CheckError;
use crate::checker::history::{HistoryOptions, NilReads, Outcome, RawOperation};
use crate::checker::value::Value;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    Read,
    Write(Value),
    Cas(Value, Value),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// A read returned this value.
    Read(Value),
    Ok,
    /// A compare-and-set failed: the register did not hold the expected value.
    Fail,
    /// Outcome unknown (open operation).
    Unknown,
}

/// A register holding one [`Value`]. With `cas` it also accepts `[expected new]` compare-and-set.
#[derive(Clone, Debug)]
pub struct RegisterModel {
    pub initial: Value,
    pub cas: bool,
}

impl RegisterModel {
    pub fn new(initial: Value) -> Self {
        RegisterModel {
            initial,
            cas: false,
        }
    }

    pub fn with_cas(initial: Value) -> Self {
        RegisterModel { initial, cas: true }
    }
}

impl Model for RegisterModel {
    type State = Value;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, input: &RegisterInput, output: &RegisterOutput) -> Step<Value> {
        match (input, output) {
            (RegisterInput::Read, RegisterOutput::Read(v)) => {
                if v == state {
                    Step::Legal(state.clone())
                } else {
                    Step::Illegal
                }
            }
            (RegisterInput::Read, _) => Step::Legal(state.clone()),
            (RegisterInput::Write(v), _) => Step::Legal(v.clone()),
            (RegisterInput::Cas(expected, _), RegisterOutput::Fail) => {
                if expected != state {
                    Step::Legal(state.clone())
                } else {
                    Step::Illegal
                }
            }
            (RegisterInput::Cas(expected, new), RegisterOutput::Unknown) => {
                if expected == state {
                    Step::Legal(new.clone())
                } else {
                    Step::Legal(state.clone())
                }
            }
            (RegisterInput::Cas(expected, new), _) => {
                if expected == state {
                    Step::Legal(new.clone())
                } else {
                    Step::Illegal
                }
            }
        }
    }

    fn describe_operation(&self, input: &RegisterInput, output: &RegisterOutput) -> String {
        describe_register_op(input, output)
    }

    fn state_bytes(&self, state: &Value) -> usize {
        state.bytes()
    }

    fn describe_state(&self, state: &Value) -> String {
        format!("the register holds {state}")
    }
}

pub(crate) fn outcome_suffix(output: &RegisterOutput) -> String {
    match output {
        RegisterOutput::Read(v) => format!(" -> {v}"),
        RegisterOutput::Ok => " -> ok".to_string(),
        RegisterOutput::Fail => " -> fail".to_string(),
        RegisterOutput::Unknown => " -> ? (outcome unknown)".to_string(),
    }
}

pub(crate) fn describe_register_op(input: &RegisterInput, output: &RegisterOutput) -> String {
    let outcome = outcome_suffix(output);
    match input {
        RegisterInput::Read => format!("read{outcome}"),
        RegisterInput::Write(v) => format!("write {v}{outcome}"),
        RegisterInput::Cas(a, b) => format!("cas {a} to {b}{outcome}"),
    }
}

/// Shared encoding of read/write/cas for registers and key-value maps.
pub(crate) fn encode_register_op(
    f: &str,
    op: &RawOperation,
    allow_cas: bool,
    event: usize,
    nil_reads: NilReads,
) -> Result<Option<(RegisterInput, RegisterOutput)>, CheckError> {
    let unknown_or = |o: RegisterOutput| {
        if op.outcome == Outcome::Open {
            RegisterOutput::Unknown
        } else {
            o
        }
    };
    match canonical_f(f) {
        "read" => match op.outcome {
            // A read of an unknown value is legal in every state and changes none: nothing
            // to check.
            Outcome::Ok
                if nil_reads == NilReads::Unknown
                    && op.output.as_ref().is_none_or(Value::is_nil) =>
            {
                Ok(None)
            }
            Outcome::Ok => Ok(Some((
                RegisterInput::Read,
                RegisterOutput::Read(op.output.clone().unwrap_or(Value::Nil)),
            ))),
            // A failed or unanswered read observed nothing.
            Outcome::Fail | Outcome::Open => Ok(None),
        },
        "write" => match op.outcome {
            Outcome::Fail => Ok(None),
            _ => Ok(Some((
                RegisterInput::Write(op.input.clone()),
                unknown_or(RegisterOutput::Ok),
            ))),
        },
        "cas" if allow_cas => {
            let pair = op.input.as_list().unwrap_or(&[]);
            let [expected, new] = pair else {
                return Err(CheckError::model(
                    event,
                    format!("cas expects a value [expected new], got {}", op.input),
                ));
            };
            let out = match op.outcome {
                Outcome::Ok => RegisterOutput::Ok,
                Outcome::Fail => RegisterOutput::Fail,
                Outcome::Open => RegisterOutput::Unknown,
            };
            Ok(Some((
                RegisterInput::Cas(expected.clone(), new.clone()),
                out,
            )))
        }
        other => Err(CheckError::model(
            event,
            format!("operation {other} is not supported by this model"),
        )),
    }
}

impl HistoryModel for RegisterModel {
    fn encode(
        &mut self,
        op: &RawOperation,
        opts: &HistoryOptions,
    ) -> Result<Option<(RegisterInput, RegisterOutput)>, CheckError> {
        encode_register_op(&op.f, op, self.cas, op.call + 1, opts.nil_reads)
    }
}

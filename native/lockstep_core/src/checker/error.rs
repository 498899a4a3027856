//! Typed errors for everything that reads input: parsers, history pairing and model encoding.

use super::parse::Skipped;
use crate::excerpt::{excerpt, MESSAGE_CHARS};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a history could not be checked. Never produced by a panic: every bad input maps here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CheckError {
    /// The file could not be read.
    Io { path: String, message: String },
    /// Malformed text at a given (1-based) line.
    Parse { line: usize, message: String },
    /// The events do not form a well-formed history (e.g. a completion without an invocation).
    History { event: usize, message: String },
    /// The history is well formed but the chosen model cannot interpret one of its operations.
    Model { event: usize, message: String },
    /// The options are inconsistent (unknown model name, unsupported combination).
    Options { message: String },
    /// The text holds no operations: nothing to check, which is not a pass.
    NoOperations {
        /// The lines that were read but are not history events, if any.
        skipped: Option<Skipped>,
    },
}

impl CheckError {
    pub(crate) fn parse(line: usize, message: impl Into<String>) -> Self {
        CheckError::Parse {
            line,
            message: message.into(),
        }
    }

    pub(crate) fn model(event: usize, message: impl Into<String>) -> Self {
        CheckError::Model {
            event,
            message: message.into(),
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Io { path, message } => write!(f, "cannot read {path}: {message}"),
            // Messages may repeat parts of the input: bounded and escaped, whatever made them.
            CheckError::Parse { line, message } => {
                write!(f, "line {line}: {}", excerpt(message, MESSAGE_CHARS))
            }
            CheckError::History { event, message } => {
                write!(f, "event {event}: {}", excerpt(message, MESSAGE_CHARS))
            }
            CheckError::Model { event, message } => {
                write!(f, "event {event}: {}", excerpt(message, MESSAGE_CHARS))
            }
            CheckError::Options { message } => write!(f, "bad options: {message}"),
            CheckError::NoOperations { skipped: None } => {
                write!(f, "no operations: the history is empty")
            }
            CheckError::NoOperations { skipped: Some(s) } => write!(
                f,
                "no operations: the history is empty ({s}: is this a history file?)"
            ),
        }
    }
}

impl std::error::Error for CheckError {}

//! The small value type shared by histories, models and parsers.
//!
//! Values cover what Jepsen-style clients record: `nil`, booleans, integers, strings, keywords and
//! vectors/lists (plus maps, which only appear nested). Everything is `Ord + Hash` so that models can
//! keep values in their states and so that outputs are deterministic. Serde gives the Elixir side a
//! way to pass histories in (externally tagged, e.g. `{"int": 3}`, `"nil"`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A datum observed or supplied by a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    Keyword(String),
    List(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The name of a keyword (`:read` -> `read`), or of a string.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Value::Keyword(k) | Value::Str(k) => Some(k),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl fmt::Display for Value {
    /// EDN-like rendering, used in explanations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Keyword(k) => write!(f, ":{k}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

//! The small value type shared by histories, models and parsers.
//!
//! Values cover what Jepsen-style clients record: `nil`, booleans, integers, strings, keywords and
//! vectors/lists (plus maps, which only appear nested). Everything is `Ord + Hash` so that models can
//! keep values in their states and so that outputs are deterministic. Serde gives the Elixir side a
//! way to pass histories in (externally tagged, e.g. `{"int": 3}`, `"nil"`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The deepest nesting a checker accepts: a scalar is at depth 0, `[1]` at depth 1, and every
/// list or map around a value adds one. Everything that works on values (comparison, hashing,
/// printing, dropping) recurses through them, so the bound keeps those on a small, fixed
/// stack: a dirty scheduler's 320 KB stack holds values at this depth with room to spare (see
/// the test `values_at_the_depth_limit_fit_a_dirty_scheduler_stack`). Readers refuse anything
/// deeper with an error that names the limit.
pub const MAX_DEPTH: usize = 100;

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

    /// How deeply lists and maps nest in this value (0 for a scalar), computed without
    /// recursion; stops counting once past `limit` (and returns a number above it).
    pub fn depth_up_to(&self, limit: usize) -> usize {
        let mut deepest = 0;
        let mut stack: Vec<(&Value, usize)> = vec![(self, 0)];
        while let Some((v, d)) = stack.pop() {
            deepest = deepest.max(d);
            if deepest > limit {
                break;
            }
            match v {
                Value::List(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
                Value::Map(entries) => {
                    for (k, x) in entries {
                        stack.push((k, d + 1));
                        stack.push((x, d + 1));
                    }
                }
                _ => {}
            }
        }
        deepest
    }

    /// Checks that the value nests no deeper than [`MAX_DEPTH`]; the error says so.
    /// Bytes this value holds, inline and on the heap (values are at most [`MAX_DEPTH`] deep, so
    /// the recursion is bounded).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Str(s) | Value::Keyword(s) => s.capacity(),
                Value::List(items) => items.iter().map(Value::bytes).sum(),
                Value::Map(pairs) => pairs.iter().map(|(k, v)| k.bytes() + v.bytes()).sum(),
                _ => 0,
            }
    }

    pub fn check_depth(&self) -> Result<(), String> {
        if self.depth_up_to(MAX_DEPTH) > MAX_DEPTH {
            Err(too_deep())
        } else {
            Ok(())
        }
    }
}

/// The message for a value nested deeper than [`MAX_DEPTH`].
pub fn too_deep() -> String {
    format!("value nested deeper than {MAX_DEPTH} levels (each list, tuple or map is a level)")
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

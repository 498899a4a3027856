//! History parsers: Jepsen EDN op maps (one per line, or one vector of maps), the Jepsen etcd client
//! log format, and JSON (serde) events for histories handed over from Elixir.

pub mod edn;
pub mod jepsen_log;

use super::error::CheckError;
use super::history::{Event, EventKind};
use super::value::Value;
use crate::excerpt::{excerpt, quoted, CONTENT_CHARS};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Input format of a history file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Decide from the first non-blank line.
    #[default]
    Auto,
    /// `INFO  jepsen.util - <process> <type> <f> <value>` lines.
    JepsenLog,
    /// EDN op maps: one per line, or a single vector of maps.
    Edn,
    /// A JSON array of [`Event`]s.
    Json,
}

/// Guesses the format of `text` from its first non-blank line; a log whose first lines are
/// other output (not EDN or JSON) is still a Jepsen log when a later line is a history line.
pub fn detect(text: &str) -> Format {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.contains("jepsen.util") {
        Format::JepsenLog
    } else if first.starts_with("[{\"")
        || first.starts_with("{\"")
        || first == "[" && text.contains("\"process\"")
    {
        Format::Json
    } else if !first.starts_with(['{', '[', '(', ';', '#']) && text.contains(jepsen_log::MARKER) {
        Format::JepsenLog
    } else {
        Format::Edn
    }
}

/// Parses a history in `format`.
pub fn parse_history(text: &str, format: Format) -> Result<Vec<Event>, CheckError> {
    match format {
        Format::Auto => parse_history(text, detect(text)),
        Format::JepsenLog => jepsen_log::parse(text),
        Format::Edn => parse_edn_history(text),
        Format::Json => serde_json::from_str::<Vec<Event>>(text).map_err(|e| CheckError::Parse {
            line: e.line(),
            message: e.to_string(),
        }),
    }
}

/// Lines of a history text that are not history events (other log output in a Jepsen etcd log)
/// and were passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// How many non-blank lines were skipped.
    pub lines: usize,
    /// The 1-based line number of the first.
    pub first_line: usize,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.lines == 1 {
            "line that is not a history event"
        } else {
            "lines that are not history events"
        };
        write!(
            f,
            "skipped {} {what}, first at line {}",
            self.lines, self.first_line
        )
    }
}

/// A history text read for checking: its events, and the lines skipped on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedHistory {
    pub events: Vec<Event>,
    pub skipped: Option<Skipped>,
}

/// Reads a history text that is to be checked. Unlike [`parse_history`], a text with no
/// operations is an error ([`CheckError::NoOperations`]: an empty history would pass any check),
/// and lines that are not history events are counted in [`ParsedHistory::skipped`]; with
/// `strict` the first of them is an error instead.
pub fn read_history(text: &str, format: Format, strict: bool) -> Result<ParsedHistory, CheckError> {
    let (events, skipped) = match format {
        Format::Auto => return read_history(text, detect(text), strict),
        Format::JepsenLog => jepsen_log::parse_counting(text)?,
        other => (parse_history(text, other)?, None),
    };
    if let (true, Some(s)) = (strict, skipped) {
        let line = text.lines().nth(s.first_line - 1).unwrap_or("");
        return Err(CheckError::parse(
            s.first_line,
            format!(
                "not a history event (no \"jepsen.util - \" marker): {}; strict mode refuses \
                 such lines ({} in this file)",
                quoted(line.trim()),
                s.lines
            ),
        ));
    }
    if events.is_empty() {
        return Err(CheckError::NoOperations { skipped });
    }
    Ok(ParsedHistory { events, skipped })
}

/// Parses EDN op maps (`{:process 0, :type :invoke, :f :read, :value nil}`), either one per line or
/// as a single top-level vector. Ops whose process is not an integer (e.g. `:nemesis`) are skipped.
pub fn parse_edn_history(text: &str) -> Result<Vec<Event>, CheckError> {
    // One vector of op maps (each op's line is where its map starts), or op maps one after
    // another.
    let forms = match edn::read_items(text)? {
        Some(items) => items,
        None => edn::read_all(text)?,
    };
    let mut events = Vec::new();
    for (line, form) in forms {
        if let Some(ev) = op_map_to_event(&form, line)? {
            events.push(ev);
        }
    }
    Ok(events)
}

fn lookup<'v>(entries: &'v [(Value, Value)], name: &str) -> Option<&'v Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::Keyword(n) if n == name))
        .map(|(_, v)| v)
}

/// Reads an event kind name (`invoke`, `ok`, `fail`, `info`).
pub fn event_kind(name: &str) -> Option<EventKind> {
    match name {
        "invoke" => Some(EventKind::Invoke),
        "ok" => Some(EventKind::Ok),
        "fail" => Some(EventKind::Fail),
        "info" => Some(EventKind::Info),
        _ => None,
    }
}

/// Converts one Jepsen op map into an [`Event`]; `Ok(None)` for non-client ops (nemesis).
pub fn op_map_to_event(form: &Value, line: usize) -> Result<Option<Event>, CheckError> {
    let Value::Map(entries) = form else {
        return Err(CheckError::parse(
            line,
            format!(
                "expected an op map, got {}",
                excerpt(&form.to_string(), CONTENT_CHARS)
            ),
        ));
    };
    let process = match lookup(entries, "process") {
        Some(Value::Int(p)) if *p >= 0 => *p as u64,
        Some(Value::Keyword(_)) => return Ok(None),
        Some(other) => {
            return Err(CheckError::parse(
                line,
                format!(
                    "bad :process {}",
                    excerpt(&other.to_string(), CONTENT_CHARS)
                ),
            ))
        }
        None => return Err(CheckError::parse(line, "op map without :process")),
    };
    let kind = lookup(entries, "type")
        .and_then(Value::as_name)
        .and_then(event_kind)
        .ok_or_else(|| {
            CheckError::parse(line, "op map needs :type :invoke, :ok, :fail or :info")
        })?;
    let f = lookup(entries, "f")
        .and_then(Value::as_name)
        .ok_or_else(|| CheckError::parse(line, "op map needs an :f keyword"))?;
    let index = match lookup(entries, "index") {
        Some(Value::Int(i)) if *i >= 0 => Some(*i as u64),
        _ => None,
    };
    Ok(Some(Event {
        process,
        kind,
        f: f.to_string(),
        value: lookup(entries, "value").cloned().unwrap_or(Value::Nil),
        key: lookup(entries, "key").cloned(),
        line: Some(line as u64),
        index,
    }))
}

//! History parsers: Jepsen EDN op maps (one per line, or one vector of maps), the Jepsen etcd client
//! log format, and JSON (serde) events for histories handed over from Elixir.

pub mod edn;
pub mod jepsen_log;

use super::error::CheckError;
use super::history::{Event, EventKind};
use super::value::Value;
use serde::{Deserialize, Serialize};

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

/// Guesses the format of `text`.
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

/// Parses EDN op maps (`{:process 0, :type :invoke, :f :read, :value nil}`), either one per line or
/// as a single top-level vector. Ops whose process is not an integer (e.g. `:nemesis`) are skipped.
pub fn parse_edn_history(text: &str) -> Result<Vec<Event>, CheckError> {
    let forms = edn::read_all(text)?;
    let mut events = Vec::new();
    let single_vector = forms.len() == 1 && matches!(forms.first(), Some((_, Value::List(_))));
    if single_vector {
        if let Some((line, Value::List(items))) = forms.into_iter().next() {
            for item in items {
                if let Some(ev) = op_map_to_event(&item, line)? {
                    events.push(ev);
                }
            }
        }
    } else {
        for (line, form) in forms {
            if let Some(ev) = op_map_to_event(&form, line)? {
                events.push(ev);
            }
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
            format!("expected an op map, got {form}"),
        ));
    };
    let process = match lookup(entries, "process") {
        Some(Value::Int(p)) if *p >= 0 => *p as u64,
        Some(Value::Keyword(_)) => return Ok(None),
        Some(other) => return Err(CheckError::parse(line, format!("bad :process {other}"))),
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
    Ok(Some(Event {
        process,
        kind,
        f: f.to_string(),
        value: lookup(entries, "value").cloned().unwrap_or(Value::Nil),
        key: lookup(entries, "key").cloned(),
    }))
}

//! The Jepsen etcd client log: `INFO  jepsen.util - <process> <type> <f> <value>`.
//!
//! Fields are separated by tabs or runs of spaces; the value is the rest of the line read as EDN (a
//! compare-and-set value `[a b]` spans two whitespace-separated tokens). Lines without the
//! `jepsen.util - ` marker are other log output and are skipped; a file whose non-blank lines are
//! all skipped is an error rather than an empty (trivially linearizable) history.

use super::edn::read_one;
use super::event_kind;
use crate::checker::error::CheckError;
use crate::checker::history::Event;
use crate::checker::value::Value;

const MARKER: &str = "jepsen.util - ";

pub fn parse(text: &str) -> Result<Vec<Event>, CheckError> {
    let mut events = Vec::new();
    let mut other_lines = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let Some(at) = raw.find(MARKER) else {
            other_lines += 1;
            continue;
        };
        let rest = &raw[at + MARKER.len()..];
        let mut fields = rest.split_whitespace();
        let process = fields
            .next()
            .and_then(|p| p.parse::<u64>().ok())
            .ok_or_else(|| CheckError::parse(line, "expected a process number"))?;
        let kind = fields
            .next()
            .and_then(|t| t.strip_prefix(':'))
            .and_then(event_kind)
            .ok_or_else(|| CheckError::parse(line, "expected :invoke, :ok, :fail or :info"))?;
        let f = fields
            .next()
            .and_then(|t| t.strip_prefix(':'))
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                CheckError::parse(line, "expected an operation keyword such as :read")
            })?;
        let value_text: Vec<&str> = fields.collect();
        let value = if value_text.is_empty() {
            Value::Nil
        } else {
            read_one(&value_text.join(" "), line)?
        };
        events.push(Event::new(process, kind, f, value));
    }
    if events.is_empty() && other_lines > 0 {
        return Err(CheckError::parse(1, "no jepsen.util history lines found"));
    }
    Ok(events)
}

//! The Jepsen etcd client log: `INFO  jepsen.util - <process> <type> <f> <value>`.
//!
//! Fields are separated by tabs or runs of spaces; the value is the rest of the line read as EDN (a
//! compare-and-set value `[a b]` spans two whitespace-separated tokens). Lines without the
//! `jepsen.util - ` marker are other log output: [`parse_counting`] skips them and says how many
//! it skipped and where the first was ([`Skipped`]), so that a caller can report them or, in
//! strict mode, refuse them; [`parse`] treats a file whose non-blank lines are all skipped as an
//! error rather than an empty (trivially linearizable) history.

use super::edn::read_one;
use super::{event_kind, Skipped};
use crate::checker::error::CheckError;
use crate::checker::history::Event;
use crate::checker::value::Value;

/// What marks a history line.
pub const MARKER: &str = "jepsen.util - ";

/// The history's events; a file without a single history line is an error.
pub fn parse(text: &str) -> Result<Vec<Event>, CheckError> {
    match parse_counting(text)? {
        (events, Some(_)) if events.is_empty() => {
            Err(CheckError::parse(1, "no jepsen.util history lines found"))
        }
        (events, _) => Ok(events),
    }
}

/// The history's events and the non-blank lines without the marker that were skipped (`None`
/// when there were none).
pub fn parse_counting(text: &str) -> Result<(Vec<Event>, Option<Skipped>), CheckError> {
    let mut events = Vec::new();
    let mut skipped: Option<Skipped> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let Some(at) = raw.find(MARKER) else {
            match &mut skipped {
                Some(s) => s.lines += 1,
                None => {
                    skipped = Some(Skipped {
                        lines: 1,
                        first_line: line,
                    })
                }
            }
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
        events.push(Event::new(process, kind, f, value).with_line(line as u64));
    }
    Ok((events, skipped))
}

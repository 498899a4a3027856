//! Schedule files for Elixir: a map of plain terms to the engine's typed, versioned JSON and
//! back. All checking is the engine's (`lockstep_core::schedule`); this module only converts.
//!
//! Terms to JSON: `nil`, booleans, other atoms (as strings), integers, floats, UTF-8 binaries,
//! proper lists, and maps with atom or binary keys. JSON to terms: objects become maps whose
//! keys are atoms when the atom already exists and binaries otherwise, so reading a file never
//! creates atoms.

use crate::terms::{atom_text, list_items, map_items, show, utf8_binary};
use lockstep_core::schedule::Schedule;
use rustler::{Atom, Encoder, Env, Term, TermType};
use serde_json::{Map, Number, Value};

mod atoms {
    rustler::atoms! { ok, error, nil }
}

/// Nesting deeper than this is refused (no schedule field nests more than four levels).
const MAX_DEPTH: usize = 32;

fn json_of(term: Term<'_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("terms nested deeper than {MAX_DEPTH} levels"));
    }
    match term.get_type() {
        TermType::Atom => {
            let name = atom_text(term)?;
            Ok(match name.as_str() {
                "nil" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(name),
            })
        }
        TermType::Integer => {
            if let Ok(u) = term.decode::<u64>() {
                Ok(Value::Number(u.into()))
            } else if let Ok(i) = term.decode::<i64>() {
                Ok(Value::Number(i.into()))
            } else {
                Err(format!(
                    "the integer {term} does not fit in 64 bits",
                    term = show(term)
                ))
            }
        }
        TermType::Float => {
            let f: f64 = term
                .decode()
                .map_err(|_| format!("unreadable float {term}", term = show(term)))?;
            Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| format!("the float {f} has no JSON form"))
        }
        TermType::Binary => utf8_binary(term).map(Value::String),
        TermType::List => list_items(term)?
            .map(|t| json_of(t, depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        TermType::Map => {
            let mut obj = Map::new();
            for (k, v) in map_items(term)? {
                let key = match json_of(k, depth + 1)? {
                    Value::String(s) => s,
                    _ => {
                        return Err(format!(
                            "map keys must be atoms or strings, got {k}",
                            k = show(k)
                        ))
                    }
                };
                let value = json_of(v, depth + 1).map_err(|e| format!("{key}: {e}"))?;
                obj.insert(key, value);
            }
            Ok(Value::Object(obj))
        }
        _ => Err(format!(
            "{term} has no JSON form (use nil, booleans, atoms, numbers, strings, lists, maps)",
            term = show(term)
        )),
    }
}

fn term_of<'a>(env: Env<'a>, v: &Value) -> Term<'a> {
    match v {
        Value::Null => atoms::nil().encode(env),
        Value::Bool(b) => b.encode(env),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.encode(env)
            } else if let Some(i) = n.as_i64() {
                i.encode(env)
            } else {
                n.as_f64().unwrap_or(0.0).encode(env)
            }
        }
        Value::String(s) => s.encode(env),
        Value::Array(items) => items
            .iter()
            .map(|i| term_of(env, i))
            .collect::<Vec<_>>()
            .encode(env),
        Value::Object(obj) => {
            let keys: Vec<Term<'a>> = obj
                .keys()
                .map(
                    |k| match Atom::existing_from_utf8_bytes(env, k.as_bytes()) {
                        Ok(a) => a.encode(env),
                        Err(_) => k.encode(env),
                    },
                )
                .collect();
            let values: Vec<Term<'a>> = obj.values().map(|v| term_of(env, v)).collect();
            Term::map_from_term_arrays(env, &keys, &values)
                .unwrap_or_else(|_| atoms::nil().encode(env))
        }
    }
}

fn error<'a>(env: Env<'a>, msg: impl std::fmt::Display) -> Term<'a> {
    (atoms::error(), msg.to_string()).encode(env)
}

fn text_of(term: Term<'_>) -> Result<String, String> {
    let bin = term.decode_as_binary().map_err(|_| {
        format!(
            "expected the file's contents as a binary, got {term}",
            term = show(term)
        )
    })?;
    String::from_utf8(bin.as_slice().to_vec()).map_err(|e| {
        format!(
            "not JSON: the text is not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// `schedule_encode(map)`: `{:ok, json}` with the engine's layout, or `{:error, why}` naming the
/// missing or malformed field.
#[rustler::nif(schedule = "DirtyCpu")]
fn schedule_encode<'a>(env: Env<'a>, map: Term<'a>) -> Term<'a> {
    if !map.is_map() {
        return error(env, format!("expected a map, got {map}", map = show(map)));
    }
    let written = json_of(map, 0)
        .and_then(|v| Schedule::from_value(v).map_err(|e| e.to_string()))
        .and_then(|s| s.to_json().map_err(|e| e.to_string()));
    match written {
        Ok(json) => (atoms::ok(), json).encode(env),
        Err(e) => error(env, e),
    }
}

/// `schedule_decode(binary)`: `{:ok, map}` of a checked schedule (every field present, optional
/// ones as `nil`), or `{:error, why}`: not JSON, not a schedule, version N unsupported, missing
/// field X, ...
#[rustler::nif(schedule = "DirtyCpu")]
fn schedule_decode<'a>(env: Env<'a>, text: Term<'a>) -> Term<'a> {
    let read = text_of(text).and_then(|t| Schedule::from_json(&t).map_err(|e| e.to_string()));
    match read.and_then(|s| serde_json::to_value(&s).map_err(|e| e.to_string())) {
        Ok(v) => (atoms::ok(), term_of(env, &v)).encode(env),
        Err(e) => error(env, e),
    }
}

/// `schedule_trace_json(binary)`: the trace events of a schedule file as a JSON array, one
/// event per line.
#[rustler::nif(schedule = "DirtyCpu")]
fn schedule_trace_json<'a>(env: Env<'a>, text: Term<'a>) -> Term<'a> {
    let read = text_of(text).and_then(|t| Schedule::from_json(&t).map_err(|e| e.to_string()));
    match read.and_then(|s| s.trace_json().map_err(|e| e.to_string())) {
        Ok(json) => (atoms::ok(), json).encode(env),
        Err(e) => error(env, e),
    }
}

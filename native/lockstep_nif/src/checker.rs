//! History checkers for Elixir: terms to checker values and events, verdicts back to terms.
//!
//! Every NIF that searches or reads files runs on a dirty CPU scheduler. Bad input never panics: it
//! comes back as `{:invalid, message}` (inside a result) or `{:error, message}` (for the call
//! itself), naming what was wrong.
//!
//! Values: `nil`, `true`/`false`, other atoms (keywords), 64-bit integers, UTF-8 binaries, lists,
//! tuples (checked as lists) and maps. Floats, pids, refs, ports and funs are rejected.
//!
//! A result term is `:ok` | `{:error, explanation}` | `{:unknown, why}` | `{:invalid, message}`,
//! where `explanation` is a map with `:text`, `:partition`, `:failing`, `:total_ops` and (when asked
//! for) `:html`.

use crate::terms::{atom_text, decode_list, list_items, map_items, show, utf8_binary};
use lockstep_core::checker::history::pair_events;
use lockstep_core::checker::models::encode_operations;
use lockstep_core::checker::models::external::{ExternalOutput, MemoModel, StepQuestion};
use lockstep_core::checker::parse::{read_history, Skipped};
use lockstep_core::checker::report::{op_line, render_html, Explanation};
use lockstep_core::checker::value::{too_deep, MAX_DEPTH};
use lockstep_core::checker::{
    check_causal_events, check_events, check_operations, check_path_entries,
    check_sequential_events, check_sequential_with, locate_error, locate_verdict, CausalModel,
    CheckError, CheckOptions, ConsistencyVerdict, Event, EventKind, FailMode, Format, InfoMode,
    ModelKind, NilReads, PathEntry, Rules, Value, Verdict,
};
use rustler::types::map::MapIterator;
use rustler::types::tuple::{get_tuple, make_tuple};
use rustler::types::ListIterator;
use rustler::{Atom, Encoder, Env, NifResult, ResourceArc, Term, TermType};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

mod atoms {
    rustler::atoms! {
        ok, error, unknown, invalid, fail, done, questions, nil,
        invoke, info,
        open, discard, observe,
        auto, edn, jepsen_log, json,
        text, partition, failing, total_ops, html,
        process, r#type = "type", f, value, key,
        model, initial, threads, max_steps, time_limit_ms, max_memory, diagnostics, format, strict,
        cc, cm, ccv,
        nil_reads, rules, not_history, line, index,
    }
}

const SUPPORTED: &str =
    "histories may hold nil, booleans, atoms, integers, UTF-8 strings, lists, tuples and maps";

// ---------------------------------------------------------------------------------------------
// Terms to values

/// A compound term being converted: its items still to read and the values read so far.
/// At most `MAX_DEPTH` are open at once, so their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Open<'a> {
    /// A list or a tuple (both become lists).
    Seq {
        items: std::vec::IntoIter<Term<'a>>,
        done: Vec<Value>,
    },
    List {
        items: ListIterator<'a>,
        done: Vec<Value>,
    },
    /// A map: its pairs, the value of the pair whose key is being read, the entries so far.
    Map {
        items: MapIterator<'a>,
        value: Option<Term<'a>>,
        key: Option<Value>,
        done: Vec<(Value, Value)>,
    },
}

impl<'a> Open<'a> {
    /// The next item to convert, or `None` when all are done.
    fn next_item(&mut self) -> Option<Term<'a>> {
        match self {
            Open::Seq { items, .. } => items.next(),
            Open::List { items, .. } => items.next(),
            Open::Map { items, value, .. } => match value.take() {
                Some(v) => Some(v),
                None => items.next().map(|(k, v)| {
                    *value = Some(v);
                    k
                }),
            },
        }
    }

    fn push(&mut self, v: Value) {
        match self {
            Open::Seq { done, .. } | Open::List { done, .. } => done.push(v),
            Open::Map { key, done, .. } => match key.take() {
                Some(k) => done.push((k, v)),
                None => *key = Some(v),
            },
        }
    }

    fn finish(self) -> Value {
        match self {
            Open::Seq { done, .. } | Open::List { done, .. } => Value::List(done),
            Open::Map { mut done, .. } => {
                done.sort();
                Value::Map(done)
            }
        }
    }
}

/// A scalar term's value, or the compound term opened for reading its items.
fn scalar_or_open(term: Term<'_>) -> Result<Result<Value, Open<'_>>, String> {
    Ok(match term.get_type() {
        TermType::Atom => {
            let name = atom_text(term)?;
            Ok(match name.as_str() {
                "nil" => Value::Nil,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::Keyword(name),
            })
        }
        TermType::Integer => Ok(term.decode::<i64>().map(Value::Int).map_err(|_| {
            format!(
                "the integer {term} does not fit in 64 bits",
                term = show(term)
            )
        })?),
        TermType::Binary => Ok(utf8_binary(term).map(Value::Str)?),
        TermType::List => Err(Open::List {
            items: list_items(term)?,
            done: Vec::new(),
        }),
        TermType::Tuple => Err(Open::Seq {
            items: get_tuple(term)
                .map_err(|_| format!("unreadable tuple {term}", term = show(term)))?
                .into_iter(),
            done: Vec::new(),
        }),
        TermType::Map => Err(Open::Map {
            items: map_items(term)?,
            value: None,
            key: None,
            done: Vec::new(),
        }),
        _ => {
            return Err(format!(
                "unsupported term {term}: {SUPPORTED}",
                term = show(term)
            ))
        }
    })
}

/// A term as a checker value. Iterative, with at most [`MAX_DEPTH`] terms open at once: a
/// term nested deeper is refused with an error naming the limit, whatever its size.
fn value_of(term: Term<'_>) -> Result<Value, String> {
    let mut open: Vec<Open<'_>> = Vec::new();
    let mut next = term;
    loop {
        let mut value = match scalar_or_open(next)? {
            Ok(v) => v,
            Err(compound) => {
                if open.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                open.push(compound);
                // An empty compound is finished at once, below.
                match open.last_mut().and_then(Open::next_item) {
                    Some(item) => {
                        next = item;
                        continue;
                    }
                    None => match open.pop() {
                        Some(o) => o.finish(),
                        None => return Err(too_deep()),
                    },
                }
            }
        };
        // Hand the finished value to the innermost open term; close terms that are done.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(value);
            };
            top.push(value);
            match top.next_item() {
                Some(item) => {
                    next = item;
                    break;
                }
                None => match open.pop() {
                    Some(o) => value = o.finish(),
                    None => return Err(too_deep()),
                },
            }
        }
    }
}

fn value_term<'a>(env: Env<'a>, v: &Value) -> Term<'a> {
    match v {
        Value::Nil => atoms::nil().encode(env),
        Value::Bool(b) => b.encode(env),
        Value::Int(i) => i.encode(env),
        Value::Str(s) => s.encode(env),
        Value::Keyword(k) => match Atom::from_str(env, k) {
            Ok(a) => a.encode(env),
            Err(_) => k.encode(env),
        },
        Value::List(items) => items
            .iter()
            .map(|i| value_term(env, i))
            .collect::<Vec<_>>()
            .encode(env),
        Value::Map(entries) => {
            let pairs: Vec<(Term<'a>, Term<'a>)> = entries
                .iter()
                .map(|(k, v)| (value_term(env, k), value_term(env, v)))
                .collect();
            Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::nil().encode(env))
        }
    }
}

fn name_of(term: Term<'_>, what: &str) -> Result<String, String> {
    if term.is_atom() {
        term.atom_to_string()
            .map_err(|_| format!("{what} is an atom that is not valid UTF-8"))
    } else if let Ok(s) = term.decode::<String>() {
        Ok(s)
    } else {
        Err(format!(
            "{what} must be an atom or a string, got {term}",
            term = show(term)
        ))
    }
}

fn atom_is(t: Term<'_>, name: &str) -> bool {
    t.is_atom() && t.atom_to_string().ok().as_deref() == Some(name)
}

fn get<'a>(map: Term<'a>, key: Atom) -> Option<Term<'a>> {
    map.map_get(key).ok()
}

fn event_of(term: Term<'_>, index: usize) -> Result<Event, String> {
    let at = |m: String| format!("event {}: {m}", index + 1);
    if !term.is_map() {
        return Err(at(format!(
            "expected a map with :process, :type, :f and :value, got {term}",
            term = show(term)
        )));
    }
    let process = get(term, atoms::process())
        .ok_or_else(|| at("missing :process".into()))?
        .decode::<u64>()
        .map_err(|_| at("the :process must be a non-negative integer".into()))?;
    let kind_term = get(term, atoms::r#type()).ok_or_else(|| at("missing :type".into()))?;
    let kind = match kind_term.atom_to_string().as_deref() {
        Ok("invoke") => EventKind::Invoke,
        Ok("ok") => EventKind::Ok,
        Ok("fail") => EventKind::Fail,
        Ok("info") => EventKind::Info,
        _ => {
            return Err(at(format!(
                ":type must be :invoke, :ok, :fail or :info, got {kind_term}",
                kind_term = show(kind_term)
            )))
        }
    };
    let f = name_of(
        get(term, atoms::f()).ok_or_else(|| at("missing :f".into()))?,
        "the :f",
    )
    .map_err(at)?;
    let value = match get(term, atoms::value()) {
        Some(v) => value_of(v).map_err(|m| at(format!(":value: {m}")))?,
        None => Value::Nil,
    };
    let mut event = Event::new(process, kind, &f, value);
    if let Some(k) = get(term, atoms::key()) {
        event = event.with_key(value_of(k).map_err(|m| at(format!(":key: {m}")))?);
    }
    // Where a parsed history's event was in its text (`checker_parse` gives them); optional.
    for (key, name) in [(atoms::line(), "line"), (atoms::index(), "index")] {
        let Some(t) = get(term, key).filter(|t| !atom_is(*t, "nil")) else {
            continue;
        };
        let n = t.decode::<u64>().map_err(|_| {
            at(format!(
                "the :{name} must be a non-negative integer, got {t}",
                t = show(t)
            ))
        })?;
        event = if name == "line" {
            event.with_line(n)
        } else {
            event.with_index(n)
        };
    }
    Ok(event)
}

pub(crate) fn events_of(term: Term<'_>) -> Result<Vec<Event>, String> {
    let items = list_items(term)
        .map_err(|_| format!("events must be a list, got {term}", term = show(term)))?;
    items.enumerate().map(|(i, t)| event_of(t, i)).collect()
}

fn event_term<'a>(env: Env<'a>, e: &Event) -> Term<'a> {
    let kind = match e.kind {
        EventKind::Invoke => atoms::invoke(),
        EventKind::Ok => atoms::ok(),
        EventKind::Fail => atoms::fail(),
        EventKind::Info => atoms::info(),
    };
    let mut pairs: Vec<(Term<'a>, Term<'a>)> = vec![
        (atoms::process().encode(env), e.process.encode(env)),
        (atoms::r#type().encode(env), kind.encode(env)),
        (
            atoms::f().encode(env),
            value_term(env, &Value::Keyword(e.f.clone())),
        ),
        (atoms::value().encode(env), value_term(env, &e.value)),
    ];
    if let Some(k) = &e.key {
        pairs.push((atoms::key().encode(env), value_term(env, k)));
    }
    if let Some(line) = e.line {
        pairs.push((atoms::line().encode(env), line.encode(env)));
    }
    if let Some(index) = e.index {
        pairs.push((atoms::index().encode(env), index.encode(env)));
    }
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::nil().encode(env))
}

// ---------------------------------------------------------------------------------------------
// Options

/// Options as `Lockstep.Checker.Options` normalises them: a map with every key present.
struct BridgeOptions {
    check: CheckOptions,
    html: bool,
}

fn opt<'a>(map: Term<'a>, key: Atom, name: &str) -> Result<Term<'a>, String> {
    get(map, key).ok_or_else(|| format!("options map lacks :{name}"))
}

fn optional_u64(t: Term<'_>, name: &str) -> Result<Option<u64>, String> {
    if atom_is(t, "nil") {
        Ok(None)
    } else {
        t.decode::<u64>().map(Some).map_err(|_| {
            format!(
                ":{name} must be nil or a non-negative integer, got {t}",
                t = show(t)
            )
        })
    }
}

fn options_of(term: Term<'_>) -> Result<BridgeOptions, String> {
    if !term.is_map() {
        return Err(format!(
            "options must be a map, got {term}",
            term = show(term)
        ));
    }
    let model_term = opt(term, atoms::model(), "model")?;
    // External models do not name a built-in one; any kind serves as a placeholder then.
    let model = if atom_is(model_term, "nil") {
        ModelKind::Register
    } else {
        name_of(model_term, "the :model")?
            .parse::<ModelKind>()
            .map_err(|e| e.to_string())?
    };
    let mut check = CheckOptions::new(model);
    check.history.info = match opt(term, atoms::info(), "info")?
        .atom_to_string()
        .as_deref()
    {
        Ok("open") => InfoMode::Open,
        Ok("discard") => InfoMode::Discard,
        _ => return Err(":info must be :open or :discard".into()),
    };
    check.history.fail = match opt(term, atoms::fail(), "fail")?
        .atom_to_string()
        .as_deref()
    {
        Ok("observe") => FailMode::Observe,
        Ok("discard") => FailMode::Discard,
        _ => return Err(":fail must be :observe or :discard".into()),
    };
    check.format = match opt(term, atoms::format(), "format")?
        .atom_to_string()
        .as_deref()
    {
        Ok("auto") => Format::Auto,
        Ok("edn") => Format::Edn,
        Ok("jepsen_log") => Format::JepsenLog,
        Ok("json") => Format::Json,
        _ => return Err(":format must be :auto, :edn, :jepsen_log or :json".into()),
    };
    let initial =
        value_of(opt(term, atoms::initial(), "initial")?).map_err(|m| format!(":initial: {m}"))?;
    check.initial = (!initial.is_nil()).then_some(initial);
    let lin = &mut check.linearizability;
    lin.partition = opt(term, atoms::partition(), "partition")?
        .decode()
        .map_err(|_| ":partition must be a boolean")?;
    lin.threads = opt(term, atoms::threads(), "threads")?
        .decode()
        .map_err(|_| ":threads must be a non-negative integer")?;
    lin.max_steps = optional_u64(opt(term, atoms::max_steps(), "max_steps")?, "max_steps")?;
    lin.time_limit_ms = optional_u64(
        opt(term, atoms::time_limit_ms(), "time_limit_ms")?,
        "time_limit_ms",
    )?;
    lin.max_memory = optional_u64(opt(term, atoms::max_memory(), "max_memory")?, "max_memory")?;
    lin.diagnostics = opt(term, atoms::diagnostics(), "diagnostics")?
        .decode()
        .map_err(|_| ":diagnostics must be a boolean")?;
    let html = opt(term, atoms::html(), "html")?
        .decode()
        .map_err(|_| ":html must be a boolean")?;
    // Older callers do not pass these: lenient.
    check.strict = match get(term, atoms::strict()) {
        None => false,
        Some(t) => t.decode().map_err(|_| ":strict must be a boolean")?,
    };
    check.history.nil_reads = match get(term, atoms::nil_reads()) {
        None => NilReads::Value,
        Some(t) => match t.atom_to_string().as_deref() {
            Ok("value") => NilReads::Value,
            Ok("unknown") => NilReads::Unknown,
            _ => return Err(":nil_reads must be :value or :unknown".into()),
        },
    };
    check.rules = match get(term, atoms::rules()) {
        None => Rules::Lockstep,
        Some(t) if atom_is(t, "nil") => Rules::Lockstep,
        Some(t) => rules_of(t)?,
    };
    Ok(BridgeOptions { check, html })
}

fn rules_of(t: Term<'_>) -> Result<Rules, String> {
    name_of(t, "the :rules")?
        .parse::<Rules>()
        .map_err(|e| e.to_string())
}

/// What a rules preset sets: `{:ok, %{info:, fail:, nil_reads:, initial:, strict:}}` (the
/// Elixir options start from it; explicit options override it), or `{:error, message}`.
#[rustler::nif]
fn checker_rules<'a>(env: Env<'a>, name: Term<'a>) -> Term<'a> {
    let rules = match rules_of(name) {
        Ok(r) => r,
        Err(m) => return (atoms::error(), m).encode(env),
    };
    let h = rules.history();
    let info = match h.info {
        InfoMode::Open => atoms::open(),
        InfoMode::Discard => atoms::discard(),
    };
    let fail = match h.fail {
        FailMode::Observe => atoms::observe(),
        FailMode::Discard => atoms::discard(),
    };
    let nil_reads = match h.nil_reads {
        NilReads::Value => atoms::value(),
        NilReads::Unknown => atoms::unknown(),
    };
    let initial = value_term(env, &rules.initial().unwrap_or(Value::Nil));
    let pairs = [
        (atoms::info().encode(env), info.encode(env)),
        (atoms::fail().encode(env), fail.encode(env)),
        (atoms::nil_reads().encode(env), nil_reads.encode(env)),
        (atoms::initial().encode(env), initial),
        (atoms::strict().encode(env), rules.strict().encode(env)),
    ];
    let nil = atoms::nil().encode(env);
    (
        atoms::ok(),
        Term::map_from_pairs(env, &pairs).unwrap_or(nil),
    )
        .encode(env)
}

// ---------------------------------------------------------------------------------------------
// Results to terms

fn explanation_term<'a>(env: Env<'a>, title: &str, exp: &Explanation, html: bool) -> Term<'a> {
    let failing = exp
        .longest
        .first()
        .and_then(|p| p.stuck.as_ref())
        .map(op_line);
    let nil = atoms::nil().encode(env);
    let mut pairs: Vec<(Term<'a>, Term<'a>)> = vec![
        (atoms::text().encode(env), exp.text.encode(env)),
        (
            atoms::partition().encode(env),
            exp.partition.as_ref().map_or(nil, |p| p.encode(env)),
        ),
        (
            atoms::failing().encode(env),
            failing.as_ref().map_or(nil, |f| f.encode(env)),
        ),
        (atoms::total_ops().encode(env), exp.total_ops.encode(env)),
    ];
    if html {
        pairs.push((
            atoms::html().encode(env),
            render_html(title, exp).encode(env),
        ));
    }
    Term::map_from_pairs(env, &pairs).unwrap_or(nil)
}

fn verdict_term<'a>(env: Env<'a>, title: &str, v: &Verdict, html: bool) -> Term<'a> {
    match v {
        Verdict::Linearizable => atoms::ok().encode(env),
        Verdict::NotLinearizable { explanation } => (
            atoms::error(),
            explanation_term(env, title, explanation, html),
        )
            .encode(env),
        Verdict::Unknown { why } => (atoms::unknown(), why).encode(env),
    }
}

fn consistency_term<'a>(env: Env<'a>, v: &ConsistencyVerdict) -> Term<'a> {
    match v {
        ConsistencyVerdict::Consistent => atoms::ok().encode(env),
        ConsistencyVerdict::Inconsistent { reason } => {
            let nil = atoms::nil().encode(env);
            let pairs = [
                (atoms::text().encode(env), reason.encode(env)),
                (atoms::partition().encode(env), nil),
                (atoms::failing().encode(env), nil),
            ];
            (
                atoms::error(),
                Term::map_from_pairs(env, &pairs).unwrap_or(nil),
            )
                .encode(env)
        }
        ConsistencyVerdict::Unknown { why } => (atoms::unknown(), why).encode(env),
    }
}

fn invalid<'a>(env: Env<'a>, message: impl Encoder) -> Term<'a> {
    (atoms::invalid(), message).encode(env)
}

fn check_error<'a>(env: Env<'a>, e: &CheckError) -> Term<'a> {
    invalid(env, e.to_string())
}

const TITLE: &str = "Lockstep: history not linearizable";

// ---------------------------------------------------------------------------------------------
// NIFs on built-in models

/// Lines skipped while reading a history text: `nil` or `{count, first_line}`.
fn skipped_term<'a>(env: Env<'a>, skipped: &Option<Skipped>) -> Term<'a> {
    match skipped {
        None => atoms::nil().encode(env),
        Some(s) => (s.lines, s.first_line).encode(env),
    }
}

/// Parses a history text to be checked into event maps: `{:ok, events, skipped}` (`skipped`
/// as in [`skipped_term`]) or `{:error, message}`; a text without operations is an error, and
/// with `strict` so is a line that is not a history event.
#[rustler::nif(schedule = "DirtyCpu")]
fn checker_parse<'a>(env: Env<'a>, text: &str, format: Term<'a>, strict: bool) -> Term<'a> {
    let format = match format.atom_to_string().as_deref() {
        Ok("auto") => Format::Auto,
        Ok("edn") => Format::Edn,
        Ok("jepsen_log") => Format::JepsenLog,
        Ok("json") => Format::Json,
        _ => {
            return (
                atoms::error(),
                "format must be :auto, :edn, :jepsen_log or :json",
            )
                .encode(env)
        }
    };
    match read_history(text, format, strict) {
        Ok(parsed) => {
            let list: Vec<Term<'a>> = parsed.events.iter().map(|e| event_term(env, e)).collect();
            (atoms::ok(), list, skipped_term(env, &parsed.skipped)).encode(env)
        }
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn checker_linearizable<'a>(env: Env<'a>, events: Term<'a>, opts: Term<'a>) -> Term<'a> {
    let (events, opts) = match events_of(events).and_then(|e| Ok((e, options_of(opts)?))) {
        Ok(pair) => pair,
        Err(m) => return invalid(env, m),
    };
    match check_events(&events, &opts.check) {
        Ok(report) => verdict_term(env, TITLE, &report.verdict, opts.html),
        Err(e) => check_error(env, &e),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn checker_sequential<'a>(env: Env<'a>, events: Term<'a>, opts: Term<'a>) -> Term<'a> {
    let (events, opts) = match events_of(events).and_then(|e| Ok((e, options_of(opts)?))) {
        Ok(pair) => pair,
        Err(m) => return invalid(env, m),
    };
    match check_sequential_events(&events, &opts.check) {
        Ok(v) => consistency_term(env, &v),
        Err(e) => check_error(env, &e),
    }
}

#[rustler::nif(schedule = "DirtyCpu")]
fn checker_causal<'a>(
    env: Env<'a>,
    events: Term<'a>,
    opts: Term<'a>,
    variant: Term<'a>,
) -> Term<'a> {
    let (events, opts) = match events_of(events).and_then(|e| Ok((e, options_of(opts)?))) {
        Ok(pair) => pair,
        Err(m) => return invalid(env, m),
    };
    let model = match variant.atom_to_string().as_deref() {
        Ok("cc") => CausalModel::CC,
        Ok("cm") => CausalModel::CM,
        Ok("ccv") => CausalModel::CCv,
        _ => return invalid(env, "the causal variant must be :cc, :cm or :ccv"),
    };
    match check_causal_events(&events, &opts.check, model) {
        Ok(v) => consistency_term(env, &v),
        Err(e) => check_error(env, &e),
    }
}

/// Checks files and directories: a list of `{path, result, skipped}` (`skipped` as in
/// [`skipped_term`]) and, for files in a directory that are not histories, `{path,
/// :not_history, reason}`; or `{:invalid, message}` for bad options.
#[rustler::nif(schedule = "DirtyCpu")]
fn checker_check_paths<'a>(env: Env<'a>, paths: Term<'a>, opts: Term<'a>) -> Term<'a> {
    let Some(paths) = decode_list::<String>(paths) else {
        return invalid(env, "paths must be a list of strings".to_string());
    };
    let opts = match options_of(opts) {
        Ok(o) => o,
        Err(m) => return invalid(env, m),
    };
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let results: Vec<Term<'a>> = check_path_entries(&paths, &opts.check)
        .iter()
        .map(|entry| match entry {
            PathEntry::Checked(fv) => {
                let result = match &fv.result {
                    Ok(v) => verdict_term(env, &fv.path, v, opts.html),
                    Err(e) => check_error(env, e),
                };
                make_tuple(
                    env,
                    &[fv.path.encode(env), result, skipped_term(env, &fv.skipped)],
                )
            }
            PathEntry::NotHistory { path, reason } => make_tuple(
                env,
                &[
                    path.encode(env),
                    atoms::not_history().encode(env),
                    reason.encode(env),
                ],
            ),
        })
        .collect();
    results.encode(env)
}

// ---------------------------------------------------------------------------------------------
// External (Elixir) models: the MemoModel rounds

pub struct ExternalCheck {
    state: Mutex<External>,
}

struct External {
    model: MemoModel,
    events: Vec<Event>,
    opts: CheckOptions,
    /// The questions handed out by the last round, awaiting answers in this order.
    pending: Vec<StepQuestion>,
}

#[rustler::resource_impl]
impl rustler::Resource for ExternalCheck {}

fn lock(r: &ResourceArc<ExternalCheck>) -> MutexGuard<'_, External> {
    match r.state.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `{:ok, check}` for events, options and the model's initial state, or `{:error, message}`.
#[rustler::nif]
fn checker_external_new<'a>(
    env: Env<'a>,
    events: Term<'a>,
    opts: Term<'a>,
    initial: Term<'a>,
) -> NifResult<Term<'a>> {
    let built = events_of(events).and_then(|events| {
        let opts = options_of(opts)?;
        let initial = value_of(initial).map_err(|m| format!("initial state: {m}"))?;
        // Pairing errors surface now rather than in the first round.
        pair_events(&events, &opts.check.history).map_err(|e| e.to_string())?;
        Ok(External {
            model: MemoModel::new("user", initial),
            events,
            opts: opts.check,
            pending: Vec::new(),
        })
    });
    Ok(match built {
        Ok(ext) => (
            atoms::ok(),
            ResourceArc::new(ExternalCheck {
                state: Mutex::new(ext),
            }),
        )
            .encode(env),
        Err(m) => (atoms::error(), m).encode(env),
    })
}

fn question_term<'a>(env: Env<'a>, q: &StepQuestion) -> Term<'a> {
    let f = q.input.f.encode(env);
    let value = value_term(env, &q.input.value);
    let input = match &q.input.key {
        None => make_tuple(env, &[f, value]),
        Some(k) => make_tuple(env, &[f, value_term(env, k), value]),
    };
    let output = match &q.output {
        ExternalOutput::Ok(v) => (atoms::ok(), value_term(env, v)).encode(env),
        ExternalOutput::Fail(v) => (atoms::fail(), value_term(env, v)).encode(env),
        ExternalOutput::Unknown => atoms::unknown().encode(env),
    };
    make_tuple(env, &[value_term(env, &q.state), input, output])
}

/// One round: `{:done, result}` or `{:questions, [{state, input, output}]}`. `mode` is
/// `:linearizable` or `:sequential`.
#[rustler::nif(schedule = "DirtyCpu")]
fn checker_external_run<'a>(
    env: Env<'a>,
    check: ResourceArc<ExternalCheck>,
    mode: Term<'a>,
) -> Term<'a> {
    let mut ext = lock(&check);
    let External {
        model,
        events,
        opts,
        pending,
    } = &mut *ext;
    let raw = match pair_events(events, &opts.history) {
        Ok(raw) => raw,
        Err(e) => return (atoms::done(), check_error(env, &locate_error(e, events))).encode(env),
    };
    let ops = match encode_operations(model, &raw, &opts.history) {
        Ok(ops) => ops,
        Err(e) => return (atoms::done(), check_error(env, &locate_error(e, events))).encode(env),
    };
    let (result, undecided) = match mode.atom_to_string().as_deref() {
        Ok("linearizable") => {
            let mut report = check_operations(&*model, &ops, &opts.linearizability);
            locate_verdict(&mut report.verdict, events);
            let undecided = matches!(report.verdict, Verdict::Unknown { .. });
            (verdict_term(env, TITLE, &report.verdict, false), undecided)
        }
        Ok("sequential") => {
            let v = check_sequential_with(&*model, &ops, &opts.linearizability.search_limits());
            let undecided = matches!(v, ConsistencyVerdict::Unknown { .. });
            (consistency_term(env, &v), undecided)
        }
        _ => {
            return (
                atoms::done(),
                invalid(env, "mode must be :linearizable or :sequential"),
            )
                .encode(env)
        }
    };
    let asked = model.take_unanswered();
    if undecided && !asked.is_empty() {
        let list: Vec<Term<'a>> = asked.iter().map(|q| question_term(env, q)).collect();
        *pending = asked;
        (atoms::questions(), list).encode(env)
    } else {
        pending.clear();
        (atoms::done(), result).encode(env)
    }
}

/// Answers the last round's questions, in order: each `{:ok, next_state}` or `:error`.
#[rustler::nif]
fn checker_external_answer<'a>(
    env: Env<'a>,
    check: ResourceArc<ExternalCheck>,
    answers: Term<'a>,
) -> Term<'a> {
    let Some(answers) = decode_list::<Term<'a>>(answers) else {
        return (atoms::error(), "answers must be a proper list").encode(env);
    };
    let mut ext = lock(&check);
    if answers.len() != ext.pending.len() {
        return (
            atoms::error(),
            format!(
                "expected {} answers, got {}",
                ext.pending.len(),
                answers.len()
            ),
        )
            .encode(env);
    }
    let mut decoded = Vec::with_capacity(answers.len());
    for ans in answers {
        let next = if atom_is(ans, "error") {
            None
        } else {
            match get_tuple(ans).ok().filter(|t| t.len() == 2) {
                Some(t) if atom_is(t[0], "ok") => match value_of(t[1]) {
                    Ok(v) => Some(v),
                    Err(m) => return (atoms::error(), format!("next state: {m}")).encode(env),
                },
                _ => {
                    return (
                        atoms::error(),
                        format!(
                            "an answer must be {{:ok, next_state}} or :error, got {ans}",
                            ans = show(ans)
                        ),
                    )
                        .encode(env)
                }
            }
        };
        decoded.push(next);
    }
    let pending = std::mem::take(&mut ext.pending);
    for (q, next) in pending.into_iter().zip(decoded) {
        ext.model.answer(q, next);
    }
    atoms::ok().encode(env)
}

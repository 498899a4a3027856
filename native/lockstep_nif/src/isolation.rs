//! The isolation checker for Elixir: transactional histories (event maps or a history text)
//! checked for a consistency model, on a dirty CPU scheduler.
//!
//! `checker_isolation(history, workload, opts)` answers `:ok` | `{:error, %{text:, model:,
//! anomalies: [...], counts: [{kind, n}], forbidden: [kind]}}` | `{:unknown, why}` |
//! `{:invalid, message}`. Bad input of any kind is `{:invalid, message}`, never a panic.

use crate::checker::events_of;
use crate::terms::show;
use lockstep_core::checker::isolation::{
    check_isolation, check_isolation_text, Anomaly, ConsistencyModel, IsolationOptions,
    IsolationReport, IsolationVerdict, Status, Workload, DEFAULT_MAX_STEPS,
};
use lockstep_core::checker::Format;
use rustler::{Atom, Encoder, Env, Term};

mod atoms {
    rustler::atoms! {
        ok, error, unknown, invalid, nil,
        text, model, anomalies, counts, forbidden, transactions, committed,
        r#type = "type", name, txns, steps, label, process, invoke, complete, status, ops,
        from, to, kind, why,
        consistency_model, format, strict, max_steps,
        auto, edn, json, jepsen_log,
        fail, info,
    }
}

fn get<'a>(map: Term<'a>, key: Atom) -> Option<Term<'a>> {
    map.map_get(key).ok()
}

fn atom_or_string(t: Term<'_>) -> Option<String> {
    if t.is_atom() {
        t.atom_to_string().ok()
    } else {
        t.decode::<String>().ok()
    }
}

fn options(term: Term<'_>) -> Result<(IsolationOptions, Format, bool), String> {
    if !term.is_map() {
        return Err(format!("options must be a map, got {}", show(term)));
    }
    let mut opts = IsolationOptions::default();
    if let Some(m) = get(term, atoms::consistency_model()) {
        let name = atom_or_string(m).ok_or_else(|| {
            format!(
                ":consistency_model must be an atom or a string, got {}",
                show(m)
            )
        })?;
        opts.model = name
            .parse::<ConsistencyModel>()
            .map_err(|e| e.to_string())?;
    }
    if let Some(s) = get(term, atoms::max_steps()) {
        opts.max_steps = if s.atom_to_string().ok().as_deref() == Some("nil") {
            Some(DEFAULT_MAX_STEPS)
        } else if s.atom_to_string().ok().as_deref() == Some("infinity") {
            None
        } else {
            Some(s.decode::<u64>().map_err(|_| {
                format!(
                    ":max_steps must be nil, :infinity or a positive integer, got {}",
                    show(s)
                )
            })?)
        };
    }
    let format = match get(term, atoms::format()).map(|f| f.atom_to_string()) {
        None => Format::Auto,
        Some(Ok(f)) => match f.as_str() {
            "auto" => Format::Auto,
            "edn" => Format::Edn,
            "json" => Format::Json,
            "jepsen_log" => Format::JepsenLog,
            _ => return Err(":format must be :auto, :edn, :json or :jepsen_log".into()),
        },
        Some(Err(_)) => return Err(":format must be an atom".into()),
    };
    let strict = match get(term, atoms::strict()) {
        None => false,
        Some(t) => t.decode().map_err(|_| ":strict must be a boolean")?,
    };
    Ok((opts, format, strict))
}

fn atom_named<'a>(env: Env<'a>, name: &str) -> Term<'a> {
    match Atom::from_str(env, name) {
        Ok(a) => a.encode(env),
        Err(_) => name.encode(env),
    }
}

fn map<'a>(env: Env<'a>, pairs: &[(Atom, Term<'a>)]) -> Term<'a> {
    let pairs: Vec<(Term<'a>, Term<'a>)> = pairs.iter().map(|(k, v)| (k.encode(env), *v)).collect();
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::nil().encode(env))
}

fn optional<'a>(env: Env<'a>, v: Option<usize>) -> Term<'a> {
    v.map_or(atoms::nil().encode(env), |n| n.encode(env))
}

fn anomaly_term<'a>(env: Env<'a>, a: &Anomaly) -> Term<'a> {
    let txns: Vec<Term<'a>> = a
        .txns
        .iter()
        .map(|t| {
            let status = match t.status {
                Status::Ok => atoms::ok(),
                Status::Fail => atoms::fail(),
                Status::Info => atoms::info(),
            };
            map(
                env,
                &[
                    (atoms::label(), t.label.encode(env)),
                    (atoms::process(), t.process.encode(env)),
                    (atoms::invoke(), optional(env, t.invoke)),
                    (atoms::complete(), optional(env, t.complete)),
                    (atoms::status(), status.encode(env)),
                    (atoms::ops(), t.ops.encode(env)),
                    (atoms::text(), t.text.encode(env)),
                ],
            )
        })
        .collect();
    let steps: Vec<Term<'a>> = a
        .steps
        .iter()
        .map(|s| {
            let kind = match Atom::from_str(env, &s.kind) {
                Ok(k) => k.encode(env),
                Err(_) => s.kind.encode(env),
            };
            map(
                env,
                &[
                    (atoms::from(), s.from.encode(env)),
                    (atoms::to(), s.to.encode(env)),
                    (atoms::kind(), kind),
                    (atoms::why(), s.why.encode(env)),
                ],
            )
        })
        .collect();
    map(
        env,
        &[
            (atoms::r#type(), atom_named(env, &a.kind.id())),
            (atoms::name(), a.kind.name().encode(env)),
            (atoms::text(), a.text.encode(env)),
            (atoms::txns(), txns.encode(env)),
            (atoms::steps(), steps.encode(env)),
        ],
    )
}

fn report_term<'a>(env: Env<'a>, r: &IsolationReport) -> Term<'a> {
    match &r.verdict {
        IsolationVerdict::Valid => atoms::ok().encode(env),
        IsolationVerdict::Unknown { why } => (atoms::unknown(), why).encode(env),
        IsolationVerdict::Invalid => {
            let anomalies: Vec<Term<'a>> =
                r.anomalies.iter().map(|a| anomaly_term(env, a)).collect();
            let counts: Vec<Term<'a>> = r
                .counts
                .iter()
                .map(|(k, n)| (atom_named(env, &k.id()), *n).encode(env))
                .collect();
            let forbidden: Vec<Term<'a>> = r
                .forbidden
                .iter()
                .map(|k| atom_named(env, &k.id()))
                .collect();
            let detail = map(
                env,
                &[
                    (atoms::text(), r.text.encode(env)),
                    (
                        atoms::model(),
                        atom_named(env, &r.model.name().replace('-', "_")),
                    ),
                    (atoms::anomalies(), anomalies.encode(env)),
                    (atoms::counts(), counts.encode(env)),
                    (atoms::forbidden(), forbidden.encode(env)),
                    (atoms::transactions(), r.transactions.encode(env)),
                    (atoms::committed(), r.committed.encode(env)),
                ],
            );
            (atoms::error(), detail).encode(env)
        }
    }
}

fn invalid<'a>(env: Env<'a>, message: impl Encoder) -> Term<'a> {
    (atoms::invalid(), message).encode(env)
}

/// Checks a transactional history: a list of event maps or a history text (a binary).
#[rustler::nif(schedule = "DirtyCpu")]
fn checker_isolation<'a>(
    env: Env<'a>,
    history: Term<'a>,
    workload: Term<'a>,
    opts: Term<'a>,
) -> Term<'a> {
    let workload = match atom_or_string(workload).map(|w| w.parse::<Workload>()) {
        Some(Ok(w)) => w,
        Some(Err(e)) => return invalid(env, e.to_string()),
        None => return invalid(env, "the workload must be :list_append or :rw_register"),
    };
    let (opts, format, strict) = match options(opts) {
        Ok(o) => o,
        Err(m) => return invalid(env, m),
    };
    let result = if history.is_binary() {
        let Ok(text) = history.decode::<&str>() else {
            return invalid(env, "the history text is not UTF-8");
        };
        std::panic::catch_unwind(|| check_isolation_text(text, format, strict, workload, &opts).0)
    } else {
        let events = match events_of(history) {
            Ok(e) => e,
            Err(m) => return invalid(env, m),
        };
        std::panic::catch_unwind(|| check_isolation(&events, workload, &opts))
    };
    match result {
        Ok(Ok(report)) => report_term(env, &report),
        Ok(Err(e)) => invalid(env, e.to_string()),
        Err(_) => invalid(
            env,
            "internal error in the isolation checker (please report it)",
        ),
    }
}

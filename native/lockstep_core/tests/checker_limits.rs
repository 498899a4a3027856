//! The checkers' bounds: how deep a value may nest, and what happens past that.

use lockstep_core::checker::parse::parse_history;
use lockstep_core::checker::report::render_html;
use lockstep_core::checker::value::MAX_DEPTH;
use lockstep_core::checker::{
    check_causal_events, check_events, check_sequential_events, CausalModel, CheckError,
    CheckOptions, Event, EventKind, Format, ModelKind, Value, Verdict,
};

/// A dirty CPU scheduler's stack is 40 kilowords (320 KB) by default; the checks below run on
/// less than that.
const DIRTY_STACK: usize = 256 * 1024;

fn nested(depth: usize) -> Value {
    let mut v = Value::Int(1);
    for i in 0..depth {
        v = if i % 2 == 0 {
            Value::List(vec![v, Value::Keyword("k".into())])
        } else {
            Value::Map(vec![(Value::Str("k".into()), v)])
        };
    }
    v
}

/// Every checker, every model, explanations in text and HTML, serde and printing, on values
/// nested `depth` deep.
fn exercise(depth: usize) {
    let v = nested(depth);
    let events = vec![
        Event::new(0, EventKind::Invoke, "write", v.clone()),
        Event::new(0, EventKind::Ok, "write", v.clone()),
        Event::new(1, EventKind::Invoke, "read", Value::Nil),
        Event::new(1, EventKind::Ok, "read", v.clone()),
        Event::new(2, EventKind::Invoke, "read", Value::Nil),
        Event::new(2, EventKind::Ok, "read", Value::Int(7)),
    ];
    for model in [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::Set,
        ModelKind::Queue,
        ModelKind::Counter,
        ModelKind::Mutex,
    ] {
        let mut opts = CheckOptions::new(model);
        opts.linearizability.diagnostics = true;
        if let Ok(report) = check_events(&events, &opts) {
            if let Verdict::NotLinearizable { explanation } = &report.verdict {
                assert!(!render_html("deep", explanation).is_empty());
            }
        }
        let _ = check_sequential_events(&events, &opts);
        for causal in [CausalModel::CC, CausalModel::CM, CausalModel::CCv] {
            let _ = check_causal_events(&events, &opts, causal);
        }
    }
    let json = serde_json::to_string(&events).expect("serialisable");
    let back: Vec<Event> = serde_json::from_str(&json).unwrap_or_default();
    drop(back);
    assert!(!v.to_string().is_empty());
}

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(DIRTY_STACK)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic");
}

#[test]
fn values_at_the_depth_limit_fit_a_dirty_scheduler_stack() {
    on_small_stack(|| exercise(MAX_DEPTH));
}

#[test]
fn deeper_values_are_refused_with_the_limit_named() {
    let v = Value::List(vec![nested(MAX_DEPTH)]);
    assert_eq!(v.depth_up_to(usize::MAX), MAX_DEPTH + 1);
    let events = vec![
        Event::new(0, EventKind::Invoke, "write", Value::Int(1)),
        Event::new(0, EventKind::Ok, "write", Value::Int(1)),
        Event::new(1, EventKind::Invoke, "write", v.clone()),
    ];
    let opts = CheckOptions::new(ModelKind::Register);
    for result in [
        check_events(&events, &opts).map(|_| ()),
        check_sequential_events(&events, &opts).map(|_| ()),
        check_causal_events(&events, &opts, CausalModel::CC).map(|_| ()),
    ] {
        match result {
            Err(CheckError::History { event: 3, message }) => {
                assert!(message.contains(&format!("deeper than {MAX_DEPTH} levels")))
            }
            other => panic!("expected a refusal of event 3, got {other:?}"),
        }
    }
    let mut opts = CheckOptions::new(ModelKind::Register);
    opts.initial = Some(v);
    let err = check_events(&events[..2], &opts).expect_err("initial too deep");
    assert!(err.to_string().contains("the initial value"), "{err}");
}

#[test]
fn parsers_refuse_deep_text_without_overflowing() {
    on_small_stack(|| {
        let depth = 100_000;
        let edn = format!(
            "{{:process 0, :type :invoke, :f :write, :value {}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let err = parse_history(&edn, Format::Edn).expect_err("too deep");
        assert!(err.to_string().contains("nesting deeper than"), "{err}");

        let line = format!(
            "INFO  jepsen.util - 0\t:invoke\t:write\t{}1{}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(parse_history(&line, Format::JepsenLog).is_err());

        let json = format!(
            "[{{\"process\": 0, \"kind\": \"invoke\", \"f\": \"write\", \"value\": {}1{}}}]",
            "{\"list\": [".repeat(depth),
            "]}".repeat(depth)
        );
        assert!(parse_history(&json, Format::Json).is_err());

        // At the limit, EDN values are read and checked.
        let ok = format!(
            "{{:process 0, :type :invoke, :f :write, :value {}1{}}}\n\
             {{:process 0, :type :ok, :f :write, :value nil}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        let events = parse_history(&ok, Format::Edn).expect("at the limit");
        let report = check_events(&events, &CheckOptions::new(ModelKind::Register));
        assert!(report.expect("checks").verdict.is_linearizable());
    });
}

/// `n` concurrent writes completed as `how` (`Info`: they never returned), then a read of a
/// value nobody wrote: not linearizable, and the search must try the orders of the writes to
/// say so.
fn writes_then_impossible_read(n: u64, how: EventKind) -> Vec<Event> {
    let mut events: Vec<Event> = (0..n)
        .map(|p| Event::new(p, EventKind::Invoke, "write", Value::Int(p as i64)))
        .collect();
    events.extend((0..n).map(|p| Event::new(p, how, "write", Value::Int(p as i64))));
    events.push(Event::new(n, EventKind::Invoke, "read", Value::Nil));
    events.push(Event::new(n, EventKind::Ok, "read", Value::Int(-1)));
    events
}

fn unknown_why(v: &Verdict) -> &str {
    match v {
        Verdict::Unknown { why } => why,
        other => panic!("expected unknown, got {other:?}"),
    }
}

#[test]
fn a_search_past_its_memory_budget_is_unknown_not_a_crash() {
    // Writes that all overlap one another: the configurations are the subsets of them.
    let events = writes_then_impossible_read(22, EventKind::Ok);
    let mut opts = CheckOptions::new(ModelKind::Register);
    opts.linearizability.max_memory = Some(8 << 20);
    let report = check_events(&events, &opts).unwrap();
    let why = unknown_why(&report.verdict);
    assert!(why.contains("memory budget of 8 MiB"), "{why}");
    assert!(report.stats.configurations > 10_000);
}

#[test]
fn a_search_past_its_time_budget_is_unknown_and_says_the_budget() {
    let mut opts = CheckOptions::new(ModelKind::Register);
    opts.linearizability.time_limit_ms = Some(300);
    opts.linearizability.max_memory = None;
    let started = std::time::Instant::now();
    let report = check_events(&writes_then_impossible_read(60, EventKind::Info), &opts).unwrap();
    let why = unknown_why(&report.verdict);
    assert!(why.contains("time budget of 300 ms"), "{why}");
    // Generous: the budget is polled every few thousand steps.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

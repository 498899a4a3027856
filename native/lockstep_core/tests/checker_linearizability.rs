//! Behaviour of the linearizability checker, the models and the file-level API.

use lockstep_core::checker::history::{pair_events, HistoryOptions};
use lockstep_core::checker::linearizability::check_operations;
use lockstep_core::checker::models::external::MemoModel;
use lockstep_core::checker::models::register::RegisterModel;
use lockstep_core::checker::models::{
    encode_operations, Model, NondeterministicModel, PowerSet, Step,
};
use lockstep_core::checker::report::render_html;
use lockstep_core::checker::{
    check_events, check_paths, check_text, CheckError, CheckOptions, Event, EventKind, FailMode,
    InfoMode, LinearizabilityOptions, ModelKind, Operation, Value, Verdict,
};

fn ev(p: u64, kind: EventKind, f: &str, v: Value) -> Event {
    Event::new(p, kind, f, v)
}
fn inv(p: u64, f: &str, v: Value) -> Event {
    ev(p, EventKind::Invoke, f, v)
}
fn ok(p: u64, f: &str, v: Value) -> Event {
    ev(p, EventKind::Ok, f, v)
}
fn int(i: i64) -> Value {
    Value::Int(i)
}
fn pair(a: i64, b: i64) -> Value {
    Value::List(vec![int(a), int(b)])
}

fn verdict(events: &[Event], opts: &CheckOptions) -> Verdict {
    check_events(events, opts)
        .expect("well-formed history")
        .verdict
}

fn cas_opts() -> CheckOptions {
    CheckOptions::new(ModelKind::CasRegister)
}

#[test]
fn concurrent_write_and_read_is_linearizable_either_way() {
    for seen in [Value::Nil, int(1)] {
        let h = vec![
            inv(0, "write", int(1)),
            inv(1, "read", Value::Nil),
            ok(1, "read", seen),
            ok(0, "write", int(1)),
        ];
        assert!(verdict(&h, &cas_opts()).is_linearizable());
    }
}

#[test]
fn stale_read_after_completed_write_is_a_violation_with_explanation() {
    let h = vec![
        inv(0, "write", int(1)),
        ok(0, "write", int(1)),
        inv(1, "read", Value::Nil),
        ok(1, "read", Value::Nil),
    ];
    let Verdict::NotLinearizable { explanation } = verdict(&h, &cas_opts()) else {
        panic!("expected a violation");
    };
    let longest = &explanation.longest[0];
    assert_eq!(longest.steps.len(), 1);
    assert_eq!(longest.steps[0].op.description, "write 1 -> ok");
    let stuck = longest.stuck.as_ref().expect("a stuck operation");
    assert_eq!(stuck.process, 1);
    assert_eq!(stuck.description, "read -> nil");
    assert!(
        explanation.text.contains("the register holds 1"),
        "{}",
        explanation.text
    );
    assert!(
        explanation.text.contains("is impossible"),
        "{}",
        explanation.text
    );
}

#[test]
fn witness_respects_real_time_and_the_model() {
    let h = vec![
        inv(0, "write", int(1)),
        inv(1, "write", int(2)),
        ok(0, "write", int(1)),
        inv(2, "read", Value::Nil),
        ok(1, "write", int(2)),
        ok(2, "read", int(1)),
        inv(0, "cas", pair(1, 3)),
        ok(0, "cas", pair(1, 3)),
    ];
    let raw = pair_events(&h, &HistoryOptions::default()).expect("pairs");
    let mut model = RegisterModel::with_cas(Value::Nil);
    let ops = encode_operations(&mut model, &raw, &HistoryOptions::default()).expect("encodes");
    let report = check_operations(&model, &ops, &LinearizabilityOptions::default());
    assert!(report.verdict.is_linearizable());
    let order = &report.witnesses[0];
    assert_eq!(order.len(), ops.len());
    let mut state = model.init();
    for (k, &i) in order.iter().enumerate() {
        match model.step(&state, &ops[i].input, &ops[i].output) {
            Step::Legal(s) => state = s,
            other => panic!("witness step {k} illegal: {other:?}"),
        }
        // No later operation in the witness returned before this one was invoked.
        for &j in &order[k + 1..] {
            assert!(ops[j].ret.is_none_or(|r| r > ops[i].call));
        }
    }
    // write 2 must come before write 1 because the read saw 1 after both.
    assert_eq!(state, int(3));
}

#[test]
fn info_write_stays_open_to_the_end_unless_discarded() {
    // The write times out, and much later a read sees its value.
    let h = vec![
        inv(0, "write", int(7)),
        ev(
            0,
            EventKind::Info,
            "write",
            Value::Keyword("timed-out".into()),
        ),
        inv(1, "read", Value::Nil),
        ok(1, "read", Value::Nil),
        inv(1, "read", Value::Nil),
        ok(1, "read", int(7)),
    ];
    assert!(verdict(&h, &cas_opts()).is_linearizable());
    let mut discard = cas_opts();
    discard.history.info = InfoMode::Discard;
    assert!(verdict(&h, &discard).is_violation());
}

#[test]
fn failed_cas_is_an_observation_unless_failures_are_discarded() {
    // The register holds 1; a CAS expecting 1 fails: impossible.
    let h = vec![
        inv(0, "write", int(1)),
        ok(0, "write", int(1)),
        inv(1, "cas", pair(1, 2)),
        ev(1, EventKind::Fail, "cas", pair(1, 2)),
    ];
    assert!(verdict(&h, &cas_opts()).is_violation());
    let mut discard = cas_opts();
    discard.history.fail = FailMode::Discard;
    assert!(verdict(&h, &discard).is_linearizable());
    // A failed CAS expecting a value the register does not hold is fine.
    let h2 = vec![
        inv(1, "cas", pair(5, 2)),
        ev(1, EventKind::Fail, "cas", pair(5, 2)),
    ];
    assert!(verdict(&h2, &cas_opts()).is_linearizable());
}

#[test]
fn failed_write_did_not_happen() {
    let h = vec![
        inv(0, "write", int(1)),
        ev(0, EventKind::Fail, "write", int(1)),
        inv(1, "read", Value::Nil),
        ok(1, "read", int(1)),
    ];
    assert!(verdict(&h, &cas_opts()).is_violation());
}

#[test]
fn initial_value_option_is_used() {
    let h = vec![inv(0, "read", Value::Nil), ok(0, "read", int(0))];
    assert!(verdict(&h, &cas_opts()).is_violation());
    let mut o = cas_opts();
    o.initial = Some(int(0));
    assert!(verdict(&h, &o).is_linearizable());
}

#[test]
fn plain_register_rejects_cas() {
    let h = vec![inv(0, "cas", pair(1, 2)), ok(0, "cas", pair(1, 2))];
    let err =
        check_events(&h, &CheckOptions::new(ModelKind::Register)).expect_err("cas unsupported");
    assert!(matches!(err, CheckError::Model { event: 1, .. }), "{err:?}");
}

#[test]
fn malformed_histories_are_typed_errors() {
    let double = vec![inv(0, "read", Value::Nil), inv(0, "read", Value::Nil)];
    assert!(matches!(
        check_events(&double, &cas_opts()),
        Err(CheckError::History { event: 2, .. })
    ));
    let orphan = vec![ok(0, "read", Value::Nil)];
    assert!(matches!(
        check_events(&orphan, &cas_opts()),
        Err(CheckError::History { event: 1, .. })
    ));
    let bad_cas = vec![inv(0, "cas", int(3)), ok(0, "cas", int(3))];
    assert!(matches!(
        check_events(&bad_cas, &cas_opts()),
        Err(CheckError::Model { .. })
    ));
}

fn kv(p: u64, kind: EventKind, f: &str, key: &str, v: Value) -> Event {
    ev(p, kind, f, v).with_key(Value::Str(key.into()))
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

/// Key "a" is fine, key "b" has a stale read: the explanation must name key "b" only.
fn two_key_history() -> Vec<Event> {
    vec![
        kv(0, EventKind::Invoke, "put", "a", s("x")),
        kv(0, EventKind::Ok, "put", "a", s("x")),
        kv(1, EventKind::Invoke, "append", "b", s("y")),
        kv(1, EventKind::Ok, "append", "b", s("y")),
        kv(2, EventKind::Invoke, "get", "a", Value::Nil),
        kv(2, EventKind::Ok, "get", "a", s("x")),
        kv(3, EventKind::Invoke, "get", "b", Value::Nil),
        kv(3, EventKind::Ok, "get", "b", s("")),
    ]
}

#[test]
fn kv_violation_names_the_failing_key() {
    let mut o = CheckOptions::new(ModelKind::Kv);
    o.initial = Some(s(""));
    let Verdict::NotLinearizable { explanation } = verdict(&two_key_history(), &o) else {
        panic!("expected violation")
    };
    assert_eq!(explanation.partition.as_deref(), Some("key \"b\""));
    assert_eq!(explanation.ops.len(), 2);
    assert!(
        explanation.text.contains("append \"b\" \"y\" -> ok"),
        "{}",
        explanation.text
    );
    // Unpartitioned gives the same verdict over all operations.
    o.linearizability.partition = false;
    let Verdict::NotLinearizable { explanation } = verdict(&two_key_history(), &o) else {
        panic!("expected violation")
    };
    assert_eq!(explanation.partition, None);
    assert_eq!(explanation.ops.len(), 4);
}

#[test]
fn parallel_partitions_give_identical_results() {
    let mut h = Vec::new();
    // Ten keys; keys 3 and 7 are broken, key 7 has fewer operations (smaller partition).
    for k in 0..10u64 {
        let key = format!("k{k}");
        let reps = if k == 7 { 2 } else { 4 };
        for r in 0..reps {
            let v = format!("{k}-{r};");
            h.push(kv(k, EventKind::Invoke, "append", &key, s(&v)));
            h.push(kv(k, EventKind::Ok, "append", &key, s(&v)));
        }
        if k == 3 || k == 7 {
            h.push(kv(k, EventKind::Invoke, "get", &key, Value::Nil));
            h.push(kv(k, EventKind::Ok, "get", &key, s("nope")));
        }
    }
    let mut o = CheckOptions::new(ModelKind::Kv);
    o.initial = Some(s(""));
    let one = verdict(&h, &o);
    let Verdict::NotLinearizable { explanation } = &one else {
        panic!("expected violation")
    };
    assert_eq!(
        explanation.partition.as_deref(),
        Some("key \"k7\""),
        "smallest failing partition"
    );
    for threads in [2, 4, 0] {
        o.linearizability.threads = threads;
        assert_eq!(verdict(&h, &o), one, "threads = {threads}");
    }
}

#[test]
fn step_budget_yields_unknown_never_a_guess() {
    // Many concurrent writes and a read of a value nobody wrote: a violation that takes many steps.
    let mut h = Vec::new();
    for p in 0..12 {
        h.push(inv(p, "write", int(p as i64)));
    }
    h.push(inv(99, "read", Value::Nil));
    for p in 0..12 {
        h.push(ok(p, "write", int(p as i64)));
    }
    h.push(ok(99, "read", int(1000)));
    let mut o = cas_opts();
    assert!(verdict(&h, &o).is_violation());
    o.linearizability.max_steps = Some(10);
    let report = check_events(&h, &o).expect("well-formed");
    assert!(
        report.stats.steps <= 11,
        "budget is exact: {} steps",
        report.stats.steps
    );
    match verdict(&h, &o) {
        Verdict::Unknown { why } => assert!(why.contains("step budget"), "{why}"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    o.linearizability.max_steps = None;
    o.linearizability.time_limit_ms = Some(0);
    assert!(matches!(
        verdict(&h, &o),
        Verdict::Unknown { .. } | Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn diagnostics_keep_several_partials_without_changing_the_verdict() {
    let h = vec![
        inv(0, "write", int(1)),
        inv(1, "write", int(2)),
        ok(0, "write", int(1)),
        ok(1, "write", int(2)),
        inv(2, "read", Value::Nil),
        ok(2, "read", int(3)),
    ];
    let mut o = cas_opts();
    let Verdict::NotLinearizable { explanation: plain } = verdict(&h, &o) else {
        panic!()
    };
    o.linearizability.diagnostics = true;
    let Verdict::NotLinearizable { explanation: diag } = verdict(&h, &o) else {
        panic!()
    };
    assert_eq!(plain.longest.len(), 1);
    assert!(
        diag.longest.len() >= 2,
        "both write orders are maximal partial linearizations"
    );
    assert!(diag.longest.iter().all(|p| p.steps.len() == 2));
    let html = render_html("etcd", &diag);
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
    assert!(
        html.contains("read -&gt; 3") && html.contains("class=\"op stuck\""),
        "{html}"
    );
    // A legend, lanes named P0, P1, ..., labels that are not clipped, and a slider per partial
    // linearization that steps through its placed operations (numbered data-k 1..n).
    assert!(html.contains("class=\"legend\"") && html.contains("could not be placed next"));
    assert!(html.contains("<span class=\"lbl\">P0</span>") && !html.contains("process 0</span>"));
    assert!(html.contains("overflow:visible") && !html.contains("overflow:hidden"));
    assert!(
        html.contains("type=\"range\" min=\"0\" max=\"2\"")
            && html.contains("oninput=\"lstep('p0'")
    );
    assert!(html.contains("data-k=\"1\"") && html.contains("data-k=\"2\""));
}

fn simple(f_ops: &[(u64, &str, Value, EventKind, Value)]) -> Vec<Event> {
    // Sequential history: each op completes before the next starts.
    let mut h = Vec::new();
    for (p, f, inv_v, kind, out) in f_ops {
        h.push(inv(*p, f, inv_v.clone()));
        h.push(ev(*p, *kind, f, out.clone()));
    }
    h
}

#[test]
fn counter_set_queue_mutex_models() {
    use EventKind::{Fail, Ok as K};
    let counter_ok = simple(&[
        (0, "add", int(2), K, int(2)),
        (1, "read", Value::Nil, K, int(2)),
    ]);
    let counter_bad = simple(&[
        (0, "add", int(2), K, int(2)),
        (1, "read", Value::Nil, K, int(3)),
    ]);
    let c = CheckOptions::new(ModelKind::Counter);
    assert!(verdict(&counter_ok, &c).is_linearizable());
    assert!(verdict(&counter_bad, &c).is_violation());

    let set_ok = simple(&[
        (0, "add", int(1), K, int(1)),
        (0, "add", int(2), K, int(2)),
        (1, "read", Value::Nil, K, Value::List(vec![int(2), int(1)])),
    ]);
    let set_bad = simple(&[
        (0, "add", int(1), K, int(1)),
        (1, "read", Value::Nil, K, Value::List(vec![])),
    ]);
    let so = CheckOptions::new(ModelKind::Set);
    assert!(verdict(&set_ok, &so).is_linearizable());
    assert!(verdict(&set_bad, &so).is_violation());

    let q_ok = simple(&[
        (0, "enqueue", int(1), K, int(1)),
        (0, "enqueue", int(2), K, int(2)),
        (1, "dequeue", Value::Nil, K, int(1)),
        (1, "dequeue", Value::Nil, K, int(2)),
        (1, "dequeue", Value::Nil, Fail, Value::Nil),
    ]);
    let q_bad = simple(&[
        (0, "enqueue", int(1), K, int(1)),
        (0, "enqueue", int(2), K, int(2)),
        (1, "dequeue", Value::Nil, K, int(2)),
    ]);
    let q_empty_bad = simple(&[
        (0, "enqueue", int(1), K, int(1)),
        (1, "dequeue", Value::Nil, Fail, Value::Nil),
    ]);
    let qo = CheckOptions::new(ModelKind::Queue);
    assert!(verdict(&q_ok, &qo).is_linearizable());
    assert!(verdict(&q_bad, &qo).is_violation());
    assert!(verdict(&q_empty_bad, &qo).is_violation());

    let m_ok = simple(&[
        (0, "acquire", Value::Nil, K, Value::Nil),
        (1, "acquire", Value::Nil, Fail, Value::Nil),
        (0, "release", Value::Nil, K, Value::Nil),
        (1, "acquire", Value::Nil, K, Value::Nil),
    ]);
    let m_bad = simple(&[
        (0, "acquire", Value::Nil, K, Value::Nil),
        (1, "acquire", Value::Nil, K, Value::Nil),
    ]);
    let m_release_other = simple(&[
        (0, "acquire", Value::Nil, K, Value::Nil),
        (1, "release", Value::Nil, K, Value::Nil),
    ]);
    let mo = CheckOptions::new(ModelKind::Mutex);
    assert!(verdict(&m_ok, &mo).is_linearizable());
    assert!(verdict(&m_bad, &mo).is_violation());
    assert!(verdict(&m_release_other, &mo).is_violation());
}

/// A register whose writes may be lost: nondeterministic, checked through the power-set adapter.
struct LossyRegister;
impl NondeterministicModel for LossyRegister {
    type State = i64;
    type Input = Option<i64>; // Some(v) = write v, None = read
    type Output = i64; // value read (ignored for writes)
    fn init(&self) -> Vec<i64> {
        vec![0]
    }
    fn step(&self, s: &i64, input: &Option<i64>, out: &i64) -> Vec<i64> {
        match input {
            Some(v) => vec![*s, *v],
            None if out == s => vec![*s],
            None => vec![],
        }
    }
    fn describe_operation(&self, i: &Option<i64>, o: &i64) -> String {
        format!("{i:?} -> {o}")
    }
    fn describe_state(&self, s: &i64) -> String {
        s.to_string()
    }
}

#[test]
fn nondeterministic_models_via_power_set() {
    let op = |process, input, output, call, ret| Operation {
        process,
        input,
        output,
        call,
        ret: Some(ret),
        source: 0,
    };
    let m = PowerSet(LossyRegister);
    let lost = vec![op(0, Some(5), 0, 0, 1), op(1, None, 0, 2, 3)];
    let kept = vec![op(0, Some(5), 0, 0, 1), op(1, None, 5, 2, 3)];
    let bogus = vec![op(0, Some(5), 0, 0, 1), op(1, None, 7, 2, 3)];
    let o = LinearizabilityOptions::default();
    assert!(check_operations(&m, &lost, &o).verdict.is_linearizable());
    assert!(check_operations(&m, &kept, &o).verdict.is_linearizable());
    assert!(check_operations(&m, &bogus, &o).verdict.is_violation());
}

/// Runs the external-model protocol, answering questions with a Rust register as the "Elixir" side.
fn check_with_memo(h: &[Event]) -> (Verdict, usize) {
    let opts = HistoryOptions::default();
    let raw = pair_events(h, &opts).expect("pairs");
    let mut memo = MemoModel::new("register", Value::Nil);
    let mut rounds = 0;
    loop {
        rounds += 1;
        let ops = encode_operations(&mut memo, &raw, &opts).expect("encodes");
        let report = check_operations(&memo, &ops, &LinearizabilityOptions::default());
        let questions = memo.take_unanswered();
        if questions.is_empty() || report.verdict.is_linearizable() {
            return (report.verdict, rounds);
        }
        for q in questions {
            let next = match (q.input.f.as_str(), &q.output) {
                ("read", lockstep_core::checker::models::external::ExternalOutput::Ok(v)) => {
                    (v == &q.state).then(|| q.state.clone())
                }
                ("write", _) => Some(q.input.value.clone()),
                _ => None,
            };
            memo.answer(q, next);
        }
        assert!(rounds < 100, "rounds must make progress");
    }
}

#[test]
fn external_memo_model_reaches_native_verdicts() {
    let good = vec![
        inv(0, "write", int(1)),
        inv(1, "read", Value::Nil),
        ok(0, "write", int(1)),
        ok(1, "read", int(1)),
        inv(1, "write", int(2)),
        ok(1, "write", int(2)),
        inv(0, "read", Value::Nil),
        ok(0, "read", int(2)),
    ];
    let mut bad = good.clone();
    bad[7] = ok(0, "read", int(1));
    for h in [good, bad] {
        let native = verdict(&h, &CheckOptions::new(ModelKind::Register));
        let (external, rounds) = check_with_memo(&h);
        assert!(rounds >= 2, "first round has no answers");
        assert_eq!(native.is_linearizable(), external.is_linearizable());
        assert_eq!(
            native.is_violation(),
            external.is_violation(),
            "{external:?}"
        );
    }
}

#[test]
fn check_paths_reports_per_file_verdicts_and_errors() {
    let dir = std::env::temp_dir().join(format!("lockstep-checker-paths-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("a_good.edn"), "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n").expect("write");
    std::fs::write(dir.join("b_bad.edn"), "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 3}\n").expect("write");
    std::fs::write(
        dir.join("c_broken.edn"),
        "{:process 0, :type :invoke, :f :read\n",
    )
    .expect("write");
    std::fs::write(dir.join(".hidden"), "garbage").expect("write");
    std::fs::write(dir.join("d_empty.edn"), "").expect("write");
    std::fs::write(
        dir.join("e_noisy.log"),
        "booting\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n",
    )
    .expect("write");
    let missing = dir.join("missing.edn");
    let results = check_paths(&[dir.clone(), missing.clone()], &cas_opts());
    let strict = check_paths(
        &[dir.join("e_noisy.log")],
        &CheckOptions {
            strict: true,
            ..cas_opts()
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(results.len(), 6);
    assert_eq!(
        results[3].result,
        Err(CheckError::NoOperations { skipped: None })
    );
    assert_eq!(results[4].result, Ok(Verdict::Linearizable));
    assert_eq!(
        results[4].skipped.map(|s| (s.lines, s.first_line)),
        Some((1, 1))
    );
    assert!(matches!(
        &strict[0].result,
        Err(CheckError::Parse { line: 1, message }) if message.contains("strict mode")
    ));
    let results: Vec<_> = [&results[..3], &results[5..]].concat();
    assert!(results[0].path.ends_with("a_good.edn"));
    assert_eq!(results[0].result, Ok(Verdict::Linearizable));
    assert!(matches!(&results[1].result, Ok(v) if v.is_violation()));
    assert!(
        matches!(&results[2].result, Err(CheckError::Parse { line: 1, .. })),
        "{:?}",
        results[2]
    );
    assert!(matches!(&results[3].result, Err(CheckError::Io { .. })));
    // The results serialise for the NIF / CLI.
    let json = serde_json::to_string(&results).expect("serialises");
    assert!(json.contains("not_linearizable"));
}

#[test]
fn model_names_parse() {
    for (name, kind) in [
        ("cas_register", ModelKind::CasRegister),
        ("cas-register", ModelKind::CasRegister),
        ("kv", ModelKind::Kv),
        ("mutex", ModelKind::Mutex),
    ] {
        assert_eq!(name.parse::<ModelKind>(), Ok(kind));
    }
    assert!(matches!(
        "nope".parse::<ModelKind>(),
        Err(CheckError::Options { .. })
    ));
    // An empty list of events is trivially linearizable, but a text without operations is an
    // error (an empty file is not a pass), and so is a non-history text.
    assert_eq!(
        check_events(&[], &cas_opts()).map(|r| r.verdict),
        Ok(Verdict::Linearizable)
    );
    assert_eq!(
        check_text("", &cas_opts()),
        Err(CheckError::NoOperations { skipped: None })
    );
    assert!(check_text("hello world\n", &cas_opts()).is_err());
}

#[test]
fn counter_fetch_and_add_values_are_checked() {
    let c = CheckOptions::new(ModelKind::Counter);
    // Two concurrent fetch_adds: one must see 0 and the other 1.
    let both_zero = vec![
        inv(0, "fetch_add", int(1)),
        inv(1, "fetch_add", int(1)),
        ok(0, "fetch_add", int(0)),
        ok(1, "fetch_add", int(0)),
    ];
    assert!(verdict(&both_zero, &c).is_violation());
    let fine = vec![
        inv(0, "fetch_add", int(1)),
        inv(1, "fetch_add", int(1)),
        ok(1, "fetch_add", int(0)),
        ok(0, "fetch_add", int(1)),
        inv(2, "read", Value::Nil),
        ok(2, "read", int(2)),
    ];
    assert!(verdict(&fine, &c).is_linearizable());
    // add_get returns the value after; an increment_and_get of 5 from 0 must say 5.
    let after = vec![inv(0, "add_get", int(5)), ok(0, "add_get", int(5))];
    assert!(verdict(&after, &c).is_linearizable());
    let wrong = vec![inv(0, "add_get", int(5)), ok(0, "add_get", int(0))];
    assert!(verdict(&wrong, &c).is_violation());
    // A value that is not an integer is a clear error.
    let bad = vec![inv(0, "fetch_add", int(1)), ok(0, "fetch_add", Value::Nil)];
    let err = check_events(&bad, &c).unwrap_err();
    assert!(
        err.to_string().contains("fetch_add must return an integer"),
        "{err}"
    );
}

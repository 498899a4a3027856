//! The schedule file format: round trips, version and marker checks, errors that name the
//! problem, the readable layout, and strict replay of a saved schedule.

use lockstep_core::schedule::{
    fingerprint, FaultSettings, Field, ProcessInfo, RunSettings, Schedule, ScheduleError,
    ShrunkFrom, StepLimit, StrategySpec, TestIdentity, Timers, TraceEvent, CATEGORIES, FORMAT,
    STRATEGIES, VERSION,
};
use lockstep_core::strategy::{PickError, StrategyConfig};
use lockstep_core::{
    Config, Controller, Dest, IterationInfo, Next, Op, OpKind, Outcome, ProcId, ProcStatus, Reason,
    Reply,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn sample() -> Schedule {
    let choices = vec![ProcId(0), ProcId(0), ProcId(1), ProcId(0)];
    Schedule {
        format: FORMAT.into(),
        version: VERSION,
        created_by: Some("lockstep 0.1.0".into()),
        test: Some(TestIdentity {
            module: "CounterTest".into(),
            name: "two increments \"quoted\" ✓".into(),
            file: Some("test/counter_test.exs".into()),
            line: Some(12),
        }),
        strategy: StrategySpec {
            name: "pct".into(),
            params: BTreeMap::from([("depth".to_string(), json!(3))]),
            text: Some("{:pct, depth: 3}".into()),
        },
        seed: 7,
        iteration: 3,
        iter_seed: u64::MAX - 5,
        expected_steps: Some(50),
        settings: RunSettings {
            max_steps: 1000,
            allow_crashes: false,
            fail_on_blocked: true,
            step_limit: StepLimit::Stop,
            fail_on_abnormal_exit: true,
            timers: Timers::Race,
            settle: None,
            time_per_step: 2,
            clock_start: 1_000,
            faults: FaultSettings {
                partitions: 1,
                crashes: 2,
            },
            node: Some("n1@host".into()),
        },
        steps: choices.len() as u64,
        category: "exception".into(),
        detail: "** (RuntimeError) lost update\n    test/counter_test.exs:14".into(),
        choices,
        shrunk_from: Some(ShrunkFrom {
            steps: 6,
            preemptions: 2,
            choices: Some(vec![ProcId(0); 6]),
        }),
        processes: vec![
            ProcessInfo {
                id: ProcId(0),
                name: None,
            },
            ProcessInfo {
                id: ProcId(1),
                name: Some(":counter".into()),
            },
        ],
        trace: vec![
            TraceEvent {
                step: 1,
                time: 0,
                proc: Some(ProcId(0)),
                kind: "start".into(),
                text: "starts".into(),
                fields: Default::default(),
            },
            TraceEvent {
                step: 2,
                time: 0,
                proc: Some(ProcId(0)),
                kind: "spawn".into(),
                text: "spawns P1".into(),
                fields: [
                    ("child".to_string(), Field::Int(1)),
                    ("link".to_string(), Field::Bool(false)),
                ]
                .into_iter()
                .collect(),
            },
            TraceEvent {
                step: 2,
                time: 5,
                proc: None,
                kind: "timer_fired".into(),
                text: "a timer fires for P1".into(),
                fields: Default::default(),
            },
            TraceEvent {
                step: 4,
                time: 5,
                proc: Some(ProcId(0)),
                kind: "exit".into(),
                text: "raises ** (RuntimeError) lost update".into(),
                fields: Default::default(),
            },
        ],
    }
}

fn minimal() -> Value {
    json!({
        "format": "lockstep-schedule",
        "version": 1,
        "strategy": {"name": "random"},
        "seed": 1,
        "iteration": 0,
        "iter_seed": 2,
        "settings": {"max_steps": 10, "allow_crashes": false, "fail_on_blocked": false,
                     "step_limit": "fail"},
        "steps": 2,
        "category": "deadlock",
        "choices": [0, 0],
        "trace": []
    })
}

fn error_of(v: Value) -> String {
    Schedule::from_json(&v.to_string())
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn a_file_without_the_time_and_exit_settings_reads_with_their_defaults() {
    let s = Schedule::from_json(&minimal().to_string()).expect("reads");
    let defaults = Config::default();
    assert!(!s.settings.fail_on_abnormal_exit);
    assert_eq!(s.settings.timers, Timers::Idle);
    assert_eq!(s.settings.settle, defaults.settle);
    assert_eq!(s.settings.time_per_step, 0);
    assert_eq!(s.settings.clock_start, defaults.epoch);
    let mut v = minimal();
    v["settings"]["settle"] = Value::Null;
    v["settings"]["timers"] = json!("race");
    let s = Schedule::from_json(&v.to_string()).expect("reads");
    assert_eq!((s.settings.settle, s.settings.timers), (None, Timers::Race));
}

#[test]
fn round_trip_keeps_every_field() {
    let s = sample();
    let text = s.to_json().expect("writes");
    assert_eq!(Schedule::from_json(&text), Ok(s.clone()));
    // What plain serde makes of the file is exactly the typed value: no field is lost or
    // renamed by the hand-written reader.
    let plain: Value = serde_json::from_str(&text).expect("plain JSON");
    assert_eq!(plain, serde_json::to_value(&s).unwrap());
    let derived: Schedule = serde_json::from_str(&text).expect("derive reads it too");
    assert_eq!(derived, s);
}

#[test]
fn optional_fields_may_be_absent_or_null() {
    let s = Schedule::from_json(&minimal().to_string()).expect("minimal schedule reads");
    assert_eq!(s.test, None);
    assert_eq!(s.shrunk_from, None);
    assert_eq!(s.expected_steps, None);
    assert!(s.trace.is_empty() && s.processes.is_empty() && s.detail.is_empty());
    // `trace` is required (it may be empty); a file without it is refused below.
    assert_eq!(s.strategy.params, BTreeMap::new());
    let mut v = minimal();
    v["test"] = Value::Null;
    v["shrunk_from"] = Value::Null;
    v["unknown_future_field"] = json!({"anything": [1, 2]});
    assert_eq!(Schedule::from_json(&v.to_string()), Ok(s));
}

#[test]
fn layout_is_one_field_and_one_event_per_line() {
    let text = sample().to_json().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "{");
    assert_eq!(lines[1], "  \"format\": \"lockstep-schedule\",");
    assert_eq!(lines[2], "  \"version\": 1,");
    assert!(lines.contains(&"  \"choices\": [0,0,1,0],"));
    assert!(lines.contains(&"  \"trace\": ["));
    assert!(lines.contains(
        &"    {\"step\": 1, \"time\": 0, \"proc\": 0, \"kind\": \"start\", \"text\": \"starts\"},"
    ));
    assert!(lines.contains(
        &"    {\"step\": 2, \"time\": 5, \"proc\": null, \"kind\": \"timer_fired\", \"text\": \"a timer fires for P1\"},"
    ));
    assert!(lines.contains(&"    {\"id\": 1, \"name\": \":counter\"}"));
    assert_eq!(*lines.last().unwrap(), "}");
    // Every trace event is on its own line.
    let events = lines.iter().filter(|l| l.contains("\"kind\":")).count();
    assert_eq!(events, sample().trace.len());
}

#[test]
fn trace_json_is_the_events_alone() {
    let s = sample();
    let text = s.trace_json().unwrap();
    assert_eq!(text.lines().count(), s.trace.len() + 2);
    let back: Vec<TraceEvent> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s.trace);
    let empty = Schedule::from_json(&minimal().to_string()).unwrap();
    assert_eq!(empty.trace_json().unwrap(), "[]\n");
}

#[test]
fn other_versions_are_refused_by_number() {
    for (version, expect) in [
        (
            json!(2),
            "schedule version 2 is unsupported: it was written by a newer Lockstep",
        ),
        (json!(99), "schedule version 99 is unsupported"),
        (
            json!(0),
            "schedule version 0 is unsupported: this Lockstep reads version 1",
        ),
        (
            json!("1"),
            "bad field `version`: expected a positive integer, got \"1\"",
        ),
        (
            json!(1.5),
            "bad field `version`: expected a positive integer, got 1.5",
        ),
        (
            json!(-1),
            "bad field `version`: expected a positive integer, got -1",
        ),
    ] {
        let mut v = minimal();
        v["version"] = version;
        // A newer version is refused even when its fields are unrecognisable.
        v.as_object_mut().unwrap().remove("choices");
        assert!(error_of(v).starts_with(expect), "{expect}");
    }
    let mut v = minimal();
    v.as_object_mut().unwrap().remove("version");
    assert_eq!(error_of(v), "missing field `version`");
    let mut s = sample();
    s.version = 2;
    assert_eq!(s.to_json(), Err(ScheduleError::UnsupportedVersion(2)));
}

#[test]
fn corrupt_input_is_named() {
    assert!(Schedule::from_json("")
        .unwrap_err()
        .to_string()
        .starts_with("not JSON: EOF"));
    let truncated = &sample().to_json().unwrap()[..200];
    let e = Schedule::from_json(truncated).unwrap_err().to_string();
    assert!(e.starts_with("not JSON: ") && e.contains("line"), "{e}");
    assert!(Schedule::from_json("hello")
        .unwrap_err()
        .to_string()
        .starts_with("not JSON"));
    assert_eq!(
        error_of(json!([1, 2])),
        "not a Lockstep schedule: the JSON is an array, expected an object"
    );
    assert_eq!(
        error_of(json!({"version": 1})),
        "not a Lockstep schedule: no \"format\" field (expected \"lockstep-schedule\")"
    );
    assert_eq!(
        error_of(json!({"format": "jepsen", "version": 1})),
        "not a Lockstep schedule: format is \"jepsen\", expected \"lockstep-schedule\""
    );
}

#[test]
fn missing_and_malformed_fields_are_named() {
    for field in [
        "strategy",
        "seed",
        "iteration",
        "iter_seed",
        "settings",
        "steps",
        "category",
        "choices",
        "trace",
    ] {
        let mut v = minimal();
        v.as_object_mut().unwrap().remove(field);
        assert_eq!(error_of(v), format!("missing field `{field}`"));
    }
    let mut v = minimal();
    v["seed"] = json!("seven");
    assert_eq!(
        error_of(v),
        "bad field `seed`: invalid type: string \"seven\", expected u64"
    );
    let mut v = minimal();
    v["settings"]["step_limit"] = json!("sometimes");
    let e = error_of(v);
    assert!(
        e.starts_with("bad field `settings`: unknown variant `sometimes`"),
        "{e}"
    );
    let mut v = minimal();
    v["test"] = json!({"module": "M"});
    assert_eq!(error_of(v), "bad field `test`: missing field `name`");
    let mut v = minimal();
    v["choices"] = json!([0, -1]);
    assert!(error_of(v).starts_with("bad field `choices`: invalid value: integer `-1`"));
    let mut v = minimal();
    v["trace"] = Value::Null;
    assert!(error_of(v).starts_with("bad field `trace`: invalid type: null"));
}

#[test]
fn unknown_strategies_and_categories_are_refused_with_the_allowed_values() {
    let mut v = minimal();
    v["strategy"] = json!({"name": "bogus"});
    assert_eq!(
        error_of(v),
        "bad field `strategy`: unknown strategy \"bogus\" (known: pct, fair_pct, pos, idpct, \
         random, exhaustive)"
    );
    for category in ["bogus", "Not A Category", "completed", ""] {
        let mut v = minimal();
        v["category"] = json!(category);
        assert_eq!(
            error_of(v),
            format!(
                "bad field `category`: unknown failure category \"{category}\" (known: \
                 exception, crash, exit_signal, deadlock, left_blocked, step_limit, watchdog, \
                 escape, diverged, aborted)"
            )
        );
    }
    for name in STRATEGIES {
        let mut v = minimal();
        v["strategy"] = json!({"name": name});
        assert!(Schedule::from_json(&v.to_string()).is_ok(), "{name}");
    }
    for category in CATEGORIES {
        let mut v = minimal();
        v["category"] = json!(category);
        assert!(Schedule::from_json(&v.to_string()).is_ok(), "{category}");
    }
    // Writing checks the same.
    let mut s = sample();
    s.strategy.name = "replay".into();
    assert!(s
        .to_json()
        .unwrap_err()
        .to_string()
        .contains("unknown strategy \"replay\""));
}

#[test]
fn values_repeated_in_errors_are_bounded_and_escaped() {
    let garbage = "\0".repeat(4096);
    for field in ["category", "seed", "format"] {
        let mut v = minimal();
        v[field] = json!(garbage);
        let e = error_of(v);
        assert!(!e.contains('\0'), "{field}: {e}");
        assert!(e.len() < 800, "{field}: {} bytes", e.len());
    }
    let mut v = minimal();
    v["strategy"] = json!({"name": "x".repeat(1000)});
    let e = error_of(v);
    assert!(e.contains(&format!("\"{}...\"", "x".repeat(80))), "{e}");
}

#[test]
fn contradictions_are_refused() {
    let mut v = minimal();
    v["steps"] = json!(3);
    assert_eq!(
        error_of(v),
        "inconsistent schedule: steps is 3 but choices has 2 entries"
    );
    let mut v = minimal();
    v["settings"]["max_steps"] = json!(1);
    assert_eq!(
        error_of(v),
        "inconsistent schedule: 2 steps exceed settings.max_steps 1"
    );
    let mut v = minimal();
    v["test"] = json!({"module": "M", "name": "n", "line": 3});
    assert_eq!(
        error_of(v),
        "inconsistent schedule: test.line is set but test.file is not"
    );
    let mut v = minimal();
    v["shrunk_from"] = json!({"steps": 4, "preemptions": 1, "choices": [0]});
    assert!(error_of(v).contains("shrunk_from.steps is 4"));
    let mut v = minimal();
    v["trace"] = json!([
        {"step": 2, "time": 0, "proc": 0, "kind": "start", "text": "starts"},
        {"step": 1, "time": 0, "proc": 0, "kind": "spawn", "text": "spawns P1"}
    ]);
    assert!(error_of(v).starts_with("inconsistent schedule: trace event 1 is at step 1"));
}

#[test]
fn fingerprints_tell_schedules_apart_and_are_stable() {
    let a = [ProcId(0), ProcId(1), ProcId(0)];
    let b = [ProcId(0), ProcId(0), ProcId(1)];
    let a_again: Vec<ProcId> = [0, 1, 0].into_iter().map(ProcId).collect();
    assert_eq!(fingerprint(&a), fingerprint(&a_again));
    assert_ne!(fingerprint(&a), fingerprint(&b));
    assert_ne!(fingerprint(&[]), fingerprint(&[ProcId(0)]));
    // FNV-1a of the length alone (eight zero bytes), computed here independently: the
    // fingerprint must not change between builds or machines.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for _ in 0..8 {
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    assert_eq!(fingerprint(&[]), h);
}

// A run whose root spawns a child and waits for its message; the child sends once.
fn drive(choices: Vec<ProcId>, child_sends: bool) -> Controller<u8> {
    let info = IterationInfo {
        seed: 0,
        iteration: 0,
        expected_steps: 10,
    };
    let mut ctl: Controller<u8> = Controller::new(
        Config::default(),
        StrategyConfig::Replay { choices }.build(),
        info,
    );
    ctl.bind(ProcId::ROOT).unwrap();
    let mut next = ctl.start().unwrap();
    let mut pc = [0usize; 2];
    while let Next::Resume(p, reply) = next {
        if let Reply::Spawned(child) = reply {
            ctl.bind(child).unwrap();
        }
        let i = p.index();
        let op = match (i, pc[i]) {
            (0, 0) => Op::Spawn {
                link: false,
                monitor: false,
            },
            (0, 1) => Op::Recv { timeout: None },
            (1, 0) if child_sends => Op::Send {
                to: Dest::Proc(ProcId::ROOT),
                msg: 1,
            },
            (1, 0) => Op::Recv { timeout: None },
            _ => Op::Exit {
                reason: Reason::Normal,
                crash: false,
            },
        };
        pc[i] += 1;
        next = ctl.submit(p, op).unwrap();
    }
    ctl
}

#[test]
fn a_saved_schedule_replays_strictly_and_explains_divergence() {
    let recorded = drive(
        vec![
            ProcId(0),
            ProcId(0),
            ProcId(1),
            ProcId(1),
            ProcId(0),
            ProcId(1),
            ProcId(0),
        ],
        true,
    );
    assert_eq!(recorded.outcome(), Some(&Outcome::Completed));
    let mut s = Schedule::from_json(&minimal().to_string()).unwrap();
    s.choices = recorded.choices().to_vec();
    s.steps = s.choices.len() as u64;
    let s = Schedule::from_json(&s.to_json().unwrap()).unwrap();

    let again = drive(s.choices.clone(), true);
    assert_eq!(again.outcome(), Some(&Outcome::Completed));
    assert_eq!(again.choices(), recorded.choices());
    assert_eq!(
        fingerprint(again.choices()),
        fingerprint(recorded.choices())
    );

    // The child now receives instead of sending: at step 4 the recorded process (P1, to
    // send) is waiting in a receive with an empty mailbox, and only P0 could run... which is
    // also waiting; the run ends as a deadlock before the schedule is followed.
    let changed = drive(s.choices.clone(), false);
    match changed.outcome() {
        Some(Outcome::Deadlock(_)) => {}
        other => panic!("expected the changed program to deadlock, got {other:?}"),
    }
    assert_eq!(
        changed.status(ProcId(1)),
        ProcStatus::Waiting {
            op: OpKind::Recv,
            enabled: false
        }
    );

    // A schedule that asks for a process that is not enabled diverges, naming it.
    let wrong = vec![ProcId(0), ProcId(0), ProcId(0)];
    let diverged = drive(wrong, true);
    match diverged.outcome() {
        Some(Outcome::Diverged(PickError::Diverged {
            step: 3,
            expected: ProcId(0),
            enabled,
        })) => assert_eq!(enabled, &vec![ProcId(1)]),
        other => panic!("expected a divergence at step 3, got {other:?}"),
    }
    assert_eq!(
        diverged.status(ProcId(0)),
        ProcStatus::Waiting {
            op: OpKind::Recv,
            enabled: false
        }
    );
    assert_eq!(diverged.status(ProcId(7)), ProcStatus::Unknown);

    // A program that runs past the end of its schedule is reported as exhausted.
    let short = drive(vec![ProcId(0), ProcId(0)], true);
    assert!(matches!(
        short.outcome(),
        Some(Outcome::Diverged(PickError::Exhausted { step: 3 }))
    ));
}

fn arb_event() -> impl Strategy<Value = TraceEvent> {
    (
        0u64..5,
        any::<u64>(),
        proptest::option::of(0u32..20),
        "[a-z_]{1,12}",
        any::<String>(),
        proptest::collection::btree_map(
            "[a-z]{1,8}",
            prop_oneof![
                any::<bool>().prop_map(Field::Bool),
                any::<i64>().prop_map(Field::Int),
                any::<String>().prop_map(Field::Text),
            ],
            0..4,
        ),
    )
        .prop_map(|(step, time, proc, kind, text, fields)| TraceEvent {
            step,
            time,
            proc: proc.map(ProcId),
            kind,
            text,
            fields,
        })
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    (
        proptest::collection::vec(0u32..8, 0..40),
        any::<(u64, u64, u64)>(),
        proptest::option::of((
            any::<String>(),
            any::<String>(),
            proptest::option::of(1u32..9999),
        )),
        proptest::collection::vec(arb_event(), 0..20),
        proptest::sample::select(CATEGORIES),
        any::<String>(),
        proptest::option::of((0u64..50, any::<bool>())),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(
            |(
                choices,
                (seed, iteration, iter_seed),
                test,
                mut trace,
                category,
                detail,
                shrunk,
                flags,
            )| {
                let steps = choices.len() as u64;
                for e in trace.iter_mut() {
                    e.step = e.step.min(steps);
                }
                trace.sort_by_key(|e| e.step);
                Schedule {
                    format: FORMAT.into(),
                    version: VERSION,
                    created_by: None,
                    test: test.map(|(module, name, line)| TestIdentity {
                        module,
                        name,
                        file: line.map(|_| "test/x_test.exs".into()),
                        line,
                    }),
                    strategy: StrategySpec {
                        name: "random".into(),
                        params: BTreeMap::new(),
                        text: None,
                    },
                    seed,
                    iteration,
                    iter_seed,
                    expected_steps: if flags.2 { Some(steps) } else { None },
                    settings: RunSettings {
                        max_steps: steps.max(1) + 3,
                        allow_crashes: flags.0,
                        fail_on_blocked: flags.1,
                        step_limit: if flags.2 {
                            StepLimit::Fail
                        } else {
                            StepLimit::Stop
                        },
                        fail_on_abnormal_exit: flags.0,
                        timers: if flags.1 { Timers::Race } else { Timers::Idle },
                        settle: if flags.2 { Some(steps) } else { None },
                        time_per_step: steps % 3,
                        clock_start: iter_seed,
                        faults: FaultSettings {
                            partitions: (steps % 2) as u32,
                            crashes: (iteration % 3) as u32,
                        },
                        node: if flags.0 {
                            Some(format!("n{seed}"))
                        } else {
                            None
                        },
                    },
                    steps,
                    category: category.to_string(),
                    detail,
                    choices: choices.into_iter().map(ProcId).collect(),
                    shrunk_from: shrunk.map(|(n, keep)| ShrunkFrom {
                        steps: n,
                        preemptions: n / 2,
                        choices: keep.then(|| vec![ProcId(0); n as usize]),
                    }),
                    processes: vec![],
                    trace,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_valid_schedule_round_trips(s in arb_schedule()) {
        let text = s.to_json().expect("valid schedules write");
        prop_assert_eq!(Schedule::from_json(&text), Ok(s));
    }

    #[test]
    fn no_input_panics_the_reader(text in any::<String>()) {
        let _ = Schedule::from_json(&text);
    }

    #[test]
    fn truncated_files_are_refused_not_misread(cut in 0usize..400) {
        let text = sample().to_json().unwrap();
        let cut = cut.min(text.len() - 2);
        if text.is_char_boundary(cut) {
            let e = Schedule::from_json(&text[..cut]).unwrap_err();
            prop_assert!(matches!(e, ScheduleError::NotJson(_)), "{}", e);
        }
    }
}

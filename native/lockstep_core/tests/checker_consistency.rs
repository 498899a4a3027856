//! Sequential and causal consistency on small, classic histories.

use lockstep_core::checker::causal::{bad_patterns, BadPattern, CausalKind};
use lockstep_core::checker::{
    check_causal, check_causal_events, check_events, check_sequential_events, CausalModel,
    CausalOp, CheckError, CheckOptions, Event, EventKind, ModelKind, Value,
};

fn int(i: i64) -> Value {
    Value::Int(i)
}

/// Sequential per-process operations given as (process, f, invoke value, completion value).
fn seq(ops: &[(u64, &str, Value, Value)]) -> Vec<Event> {
    ops.iter()
        .flat_map(|(p, f, i, o)| {
            [
                Event::new(*p, EventKind::Invoke, f, i.clone()),
                Event::new(*p, EventKind::Ok, f, o.clone()),
            ]
        })
        .collect()
}

#[test]
fn stale_read_is_sequentially_consistent_but_not_linearizable() {
    let h = seq(&[
        (0, "write", int(1), int(1)),
        (1, "read", Value::Nil, Value::Nil),
    ]);
    let o = CheckOptions::new(ModelKind::Register);
    assert!(check_events(&h, &o).expect("ok").verdict.is_violation());
    assert!(check_sequential_events(&h, &o).expect("ok").is_consistent());
}

#[test]
fn reads_out_of_program_order_are_not_sequentially_consistent() {
    let h = seq(&[
        (0, "write", int(1), int(1)),
        (0, "write", int(2), int(2)),
        (1, "read", Value::Nil, int(2)),
        (1, "read", Value::Nil, int(1)),
    ]);
    let o = CheckOptions::new(ModelKind::Register);
    let v = check_sequential_events(&h, &o).expect("ok");
    let lockstep_core::checker::ConsistencyVerdict::Inconsistent { reason } = v else {
        panic!("{v:?}")
    };
    assert!(
        reason.contains("longest legal prefix places 3 of 4"),
        "{reason}"
    );
    let cc = check_causal_events(&h, &o, CausalModel::CC).expect("differentiated");
    assert!(cc.is_inconsistent());
}

#[test]
fn sequential_consistency_is_not_compositional() {
    // Each key alone is sequentially consistent; together there is no interleaving (store buffering).
    let kv = |p: u64, f: &str, k: &str, v: Value| {
        [
            Event::new(
                p,
                EventKind::Invoke,
                f,
                if f == "get" { Value::Nil } else { v.clone() },
            )
            .with_key(Value::Str(k.into())),
            Event::new(p, EventKind::Ok, f, v).with_key(Value::Str(k.into())),
        ]
    };
    let mut h = Vec::new();
    h.extend(kv(0, "put", "x", int(1)));
    h.extend(kv(1, "put", "y", int(1)));
    h.extend(kv(0, "get", "y", Value::Nil));
    h.extend(kv(1, "get", "x", Value::Nil));
    let o = CheckOptions::new(ModelKind::Kv);
    assert!(check_sequential_events(&h, &o)
        .expect("ok")
        .is_inconsistent());
    for key in ["x", "y"] {
        let only: Vec<Event> = h
            .iter()
            .filter(|e| e.key == Some(Value::Str(key.into())))
            .cloned()
            .collect();
        assert!(
            check_sequential_events(&only, &o)
                .expect("ok")
                .is_consistent(),
            "key {key}"
        );
    }
}

#[test]
fn open_operations_may_be_left_out_of_sequential_orders() {
    let mut h = seq(&[(1, "read", Value::Nil, int(5))]);
    h.insert(0, Event::new(0, EventKind::Invoke, "write", int(5)));
    let o = CheckOptions::new(ModelKind::Register);
    assert!(check_sequential_events(&h, &o).expect("ok").is_consistent());
    let h2 = vec![Event::new(0, EventKind::Invoke, "write", int(5))];
    assert!(check_sequential_events(&h2, &o)
        .expect("ok")
        .is_consistent());
}

fn w(p: u64, v: i64) -> CausalOp {
    CausalOp {
        process: p,
        key: Value::Keyword("x".into()),
        kind: CausalKind::Write,
        value: int(v),
    }
}
fn r(p: u64, v: Value) -> CausalOp {
    CausalOp {
        process: p,
        key: Value::Keyword("x".into()),
        kind: CausalKind::Read,
        value: v,
    }
}
fn on(key: &str, mut op: CausalOp) -> CausalOp {
    op.key = Value::Keyword(key.into());
    op
}

fn verdicts(ops: &[CausalOp]) -> [bool; 3] {
    [CausalModel::CC, CausalModel::CM, CausalModel::CCv].map(|m| {
        check_causal(ops, m, &Value::Nil)
            .expect("differentiated")
            .is_consistent()
    })
}

#[test]
fn causal_memory_but_not_convergent() {
    // Each process sees its own write first, then the other's: no single arbitration of the writes.
    let h = [w(1, 1), r(1, int(2)), w(2, 2), r(2, int(1))];
    assert_eq!(verdicts(&h), [true, true, false]);
}

#[test]
fn causally_consistent_but_neither_causal_memory_nor_convergent() {
    // Process 1 sees 2 after its own 1, then 1 again: fine read by read, not as one view.
    let h = [w(1, 1), r(1, int(2)), r(1, int(1)), w(2, 2)];
    assert_eq!(verdicts(&h), [true, false, false]);
    let found = bad_patterns(&h, &Value::Nil).expect("differentiated");
    assert!(
        found
            .iter()
            .any(|p| matches!(p, BadPattern::CyclicHB { process: 1, .. })),
        "{found:?}"
    );
}

#[test]
fn causal_bad_patterns() {
    // WriteCORead: 1 then 2 written in order, a reader sees 2 then 1.
    let h = [w(1, 1), w(1, 2), r(2, int(2)), r(2, int(1))];
    assert_eq!(verdicts(&h), [false, false, false]);
    assert!(bad_patterns(&h, &Value::Nil)
        .expect("ok")
        .iter()
        .any(|p| matches!(p, BadPattern::WriteCORead { .. })));
    // WriteCOInitRead: a process does not see its own write.
    let h = [w(1, 1), r(1, Value::Nil)];
    assert_eq!(verdicts(&h), [false, false, false]);
    // ThinAirRead.
    let h = [r(1, int(9))];
    assert!(matches!(
        bad_patterns(&h, &Value::Nil).expect("ok")[..],
        [BadPattern::ThinAirRead { read: 0 }]
    ));
    // CyclicCO: each process reads the other's later write before writing.
    let h = [
        r(1, int(2)),
        on("y", w(1, 1)),
        on("y", r(2, int(1))),
        w(2, 2),
    ];
    assert!(bad_patterns(&h, &Value::Nil)
        .expect("ok")
        .iter()
        .any(|p| matches!(p, BadPattern::CyclicCO { .. })));
    assert_eq!(verdicts(&h), [false, false, false]);
    // A plainly fine history.
    let h = [w(1, 1), r(2, int(1)), w(2, 2), r(1, int(2))];
    assert_eq!(verdicts(&h), [true, true, true]);
    // Describing patterns mentions the operations.
    let v = check_causal(&[w(1, 1), r(1, Value::Nil)], CausalModel::CC, &Value::Nil).expect("ok");
    let lockstep_core::checker::ConsistencyVerdict::Inconsistent { reason } = v else {
        panic!()
    };
    assert!(
        reason.contains("WriteCOInitRead") && reason.contains("process 1 write :x 1"),
        "{reason}"
    );
}

#[test]
fn causal_requires_differentiated_histories() {
    assert!(matches!(
        check_causal(&[w(1, 1), w(2, 1)], CausalModel::CC, &Value::Nil),
        Err(CheckError::Model { .. })
    ));
    assert!(matches!(
        check_causal(&[w(1, 0)], CausalModel::CC, &int(0)),
        Err(CheckError::Model { .. })
    ));
    let cas = vec![Event::new(
        0,
        EventKind::Invoke,
        "cas",
        Value::List(vec![int(1), int(2)]),
    )];
    assert!(check_causal_events(
        &cas,
        &CheckOptions::new(ModelKind::CasRegister),
        CausalModel::CC
    )
    .is_err());
}

//! The linearizability search against a brute-force oracle on small random histories, with
//! overlapping, nested and open (`info`) operations: every verdict must agree. The search's
//! configuration cache keys sets of operations by a frontier plus extras; this is what shows
//! the compact keys identify exactly the same configurations as a full bitset would.

use lockstep_core::checker::models::register::{RegisterInput, RegisterModel, RegisterOutput};
use lockstep_core::checker::models::{Model, Step};
use lockstep_core::checker::{check_operations, LinearizabilityOptions, Operation, Value};
use proptest::prelude::*;

type Op = Operation<RegisterInput, RegisterOutput>;

/// Is there an order of all completed operations and any subset of the open ones that respects
/// real time (a before b when a returned before b was invoked) and that the model accepts?
fn brute_force(model: &RegisterModel, ops: &[Op]) -> bool {
    fn go(model: &RegisterModel, ops: &[Op], done: &mut Vec<bool>, state: &Value) -> bool {
        let left = ops
            .iter()
            .enumerate()
            .any(|(i, o)| !done[i] && o.ret.is_some());
        if !left {
            return true;
        }
        for i in 0..ops.len() {
            if done[i] {
                continue;
            }
            // i may go next unless some pending completed op returned before i was invoked.
            let blocked = ops
                .iter()
                .enumerate()
                .any(|(k, o)| !done[k] && k != i && o.ret.is_some_and(|r| r < ops[i].call));
            if blocked {
                continue;
            }
            if let Step::Legal(next) = model.step(state, &ops[i].input, &ops[i].output) {
                done[i] = true;
                let ok = go(model, ops, done, &next);
                done[i] = false;
                if ok {
                    return true;
                }
            }
        }
        false
    }
    go(model, ops, &mut vec![false; ops.len()], &model.init())
}

/// (process, kind, value, call, duration or open)
fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (
            0u8..3,
            0u8..3,
            0i64..3,
            0u64..12,
            prop::option::weighted(0.8, 0u64..6),
        ),
        0..12,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (kind, cas_ok, v, call, dur))| {
                let (input, output) = match kind {
                    0 => (RegisterInput::Read, RegisterOutput::Read(Value::Int(v))),
                    1 => (RegisterInput::Write(Value::Int(v)), RegisterOutput::Ok),
                    _ => (
                        RegisterInput::Cas(Value::Int(v), Value::Int((v + 1) % 3)),
                        if cas_ok == 0 {
                            RegisterOutput::Fail
                        } else {
                            RegisterOutput::Ok
                        },
                    ),
                };
                let ret = dur.map(|d| call * 2 + 1 + d * 2);
                let output = if ret.is_none() {
                    RegisterOutput::Unknown
                } else {
                    output
                };
                Operation {
                    process: i as u64,
                    input,
                    output,
                    call: call * 2,
                    ret,
                    source: i,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_search_agrees_with_brute_force(ops in ops_strategy(), init in 0i64..3) {
        let model = RegisterModel::with_cas(Value::Int(init));
        let expected = brute_force(&model, &ops);
        let report = check_operations(&model, &ops, &LinearizabilityOptions::default());
        prop_assert_eq!(report.verdict.is_linearizable(), expected, "{:?}", report.verdict);
    }
}

/// Many long histories of mostly sequential operations with a wide window of overlap, so the
/// frontier moves past word boundaries and the extras span words: still linearizable.
#[test]
fn long_overlapping_histories_are_linearizable() {
    for width in [1u64, 3, 63, 64, 65, 130] {
        let model = RegisterModel::new(Value::Int(0));
        // Writes of i at [i, i + width]: all overlap their neighbours; reads never.
        let ops: Vec<Op> = (0..2000u64)
            .map(|i| Operation {
                process: i,
                input: RegisterInput::Write(Value::Int(i as i64)),
                output: RegisterOutput::Ok,
                call: i * 2,
                ret: Some(i * 2 + 1 + width * 2),
                source: i as usize,
            })
            .collect();
        let report = check_operations(&model, &ops, &LinearizabilityOptions::default());
        assert!(report.verdict.is_linearizable(), "width {width}");
    }
}

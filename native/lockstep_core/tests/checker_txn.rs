//! The multi-register model: `:txn` transactions over registers named by keys, checked as a
//! whole (strict serializability), partitioned by groups of keys transactions connect.

use lockstep_core::checker::{
    check_events, check_text, CheckOptions, Event, EventKind, ModelKind, Rules, Value, Verdict,
};

fn opts() -> CheckOptions {
    CheckOptions {
        initial: Some(Value::Int(0)),
        ..CheckOptions::new(ModelKind::MultiRegister)
    }
}

fn check(text: &str, o: &CheckOptions) -> Verdict {
    check_text(text, o).unwrap_or_else(|e| panic!("{e}"))
}

/// T0 writes x and y together; T1, concurrent with it, reads both; T2 reads both after it.
const GOOD: &str = "\
{:process 0, :type :invoke, :f :txn, :value [[:w :x 1] [:w :y 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r :x 0] [:r :y 0]]}
{:process 0, :type :ok, :f :txn, :value [[:w :x 1] [:w :y 1]]}
{:process 2, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil] [:w :x 2]]}
{:process 2, :type :ok, :f :txn, :value [[:r :x 1] [:r :y 1] [:w :x 2]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:process 1, :type :ok, :f :txn, :value [[:read :x 2]]}
";

#[test]
fn a_correct_history_is_linearizable() {
    assert_eq!(check(GOOD, &opts()), Verdict::Linearizable);
}

#[test]
fn a_stale_read_after_a_transaction_completed_is_caught() {
    let stale = GOOD.replace(
        "[[:r :x 1] [:r :y 1] [:w :x 2]]",
        "[[:r :x 1] [:r :y 0] [:w :x 2]]",
    );
    let Verdict::NotLinearizable { explanation } = check(&stale, &opts()) else {
        panic!("expected a violation");
    };
    let stuck = explanation.longest[0].stuck.as_ref().expect("stuck op");
    assert_eq!(stuck.process, 2, "{}", explanation.text);
    assert!(
        explanation
            .text
            .contains("txn [r :x 1] [r :y 0] [w :x 2] -> ok (lines 5..6)"),
        "{}",
        explanation.text
    );
    assert_eq!(explanation.partition.as_deref(), Some("keys :x, :y"));
}

#[test]
fn a_read_inside_a_transaction_must_see_its_own_write() {
    let text = "\
{:process 0, :type :invoke, :f :txn, :value [[:w :x 5] [:r :x nil]]}
{:process 0, :type :ok, :f :txn, :value [[:w :x 5] [:r :x 0]]}
";
    assert!(check(text, &opts()).is_violation());
    let fine = text.replace("[:r :x 0]", "[:r :x 5]");
    assert_eq!(check(&fine, &opts()), Verdict::Linearizable);
}

#[test]
fn a_fractured_read_across_keys_is_caught_even_when_each_key_alone_looks_fine() {
    // T1 reads x after T0's write but y before it: no single instant explains both reads.
    let text = "\
{:process 0, :type :invoke, :f :txn, :value [[:w :x 1] [:w :y 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r :x 1] [:r :y 0]]}
{:process 0, :type :ok, :f :txn, :value [[:w :x 1] [:w :y 1]]}
";
    assert!(check(text, &opts()).is_violation());
}

#[test]
fn open_and_failed_transactions() {
    // An :info write may have happened; a failed one did not.
    let info = "\
{:process 0, :type :invoke, :f :txn, :value [[:w :x 3]]}
{:process 0, :type :info, :f :txn, :value [[:w :x 3]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r :x 3]]}
";
    assert_eq!(check(info, &opts()), Verdict::Linearizable);
    let failed = info.replace(":type :info", ":type :fail");
    assert!(check(&failed, &opts()).is_violation());
}

#[test]
fn nil_reads_follow_the_rule() {
    let text = "\
{:process 0, :type :invoke, :f :txn, :value [[:w :x 1]]}
{:process 0, :type :ok, :f :txn, :value [[:w :x 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r :x nil] [:r :y 0]]}
";
    assert!(check(text, &opts()).is_violation());
    let knossos = CheckOptions::with_rules(ModelKind::MultiRegister, Rules::Knossos);
    assert_eq!(check(text, &knossos), Verdict::Linearizable);
}

fn txn(p: u64, kind: EventKind, micro: &[(&str, &str, Value)]) -> Event {
    let value = Value::List(
        micro
            .iter()
            .map(|(f, k, v)| {
                Value::List(vec![
                    Value::Keyword(f.to_string()),
                    Value::Keyword(k.to_string()),
                    v.clone(),
                ])
            })
            .collect(),
    );
    Event::new(p, kind, "txn", value)
}

#[test]
fn disjoint_keys_are_searched_apart_and_connected_keys_together() {
    use EventKind::{Invoke, Ok};
    let w = |k, v| ("w", k, Value::Int(v));
    let events = vec![
        txn(0, Invoke, &[w("a", 1)]),
        txn(0, Ok, &[w("a", 1)]),
        txn(1, Invoke, &[w("b", 1), w("c", 1)]),
        txn(1, Ok, &[w("b", 1), w("c", 1)]),
        txn(2, Invoke, &[w("c", 2), w("d", 2)]),
        txn(2, Ok, &[w("c", 2), w("d", 2)]),
        txn(3, Invoke, &[w("e", 1)]),
        txn(3, Ok, &[w("e", 1)]),
    ];
    let report = check_events(&events, &opts()).expect("checks");
    assert!(report.verdict.is_linearizable());
    assert_eq!(report.partitions, 3, "{{a}}, {{b, c, d}}, {{e}}");
    let mut whole = opts();
    whole.linearizability.partition = false;
    assert_eq!(check_events(&events, &whole).expect("checks").partitions, 1);
}

#[test]
fn single_key_operations_check_as_with_kv() {
    let history = |cas: &str, got: i64| {
        format!(
            "{{:process 0, :type :invoke, :f :put, :key \"a\", :value 1}}
{{:process 0, :type :ok, :f :put, :key \"a\", :value 1}}
{{:process 1, :type :invoke, :f :cas, :key \"a\", :value [1 2]}}
{{:process 1, :type :{cas}, :f :cas, :key \"a\", :value [1 2]}}
{{:process 1, :type :invoke, :f :get, :key \"a\", :value nil}}
{{:process 1, :type :ok, :f :get, :key \"a\", :value {got}}}
"
        )
    };
    for model in [ModelKind::Kv, ModelKind::MultiRegister] {
        let o = CheckOptions::new(model);
        // The failed cas saw another value than 1, but the register held 1.
        assert!(check(&history("fail", 1), &o).is_violation(), "{model:?}");
        assert_eq!(
            check(&history("ok", 2), &o),
            Verdict::Linearizable,
            "{model:?}"
        );
        assert!(check(&history("ok", 1), &o).is_violation(), "{model:?}");
    }
}

#[test]
fn model_names() {
    assert_eq!(
        "multi_register".parse::<ModelKind>(),
        Ok(ModelKind::MultiRegister)
    );
    assert_eq!(
        "multi-register".parse::<ModelKind>(),
        Ok(ModelKind::MultiRegister)
    );
    for kv in ["kv", "key_value", "map"] {
        assert_eq!(kv.parse::<ModelKind>(), Ok(ModelKind::Kv));
    }
}

#[test]
fn malformed_transactions_are_errors() {
    for value in ["[:r :x 1]", "3", "[[:r :x]]", "[[:frob :x 1]]"] {
        let text = format!(
            "{{:process 0, :type :invoke, :f :txn, :value {value}}}\n\
             {{:process 0, :type :ok, :f :txn, :value {value}}}\n"
        );
        let err = check_text(&text, &opts()).expect_err(value);
        assert!(
            err.to_string().contains("micro-operations"),
            "{value}: {err}"
        );
    }
    let keyless = "{:process 0, :type :invoke, :f :read, :value nil}\n\
                   {:process 0, :type :ok, :f :read, :value 1}\n";
    assert!(check_text(keyless, &opts()).is_err());
}

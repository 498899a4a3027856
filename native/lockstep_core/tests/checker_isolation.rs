//! Isolation checking (Elle-style cycles) over generated histories: a correct store passes at
//! every consistency model, injected anomalies are found by name, and the models nest.

use lockstep_core::checker::isolation::generate::{history, to_edn, Spec};
use lockstep_core::checker::isolation::{
    check_isolation, check_isolation_text, AnomalyKind, ConsistencyModel, IsolationOptions,
    IsolationReport, IsolationVerdict, Workload,
};
use lockstep_core::checker::{Event, Format};
use proptest::prelude::*;

fn opts(model: ConsistencyModel) -> IsolationOptions {
    IsolationOptions {
        model,
        ..IsolationOptions::default()
    }
}

fn check(events: &[Event], w: Workload, model: ConsistencyModel) -> IsolationReport {
    check_isolation(events, w, &opts(model)).unwrap_or_else(|e| panic!("{e}"))
}

const WORKLOADS: [Workload; 2] = [Workload::ListAppend, Workload::RwRegister];

#[test]
fn a_correct_store_passes_at_every_model() {
    for w in WORKLOADS {
        for seed in 0..20 {
            let events = history(&Spec::correct(w, seed, 300));
            for m in ConsistencyModel::ALL {
                let r = check(&events, w, m);
                assert_eq!(
                    r.verdict,
                    IsolationVerdict::Valid,
                    "{w:?} seed {seed} {m}: {}",
                    r.text
                );
                assert!(r.counts.is_empty(), "{w:?} seed {seed}: {}", r.text);
            }
        }
    }
}

#[test]
fn edn_round_trip_gives_the_same_verdicts() {
    let spec = Spec {
        faults: (100, 50),
        ..Spec::correct(Workload::ListAppend, 7, 400)
    };
    let events = history(&spec);
    let text = to_edn(&events);
    for m in ConsistencyModel::ALL {
        let direct = check(&events, Workload::ListAppend, m);
        let (parsed, _) =
            check_isolation_text(&text, Format::Edn, true, Workload::ListAppend, &opts(m));
        assert_eq!(parsed.unwrap(), direct);
    }
}

/// Anomalous transactions on keys and processes of their own, in EDN, and what they are.
fn injections() -> Vec<(Workload, &'static str, Vec<AnomalyKind>)> {
    use AnomalyKind::*;
    vec![
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:append :x 1] [:append :y 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:append :x 2] [:append :y 2]]}
               {:type :ok, :f :txn, :process 102, :value [[:r :x [1 2]] [:r :y [2 1]]]}"#,
            vec![G0],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:append :x 1] [:r :y [1]]]}
               {:type :ok, :f :txn, :process 101, :value [[:append :y 1] [:r :x [1]]]}"#,
            vec![G1c],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:r :x []] [:r :y [1]]]}
               {:type :ok, :f :txn, :process 101, :value [[:append :x 1] [:append :y 1]]}
               {:type :ok, :f :txn, :process 102, :value [[:r :x [1]]]}"#,
            vec![GSingle],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:r :x []] [:append :y 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :y []] [:append :x 1]]}
               {:type :ok, :f :txn, :process 102, :value [[:r :x [1]] [:r :y [1]]]}"#,
            vec![G2Item],
        ),
        (
            Workload::ListAppend,
            r#"{:type :fail, :f :txn, :process 100, :value [[:append :x 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x [1]]]}"#,
            vec![G1a],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:append :x 1] [:append :x 2]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x [1]]]}"#,
            vec![G1b],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:append :x 1] [:r :x [2]]]}
               {:type :ok, :f :txn, :process 101, :value [[:append :x 2]]}"#,
            vec![Internal],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:append :x 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x [1 1]]]}"#,
            vec![DuplicateElements],
        ),
        (
            Workload::ListAppend,
            r#"{:type :fail, :f :txn, :process 100, :value [[:append :x 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:append :x 2]]}
               {:type :ok, :f :txn, :process 102, :value [[:r :x [1 2]]]}"#,
            vec![G1a, DirtyUpdate],
        ),
        (
            Workload::ListAppend,
            r#"{:type :ok, :f :txn, :process 100, :value [[:r :x []] [:append :x 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x []] [:append :x 2]]}
               {:type :ok, :f :txn, :process 102, :value [[:r :x [1 2]]]}"#,
            vec![GSingle, LostUpdate],
        ),
        (
            Workload::RwRegister,
            r#"{:type :ok, :f :txn, :process 100, :value [[:w :x 1] [:r :y 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:w :y 1] [:r :x 1]]}"#,
            vec![G1c],
        ),
        (
            Workload::RwRegister,
            r#"{:type :ok, :f :txn, :process 100, :value [[:r :x nil] [:r :y 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:w :x 1] [:w :y 1]]}"#,
            vec![GSingle],
        ),
        (
            Workload::RwRegister,
            r#"{:type :ok, :f :txn, :process 100, :value [[:r :x nil] [:w :x 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x nil] [:w :x 2]]}"#,
            vec![G2Item, LostUpdate],
        ),
        (
            Workload::RwRegister,
            r#"{:type :fail, :f :txn, :process 100, :value [[:w :x 1]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x 1]]}"#,
            vec![G1a],
        ),
        (
            Workload::RwRegister,
            r#"{:type :ok, :f :txn, :process 100, :value [[:w :x 1] [:w :x 2]]}
               {:type :ok, :f :txn, :process 101, :value [[:r :x 1]]}"#,
            vec![G1b],
        ),
    ]
}

#[test]
fn injected_anomalies_are_found_by_name() {
    for (i, (w, snippet, expected)) in injections().into_iter().enumerate() {
        let mut text = to_edn(&history(&Spec::correct(w, i as u64, 200)));
        text.push_str(snippet);
        let (r, _) = check_isolation_text(
            &text,
            Format::Edn,
            true,
            w,
            &opts(ConsistencyModel::Serializable),
        );
        let r = r.unwrap();
        let kinds: Vec<AnomalyKind> = r.counts.iter().map(|c| c.0).collect();
        assert_eq!(kinds, expected, "injection {i}: {}", r.text);
        assert_eq!(r.verdict, IsolationVerdict::Invalid);
        // The explanation names the injected transactions' processes.
        assert!(
            r.anomalies[0].txns.iter().all(|t| t.process >= 100),
            "{}",
            r.text
        );
    }
}

#[test]
fn a_faulty_store_is_caught() {
    // Snapshot reads with blind commits lose updates; interleaved micro-ops break everything.
    for w in WORKLOADS {
        let snap = history(&Spec {
            faults: (300, 0),
            ..Spec::correct(w, 1, 500)
        });
        let r = check(&snap, w, ConsistencyModel::Serializable);
        assert_eq!(r.verdict, IsolationVerdict::Invalid, "{w:?}: {}", r.text);
        let mixed = history(&Spec {
            faults: (0, 400),
            ..Spec::correct(w, 2, 500)
        });
        let r = check(&mixed, w, ConsistencyModel::ReadCommitted);
        assert_eq!(r.verdict, IsolationVerdict::Invalid, "{w:?}: {}", r.text);
    }
}

fn valid(events: &[Event], w: Workload, m: ConsistencyModel) -> bool {
    check(events, w, m).verdict == IsolationVerdict::Valid
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Stronger models forbid more: valid under serializable implies valid under snapshot
    /// isolation and read committed, and so on down the lattice.
    #[test]
    fn models_nest(seed in any::<u64>(), la in any::<bool>(), snap in 0u32..200, mixed in 0u32..100, n in 20usize..150) {
        let w = if la { Workload::ListAppend } else { Workload::RwRegister };
        let events = history(&Spec { faults: (snap, mixed), ..Spec::correct(w, seed, n) });
        use ConsistencyModel::*;
        let v: Vec<bool> = ConsistencyModel::ALL.iter().map(|m| valid(&events, w, *m)).collect();
        let at = |m: ConsistencyModel| v[ConsistencyModel::ALL.iter().position(|x| *x == m).unwrap()];
        prop_assert!(!at(StrictSerializable) || at(Serializable));
        prop_assert!(!at(Serializable) || (at(SnapshotIsolation) && at(ReadCommitted) && at(RepeatableRead)));
        prop_assert!(!at(SnapshotIsolation) || at(ReadCommitted));
        prop_assert!(!at(Causal) || at(ReadCommitted));
        prop_assert!(!at(ReadCommitted) || at(ReadUncommitted));
    }

    /// Atomic execution is strict serializable whatever the seed, the failures and the
    /// unknown outcomes.
    #[test]
    fn atomic_is_always_strict_serializable(seed in any::<u64>(), la in any::<bool>(), n in 1usize..200, fail in 0u32..300, info in 0u32..300) {
        let w = if la { Workload::ListAppend } else { Workload::RwRegister };
        let events = history(&Spec { fail, info, ..Spec::correct(w, seed, n) });
        let r = check(&events, w, ConsistencyModel::StrictSerializable);
        prop_assert_eq!(r.verdict, IsolationVerdict::Valid, "{}", r.text);
    }
}

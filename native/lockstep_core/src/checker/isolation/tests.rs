use super::*;

fn check(workload: Workload, model: ConsistencyModel, edn: &str) -> IsolationReport {
    let opts = IsolationOptions {
        model,
        ..IsolationOptions::default()
    };
    let (r, _) = check_isolation_text(edn, Format::Edn, false, workload, &opts);
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn la(model: ConsistencyModel, edn: &str) -> IsolationReport {
    check(Workload::ListAppend, model, edn)
}

fn kinds(r: &IsolationReport) -> Vec<AnomalyKind> {
    r.counts.iter().map(|c| c.0).collect()
}

use AnomalyKind as K;
use ConsistencyModel as M;

const G0: &str = r#"
{:type :ok, :f :txn, :process 0, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :f :txn, :process 1, :value [[:append :x 2] [:append :y 2]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1 2]] [:r :y [2 1]]]}
"#;

#[test]
fn g0_is_a_write_cycle() {
    let r = la(M::ReadUncommitted, G0);
    assert_eq!(r.verdict, IsolationVerdict::Invalid, "{}", r.text);
    assert!(kinds(&r).contains(&K::G0), "{}", r.text);
    let a = &r.anomalies[0];
    assert_eq!(a.kind, K::G0);
    assert_eq!(a.steps.len(), 2);
    assert!(a.steps.iter().all(|s| s.kind == "ww"));
    assert!(
        a.text
            .contains("T1 appended 1 to :x and T2 appended 2, the next element"),
        "{}",
        a.text
    );
    assert!(
        r.text.starts_with("not read-uncommitted: G0 (1)"),
        "{}",
        r.text
    );
}

const G1C: &str = r#"
{:type :ok, :f :txn, :process 0, :value [[:append :x 1] [:r :y [1]]]}
{:type :ok, :f :txn, :process 1, :value [[:append :y 1] [:r :x [1]]]}
"#;

#[test]
fn g1c_is_circular_information_flow() {
    let r = la(M::ReadCommitted, G1C);
    assert_eq!(kinds(&r), vec![K::G1c], "{}", r.text);
    assert_eq!(r.verdict, IsolationVerdict::Invalid);
    assert!(r.anomalies[0]
        .text
        .contains("T1 appended 1 to :x, and T2 read :x = [1]"));
    // Read uncommitted allows it.
    assert_eq!(la(M::ReadUncommitted, G1C).verdict, IsolationVerdict::Valid)
}

const READ_SKEW: &str = r#"
{:type :ok, :f :txn, :process 0, :value [[:r :x []] [:r :y [1]]]}
{:type :ok, :f :txn, :process 1, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1]]]}
"#;

#[test]
fn g_single_is_read_skew() {
    let r = la(M::SnapshotIsolation, READ_SKEW);
    assert_eq!(kinds(&r), vec![K::GSingle], "{}", r.text);
    assert_eq!(r.verdict, IsolationVerdict::Invalid);
    let text = &r.anomalies[0].text;
    assert!(text.contains("T1 -rw-> T2: T1 read :x = [], and T2 appended 1, the next element (:x's order as T3 read it)"), "{text}");
    assert!(
        text.contains("T2 -wr-> T1: T2 appended 1 to :y, and T1 read :y = [1]"),
        "{text}"
    );
    assert_eq!(
        la(M::ReadCommitted, READ_SKEW).verdict,
        IsolationVerdict::Valid
    );
}

const WRITE_SKEW: &str = r#"
{:type :ok, :f :txn, :process 0, :value [[:r :x []] [:append :y 1]]}
{:type :ok, :f :txn, :process 1, :value [[:r :y []] [:append :x 1]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1]] [:r :y [1]]]}
"#;

#[test]
fn g2_is_write_skew_which_snapshot_isolation_allows() {
    let r = la(M::Serializable, WRITE_SKEW);
    assert_eq!(kinds(&r), vec![K::G2Item], "{}", r.text);
    assert_eq!(r.verdict, IsolationVerdict::Invalid);
    let si = la(M::SnapshotIsolation, WRITE_SKEW);
    assert_eq!(si.verdict, IsolationVerdict::Valid, "{}", si.text);
    assert!(si
        .text
        .contains("also found, allowed by snapshot-isolation: G2-item (1)"));
    assert_eq!(
        la(M::RepeatableRead, WRITE_SKEW).verdict,
        IsolationVerdict::Invalid
    );
}

#[test]
fn aborted_intermediate_and_internal_reads() {
    let r = la(
        M::ReadCommitted,
        r#"
{:type :fail, :f :txn, :process 0, :value [[:append :x 1]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x [1]]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::G1a], "{}", r.text);
    assert!(r.anomalies[0]
        .text
        .contains("T1 failed, yet T2 read :x = [1]"));
    let r = la(
        M::ReadCommitted,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:append :x 1] [:append :x 2]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x [1]]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::G1b], "{}", r.text);
    let r = la(
        M::ReadUncommitted,
        r#"{:type :ok, :f :txn, :process 0, :value [[:append :x 1] [:r :x []]]}"#,
    );
    assert_eq!(kinds(&r), vec![K::Internal], "{}", r.text);
    assert_eq!(r.verdict, IsolationVerdict::Invalid);
    let r = la(
        M::ReadUncommitted,
        r#"{:type :ok, :f :txn, :process 0, :value [[:r :x [5]] [:append :x 1] [:r :x [5 1]]]}
           {:type :ok, :f :txn, :process 1, :value [[:append :x 5]]}"#,
    );
    assert!(!kinds(&r).contains(&K::Internal), "{}", r.text);
}

#[test]
fn lost_update_duplicates_incompatible_orders_and_dirty_updates() {
    let lost = r#"
{:type :ok, :f :txn, :process 0, :value [[:r :x []] [:append :x 1]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x []] [:append :x 2]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1 2]]]}
"#;
    let r = la(M::SnapshotIsolation, lost);
    assert!(kinds(&r).contains(&K::LostUpdate), "{}", r.text);
    assert!(kinds(&r).contains(&K::GSingle), "{}", r.text);
    assert_eq!(la(M::ReadCommitted, lost).verdict, IsolationVerdict::Valid);
    let r = la(
        M::ReadUncommitted,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:append :x 1]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x [1 1]]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::DuplicateElements], "{}", r.text);
    let r = la(
        M::ReadUncommitted,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:append :x 1]]}
{:type :ok, :f :txn, :process 1, :value [[:append :x 2]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1 2]]]}
{:type :ok, :f :txn, :process 3, :value [[:r :x [2 1]]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::IncompatibleOrder], "{}", r.text);
    let r = la(
        M::ReadCommitted,
        r#"
{:type :fail, :f :txn, :process 0, :value [[:append :x 1]]}
{:type :ok, :f :txn, :process 1, :value [[:append :x 2]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1 2]]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::G1a, K::DirtyUpdate], "{}", r.text);
    let r = la(
        M::ReadUncommitted,
        r#"{:type :ok, :f :txn, :process 2, :value [[:r :x [7]]]}"#,
    );
    assert_eq!(kinds(&r), vec![K::GarbageRead], "{}", r.text);
}

const STALE: &str = r#"
{:type :invoke, :f :txn, :process 0, :value [[:append :x 1]]}
{:type :ok, :f :txn, :process 0, :value [[:append :x 1]]}
{:type :invoke, :f :txn, :process 1, :value [[:r :x nil]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x []]]}
{:type :invoke, :f :txn, :process 2, :value [[:r :x nil]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1]]]}
"#;

#[test]
fn stale_reads_are_realtime_cycles() {
    let r = la(M::Serializable, STALE);
    assert_eq!(r.verdict, IsolationVerdict::Valid, "{}", r.text);
    let r = la(M::StrictSerializable, STALE);
    assert_eq!(kinds(&r), vec![K::GSingleRealtime], "{}", r.text);
    assert!(r.anomalies[0]
        .text
        .contains("T1 completed (event 2) before T3 was invoked (event 3)"));
    assert!(r.anomalies[0]
        .text
        .contains("T3 (process 1, events 3..4, committed): [[:r :x []]]"));
}

#[test]
fn session_order_cycles_for_causal() {
    // Process 0 reads 1 of :x and then appends 1 itself.
    let text = r#"
{:type :ok, :f :txn, :process 0, :value [[:r :x [1]]]}
{:type :ok, :f :txn, :process 0, :value [[:append :x 1]]}
"#;
    let r = la(M::Causal, text);
    assert_eq!(kinds(&r), vec![K::G1cProcess], "{}", r.text);
    assert_eq!(r.verdict, IsolationVerdict::Invalid);
    assert_eq!(la(M::ReadCommitted, text).verdict, IsolationVerdict::Valid);
}

#[test]
fn info_transactions_are_never_the_proof() {
    // An :info append nobody saw adds nothing; one that was seen committed.
    let r = la(
        M::StrictSerializable,
        r#"
{:type :invoke, :f :txn, :process 0, :value [[:append :x 1] [:r :y nil]]}
{:type :info, :f :txn, :process 0, :value [[:append :x 1] [:r :y nil]]}
{:type :invoke, :f :txn, :process 1, :value [[:r :x nil]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x []]]}
"#,
    );
    assert_eq!(r.verdict, IsolationVerdict::Valid, "{}", r.text);
    let r = la(
        M::Serializable,
        r#"
{:type :invoke, :f :txn, :process 0, :value [[:append :x 1] [:append :y 1]]}
{:type :info, :f :txn, :process 0, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x []] [:r :y [1]]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x [1]]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::GSingle], "{}", r.text);
    assert!(r.text.contains("outcome unknown"), "{}", r.text);
}

#[test]
fn rw_register_inference() {
    let rr = |m, t| check(Workload::RwRegister, m, t);
    let r = rr(
        M::ReadCommitted,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:w :x 1] [:r :y 1]]}
{:type :ok, :f :txn, :process 1, :value [[:w :y 1] [:r :x 1]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::G1c], "{}", r.text);
    assert!(
        r.text.contains("T1 wrote :x = 1, and T2 read it"),
        "{}",
        r.text
    );
    let r = rr(
        M::SnapshotIsolation,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:r :x nil] [:r :y 1]]}
{:type :ok, :f :txn, :process 1, :value [[:w :x 1] [:w :y 1]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::GSingle], "{}", r.text);
    assert!(
        r.text
            .contains("every written version follows the initial nil"),
        "{}",
        r.text
    );
    let r = rr(
        M::SnapshotIsolation,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:r :x nil] [:w :x 1]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x nil] [:w :x 2]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::G2Item, K::LostUpdate], "{}", r.text);
    assert_eq!(r.verdict, IsolationVerdict::Invalid);
    let r = rr(
        M::ReadUncommitted,
        r#"{:type :ok, :f :txn, :process 0, :value [[:w :x 1] [:r :x 2]]}
           {:type :ok, :f :txn, :process 1, :value [[:w :x 2]]}"#,
    );
    assert!(kinds(&r).contains(&K::Internal), "{}", r.text);
    // Read-modify-write chains give ww edges: T1 wrote 1, T2 read 1 and wrote 2, T3 read 2
    // and wrote 3, and T1 read 3 (a cycle of ww and wr edges).
    let r = rr(
        M::ReadCommitted,
        r#"
{:type :ok, :f :txn, :process 0, :value [[:w :x 1] [:r :y 3]]}
{:type :ok, :f :txn, :process 1, :value [[:r :x 1] [:w :x 2]]}
{:type :ok, :f :txn, :process 2, :value [[:r :x 2] [:w :y 3]]}
"#,
    );
    assert_eq!(kinds(&r), vec![K::G1c], "{}", r.text);
}

#[test]
fn many_readers_and_writers_go_through_a_junction() {
    // Readers of nil and blind writers: each reader saw nil, each writer's version follows it.
    let mut text = String::new();
    for p in 0..5 {
        text.push_str(&format!(
            "{{:type :ok, :f :txn, :process {p}, :value [[:r :x nil]]}}\n"
        ));
    }
    for p in 5..10 {
        text.push_str(&format!(
            "{{:type :ok, :f :txn, :process {p}, :value [[:w :x {p}]]}}\n"
        ));
    }
    // One writer also read :y from a reader of nil: T11 -rw-> writer -wr-> reader.
    text.push_str("{:type :ok, :f :txn, :process 10, :value [[:r :x nil] [:r :y 1]]}\n");
    text.push_str("{:type :ok, :f :txn, :process 11, :value [[:w :y 1] [:w :x 11]]}\n");
    let r = check(Workload::RwRegister, M::SnapshotIsolation, &text);
    assert_eq!(kinds(&r), vec![K::GSingle], "{}", r.text);
    let a = &r.anomalies[0];
    assert_eq!(a.steps.len(), 2, "{}", a.text);
    assert!(
        a.text
            .contains("T11 -rw-> T12: T11 read :x = nil, and T12 wrote :x = 11"),
        "{}",
        a.text
    );
    assert!(r.edges < 40, "{} edges", r.edges);
}

#[test]
fn bad_input_is_an_error() {
    let opts = IsolationOptions::default();
    let run = |w, t: &str| check_isolation_text(t, Format::Edn, false, w, &opts).0;
    let e = run(
        Workload::ListAppend,
        r#"{:type :ok, :f :txn, :process 0, :value [[:append :x 1]]}
           {:type :ok, :f :txn, :process 1, :value [[:append :x 1]]}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("values must be unique per key"),
        "{e}"
    );
    let e = run(
        Workload::ListAppend,
        r#"{:type :ok, :f :txn, :process 0, :value [[:w :x 1]]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown micro-op"), "{e}");
    let e = run(
        Workload::ListAppend,
        r#"{:type :ok, :f :read, :process 0, :value 1}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("expected a transaction"), "{e}");
    let e = run(
        Workload::RwRegister,
        r#"{:type :ok, :f :txn, :process 0, :value [[:w :x nil]]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("initial state"), "{e}");
    assert!(matches!(
        run(Workload::RwRegister, ""),
        Err(CheckError::NoOperations { .. })
    ));
    assert!("serializable".parse::<ConsistencyModel>().is_ok());
    assert!("snapshot_isolation".parse::<ConsistencyModel>().is_ok());
    assert!("bogus".parse::<ConsistencyModel>().is_err());
}

#[test]
fn ids_are_the_serde_names() {
    for k in AnomalyKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.id());
    }
}

#[test]
fn a_spent_g_single_budget_is_unknown_only_where_it_matters() {
    let run = |model| {
        let opts = IsolationOptions {
            model,
            max_steps: Some(1),
        };
        check_isolation_text(WRITE_SKEW, Format::Edn, false, Workload::ListAppend, &opts)
            .0
            .unwrap()
    };
    // Snapshot isolation allows the G2-item cycle shown but not a G-single it could not
    // rule out.
    let si = run(M::SnapshotIsolation);
    assert!(
        matches!(&si.verdict, IsolationVerdict::Unknown { why } if why.contains("budget of 1 steps")),
        "{}",
        si.text
    );
    assert_eq!(run(M::Serializable).verdict, IsolationVerdict::Invalid);
    assert_eq!(run(M::ReadCommitted).verdict, IsolationVerdict::Valid);
}

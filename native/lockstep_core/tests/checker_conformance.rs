//! Conformance against the Porcupine test data (see EXPECTED.md in the data directory).
//! Every etcd and kv history is checked on every run; verdicts must match the published ones.

use lockstep_core::checker::{check_text, CheckOptions, Format, ModelKind, Rules, Value, Verdict};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LOCKSTEP_PORCUPINE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/porcupine")
        });
    if dir.join("EXPECTED.md").is_file() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: Porcupine conformance data not found at {} (set LOCKSTEP_PORCUPINE_DIR)",
            dir.display()
        );
        None
    }
}

/// The linearizable etcd histories listed in EXPECTED.md; all other non-empty ones are not.
const ETCD_LINEARIZABLE: [u32; 23] = [
    2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
];

#[test]
fn etcd_histories_match_expected_verdicts() {
    let Some(dir) = data_dir() else { return };
    // Lockstep's defaults and Porcupine's rules read these logs alike.
    for opts in [
        CheckOptions::new(ModelKind::CasRegister),
        CheckOptions::with_rules(ModelKind::CasRegister, Rules::Porcupine),
    ] {
        etcd_histories_with(&dir, &opts);
    }
}

fn etcd_histories_with(dir: &std::path::Path, opts: &CheckOptions) {
    let mut checked = 0;
    for i in 0..=102u32 {
        let path = dir.join(format!("jepsen/etcd_{i:03}.log"));
        let text = std::fs::read_to_string(&path).expect("conformance file readable");
        if text.trim().is_empty() {
            assert_eq!(i, 95, "only etcd_095 is empty");
            continue;
        }
        let verdict = check_text(&text, opts).unwrap_or_else(|e| panic!("etcd_{i:03}: {e}"));
        let expected = ETCD_LINEARIZABLE.contains(&i);
        match (&verdict, expected) {
            (Verdict::Linearizable, true) | (Verdict::NotLinearizable { .. }, false) => {}
            _ => panic!("etcd_{i:03}: expected linearizable={expected}, got {verdict:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 102);
}

fn kv_opts(partition: bool) -> CheckOptions {
    let mut opts = CheckOptions::new(ModelKind::Kv);
    opts.format = Format::Edn;
    opts.initial = Some(Value::Str(String::new()));
    opts.linearizability.partition = partition;
    opts
}

#[test]
fn kv_histories_match_expected_verdicts_partitioned() {
    let Some(dir) = data_dir() else { return };
    for name in [
        "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
    ] {
        let text =
            std::fs::read_to_string(dir.join(format!("kv/{name}.txt"))).expect("kv file readable");
        let verdict = check_text(&text, &kv_opts(true)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = name.ends_with("-ok");
        assert_eq!(verdict.is_linearizable(), expected, "{name}: {verdict:?}");
        assert_eq!(verdict.is_violation(), !expected, "{name}: {verdict:?}");
    }
}

#[test]
fn kv_c01_c10_histories_match_without_partitioning() {
    let Some(dir) = data_dir() else { return };
    for name in ["c01-ok", "c01-bad", "c10-ok", "c10-bad"] {
        let text =
            std::fs::read_to_string(dir.join(format!("kv/{name}.txt"))).expect("kv file readable");
        let verdict = check_text(&text, &kv_opts(false)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            verdict.is_linearizable(),
            name.ends_with("-ok"),
            "{name}: {verdict:?}"
        );
    }
}

//! Conformance against Knossos's own test histories (`data/cas-register/{good,bad}` in the
//! Knossos repository, never committed here). Knossos's tests expect every history under `good`
//! to be linearizable and every one under `bad` not, with a CAS register starting at 0.
//!
//! The data is read from `LOCKSTEP_KNOSSOS_DIR` (a Knossos checkout, or its git directory) or
//! from the mirror at `../.mirror/jepsen-io+knossos/repo` beside the project; the test skips
//! with a message when neither is there.

use lockstep_core::checker::{check_text, CheckOptions, ModelKind, Rules, Verdict};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the histories come from: a work tree, or a git directory read with `git show`.
enum Source {
    Tree(PathBuf),
    Git(PathBuf),
}

fn source() -> Option<Source> {
    let dir = std::env::var_os("LOCKSTEP_KNOSSOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../.mirror/jepsen-io+knossos/repo")
        });
    if dir.join("data/cas-register").is_dir() {
        return Some(Source::Tree(dir));
    }
    let listed = Command::new("git")
        .arg("--git-dir")
        .arg(&dir)
        .args(["ls-tree", "--name-only", "HEAD", "data/cas-register/"])
        .output();
    match listed {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => Some(Source::Git(dir)),
        _ => {
            println!(
                "SKIPPED: Knossos test histories not found at {} (set LOCKSTEP_KNOSSOS_DIR)",
                dir.display()
            );
            None
        }
    }
}

/// `(name, expected linearizable, text)` for every `.edn` history of `data/<model>`.
fn histories(src: &Source, model: &str) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    for (sub, expected) in [("good", true), ("bad", false)] {
        let names: Vec<String> = match src {
            Source::Tree(root) => {
                let dir = root.join("data").join(model).join(sub);
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Source::Git(git) => {
                let out = Command::new("git")
                    .arg("--git-dir")
                    .arg(git)
                    .args(["ls-tree", "--name-only", "HEAD"])
                    .arg(format!("data/{model}/{sub}/"))
                    .output()
                    .expect("git runs");
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| Path::new(l).file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect()
            }
        };
        for name in names.into_iter().filter(|n| n.ends_with(".edn")) {
            let rel = format!("data/{model}/{sub}/{name}");
            let text = match src {
                Source::Tree(root) => std::fs::read_to_string(root.join(&rel)).expect("readable"),
                Source::Git(git) => {
                    let out = Command::new("git")
                        .arg("--git-dir")
                        .arg(git)
                        .arg("show")
                        .arg(format!("HEAD:{rel}"))
                        .output()
                        .expect("git runs");
                    assert!(out.status.success(), "git show {rel}");
                    String::from_utf8(out.stdout).expect("UTF-8")
                }
            };
            out.push((format!("{sub}/{name}"), expected, text));
        }
    }
    out
}

/// How many verdicts match Knossos's, and the names of those that do not.
fn agreement(hs: &[(String, bool, String)], opts: &CheckOptions) -> (usize, Vec<String>) {
    let mut matched = 0;
    let mut differ = Vec::new();
    for (name, expected, text) in hs {
        let verdict = check_text(text, opts);
        let same = match verdict {
            Ok(Verdict::Linearizable) => *expected,
            Ok(Verdict::NotLinearizable { .. }) => !*expected,
            _ => false,
        };
        if same {
            matched += 1;
        } else {
            differ.push(format!("{name}: {}", short(&verdict)));
        }
    }
    (matched, differ)
}

fn short(v: &Result<Verdict, lockstep_core::checker::CheckError>) -> String {
    match v {
        Ok(Verdict::Linearizable) => "linearizable".into(),
        Ok(Verdict::NotLinearizable { .. }) => "not linearizable".into(),
        Ok(Verdict::Unknown { why }) => format!("unknown ({why})"),
        Err(e) => format!("error ({e})"),
    }
}

#[test]
fn knossos_rules_match_knossos_verdicts_on_its_cas_register_histories() {
    let Some(src) = source() else { return };
    let hs = histories(&src, "cas-register");
    assert_eq!(hs.len(), 120, "Knossos has 120 cas-register test histories");
    let (default_matched, _) = agreement(&hs, &CheckOptions::new(ModelKind::CasRegister));
    // Knossos's tests start the register at 0; Lockstep's defaults with that initial value.
    let zero = CheckOptions {
        initial: Some(lockstep_core::checker::Value::Int(0)),
        ..CheckOptions::new(ModelKind::CasRegister)
    };
    let (zero_matched, _) = agreement(&hs, &zero);
    let knossos = CheckOptions::with_rules(ModelKind::CasRegister, Rules::Knossos);
    let (matched, differ) = agreement(&hs, &knossos);
    println!(
        "Knossos cas-register histories: {matched} of {} verdicts match with rules: knossos \
         ({default_matched} with Lockstep's defaults, {zero_matched} with the defaults and \
         initial 0)",
        hs.len()
    );
    // The one history Knossos passes and Lockstep refuses holds nemesis operations only: no
    // client operation at all is "no operations" here (an empty history passes any check).
    assert_eq!(
        differ,
        vec!["good/mongodb-v0-ack-rollback-.edn: error (no operations: the history is empty)"],
        "verdicts that differ"
    );
}

#[test]
fn knossos_multi_register_history_is_linearizable_with_knossos_rules() {
    let Some(src) = source() else { return };
    let hs = histories(&src, "multi-register");
    assert_eq!(hs.len(), 1, "Knossos has one multi-register test history");
    // Knossos's test starts the registers at {:x 0 :y 0}: the preset's initial 0.
    let knossos = CheckOptions::with_rules(ModelKind::MultiRegister, Rules::Knossos);
    let (matched, differ) = agreement(&hs, &knossos);
    println!("Knossos multi-register histories: {matched} of 1 verdicts match with rules: knossos");
    assert!(differ.is_empty(), "{differ:?}");
}

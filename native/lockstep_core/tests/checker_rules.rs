//! Rules presets (`Rules`): the verdicts each Jepsen-era tool gives small hand-written
//! histories, and explicit options overriding a preset.

use lockstep_core::checker::{
    check_text, CheckError, CheckOptions, FailMode, ModelKind, NilReads, Rules, Value, Verdict,
};

fn verdict(text: &str, opts: &CheckOptions) -> &'static str {
    match check_text(text, opts) {
        Ok(Verdict::Linearizable) => "linearizable",
        Ok(Verdict::NotLinearizable { .. }) => "not linearizable",
        Ok(Verdict::Unknown { .. }) => "unknown",
        Err(_) => "error",
    }
}

fn rules(r: Rules) -> CheckOptions {
    CheckOptions::with_rules(ModelKind::CasRegister, r)
}

const ALL: [Rules; 4] = [
    Rules::Lockstep,
    Rules::Knossos,
    Rules::Porcupine,
    Rules::Strict,
];

/// A read of nil after a completed write of 1.
const NIL_READ: &str = "\
{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value nil}
";

/// A compare-and-set from 1 that failed while the register held 1.
const FAILED_CAS: &str = "\
{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :cas, :value [1 2]}
{:process 1, :type :fail, :f :cas, :value [1 2]}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}
";

/// A read of 0 before any write.
const READ_ZERO: &str = "\
{:process 0, :type :invoke, :f :read, :value nil}
{:process 0, :type :ok, :f :read, :value 0}
";

/// A write whose outcome is unknown, then a read that saw it.
const INFO_WRITE: &str = "\
{:process 0, :type :invoke, :f :write, :value 3}
{:process 0, :type :info, :f :write, :value 3}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 3}
";

/// A Jepsen etcd log with one line of other output.
const NOISY_LOG: &str = "\
starting the test
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
";

fn verdicts(text: &str) -> Vec<&'static str> {
    ALL.iter().map(|&r| verdict(text, &rules(r))).collect()
}

#[test]
fn nil_reads_are_unknown_values_only_for_knossos() {
    assert_eq!(
        verdicts(NIL_READ),
        [
            "not linearizable",
            "linearizable",
            "not linearizable",
            "not linearizable"
        ]
    );
}

#[test]
fn knossos_drops_a_failed_cas_the_others_observe_it() {
    assert_eq!(
        verdicts(FAILED_CAS),
        [
            "not linearizable",
            "linearizable",
            "not linearizable",
            "not linearizable"
        ]
    );
}

#[test]
fn knossos_registers_start_at_zero() {
    assert_eq!(
        verdicts(READ_ZERO),
        [
            "not linearizable",
            "linearizable",
            "not linearizable",
            "not linearizable"
        ]
    );
}

#[test]
fn every_preset_keeps_info_operations_open() {
    assert_eq!(verdicts(INFO_WRITE), ["linearizable"; 4]);
}

#[test]
fn strict_refuses_lines_that_are_not_history_events() {
    assert_eq!(
        verdicts(NOISY_LOG),
        ["linearizable", "linearizable", "linearizable", "error"]
    );
    assert!(matches!(
        check_text(NOISY_LOG, &rules(Rules::Strict)),
        Err(CheckError::Parse { line: 1, .. })
    ));
}

#[test]
fn explicit_options_override_the_preset() {
    let mut o = rules(Rules::Knossos);
    o.history.nil_reads = NilReads::Value;
    assert_eq!(verdict(NIL_READ, &o), "not linearizable");
    let mut o = rules(Rules::Knossos);
    o.history.fail = FailMode::Observe;
    assert_eq!(verdict(FAILED_CAS, &o), "not linearizable");
    let mut o = rules(Rules::Knossos);
    o.initial = Some(Value::Nil);
    assert_eq!(verdict(READ_ZERO, &o), "not linearizable");
    // And the flag alone, without a preset.
    let mut o = CheckOptions::new(ModelKind::CasRegister);
    o.history.nil_reads = NilReads::Unknown;
    assert_eq!(verdict(NIL_READ, &o), "linearizable");
}

#[test]
fn nil_reads_rule_applies_to_keys_too() {
    let text = "\
{:process 0, :type :invoke, :f :put, :key \"a\", :value 1}
{:process 0, :type :ok, :f :put, :key \"a\", :value 1}
{:process 1, :type :invoke, :f :get, :key \"a\", :value nil}
{:process 1, :type :ok, :f :get, :key \"a\", :value nil}
";
    let kv = |r| CheckOptions::with_rules(ModelKind::Kv, r);
    assert_eq!(verdict(text, &kv(Rules::Lockstep)), "not linearizable");
    assert_eq!(verdict(text, &kv(Rules::Knossos)), "linearizable");
}

#[test]
fn rules_parse_by_name() {
    for r in ALL {
        assert_eq!(r.name().parse::<Rules>().ok(), Some(r));
    }
    assert!("jepsen".parse::<Rules>().is_err());
}

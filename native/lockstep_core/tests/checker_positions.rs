//! Positions in verdicts are positions in the file: lines for line-based texts, the ops' own
//! `:index` when a Jepsen history carries one; client event numbers only for histories that
//! were never a text.

use lockstep_core::checker::report::Explanation;
use lockstep_core::checker::{
    check_events, check_text, CheckError, CheckOptions, Event, EventKind, ModelKind, Value, Verdict,
};

fn explanation(text: &str) -> Explanation {
    match check_text(text, &CheckOptions::new(ModelKind::Register)) {
        Ok(Verdict::NotLinearizable { explanation }) => *explanation,
        other => panic!("expected a violation, got {other:?}"),
    }
}

/// The operation that cannot be placed, as the verdict line shows it.
fn stuck(exp: &Explanation) -> String {
    let op = exp.longest[0].stuck.as_ref().expect("a stuck operation");
    lockstep_core::checker::report::op_line(op)
}

/// A stale read (lines 6 and 7) after a write, with nemesis ops in between.
const WITH_NEMESIS: &str = "\
{:process :nemesis, :type :info, :f :start, :value nil}
{:process 0, :type :invoke, :f :write, :value 1}
{:process :nemesis, :type :info, :f :start, :value \"partitioned\"}
{:process 0, :type :ok, :f :write, :value 1}
{:process :nemesis, :type :info, :f :stop, :value nil}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 2}
";

#[test]
fn lines_count_nemesis_ops_too() {
    let exp = explanation(WITH_NEMESIS);
    assert_eq!(stuck(&exp), "process 1: read -> 2 (lines 6..7)");
    assert!(
        exp.text.contains("process 0: write 1 -> ok (lines 2..4)"),
        "{}",
        exp.text
    );
    assert!(!exp.text.contains("events"), "{}", exp.text);
}

#[test]
fn a_vector_history_numbers_each_op_by_the_line_it_starts_on() {
    let text = format!("[{}]", WITH_NEMESIS.trim_end().replace('\n', "\n "));
    assert_eq!(
        stuck(&explanation(&text)),
        "process 1: read -> 2 (lines 6..7)"
    );
    // Op maps over several lines: the line each map starts on.
    let spread = WITH_NEMESIS.replace(", :type", ",\n :type");
    assert_eq!(
        stuck(&explanation(&spread)),
        "process 1: read -> 2 (lines 11..13)"
    );
}

#[test]
fn the_index_a_jepsen_op_carries_wins_over_lines() {
    let text = "\
{:index 0, :process :nemesis, :type :info, :f :start, :value nil}
{:index 1, :process 0, :type :invoke, :f :write, :value 1}
{:index 2, :process :nemesis, :type :info, :f :start, :value nil}
{:index 3, :process 0, :type :ok, :f :write, :value 1}
{:index 4, :process 1, :type :invoke, :f :read, :value nil}
{:index 5, :process 1, :type :ok, :f :read, :value 2}
{:index 6, :process 2, :type :invoke, :f :write, :value 7}
";
    let exp = explanation(text);
    assert_eq!(stuck(&exp), "process 1: read -> 2 (:index 4..5)");
    let open = exp
        .ops
        .iter()
        .find(|o| o.process == 2)
        .expect("the open write");
    assert_eq!(
        lockstep_core::checker::report::op_line(open),
        "process 2: write 7 -> ? (outcome unknown) (invoked at :index 6, never returned)"
    );
}

#[test]
fn an_etcd_log_counts_lines_of_other_output() {
    let text = "\
booting the cluster
INFO  jepsen.util - 0\t:invoke\t:write\t1
WARN  something else
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:read\t2
";
    assert_eq!(
        stuck(&explanation(text)),
        "process 1: read -> 2 (lines 5..6)"
    );
}

#[test]
fn the_html_view_shows_lines() {
    let exp = explanation(WITH_NEMESIS);
    let html = lockstep_core::checker::report::render_html("t", &exp);
    assert!(html.contains("(lines 6..7)"), "{html}");
    assert!(!html.contains("events 4..5"));
}

#[test]
fn errors_in_a_text_name_the_line() {
    let text = "\
{:process :nemesis, :type :info, :f :start, :value nil}
{:process :nemesis, :type :info, :f :stop, :value nil}
{:process 0, :type :ok, :f :read, :value 1}
";
    match check_text(text, &CheckOptions::new(ModelKind::Register)) {
        Err(CheckError::Parse { line: 3, message }) => {
            assert!(
                message.contains("without a pending invocation"),
                "{message}"
            )
        }
        other => panic!("expected an error at line 3, got {other:?}"),
    }
}

#[test]
fn events_without_a_text_keep_event_numbers() {
    let ev = |p, k, f: &str, v| Event::new(p, k, f, v);
    let events = vec![
        ev(0, EventKind::Invoke, "write", Value::Int(1)),
        ev(0, EventKind::Ok, "write", Value::Int(1)),
        ev(1, EventKind::Invoke, "read", Value::Nil),
        ev(1, EventKind::Ok, "read", Value::Int(2)),
    ];
    let report = check_events(&events, &CheckOptions::new(ModelKind::Register)).expect("checks");
    let Verdict::NotLinearizable { explanation } = report.verdict else {
        panic!("expected a violation");
    };
    assert_eq!(stuck(&explanation), "process 1: read -> 2 (events 3..4)");
}

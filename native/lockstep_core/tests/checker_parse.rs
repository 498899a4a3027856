//! Parsers: EDN reader, Jepsen op maps, the etcd log format, JSON events.

use lockstep_core::checker::parse::edn::{read_all, read_one};
use lockstep_core::checker::parse::{
    detect, jepsen_log, parse_edn_history, parse_history, read_history, Skipped,
};
use lockstep_core::checker::{CheckError, Event, EventKind, Format, Value};
use proptest::prelude::*;

fn kw(s: &str) -> Value {
    Value::Keyword(s.into())
}

#[test]
fn edn_values() {
    assert_eq!(read_one("nil", 1), Ok(Value::Nil));
    assert_eq!(read_one("-42", 1), Ok(Value::Int(-42)));
    assert_eq!(read_one("7N", 1), Ok(Value::Int(7)));
    assert_eq!(read_one("true", 1), Ok(Value::Bool(true)));
    assert_eq!(
        read_one(r#""a\"b\n\u0041""#, 1),
        Ok(Value::Str("a\"b\nA".into()))
    );
    assert_eq!(read_one(":timed-out", 1), Ok(kw("timed-out")));
    assert_eq!(
        read_one("[1 [2 nil] (3)]", 1),
        Ok(Value::List(vec![
            Value::Int(1),
            Value::List(vec![Value::Int(2), Value::Nil]),
            Value::List(vec![Value::Int(3)]),
        ]))
    );
    assert_eq!(
        read_one("#{3 1 3}", 1),
        Ok(Value::List(vec![Value::Int(1), Value::Int(3)]))
    );
    assert_eq!(
        read_one("{:a 1, :b \"x\"}", 1),
        Ok(Value::Map(vec![
            (kw("a"), Value::Int(1)),
            (kw("b"), Value::Str("x".into()))
        ]))
    );
    assert_eq!(read_one("#inst \"2020\"", 1), Ok(Value::Str("2020".into())));
    assert_eq!(
        read_one("[1 #_2 3]", 1).map(|v| v.to_string()),
        Ok("[1 3]".into())
    );
    assert_eq!(read_one("[1 #_2]", 1), Ok(Value::List(vec![Value::Int(1)])));
    assert_eq!(read_one("\\a", 1), Ok(Value::Str("a".into())));
    assert_eq!(read_all("; comment\n1 ,, 2\n").map(|v| v.len()), Ok(2));
}

#[test]
fn edn_errors_carry_line_numbers() {
    let cases = [
        ("1\n2\n[1 2", 3),
        ("\n\n\"abc", 3),
        ("\n1.5", 2),
        ("{:a}", 1),
        ("\n\n\n)", 4),
        ("99999999999999999999", 1),
        ("#", 1),
        ("\"\\q\"", 1),
    ];
    for (text, line) in cases {
        match read_all(text) {
            Err(CheckError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: expected a parse error, got {other:?}"),
        }
    }
    let deep = "[".repeat(10_000);
    assert!(matches!(read_all(&deep), Err(CheckError::Parse { .. })));
    assert!(read_one("1 2", 1).is_err());
}

#[test]
fn jepsen_op_maps_one_per_line_and_as_a_vector() {
    let lines = "{:process 0, :type :invoke, :f :read, :value nil}\n\
                 {:process :nemesis, :type :info, :f :start, :value nil}\n\
                 {:process 0, :type :ok, :f :read, :value 3, :time 12}\n\
                 {:process 1, :type :invoke, :f :put, :key \"k\", :value \"x\"}\n";
    let evs = parse_edn_history(lines).expect("parses");
    assert_eq!(evs.len(), 3, "nemesis ops are skipped");
    assert_eq!(
        evs[1],
        Event::new(0, EventKind::Ok, "read", Value::Int(3)).with_line(3)
    );
    assert_eq!(evs[2].key, Some(Value::Str("k".into())));
    // On one line, every op is at line 1; each op of a vector on its own line keeps its line.
    let vector = format!("[{}]", lines.replace('\n', " "));
    let on_one_line: Vec<Event> = evs.iter().cloned().map(|e| e.with_line(1)).collect();
    assert_eq!(parse_edn_history(&vector).expect("parses"), on_one_line);
    let vector = format!("; a comment\n[{lines}]\n");
    let lines_of = |evs: Vec<Event>| evs.iter().map(|e| e.line).collect::<Vec<_>>();
    assert_eq!(
        lines_of(parse_edn_history(&vector).expect("parses")),
        [Some(2), Some(4), Some(5)]
    );

    let bad = "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :weird, :f :read}\n";
    assert!(matches!(
        parse_edn_history(bad),
        Err(CheckError::Parse { line: 2, .. })
    ));
    assert!(matches!(
        parse_edn_history("{:type :ok, :f :x}"),
        Err(CheckError::Parse { line: 1, .. })
    ));
    assert!(matches!(
        parse_edn_history("\n[1 2]"),
        Err(CheckError::Parse { line: 2, .. })
    ));
}

#[test]
fn etcd_log_lines_tabs_and_spaces() {
    let text = "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n\
                some other log line\n\
                INFO  jepsen.util - 2   :fail   :cas    [3 0]\n\
                INFO  jepsen.util - 4\t:info\t:write\t:timed-out\n\
                INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    let evs = jepsen_log::parse(text).expect("parses");
    assert_eq!(evs.len(), 4);
    assert_eq!(
        evs[0],
        Event::new(
            2,
            EventKind::Invoke,
            "cas",
            Value::List(vec![Value::Int(3), Value::Int(0)])
        )
        .with_line(1)
    );
    assert_eq!(evs[1].kind, EventKind::Fail);
    assert_eq!(
        evs[1].line,
        Some(3),
        "the line in the file, other output included"
    );
    assert_eq!(evs[2].value, kw("timed-out"));
    assert_eq!(detect(text), Format::JepsenLog);
    assert!(matches!(
        jepsen_log::parse(
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - x\t:ok\n"
        ),
        Err(CheckError::Parse { line: 2, .. })
    ));
    assert!(matches!(
        jepsen_log::parse("INFO  jepsen.util - 0\t:bogus\t:read\tnil\n"),
        Err(CheckError::Parse { line: 1, .. })
    ));
    assert!(jepsen_log::parse("just noise\n").is_err());
}

#[test]
fn a_history_to_check_without_operations_is_an_error() {
    for (text, format) in [
        ("", Format::Auto),
        ("\n  \n\t\n", Format::Auto),
        ("", Format::Edn),
        ("[]", Format::Edn),
        ("[]", Format::Json),
        ("", Format::JepsenLog),
        // Only a nemesis op: nothing a client did.
        ("{:process :nemesis, :type :info, :f :start}\n", Format::Edn),
    ] {
        let e = read_history(text, format, false).expect_err(text);
        assert_eq!(e, CheckError::NoOperations { skipped: None }, "{text:?}");
        assert_eq!(e.to_string(), "no operations: the history is empty");
    }
    // A log of other output only.
    let e = read_history("boot\nready\n", Format::JepsenLog, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no operations: the history is empty (skipped 2 lines that are not history events, \
         first at line 1: is this a history file?)"
    );
    // The low-level parser still reads an empty text as no events.
    assert_eq!(parse_history("", Format::Edn), Ok(vec![]));
}

#[test]
fn lines_that_are_not_history_events_are_counted_or_refused_in_strict_mode() {
    let text = "\nstarting the test\n\
                INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
                WARN  something else\n\
                \n\
                INFO  jepsen.util - 0\t:ok\t:write\t1\n\
                done\n";
    // Detected as a Jepsen log although the first line is other output.
    assert_eq!(detect(text), Format::JepsenLog);
    let parsed = read_history(text, Format::Auto, false).expect("lenient");
    assert_eq!(parsed.events.len(), 2);
    let skipped = Skipped {
        lines: 3,
        first_line: 2,
    };
    assert_eq!(parsed.skipped, Some(skipped));
    assert_eq!(
        skipped.to_string(),
        "skipped 3 lines that are not history events, first at line 2"
    );
    assert_eq!(
        Skipped {
            lines: 1,
            first_line: 7
        }
        .to_string(),
        "skipped 1 line that is not a history event, first at line 7"
    );
    let e = read_history(text, Format::Auto, true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2: not a history event (no \"jepsen.util - \" marker): \"starting the test\"; \
         strict mode refuses such lines (3 in this file)"
    );
    // A clean log passes in strict mode, with nothing skipped.
    let clean = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    assert_eq!(
        read_history(clean, Format::Auto, true).unwrap().skipped,
        None
    );
}

#[test]
fn binary_garbage_is_not_echoed() {
    for garbage in [
        "\0".repeat(4096),
        format!(
            "{{:process \"{}\", :type :invoke, :f :read}}",
            "\0".repeat(4096)
        ),
        format!(
            "{{:process 0, :type :invoke, :f :write, :value {}}}",
            "9".repeat(4096)
        ),
        format!("\u{1b}[2J{}", "\u{7}".repeat(4096)),
    ] {
        let e = read_history(&garbage, Format::Auto, false)
            .unwrap_err()
            .to_string();
        assert!(
            !e.chars().any(char::is_control),
            "control characters in {e:?}"
        );
        assert!(
            e.chars().count() < 200,
            "{} characters: {e}",
            e.chars().count()
        );
    }
}

#[test]
fn json_events_round_trip() {
    let evs = vec![
        Event::new(
            0,
            EventKind::Invoke,
            "cas",
            Value::List(vec![Value::Int(1), Value::Nil]),
        ),
        Event::new(
            0,
            EventKind::Ok,
            "cas",
            Value::List(vec![Value::Int(1), Value::Nil]),
        )
        .with_key(Value::Str("k".into())),
    ];
    let json = serde_json::to_string(&evs).expect("serialises");
    assert_eq!(detect(&json), Format::Json);
    assert_eq!(parse_history(&json, Format::Auto), Ok(evs));
    assert!(matches!(
        parse_history("[{\"process\": 0}]", Format::Json),
        Err(CheckError::Parse { line: 1, .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary text never panics any parser.
    #[test]
    fn parsers_never_panic(text in "\\PC{0,200}") {
        let _ = parse_history(&text, Format::Auto);
        let _ = parse_history(&text, Format::Edn);
        let _ = parse_history(&text, Format::JepsenLog);
        let _ = read_all(&text);
    }

    /// EDN-ish soup built from the syntax's own characters never panics either.
    #[test]
    fn edn_soup_never_panics(text in "[\\[\\]{}()#_:\"\\\\;,a-z0-9 \\n.-]{0,120}") {
        let _ = read_all(&text);
        let _ = parse_edn_history(&text);
    }

    /// Display output of values reads back to the same value.
    #[test]
    fn display_round_trips(v in value_strategy()) {
        prop_assert_eq!(read_one(&v.to_string(), 1), Ok(v));
    }
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        "[a-z \"\\\\]{0,8}".prop_map(Value::Str),
        "[a-z][a-z-]{0,6}".prop_map(Value::Keyword),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::List)
    })
}

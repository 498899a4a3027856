//! Files in a directory: histories are checked, other files (timelines, images, binary data)
//! are passed over with a note; a file named explicitly is always checked.

use lockstep_core::checker::{
    check_path_entries, not_a_history, CheckError, CheckOptions, ModelKind, PathEntry, Verdict,
};
use std::path::PathBuf;

const GOOD: &str = "{:process 0, :type :invoke, :f :write, :value 1}\n\
                    {:process 0, :type :ok, :f :write, :value 1}\n";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lockstep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn files_in_a_directory_that_are_not_histories_are_passed_over() {
    let dir = temp_dir("paths-skip");
    std::fs::write(dir.join("a.edn"), GOOD).expect("write");
    std::fs::write(dir.join("a-timeline.html"), "<!DOCTYPE html><html></html>").expect("write");
    std::fs::write(dir.join("b.png"), [0x89, b'P', b'N', b'G', 0]).expect("write");
    std::fs::write(dir.join("c.dat"), [1, 2, 0, 3]).expect("write");
    std::fs::write(dir.join("d.xml"), "\n  <history/>").expect("write");
    std::fs::write(dir.join("e.txt"), [0xff, 0xfe, b'x']).expect("write");
    std::fs::write(dir.join("f.log"), "not a history at all\n").expect("write");
    std::fs::write(dir.join("g.edn"), "").expect("write");
    let opts = CheckOptions::new(ModelKind::Register);
    let entries = check_path_entries(std::slice::from_ref(&dir), &opts);
    let explicit = check_path_entries(&[dir.join("a-timeline.html")], &opts);
    let _ = std::fs::remove_dir_all(&dir);

    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| match e {
            PathEntry::Checked(v) => (
                file_name(&v.path),
                match &v.result {
                    Ok(Verdict::Linearizable) => "linearizable".to_string(),
                    Ok(other) => format!("{other:?}"),
                    Err(e) => format!("error: {e}"),
                },
            ),
            PathEntry::NotHistory { path, reason } => {
                (file_name(path), format!("skipped: {reason}"))
            }
        })
        .collect();
    let expected = [
        ("a-timeline.html", "skipped: a .html file"),
        ("a.edn", "linearizable"),
        ("b.png", "skipped: a .png file"),
        ("c.dat", "skipped: binary data"),
        ("d.xml", "skipped: markup (HTML or XML)"),
        ("e.txt", "skipped: not UTF-8 text"),
    ];
    for (i, (name, what)) in expected.iter().enumerate() {
        assert_eq!(
            (summary[i].0.as_str(), summary[i].1.as_str()),
            (*name, *what)
        );
    }
    // Texts that might be histories are still checked, and still errors when they are not.
    assert_eq!(summary[6].0, "f.log");
    assert!(summary[6].1.starts_with("error: "), "{:?}", summary[6]);
    assert_eq!(
        summary[7],
        (
            "g.edn".into(),
            "error: no operations: the history is empty".into()
        )
    );
    assert_eq!(summary.len(), 8);

    // Named explicitly, an HTML file is checked, and is an error.
    assert!(matches!(
        &explicit[..],
        [PathEntry::Checked(v)] if matches!(v.result, Err(CheckError::Parse { .. }))
    ));
}

#[test]
fn not_a_history_by_extension_and_content() {
    let dir = temp_dir("paths-sniff");
    let long = dir.join("long.edn");
    // A multi-byte character across the 4 KiB sniffing boundary is still text.
    let mut text = " ".repeat(4095);
    text.push('é');
    text.push_str(GOOD);
    std::fs::write(&long, text).expect("write");
    let upper = dir.join("VIEW.HTML");
    std::fs::write(&upper, "x").expect("write");
    let (long_r, upper_r) = (not_a_history(&long), not_a_history(&upper));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(long_r, None);
    assert_eq!(upper_r.as_deref(), Some("a .html file"));
}

fn file_name(path: &str) -> String {
    PathBuf::from(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

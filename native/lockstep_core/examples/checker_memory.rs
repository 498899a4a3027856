//! Memory and time of the linearizability search on long register histories, one process per
//! size so that each peak resident size is its own: `cargo run --release --example checker_memory
//! -- N [sequential|overlap|info]`. `scripts/bench checker_memory` runs a series.
//!
//! Shapes: `sequential` (write i, then read i, one after the other), `overlap` (each write overlaps
//! the next four), `info` (every tenth write is open: it never returned).

use lockstep_core::checker::models::register::{RegisterInput, RegisterModel, RegisterOutput};
use lockstep_core::checker::{check_operations, LinearizabilityOptions, Operation, Value};
use std::time::Instant;

type Op = Operation<RegisterInput, RegisterOutput>;

fn history(n: u64, shape: &str) -> Vec<Op> {
    (0..n)
        .map(|i| {
            let v = Value::Int((i / 2) as i64);
            let (input, output) = if i % 2 == 0 {
                (RegisterInput::Write(v), RegisterOutput::Ok)
            } else {
                (RegisterInput::Read, RegisterOutput::Read(v))
            };
            let (call, ret) = match shape {
                "overlap" if i % 2 == 0 => (i * 10, Some(i * 10 + 5)),
                "overlap" => (i * 10 + 6, Some(i * 10 + 9)),
                "info" if i % 20 == 10 => (i * 10, None),
                "info" if i % 20 == 11 => (i * 10 + 1, Some(i * 10 + 2)),
                _ => (i * 10, Some(i * 10 + 1)),
            };
            let output = if ret.is_none() {
                RegisterOutput::Unknown
            } else {
                output
            };
            Operation {
                process: i % 8,
                input,
                output,
                call,
                ret,
                source: i as usize,
            }
        })
        .collect()
}

/// Peak resident set of this process in KiB (Linux), or 0.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let shape = args.next().unwrap_or_else(|| "sequential".into());
    let ops = history(n, &shape);
    let before = peak_kib();
    let t = Instant::now();
    let report = check_operations(
        &RegisterModel::new(Value::Nil),
        &ops,
        &LinearizabilityOptions::default(),
    );
    let ms = t.elapsed().as_millis();
    let peak = peak_kib();
    println!(
        "{shape} n={n}: {} in {ms} ms, {} configurations, peak RSS {} MiB (history alone {} MiB), {} bytes/op",
        if report.verdict.is_linearizable() { "linearizable" } else { "NOT linearizable" },
        report.stats.configurations,
        peak / 1024,
        before / 1024,
        (peak.saturating_sub(before)) * 1024 / n.max(1),
    );
}

//! For each DPOR benchmark and size: the schedules optimal DPOR explores, the schedules of a
//! full enumeration (every interleaving, where it is small enough to finish), the time taken and
//! the schedules per second; then message-passing programs with and without observers.
//! `cargo run --release -p lockstep_core --example dpor_counts`

#[path = "../tests/support/programs.rs"]
mod programs;
#[path = "../tests/support/mod.rs"]
mod support;

use lockstep_core::explore::{ExploreConfig, Explorer, Status};
use lockstep_core::{Config, IterationInfo};
use programs::*;
use std::time::Instant;
use support::Instr;

/// Explore a message-passing program: schedules, whether it finished, seconds.
fn explore_messages(program: &[Instr], config: ExploreConfig) -> (u64, bool, f64) {
    let mut ex = Explorer::new(config);
    let t = Instant::now();
    while let Ok(Some(s)) = ex.next_run() {
        let info = IterationInfo {
            seed: 0,
            iteration: 0,
            expected_steps: 100,
        };
        let cfg = Config {
            max_steps: 10_000,
            ..Config::default()
        };
        support::run_boxed(program.to_vec(), s, info, cfg);
        if ex.finish_run(false).is_err() {
            break;
        }
    }
    let done = matches!(ex.status(), Status::Done { .. });
    (ex.schedules(), done, t.elapsed().as_secs_f64())
}

/// `n` children each send the root a message with a tag of their own; the root takes them by
/// tag in the order of the tags when `selective`, otherwise by `n` plain receives.
fn tagged(n: u64, selective: bool) -> Vec<Instr> {
    let mut prog: Vec<Instr> = (0..n).map(support::sends_root).collect();
    prog.extend((0..n).map(|tag| match selective {
        true => Instr::RecvTag { tag, timeout: None },
        false => Instr::Recv { timeout: None },
    }));
    prog
}

fn counted((count, done, _): (u64, bool, f64)) -> String {
    if done {
        count.to_string()
    } else {
        format!(">{count}")
    }
}

fn explore(program: Program, n: usize, config: ExploreConfig) -> (u64, bool, f64) {
    let mut ex = Explorer::new(config);
    let t = Instant::now();
    while let Ok(Some(s)) = ex.next_run() {
        run_threads(program(n), s);
        if ex.finish_run(false).is_err() {
            break;
        }
    }
    let done = matches!(ex.status(), Status::Done { .. });
    (ex.schedules(), done, t.elapsed().as_secs_f64())
}

fn main() {
    let cases: &[(&str, Program, &[usize], usize)] = &[
        ("readers", readers, &[2, 4, 8, 10], 2),
        ("writers", writers, &[2, 3, 5, 7], 2),
        ("lastzero", lastzero, &[2, 4, 6, 8, 10], 2),
        ("indexer", indexer, &[11, 12, 13, 14], 0),
        ("filesystem", filesystem, &[13, 14, 16, 18], 0),
    ];
    let budget = 200_000;
    println!(
        "{:<11} {:>3} {:>9} {:>12} {:>9} {:>12}",
        "benchmark", "N", "dpor", "naive", "time (s)", "sched/s"
    );
    for (name, program, sizes, naive_up_to) in cases {
        for &n in sizes.iter() {
            let (count, done, secs) = explore(*program, n, ExploreConfig::default());
            let naive = if n <= *naive_up_to {
                let full = ExploreConfig {
                    no_reduction: true,
                    max_schedules: Some(budget),
                    ..ExploreConfig::default()
                };
                match explore(*program, n, full) {
                    (c, true, _) => c.to_string(),
                    (c, false, _) => format!(">{c}"),
                }
            } else {
                "-".to_string()
            };
            let count = if done {
                count.to_string()
            } else {
                format!("{count}?")
            };
            println!(
                "{name:<11} {n:>3} {count:>9} {naive:>12} {secs:>9.3} {:>12.0}",
                count.trim_end_matches('?').parse::<f64>().unwrap_or(0.0) / secs.max(1e-9)
            );
        }
    }
    println!();
    println!(
        "{:<16} {:>3} {:>9} {:>16} {:>12} {:>9}",
        "messages", "N", "dpor", "no observers", "naive", "time (s)"
    );
    for (name, selective) in [("tagged, by tag", true), ("any, in order", false)] {
        for n in [2u64, 3, 4, 5, 6] {
            let prog = tagged(n, selective);
            let run = explore_messages(&prog, ExploreConfig::default());
            let without = ExploreConfig {
                no_observers: true,
                max_schedules: Some(budget),
                ..ExploreConfig::default()
            };
            let naive = if n <= 3 {
                let full = ExploreConfig {
                    no_reduction: true,
                    max_schedules: Some(budget),
                    ..ExploreConfig::default()
                };
                counted(explore_messages(&prog, full))
            } else {
                "-".to_string()
            };
            println!(
                "{name:<16} {n:>3} {:>9} {:>16} {naive:>12} {:>9.3}",
                counted(run),
                counted(explore_messages(&prog, without)),
                run.2
            );
        }
    }
}

//! For each DPOR benchmark and size: the schedules optimal DPOR explores, the schedules of a
//! full enumeration (every interleaving, where it is small enough to finish), the time taken and
//! the schedules per second. `cargo run --release -p lockstep_core --example dpor_counts`

#[path = "../tests/support/programs.rs"]
mod programs;

use lockstep_core::explore::{ExploreConfig, Explorer, Status};
use programs::*;
use std::time::Instant;

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
}

//! Cost of a scheduling decision: the controller driven directly (no simulator, no VM) by `n`
//! processes that each perform an endless mix of shared-state operations, sends, receives and
//! clock reads, under each strategy. Reports nanoseconds per step (pick + execute), best of
//! several runs.
//!
//! Run: `cargo bench -p lockstep_core --bench strategies [-- NAME...]` (only the named
//! strategies when names are given).

use lockstep_core::strategy::StrategyConfig;
use lockstep_core::{Config, Controller, Dest, IterationInfo, Next, Op, ProcId, Reply};
use std::time::Instant;

const STEPS: u64 = 200_000;

/// The operation process `p` performs at its `i`-th sync point.
fn op(p: ProcId, i: u64) -> Op<u32> {
    match i % 6 {
        // Shared state: four tables, eight keys, every other one a write.
        0..=2 => Op::Sync {
            object: ((u64::from(p.0 % 4) + 1) << 32) | (i % 8 + 1),
            write: i.is_multiple_of(2),
            label: 0,
        },
        // To the previous sibling (which exists whenever `p` does); P1 to itself.
        3 => Op::Send {
            to: Dest::Proc(ProcId((p.0 - 1).max(1))),
            msg: p.0,
        },
        4 => Op::Recv { timeout: Some(0) },
        _ => Op::Now,
    }
}

fn run(strategy: &StrategyConfig, n: u32) -> f64 {
    let info = IterationInfo {
        seed: 42,
        iteration: 0,
        expected_steps: STEPS,
    };
    let config = Config {
        max_steps: STEPS,
        allow_crashes: true,
        ..Config::default()
    };
    let mut ctl: Controller<u32> = Controller::new(config, strategy.build(), info);
    ctl.bind(ProcId::ROOT).unwrap();
    let mut counters = vec![0u64; n as usize + 1];
    let mut next = ctl.start().unwrap();
    let mut spawned = 0;
    let started = Instant::now();
    while let Next::Resume(p, reply) = next {
        if let Reply::Spawned(c) = reply {
            ctl.bind(c).unwrap();
        }
        let o = if p == ProcId::ROOT {
            if spawned < n {
                spawned += 1;
                Op::Spawn {
                    link: false,
                    monitor: false,
                }
            } else {
                // The root waits for a message that never comes.
                Op::Recv { timeout: None }
            }
        } else {
            counters[p.index()] += 1;
            op(p, counters[p.index()])
        };
        next = ctl.submit(p, o).unwrap();
    }
    started.elapsed().as_nanos() as f64 / ctl.steps() as f64
}

fn main() {
    let strategies = [
        StrategyConfig::Random,
        StrategyConfig::Pct { depth: 3 },
        StrategyConfig::FairPct {
            depth: 3,
            prefix: None,
        },
        StrategyConfig::Pos,
        StrategyConfig::IdPct {
            depth_min: 1,
            depth_max: 5,
        },
    ];
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("{STEPS} steps per run, ns per step (best of 9)");
    println!("{:<10} {:>8} {:>8} {:>8}", "strategy", "n=2", "n=8", "n=32");
    for s in strategies
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s.name()))
    {
        let row: Vec<String> = [2, 8, 32]
            .iter()
            .map(|&n| {
                let best = (0..9).map(|_| run(s, n)).fold(f64::INFINITY, f64::min);
                format!("{best:>8.0}")
            })
            .collect();
        println!("{:<10} {}", s.name(), row.join(" "));
    }
}

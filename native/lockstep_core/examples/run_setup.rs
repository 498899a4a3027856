//! The engine's fixed cost of one iteration, with no VM: `Controller::new` under each strategy,
//! the root bound and started, a child spawned and bound, both exiting, the controller
//! dropped. The runner pays this on every iteration on top of the sync points themselves
//! (issue 15; `scripts/bench step_cost` times the same iteration through the NIF).
//!
//! Run: `cargo run --release -p lockstep_core --example run_setup`

use lockstep_core::strategy::StrategyConfig;
use lockstep_core::{Config, Controller, IterationInfo, Next, Op, ProcId, Reason, Reply};
use std::time::Instant;

const ITERATIONS: u64 = 200_000;

fn iteration(strategy: &StrategyConfig, i: u64) -> u64 {
    let info = IterationInfo {
        seed: 42 ^ i,
        iteration: i,
        expected_steps: 50,
    };
    let mut ctl: Controller<u32> = Controller::new(Config::default(), strategy.build(), info);
    ctl.bind(ProcId::ROOT).unwrap();
    let mut next = ctl.start().unwrap();
    let mut spawned = false;
    while let Next::Resume(p, reply) = next {
        if let Reply::Spawned(c) = reply {
            ctl.bind(c).unwrap();
        }
        let op = if p == ProcId::ROOT && !spawned {
            spawned = true;
            Op::Spawn {
                link: false,
                monitor: false,
            }
        } else {
            Op::Exit {
                reason: Reason::Normal,
                crash: false,
            }
        };
        next = ctl.submit(p, op).unwrap();
    }
    ctl.steps()
}

fn main() {
    let strategies = [
        StrategyConfig::Random,
        StrategyConfig::Pct { depth: 3 },
        StrategyConfig::Pos,
    ];
    println!("{ITERATIONS} iterations of 2 processes, ns per iteration (best of 5)");
    for s in &strategies {
        let best = (0..5)
            .map(|_| {
                let started = Instant::now();
                let mut steps = 0;
                for i in 0..ITERATIONS {
                    steps += iteration(s, i);
                }
                assert!(steps > 0);
                started.elapsed().as_nanos() as f64 / ITERATIONS as f64
            })
            .fold(f64::INFINITY, f64::min);
        println!("{:<8} {best:>8.0}", s.name());
    }
}

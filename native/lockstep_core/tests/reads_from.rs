//! Reads-from coverage: the pairs of a run name which send each receive took and which write
//! each shared-state access saw; they depend on those orders only, and are bounded per run.

mod support;

use lockstep_core::reads_from::{pairs, MAX_PAIRS};
use lockstep_core::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use support::*;

fn config() -> Config {
    Config {
        max_steps: 20_000,
        ..Config::default()
    }
}

/// The root spawns `senders` children that each send it one message, then takes them all.
fn fan_in(senders: usize) -> Vec<Instr> {
    let mut p: Vec<Instr> = (0..senders)
        .map(|i| Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Parent,
                tag: i as u64,
            }],
        })
        .collect();
    p.extend((0..senders).map(|_| Instr::Recv { timeout: None }));
    p
}

fn received_order(r: &RunResult) -> Vec<u32> {
    r.logs[&ProcId::ROOT]
        .received
        .iter()
        .map(|m| match m {
            Message::User(pl) => pl.from,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

#[test]
fn receive_orders_give_different_pairs_and_the_same_schedule_the_same_pairs() {
    let mut by_order: BTreeMap<Vec<u32>, BTreeSet<Vec<u64>>> = BTreeMap::new();
    for seed in 0..200 {
        let r = run(fan_in(2), StrategyConfig::Random, seed, config());
        assert_eq!(r.outcome, Outcome::Completed);
        let ps = pairs(&r.trace);
        assert_eq!(ps.len(), 2, "one pair per receive");
        let again = run(fan_in(2), StrategyConfig::Random, seed, config());
        assert_eq!(
            pairs(&again.trace),
            ps,
            "same seed, same schedule, same pairs"
        );
        by_order.entry(received_order(&r)).or_default().insert(ps);
    }
    assert_eq!(by_order.len(), 2, "both receive orders were seen");
    for sets in by_order.values() {
        assert_eq!(sets.len(), 1, "one receive order, one pair set: {sets:?}");
    }
    let sets: Vec<_> = by_order.values().flatten().collect();
    assert_ne!(
        sets[0], sets[1],
        "different receive orders, different pairs"
    );
}

#[test]
fn two_senders_cover_more_pairs_than_one() {
    let union = |senders: usize| {
        let mut all = BTreeSet::new();
        for seed in 0..100 {
            let r = run(fan_in(senders), StrategyConfig::Random, seed, config());
            all.extend(pairs(&r.trace));
        }
        all.len()
    };
    assert_eq!(union(1), 1);
    assert!(union(2) > union(1));
    assert!(union(3) > union(2));
}

#[test]
fn shared_state_pairs_follow_the_last_write() {
    // Two children write object 7; the root then reads it: whichever wrote last is read.
    let program = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(7)],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(7)],
        },
        Instr::SyncRead(7),
        Instr::SyncRead(7),
    ];
    let mut sets = BTreeSet::new();
    for seed in 0..200 {
        let r = run(program.clone(), StrategyConfig::Random, seed, config());
        let ps = pairs(&r.trace);
        assert_eq!(ps.len(), 4, "one pair per access");
        sets.insert(ps);
    }
    // The reads see none, one child, or the other child last: several distinct pair sets.
    assert!(sets.len() >= 3, "{sets:?}");
}

#[test]
fn timer_and_down_messages_pair_with_the_step_behind_them() {
    let program = vec![
        Instr::SpawnMonitor { program: vec![] },
        Instr::SendAfter {
            to: Target::Me,
            delay: 5,
            tag: 1,
        },
        Instr::RecvSignal { timeout: None },
        Instr::Recv { timeout: None },
    ];
    let r = run(program, StrategyConfig::Random, 1, config());
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(pairs(&r.trace).len(), 2);
}

#[test]
fn a_run_reports_at_most_max_pairs() {
    let n = MAX_PAIRS + 500;
    let mut program = Vec::new();
    for i in 0..n {
        program.push(Instr::Send {
            to: Target::Me,
            tag: i as u64,
        });
        program.push(Instr::Recv { timeout: None });
    }
    let r = run(program, StrategyConfig::Random, 0, config());
    assert_eq!(r.outcome, Outcome::Completed);
    let ps = pairs(&r.trace);
    assert_eq!(ps.len(), MAX_PAIRS);
    assert!(ps.windows(2).all(|w| w[0] < w[1]), "ascending and distinct");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pairs_are_sorted_distinct_and_a_function_of_the_trace(
        senders in 1usize..5, writes in 0usize..4, seed in any::<u64>()
    ) {
        let mut program = fan_in(senders);
        for _ in 0..writes {
            program.insert(0, Instr::Spawn { link: false, program: vec![Instr::Sync(3)] });
            program.push(Instr::SyncRead(3));
        }
        let r = run(program.clone(), StrategyConfig::Random, seed, config());
        let ps = pairs(&r.trace);
        prop_assert!(ps.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(ps.len() <= MAX_PAIRS);
        prop_assert_eq!(ps.len(), senders + 2 * writes);
        prop_assert_eq!(pairs(&r.trace), ps);
    }
}

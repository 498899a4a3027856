//! Invariants over random programs: one running process at a time (asserted by the simulator on
//! every wake-up), per-pair FIFO, no message lost or duplicated, same seed gives the same trace,
//! and a recorded schedule replays to the same trace.

mod support;

use lockstep_core::{Config, EventKind, Message, MsgId, ProcId, StrategyConfig};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use support::*;

const WORKERS: usize = 4;

fn target() -> impl Strategy<Value = Target> + Clone {
    any_target(WORKERS)
}

/// Instructions that keep per-pair FIFO observable: plain sends and plain receives.
fn fifo_instr() -> impl Strategy<Value = Instr> + Clone {
    prop_oneof![
        4 => (target(), 0..3u64).prop_map(|(to, tag)| Instr::Send { to, tag }),
        3 => prop::option::of(1..50u64).prop_map(|timeout| Instr::Recv { timeout: timeout.or(Some(30)) }),
        1 => (1..20u64).prop_map(Instr::Sleep),
        1 => Just(Instr::Now),
        1 => (0..3u64).prop_map(Instr::Sync),
    ]
}

/// Everything, including selective receive, timers, monitors, links and exits.
fn any_instr() -> impl Strategy<Value = Instr> + Clone {
    prop_oneof![
        4 => (target(), 0..3u64).prop_map(|(to, tag)| Instr::Send { to, tag }),
        2 => (1..60u64).prop_map(|t| Instr::Recv { timeout: Some(t) }),
        2 => (0..3u64, 1..60u64).prop_map(|(tag, t)| Instr::RecvTag { tag, timeout: Some(t) }),
        1 => (1..60u64).prop_map(|t| Instr::RecvSignal { timeout: Some(t) }),
        1 => (1..20u64).prop_map(Instr::Sleep),
        1 => (target(), 0..40u64, 0..3u64).prop_map(|(to, delay, tag)| Instr::SendAfter { to, delay, tag }),
        1 => Just(Instr::CancelLastTimer),
        1 => target().prop_map(Instr::Monitor),
        1 => any::<bool>().prop_map(|flush| Instr::DemonitorLast { flush }),
        1 => target().prop_map(Instr::Link),
        1 => target().prop_map(Instr::Unlink),
        1 => any::<bool>().prop_map(Instr::TrapExit),
        1 => target().prop_map(Instr::Alive),
        1 => (0..3u64).prop_map(Instr::Sync),
        1 => Just(Instr::Register("n")),
        1 => (0..3u64).prop_map(|tag| Instr::SendName { name: "n", tag }),
        1 => Just(Instr::Whereis("n")),
        1 => Just(Instr::GlobalRegister("g")),
        1 => Just(Instr::GlobalWhereis("g")),
        1 => Just(Instr::GlobalUnregister("g")),
    ]
}

fn rare_exit() -> impl Strategy<Value = Vec<Instr>> + Clone {
    prop_oneof![
        8 => Just(vec![]),
        1 => Just(vec![Instr::Crash]),
        1 => (0..WORKERS).prop_map(|k| vec![Instr::Kill(Target::Child(k))]),
        1 => (0..WORKERS, any::<bool>()).prop_map(|(k, normal)| vec![Instr::ExitSignal { to: Target::Child(k), normal }]),
    ]
}

fn program(
    instr: impl Strategy<Value = Instr> + Clone,
    tail: bool,
) -> impl Strategy<Value = Vec<Instr>> {
    let body = prop::collection::vec(instr.clone(), 0..12);
    let root_body = prop::collection::vec(instr, 0..8);
    let workers = prop::collection::vec(
        (
            body,
            if tail {
                rare_exit().boxed()
            } else {
                Just(vec![]).boxed()
            },
        )
            .prop_map(|(mut b, t)| {
                b.extend(t);
                b
            }),
        WORKERS,
    );
    (workers, root_body)
        .prop_map(|(workers, root)| spawn_children(workers, |i| i % 2 == 1, root, 500))
}

fn strategy_config() -> impl Strategy<Value = StrategyConfig> {
    prop_oneof![
        Just(StrategyConfig::Random),
        (1..5u32).prop_map(|depth| StrategyConfig::Pct { depth }),
        (1..5u32, prop::option::of(1..60u64))
            .prop_map(|(depth, prefix)| StrategyConfig::FairPct { depth, prefix }),
        Just(StrategyConfig::Pos),
        (1..3u32, 0..3u32).prop_map(|(lo, w)| StrategyConfig::IdPct {
            depth_min: lo,
            depth_max: lo + w
        }),
    ]
}

fn permissive() -> Config {
    Config {
        max_steps: 400,
        allow_crashes: true,
        ..Config::default()
    }
}

/// Every message delivered is received at most once, by its addressee, and every one not
/// received is still in a mailbox, was flushed by `demonitor`, or its addressee died.
fn check_no_loss_or_duplication(r: &RunResult) {
    let mut delivered: BTreeMap<MsgId, ProcId> = BTreeMap::new();
    let mut received: BTreeSet<MsgId> = BTreeSet::new();
    let mut flushing: BTreeSet<ProcId> = BTreeSet::new();
    for e in &r.trace {
        match &e.kind {
            EventKind::Send {
                to: Some(to), id, ..
            } => {
                assert!(delivered.insert(*id, *to).is_none(), "message id reused");
            }
            EventKind::TimerFired {
                to: Some(to),
                id: Some(id),
                ..
            } => {
                assert!(delivered.insert(*id, *to).is_none(), "message id reused");
            }
            EventKind::Deliver { to, id, .. } => {
                assert!(delivered.insert(*id, *to).is_none(), "message id reused");
            }
            EventKind::Receive { id, .. } => {
                let p = e.proc.expect("a receive has a receiver");
                assert_eq!(
                    delivered.get(id),
                    Some(&p),
                    "received by someone else or never sent"
                );
                assert!(received.insert(*id), "message {id:?} received twice");
            }
            EventKind::Demonitor { .. } => {
                flushing.insert(e.proc.expect("demonitor has a caller"));
            }
            _ => {}
        }
    }
    let in_mailboxes: BTreeSet<MsgId> = r.leftover.values().flatten().copied().collect();
    for (id, to) in delivered {
        if received.contains(&id) {
            assert!(
                !in_mailboxes.contains(&id),
                "received {id:?} but still queued"
            );
            continue;
        }
        let dead = !r.alive.contains(&to);
        assert!(
            in_mailboxes.contains(&id) || dead || flushing.contains(&to),
            "message {id:?} to {to} was lost"
        );
    }
}

fn check_fifo(r: &RunResult) {
    for (p, log) in &r.logs {
        let mut last: BTreeMap<u32, u64> = BTreeMap::new();
        for m in &log.received {
            if let Message::User(pl) = m {
                let prev = last.insert(pl.from, pl.seq).unwrap_or(0);
                assert!(
                    pl.seq > prev,
                    "{p} got seq {} from P{} after {prev}",
                    pl.seq,
                    pl.from
                );
            }
        }
    }
}

/// A name lookup, local or global, never finds a process that has already ended, and a name
/// is held by at most one process at a time.
fn check_names_follow_their_holders(r: &RunResult) {
    let mut dead: BTreeSet<ProcId> = BTreeSet::new();
    let mut local: BTreeMap<String, ProcId> = BTreeMap::new();
    let mut global: BTreeMap<String, ProcId> = BTreeMap::new();
    for e in &r.trace {
        match &e.kind {
            EventKind::Exit { .. } => {
                if let Some(p) = e.proc {
                    dead.insert(p);
                }
            }
            EventKind::Died { victim, .. } | EventKind::Vanished { victim } => {
                dead.insert(*victim);
            }
            EventKind::Register { name, target } => {
                let held = local.get(&name.to_string()).filter(|p| !dead.contains(p));
                assert!(held.is_none(), "{name} registered twice");
                local.insert(name.to_string(), *target);
            }
            EventKind::Unregister { name } => {
                local.remove(&name.to_string());
            }
            EventKind::GlobalRegister { name, target, ok } => {
                let held = global.get(&name.to_string()).filter(|p| !dead.contains(p));
                assert_eq!(*ok, held.is_none(), "global {name}: refused iff held");
                if *ok && !dead.contains(target) {
                    global.insert(name.to_string(), *target);
                }
            }
            EventKind::GlobalUnregister { name } => {
                global.remove(&name.to_string());
            }
            EventKind::Whereis { found: Some(p), .. }
            | EventKind::GlobalWhereis { found: Some(p), .. } => {
                assert!(!dead.contains(p), "a lookup found {p} after it ended");
            }
            _ => {}
        }
    }
}

/// Programs per property: 192 in the test suite; `scripts/soak engine N` sets
/// `LOCKSTEP_FUZZ_CASES` for long campaigns.
fn cases() -> u32 {
    std::env::var("LOCKSTEP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(192)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fifo_per_pair_and_no_loss(prog in program(fifo_instr(), false), s in strategy_config(), seed in any::<u64>()) {
        let r = run(prog, s, seed, permissive());
        check_fifo(&r);
        check_no_loss_or_duplication(&r);
    }

    #[test]
    fn no_loss_or_duplication_with_every_operation(prog in program(any_instr(), true), s in strategy_config(), seed in any::<u64>()) {
        let r = run(prog, s, seed, permissive());
        check_no_loss_or_duplication(&r);
        check_names_follow_their_holders(&r);
        prop_assert_eq!(r.choices.len() as u64, r.steps);
    }

    #[test]
    fn same_seed_same_trace_and_replay_reproduces(prog in program(any_instr(), true), s in strategy_config(), seed in any::<u64>()) {
        let a = run(prog.clone(), s.clone(), seed, permissive());
        let b = run(prog.clone(), s, seed, permissive());
        prop_assert_eq!(&a.trace, &b.trace);
        prop_assert_eq!(&a.choices, &b.choices);
        prop_assert_eq!(&a.outcome, &b.outcome);
        let c = run(prog, StrategyConfig::Replay { choices: a.choices.clone() }, 0, permissive());
        prop_assert_eq!(&a.trace, &c.trace);
    }
}

#[test]
fn different_seeds_explore_different_schedules() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Send {
                    to: Target::Root,
                    tag: 1,
                },
                Instr::Send {
                    to: Target::Root,
                    tag: 1,
                },
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Send {
                    to: Target::Root,
                    tag: 2,
                },
                Instr::Send {
                    to: Target::Root,
                    tag: 2,
                },
            ],
        },
        Instr::Recv { timeout: None },
        Instr::Recv { timeout: None },
        Instr::Recv { timeout: None },
        Instr::Recv { timeout: None },
    ];
    for s in [StrategyConfig::Random, StrategyConfig::Pct { depth: 3 }] {
        let schedules: BTreeSet<Vec<ProcId>> = (0..60)
            .map(|seed| run(prog.clone(), s.clone(), seed, permissive()).choices)
            .collect();
        assert!(
            schedules.len() >= 5,
            "{s:?} explored only {} schedules",
            schedules.len()
        );
    }
}

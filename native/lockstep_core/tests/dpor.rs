//! The exhaustive explorer: on the standard DPOR benchmarks, re-expressed as engine programs
//! over shared-state operations, it runs exactly one schedule per Mazurkiewicz trace; on random
//! small programs, it reaches the same final states as enumerating every interleaving.

#[path = "support/programs.rs"]
mod programs;
mod support;

use lockstep_core::explore::{ExploreConfig, Explorer, Status};
use lockstep_core::strategy::{Decision, PickError, Strategy as Scheduler};
use lockstep_core::*;
use programs::*;
use proptest::prelude::*;
use proptest::strategy::Strategy;
use proptest::test_runner::RngSeed;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use support::*;

// ----- shared-memory programs -------------------------------------------------------------

/// Explore a program to the end: the runs taken and the final states reached.
fn explore(program: Program, n: usize, config: ExploreConfig) -> (u64, BTreeSet<Final>) {
    let mut ex = Explorer::new(config);
    let mut finals = BTreeSet::new();
    while let Some(s) = ex.next_run().unwrap() {
        let (outcome, fin) = run_threads(program(n), s);
        assert_eq!(outcome, Outcome::Completed);
        finals.insert(fin);
        ex.finish_run(false).unwrap();
    }
    assert_eq!(
        ex.sleep_blocked(),
        0,
        "optimal DPOR is never sleep-set blocked"
    );
    match ex.status() {
        Status::Done { schedules } => (schedules, finals),
        other => panic!("exploration did not finish: {other:?}"),
    }
}

fn dpor(program: Program, n: usize) -> u64 {
    explore(program, n, ExploreConfig::default()).0
}

#[test]
fn readers_explores_two_to_the_n() {
    for n in [1, 2, 3, 5, 8] {
        assert_eq!(dpor(readers, n), 1 << n, "readers({n})");
    }
}

#[test]
fn writers_explores_n_factorial() {
    for (n, fact) in [(1, 1), (2, 2), (3, 6), (4, 24), (5, 120)] {
        assert_eq!(dpor(writers, n), fact, "writers({n})");
    }
}

#[test]
fn lastzero_explores_n_plus_3_times_two_to_the_n_minus_2() {
    for n in [2u32, 3, 4, 5, 6, 7] {
        let expect = u64::from(n + 3) << (n - 2);
        assert_eq!(dpor(lastzero, n as usize), expect, "lastzero({n})");
    }
}

#[test]
fn indexer_explores_eight_to_the_n_minus_11() {
    for (n, expect) in [(2, 1), (11, 1), (12, 8), (13, 64)] {
        assert_eq!(dpor(indexer, n), expect, "indexer({n})");
    }
}

#[test]
fn filesystem_explores_two_to_the_n_minus_13() {
    for (n, expect) in [(4, 1), (13, 1), (14, 2), (15, 4), (16, 8)] {
        assert_eq!(dpor(filesystem, n), expect, "filesystem({n})");
    }
}

#[test]
fn the_reduced_exploration_reaches_every_final_state_of_the_full_one() {
    let full = ExploreConfig {
        no_reduction: true,
        ..ExploreConfig::default()
    };
    for (name, program, n) in [
        ("readers", readers as Program, 2),
        ("writers", writers as Program, 2),
        ("lastzero", lastzero as Program, 1),
        ("lastzero", lastzero as Program, 2),
    ] {
        let (reduced, a) = explore(program, n, ExploreConfig::default());
        let (all, b) = explore(program, n, full);
        assert_eq!(a, b, "{name}({n})");
        assert!(
            all > reduced,
            "{name}({n}): {all} interleavings, {reduced} classes"
        );
    }
}

#[test]
fn the_budget_stops_the_exploration() {
    let mut ex = Explorer::new(ExploreConfig {
        max_schedules: Some(5),
        ..ExploreConfig::default()
    });
    let mut runs = 0;
    while let Some(s) = ex.next_run().unwrap() {
        run_threads(writers(4), s);
        ex.finish_run(false).unwrap();
        runs += 1;
    }
    assert_eq!(runs, 5);
    assert_eq!(ex.status(), Status::Budget { schedules: 5 });
}

// ----- random message-passing and shared-state programs ----------------------------------

/// Every interleaving, by depth-first enumeration of the choices (independent of the
/// explorer): follows `prefix`, then the lowest enabled process, recording what was enabled.
struct Enumerate {
    prefix: Vec<ProcId>,
    seen: Arc<Mutex<Vec<Vec<ProcId>>>>,
}

impl Scheduler for Enumerate {
    fn name(&self) -> &'static str {
        "enumerate"
    }
    fn begin(&mut self, _info: &IterationInfo) {}
    fn needs_races(&self) -> bool {
        false
    }
    fn pick(&mut self, d: &Decision<'_>) -> Result<ProcId, PickError> {
        let enabled: Vec<ProcId> = d.enabled.iter().map(|c| c.proc).collect();
        let pick = self
            .prefix
            .get(d.step as usize)
            .copied()
            .unwrap_or(enabled[0]);
        self.seen.lock().unwrap().push(enabled);
        Ok(pick)
    }
}

/// What a run of a scripted program observably did: its outcome's category, each process's
/// received messages (monitor ids left out: they number creation order), errors, timeouts and
/// the times it read (`now`, and what was left of a timer it read or cancelled), and for each
/// shared-state access the access it follows on the same object.
type Observed = (
    &'static str,
    Vec<(ProcId, Vec<String>, usize, usize, Vec<String>)>,
    Vec<(ProcId, usize, Option<(ProcId, usize)>)>,
);

fn observe(r: &RunResult) -> Observed {
    let logs = r
        .logs
        .iter()
        .map(|(p, log)| {
            let msgs = log
                .received
                .iter()
                .map(|m| match m {
                    Message::User(pl) => format!("{}:{}:{}", pl.from, pl.seq, pl.tag),
                    Message::Down { item, reason, .. } => format!("down {item:?} {reason:?}"),
                    Message::Exit { from, reason } => format!("exit {from} {reason:?}"),
                    Message::NodeDown { node } => format!("nodedown {node}"),
                })
                .collect();
            let times = log
                .replies
                .iter()
                .filter_map(|r| match r {
                    Reply::Time(t) => Some(format!("now {t}")),
                    Reply::Cancelled(left) => Some(format!("left {left:?}")),
                    _ => None,
                })
                .collect();
            (*p, msgs, log.errors.len(), log.timeouts, times)
        })
        .collect();
    let mut count: std::collections::BTreeMap<ProcId, usize> = Default::default();
    let mut last_write: std::collections::BTreeMap<u64, (ProcId, usize)> = Default::default();
    let mut reads = Vec::new();
    for e in &r.trace {
        if let (Some(p), EventKind::Sync { object, write, .. }) = (e.proc, &e.kind) {
            let k = count.entry(p).or_default();
            *k += 1;
            reads.push((p, *k, last_write.get(object).copied()));
            if *write {
                last_write.insert(*object, (p, *k));
            }
        }
    }
    // In process order: independent accesses may come in either order.
    reads.sort();
    (r.outcome.category(), logs, reads)
}

fn config() -> Config {
    config_with(false)
}

/// `race`: timers and receive deadlines may fire while processes can still run (`timers:
/// :race`); otherwise only once every process is blocked.
fn config_with(race: bool) -> Config {
    Config {
        max_steps: 200,
        race_timers: race,
        ..Config::default()
    }
}

/// As [`config_with`], the clock moving `ms` with every step.
fn config_ticking(race: bool, ms: u64) -> Config {
    Config {
        time_per_step: ms,
        ..config_with(race)
    }
}

fn brute_force(program: &[Instr]) -> (u64, BTreeSet<Observed>) {
    brute_force_with(program, config(), u64::MAX).expect("no limit")
}

/// Every interleaving's outcome, or `None` past `limit` interleavings.
fn brute_force_with(
    program: &[Instr],
    cfg: Config,
    limit: u64,
) -> Option<(u64, BTreeSet<Observed>)> {
    let mut prefix: Vec<ProcId> = Vec::new();
    let mut finals = BTreeSet::new();
    let mut runs = 0;
    loop {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Enumerate {
            prefix: prefix.clone(),
            seen: seen.clone(),
        };
        let info = IterationInfo {
            seed: 0,
            iteration: 0,
            expected_steps: 100,
        };
        let r = run_boxed(program.to_vec(), Box::new(s), info, cfg.clone());
        runs += 1;
        if runs > limit {
            return None;
        }
        finals.insert(observe(&r));
        let seen = seen.lock().unwrap().clone();
        let mut choices = r.choices.clone();
        // The deepest step with a higher enabled process left.
        loop {
            let Some(last) = choices.pop() else {
                return Some((runs, finals));
            };
            let enabled = &seen[choices.len()];
            if let Some(next) = enabled.iter().find(|p| **p > last) {
                choices.push(*next);
                break;
            }
        }
        prefix = choices;
    }
}

fn dpor_explore(program: &[Instr]) -> (u64, BTreeSet<Observed>) {
    dpor_explore_with(program, false)
}

fn dpor_explore_with(program: &[Instr], no_reduction: bool) -> (u64, BTreeSet<Observed>) {
    dpor_explore_cfg(program, no_reduction, config())
}

fn dpor_explore_cfg(
    program: &[Instr],
    no_reduction: bool,
    cfg: Config,
) -> (u64, BTreeSet<Observed>) {
    let mut ex = Explorer::new(ExploreConfig {
        max_schedules: Some(100_000),
        no_reduction,
        ..ExploreConfig::default()
    });
    let mut finals = BTreeSet::new();
    while let Some(s) = ex.next_run().unwrap() {
        let info = IterationInfo {
            seed: 0,
            iteration: 0,
            expected_steps: 100,
        };
        let r = run_boxed(program.to_vec(), s, info, cfg.clone());
        let failed = matches!(
            r.outcome,
            Outcome::Crash { .. } | Outcome::RootExit(_) | Outcome::Killed { .. }
        );
        finals.insert(observe(&r));
        ex.finish_run(failed).unwrap();
    }
    (ex.schedules(), finals)
}

/// Children name only the root and themselves: which child `Child(k)` names depends on how far
/// the root has got with its spawns when the child decides, which the engine does not see
/// (the simulator resolves it outside any step). They reach each other through the name.
fn instr(root: bool) -> impl proptest::strategy::Strategy<Value = Instr> {
    let t = if root {
        any_target(2).boxed()
    } else {
        prop_oneof![Just(Target::Root), Just(Target::Me)].boxed()
    };
    prop_oneof![
        3 => (t.clone(), 0..2u64).prop_map(|(to, tag)| Instr::Send { to, tag }),
        2 => Just(Instr::Recv { timeout: None }),
        1 => (0..2u64).prop_map(|tag| Instr::RecvTag { tag, timeout: None }),
        3 => (1..3u64).prop_map(Instr::Sync),
        2 => (1..3u64).prop_map(Instr::SyncRead),
        1 => t.clone().prop_map(Instr::Monitor),
        1 => t.clone().prop_map(Instr::Alive),
        1 => Just(Instr::Register("a")),
        1 => Just(Instr::Whereis("a")),
        1 => (0..2u64).prop_map(|tag| Instr::SendName { name: "a", tag }),
        1 => Just(Instr::TrapExit(true)),
        1 => t.clone().prop_map(Instr::Link),
        1 => t.prop_map(Instr::Kill),
    ]
}

/// As [`instr`], with timers: receives with timeouts, sleeps, `send_after` (relative and
/// absolute), cancelling and reading the last timer, and reading the clock. Delays are small,
/// so that deadlines of several processes often fall at one virtual time.
fn timed_instr(root: bool) -> impl proptest::strategy::Strategy<Value = Instr> {
    let t = if root {
        any_target(2).boxed()
    } else {
        prop_oneof![Just(Target::Root), Just(Target::Me)].boxed()
    };
    prop_oneof![
        6 => instr(root),
        2 => (0..3u64).prop_map(|ms| Instr::Recv { timeout: Some(ms) }),
        1 => (0..2u64, 0..3u64).prop_map(|(tag, ms)| Instr::RecvTag { tag, timeout: Some(ms) }),
        1 => (0..3u64).prop_map(Instr::Sleep),
        2 => (t.clone(), 0..3u64, 0..2u64)
            .prop_map(|(to, delay, tag)| Instr::SendAfter { to, delay, tag }),
        1 => (t, 0..4u64, 0..2u64).prop_map(|(to, at, tag)| Instr::SendAt { to, at, tag }),
        1 => Just(Instr::CancelLastTimer),
        1 => Just(Instr::ReadLastTimer),
        1 => Just(Instr::Now),
    ]
}

/// Two children of one to three instructions each, spawned first, then up to two more
/// instructions of the root's: the shape of every random program here.
fn two_children_then<S>(
    instr: impl Fn(bool) -> S,
) -> impl proptest::strategy::Strategy<Value = Vec<Instr>>
where
    S: proptest::strategy::Strategy<Value = Instr>,
{
    (
        proptest::collection::vec(proptest::collection::vec(instr(false), 1..4), 2..=2),
        proptest::collection::vec(instr(true), 0..3),
    )
        .prop_map(|(children, root)| {
            let mut prog: Vec<Instr> = children
                .into_iter()
                .map(|program| Instr::Spawn {
                    link: false,
                    program,
                })
                .collect();
            prog.extend(root);
            prog
        })
}

/// Mostly messages: tagged sends to the root and to the process itself, plain and selective
/// receives (some with a timeout), monitors with flushing demonitors, a kill, shared state:
/// the mix where which receive sees which message decides the outcome.
fn mailbox_instr(root: bool) -> impl proptest::strategy::Strategy<Value = Instr> {
    let t = if root {
        any_target(2).boxed()
    } else {
        prop_oneof![Just(Target::Root), Just(Target::Me)].boxed()
    };
    prop_oneof![
        6 => (t.clone(), 0..3u64).prop_map(|(to, tag)| Instr::Send { to, tag }),
        2 => Just(Instr::Recv { timeout: None }),
        4 => (0..3u64).prop_map(|tag| Instr::RecvTag { tag, timeout: None }),
        1 => (0..3u64).prop_map(|tag| Instr::RecvTag { tag, timeout: Some(0) }),
        1 => Just(Instr::RecvSignal { timeout: None }),
        1 => (1..3u64).prop_map(Instr::Sync),
        1 => t.clone().prop_map(Instr::Monitor),
        1 => any::<bool>().prop_map(|flush| Instr::DemonitorLast { flush }),
        1 => t.prop_map(Instr::Kill),
    ]
}

fn mailbox_program() -> impl proptest::strategy::Strategy<Value = Vec<Instr>> {
    two_children_then(mailbox_instr)
}

fn timed_program() -> impl proptest::strategy::Strategy<Value = Vec<Instr>> {
    two_children_then(timed_instr)
}

fn program() -> impl proptest::strategy::Strategy<Value = Vec<Instr>> {
    two_children_then(instr)
}

fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    // A fixed seed by default, so CI runs the same cases every time; `DPOR_CASES=n` and
    // `DPOR_SEED=n|random` for longer searches (see the README's soak commands).
    #![proptest_config(ProptestConfig {
        cases: env_or("DPOR_CASES", 300),
        rng_seed: match std::env::var("DPOR_SEED").as_deref() {
            Ok("random") => RngSeed::Random,
            _ => RngSeed::Fixed(env_or("DPOR_SEED", 20_261_203)),
        },
        ..ProptestConfig::default()
    })]

    #[test]
    fn dpor_reaches_the_final_states_of_every_interleaving(prog in program()) {
        let (all, expected) = brute_force(&prog);
        let (explored, reached) = dpor_explore(&prog);
        prop_assert!(explored <= all, "{explored} runs, {all} interleavings");
        prop_assert_eq!(reached, expected);
    }

    #[test]
    fn dpor_reaches_the_final_states_of_every_interleaving_of_mailbox_programs(
        prog in mailbox_program(),
    ) {
        let Some((all, expected)) = brute_force_with(&prog, config(), 50_000) else {
            return Ok(());
        };
        let (explored, reached) = dpor_explore(&prog);
        prop_assert!(explored <= all, "{explored} runs, {all} interleavings");
        prop_assert_eq!(reached, expected);
    }

    #[test]
    fn dpor_reaches_the_final_states_of_every_interleaving_with_timers(
        prog in timed_program(),
        race in any::<bool>(),
        tick in prop_oneof![4 => Just(0u64), 1 => Just(1u64)],
    ) {
        // Racing timers multiply the interleavings: the few programs with too many to
        // enumerate quickly are left out.
        let cfg = config_ticking(race, tick);
        let Some((all, expected)) = brute_force_with(&prog, cfg.clone(), 50_000) else {
            return Ok(());
        };
        let (explored, reached) = dpor_explore_cfg(&prog, false, cfg);
        prop_assert!(explored <= all, "{explored} runs, {all} interleavings");
        prop_assert_eq!(reached, expected);
    }

}

/// A spawn races with nothing its child does before it: a child's first step is never
/// reordered before its own spawn, and two children writing one object give two orders.
#[test]
fn children_writing_one_object_take_two_schedules() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1)],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1)],
        },
    ];
    assert_eq!(dpor_explore(&prog).0, 2);
}

/// `n` children each send the root one message, and the root receives `n`: the root's
/// receives take the messages in the order they were sent, so the classes are the `n!` orders
/// of the sends. A receive does not race with a message added behind the one it takes.
#[test]
fn senders_to_one_mailbox_take_n_factorial_schedules() {
    for (n, fact) in [(1u64, 1u64), (2, 2), (3, 6), (4, 24)] {
        let mut prog: Vec<Instr> = (0..n)
            .map(|tag| Instr::Spawn {
                link: false,
                program: vec![Instr::Send {
                    to: Target::Root,
                    tag,
                }],
            })
            .collect();
        prog.extend((0..n).map(|_| Instr::Recv { timeout: None }));
        let (explored, finals) = dpor_explore(&prog);
        assert_eq!(explored, fact, "{n} senders");
        assert_eq!(finals.len() as u64, fact, "{n} senders: distinct outcomes");
        if n <= 2 {
            let (all, brute) = brute_force(&prog);
            assert_eq!(
                finals, brute,
                "{n} senders: the outcomes of every interleaving"
            );
            assert!(all >= explored);
        }
    }
}

/// Two clients ask a server, which answers each: the request orders are the classes (2), and
/// each reply is received by its own client, independent of the other exchange.
#[test]
fn a_server_with_two_clients_takes_two_schedules() {
    let client = vec![
        Instr::Send {
            to: Target::Root,
            tag: 0,
        },
        Instr::Recv { timeout: None },
    ];
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: client.clone(),
        },
        Instr::Spawn {
            link: false,
            program: client,
        },
        Instr::Recv { timeout: None },
        Instr::Send {
            to: Target::Child(0),
            tag: 1,
        },
        Instr::Recv { timeout: None },
        Instr::Send {
            to: Target::Child(1),
            tag: 1,
        },
    ];
    assert_eq!(dpor_explore(&prog).0, 2);
}

/// Found by the property above. Two sends through a name that is not held yet do not
/// conflict, but once it is held they fill one mailbox: the explorer must not take them as
/// independent. The class missed: the second child's sends both fail, the root registers, the
/// first child's send lands, then the second child kills the root.
#[test]
fn sends_through_a_name_are_never_independent() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::SendName { name: "a", tag: 0 }],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::SendName { name: "a", tag: 0 },
                Instr::SendName { name: "a", tag: 0 },
                Instr::Kill(Target::Root),
            ],
        },
        Instr::Register("a"),
    ];
    assert_eq!(dpor_explore(&prog).1, brute_force(&prog).1);
}

/// Found by the property above. A selective receive that matches nothing depends on the
/// messages it looked at: the message that woke it must come before it in every reordering,
/// and a message added before it could have matched.
#[test]
fn a_scan_that_matches_nothing_reads_its_mailbox() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::SendName { name: "a", tag: 0 },
                Instr::Send {
                    to: Target::Root,
                    tag: 0,
                },
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Register("a")],
        },
        Instr::RecvTag {
            tag: 1,
            timeout: None,
        },
    ];
    assert_eq!(dpor_explore(&prog).1, brute_force(&prog).1);
}

/// Found by the property above. Whether an exit signal ends the run depends on the state (the
/// root alive, links, trapping): a kill is ordered against every other step in every state,
/// not only where it was seen to end a run.
#[test]
fn a_kill_that_ends_the_run_in_one_order_is_dependent_in_every_order() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::SendName { name: "a", tag: 0 },
                Instr::Kill(Target::Root),
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Sync(1),
                Instr::Send {
                    to: Target::Me,
                    tag: 0,
                },
            ],
        },
        Instr::Register("a"),
    ];
    assert_eq!(dpor_explore(&prog).1, brute_force(&prog).1);
}

/// Found by the property above. A sleeping process that a later step kills may never take its
/// step: it cannot stand for a sequence it has no step in. Here the first child's read after
/// the second child's writes is reached only if the root's kill does not cover it.
#[test]
fn a_process_killed_later_does_not_cover_a_reversal() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::SyncRead(1)],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(2), Instr::Sync(1)],
        },
        Instr::Kill(Target::Child(0)),
    ];
    assert_eq!(dpor_explore(&prog).1, brute_force(&prog).1);
}

/// Found by the property with timers. A receive with a timeout is enabled whether or not a
/// message is there: one that took a message does not need the send, and the order where it
/// times out first is explored (before, the send was taken as what enabled it).
#[test]
fn a_receive_with_a_timeout_does_not_need_the_message_it_took() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Recv { timeout: Some(0) }],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Root,
                tag: 0,
            }],
        },
        Instr::Send {
            to: Target::Child(0),
            tag: 0,
        },
    ];
    let (_, finals) = dpor_explore(&prog);
    assert_eq!(finals, brute_force(&prog).1);
    assert_eq!(finals.len(), 2, "the child takes the message or times out");
}

/// Timers are no longer ordered with every step: two children each sending the root a
/// message while a third process's timer runs out explore only the orders that matter.
#[test]
fn steps_that_do_not_touch_the_clock_commute_with_a_timer() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1), Instr::Sync(2)],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(3), Instr::Sync(4)],
        },
        Instr::SendAfter {
            to: Target::Me,
            delay: 5,
            tag: 0,
        },
        Instr::Recv { timeout: None },
    ];
    let (explored, finals) = dpor_explore(&prog);
    assert_eq!(finals, brute_force(&prog).1);
    assert!(explored <= 2, "{explored} schedules");
}

/// Found by the property with timers. A process's end drops the timers addressed to it: a
/// cancel of such a timer (here the second child's, to the root) is ordered with that end,
/// since cancelled before it the timer had time left, after it none.
#[test]
fn a_cancel_is_ordered_with_the_end_of_the_timer_s_target() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::CancelLastTimer],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::SendAt {
                    to: Target::Root,
                    at: 0,
                    tag: 0,
                },
                Instr::CancelLastTimer,
            ],
        },
    ];
    let (_, finals) = dpor_explore(&prog);
    assert_eq!(finals, brute_force(&prog).1);
    assert_eq!(finals.len(), 2);
}

/// Found by the property with timers (racing). A cancel takes the clock's next step away,
/// though it is independent of a clock read: the first child's cancel having run first does
/// not stand for the order where the second child reads the clock at 1, then the timer fires
/// at 2, then the cancel finds nothing left.
#[test]
fn a_cancel_does_not_cover_reading_the_clock_before_the_timer_it_cancels() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Recv { timeout: Some(1) },
                Instr::SendAfter {
                    to: Target::Me,
                    delay: 1,
                    tag: 0,
                },
                Instr::CancelLastTimer,
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Now],
        },
    ];
    let (_, finals) = dpor_explore_cfg(&prog, false, config_with(true));
    let (_, expected) = brute_force_with(&prog, config_with(true), u64::MAX).unwrap();
    assert_eq!(finals, expected);
    assert_eq!(finals.len(), 5);
}

/// With the clock moving at every step (`time_per_step`), a clock read depends on how many
/// steps came before it: every step is ordered with every other, and the reads see every time
/// enumeration sees.
#[test]
fn a_clock_that_moves_with_every_step_orders_every_step() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Now],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1)],
        },
    ];
    let cfg = config_ticking(false, 1);
    let (explored, finals) = dpor_explore_cfg(&prog, false, cfg.clone());
    let (all, expected) = brute_force_with(&prog, cfg, u64::MAX).unwrap();
    assert_eq!(finals, expected);
    assert!(finals.len() > 1);
    assert_eq!(explored, all, "no reduction");
}

/// Found by the soak. The end of a monitored process puts a DOWN in the owner's mailbox only
/// while the owner lives, so in a run where the owner ended first it touched no mailbox: its
/// race with the send the owner received was missed, and with it the DOWN received first.
#[test]
fn a_monitored_exit_writes_the_owner_s_mailbox_even_after_the_owner_ended() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Root,
                tag: 0,
            }],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1)],
        },
        Instr::Monitor(Target::Child(1)),
        Instr::Recv { timeout: None },
    ];
    let (_, finals) = dpor_explore(&prog);
    assert_eq!(finals, brute_force(&prog).1);
    assert_eq!(
        finals.len(),
        3,
        "the message, a DOWN :noproc or a DOWN :normal first"
    );
}

/// `n` children each send the root a message with a tag of its own, and the root takes them
/// by tag: no receive could take another message than the one it took, so the order of the
/// sends is observed by none of them, and one schedule covers every interleaving (without
/// observers: 3, 17 and 139 schedules for 2, 3 and 4 children).
#[test]
fn tagged_messages_to_selective_receives_take_one_schedule() {
    for n in 1..=5u64 {
        for descending in [false, true] {
            let mut prog: Vec<Instr> = (0..n).map(sends_root).collect();
            let tags: Vec<u64> = if descending {
                (0..n).rev().collect()
            } else {
                (0..n).collect()
            };
            prog.extend(
                tags.iter()
                    .map(|&tag| Instr::RecvTag { tag, timeout: None }),
            );
            let (explored, finals) = dpor_explore(&prog);
            assert_eq!(explored, 1, "{n} tagged senders");
            if n <= 3 {
                assert_eq!(finals, brute_force(&prog).1, "{n} tagged senders");
            }
        }
    }
}

/// Two messages one selective receive could take either of: the receive observes their
/// order, so both orders are explored (two classes); a third, which only a later receive
/// takes, adds no class: the first receives reject it, seen or (evaluated by the later scans)
/// unseen. Where it is sent between the two, one redundant run: a sleep set compares a step
/// with steps of other runs, so it takes two sends to one mailbox as dependent whatever the
/// receives do, and a sender put to sleep wakes at the other send.
#[test]
fn messages_a_receive_could_take_either_of_are_ordered() {
    let take = |tag| Instr::RecvTag { tag, timeout: None };
    for (prog, runs) in [
        (vec![sends_root(0), sends_root(0), take(0), take(0)], 2),
        (
            vec![
                sends_root(1),
                sends_root(0),
                sends_root(0),
                take(0),
                take(0),
                take(1),
            ],
            2,
        ),
        (
            vec![
                sends_root(0),
                sends_root(1),
                sends_root(0),
                take(0),
                take(0),
                take(1),
            ],
            3,
        ),
    ] {
        let (explored, finals) = dpor_explore(&prog);
        assert_eq!(explored, runs, "{prog:?}");
        assert_eq!(finals.len(), 2, "{prog:?}");
        assert_eq!(finals, brute_force(&prog).1, "{prog:?}");
    }
}

/// Found by the mailbox property. A scan that took nothing is enabled by the message it was
/// handed, but holds up nothing after it: here the root's first receive rejects the tag-1
/// message, takes the tag-0 one, and its second receive (which does not wait) takes the
/// tag-1 message or finds nothing, depending on whether it came before. No receive observes
/// the order of the two sends, so only the race of the second receive with the tag-1 send
/// finds the run where it comes after.
#[test]
fn a_scan_that_took_nothing_holds_up_nothing_after_it() {
    let prog = vec![
        sends_root(1),
        sends_root(0),
        Instr::RecvTag {
            tag: 0,
            timeout: None,
        },
        Instr::RecvTag {
            tag: 1,
            timeout: Some(0),
        },
    ];
    assert_eq!(dpor_explore(&prog).1, brute_force(&prog).1);
}

/// Found by the property with timers. The root's receive has a timeout, so it needs no message
/// to be enabled; its race with the first child's send plans a branch for the root where only
/// its deadline could let it run, and with timers that fire once every process waits it is
/// not enabled there. That branch must not stand for the reversal of the two sends (the
/// second child's, after a receive that times out at once, and the first's), or the run where
/// the root receives the second child's message is never explored.
#[test]
fn a_branch_whose_process_is_not_enabled_covers_no_reversal() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Send {
                    to: Target::Root,
                    tag: 0,
                },
                Instr::Recv { timeout: Some(1) },
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Recv { timeout: Some(0) },
                Instr::Send {
                    to: Target::Root,
                    tag: 0,
                },
            ],
        },
        Instr::Recv { timeout: Some(1) },
    ];
    let cfg = config_with(false);
    let expected = brute_force_with(&prog, cfg.clone(), 50_000)
        .expect("small")
        .1;
    assert_eq!(dpor_explore_cfg(&prog, false, cfg).1, expected);
}

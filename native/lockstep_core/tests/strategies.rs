//! The scheduling strategies: each picks only enabled processes, the same seed gives the same
//! schedule, and each does what its paper says (PCT's change points, IdPct's depth cycle, POS's
//! priority re-draws, fair PCT ending spin loops), plus scenarios comparing them.

mod support;

use lockstep_core::op::sync_object;
use lockstep_core::strategy::{
    Candidate, Decision, FairPct, IdPct, Pct, Pos, Strategy as Scheduler, StrategyConfig,
};
use lockstep_core::{Config, EventKind, IterationInfo, OpKind, Outcome, ProcId};
use proptest::prelude::*;
use std::collections::BTreeSet;
use support::*;

fn info(seed: u64, iteration: u64, expected_steps: u64) -> IterationInfo {
    IterationInfo {
        seed,
        iteration,
        expected_steps,
    }
}

fn all_configs() -> Vec<StrategyConfig> {
    vec![
        StrategyConfig::Random,
        StrategyConfig::Pct { depth: 3 },
        StrategyConfig::FairPct {
            depth: 3,
            prefix: None,
        },
        StrategyConfig::FairPct {
            depth: 2,
            prefix: Some(5),
        },
        StrategyConfig::Pos,
        StrategyConfig::IdPct {
            depth_min: 1,
            depth_max: 5,
        },
    ]
}

fn sync_op(proc: u32, table: u32, key: u32, write: bool) -> Candidate {
    Candidate {
        object: Some((sync_object(table, key), write)),
        ..Candidate::new(ProcId(proc), OpKind::Sync)
    }
}

/// Drive a strategy directly through `steps` decisions whose enabled sets come from `sets`
/// (indices into `procs` processes, cycled), spawning every process first.
fn drive(
    s: &mut dyn Scheduler,
    procs: u32,
    sets: &[Vec<u32>],
    steps: usize,
    it: IterationInfo,
) -> Vec<ProcId> {
    s.begin(&it);
    for p in 0..procs {
        s.on_spawn(ProcId(p));
    }
    let mut last = None;
    let mut picks = Vec::with_capacity(steps);
    for step in 0..steps {
        let enabled: Vec<Candidate> = sets[step % sets.len()]
            .iter()
            .map(|&p| sync_op(p, p % 3, 1 + step as u32 % 2, p % 2 == 0))
            .collect();
        let d = Decision {
            step: step as u64,
            enabled: &enabled,
            last,
        };
        let p = s.pick(&d).expect("pick");
        assert!(
            enabled.iter().any(|c| c.proc == p),
            "{} picked {p}, not enabled in {:?}",
            s.name(),
            sets[step % sets.len()]
        );
        picks.push(p);
        last = Some(p);
    }
    picks
}

fn enabled_sets(procs: u32) -> impl Strategy<Value = Vec<Vec<u32>>> {
    prop::collection::vec(
        prop::collection::btree_set(0..procs, 1..=procs as usize)
            .prop_map(|s| s.into_iter().collect::<Vec<u32>>()),
        1..20,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every strategy picks only enabled processes, and the same seed gives the same picks.
    #[test]
    fn picks_are_enabled_and_seeded(
        sets in enabled_sets(6),
        seed in any::<u64>(),
        iteration in 0..20u64,
        k in 1..80u64,
    ) {
        for config in all_configs() {
            let it = info(seed, iteration, k);
            let a = drive(config.build().as_mut(), 6, &sets, 120, it);
            let b = drive(config.build().as_mut(), 6, &sets, 120, it);
            prop_assert_eq!(a, b, "{:?}", config);
        }
    }

    /// PCT draws exactly `min(d - 1, k)` distinct change points within `1..=k`, and with more
    /// processes than change points, all always enabled, it switches processes exactly once per
    /// change point, right after it, and never otherwise.
    #[test]
    fn pct_switches_exactly_at_its_change_points(
        seed in any::<u64>(),
        depth in 1..8u32,
        k in 1..150u64,
    ) {
        let mut pct = Pct::new(depth);
        let procs = depth + 1;
        let all: Vec<u32> = (0..procs).collect();
        let picks = drive(&mut pct, procs, &[all], (k + 20) as usize, info(seed, 0, k));
        let points = pct.change_points();
        prop_assert_eq!(points.len() as u64, u64::from(depth - 1).min(k));
        prop_assert!(points.iter().all(|&s| (1..=k).contains(&s)));
        prop_assert!(points.windows(2).all(|w| w[0] < w[1]), "distinct and sorted: {:?}", points);
        // picks[i] ran step i + 1; a switch between steps s and s + 1 must follow change point s.
        let switches: Vec<u64> = (1..picks.len())
            .filter(|&i| picks[i] != picks[i - 1])
            .map(|i| i as u64)
            .collect();
        prop_assert_eq!(switches, points);
    }
}

#[test]
fn pct_demotes_the_process_that_ran_the_change_point_step() {
    // With depth 2 there is one change point c: the process that ran step c gets priority 1 and
    // the other one runs from step c + 1 on.
    for seed in 0..50 {
        let mut pct = Pct::new(2);
        let picks = drive(&mut pct, 2, &[vec![0, 1]], 40, info(seed, 0, 30));
        let c = pct.change_points()[0] as usize;
        let first = picks[0];
        assert!(picks[..c].iter().all(|&p| p == first), "seed {seed}");
        assert!(picks[c..].iter().all(|&p| p != first), "seed {seed}");
        assert_eq!(pct.priority(first), 1);
        assert!(pct.priority(picks[c]) > 1 << 32);
    }
}

#[test]
fn pct_with_a_short_horizon_makes_every_step_a_change_point() {
    let mut pct = Pct::new(6);
    drive(&mut pct, 7, &[(0..7).collect()], 10, info(3, 0, 3));
    assert_eq!(pct.change_points(), vec![1, 2, 3]);
}

#[test]
fn idpct_cycles_its_depth_by_iteration_index() {
    let mut s = IdPct::new(1, 5);
    let all: Vec<u32> = (0..6).collect();
    let mut depths = Vec::new();
    for iteration in 0..12 {
        drive(
            &mut s,
            6,
            std::slice::from_ref(&all),
            60,
            info(99, iteration, 50),
        );
        depths.push(s.depth());
        assert_eq!(s.depth(), s.depth_for(iteration));
        // The iteration really runs PCT at that depth.
        assert_eq!(s.pct().change_points().len() as u32, s.depth() - 1);
    }
    assert_eq!(depths, vec![1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]);
    let narrow = IdPct::new(3, 4);
    assert_eq!(
        (0..5).map(|i| narrow.depth_for(i)).collect::<Vec<_>>(),
        vec![3, 4, 3, 4, 3]
    );
    assert_eq!(IdPct::new(2, 2).depth_for(7), 2);
    // Clamped like the config's validation would demand.
    assert_eq!(IdPct::new(0, 0).depth_for(3), 1);
}

#[test]
fn fair_pct_is_pct_for_its_prefix_then_a_random_walk() {
    let all: Vec<u32> = (0..4).collect();
    for seed in 0..40 {
        let mut fair = FairPct::new(3, Some(30));
        let mut pct = Pct::new(3);
        // Same seed, and PCT's horizon equal to the prefix: identical first 30 picks.
        let f = drive(
            &mut fair,
            4,
            std::slice::from_ref(&all),
            200,
            info(seed, 0, 30),
        );
        let p = drive(
            &mut pct,
            4,
            std::slice::from_ref(&all),
            200,
            info(seed, 0, 30),
        );
        assert_eq!(f[..30], p[..30], "seed {seed}");
        assert_eq!(fair.pct().change_points(), pct.change_points());
        // After the prefix, every process keeps getting picked.
        let tail: BTreeSet<ProcId> = f[30..].iter().copied().collect();
        assert_eq!(tail.len(), 4, "seed {seed}");
    }
    // The default prefix is three quarters of the expected steps.
    let mut fair = FairPct::new(3, None);
    fair.begin(&info(1, 0, 200));
    assert_eq!(fair.prefix(), 150);
    assert!(fair.pct().change_points().iter().all(|&s| s <= 150));
    assert_eq!(FairPct::default_prefix(1), 1);
}

#[test]
fn pos_redraws_exactly_the_priorities_of_racing_operations() {
    let mut pos = Pos::new();
    pos.begin(&info(5, 0, 10));
    for p in 0..6 {
        pos.on_spawn(ProcId(p));
    }
    // Step 1: only P0 is enabled; it writes key 1 of table 7.
    let first = [sync_op(0, 7, 1, true)];
    let d = Decision {
        step: 0,
        enabled: &first,
        last: None,
    };
    assert_eq!(pos.pick(&d).unwrap(), ProcId(0));
    let before: Vec<u64> = (0..6).map(|p| pos.priority(ProcId(p))).collect();
    // Step 2: P1 reads the same key (races), P2 writes another key (does not), P3 scans the
    // whole table (races), P4 writes another table (does not), P5 sends to P0 (does not).
    let second = [
        sync_op(0, 9, 9, true),
        sync_op(1, 7, 1, false),
        sync_op(2, 7, 2, true),
        sync_op(3, 7, 0, false),
        sync_op(4, 8, 1, true),
        Candidate {
            target: Some(ProcId(0)),
            ..Candidate::new(ProcId(5), OpKind::Send)
        },
    ];
    let d = Decision {
        step: 1,
        enabled: &second,
        last: Some(ProcId(0)),
    };
    let picked = pos.pick(&d).unwrap();
    let after: Vec<u64> = (0..6).map(|p| pos.priority(ProcId(p))).collect();
    // P0 ran: its next operation has a fresh priority.
    assert_ne!(before[0], after[0]);
    assert_ne!(before[1], after[1], "racing read re-drawn");
    assert_eq!(before[2], after[2], "other key kept");
    assert_ne!(before[3], after[3], "racing whole-table scan re-drawn");
    assert_eq!(before[4], after[4], "other table kept");
    assert_eq!(before[5], after[5], "send to the writer kept");
    let top = (0..6).max_by_key(|&p| after[p]).unwrap();
    assert_eq!(picked, ProcId(top as u32), "the highest priority runs");

    // Step 3: the picked operation's racers are re-drawn in turn; nothing else is.
    let done = second[top];
    let d = Decision {
        step: 2,
        enabled: &second,
        last: Some(picked),
    };
    pos.pick(&d).unwrap();
    let third: Vec<u64> = (0..6).map(|p| pos.priority(ProcId(p))).collect();
    for (i, c) in second.iter().enumerate() {
        if i == top || done.races_with(c) {
            assert_ne!(after[i], third[i], "P{i} should be re-drawn after P{top}");
        } else {
            assert_eq!(after[i], third[i], "P{i} should be kept after P{top}");
        }
    }
}

/// POS at the start of a run, with processes 0 to 2 spawned.
fn three_spawned() -> Pos {
    let mut pos = Pos::new();
    pos.begin(&info(11, 0, 10));
    for p in 0..3 {
        pos.on_spawn(ProcId(p));
    }
    pos
}

fn priorities(pos: &Pos) -> Vec<u64> {
    (0..3).map(|p| pos.priority(ProcId(p))).collect()
}

#[test]
fn pos_keeps_the_priority_of_a_process_whose_step_raced_with_nothing() {
    let send_to_0 = |p| Candidate {
        target: Some(ProcId(0)),
        ..Candidate::new(ProcId(p), OpKind::Send)
    };
    for invisible in [
        OpKind::Start,
        OpKind::Spawn,
        OpKind::Sleep,
        OpKind::Now,
        OpKind::SendAfter,
        OpKind::CancelTimer,
        OpKind::Demonitor,
    ] {
        let mut pos = three_spawned();
        let ran = pos
            .pick(&Decision {
                step: 0,
                enabled: &[Candidate::new(ProcId(1), invisible)],
                last: None,
            })
            .unwrap();
        assert_eq!(ran, ProcId(1));
        let before = priorities(&pos);
        pos.pick(&Decision {
            step: 1,
            enabled: &[send_to_0(1), send_to_0(2)],
            last: Some(ran),
        })
        .unwrap();
        let after = priorities(&pos);
        assert_eq!(before, after, "{invisible:?}: nothing re-drawn");
    }
    // A visible step re-draws the process that ran it (and its racers).
    let mut pos = three_spawned();
    let ran = pos
        .pick(&Decision {
            step: 0,
            enabled: &[send_to_0(1)],
            last: None,
        })
        .unwrap();
    let before = priorities(&pos);
    pos.pick(&Decision {
        step: 1,
        enabled: &[send_to_0(1), send_to_0(2)],
        last: Some(ran),
    })
    .unwrap();
    let after = priorities(&pos);
    assert_eq!(before[0], after[0]);
    assert_ne!(before[1], after[1], "the sender is re-drawn");
    assert_ne!(before[2], after[2], "the racing send is re-drawn");
}

/// The root spawns `workers` processes in a row, each of which sends one message to the root.
/// Returns whether the root spawned them all before the first send, and whether the last one
/// spawned sent first.
fn spawner_run(workers: u32, strategy: StrategyConfig, seed: u64) -> (bool, bool) {
    let mut prog: Vec<Instr> = (0..workers)
        .map(|i| Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Root,
                tag: u64::from(i),
            }],
        })
        .collect();
    prog.extend((0..workers).map(|_| Instr::Recv { timeout: None }));
    let r = run(prog, strategy, seed, cfg());
    let first_send = r
        .trace
        .iter()
        .position(|e| matches!(e.kind, EventKind::Send { .. }));
    let last_spawn = r
        .trace
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::Spawn { .. }));
    let all_spawned_first = matches!((last_spawn, first_send), (Some(a), Some(b)) if a < b);
    let last_first = first_send.and_then(|i| r.trace[i].proc) == Some(ProcId(workers));
    (all_spawned_first, last_first)
}

#[test]
fn pos_lets_a_spawner_start_all_its_workers_before_they_act() {
    // Spawns race with nothing, so the root keeps one priority through all of them: it gets
    // through the eight spawns before any worker sends exactly when its priority is above all
    // eight workers' (one run in nine), and then the last worker's send comes first in one of
    // eight of those. Re-drawn after every spawn, the root would almost never get that far.
    let seeds = 1800;
    let count = |s: StrategyConfig| {
        (0..seeds).fold((0, 0), |(all, last), seed| {
            let (a, l) = spawner_run(8, s.clone(), seed);
            (all + usize::from(a), last + usize::from(l))
        })
    };
    let (pos_all, pos_last) = count(StrategyConfig::Pos);
    let (random_all, random_last) = count(StrategyConfig::Random);
    eprintln!(
        "spawner, {seeds} seeds: all spawned first pos {pos_all}, random {random_all}; \
         last spawned sends first pos {pos_last}, random {random_last}"
    );
    // Expected 200 of 1800.
    assert!(
        (140..=260).contains(&pos_all),
        "pos: all spawned first in {pos_all} of {seeds}"
    );
    assert!(
        pos_last >= 4 * random_last.max(1),
        "pos {pos_last} vs random {random_last}"
    );
}

#[test]
fn different_seeds_explore_different_schedules() {
    let worker = |tag| Instr::Spawn {
        link: false,
        program: vec![
            Instr::Sync(sync_object(1, 1)),
            Instr::Send {
                to: Target::Root,
                tag,
            },
            Instr::Sync(sync_object(1, 1)),
            Instr::Send {
                to: Target::Root,
                tag,
            },
        ],
    };
    let mut prog = vec![worker(1), worker(2), worker(3)];
    prog.extend((0..6).map(|_| Instr::Recv { timeout: None }));
    for s in all_configs() {
        let schedules: BTreeSet<Vec<ProcId>> = (0..60)
            .map(|seed| run_with(prog.clone(), s.clone(), seed, cfg(), 20).choices)
            .collect();
        assert!(
            schedules.len() >= 10,
            "{s:?} explored only {} schedules",
            schedules.len()
        );
    }
}

/// A process that polls (zero-timeout receive in a loop) for a message another process sends
/// after some work of its own, then reports to the root.
fn spin_loop() -> Vec<Instr> {
    let mut setter: Vec<Instr> = (0..5).map(|k| Instr::Sync(sync_object(2, k + 1))).collect();
    setter.push(Instr::Send {
        to: Target::Child(0),
        tag: 1,
    });
    vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Poll { tag: 1 },
                Instr::Send {
                    to: Target::Root,
                    tag: 2,
                },
            ],
        },
        Instr::Spawn {
            link: false,
            program: setter,
        },
        Instr::RecvTag {
            tag: 2,
            timeout: None,
        },
    ]
}

#[test]
fn fair_pct_ends_spin_loops_that_pct_starves() {
    let limit = Config {
        max_steps: 1000,
        ..cfg()
    };
    let k = 30;
    let mut pct_starved = 0;
    let mut longest_fair = 0;
    for seed in 0..200 {
        let p = run_with(
            spin_loop(),
            StrategyConfig::Pct { depth: 3 },
            seed,
            limit.clone(),
            k,
        );
        match p.outcome {
            Outcome::StepLimit { .. } => pct_starved += 1,
            Outcome::Completed => {}
            other => panic!("pct, seed {seed}: {other:?}"),
        }
        let f = run_with(
            spin_loop(),
            StrategyConfig::FairPct {
                depth: 3,
                prefix: None,
            },
            seed,
            limit.clone(),
            k,
        );
        assert_eq!(f.outcome, Outcome::Completed, "fair_pct, seed {seed}");
        longest_fair = longest_fair.max(f.steps);
    }
    assert!(pct_starved >= 10, "pct starved only {pct_starved} of 200");
    // The random walk after the prefix (22 steps) ends the loop quickly.
    assert!(
        longest_fair < 200,
        "fair_pct's longest run: {longest_fair} steps"
    );
    eprintln!("spin loop: pct starved {pct_starved}/200; fair_pct longest run {longest_fair}");
}

/// A bug that needs one process to win several consecutive picks in the middle of the run. B
/// raises a ready flag before it has finished initialising X; A reads the flag, does `m` steps of
/// private work and writes X, and B's late initialisation then overwrites A's result. The bug
/// shows when A gets from its flag read through its write of X (`m + 2` picks) between B's
/// two steps. Noise processes do private work meanwhile, as a real system's other processes
/// would.
fn flag_program(m: u32, noise: u32, noise_len: u32) -> Vec<Instr> {
    let (flag, x) = (sync_object(1, 1), sync_object(1, 2));
    let mut a = vec![Instr::SyncRead(flag)];
    a.extend((0..m).map(|i| Instr::Sync(sync_object(2, i + 1))));
    a.push(Instr::Sync(x));
    let mut prog = vec![
        Instr::Spawn {
            link: false,
            program: a,
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(flag), Instr::Sync(x)],
        },
    ];
    for n in 0..noise {
        prog.push(Instr::Spawn {
            link: false,
            program: (0..noise_len)
                .map(|i| Instr::Sync(sync_object(10 + n, i + 1)))
                .collect(),
        });
    }
    // Keep the root alive until everyone is done.
    prog.push(Instr::Sleep(1));
    prog
}

/// Whether B (P2) raised the flag, then A (P1) read it and wrote X, then B wrote X.
fn flag_bug(r: &RunResult) -> bool {
    let (flag, x) = (sync_object(1, 1), sync_object(1, 2));
    let order: Vec<(ProcId, u64)> = r
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Sync { object, .. } if *object == flag || *object == x => {
                e.proc.map(|p| (p, *object))
            }
            _ => None,
        })
        .collect();
    order
        == [
            (ProcId(2), flag),
            (ProcId(1), flag),
            (ProcId(1), x),
            (ProcId(2), x),
        ]
}

#[test]
fn pos_finds_a_bug_needing_consecutive_wins_far_more_often_than_pct() {
    let prog = flag_program(3, 5, 40);
    // PCT gets the exact run length as its estimate: the most favourable setting for it.
    let k = run(prog.clone(), StrategyConfig::Random, 0, cfg()).steps;
    let found = |s: StrategyConfig| {
        (0..600)
            .filter(|&seed| flag_bug(&run_with(prog.clone(), s.clone(), seed, cfg(), k)))
            .count()
    };
    let pos = found(StrategyConfig::Pos);
    let pct = found(StrategyConfig::Pct { depth: 3 });
    let random = found(StrategyConfig::Random);
    eprintln!("flag bug over 600 seeds (k = {k}): pos {pos}, pct {pct}, random {random}");
    assert!(pos >= 15, "pos found the bug in only {pos} of 600 runs");
    assert!(pos >= 4 * pct.max(1), "pos {pos} vs pct {pct}");
    assert!(pos >= 4 * random.max(1), "pos {pos} vs random {random}");
}

#[test]
fn configs_round_trip_and_validate() {
    for c in all_configs() {
        let json = serde_json::to_string(&c).unwrap();
        let back: StrategyConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert!(c.validate().is_ok());
        assert_eq!(c.build().name(), c.name());
    }
    assert_eq!(
        serde_json::to_string(&StrategyConfig::IdPct {
            depth_min: 1,
            depth_max: 5
        })
        .unwrap(),
        r#"{"kind":"idpct","depth_min":1,"depth_max":5}"#
    );
    assert_eq!(
        serde_json::from_str::<StrategyConfig>(r#"{"kind":"fair_pct","depth":2}"#).unwrap(),
        StrategyConfig::FairPct {
            depth: 2,
            prefix: None
        }
    );
    let bad = [
        StrategyConfig::Pct { depth: 0 },
        StrategyConfig::FairPct {
            depth: 0,
            prefix: None,
        },
        StrategyConfig::FairPct {
            depth: 3,
            prefix: Some(0),
        },
        StrategyConfig::IdPct {
            depth_min: 0,
            depth_max: 3,
        },
        StrategyConfig::IdPct {
            depth_min: 4,
            depth_max: 3,
        },
    ];
    for c in bad {
        let e = c.validate().unwrap_err();
        assert!(e.contains(c.name()), "{e}");
    }
}

/// Picks the lowest enabled id and keeps every candidate it was shown.
struct Recorder {
    races: bool,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Candidate>>>,
}

impl Scheduler for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn begin(&mut self, _info: &IterationInfo) {}

    fn pick(
        &mut self,
        decision: &Decision<'_>,
    ) -> Result<ProcId, lockstep_core::strategy::PickError> {
        self.seen
            .lock()
            .unwrap()
            .extend_from_slice(decision.enabled);
        Ok(decision.enabled[0].proc)
    }

    fn needs_races(&self) -> bool {
        self.races
    }
}

/// The candidates a strategy is shown when the root registers itself as `srv`, spawns a child
/// and waits, and the child sends to `srv` by name, then touches a shared object.
fn candidates_shown(races: bool) -> Vec<Candidate> {
    use lockstep_core::{Controller, Dest, Next, Op, Reply};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let strategy = Recorder {
        races,
        seen: seen.clone(),
    };
    let mut ctl: Controller<u32> =
        Controller::new(Config::default(), Box::new(strategy), info(1, 0, 10));
    ctl.bind(ProcId::ROOT).unwrap();
    let mut next = ctl.start().unwrap();
    let mut child = None;
    let mut root_ops = vec![
        Op::Register {
            name: "srv".into(),
            target: ProcId::ROOT,
        },
        Op::Spawn {
            link: false,
            monitor: false,
        },
        Op::Recv { timeout: None },
    ]
    .into_iter();
    let mut child_ops = vec![
        Op::Send {
            to: Dest::Name("srv".into()),
            msg: 1,
        },
        Op::Sync {
            object: sync_object(3, 4),
            write: true,
            label: 0,
        },
    ]
    .into_iter();
    while let Next::Resume(p, reply) = next {
        if let Reply::Spawned(c) = reply {
            ctl.bind(c).unwrap();
            child = Some(c);
        }
        let op = if p == ProcId::ROOT {
            root_ops.next()
        } else {
            assert_eq!(Some(p), child);
            child_ops.next()
        };
        let Some(op) = op else { break };
        next = ctl.submit(p, op).unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    seen
}

#[test]
fn candidates_are_described_in_full_only_for_strategies_that_decide_races() {
    let child = ProcId(1);
    let full = candidates_shown(true);
    let send = full
        .iter()
        .find(|c| c.proc == child && c.op == OpKind::Send)
        .expect("the child's send was a candidate");
    assert_eq!(
        send.target,
        Some(ProcId::ROOT),
        "the name resolves to the root"
    );
    assert_eq!(send.name, Some(lockstep_core::op::name_hash("srv")));
    let sync = full
        .iter()
        .find(|c| c.proc == child && c.op == OpKind::Sync)
        .expect("the child's sync was a candidate");
    assert_eq!(sync.object, Some((sync_object(3, 4), true)));
    let register = full.iter().find(|c| c.op == OpKind::Register).unwrap();
    assert_eq!(register.target, Some(ProcId::ROOT));

    // Same run, same decisions; only the descriptions are bare.
    let bare = candidates_shown(false);
    assert_eq!(bare.len(), full.len());
    for (b, f) in bare.iter().zip(&full) {
        assert_eq!(*b, Candidate::new(f.proc, f.op));
    }
}

#[test]
fn only_pos_asks_for_race_descriptions() {
    for config in all_configs() {
        let expected = matches!(config, StrategyConfig::Pos);
        assert_eq!(config.build().needs_races(), expected, "{}", config.name());
    }
    for config in [
        StrategyConfig::Replay { choices: vec![] },
        StrategyConfig::Guided { choices: vec![] },
    ] {
        assert!(!config.build().needs_races(), "{}", config.name());
    }
}

/// Three workers touching one object and sending to the root, which receives six messages.
fn three_workers() -> Vec<Instr> {
    let worker = |tag| Instr::Spawn {
        link: false,
        program: vec![
            Instr::Sync(sync_object(1, 1)),
            Instr::Send {
                to: Target::Root,
                tag,
            },
            Instr::Sync(sync_object(1, 1)),
            Instr::Send {
                to: Target::Root,
                tag,
            },
        ],
    };
    let mut prog = vec![worker(1), worker(2), worker(3)];
    prog.extend((0..6).map(|_| Instr::Recv { timeout: None }));
    prog
}

fn prefixed(choices: Vec<ProcId>) -> StrategyConfig {
    StrategyConfig::Prefixed {
        choices,
        then: Box::new(StrategyConfig::Pos),
    }
}

#[test]
fn prefixed_follows_its_prefix_then_the_inner_strategy() {
    let prog = three_workers();
    for seed in 0..40 {
        let kept = run(prog.clone(), StrategyConfig::Pos, 1000 + seed, cfg()).choices;
        for k in [0, 1, kept.len() / 2, kept.len()] {
            let r = run(prog.clone(), prefixed(kept[..k].to_vec()), seed, cfg());
            assert_eq!(&r.choices[..k], &kept[..k], "seed {seed}, prefix {k}");
            // The same prefix and seed give the same run.
            let again = run(prog.clone(), prefixed(kept[..k].to_vec()), seed, cfg());
            assert_eq!(r.choices, again.choices);
        }
        // With no prefix the run is the inner strategy's own.
        let plain = run(prog.clone(), StrategyConfig::Pos, seed, cfg());
        assert_eq!(
            run(prog.clone(), prefixed(vec![]), seed, cfg()).choices,
            plain.choices
        );
    }
}

#[test]
fn prefixed_runs_continue_differently_after_the_prefix() {
    let prog = three_workers();
    let kept = run(prog.clone(), StrategyConfig::Pos, 7, cfg()).choices;
    let k = kept.len() / 2;
    let tails: BTreeSet<Vec<ProcId>> = (0..40)
        .map(|seed| run(prog.clone(), prefixed(kept[..k].to_vec()), seed, cfg()).choices)
        .collect();
    assert!(
        tails.len() >= 5,
        "only {} distinct continuations",
        tails.len()
    );
}

#[test]
fn prefixed_drops_a_prefix_it_cannot_follow() {
    // Process 9 never exists: the prefix is dropped at its first step and the run is the inner
    // strategy's, complete and never diverged.
    let prog = three_workers();
    let plain = run(prog.clone(), StrategyConfig::Pos, 3, cfg());
    let r = run(prog.clone(), prefixed(vec![ProcId(9), ProcId(0)]), 3, cfg());
    assert!(matches!(r.outcome, Outcome::Completed), "{:?}", r.outcome);
    assert_eq!(r.choices, plain.choices);
}

#[test]
fn prefixed_configs_validate_their_inner_strategy() {
    let ok = prefixed(vec![ProcId(0)]);
    assert!(ok.validate().is_ok());
    assert_eq!(ok.name(), "pos");
    assert_eq!(ok.build().name(), "pos");
    let json = serde_json::to_string(&ok).unwrap();
    assert_eq!(serde_json::from_str::<StrategyConfig>(&json).unwrap(), ok);
    let bad_depth = StrategyConfig::Prefixed {
        choices: vec![],
        then: Box::new(StrategyConfig::Pct { depth: 0 }),
    };
    assert!(bad_depth.validate().unwrap_err().contains("pct depth"));
    let nested = StrategyConfig::Prefixed {
        choices: vec![],
        then: Box::new(prefixed(vec![])),
    };
    assert!(nested.validate().unwrap_err().contains("sampling strategy"));
}

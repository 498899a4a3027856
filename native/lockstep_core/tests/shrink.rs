//! Preemption accounting, guided runs, and schedule shrinking driven through the simulator the
//! way the runner drives it through the NIF: propose, run guided, answer, then replay strictly.

mod support;

use lockstep_core::shrink::{Shrinker, Size};
use lockstep_core::{Config, Outcome, ProcId, StrategyConfig};
use proptest::prelude::*;
use support::*;

fn ids(v: &[u32]) -> Vec<ProcId> {
    v.iter().map(|i| ProcId(*i)).collect()
}

fn guided(choices: &[u32]) -> StrategyConfig {
    StrategyConfig::Guided {
        choices: ids(choices),
    }
}

fn replay(choices: &[ProcId]) -> StrategyConfig {
    StrategyConfig::Replay {
        choices: choices.to_vec(),
    }
}

fn size(r: &RunResult) -> Size {
    Size::of(&r.preemptions)
}

/// Shrink `original` (a failing run of `program`), answering each proposal with a guided run
/// that is stopped at the best's step count (a longer run could not be accepted anyway).
fn shrink(program: &[Instr], config: &Config, original: &RunResult) -> Shrinker {
    let category = original.outcome.category();
    let mut s = Shrinker::new(original.choices.clone(), original.preemptions.clone())
        .expect("flags match the choices");
    while let Some(candidate) = s.next_candidate() {
        let budget = Config {
            max_steps: s.step_budget().min(config.max_steps),
            ..config.clone()
        };
        let r = run(
            program.to_vec(),
            StrategyConfig::Guided { choices: candidate },
            0,
            budget,
        );
        let same = r.outcome.is_failure() && r.outcome.category() == category;
        s.feedback(same, r.choices, r.preemptions)
            .expect("well-formed feedback");
    }
    s
}

#[test]
fn preemptions_are_switches_away_from_enabled_processes() {
    // P0 and P1 each do two shared-state steps; both stay enabled throughout.
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1), Instr::Sync(2)],
        },
        Instr::Sync(3),
        Instr::Sync(4),
    ];
    let r = run(
        prog.clone(),
        replay(&ids(&[0, 0, 1, 0, 1, 0, 1, 1, 0])),
        0,
        cfg(),
    );
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(
        r.preemptions,
        vec![false, false, true, true, true, true, true, false, false]
    );
    assert_eq!(
        size(&r),
        Size {
            steps: 9,
            preemptions: 5
        }
    );

    // A switch away from a process blocked in a receive is not a preemption.
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Root,
                tag: 1,
            }],
        },
        Instr::Recv { timeout: None },
    ];
    let r = run(prog.clone(), replay(&ids(&[0, 0, 1, 1, 1, 0, 0])), 0, cfg());
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.preemptions, vec![false; 7]);
    // Taking the message while the sender could still exit preempts the sender.
    let r = run(prog, replay(&ids(&[0, 0, 1, 1, 0, 0])), 0, cfg());
    assert_eq!(r.preemptions, vec![false, false, false, false, true, false]);
}

#[test]
fn guided_follows_enabled_choices_and_otherwise_runs_non_preemptively() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(1), Instr::Sync(2)],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(3)],
        },
        Instr::Sync(4),
        Instr::Sleep(100),
    ];
    // Fully non-preemptive: the root until it sleeps, then the lowest enabled id, each as far
    // as it goes.
    let r = run(prog.clone(), guided(&[]), 0, cfg());
    assert_eq!(r.choices, ids(&[0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 0]));
    assert_eq!(size(&r).preemptions, 0);

    // Followed while enabled (P2 at step 4); P2 is not enabled at step 2 (not spawned yet), so
    // the root keeps running there; after the list ends the last process (P2) runs on.
    let r = run(prog.clone(), guided(&[0, 2, 0, 2, 1]), 0, cfg());
    assert_eq!(&r.choices[..5], &ids(&[0, 0, 0, 2, 1])[..]);
    assert_eq!(r.outcome, Outcome::Completed);
    let again = run(prog.clone(), guided(&[0, 2, 0, 2, 1]), 0, cfg());
    assert_eq!(r.trace, again.trace, "guided runs are deterministic");

    // A guided run never diverges, and its executed choices replay strictly.
    let strict = run(prog, replay(&r.choices), 0, cfg());
    assert_eq!(strict.trace, r.trace);
}

/// Three chatty processes, a victim linked to the root that starts trapping exits, and a killer
/// that sends the victim an exit signal. If the signal arrives before the victim traps exits,
/// the victim dies and takes the root down through the link.
fn signal_race() -> Vec<Instr> {
    let noise = |k: u64| {
        let mut p = Vec::new();
        for i in 0..6 {
            p.push(Instr::Sync(10 * k + i));
            p.push(Instr::Send {
                to: Target::Child(((k + 1) % 3) as usize),
                tag: 5,
            });
        }
        p
    };
    vec![
        Instr::Spawn {
            link: false,
            program: noise(0),
        },
        Instr::Spawn {
            link: false,
            program: noise(1),
        },
        Instr::Spawn {
            link: false,
            program: noise(2),
        },
        Instr::Spawn {
            link: true,
            program: vec![Instr::TrapExit(true), Instr::RecvSignal { timeout: None }],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::ExitSignal {
                to: Target::Child(3),
                normal: false,
            }],
        },
        Instr::Sleep(1000),
    ]
}

/// The first seed whose random run fails, with that run.
fn first_failure(prog: &[Instr], config: &Config) -> (u64, RunResult) {
    (0..500)
        .map(|seed| (seed, run(prog.to_vec(), random(), seed, config.clone())))
        .find(|(_, r)| r.outcome.is_failure())
        .expect("the random strategy finds the race")
}

#[test]
fn shrinks_a_noisy_random_failure_to_the_minimal_schedule() {
    let prog = signal_race();
    let config = cfg();
    let mut shrunk_some = 0;
    for seed_base in [0u64, 1000, 2000] {
        // Several distinct failing runs, so the test does not hinge on one lucky schedule.
        let (seed, original) = (seed_base..seed_base + 500)
            .map(|seed| (seed, run(prog.clone(), random(), seed, config.clone())))
            .find(|(_, r)| r.outcome.is_failure() && size(r).preemptions >= 3)
            .expect("a noisy failing run");
        assert_eq!(original.outcome.category(), "exception", "seed {seed}");
        let before = size(&original);
        let s = shrink(&prog, &config, &original);
        let after = s.size();
        assert!(s.is_done());
        assert_eq!(s.initial_size(), before);
        assert!(
            after.improves_on(&before),
            "seed {seed}: {before:?} -> {after:?}"
        );
        // The program needs the root's start and five spawns, then the killer's start and
        // signal, with nobody preempted: 8 steps, 0 preemptions.
        assert_eq!(
            after,
            Size {
                steps: 8,
                preemptions: 0
            },
            "seed {seed}: shrunk to {:?}",
            s.best()
        );
        // Strict replay of the result fails the same way with the same size.
        let strict = run(prog.clone(), replay(s.best()), 0, config.clone());
        assert_eq!(strict.outcome.category(), original.outcome.category());
        assert_eq!(strict.choices, s.best());
        assert_eq!(size(&strict), after);
        // Deterministic: the same input gives the same result and the same effort.
        let t = shrink(&prog, &config, &original);
        assert_eq!((t.best(), t.candidates()), (s.best(), s.candidates()));
        shrunk_some += 1;
    }
    assert_eq!(shrunk_some, 3);
}

#[test]
fn a_bystander_that_ran_before_the_failure_is_dropped() {
    // P1 works on its own; P2's message makes the root fail. The non-preemptive fallback alone
    // would run P1 first (lowest id), so only dropping P1's choices removes its steps.
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Sync(1),
                Instr::Send {
                    to: Target::Me,
                    tag: 0,
                },
                Instr::Recv { timeout: None },
                Instr::Sync(2),
                Instr::Sync(3),
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Root,
                tag: 1,
            }],
        },
        Instr::RecvTag {
            tag: 1,
            timeout: None,
        },
        Instr::Crash,
    ];
    let config = cfg();
    let original = (0..200)
        .map(|seed| run(prog.clone(), random(), seed, config.clone()))
        .find(|r| r.choices.iter().filter(|p| **p == ProcId(1)).count() >= 4)
        .expect("a run where P1 ran before the failure");
    let s = shrink(&prog, &config, &original);
    assert!(!s.best().contains(&ProcId(1)), "{:?}", s.best());
    assert_eq!(
        s.size(),
        Size {
            steps: 8,
            preemptions: 0
        }
    );
    assert_eq!(s.best(), &ids(&[0, 0, 0, 2, 2, 2, 0, 0])[..]);
}

#[test]
fn a_deadlock_keeps_its_category_while_shrinking() {
    // The root takes whichever message arrives first, then waits for tag 2: if tag 2 came
    // first, it waits forever. Noise keeps the schedule long.
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Sync(1),
                Instr::Sync(2),
                Instr::Send {
                    to: Target::Root,
                    tag: 1,
                },
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Sync(3),
                Instr::Send {
                    to: Target::Root,
                    tag: 2,
                },
                Instr::Sync(4),
            ],
        },
        Instr::Recv { timeout: None },
        Instr::RecvTag {
            tag: 2,
            timeout: None,
        },
    ];
    let config = cfg();
    let (_, original) = first_failure(&prog, &config);
    assert!(matches!(original.outcome, Outcome::Deadlock(_)));
    let s = shrink(&prog, &config, &original);
    let after = s.size();
    let before = size(&original);
    assert!(after.steps <= before.steps && after.preemptions <= before.preemptions);
    assert_eq!(after.preemptions, 0, "P2 can run first without preempting");
    let strict = run(prog, replay(s.best()), 0, config);
    assert!(matches!(strict.outcome, Outcome::Deadlock(_)));
}

fn any_program() -> impl Strategy<Value = Vec<Instr>> {
    let target = any_target(3);
    let instr = prop_oneof![
        4 => (target.clone(), 0..3u64).prop_map(|(to, tag)| Instr::Send { to, tag }),
        2 => (1..40u64).prop_map(|t| Instr::Recv { timeout: Some(t) }),
        2 => (0..3u64).prop_map(|tag| Instr::RecvTag { tag, timeout: None }),
        1 => (1..20u64).prop_map(Instr::Sleep),
        2 => (0..4u64).prop_map(Instr::Sync),
        1 => target.clone().prop_map(Instr::Monitor),
        1 => (1..40u64).prop_map(|t| Instr::RecvSignal { timeout: Some(t) }),
        1 => target.clone().prop_map(Instr::Link),
        1 => any::<bool>().prop_map(Instr::TrapExit),
        1 => Just(Instr::Register("n")),
        1 => (0..3u64).prop_map(|tag| Instr::SendName { name: "n", tag }),
        1 => target.prop_map(|to| Instr::ExitSignal { to, normal: false }),
        1 => Just(Instr::Crash),
    ];
    let body = prop::collection::vec(instr.clone(), 0..8);
    (
        prop::collection::vec(body, 3),
        prop::collection::vec(instr, 0..5),
    )
        .prop_map(|(workers, root)| spawn_children(workers, |i| i == 1, root, 100))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn shrinking_never_returns_a_passing_or_larger_schedule(
        prog in any_program(),
        seed in any::<u64>(),
    ) {
        let config = Config { max_steps: 300, ..cfg() };
        let original = run(prog.clone(), random(), seed, config.clone());
        prop_assume!(original.outcome.is_failure());
        let s = shrink(&prog, &config, &original);
        let (before, after) = (size(&original), s.size());
        prop_assert!(after.steps <= before.steps && after.preemptions <= before.preemptions);
        prop_assert_eq!(after == before, s.accepted() == 0);
        let strict = run(prog.clone(), replay(s.best()), 0, config.clone());
        prop_assert!(strict.outcome.is_failure());
        prop_assert_eq!(strict.outcome.category(), original.outcome.category());
        prop_assert_eq!(&strict.choices[..], s.best());
        prop_assert_eq!(size(&strict), after);
    }
}

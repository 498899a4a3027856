//! Causal slices of simulated runs: chains of messages, timers, exits, monitors, links, names
//! and shared state reach the failure; a process working beside them stays out.

mod support;

use lockstep_core::slice::{causal_slice, failure_points, Point};
use lockstep_core::{Config, EventKind, Outcome, ProcId, StrategyConfig};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use support::*;

/// Which process ran each step.
fn owners(r: &RunResult) -> BTreeMap<u64, ProcId> {
    r.choices
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u64 + 1, *p))
        .collect()
}

fn steps_of(r: &RunResult, p: u32) -> BTreeSet<u64> {
    owners(r)
        .into_iter()
        .filter(|(_, q)| *q == ProcId(p))
        .map(|(s, _)| s)
        .collect()
}

fn slice_of_failure(r: &RunResult) -> BTreeSet<u64> {
    causal_slice(&r.trace, &failure_points(&r.trace, &r.outcome))
        .into_iter()
        .collect()
}

fn noise() -> Instr {
    Instr::Spawn {
        link: false,
        program: vec![
            Instr::Sync(900),
            Instr::Send {
                to: Target::Me,
                tag: 8,
            },
            Instr::Recv { timeout: None },
            Instr::Sync(901),
        ],
    }
}

fn permissive() -> Config {
    Config {
        allow_crashes: true,
        ..cfg()
    }
}

/// Run `prog` under several random seeds and check every run whose outcome matches.
fn for_runs(prog: &[Instr], config: Config, check: impl Fn(&RunResult)) {
    let mut checked = 0;
    for seed in 0..40 {
        let r = run(prog.to_vec(), random(), seed, config.clone());
        if matches!(r.outcome, Outcome::RootExit(_)) {
            check(&r);
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} runs ended as expected");
}

#[test]
fn a_message_chain_is_in_the_slice_and_a_bystander_is_not() {
    // P1 -> P2 -> P0, then P0 fails. P3 works on its own.
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::Send {
                to: Target::Child(1),
                tag: 1,
            }],
        },
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::RecvTag {
                    tag: 1,
                    timeout: None,
                },
                Instr::Send {
                    to: Target::Root,
                    tag: 2,
                },
            ],
        },
        noise(),
        Instr::RecvTag {
            tag: 2,
            timeout: None,
        },
        Instr::Crash,
    ];
    for_runs(&prog, cfg(), |r| {
        let slice = slice_of_failure(r);
        // The root's own steps, both messengers' steps up to their sends, and nothing of P3.
        assert!(steps_of(r, 0).is_subset(&slice));
        assert!(steps_of(r, 3).is_disjoint(&slice), "{slice:?}");
        let p1_send = *steps_of(r, 1).iter().nth(1).expect("P1 sent");
        let p2_send = *steps_of(r, 2).iter().nth(2).expect("P2 sent");
        assert!(slice.contains(&p1_send) && slice.contains(&p2_send));
        // P1's and P2's exits come after their sends: they do not precede the failure.
        for (p, upto) in [(1, p1_send), (2, p2_send)] {
            for s in steps_of(r, p) {
                assert_eq!(slice.contains(&s), s <= upto, "P{p} step {s}");
            }
        }
    });
}

#[test]
fn a_timer_links_its_setter_to_the_receiver() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![Instr::SendAfter {
                to: Target::Root,
                delay: 10,
                tag: 3,
            }],
        },
        noise(),
        Instr::RecvTag {
            tag: 3,
            timeout: None,
        },
        Instr::Crash,
    ];
    for_runs(&prog, cfg(), |r| {
        let slice = slice_of_failure(r);
        assert!(steps_of(r, 0).is_subset(&slice));
        let p1: Vec<u64> = steps_of(r, 1).into_iter().collect();
        assert!(
            slice.contains(&p1[0]) && slice.contains(&p1[1]),
            "start, send_after"
        );
        assert!(
            !slice.contains(&p1[2]),
            "P1's exit is concurrent with the fire"
        );
        assert!(steps_of(r, 2).is_disjoint(&slice));
    });
}

#[test]
fn an_exit_reaches_a_monitor_and_a_link_through_down_and_exit_messages() {
    // P2 tells P1 to quit; P1's exit reaches the root as DOWN (monitor) and as EXIT (link,
    // trapped). The root fails after both.
    let body = |monitor: bool| {
        let mut prog = vec![
            Instr::Spawn {
                link: false,
                program: vec![Instr::Recv { timeout: None }],
            },
            Instr::Spawn {
                link: false,
                program: vec![Instr::Send {
                    to: Target::Child(0),
                    tag: 4,
                }],
            },
            noise(),
            Instr::TrapExit(true),
        ];
        prog.push(if monitor {
            Instr::Monitor(Target::Child(0))
        } else {
            Instr::Link(Target::Child(0))
        });
        prog.push(Instr::RecvSignal { timeout: None });
        prog.push(Instr::Crash);
        prog
    };
    for monitor in [true, false] {
        for_runs(&body(monitor), permissive(), |r| {
            let got_signal = r.logs[&ProcId::ROOT].received.len() == 1;
            let slice = slice_of_failure(r);
            assert!(steps_of(r, 0).is_subset(&slice));
            assert!(steps_of(r, 3).is_disjoint(&slice));
            if got_signal {
                // DOWN/EXIT for a live P1 means P1 exited after the message from P2.
                let real_exit = r.logs[&ProcId::ROOT].received.iter().any(|m| {
                    !matches!(
                        m,
                        lockstep_core::Message::Down {
                            reason: lockstep_core::Reason::Noproc,
                            ..
                        } | lockstep_core::Message::Exit {
                            reason: lockstep_core::Reason::Noproc,
                            ..
                        }
                    )
                });
                if real_exit {
                    assert!(steps_of(r, 1).is_subset(&slice), "P1's whole life");
                    assert!(steps_of(r, 2).iter().take(2).all(|s| slice.contains(s)));
                }
            }
        });
    }
}

#[test]
fn a_name_lookup_depends_on_the_register_it_resolved() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Register("svc"),
                Instr::RecvTag {
                    tag: 9,
                    timeout: None,
                },
            ],
        },
        noise(),
        Instr::Sleep(50),
        Instr::Whereis("svc"),
        Instr::Crash,
    ];
    for_runs(&prog, cfg(), |r| {
        let slice = slice_of_failure(r);
        assert!(steps_of(r, 0).is_subset(&slice));
        assert!(
            steps_of(r, 1).is_subset(&slice),
            "P1 started and registered"
        );
        assert!(steps_of(r, 2).is_disjoint(&slice));
    });
}

#[test]
fn a_death_through_a_link_depends_on_the_signal_that_caused_it() {
    // The killer's signal kills the victim, whose link kills the root.
    let prog = vec![
        noise(),
        Instr::Spawn {
            link: true,
            program: vec![Instr::TrapExit(true), Instr::RecvSignal { timeout: None }],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::ExitSignal {
                to: Target::Child(1),
                normal: false,
            }],
        },
        Instr::Sleep(1000),
    ];
    let mut died = 0;
    for seed in 0..60 {
        let r = run(prog.clone(), random(), seed, cfg());
        if !matches!(r.outcome, Outcome::RootExit(_)) {
            continue;
        }
        died += 1;
        let slice = slice_of_failure(&r);
        assert!(steps_of(&r, 0).is_subset(&slice));
        assert!(
            steps_of(&r, 3).is_subset(&slice),
            "the killer's start and signal"
        );
        assert!(steps_of(&r, 1).is_disjoint(&slice), "noise");
        // The victim had not trapped exits yet: whatever it ran precedes its death.
        assert!(steps_of(&r, 2).is_subset(&slice));
    }
    assert!(died >= 5);
}

#[test]
fn shared_state_orders_conflicting_accesses_only() {
    // P1 writes object 5 then tells the root; P2 writes object 5 too, P3 object 6. The root
    // fails after hearing from P1: P2's write precedes the failure only if it came before
    // P1's, P3's never does.
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Sync(5),
                Instr::Send {
                    to: Target::Root,
                    tag: 1,
                },
            ],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(5)],
        },
        Instr::Spawn {
            link: false,
            program: vec![Instr::Sync(6)],
        },
        Instr::RecvTag {
            tag: 1,
            timeout: None,
        },
        Instr::Crash,
    ];
    let (mut before, mut after) = (0, 0);
    for seed in 0..60 {
        let r = run(prog.clone(), random(), seed, cfg());
        let slice = slice_of_failure(&r);
        let p1_sync = steps_of(&r, 1).into_iter().nth(1).expect("P1 synced");
        match steps_of(&r, 2).into_iter().nth(1) {
            Some(p2_sync) if p2_sync < p1_sync => {
                assert!(slice.contains(&p2_sync));
                before += 1;
            }
            Some(p2_sync) => {
                assert!(!slice.contains(&p2_sync));
                after += 1;
            }
            None => {}
        }
        assert!(steps_of(&r, 3).is_disjoint(&slice));
    }
    assert!(before > 0 && after > 0, "{before} {after}");
}

#[test]
fn a_deadlock_slices_back_from_every_blocked_process() {
    let prog = vec![
        Instr::Spawn {
            link: false,
            program: vec![
                Instr::Send {
                    to: Target::Root,
                    tag: 1,
                },
                Instr::RecvTag {
                    tag: 7,
                    timeout: None,
                },
            ],
        },
        noise(),
        Instr::RecvTag {
            tag: 7,
            timeout: None,
        },
    ];
    let r = run(prog, StrategyConfig::Random, 3, cfg());
    let Outcome::Deadlock(blocked) = &r.outcome else {
        panic!("expected a deadlock, got {:?}", r.outcome);
    };
    assert_eq!(blocked.len(), 2);
    let targets = failure_points(&r.trace, &r.outcome);
    assert_eq!(targets, vec![Point::End(ProcId(0)), Point::End(ProcId(1))]);
    let slice = slice_of_failure(&r);
    assert!(steps_of(&r, 0).is_subset(&slice));
    assert!(steps_of(&r, 1).is_subset(&slice));
    assert!(steps_of(&r, 2).is_disjoint(&slice));
    assert!(causal_slice(&r.trace, &[]).is_empty());
    assert!(failure_points(&r.trace, &Outcome::<Pl>::Completed).is_empty());
}

fn any_program() -> impl Strategy<Value = Vec<Instr>> {
    let target = any_target(3);
    let instr = prop_oneof![
        4 => (target.clone(), 0..3u64).prop_map(|(to, tag)| Instr::Send { to, tag }),
        2 => (1..40u64).prop_map(|t| Instr::Recv { timeout: Some(t) }),
        2 => (0..3u64, 1..40u64).prop_map(|(tag, t)| Instr::RecvTag { tag, timeout: Some(t) }),
        1 => (target.clone(), 0..30u64, 0..3u64).prop_map(|(to, delay, tag)| Instr::SendAfter { to, delay, tag }),
        2 => (0..4u64).prop_map(Instr::Sync),
        1 => target.clone().prop_map(Instr::Monitor),
        1 => (1..40u64).prop_map(|t| Instr::RecvSignal { timeout: Some(t) }),
        1 => target.clone().prop_map(Instr::Link),
        1 => any::<bool>().prop_map(Instr::TrapExit),
        1 => Just(Instr::Register("n")),
        1 => (0..3u64).prop_map(|tag| Instr::SendName { name: "n", tag }),
        1 => Just(Instr::Whereis("n")),
        1 => target.prop_map(|to| Instr::ExitSignal { to, normal: false }),
    ];
    let body = prop::collection::vec(instr.clone(), 0..10);
    (
        prop::collection::vec(body, 3),
        prop::collection::vec(instr, 0..6),
    )
        .prop_map(|(workers, root)| spawn_children(workers, |i| i == 1, root, 100))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// From any step: the slice holds the step, is closed under program order and under
    /// send -> receive, and holds nothing after the step.
    #[test]
    fn slices_are_closed_under_program_order_and_messages(
        prog in any_program(),
        seed in any::<u64>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let r = run(prog, StrategyConfig::Random, seed, permissive());
        prop_assume!(r.steps > 0);
        let target = pick.index(r.steps as usize) as u64 + 1;
        let slice: BTreeSet<u64> = causal_slice(&r.trace, &[Point::Step(target)])
            .into_iter()
            .collect();
        prop_assert!(slice.contains(&target));
        prop_assert!(slice.iter().all(|s| *s <= target));
        let own = owners(&r);
        for s in &slice {
            let p = own[s];
            for earlier in own.range(..*s).filter(|(_, q)| **q == p) {
                prop_assert!(slice.contains(earlier.0), "program order {} -> {s}", earlier.0);
            }
        }
        let sent_at: BTreeMap<_, _> = r.trace.iter().filter_map(|e| match e.kind {
            EventKind::Send { id, to: Some(_), .. } => Some((id, e.step)),
            _ => None,
        }).collect();
        for e in r.trace.iter().filter(|e| slice.contains(&e.step) && e.proc.is_some()) {
            if let EventKind::Receive { id, .. } = e.kind {
                if let Some(sent) = sent_at.get(&id) {
                    prop_assert!(slice.contains(sent), "send {sent} -> receive {}", e.step);
                }
            }
        }
    }
}

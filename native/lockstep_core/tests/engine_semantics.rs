//! BEAM semantics users rely on, checked through the simulator.

mod support;

use lockstep_core::*;
use support::*;
use Instr::*;

/// A controller driven by hand (no scripted processes), under the random strategy.
fn bare_controller() -> Controller<u8> {
    let info = IterationInfo {
        seed: 0,
        iteration: 0,
        expected_steps: 10,
    };
    Controller::new(cfg(), random().build(), info)
}

fn one(program: Vec<Instr>) -> RunResult {
    run(program, random(), 1, cfg())
}

#[test]
fn a_lone_root_completes() {
    let r = one(vec![Now]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.choices, vec![ProcId(0), ProcId(0), ProcId(0)]);
}

#[test]
fn send_and_receive_between_parent_and_child() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![Send {
                to: Target::Parent,
                tag: 7,
            }],
        },
        Recv { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let got = &r.logs[&ProcId(0)].received;
    assert!(matches!(
        &got[..],
        [Message::User(Pl {
            from: 1,
            tag: 7,
            ..
        })]
    ));
}

#[test]
fn selective_receive_skips_non_matching_and_keeps_them() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![
                Send {
                    to: Target::Parent,
                    tag: 1,
                },
                Send {
                    to: Target::Parent,
                    tag: 2,
                },
            ],
        },
        RecvTag {
            tag: 2,
            timeout: None,
        },
        Recv { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let tags: Vec<u64> = r.logs[&ProcId(0)]
        .received
        .iter()
        .map(|m| match m {
            Message::User(p) => p.tag,
            _ => 0,
        })
        .collect();
    assert_eq!(tags, vec![2, 1]);
}

#[test]
fn receive_with_nothing_to_receive_is_a_deadlock_naming_the_waiter() {
    let r = one(vec![Recv { timeout: None }]);
    match r.outcome {
        Outcome::Deadlock(b) => {
            assert_eq!(b.len(), 1);
            assert_eq!(b[0].proc, ProcId(0));
            assert_eq!(b[0].op, OpKind::Recv);
        }
        o => panic!("expected deadlock, got {o:?}"),
    }
}

#[test]
fn receive_timeout_advances_the_virtual_clock() {
    let r = one(vec![Recv { timeout: Some(250) }, Now]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(0)].timeouts, 1);
    assert_eq!(r.now, 250);
    assert!(r.logs[&ProcId(0)].replies.contains(&Reply::Time(250)));
}

#[test]
fn selective_receive_timeout_counts_from_the_start_of_the_receive() {
    // The child sends a non-matching message at t=100; the receive began at t=0 with 300 ms.
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![
                Sleep(100),
                Send {
                    to: Target::Parent,
                    tag: 1,
                },
            ],
        },
        RecvTag {
            tag: 9,
            timeout: Some(300),
        },
        Now,
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(0)].timeouts, 1);
    assert!(r.logs[&ProcId(0)].replies.contains(&Reply::Time(300)));
}

#[test]
fn send_after_delivers_when_everyone_waits_and_cancel_reports_remaining() {
    let r = one(vec![
        SendAfter {
            to: Target::Me,
            delay: 50,
            tag: 1,
        },
        SendAfter {
            to: Target::Me,
            delay: 80,
            tag: 2,
        },
        CancelLastTimer,
        Recv { timeout: None },
        Now,
        CancelLastTimer,
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let replies = &r.logs[&ProcId(0)].replies;
    assert!(replies.contains(&Reply::Cancelled(Some(80))));
    assert!(replies.contains(&Reply::Time(50)));
    // The cancelled timer never fires; cancelling it again says so.
    assert_eq!(replies.last(), Some(&Reply::Cancelled(None)));
    assert_eq!(r.logs[&ProcId(0)].received.len(), 1);
}

#[test]
fn timers_due_at_the_same_time_fire_together() {
    // Two children sleep the same time: both become enabled at t=10 and either may go first.
    let child = |tag| Spawn {
        link: false,
        program: vec![
            Sleep(10),
            Send {
                to: Target::Parent,
                tag,
            },
        ],
    };
    let mut orders = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let r = run(
            vec![
                child(1),
                child(2),
                Recv { timeout: None },
                Recv { timeout: None },
            ],
            random(),
            seed,
            cfg(),
        );
        assert_eq!(r.outcome, Outcome::Completed);
        assert_eq!(r.now, 10);
        let tags: Vec<u64> = r.logs[&ProcId(0)]
            .received
            .iter()
            .map(|m| match m {
                Message::User(p) => p.tag,
                _ => 0,
            })
            .collect();
        orders.insert(tags);
    }
    assert_eq!(
        orders.len(),
        2,
        "both orders should be explored: {orders:?}"
    );
}

#[test]
fn monitor_delivers_down_with_the_exit_reason() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![Recv { timeout: Some(5) }],
        },
        Monitor(Target::Child(0)),
        RecvSignal { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    match &r.logs[&ProcId(0)].received[..] {
        [Message::Down {
            item: DownItem::Proc(p),
            reason: Reason::Normal,
            ..
        }] => assert_eq!(*p, ProcId(1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn monitor_of_a_dead_process_gives_noproc_at_once() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![],
        },
        Sleep(1),
        Monitor(Target::Child(0)),
        RecvSignal { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(matches!(
        &r.logs[&ProcId(0)].received[..],
        [Message::Down {
            reason: Reason::Noproc,
            ..
        }]
    ));
}

#[test]
fn demonitor_flush_removes_a_delivered_down() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![],
        },
        Monitor(Target::Child(0)),
        Sleep(1),
        DemonitorLast { flush: true },
        Recv { timeout: Some(10) },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(r.logs[&ProcId(0)].received.is_empty());
    assert_eq!(r.logs[&ProcId(0)].timeouts, 1);
}

#[test]
fn abnormal_exit_of_a_linked_child_kills_the_parent() {
    let r = one(vec![
        Spawn {
            link: true,
            program: vec![Crash],
        },
        Recv { timeout: None },
    ]);
    // The child's own crash is reported first; the root died with it.
    assert!(matches!(
        r.outcome,
        Outcome::Crash {
            proc: ProcId(1),
            ..
        }
    ));
    assert!(!r.alive.contains(&ProcId(0)));
    assert!(r.kills.contains(&ProcId(0)));
}

#[test]
fn trap_exit_turns_a_linked_crash_into_a_message() {
    let mut c = cfg();
    c.allow_crashes = true;
    let r = run(
        vec![
            TrapExit(true),
            Spawn {
                link: true,
                program: vec![Crash],
            },
            RecvSignal { timeout: None },
        ],
        random(),
        3,
        c,
    );
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(matches!(
        &r.logs[&ProcId(0)].received[..],
        [Message::Exit {
            from: ProcId(1),
            reason: Reason::Term(Pl { tag: 666, .. })
        }]
    ));
}

#[test]
fn normal_exit_of_a_linked_child_does_not_kill() {
    let r = one(vec![
        Spawn {
            link: true,
            program: vec![],
        },
        Sleep(5),
        Alive(Target::Child(0)),
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(0)].replies.last(), Some(&Reply::Bool(false)));
}

#[test]
fn kill_cannot_be_trapped() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![TrapExit(true), Recv { timeout: None }],
        },
        Monitor(Target::Child(0)),
        Kill(Target::Child(0)),
        RecvSignal { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(matches!(
        &r.logs[&ProcId(0)].received[..],
        [Message::Down {
            reason: Reason::Killed,
            ..
        }]
    ));
    assert!(r.kills.contains(&ProcId(1)));
}

#[test]
fn exit_signal_normal_is_ignored_by_others_but_trapped_as_a_message() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![Recv { timeout: Some(100) }],
        },
        Spawn {
            link: false,
            program: vec![TrapExit(true), RecvSignal { timeout: None }],
        },
        Sleep(1),
        ExitSignal {
            to: Target::Child(0),
            normal: true,
        },
        ExitSignal {
            to: Target::Child(1),
            normal: true,
        },
        Alive(Target::Child(0)),
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(0)].replies.last(), Some(&Reply::Bool(true)));
    assert!(matches!(
        &r.logs[&ProcId(2)].received[..],
        [Message::Exit {
            from: ProcId(0),
            reason: Reason::Normal
        }]
    ));
}

#[test]
fn link_to_a_dead_process_fails_with_noproc_or_traps() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![],
        },
        Sleep(1),
        Link(Target::Child(0)),
        TrapExit(true),
        Link(Target::Child(0)),
        RecvSignal { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(0)].errors, vec![OpError::Noproc]);
    assert!(matches!(
        &r.logs[&ProcId(0)].received[..],
        [Message::Exit {
            from: ProcId(1),
            reason: Reason::Noproc
        }]
    ));
}

#[test]
fn unlink_stops_propagation() {
    let r = run(
        vec![
            Spawn {
                link: true,
                program: vec![Recv { timeout: Some(10) }, Crash],
            },
            Unlink(Target::Child(0)),
            Sleep(20),
        ],
        random(),
        1,
        Config {
            allow_crashes: true,
            ..cfg()
        },
    );
    assert_eq!(r.outcome, Outcome::Completed);
}

#[test]
fn a_crash_fails_the_run_unless_allowed() {
    let prog = || {
        vec![
            Spawn {
                link: false,
                program: vec![Crash],
            },
            Sleep(5),
        ]
    };
    assert!(matches!(
        one(prog()).outcome,
        Outcome::Crash {
            proc: ProcId(1),
            ..
        }
    ));
    let allowed = run(
        prog(),
        random(),
        1,
        Config {
            allow_crashes: true,
            ..cfg()
        },
    );
    assert_eq!(allowed.outcome, Outcome::Completed);
}

#[test]
fn registered_names_resolve_and_are_released_on_exit() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![Register("srv"), Recv { timeout: None }],
        },
        Sleep(1),
        Whereis("srv"),
        SendName {
            name: "srv",
            tag: 1,
        },
        Sleep(1),
        Whereis("srv"),
        SendName {
            name: "srv",
            tag: 2,
        },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let root = &r.logs[&ProcId(0)];
    assert!(root.replies.contains(&Reply::Whereis(Some(ProcId(1)))));
    assert!(root.replies.contains(&Reply::Whereis(None)));
    assert_eq!(
        root.errors,
        vec![OpError::Badarg],
        "send to a free name is badarg"
    );
}

#[test]
fn registering_a_taken_name_is_badarg() {
    let r = one(vec![
        Register("a"),
        Spawn {
            link: false,
            program: vec![Register("a")],
        },
        Sleep(1),
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(1)].errors, vec![OpError::Badarg]);
}

fn names(r: &RunResult, p: u32) -> Vec<Vec<String>> {
    r.logs[&ProcId(p)]
        .replies
        .iter()
        .filter_map(|reply| match reply {
            Reply::Names { names, .. } => Some(names.iter().map(|n| n.to_string()).collect()),
            _ => None,
        })
        .collect()
}

#[test]
fn registered_lists_local_names_in_order_and_forgets_dead_holders() {
    let r = one(vec![
        Register("root"),
        Spawn {
            link: false,
            program: vec![Register("b_child"), Recv { timeout: Some(5) }],
        },
        Sleep(1),
        Registered { global: false },
        Registered { global: true },
        Sleep(10),
        Registered { global: false },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(
        names(&r, 0),
        vec![
            vec!["b_child".to_string(), "root".into()],
            vec![],
            vec!["root".into()]
        ]
    );
}

#[test]
fn global_names_are_a_space_of_their_own() {
    let r = one(vec![
        Register("srv"),
        GlobalRegister("srv"),
        GlobalRegister("other"),
        Spawn {
            link: false,
            program: vec![
                GlobalRegister("srv"),
                GlobalRegister("child"),
                Recv { timeout: Some(5) },
            ],
        },
        Sleep(1),
        GlobalWhereis("child"),
        Registered { global: true },
        Registered { global: false },
        GlobalUnregister("other"),
        GlobalUnregister("nobody"),
        GlobalWhereis("other"),
        Sleep(10),
        GlobalWhereis("child"),
        Whereis("srv"),
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let root = &r.logs[&ProcId(0)];
    let bools: Vec<&Reply<Pl>> = root
        .replies
        .iter()
        .filter(|x| matches!(x, Reply::Bool(_)))
        .collect();
    assert_eq!(bools, vec![&Reply::Bool(true), &Reply::Bool(true)]);
    assert_eq!(
        r.logs[&ProcId(1)].replies[1..3],
        [Reply::Bool(false), Reply::Bool(true)],
        "a taken global name is refused; a process may hold several"
    );
    let found: Vec<&Reply<Pl>> = root
        .replies
        .iter()
        .filter(|x| matches!(x, Reply::Whereis(_)))
        .collect();
    assert_eq!(
        found,
        vec![
            &Reply::Whereis(Some(ProcId(1))),
            &Reply::Whereis(None),
            &Reply::Whereis(None),
            &Reply::Whereis(Some(ProcId(0))),
        ],
        "unregistered and dead holders' global names are free; the local name is untouched"
    );
    assert_eq!(
        names(&r, 0),
        vec![
            vec!["child".to_string(), "other".into(), "srv".into()],
            vec!["srv".into()]
        ]
    );
    assert!(root.errors.is_empty());
}

#[test]
fn monitor_by_name_reports_the_name() {
    let r = one(vec![
        Spawn {
            link: false,
            program: vec![Register("w"), Recv { timeout: Some(3) }],
        },
        Sleep(1),
        MonitorName("w"),
        RecvSignal { timeout: None },
        MonitorName("w"),
        RecvSignal { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let got = &r.logs[&ProcId(0)].received;
    assert!(
        matches!(&got[0], Message::Down { item: DownItem::Name(n), reason: Reason::Normal, .. } if &**n == "w")
    );
    assert!(matches!(
        &got[1],
        Message::Down {
            reason: Reason::Noproc,
            ..
        }
    ));
}

#[test]
fn step_limit_stops_the_run() {
    let spin: Vec<Instr> = (0..100).map(|_| Now).collect();
    let r = run(
        spin,
        random(),
        1,
        Config {
            max_steps: 20,
            ..cfg()
        },
    );
    assert_eq!(r.outcome, Outcome::StepLimit { steps: 20 });
    assert_eq!(r.steps, 20);
}

#[test]
fn root_returning_with_blocked_children_fails_only_when_asked() {
    let prog = || {
        vec![
            Spawn {
                link: false,
                program: vec![Recv { timeout: None }],
            },
            Sleep(1),
        ]
    };
    assert_eq!(one(prog()).outcome, Outcome::Completed);
    let strict = run(
        prog(),
        random(),
        1,
        Config {
            fail_on_blocked: true,
            ..cfg()
        },
    );
    assert!(
        matches!(strict.outcome, Outcome::LeftBlocked(ref b) if b.len() == 1 && b[0].proc == ProcId(1))
    );
}

#[test]
fn processes_killed_by_a_crash_cascade_along_links() {
    let r = run(
        vec![
            TrapExit(true),
            Spawn {
                link: true,
                program: vec![
                    Spawn {
                        link: true,
                        program: vec![Sleep(1), Crash],
                    },
                    Recv { timeout: None },
                ],
            },
            RecvSignal { timeout: None },
        ],
        random(),
        5,
        Config {
            allow_crashes: true,
            ..cfg()
        },
    );
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(matches!(
        &r.logs[&ProcId(0)].received[..],
        [Message::Exit {
            from: ProcId(1),
            reason: Reason::Term(Pl { tag: 666, .. })
        }]
    ));
    assert!(r.kills.contains(&ProcId(1)));
}

#[test]
fn replay_reproduces_a_run_and_detects_divergence() {
    let prog = || {
        vec![
            Spawn {
                link: false,
                program: vec![Send {
                    to: Target::Parent,
                    tag: 1,
                }],
            },
            Spawn {
                link: false,
                program: vec![Send {
                    to: Target::Parent,
                    tag: 2,
                }],
            },
            Recv { timeout: None },
            Recv { timeout: None },
        ]
    };
    let first = run(prog(), random(), 11, cfg());
    let again = run(
        prog(),
        StrategyConfig::Replay {
            choices: first.choices.clone(),
        },
        0,
        cfg(),
    );
    assert_eq!(first.trace, again.trace);
    let mut wrong = first.choices.clone();
    wrong[1] = ProcId(2); // P2 does not exist yet at step 2
    let diverged = run(prog(), StrategyConfig::Replay { choices: wrong }, 0, cfg());
    assert!(matches!(
        diverged.outcome,
        Outcome::Diverged(strategy::PickError::Diverged { step: 2, .. })
    ));
}

#[test]
fn protocol_violations_are_errors_not_panics() {
    let mut ctl = bare_controller();
    assert_eq!(
        ctl.bind(ProcId(5)),
        Err(EngineError::UnknownProc(ProcId(5)))
    );
    ctl.bind(ProcId::ROOT).unwrap();
    assert_eq!(
        ctl.bind(ProcId::ROOT),
        Err(EngineError::NotUnbound(ProcId::ROOT))
    );
    assert!(matches!(
        ctl.start(),
        Ok(Next::Resume(ProcId(0), Reply::Ok))
    ));
    assert_eq!(ctl.start(), Err(EngineError::AlreadyStarted));
    assert!(matches!(
        ctl.submit(ProcId(3), Op::Now),
        Err(EngineError::UnknownProc(_))
    ));
    assert!(matches!(
        ctl.submit(ProcId(0), Op::Alive { target: ProcId(9) }),
        Err(EngineError::UnknownProc(ProcId(9)))
    ));
    assert!(matches!(
        ctl.consume(ProcId(0), 0),
        Err(EngineError::BadIndex { index: 0, len: 0 })
    ));
    // A spawned child must be bound before the parent's next sync point.
    assert!(matches!(
        ctl.submit(
            ProcId(0),
            Op::Spawn {
                link: false,
                monitor: false
            }
        ),
        Ok(Next::Resume(ProcId(0), Reply::Spawned(ProcId(1))))
    ));
    assert_eq!(
        ctl.submit(ProcId(0), Op::Now),
        Err(EngineError::Unbound(ProcId(1)))
    );
}

#[test]
fn a_selective_receive_reports_only_rejections_behind_what_it_takes() {
    let mut ctl = bare_controller();
    ctl.bind(ProcId::ROOT).unwrap();
    ctl.start().unwrap();
    for msg in 1..=3u8 {
        let to = Dest::Proc(ProcId::ROOT);
        ctl.submit(ProcId::ROOT, Op::Send { to, msg }).unwrap();
    }
    let batch = ctl.submit(
        ProcId::ROOT,
        Op::RecvMatch {
            seen: 0,
            timeout: None,
        },
    );
    // Only an explorer asks for the rejections.
    assert!(matches!(
        batch,
        Ok(Next::Resume(_, Reply::Batch { base: 0, ref msgs, exact: false, .. })) if msgs.len() == 3
    ));
    assert_eq!(
        ctl.consume_scanned(ProcId::ROOT, 1, &[0]),
        Err(EngineError::NotBehind { index: 0, taken: 1 })
    );
    assert_eq!(
        ctl.consume_scanned(ProcId::ROOT, 1, &[1]),
        Err(EngineError::NotBehind { index: 1, taken: 1 })
    );
    assert_eq!(
        ctl.consume_scanned(ProcId::ROOT, 1, &[5]),
        Err(EngineError::BadIndex { index: 5, len: 3 })
    );
    assert_eq!(
        ctl.consume_scanned(ProcId::ROOT, 3, &[]),
        Err(EngineError::BadIndex { index: 3, len: 3 })
    );
    assert_eq!(
        ctl.consume_scanned(ProcId::ROOT, 0, &[1, 2, 1]),
        Err(EngineError::TooManyRejections { count: 3, len: 3 })
    );
    assert_eq!(
        ctl.note_rejected(ProcId::ROOT, &vec![(0, 0); 3 * 64 + 1]),
        Err(EngineError::TooManyRejections { count: 193, len: 3 })
    );
    assert_eq!(
        ctl.note_rejected(ProcId::ROOT, &[(0, 3)]),
        Err(EngineError::BadIndex { index: 3, len: 3 })
    );
    assert_eq!(ctl.note_rejected(ProcId::ROOT, &[(0, 2), (5, 0)]), Ok(()));
    // Nothing was taken by the refused calls.
    let env = ctl.consume_scanned(ProcId::ROOT, 1, &[2]).unwrap();
    assert_eq!(env.msg, Message::User(2));
    assert_eq!(ctl.consume(ProcId::ROOT, 1).unwrap().msg, Message::User(3));
}

#[test]
fn external_death_of_the_running_process_moves_the_run_on() {
    let mut ctl = bare_controller();
    ctl.bind(ProcId::ROOT).unwrap();
    ctl.start().unwrap();
    ctl.submit(
        ProcId(0),
        Op::Spawn {
            link: false,
            monitor: false,
        },
    )
    .unwrap();
    ctl.bind(ProcId(1)).unwrap();
    // Root waits for a message; the child starts and then vanishes while running.
    let mut next = ctl.submit(ProcId(0), Op::Recv { timeout: None }).unwrap();
    assert_eq!(next, Next::Resume(ProcId(1), Reply::Ok));
    next = ctl.external_exit(ProcId(1)).unwrap().unwrap();
    assert_eq!(next, Next::Finished);
    assert_eq!(
        ctl.outcome(),
        Some(&Outcome::Crash {
            proc: ProcId(1),
            reason: Reason::Killed
        })
    );
}

/// A process killed behind the engine's back takes a linked process with it; when that one was
/// the running process, the run must go on with the others rather than wait for a process that
/// is gone (with `allow_crashes`, so neither death ends the run).
#[test]
fn external_death_that_kills_the_running_process_through_a_link_moves_the_run_on() {
    let info = IterationInfo {
        seed: 0,
        iteration: 0,
        expected_steps: 10,
    };
    let config = Config {
        allow_crashes: true,
        ..cfg()
    };
    // P0 starts, spawns P1 and waits for a message; P1 starts, spawns P2 linked, P2 starts
    // and waits in a receive; P1 sends P0 a message and runs on. Then P0 takes it and exits.
    let choices = [0, 0, 1, 1, 2, 1, 0, 0].map(ProcId).to_vec();
    let mut ctl: Controller<u8> =
        Controller::new(config, StrategyConfig::Replay { choices }.build(), info);
    ctl.bind(ProcId::ROOT).unwrap();
    ctl.start().unwrap();
    let spawn = |link| Op::Spawn {
        link,
        monitor: false,
    };
    ctl.submit(ProcId(0), spawn(false)).unwrap();
    ctl.bind(ProcId(1)).unwrap();
    let next = ctl.submit(ProcId(0), Op::Recv { timeout: None }).unwrap();
    assert_eq!(next, Next::Resume(ProcId(1), Reply::Ok));
    ctl.submit(ProcId(1), spawn(true)).unwrap();
    ctl.bind(ProcId(2)).unwrap();
    let send = Op::Send {
        to: Dest::Proc(ProcId(0)),
        msg: 7,
    };
    assert_eq!(
        ctl.submit(ProcId(1), send).unwrap(),
        Next::Resume(ProcId(2), Reply::Ok)
    );
    let next = ctl.submit(ProcId(2), Op::Recv { timeout: None }).unwrap();
    assert_eq!(next, Next::Resume(ProcId(1), Reply::Ok));
    assert_eq!(ctl.running(), Some(ProcId(1)));
    // P2 vanishes; its link kills the running P1, and P0, which has its message, runs next.
    let next = ctl.external_exit(ProcId(2)).unwrap();
    assert!(
        matches!(next, Some(Next::Resume(ProcId(0), Reply::Msg(_)))),
        "{next:?}"
    );
    assert_eq!(ctl.take_kills(), vec![ProcId(1)]);
    assert!(!ctl.is_alive(ProcId(1)) && !ctl.is_alive(ProcId(2)));
    assert_eq!(ctl.outcome(), None);
    let exit = Op::Exit {
        reason: Reason::Normal,
        crash: false,
    };
    assert_eq!(ctl.submit(ProcId(0), exit).unwrap(), Next::Finished);
    assert_eq!(ctl.outcome(), Some(&Outcome::Completed));
}

/// A run driven straight through the controller: two processes each reading the clock `n`
/// times, under `strategy`; returns the choices and preemption flags.
fn clock_run(buffers: Option<Buffers<u32>>, seed: u64) -> (Vec<ProcId>, Vec<bool>, Buffers<u32>) {
    let info = IterationInfo {
        seed,
        iteration: 0,
        expected_steps: 20,
    };
    let mut ctl: Controller<u32> = Controller::new(cfg(), StrategyConfig::Random.build(), info);
    if let Some(b) = buffers {
        ctl.recycle(b);
    }
    ctl.bind(ProcId::ROOT).unwrap();
    let mut next = ctl.start().unwrap();
    let mut left = [6u32; 3];
    while let Next::Resume(p, reply) = next {
        if let Reply::Spawned(c) = reply {
            ctl.bind(c).unwrap();
        }
        let op = if p == ProcId::ROOT && ctl.process_count() < 3 {
            Op::Spawn {
                link: false,
                monitor: false,
            }
        } else if left[p.index()] > 0 {
            left[p.index()] -= 1;
            Op::Now
        } else {
            Op::Exit {
                reason: Reason::Normal,
                crash: false,
            }
        };
        next = ctl.submit(p, op).unwrap();
    }
    let (choices, flags) = (ctl.choices().to_vec(), ctl.preemption_flags().to_vec());
    assert_eq!(choices.len(), flags.len());
    (choices, flags, ctl.take_buffers())
}

#[test]
fn recycled_buffers_change_nothing_observable() {
    let (choices, flags, buffers) = clock_run(None, 5);
    assert!(!buffers.trace.is_empty() && buffers.preempted.len() == choices.len());
    assert!(
        flags.iter().any(|f| *f),
        "a random walk over three processes preempts"
    );
    // A later run on the same buffers starts empty and records the same schedule.
    let (again, again_flags, buffers) = clock_run(Some(buffers), 5);
    assert_eq!((&again, &again_flags), (&choices, &flags));
    let (other, _, _) = clock_run(Some(buffers), 6);
    assert_ne!(other, choices, "another seed, another schedule");
}

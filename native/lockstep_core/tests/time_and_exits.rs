//! Timers, clocks, running on after the root returns, and exits by signal: the BEAM's rules as
//! the engine applies them.

mod support;

use lockstep_core::controller::DEFAULT_EPOCH;
use lockstep_core::strategy::StrategyConfig;
use lockstep_core::*;
use support::*;
use Instr::*;

fn seeds() -> std::ops::Range<u64> {
    0..40
}

fn timer_replies(r: &RunResult, p: u32) -> Vec<Option<u64>> {
    r.logs[&ProcId(p)]
        .replies
        .iter()
        .filter_map(|x| match x {
            Reply::Cancelled(left) => Some(*left),
            _ => None,
        })
        .collect()
}

#[test]
fn a_timer_to_a_dead_pid_is_cancelled_at_once() {
    let r = run(
        vec![
            SpawnMonitor { program: vec![] },
            RecvSignal { timeout: None },
            SendAfter {
                to: Target::Child(0),
                delay: 1000,
                tag: 1,
            },
            ReadLastTimer,
            CancelLastTimer,
        ],
        random(),
        1,
        cfg(),
    );
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(timer_replies(&r, 0), vec![None, None]);
    assert!(!r
        .trace
        .iter()
        .any(|e| matches!(e.kind, EventKind::TimerFired { .. })));
}

#[test]
fn a_timer_dies_with_its_target() {
    for seed in seeds() {
        let r = run(
            vec![
                SpawnMonitor {
                    program: vec![Sleep(10)],
                },
                SendAfter {
                    to: Target::Child(0),
                    delay: 1000,
                    tag: 1,
                },
                ReadLastTimer,
                RecvSignal { timeout: None },
                ReadLastTimer,
            ],
            random(),
            seed,
            cfg(),
        );
        assert_eq!(r.outcome, Outcome::Completed);
        assert_eq!(timer_replies(&r, 0), vec![Some(1000), None], "seed {seed}");
        assert!(!r
            .trace
            .iter()
            .any(|e| matches!(e.kind, EventKind::TimerFired { .. })));
    }
}

#[test]
fn read_timer_leaves_the_timer_running() {
    let r = one(vec![
        SendAfter {
            to: Target::Me,
            delay: 50,
            tag: 3,
        },
        Sleep(20),
        ReadLastTimer,
        Recv { timeout: None },
        ReadLastTimer,
    ]);
    assert_eq!(timer_replies(&r, 0), vec![Some(30), None]);
    assert_eq!(r.logs[&ProcId(0)].received.len(), 1);
    assert_eq!(r.now, 50);
}

#[test]
fn an_absolute_timer_fires_at_its_time_or_at_once_when_past() {
    let r = one(vec![
        Sleep(100),
        SendAt {
            to: Target::Me,
            at: 250,
            tag: 1,
        },
        ReadLastTimer,
        Recv { timeout: None },
        SendAt {
            to: Target::Me,
            at: 10,
            tag: 2,
        },
        ReadLastTimer,
        Recv { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(timer_replies(&r, 0), vec![Some(150), Some(0)]);
    assert_eq!(r.now, 250);
}

#[test]
fn spawn_monitor_delivers_the_childs_real_exit_reason() {
    let r = run(
        vec![
            SpawnMonitor {
                program: vec![Crash],
            },
            RecvSignal { timeout: None },
        ],
        random(),
        3,
        Config {
            allow_crashes: true,
            ..cfg()
        },
    );
    assert!(matches!(
        &r.logs[&ProcId(0)].received[..],
        [Message::Down {
            item: DownItem::Proc(ProcId(1)),
            reason: Reason::Term(Pl { tag: 666, .. }),
            ..
        }]
    ));
}

#[test]
fn system_time_is_the_epoch_plus_the_virtual_clock() {
    let r = run(
        vec![SystemTime, Sleep(1500), SystemTime, Now],
        random(),
        1,
        Config {
            epoch: 7_000,
            ..cfg()
        },
    );
    let times: Vec<u64> = r.logs[&ProcId(0)]
        .replies
        .iter()
        .filter_map(|x| match x {
            Reply::Time(t) => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(times, vec![7_000, 8_500, 1_500]);
    assert_eq!(Config::default().epoch, DEFAULT_EPOCH);
}

#[test]
fn time_per_step_moves_the_clock_and_fires_timers_on_the_way() {
    let prog = || {
        vec![
            SendAfter {
                to: Target::Me,
                delay: 5,
                tag: 9,
            },
            Now,
            Now,
            Now,
            Now,
            Now,
            Now,
            Recv { timeout: Some(0) },
        ]
    };
    // Frozen clock: the receive with a zero timeout finds nothing.
    let frozen = one(prog());
    assert_eq!(frozen.logs[&ProcId(0)].received.len(), 0);
    let ticking = run(
        prog(),
        random(),
        1,
        Config {
            time_per_step: 1,
            ..cfg()
        },
    );
    assert_eq!(ticking.logs[&ProcId(0)].received.len(), 1);
    let nows: Vec<u64> = ticking.logs[&ProcId(0)]
        .replies
        .iter()
        .filter_map(|x| match x {
            Reply::Time(t) => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(nows, vec![2, 3, 4, 5, 6, 7]);
}

#[test]
fn process_info_reports_mailbox_links_monitors_name_and_status() {
    let r = one(vec![
        Register("main"),
        Spawn {
            link: true,
            program: vec![Recv { timeout: None }],
        },
        Monitor(Target::Child(0)),
        Send {
            to: Target::Me,
            tag: 5,
        },
        Info(Target::Me),
        Info(Target::Child(0)),
        Send {
            to: Target::Child(0),
            tag: 1,
        },
    ]);
    let infos: Vec<&Option<ProcInfo<Pl>>> = r.logs[&ProcId(0)]
        .replies
        .iter()
        .filter_map(|x| match x {
            Reply::Info(i) => Some(i),
            _ => None,
        })
        .collect();
    let me = infos[0].as_ref().expect("the root is alive");
    assert_eq!(me.status, InfoStatus::Running);
    assert_eq!(me.messages.len(), 1);
    assert_eq!(me.links, vec![ProcId(1)]);
    assert_eq!(me.monitors.len(), 1);
    assert_eq!(me.name.as_deref(), Some("main"));
    let child = infos[1].as_ref().expect("the child is alive");
    assert_eq!(child.links, vec![ProcId(0)]);
    assert_eq!(child.monitored_by, vec![ProcId(0)]);
    assert!(matches!(
        child.status,
        InfoStatus::Waiting | InfoStatus::Runnable
    ));
}

#[test]
fn process_info_of_a_dead_process_is_none() {
    let r = one(vec![
        SpawnMonitor { program: vec![] },
        RecvSignal { timeout: None },
        Info(Target::Child(0)),
    ]);
    assert!(r.logs[&ProcId(0)]
        .replies
        .iter()
        .any(|x| matches!(x, Reply::Info(None))));
}

// ----- after the root returns ------------------------------------------------------------------

#[test]
fn processes_run_on_after_the_root_returns_and_see_its_names_gone() {
    // The child may look before the root's exit step or after it; after it, the name is gone.
    let mut seen = std::collections::BTreeSet::new();
    for seed in seeds() {
        let r = run(
            vec![
                Register("main"),
                Spawn {
                    link: false,
                    program: vec![
                        RecvTag {
                            tag: 1,
                            timeout: None,
                        },
                        Whereis("main"),
                    ],
                },
                Send {
                    to: Target::Child(0),
                    tag: 1,
                },
            ],
            random(),
            seed,
            cfg(),
        );
        assert_eq!(r.outcome, Outcome::Completed, "seed {seed}");
        let found: Vec<&Reply<Pl>> = r.logs[&ProcId(1)]
            .replies
            .iter()
            .filter(|x| matches!(x, Reply::Whereis(_)))
            .collect();
        assert_eq!(found.len(), 1, "seed {seed}");
        seen.insert(matches!(found[0], Reply::Whereis(None)));
    }
    assert_eq!(seen.len(), 2, "both orders are reachable");
}

#[test]
fn a_crash_after_the_root_returns_fails_the_run() {
    let r = one(vec![Spawn {
        link: false,
        program: vec![Sleep(5), Crash],
    }]);
    assert!(matches!(
        r.outcome,
        Outcome::Crash {
            proc: ProcId(1),
            ..
        }
    ));
}

#[test]
fn timers_fire_after_the_root_only_within_the_settle_time() {
    let prog = || {
        vec![Spawn {
            link: false,
            program: vec![Sleep(10_000), Crash],
        }]
    };
    assert_eq!(one(prog()).outcome, Outcome::Completed);
    let unbounded = run(
        prog(),
        random(),
        1,
        Config {
            settle: None,
            ..cfg()
        },
    );
    assert!(matches!(unbounded.outcome, Outcome::Crash { .. }));
}

#[test]
fn a_loop_left_running_after_the_root_is_cut_at_the_step_limit_without_failing() {
    let r = run(
        vec![Spawn {
            link: false,
            program: vec![Poll { tag: 77 }],
        }],
        random(),
        1,
        Config {
            max_steps: 200,
            ..cfg()
        },
    );
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.steps, 200);
}

#[test]
fn a_trapping_child_left_blocked_is_reported_once_the_run_settles() {
    // The root's exit signal reaches the child as a message it never matches: it is blocked
    // for good, which only running on after the root can show.
    for seed in seeds() {
        let r = run(
            vec![
                Spawn {
                    link: true,
                    program: vec![
                        TrapExit(true),
                        RecvTag {
                            tag: 42,
                            timeout: None,
                        },
                    ],
                },
                Sleep(1),
            ],
            random(),
            seed,
            Config {
                fail_on_blocked: true,
                ..cfg()
            },
        );
        assert!(
            matches!(r.outcome, Outcome::LeftBlocked(ref b) if b.len() == 1 && b[0].proc == ProcId(1)),
            "seed {seed}: {:?}",
            r.outcome
        );
    }
}

// ----- exits by signal -------------------------------------------------------------------------

#[test]
fn an_abnormal_exit_signal_fails_the_run_only_when_asked() {
    let prog = || {
        vec![
            Spawn {
                link: false,
                program: vec![Recv { timeout: None }],
            },
            ExitSignal {
                to: Target::Child(0),
                normal: false,
            },
        ]
    };
    assert_eq!(one(prog()).outcome, Outcome::Completed);
    let strict = run(
        prog(),
        random(),
        1,
        Config {
            fail_on_abnormal_exit: true,
            ..cfg()
        },
    );
    assert!(matches!(
        strict.outcome,
        Outcome::Killed {
            proc: ProcId(1),
            from: ProcId(0),
            ..
        }
    ));
    assert_eq!(strict.outcome.category(), "exit_signal");
}

#[test]
fn a_kill_counts_as_abnormal_and_a_shutdown_does_not() {
    let kill = run(
        vec![
            Spawn {
                link: false,
                program: vec![Recv { timeout: None }],
            },
            Kill(Target::Child(0)),
        ],
        random(),
        1,
        Config {
            fail_on_abnormal_exit: true,
            ..cfg()
        },
    );
    assert!(matches!(
        kill.outcome,
        Outcome::Killed {
            reason: Reason::Killed,
            ..
        }
    ));
}

#[test]
fn deaths_in_the_trace_name_the_signal_that_killed_them() {
    let r = run(
        vec![
            Spawn {
                link: false,
                program: vec![
                    Spawn {
                        link: true,
                        program: vec![Recv { timeout: None }],
                    },
                    Recv { timeout: None },
                ],
            },
            Sleep(1),
            Kill(Target::Child(0)),
        ],
        random(),
        2,
        cfg(),
    );
    let deaths: Vec<(ProcId, ProcId, bool)> = r
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Died {
                victim, from, link, ..
            } => Some((*victim, *from, *link)),
            _ => None,
        })
        .collect();
    assert_eq!(
        deaths,
        vec![(ProcId(1), ProcId(0), false), (ProcId(2), ProcId(1), true)]
    );
}

// ----- racing timers ---------------------------------------------------------------------------

/// A child replies after some work; the root waits 42 ms for the reply.
fn timeout_vs_reply() -> Vec<Instr> {
    vec![
        Spawn {
            link: false,
            program: vec![
                Now,
                Now,
                Send {
                    to: Target::Parent,
                    tag: 1,
                },
            ],
        },
        RecvTag {
            tag: 1,
            timeout: Some(42),
        },
    ]
}

#[test]
fn without_racing_timers_a_ready_process_always_beats_the_timeout() {
    for seed in seeds() {
        let r = run(timeout_vs_reply(), random(), seed, cfg());
        assert_eq!(r.logs[&ProcId(0)].timeouts, 0, "seed {seed}");
    }
}

#[test]
fn racing_timers_let_the_timeout_win_sometimes_and_move_the_clock() {
    for strategy in [random(), pct(), StrategyConfig::Pos] {
        let mut outcomes = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let r = run(
                timeout_vs_reply(),
                strategy.clone(),
                seed,
                Config {
                    race_timers: true,
                    ..cfg()
                },
            );
            let timed_out = r.logs[&ProcId(0)].timeouts == 1;
            if timed_out {
                assert_eq!(r.now, 42, "the timeout moved the clock to its deadline");
                assert!(r.choices.contains(&ProcId::CLOCK));
            }
            outcomes.insert(timed_out);
        }
        assert_eq!(
            outcomes.len(),
            2,
            "{strategy:?} should reach both the reply and the timeout"
        );
    }
}

#[test]
fn racing_timers_fire_in_deadline_order() {
    let mut both_pending = 0;
    for seed in seeds() {
        let r = run(
            vec![
                SendAfter {
                    to: Target::Me,
                    delay: 30,
                    tag: 2,
                },
                SendAfter {
                    to: Target::Me,
                    delay: 10,
                    tag: 1,
                },
                Now,
                Now,
                Recv { timeout: None },
                Recv { timeout: None },
            ],
            random(),
            seed,
            Config {
                race_timers: true,
                ..cfg()
            },
        );
        let tags: Vec<u64> = r.logs[&ProcId(0)]
            .received
            .iter()
            .map(|m| match m {
                Message::User(p) => p.tag,
                _ => 0,
            })
            .collect();
        // The clock may fire the 30 ms timer before the 10 ms one is set; once both are
        // pending, the earlier deadline fires first.
        let first_fire = r
            .trace
            .iter()
            .position(|e| matches!(e.kind, EventKind::TimerFired { .. }));
        let second_set = r
            .trace
            .iter()
            .rposition(|e| matches!(e.kind, EventKind::SendAfter { .. }));
        if first_fire > second_set {
            assert_eq!(tags, vec![1, 2], "seed {seed}");
            both_pending += 1;
        } else {
            assert_eq!(tags, vec![2, 1], "seed {seed}");
        }
        let mut last = 0;
        for e in r
            .trace
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Clock { .. }))
        {
            assert!(e.time >= last, "the clock only moves forward");
            last = e.time;
        }
    }
    assert!(both_pending > 0);
}

#[test]
fn a_run_with_racing_timers_replays_exactly() {
    for seed in 0..30 {
        let config = || Config {
            race_timers: true,
            ..cfg()
        };
        let first = run(timeout_vs_reply(), StrategyConfig::Pos, seed, config());
        let again = run(
            timeout_vs_reply(),
            StrategyConfig::Replay {
                choices: first.choices.clone(),
            },
            seed,
            config(),
        );
        assert_eq!(first.trace, again.trace, "seed {seed}");
        assert_eq!(first.outcome, again.outcome);
    }
}

fn one(program: Vec<Instr>) -> RunResult {
    run(program, random(), 1, cfg())
}

//! The simulated cluster: nodes, cross-node delivery as steps, partitions, net ticks, node stops,
//! per-node names, the global name space's views and clashes, and injected faults. Scenario
//! tests first, then properties over random cluster programs.

mod support;

use lockstep_core::cluster::Mode;
use lockstep_core::trace::{DropWhy, NetEvent};
use lockstep_core::{
    controller, ClusterOp, Config, DownItem, EventKind, Message, MonitorId, MsgId, Name, OpError,
    Outcome, ProcId, Reason, Reply, StrategyConfig,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use support::*;
use Instr::*;

fn names(ns: &[&str]) -> Vec<Name> {
    ns.iter().map(|n| Name::from(*n)).collect()
}

fn start(ns: &[&str]) -> Instr {
    Cluster(ClusterOp::StartNodes { names: names(ns) })
}

fn partition(from: &[&str], to: &[&str], mode: Mode) -> Instr {
    Cluster(ClusterOp::Partition {
        from: names(from),
        to: names(to),
        mode,
        one_way: false,
    })
}

fn heal() -> Instr {
    Cluster(ClusterOp::Heal { partition: None })
}

fn net(r: &RunResult) -> Vec<NetEvent> {
    r.trace
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Net(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn tags(r: &RunResult, p: ProcId) -> Vec<u64> {
    r.logs[&p]
        .received
        .iter()
        .filter_map(|m| match m {
            Message::User(p) => Some(p.tag),
            _ => None,
        })
        .collect()
}

fn one(program: Vec<Instr>) -> RunResult {
    run(program, random(), 1, cfg())
}

#[test]
fn a_message_to_another_node_arrives_in_a_step_of_its_own() {
    let r = one(vec![
        start(&["a"]),
        SpawnOn {
            node: "a",
            link: false,
            program: vec![Send {
                to: Target::Parent,
                tag: 5,
            }],
        },
        Recv { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(tags(&r, ProcId(0)), vec![5]);
    let ev = net(&r);
    assert!(ev
        .iter()
        .any(|e| matches!(e, NetEvent::Sent { held: false, .. })));
    assert!(ev
        .iter()
        .any(|e| matches!(e, NetEvent::Arrived { target, .. } if *target == ProcId(0))));
    // The channel (a -> root's node) is a process of its own, made after the child, and a step
    // of the schedule.
    assert!(r.choices.contains(&ProcId(2)));
}

#[test]
fn messages_within_a_node_stay_instant() {
    let r = one(vec![
        start(&["a"]),
        Spawn {
            link: false,
            program: vec![Send {
                to: Target::Parent,
                tag: 1,
            }],
        },
        Recv { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(net(&r)
        .iter()
        .all(|e| matches!(e, NetEvent::NodesStarted { .. })));
}

#[test]
fn nothing_crosses_a_drop_partition_and_a_send_to_an_unknown_name_is_lost_silently() {
    let r = one(vec![
        start(&["a"]),
        partition(&["a"], &["nonode@nohost"], Mode::Drop),
        SpawnOn {
            node: "a",
            link: false,
            program: vec![
                Send {
                    to: Target::Parent,
                    tag: 1,
                },
                SendNameAt {
                    name: "nobody",
                    node: "nonode@nohost",
                    tag: 2,
                },
            ],
        },
        Recv { timeout: Some(100) },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.logs[&ProcId(0)].timeouts, 1);
    assert!(r.logs[&ProcId(1)].errors.is_empty());
    let dropped = net(&r)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                NetEvent::Dropped {
                    why: DropWhy::Partition(1),
                    ..
                }
            )
        })
        .count();
    assert_eq!(dropped, 2);
}

#[test]
fn deferred_messages_arrive_at_heal_in_send_order() {
    let child = vec![
        Send {
            to: Target::Parent,
            tag: 1,
        },
        Send {
            to: Target::Parent,
            tag: 2,
        },
        Send {
            to: Target::Parent,
            tag: 3,
        },
    ];
    for seed in 0..20 {
        let r = run(
            vec![
                start(&["a"]),
                partition(&["a"], &["nonode@nohost"], Mode::Defer),
                SpawnOn {
                    node: "a",
                    link: false,
                    program: child.clone(),
                },
                Sleep(10),
                heal(),
                Recv { timeout: None },
                Recv { timeout: None },
                Recv { timeout: None },
            ],
            random(),
            seed,
            cfg(),
        );
        assert_eq!(r.outcome, Outcome::Completed, "seed {seed}");
        assert_eq!(tags(&r, ProcId(0)), vec![1, 2, 3]);
        assert!(net(&r)
            .iter()
            .any(|e| matches!(e, NetEvent::Healed { released: 3, .. })));
    }
}

#[test]
fn a_message_relayed_through_a_third_node_can_overtake_a_direct_one() {
    // P1 on a sends 1 to the root directly, then 2 to P2 on b, which relays it to the root.
    let relay = vec![RecvTag {
        tag: 2,
        timeout: None,
    }];
    let mut orders = BTreeSet::new();
    for seed in 0..200 {
        let r = run(
            vec![
                start(&["a", "b"]),
                SpawnOn {
                    node: "b",
                    link: false,
                    program: vec![
                        RecvTag {
                            tag: 2,
                            timeout: None,
                        },
                        Send {
                            to: Target::Root,
                            tag: 3,
                        },
                    ],
                },
                SpawnOn {
                    node: "a",
                    link: false,
                    program: vec![
                        Send {
                            to: Target::Root,
                            tag: 1,
                        },
                        Send {
                            to: Target::Child(0),
                            tag: 2,
                        },
                    ],
                },
                Recv { timeout: None },
                Recv { timeout: None },
            ],
            random(),
            seed,
            cfg(),
        );
        assert_eq!(r.outcome, Outcome::Completed);
        orders.insert(tags(&r, ProcId(0)));
        let _ = &relay;
    }
    assert!(orders.contains(&vec![1, 3]));
    assert!(orders.contains(&vec![3, 1]), "{orders:?}");
}

#[test]
fn stopping_a_node_kills_its_processes_and_remote_watchers_hear_noconnection() {
    let r = one(vec![
        start(&["a"]),
        SpawnOn {
            node: "a",
            link: false,
            program: vec![Recv { timeout: None }],
        },
        Monitor(Target::Child(0)),
        Cluster(ClusterOp::MonitorNode {
            node: "a".into(),
            on: true,
        }),
        Cluster(ClusterOp::StopNode { node: "a".into() }),
        RecvSignal { timeout: None },
        RecvSignal { timeout: None },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    let got = &r.logs[&ProcId(0)].received;
    assert!(got.iter().any(|m| matches!(
        m,
        Message::Down {
            reason: Reason::NoConnection,
            ..
        }
    )));
    assert!(got
        .iter()
        .any(|m| matches!(m, Message::NodeDown { node } if &**node == "a")));
    assert!(r.kills.contains(&ProcId(1)));
    assert!(!r.alive.contains(&ProcId(1)));
}

#[test]
fn a_partition_is_detected_after_the_net_tick_time() {
    let r = one(vec![
        start(&["a"]),
        Cluster(ClusterOp::SetTicktime { ms: 4_000 }),
        SpawnOn {
            node: "a",
            link: false,
            program: vec![Recv { timeout: None }],
        },
        Monitor(Target::Child(0)),
        partition(&["a"], &["nonode@nohost"], Mode::Drop),
        RecvSignal { timeout: None },
        Now,
        Cluster(ClusterOp::Nodes { all: false }),
    ]);
    assert_eq!(
        r.logs[&ProcId(0)].received,
        vec![Message::Down {
            monitor: MonitorId(0),
            item: DownItem::Proc(ProcId(1)),
            reason: Reason::NoConnection,
        }]
    );
    assert!(r.logs[&ProcId(0)].replies.contains(&Reply::Time(4_000)));
    assert!(r.logs[&ProcId(0)].replies.contains(&Reply::Nodes(vec![])));
    assert!(net(&r).contains(&NetEvent::Detected { id: 1 }));
}

#[test]
fn healing_before_the_tick_fires_nothing() {
    let r = one(vec![
        start(&["a"]),
        SpawnOn {
            node: "a",
            link: true,
            program: vec![Recv { timeout: None }],
        },
        partition(&["a"], &["nonode@nohost"], Mode::Drop),
        Sleep(100),
        heal(),
        Sleep(20_000),
        Cluster(ClusterOp::Nodes { all: false }),
        Kill(Target::Child(0)),
        TrapExit(true),
    ]);
    // The link survived the short partition: the kill sent later reaches the child, and its
    // death comes back through the link (killing the root, which traps only afterwards).
    assert!(!net(&r)
        .iter()
        .any(|e| matches!(e, NetEvent::Detected { .. })));
    assert!(r.logs[&ProcId(0)]
        .replies
        .contains(&Reply::Nodes(names(&["a"]))));
}

#[test]
fn names_are_per_node_and_name_at_node_resolves_on_arrival() {
    let r = one(vec![
        start(&["a"]),
        Register("srv"),
        SpawnOn {
            node: "a",
            link: false,
            program: vec![
                Register("srv"),
                Whereis("srv"),
                RecvTag {
                    tag: 7,
                    timeout: None,
                },
                SendNameAt {
                    name: "srv",
                    node: "nonode@nohost",
                    tag: 8,
                },
            ],
        },
        Sleep(1),
        SendNameAt {
            name: "srv",
            node: "a",
            tag: 7,
        },
        RecvTag {
            tag: 8,
            timeout: None,
        },
    ]);
    assert_eq!(r.outcome, Outcome::Completed);
    assert!(r.logs[&ProcId(1)]
        .replies
        .contains(&Reply::Whereis(Some(ProcId(1)))));
    assert_eq!(tags(&r, ProcId(0)), vec![8]);
}

#[test]
fn alive_on_a_remote_pid_is_badarg_as_on_the_beam() {
    let r = one(vec![
        start(&["a"]),
        SpawnOn {
            node: "a",
            link: false,
            program: vec![Recv { timeout: None }],
        },
        Alive(Target::Child(0)),
        Kill(Target::Child(0)),
    ]);
    assert_eq!(r.logs[&ProcId(0)].errors, vec![OpError::Badarg]);
}

#[test]
fn halves_that_each_registered_a_global_name_clash_at_heal_and_one_holder_is_killed() {
    let holder = |tag| {
        vec![
            Sleep(20_000),
            GlobalRegister("leader"),
            RecvTag { tag, timeout: None },
        ]
    };
    let r = one(vec![
        start(&["a", "b"]),
        SpawnOn {
            node: "a",
            link: false,
            program: holder(1),
        },
        SpawnOn {
            node: "b",
            link: false,
            program: holder(2),
        },
        partition(&["a"], &["b"], Mode::Drop),
        Sleep(30_000),
        heal(),
        Sleep(10),
    ]);
    let ev = net(&r);
    assert!(ev.contains(&NetEvent::Detected { id: 1 }));
    assert!(r.logs[&ProcId(1)].replies.contains(&Reply::Bool(true)));
    assert!(r.logs[&ProcId(2)].replies.contains(&Reply::Bool(true)));
    assert!(ev.contains(&NetEvent::GlobalClash {
        name: "leader".into(),
        kept: ProcId(1),
        killed: ProcId(2),
    }));
    assert!(r.alive.contains(&ProcId(1)) && !r.alive.contains(&ProcId(2)));
}

#[test]
fn bad_cluster_operations_are_refused_with_a_reason() {
    let r = one(vec![
        start(&["a"]),
        Cluster(ClusterOp::StopNode {
            node: "nonode@nohost".into(),
        }),
        Cluster(ClusterOp::StopNode { node: "zz".into() }),
        partition(&["a"], &["a"], Mode::Drop),
        Cluster(ClusterOp::SetTicktime { ms: 0 }),
        SpawnOn {
            node: "zz",
            link: false,
            program: vec![],
        },
    ]);
    let refused: Vec<String> = r.logs[&ProcId(0)]
        .replies
        .iter()
        .filter_map(|r| match r {
            Reply::Refused(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        vec![
            "the root's node cannot be stopped: the test body runs there",
            "unknown node zz",
            "node a is on both sides of the partition",
            "the net tick time must be at least 1 ms",
            "unknown node zz",
        ]
    );
}

/// A cluster program: the root starts three nodes, spawns a worker on each, and the workers
/// exchange messages while the root partitions and heals.
fn cluster_instr() -> impl Strategy<Value = Instr> + Clone {
    prop_oneof![
        5 => (any_target(3), 0..3u64).prop_map(|(to, tag)| Send { to, tag }),
        3 => (1..40u64).prop_map(|t| Recv { timeout: Some(t) }),
        1 => (1..20u64).prop_map(Sleep),
    ]
}

fn root_instr() -> impl Strategy<Value = Instr> + Clone {
    let node = prop_oneof![Just("a"), Just("b"), Just("c"), Just("nonode@nohost")];
    prop_oneof![
        3 => (any_target(3), 0..3u64).prop_map(|(to, tag)| Send { to, tag }),
        2 => (node.clone(), node, any::<bool>(), any::<bool>()).prop_map(|(x, y, defer, one_way)| {
            Cluster(ClusterOp::Partition {
                from: names(&[x]),
                to: names(&[y]),
                mode: if defer { Mode::Defer } else { Mode::Drop },
                one_way,
            })
        }),
        1 => Just(heal()),
        2 => (1..40u64).prop_map(|t| Recv { timeout: Some(t) }),
        1 => (1..20_000u64).prop_map(Sleep),
    ]
}

fn cluster_program() -> impl Strategy<Value = Vec<Instr>> {
    (
        prop::collection::vec(prop::collection::vec(cluster_instr(), 0..6), 3),
        prop::collection::vec(root_instr(), 0..10),
    )
        .prop_map(|(workers, root)| {
            let mut prog = vec![
                start(&["a", "b", "c"]),
                Cluster(ClusterOp::SetTicktime { ms: 500 }),
            ];
            for (w, node) in workers.into_iter().zip(["a", "b", "c"]) {
                prog.push(SpawnOn {
                    node,
                    link: false,
                    program: w,
                });
            }
            prog.extend(root);
            prog.push(heal());
            prog.push(Sleep(1_000));
            prog
        })
}

/// Replays the net events of a trace, checking that each arrival used a channel no partition
/// cut at the time, that deferred traffic came out at a heal in send order, and that every
/// channel delivered in the order it was handed its traffic.
fn check_net(r: &RunResult) -> Result<(), TestCaseError> {
    let mut cuts: BTreeMap<u32, (Vec<Name>, Vec<Name>, bool, bool)> = BTreeMap::new();
    let mut sent: BTreeMap<(Name, Name), Vec<MsgId>> = BTreeMap::new();
    let mut arrived: BTreeMap<(Name, Name), Vec<MsgId>> = BTreeMap::new();
    let mut healing_step = None;
    let mut at_heal: Vec<MsgId> = Vec::new();
    for e in &r.trace {
        let EventKind::Net(n) = &e.kind else {
            continue;
        };
        match n {
            NetEvent::Partitioned {
                id,
                from,
                to,
                one_way,
                ..
            } => {
                cuts.insert(*id, (from.clone(), to.clone(), *one_way, false));
            }
            NetEvent::Detected { id } => {
                if let Some(c) = cuts.get_mut(id) {
                    c.3 = true;
                }
            }
            NetEvent::Healed { ids, .. } => {
                for id in ids {
                    cuts.remove(id);
                }
                prop_assert!(at_heal.windows(2).all(|w| w[0] < w[1]), "{at_heal:?}");
                at_heal.clear();
                healing_step = Some(e.step);
            }
            NetEvent::Sent { id, from, to, .. } => {
                sent.entry((from.clone(), to.clone()))
                    .or_default()
                    .push(*id);
            }
            NetEvent::Arrived { id, from, to, .. } | NetEvent::Dropped { id, from, to, .. } => {
                if let NetEvent::Arrived { .. } = n {
                    let crossing = cuts.values().any(|(f, t, one_way, detected)| {
                        let fwd = f.contains(from) && t.contains(to);
                        let back = f.contains(to) && t.contains(from);
                        fwd || (back && (!one_way || *detected))
                    });
                    prop_assert!(!crossing, "message {id:?} crossed an active partition");
                    if healing_step == Some(e.step) {
                        at_heal.push(*id);
                    }
                }
                let key = (from.clone(), to.clone());
                if sent.get(&key).is_some_and(|s| s.contains(id)) {
                    arrived.entry(key).or_default().push(*id);
                }
            }
            _ => {}
        }
    }
    prop_assert!(at_heal.windows(2).all(|w| w[0] < w[1]), "{at_heal:?}");
    for (pair, got) in &arrived {
        let order: Vec<MsgId> = sent[pair]
            .iter()
            .copied()
            .filter(|id| got.contains(id))
            .collect();
        prop_assert_eq!(got, &order, "channel {:?} reordered its traffic", pair);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn partitions_hold_channels_are_fifo_and_heals_release_in_order(
        prog in cluster_program(),
        seed in 0..1000u64,
        strat in prop_oneof![Just(random()), Just(pct())],
    ) {
        let r = run(prog, strat, seed, cfg());
        check_net(&r)?;
    }

    #[test]
    fn same_seed_same_trace_with_faults_and_a_replay_reproduces_it(
        prog in cluster_program(),
        seed in 0..1000u64,
        partitions in 0..3u32,
        crashes in 0..2u32,
    ) {
        let config = Config {
            faults: controller::FaultBudget { partitions, crashes },
            allow_crashes: true,
            ..cfg()
        };
        let a = run(prog.clone(), random(), seed, config.clone());
        let b = run(prog.clone(), random(), seed, config.clone());
        prop_assert_eq!(&a.trace, &b.trace);
        prop_assert_eq!(&a.choices, &b.choices);
        check_net(&a)?;
        let replayed = run(prog, StrategyConfig::Replay { choices: a.choices.clone() }, seed, config);
        prop_assert_eq!(&replayed.trace, &a.trace);
    }
}

#[test]
fn injected_faults_happen_within_the_budget_and_are_choices_of_the_schedule() {
    let worker = |to| {
        vec![
            Send { to, tag: 1 },
            Recv { timeout: Some(50) },
            Send { to, tag: 1 },
            Recv { timeout: Some(50) },
        ]
    };
    let prog = vec![
        start(&["a", "b", "c"]),
        SpawnOn {
            node: "a",
            link: false,
            program: worker(Target::Child(1)),
        },
        SpawnOn {
            node: "b",
            link: false,
            program: worker(Target::Child(2)),
        },
        SpawnOn {
            node: "c",
            link: false,
            program: worker(Target::Child(0)),
        },
        Sleep(500),
    ];
    let config = Config {
        faults: controller::FaultBudget {
            partitions: 1,
            crashes: 1,
        },
        allow_crashes: true,
        ..cfg()
    };
    let mut with_faults = 0;
    for seed in 0..50 {
        let r = run_with(prog.clone(), random(), seed, config.clone(), 30);
        let ev = net(&r);
        let isolations = ev
            .iter()
            .filter(|e| matches!(e, NetEvent::Partitioned { fault: true, .. }))
            .count();
        let stops = ev
            .iter()
            .filter(|e| matches!(e, NetEvent::NodeStopped { fault: true, .. }))
            .count();
        assert!(isolations <= 1 && stops <= 1);
        let fault_choices = r
            .choices
            .iter()
            .filter(|c| c.fault_code().is_some())
            .count();
        assert!(fault_choices >= isolations + stops);
        if isolations + stops > 0 {
            with_faults += 1;
        }
        // Without the faults (a schedule with them removed), a guided run injects none.
        let kept: Vec<ProcId> = r
            .choices
            .iter()
            .copied()
            .filter(|c| c.fault_code().is_none())
            .collect();
        let g = run(
            prog.clone(),
            StrategyConfig::Guided { choices: kept },
            seed,
            config.clone(),
        );
        assert!(!net(&g)
            .iter()
            .any(|e| matches!(e, NetEvent::Partitioned { fault: true, .. })));
    }
    assert!(
        with_faults >= 25,
        "only {with_faults} of 50 runs had faults"
    );
}

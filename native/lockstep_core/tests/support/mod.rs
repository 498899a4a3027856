//! A simulator that drives the controller with scripted processes, the way the NIF bridge drives
//! it with real ones: wake the resumed process, let it handle its reply, submit its next operation.

#![allow(dead_code)]

use lockstep_core::strategy::StrategyConfig;
use lockstep_core::*;
use std::collections::BTreeMap;

/// The payload of every simulated message: who sent it, its per-sender sequence number, a tag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pl {
    pub from: u32,
    pub seq: u64,
    pub tag: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Root,
    /// The k-th child spawned by the root (wrapping around the children that exist).
    Child(usize),
    Me,
    Parent,
}

/// A child that sends the root one message with `tag`.
pub fn sends_root(tag: u64) -> Instr {
    Instr::Spawn {
        link: false,
        program: vec![Instr::Send {
            to: Target::Root,
            tag,
        }],
    }
}

#[derive(Clone, Debug)]
pub enum Instr {
    Spawn {
        link: bool,
        program: Vec<Instr>,
    },
    /// `spawn_monitor`: spawn a child and monitor it in one step.
    SpawnMonitor {
        program: Vec<Instr>,
    },
    Send {
        to: Target,
        tag: u64,
    },
    SendName {
        name: &'static str,
        tag: u64,
    },
    Recv {
        timeout: Option<u64>,
    },
    /// Selective receive of the first message with this tag.
    RecvTag {
        tag: u64,
        timeout: Option<u64>,
    },
    /// Selective receive of the first DOWN or EXIT message.
    RecvSignal {
        timeout: Option<u64>,
    },
    /// Busy-wait: a zero-timeout selective receive of the first message with this tag, repeated
    /// until one arrives (a spin loop: the process stays enabled while it waits).
    Poll {
        tag: u64,
    },
    Sleep(u64),
    SendAfter {
        to: Target,
        delay: u64,
        tag: u64,
    },
    /// A timer firing at virtual time `at` (`abs: true`).
    SendAt {
        to: Target,
        at: u64,
        tag: u64,
    },
    CancelLastTimer,
    ReadLastTimer,
    Now,
    SystemTime,
    Info(Target),
    Monitor(Target),
    MonitorName(&'static str),
    DemonitorLast {
        flush: bool,
    },
    Link(Target),
    Unlink(Target),
    TrapExit(bool),
    Alive(Target),
    Kill(Target),
    ExitSignal {
        to: Target,
        normal: bool,
    },
    Register(&'static str),
    Unregister(&'static str),
    Whereis(&'static str),
    Registered {
        global: bool,
    },
    /// Register the process itself under a global name.
    GlobalRegister(&'static str),
    GlobalUnregister(&'static str),
    GlobalWhereis(&'static str),
    Sync(u64),
    /// A shared-state operation that only reads `object`.
    SyncRead(u64),
    /// End abnormally by the process's own code.
    Crash,
    /// A cluster operation, as given.
    Cluster(ClusterOp),
    /// Spawn a child on a named node.
    SpawnOn {
        node: &'static str,
        link: bool,
        program: Vec<Instr>,
    },
    /// Send to `{name, node}`.
    SendNameAt {
        name: &'static str,
        node: &'static str,
        tag: u64,
    },
}

/// What one simulated process did, for assertions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    pub received: Vec<Message<Pl>>,
    pub replies: Vec<Reply<Pl>>,
    pub timeouts: usize,
    pub children: Vec<ProcId>,
    pub errors: Vec<OpError>,
}

struct Sim {
    program: Vec<Instr>,
    pc: usize,
    seq: u64,
    parent: Option<ProcId>,
    /// Selective receive in progress: mailbox index scanned so far.
    seen: usize,
    last_timer: Option<TimerId>,
    last_monitor: Option<MonitorId>,
    /// The latest selective receives that took a message, latest first (under an explorer,
    /// which asks which later messages they reject).
    retained: Vec<Instr>,
}

pub struct RunResult {
    pub outcome: Outcome<Pl>,
    pub trace: Vec<Event<Pl>>,
    pub choices: Vec<ProcId>,
    /// Per step: whether it preempted the previous step's process.
    pub preemptions: Vec<bool>,
    pub logs: BTreeMap<ProcId, Log>,
    pub steps: u64,
    pub now: u64,
    /// Messages still in mailboxes at the end, per process.
    pub leftover: BTreeMap<ProcId, Vec<MsgId>>,
    pub kills: Vec<ProcId>,
    pub alive: Vec<ProcId>,
}

pub struct World {
    pub ctl: Controller<Pl>,
    sims: BTreeMap<ProcId, Sim>,
    logs: BTreeMap<ProcId, Log>,
    root_children: Vec<ProcId>,
    kills: Vec<ProcId>,
}

pub fn run(program: Vec<Instr>, strategy: StrategyConfig, seed: u64, config: Config) -> RunResult {
    run_with(program, strategy, seed, config, 100)
}

pub fn run_with(
    program: Vec<Instr>,
    strategy: StrategyConfig,
    seed: u64,
    config: Config,
    expected_steps: u64,
) -> RunResult {
    let info = IterationInfo {
        seed,
        iteration: 0,
        expected_steps,
    };
    run_boxed(program, strategy.build(), info, config)
}

/// As [`run`], under a strategy instance the caller built.
pub fn run_boxed(
    program: Vec<Instr>,
    strategy: Box<dyn lockstep_core::strategy::Strategy>,
    info: IterationInfo,
    config: Config,
) -> RunResult {
    let ctl = Controller::new(config, strategy, info);
    let mut w = World {
        ctl,
        sims: BTreeMap::new(),
        logs: BTreeMap::new(),
        root_children: Vec::new(),
        kills: Vec::new(),
    };
    w.add(ProcId::ROOT, None, program);
    let mut next = w.ctl.start().expect("start");
    loop {
        w.kills.extend(w.ctl.take_kills());
        match next {
            Next::Finished => break,
            Next::Resume(p, reply) => {
                assert_eq!(
                    w.ctl.running(),
                    Some(p),
                    "resumed process must be the running one"
                );
                assert!(w.ctl.is_alive(p));
                let op = w.advance(p, reply);
                next = w.ctl.submit(p, op).expect("submit");
            }
        }
    }
    let n = w.ctl.process_count();
    let leftover = (0..n)
        .map(|i| ProcId(i as u32))
        .map(|p| (p, w.ctl.mailbox(p).map(|e| e.id).collect()))
        .collect();
    let alive = (0..n)
        .map(|i| ProcId(i as u32))
        .filter(|p| w.ctl.is_alive(*p))
        .collect();
    RunResult {
        outcome: w
            .ctl
            .outcome()
            .cloned()
            .expect("finished run has an outcome"),
        trace: w.ctl.trace().to_vec(),
        choices: w.ctl.choices().to_vec(),
        preemptions: w.ctl.preemption_flags().to_vec(),
        logs: w.logs,
        steps: w.ctl.steps(),
        now: w.ctl.now(),
        leftover,
        kills: w.kills,
        alive,
    }
}

impl World {
    /// Whether `me`'s current instruction is a [`Instr::Poll`].
    fn polling(&self, me: ProcId) -> bool {
        let sim = &self.sims[&me];
        sim.pc > 0 && matches!(sim.program[sim.pc - 1], Instr::Poll { .. })
    }

    fn add(&mut self, p: ProcId, parent: Option<ProcId>, program: Vec<Instr>) {
        self.ctl.bind(p).expect("bind");
        self.sims.insert(
            p,
            Sim {
                program,
                pc: 0,
                seq: 0,
                parent,
                seen: 0,
                last_timer: None,
                last_monitor: None,
                retained: Vec::new(),
            },
        );
        self.logs.insert(p, Log::default());
    }

    fn target(&self, me: ProcId, t: Target) -> ProcId {
        match t {
            Target::Root => ProcId::ROOT,
            Target::Me => me,
            Target::Parent => self.sims[&me].parent.unwrap_or(ProcId::ROOT),
            Target::Child(k) if self.root_children.is_empty() => {
                let _ = k;
                ProcId::ROOT
            }
            Target::Child(k) => self.root_children[k % self.root_children.len()],
        }
    }

    fn pl(&mut self, me: ProcId, tag: u64) -> Pl {
        let sim = self.sims.get_mut(&me).expect("sim");
        sim.seq += 1;
        Pl {
            from: me.0,
            seq: sim.seq,
            tag,
        }
    }

    /// Handle `reply` to the previous instruction and produce the next operation.
    fn advance(&mut self, me: ProcId, reply: Reply<Pl>) -> Op<Pl> {
        // A selective receive hands over a batch: match, consume, or keep waiting.
        if let Reply::Batch {
            base,
            msgs,
            timed_out,
            exact,
        } = &reply
        {
            let instr = self.sims[&me].program[self.sims[&me].pc - 1].clone();
            if *exact {
                let rejections: Vec<(usize, usize)> = self.sims[&me]
                    .retained
                    .iter()
                    .enumerate()
                    .flat_map(|(back, earlier)| {
                        msgs.iter()
                            .enumerate()
                            .filter(|(_, m)| !matches_instr(earlier, m))
                            .map(move |(k, _)| (back, base + k))
                    })
                    .collect();
                self.ctl
                    .note_rejected(me, &rejections)
                    .expect("note_rejected");
            }
            let found = msgs.iter().position(|m| matches_instr(&instr, m));
            match found {
                Some(i) => {
                    // An explorer wants to know which messages behind it the pattern rejects.
                    let env = if *exact {
                        let rejected: Vec<usize> = (i + 1..msgs.len())
                            .filter(|&k| !matches_instr(&instr, &msgs[k]))
                            .map(|k| base + k)
                            .collect();
                        self.ctl.consume_scanned(me, base + i, &rejected)
                    } else {
                        self.ctl.consume(me, base + i)
                    }
                    .expect("consume");
                    assert_eq!(&env.msg, &msgs[i]);
                    if *exact {
                        let retained = &mut self.sims.get_mut(&me).unwrap().retained;
                        retained.insert(0, instr.clone());
                        retained.truncate(16);
                    }
                    self.logs.get_mut(&me).unwrap().received.push(env.msg);
                    self.sims.get_mut(&me).unwrap().seen = 0;
                }
                None if matches!(instr, Instr::Poll { .. }) => {
                    self.logs.get_mut(&me).unwrap().timeouts += 1;
                    self.sims.get_mut(&me).unwrap().seen = 0;
                    return recv_op(&instr, 0);
                }
                None if *timed_out => {
                    self.logs.get_mut(&me).unwrap().timeouts += 1;
                    self.sims.get_mut(&me).unwrap().seen = 0;
                }
                None => {
                    let sim = self.sims.get_mut(&me).unwrap();
                    sim.seen = base + msgs.len();
                    return recv_op(&instr, sim.seen);
                }
            }
        } else if matches!(reply, Reply::Timeout) && self.polling(me) {
            // Nothing arrived: poll again.
            self.logs.get_mut(&me).unwrap().timeouts += 1;
            let sim = &self.sims[&me];
            return recv_op(&sim.program[sim.pc - 1], 0);
        } else {
            match &reply {
                Reply::Spawned(c) | Reply::SpawnedMonitored(c, _) => {
                    let instr = self.sims[&me].program[self.sims[&me].pc - 1].clone();
                    if let Instr::Spawn { program, .. }
                    | Instr::SpawnMonitor { program }
                    | Instr::SpawnOn { program, .. } = instr
                    {
                        self.add(*c, Some(me), program);
                    }
                    if let Reply::SpawnedMonitored(_, m) = reply {
                        self.sims.get_mut(&me).unwrap().last_monitor = Some(m);
                    }
                    if me == ProcId::ROOT {
                        self.root_children.push(*c);
                    }
                    self.logs.get_mut(&me).unwrap().children.push(*c);
                }
                Reply::Msg(env) => self
                    .logs
                    .get_mut(&me)
                    .unwrap()
                    .received
                    .push(env.msg.clone()),
                Reply::Timeout => self.logs.get_mut(&me).unwrap().timeouts += 1,
                Reply::Timer(t) => self.sims.get_mut(&me).unwrap().last_timer = Some(*t),
                Reply::Monitor(m) => self.sims.get_mut(&me).unwrap().last_monitor = Some(*m),
                Reply::Error(e) => self.logs.get_mut(&me).unwrap().errors.push(*e),
                _ => {}
            }
            self.logs.get_mut(&me).unwrap().replies.push(reply);
        }
        let sim = self.sims.get_mut(&me).unwrap();
        let Some(instr) = sim.program.get(sim.pc).cloned() else {
            return Op::Exit {
                reason: Reason::Normal,
                crash: false,
            };
        };
        sim.pc += 1;
        match instr {
            Instr::Spawn { link, .. } => Op::Spawn {
                link,
                monitor: false,
            },
            Instr::SpawnMonitor { .. } => Op::Spawn {
                link: false,
                monitor: true,
            },
            Instr::SendAt { to, at, tag } => Op::SendAfter {
                to: Dest::Proc(self.target(me, to)),
                msg: self.pl(me, tag),
                delay: at,
                abs: true,
            },
            Instr::ReadLastTimer => Op::ReadTimer {
                timer: self.sims[&me].last_timer.unwrap_or(TimerId(u64::MAX)),
            },
            Instr::SystemTime => Op::SystemTime,
            Instr::Info(t) => Op::Info {
                target: self.target(me, t),
            },
            Instr::Send { to, tag } => Op::Send {
                to: Dest::Proc(self.target(me, to)),
                msg: self.pl(me, tag),
            },
            Instr::SendName { name, tag } => Op::Send {
                to: Dest::Name(name.into()),
                msg: self.pl(me, tag),
            },
            Instr::Recv { timeout } => Op::Recv { timeout },
            ref i @ (Instr::RecvTag { .. } | Instr::RecvSignal { .. } | Instr::Poll { .. }) => {
                recv_op(i, 0)
            }
            Instr::Sleep(ms) => Op::Sleep { ms },
            Instr::SendAfter { to, delay, tag } => Op::SendAfter {
                abs: false,
                to: Dest::Proc(self.target(me, to)),
                msg: self.pl(me, tag),
                delay,
            },
            Instr::CancelLastTimer => Op::CancelTimer {
                timer: sim.last_timer.unwrap_or(TimerId(u64::MAX)),
            },
            Instr::Now => Op::Now,
            Instr::Monitor(t) => Op::Monitor {
                target: Dest::Proc(self.target(me, t)),
            },
            Instr::MonitorName(n) => Op::Monitor {
                target: Dest::Name(n.into()),
            },
            Instr::DemonitorLast { flush } => Op::Demonitor {
                monitor: sim.last_monitor.unwrap_or(MonitorId(u64::MAX)),
                flush,
            },
            Instr::Link(t) => Op::Link {
                target: self.target(me, t),
            },
            Instr::Unlink(t) => Op::Unlink {
                target: self.target(me, t),
            },
            Instr::TrapExit(on) => Op::TrapExit { on },
            Instr::Alive(t) => Op::Alive {
                target: self.target(me, t),
            },
            Instr::Kill(t) => Op::Signal {
                target: self.target(me, t),
                reason: Reason::Kill,
                abnormal: true,
            },
            Instr::ExitSignal { to, normal } => Op::Signal {
                target: self.target(me, to),
                reason: if normal {
                    Reason::Normal
                } else {
                    Reason::Term(Pl {
                        from: me.0,
                        seq: 0,
                        tag: 999,
                    })
                },
                abnormal: !normal,
            },
            Instr::Register(n) => Op::Register {
                name: n.into(),
                target: me,
            },
            Instr::Unregister(n) => Op::Unregister { name: n.into() },
            Instr::Whereis(n) => Op::Whereis { name: n.into() },
            Instr::Registered { global } => Op::Registered { global },
            Instr::GlobalRegister(n) => Op::GlobalRegister {
                name: n.into(),
                target: me,
            },
            Instr::GlobalUnregister(n) => Op::GlobalUnregister { name: n.into() },
            Instr::GlobalWhereis(n) => Op::GlobalWhereis { name: n.into() },
            Instr::Sync(object) | Instr::SyncRead(object) => Op::Sync {
                object,
                write: matches!(instr, Instr::Sync(_)),
                label: Pl {
                    from: me.0,
                    seq: 0,
                    tag: object,
                },
            },
            Instr::Cluster(op) => Op::Cluster(op),
            Instr::SpawnOn { node, link, .. } => Op::Cluster(ClusterOp::Spawn {
                node: node.into(),
                link,
                monitor: false,
            }),
            Instr::SendNameAt { name, node, tag } => Op::Send {
                to: Dest::At {
                    name: name.into(),
                    node: node.into(),
                },
                msg: self.pl(me, tag),
            },
            Instr::Crash => Op::Exit {
                reason: Reason::Term(Pl {
                    from: me.0,
                    seq: 0,
                    tag: 666,
                }),
                crash: true,
            },
        }
    }
}

fn recv_op(instr: &Instr, seen: usize) -> Op<Pl> {
    let timeout = match instr {
        Instr::RecvTag { timeout, .. } | Instr::RecvSignal { timeout } => *timeout,
        Instr::Poll { .. } => Some(0),
        _ => None,
    };
    Op::RecvMatch { seen, timeout }
}

fn matches_instr(instr: &Instr, m: &Message<Pl>) -> bool {
    match (instr, m) {
        (Instr::RecvTag { tag, .. } | Instr::Poll { tag }, Message::User(p)) => p.tag == *tag,
        (
            Instr::RecvSignal { .. },
            Message::Down { .. } | Message::Exit { .. } | Message::NodeDown { .. },
        ) => true,
        _ => false,
    }
}

/// A root program for random tests: spawns a child running each of `children` (linked when
/// `linked` holds for its index), runs `root`, then sleeps `settle` ms so that pending timers,
/// signals and messages play out before the root ends.
pub fn spawn_children(
    children: Vec<Vec<Instr>>,
    linked: impl Fn(usize) -> bool,
    mut root: Vec<Instr>,
    settle: u64,
) -> Vec<Instr> {
    let mut prog: Vec<Instr> = children
        .into_iter()
        .enumerate()
        .map(|(i, program)| Instr::Spawn {
            link: linked(i),
            program,
        })
        .collect();
    prog.append(&mut root);
    prog.push(Instr::Sleep(settle));
    prog
}

/// Any target of a random instruction: the root, one of the first `children` children, or the
/// process itself.
pub fn any_target(children: usize) -> impl proptest::strategy::Strategy<Value = Target> + Clone {
    use proptest::prelude::*;
    prop_oneof![
        Just(Target::Root),
        (0..children).prop_map(Target::Child),
        Just(Target::Me)
    ]
}

pub fn pct() -> StrategyConfig {
    StrategyConfig::Pct { depth: 3 }
}

pub fn random() -> StrategyConfig {
    StrategyConfig::Random
}

pub fn cfg() -> Config {
    Config::default()
}

//! The controller: the state machine at the heart of a run.
//!
//! Protocol (see DESIGN): a process announces its next operation with [`Controller::submit`] and
//! waits. When no process is running, the controller asks the strategy to pick one of the enabled
//! processes, executes that process's pending operation with all its effects, and returns
//! [`Next::Resume`] naming the process to wake with the operation's [`Reply`]. Deciding before
//! executing is what lets strategies reason about pending operations.
//!
//! Invariant: at most one process is `Running`; every other live process is waiting at a sync
//! point, or reserved by a spawn and not yet bound (only while its parent runs).

mod cluster;

pub use cluster::{Fault, FaultBudget};

use crate::cluster::{Cluster, NodeId};
use crate::ids::{MonitorId, MsgId, Name, ProcId, TimerId};
use crate::op::{
    global_name_hash, name_hash, Dest, DownItem, Envelope, InfoStatus, Message, Op, OpError,
    OpKind, ProcInfo, Reason, Reply,
};
use crate::process::{Deadline, Process, State, Transit};
use crate::strategy::{Candidate, Decision, IterationInfo, PickError, Strategy};
use crate::trace::{Event, EventKind};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Per-run settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Steps after which the run stops with [`Outcome::StepLimit`].
    pub max_steps: u64,
    /// When false, a process whose own code ends abnormally fails the run.
    pub allow_crashes: bool,
    /// When true, processes left blocked in a receive for good once the run settles fail it.
    pub fail_on_blocked: bool,
    /// When true (and crashes are not allowed), a process killed by an exit signal with an
    /// abnormal reason fails the run too, not only one whose own code ends abnormally.
    pub fail_on_abnormal_exit: bool,
    /// When true, a pending timer or receive timeout may fire while processes can still run:
    /// the clock ([`ProcId::CLOCK`]) is then one of the choices at every decision.
    pub race_timers: bool,
    /// Virtual milliseconds after the root's normal end during which timers still fire (`None`:
    /// no bound). The run settles once nothing can move within it.
    pub settle: Option<u64>,
    /// Virtual milliseconds the clock advances with every step (0: time moves only by jumps to
    /// timers). Timers that come due on the way fire before the next decision.
    pub time_per_step: u64,
    /// The system time (ms since the Unix epoch) at virtual time 0 ([`Op::SystemTime`]).
    pub epoch: u64,
    /// The name of the root's node.
    pub node: Name,
    /// Faults the controller may inject into a cluster run (none by default).
    pub faults: FaultBudget,
}

/// The default system time at virtual time 0: 2026-01-01T00:00:00Z, in ms.
pub const DEFAULT_EPOCH: u64 = 1_767_225_600_000;

impl Default for Config {
    fn default() -> Self {
        Config {
            max_steps: 1000,
            allow_crashes: false,
            fail_on_blocked: false,
            fail_on_abnormal_exit: false,
            race_timers: false,
            settle: Some(5_000),
            time_per_step: 0,
            epoch: DEFAULT_EPOCH,
            node: "nonode@nohost".into(),
            faults: FaultBudget::default(),
        }
    }
}

/// What a blocked process is waiting for (deadlock and leftover reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub proc: ProcId,
    pub op: OpKind,
    pub mailbox: usize,
    pub name: Option<Name>,
    /// The deadline (virtual ms) of a receive with a timeout, if any.
    pub deadline: Option<u64>,
}

/// A run's growable buffers, passed from a finished run to a new one (see
/// [`Controller::take_buffers`] and [`Controller::recycle`]).
pub struct Buffers<P> {
    pub trace: Vec<Event<P>>,
    pub choices: Vec<ProcId>,
    pub preempted: Vec<bool>,
}

impl<P> Default for Buffers<P> {
    fn default() -> Self {
        Buffers {
            trace: Vec::new(),
            choices: Vec::new(),
            preempted: Vec::new(),
        }
    }
}

/// Where a process stands (see [`Controller::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcStatus {
    /// No such process in this run (never spawned).
    Unknown,
    /// Spawned, not yet bound to a VM process.
    Unbound,
    Running,
    /// At a sync point, announcing `op`; `enabled` when it could be picked now.
    Waiting {
        op: OpKind,
        enabled: bool,
    },
    Exited,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<P> {
    /// The root returned normally, and the processes left then settled: each exited or blocked
    /// with nothing left to wake it (no timer due within [`Config::settle`]), or the step
    /// limit cut the run after the root had returned.
    Completed,
    /// The root ended abnormally (an exception in the test body, or killed by a signal).
    RootExit(Reason<P>),
    /// A process other than the root ended abnormally on its own (or vanished).
    Crash {
        proc: ProcId,
        reason: Reason<P>,
    },
    /// A process was killed by an exit signal with an abnormal reason that `from` sent with
    /// `exit/2` ([`Config::fail_on_abnormal_exit`]). A death through a link always follows
    /// another death, which ended the run first.
    Killed {
        proc: ProcId,
        reason: Reason<P>,
        from: ProcId,
    },
    /// Nothing enabled and no timer pending, with processes still alive.
    Deadlock(Vec<Blocked>),
    /// The run settled after the root returned with processes blocked for good in a receive
    /// (`fail_on_blocked`).
    LeftBlocked(Vec<Blocked>),
    StepLimit {
        steps: u64,
    },
    /// The strategy could not pick (replay divergence).
    Diverged(PickError),
    /// Stopped from outside (a watchdog).
    Aborted(String),
}

impl<P> Outcome<P> {
    /// Whether this outcome is a failure of the program under test (the step limit is reported
    /// separately because whether it fails is the user's policy).
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Completed | Outcome::StepLimit { .. })
    }

    /// A stable name for the outcome's category.
    pub fn category(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::RootExit(_) => "exception",
            Outcome::Crash { .. } => "crash",
            Outcome::Killed { .. } => "exit_signal",
            Outcome::Deadlock(_) => "deadlock",
            Outcome::LeftBlocked(_) => "left_blocked",
            Outcome::StepLimit { .. } => "step_limit",
            Outcome::Diverged(_) => "diverged",
            Outcome::Aborted(_) => "aborted",
        }
    }
}

/// What the embedder must do after a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Next<P> {
    /// Wake this process with this reply (it may be the caller itself).
    Resume(ProcId, Reply<P>),
    /// The run is over; see [`Controller::outcome`].
    Finished,
}

/// A protocol violation by the embedder (never by the program under test).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    UnknownProc(ProcId),
    NotRunning {
        proc: ProcId,
        running: Option<ProcId>,
    },
    NotUnbound(ProcId),
    /// A spawned process was not bound before its parent's next sync point.
    Unbound(ProcId),
    AlreadyStarted,
    BadIndex {
        index: usize,
        len: usize,
    },
    /// A message reported rejected by a selective receive is not behind the one it took.
    NotBehind {
        index: usize,
        taken: usize,
    },
    /// More rejections reported at once than a receive can have seen.
    TooManyRejections {
        count: usize,
        len: usize,
    },
    /// The strategy picked a process that is not enabled (a strategy bug).
    BadPick(ProcId),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::UnknownProc(p) => write!(f, "unknown process {p}"),
            EngineError::NotRunning { proc, running } => match running {
                Some(r) => write!(f, "{proc} is not the running process ({r} is)"),
                None => write!(f, "{proc} is not the running process (none is)"),
            },
            EngineError::NotUnbound(p) => write!(f, "{p} is already bound"),
            EngineError::Unbound(p) => write!(f, "{p} was spawned but never bound"),
            EngineError::AlreadyStarted => write!(f, "the run has already started"),
            EngineError::BadIndex { index, len } => {
                write!(f, "mailbox index {index} out of range (length {len})")
            }
            EngineError::NotBehind { index, taken } => write!(
                f,
                "mailbox index {index} is reported rejected but is not behind the message taken \
                 (index {taken})"
            ),
            EngineError::TooManyRejections { count, len } => write!(
                f,
                "{count} rejections reported for a mailbox of {len} messages: more than a \
                 receive can have seen"
            ),
            EngineError::BadPick(p) => write!(f, "strategy picked {p}, which is not enabled"),
        }
    }
}

impl std::error::Error for EngineError {}

#[derive(Clone, Debug)]
struct MonitorRec {
    owner: ProcId,
    target: ProcId,
    item: DownItem,
}

#[derive(Clone, Debug)]
enum Timed<P> {
    Msg {
        timer: TimerId,
        from: ProcId,
        to: crate::op::Dest,
        msg: P,
    },
    Deadline(ProcId),
    /// A partition's net tick time passed.
    Tick(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Termination {
    /// The process's own exit; `crash` if abnormal on its own.
    Own { crash: bool },
    /// Killed by an exit signal from `from` (with `exit/2`, or through their link when
    /// `link`); `abnormal` when its reason counts as an abnormal end.
    Signal {
        from: ProcId,
        link: bool,
        abnormal: bool,
    },
    /// Died outside the controller's control.
    External,
    /// Its node stopped: it is gone with the node; processes elsewhere hear `noconnection`.
    NodeDown,
}

impl Termination {
    /// Whether the exit counts as abnormal (for links: whether the signal it sends does).
    fn abnormal(self) -> bool {
        match self {
            Termination::Own { crash } => crash,
            Termination::Signal { abnormal, .. } => abnormal,
            Termination::External => true,
            Termination::NodeDown => false,
        }
    }
}

/// One run of a program under a strategy.
pub struct Controller<P> {
    config: Config,
    strategy: Box<dyn Strategy>,
    procs: Vec<Process<P>>,
    running: Option<ProcId>,
    unbound: usize,
    started: bool,
    /// Registered names, per node.
    names: Vec<BTreeMap<Name, ProcId>>,
    /// The run's global name space (`:global`'s mirror), apart from local names: the holders
    /// of each name, in id order. Several only while halves of a partition each registered it.
    globals: BTreeMap<Name, Vec<ProcId>>,
    cluster: Cluster,
    /// The channel process of each ordered pair of nodes, made at first use.
    channels: BTreeMap<(NodeId, NodeId), ProcId>,
    /// `Node.monitor/2` instances: the node watched and the process watching.
    node_monitors: Vec<(NodeId, ProcId)>,
    /// Each partition's pending net tick (its key in the timer queue).
    ticks: BTreeMap<u32, (u64, u64)>,
    faults: cluster::FaultState,
    monitors: BTreeMap<MonitorId, MonitorRec>,
    /// Timer queue ordered by (fire time, creation sequence).
    timers: BTreeMap<(u64, u64), Timed<P>>,
    timer_keys: BTreeMap<TimerId, (u64, u64)>,
    now: u64,
    step: u64,
    seq: u64,
    next_msg: u64,
    next_monitor: u64,
    next_timer: u64,
    last: Option<ProcId>,
    choices: Vec<ProcId>,
    /// Per step (parallel to `choices`): whether the pick preempted the previous process, that
    /// is, switched away from it while it was still enabled.
    preempted: Vec<bool>,
    trace: Vec<Event<P>>,
    kills: Vec<ProcId>,
    /// The virtual time at which the root returned normally; the run then goes on until it
    /// settles.
    root_end: Option<u64>,
    outcome: Option<Outcome<P>>,
    enabled: Vec<Candidate>,
    /// Whether the strategy wants candidates described in full ([`Strategy::needs_races`]).
    full_candidates: bool,
    /// Whether the strategy hears of every event ([`Strategy::wants_events`]).
    wants_events: bool,
}

impl<P: Clone> Controller<P> {
    /// A new run with the root process `P0` reserved (bind it, then [`Controller::start`]).
    pub fn new(config: Config, mut strategy: Box<dyn Strategy>, info: IterationInfo) -> Self {
        strategy.begin(&info);
        strategy.on_spawn(ProcId::ROOT);
        if config.race_timers {
            strategy.on_spawn(ProcId::CLOCK);
        }
        let full_candidates = strategy.needs_races();
        let wants_events = strategy.wants_events();
        let faults = cluster::FaultState::new(config.faults, &info, strategy.picks_faults());
        let cluster = Cluster::new(config.node.clone());
        Controller {
            cluster,
            channels: BTreeMap::new(),
            node_monitors: Vec::new(),
            ticks: BTreeMap::new(),
            faults,
            config,
            strategy,
            procs: vec![Process::new(None, NodeId::ROOT)],
            running: None,
            unbound: 1,
            started: false,
            names: vec![BTreeMap::new()],
            globals: BTreeMap::new(),
            monitors: BTreeMap::new(),
            timers: BTreeMap::new(),
            timer_keys: BTreeMap::new(),
            now: 0,
            step: 0,
            seq: 0,
            next_msg: 0,
            next_monitor: 0,
            next_timer: 0,
            last: None,
            choices: Vec::new(),
            preempted: Vec::new(),
            trace: Vec::new(),
            kills: Vec::new(),
            root_end: None,
            outcome: None,
            enabled: Vec::new(),
            full_candidates,
            wants_events,
        }
    }

    // ----- embedder API -------------------------------------------------------------------

    /// Bind a reserved process: it now waits at its first sync point (`Start`).
    pub fn bind(&mut self, proc: ProcId) -> Result<(), EngineError> {
        let p = self.proc_mut(proc)?;
        match p.state {
            State::Unbound => {
                p.state = State::Waiting(Op::Start);
                self.unbound -= 1;
                Ok(())
            }
            // A child reserved by a parent that died before binding it was marked exited.
            State::Exited(_) => Ok(()),
            _ => Err(EngineError::NotUnbound(proc)),
        }
    }

    /// Make the first scheduling decision.
    pub fn start(&mut self) -> Result<Next<P>, EngineError> {
        if self.started {
            return Err(EngineError::AlreadyStarted);
        }
        self.started = true;
        self.schedule()
    }

    /// The running process `who` announces its next operation and waits.
    pub fn submit(&mut self, who: ProcId, op: Op<P>) -> Result<Next<P>, EngineError> {
        if self.outcome.is_some() {
            return Ok(Next::Finished);
        }
        self.check_running(who)?;
        self.validate(who, &op)?;
        let continuation = matches!(op, Op::RecvMatch { seen, .. } if seen > 0);
        if !continuation {
            self.clear_deadline(who);
        }
        match op {
            Op::Recv { timeout: Some(t) }
            | Op::RecvMatch {
                timeout: Some(t),
                seen: 0,
            }
            | Op::Sleep { ms: t } => self.arm_deadline(who, t),
            _ => {}
        }
        self.procs[who.index()].state = State::Waiting(op);
        self.running = None;
        self.schedule()
    }

    /// The running process takes message `index` out of its mailbox (after a selective receive
    /// found it matching). Not a sync point: it is part of the step that handed the messages over.
    pub fn consume(&mut self, who: ProcId, index: usize) -> Result<Envelope<P>, EngineError> {
        self.check_running(who)?;
        let mailbox = &mut self.procs[who.index()].mailbox;
        let len = mailbox.len();
        let env = mailbox
            .remove(index)
            .ok_or(EngineError::BadIndex { index, len })?;
        self.record(
            Some(who),
            EventKind::Receive {
                id: env.id,
                msg: env.msg.clone(),
            },
        );
        Ok(env)
    }

    /// As [`Controller::consume`], telling the strategy which messages behind the one taken
    /// (mailbox indices, each past `index`) the receive's pattern rejects: an explorer then
    /// knows that the order of those messages and the one taken did not matter to it. Only
    /// meaningful after a batch marked `exact`; harmless otherwise.
    pub fn consume_scanned(
        &mut self,
        who: ProcId,
        index: usize,
        rejected: &[usize],
    ) -> Result<Envelope<P>, EngineError> {
        self.check_running(who)?;
        let mailbox = &self.procs[who.index()].mailbox;
        let len = mailbox.len();
        if index >= len {
            return Err(EngineError::BadIndex { index, len });
        }
        // Each message behind the one taken at most once.
        if rejected.len() >= len {
            return Err(EngineError::TooManyRejections {
                count: rejected.len(),
                len,
            });
        }
        let mut ids = Vec::with_capacity(rejected.len());
        for &r in rejected {
            match mailbox.get(r) {
                Some(_) if r <= index => {
                    return Err(EngineError::NotBehind {
                        index: r,
                        taken: index,
                    })
                }
                Some(e) => ids.push(e.id),
                None => return Err(EngineError::BadIndex { index: r, len }),
            }
        }
        let me = Some(who);
        for id in ids {
            self.touch(me, crate::explore::Touch::Rejected { id });
        }
        self.consume(who, index)
    }

    /// The running process's earlier selective receives reject messages now in its mailbox:
    /// each `(back, index)` says that the pattern of its `back`-th latest receive that took a
    /// message (0: the latest) rejects the message at mailbox `index`. Told to the strategy
    /// only, as [`Controller::consume_scanned`]'s rejections are.
    pub fn note_rejected(
        &mut self,
        who: ProcId,
        rejections: &[(usize, usize)],
    ) -> Result<(), EngineError> {
        self.check_running(who)?;
        let mailbox = &self.procs[who.index()].mailbox;
        let len = mailbox.len();
        // A bound on the work of one call: each message, for a few dozen earlier receives.
        if rejections.len() > len.saturating_mul(64) {
            return Err(EngineError::TooManyRejections {
                count: rejections.len(),
                len,
            });
        }
        let mut found = Vec::with_capacity(rejections.len());
        for &(back, index) in rejections {
            match mailbox.get(index) {
                Some(e) => found.push((back, e.id)),
                None => return Err(EngineError::BadIndex { index, len }),
            }
        }
        for (back, id) in found {
            self.touch(
                Some(who),
                crate::explore::Touch::RejectedEarlier { back, id },
            );
        }
        Ok(())
    }

    /// The process died outside the controller's control (its VM process went down). Returns the
    /// next process to wake if the running process died with it (it was the one, or linked to
    /// it).
    pub fn external_exit(&mut self, proc: ProcId) -> Result<Option<Next<P>>, EngineError> {
        let p = self.proc_ref(proc)?;
        if self.outcome.is_some() {
            return Ok(None);
        }
        match &p.state {
            State::Exited(_) | State::Waiting(Op::Exit { .. }) | State::Unbound => Ok(None),
            State::Running | State::Waiting(_) => {
                // The running process may die too: it is `proc`, or linked to it. Either way
                // nobody is left to submit the next operation, so the engine picks one.
                let had_running = self.running.is_some();
                self.terminate(proc, Reason::Killed, Termination::External);
                if had_running && self.running.is_none() {
                    self.schedule().map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Stop the run from outside (for example a watchdog).
    pub fn abort(&mut self, why: String) {
        self.finish(Outcome::Aborted(why));
    }

    /// Reuse buffers from an earlier run (their contents are discarded; their capacity is kept).
    /// Long runs then neither regrow their trace, schedule and preemption flags nor touch fresh
    /// memory; nothing observable changes.
    pub fn recycle(&mut self, buffers: Buffers<P>) {
        fn reuse<T>(mut buffer: Vec<T>, current: &mut Vec<T>) {
            buffer.clear();
            buffer.append(current);
            *current = buffer;
        }
        reuse(buffers.trace, &mut self.trace);
        reuse(buffers.choices, &mut self.choices);
        reuse(buffers.preempted, &mut self.preempted);
    }

    /// Give up the trace, schedule and preemption-flag buffers (for [`Controller::recycle`] in
    /// a later run). The run's trace, choices and flags read as empty afterwards.
    pub fn take_buffers(&mut self) -> Buffers<P> {
        Buffers {
            trace: std::mem::take(&mut self.trace),
            choices: std::mem::take(&mut self.choices),
            preempted: std::mem::take(&mut self.preempted),
        }
    }

    /// Processes that died by signal and whose VM processes must be killed by the embedder.
    pub fn take_kills(&mut self) -> Vec<ProcId> {
        std::mem::take(&mut self.kills)
    }

    pub fn outcome(&self) -> Option<&Outcome<P>> {
        self.outcome.as_ref()
    }

    pub fn trace(&self) -> &[Event<P>] {
        &self.trace
    }

    /// Notes what `proc`'s latest shared-state operation returned, for the report. Only that
    /// process's last event, when it is a sync point without a result yet, takes it: nothing
    /// else changes, no step is taken, no choice depends on it.
    pub fn annotate(&mut self, proc: ProcId, result: P) -> Result<(), String> {
        let last = self.trace.iter_mut().rev().find(|e| e.proc == Some(proc));
        match last {
            Some(Event {
                kind:
                    EventKind::Sync {
                        result: slot @ None,
                        ..
                    },
                ..
            }) => {
                *slot = Some(result);
                Ok(())
            }
            _ => Err(format!(
                "{proc} has no shared-state operation without a result to annotate"
            )),
        }
    }

    /// The process picked at each step, in order: the run's schedule.
    pub fn choices(&self) -> &[ProcId] {
        &self.choices
    }

    /// Per step, parallel to [`Controller::choices`]: whether that step was a preemption (the
    /// picked process differs from the previous step's, and the previous one was still enabled).
    pub fn preemption_flags(&self) -> &[bool] {
        &self.preempted
    }

    /// How many steps were preemptions. With the step count, the size a shrinker minimises.
    pub fn preemptions(&self) -> u64 {
        self.preempted.iter().filter(|p| **p).count() as u64
    }

    pub fn steps(&self) -> u64 {
        self.step
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn running(&self) -> Option<ProcId> {
        self.running
    }

    pub fn process_count(&self) -> usize {
        self.procs.len()
    }

    pub fn strategy_name(&self) -> &'static str {
        self.strategy.name()
    }

    pub fn is_alive(&self, proc: ProcId) -> bool {
        self.procs.get(proc.index()).is_some_and(|p| p.is_alive())
    }

    /// Where a process stands: what it waits to do and whether it could do it now. Used to
    /// explain a replay that could not follow its schedule.
    pub fn status(&self, proc: ProcId) -> ProcStatus {
        match self.procs.get(proc.index()) {
            None => ProcStatus::Unknown,
            Some(p) => match &p.state {
                State::Unbound => ProcStatus::Unbound,
                State::Running => ProcStatus::Running,
                State::Waiting(op) => ProcStatus::Waiting {
                    op: op.kind(),
                    enabled: p.is_enabled(),
                },
                State::Exited(_) => ProcStatus::Exited,
            },
        }
    }

    /// The registered name of a process, if any.
    pub fn name_of(&self, proc: ProcId) -> Option<&Name> {
        self.procs.get(proc.index()).and_then(|p| p.name.as_ref())
    }

    /// The process registered as `name` on the root's node.
    pub fn whereis(&self, name: &str) -> Option<ProcId> {
        self.names[0].get(name).copied()
    }

    /// The process holding `name` in the run's global name space, as the root's node sees it.
    pub fn global_whereis(&self, name: &str) -> Option<ProcId> {
        self.global_holder(NodeId::ROOT, name)
    }

    /// The messages waiting in a process's mailbox, oldest first.
    pub fn mailbox(&self, proc: ProcId) -> impl Iterator<Item = &Envelope<P>> {
        self.procs
            .get(proc.index())
            .into_iter()
            .flat_map(|p| p.mailbox.iter())
    }

    /// The monitor a process owns under `id`, if it still exists.
    pub fn owns_monitor(&self, proc: ProcId, id: MonitorId) -> bool {
        self.monitors.get(&id).is_some_and(|m| m.owner == proc)
    }

    /// Live processes waiting at a sync point that cannot currently proceed.
    pub fn blocked(&self) -> Vec<Blocked> {
        self.procs
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                matches!(p.state, State::Waiting(_)) && !p.is_enabled() && p.channel.is_none()
            })
            .map(|(i, p)| Blocked {
                proc: ProcId(i as u32),
                op: match &p.state {
                    State::Waiting(op) => op.kind(),
                    _ => OpKind::Start,
                },
                mailbox: p.mailbox.len(),
                name: p.name.clone(),
                deadline: p.deadline.and_then(|d| d.key).map(|k| k.0),
            })
            .collect()
    }

    // ----- scheduling ---------------------------------------------------------------------

    fn schedule(&mut self) -> Result<Next<P>, EngineError> {
        loop {
            if self.outcome.is_some() {
                return Ok(Next::Finished);
            }
            if self.unbound > 0 {
                let p = self
                    .procs
                    .iter()
                    .position(|p| matches!(p.state, State::Unbound))
                    .unwrap_or(0);
                return Err(EngineError::Unbound(ProcId(p as u32)));
            }
            if self.config.time_per_step > 0 {
                self.fire_until(self.now);
            }
            self.collect_enabled();
            if self.enabled.is_empty() {
                if self.advance_clock() {
                    continue;
                }
                let outcome = if self.root_end.is_some() {
                    self.completion()
                } else {
                    Outcome::Deadlock(self.blocked())
                };
                self.finish(outcome);
                return Ok(Next::Finished);
            }
            if self.step >= self.config.max_steps {
                // Once the root has returned, the run only watches what is left; cutting that
                // short is not a livelock of the test.
                let outcome = match self.root_end {
                    Some(_) => Outcome::Completed,
                    None => Outcome::StepLimit { steps: self.step },
                };
                self.finish(outcome);
                return Ok(Next::Finished);
            }
            if self.config.race_timers && self.next_timer_due().is_some() {
                self.enabled
                    .push(Candidate::new(ProcId::CLOCK, OpKind::Clock));
            }
            if let Some(fault) = self.planned_fault() {
                // Injected by the controller at a step drawn from the seed: a choice like any
                // other in the schedule, which a replay follows.
                self.step += 1;
                self.choices.push(ProcId::fault(fault.code()));
                self.preempted.push(false);
                self.inject(fault);
                continue;
            }
            self.offer_faults();
            let decision = Decision {
                step: self.step,
                enabled: &self.enabled,
                last: self.last,
            };
            let pick = match self.strategy.pick(&decision) {
                Ok(p) => p,
                Err(e) => {
                    self.finish(Outcome::Diverged(e));
                    return Ok(Next::Finished);
                }
            };
            // One pass: is the pick enabled, and was the previous process still enabled (then
            // switching away from it is a preemption)?
            let (mut valid, mut last_enabled) = (false, false);
            for c in &self.enabled {
                valid |= c.proc == pick;
                last_enabled |= self.last == Some(c.proc);
            }
            if !valid {
                return Err(EngineError::BadPick(pick));
            }
            let preempted = last_enabled && self.last != Some(pick);
            if self.config.time_per_step > 0 && self.wants_events {
                // The clock moves with every step: each one is ordered with every other.
                self.strategy
                    .on_event(Some(pick), &crate::explore::Touch::Tick);
            }
            self.step += 1;
            self.choices.push(pick);
            self.preempted.push(preempted);
            if pick.is_clock() {
                // The previous process keeps its place: resuming it is no switch.
                self.advance_clock();
                continue;
            }
            if let Some(code) = pick.fault_code() {
                match Fault::decode(code) {
                    Some(fault) => self.inject(fault),
                    None => return Err(EngineError::BadPick(pick)),
                }
                continue;
            }
            if self.procs[pick.index()].channel.is_some() {
                // A channel delivering: no process resumes, and the previous one keeps its place.
                self.arrive(pick);
                continue;
            }
            self.last = Some(pick);
            let op = match std::mem::replace(&mut self.procs[pick.index()].state, State::Running) {
                State::Waiting(op) => op,
                other => {
                    // collect_enabled only offers waiting processes.
                    self.procs[pick.index()].state = other;
                    continue;
                }
            };
            let reply = self.execute(pick, op);
            self.now = self.now.saturating_add(self.config.time_per_step);
            // Nobody is resumed when the process exited through its own operation.
            if self.is_alive(pick) {
                if self.outcome.is_some() {
                    return Ok(Next::Finished);
                }
                self.procs[pick.index()].state = State::Running;
                self.running = Some(pick);
                debug_assert_eq!(
                    self.procs
                        .iter()
                        .filter(|p| matches!(p.state, State::Running))
                        .count(),
                    1
                );
                return Ok(Next::Resume(pick, reply));
            }
        }
    }

    fn collect_enabled(&mut self) {
        self.enabled.clear();
        let full = self.full_candidates;
        for (i, p) in self.procs.iter().enumerate() {
            if let State::Waiting(op) = &p.state {
                if p.is_enabled() {
                    let proc = ProcId(i as u32);
                    if let Some(c) = &p.channel {
                        let mut cand = Candidate::new(proc, OpKind::Deliver);
                        if full {
                            cand.target = c.queue.front().and_then(|t| match t {
                                Transit::Msg {
                                    to: crate::process::TransitTo::Proc(p),
                                    ..
                                } => Some(*p),
                                Transit::Signal { target, .. } => Some(*target),
                                Transit::Msg { .. } => None,
                            });
                        }
                        self.enabled.push(cand);
                        continue;
                    }
                    self.enabled.push(if full {
                        describe(proc, op, &self.names[p.node.index()], |n| {
                            self.global_holder(p.node, n)
                        })
                    } else {
                        Candidate::new(proc, op.kind())
                    });
                }
            }
        }
    }

    /// The deadline of the earliest pending timer, if the run may still fire it: any timer
    /// before the root returns, then only those due within [`Config::settle`] of its end.
    fn next_timer_due(&self) -> Option<u64> {
        let (&(at, _), _) = self.timers.first_key_value()?;
        match (self.root_end, self.config.settle) {
            (Some(end), Some(settle)) if at > end.saturating_add(settle) => None,
            _ => Some(at),
        }
    }

    /// Jump the clock to the earliest pending timer and fire every timer due then, in creation
    /// order. Returns false when no timer may fire (see [`Controller::next_timer_due`]).
    fn advance_clock(&mut self) -> bool {
        let Some(at) = self.next_timer_due() else {
            return false;
        };
        if at > self.now {
            self.now = at;
            self.record(None, EventKind::Clock { to: at });
        }
        self.fire_until(at);
        true
    }

    /// Fire every pending timer due at or before `limit`, in deadline then creation order.
    fn fire_until(&mut self, limit: u64) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > limit {
                break;
            }
            match entry.remove() {
                Timed::Msg {
                    timer,
                    from,
                    to,
                    msg,
                } => {
                    self.timer_keys.remove(&timer);
                    let origin = self.procs[from.index()].node;
                    let target = self.resolve_from(origin, &to);
                    let id =
                        target.and_then(|t| self.route(origin, t, Some(from), Message::User(msg)));
                    self.record(
                        None,
                        EventKind::TimerFired {
                            timer,
                            to: target,
                            id,
                        },
                    );
                }
                Timed::Deadline(p) => {
                    if let Some(d) = self.procs[p.index()].deadline.as_mut() {
                        d.fired = true;
                        d.key = None;
                    }
                    self.record(None, EventKind::Deadline { of: p });
                }
                Timed::Tick(id) => {
                    self.ticks.remove(&id);
                    self.detect(id);
                }
            }
        }
    }

    // ----- execution ----------------------------------------------------------------------

    /// Execute `pick`'s pending operation `op` (taken out of its state) and return the reply.
    /// The process may have exited by the time it returns.
    fn execute(&mut self, pick: ProcId, op: Op<P>) -> Reply<P> {
        let me = Some(pick);
        let reply = match op {
            Op::Start => {
                self.record(me, EventKind::Start);
                Reply::Ok
            }
            Op::Spawn { link, monitor } => {
                let node = self.procs[pick.index()].node;
                self.spawn_on(pick, node, link, monitor)
            }
            Op::Send { to, msg } => self.send(pick, to, msg),
            Op::Cluster(op) => self.cluster_op(pick, op),
            // Channels are never picked through `execute` (see `schedule`).
            Op::Deliver => Reply::Ok,
            Op::Recv { .. } => match self.procs[pick.index()].mailbox.pop_front() {
                Some(env) => {
                    self.record(
                        me,
                        EventKind::Receive {
                            id: env.id,
                            msg: env.msg.clone(),
                        },
                    );
                    Reply::Msg(env)
                }
                None => {
                    self.record(me, EventKind::Timeout);
                    Reply::Timeout
                }
            },
            Op::RecvMatch { seen, .. } => {
                let p = &self.procs[pick.index()];
                let timed_out = p.deadline_fired();
                if let Some(first) = p.mailbox.get(seen).map(|e| e.id) {
                    let msgs: Vec<Message<P>> =
                        p.mailbox.range(seen..).map(|e| e.msg.clone()).collect();
                    let count = msgs.len();
                    self.record(
                        me,
                        EventKind::Scan {
                            base: seen,
                            count,
                            timed_out,
                            first,
                        },
                    );
                    Reply::Batch {
                        base: seen,
                        msgs,
                        timed_out,
                        exact: self.wants_events,
                    }
                } else {
                    self.record(me, EventKind::Timeout);
                    Reply::Timeout
                }
            }
            Op::Sleep { .. } => {
                self.record(me, EventKind::Sleep);
                Reply::Ok
            }
            Op::SendAfter {
                to,
                msg,
                delay,
                abs,
            } => {
                let timer = TimerId(self.next_timer);
                self.next_timer += 1;
                let at = if abs {
                    delay.max(self.now)
                } else {
                    self.now.saturating_add(delay)
                };
                let delay = at - self.now;
                // A timer to a dead pid is cancelled at once: it never fires and reads as gone.
                let dead = matches!(to, Dest::Proc(p) if !self.is_alive(p));
                if !dead {
                    let key = (at, self.next_seq());
                    self.timers.insert(
                        key,
                        Timed::Msg {
                            timer,
                            from: pick,
                            to: to.clone(),
                            msg: msg.clone(),
                        },
                    );
                    self.timer_keys.insert(timer, key);
                }
                self.record(
                    me,
                    EventKind::SendAfter {
                        timer,
                        dest: to,
                        delay,
                        msg,
                    },
                );
                Reply::Timer(timer)
            }
            Op::CancelTimer { timer } => {
                let remaining = self.timer_keys.remove(&timer).map(|key| {
                    self.timers.remove(&key);
                    key.0 - self.now
                });
                self.record(me, EventKind::CancelTimer { timer, remaining });
                Reply::Cancelled(remaining)
            }
            Op::ReadTimer { timer } => {
                let remaining = self.timer_keys.get(&timer).map(|key| key.0 - self.now);
                self.record(me, EventKind::ReadTimer { timer, remaining });
                Reply::Cancelled(remaining)
            }
            Op::Now => {
                self.record(me, EventKind::Now(self.now));
                Reply::Time(self.now)
            }
            Op::SystemTime => {
                self.record(me, EventKind::Now(self.now));
                Reply::Time(self.config.epoch.saturating_add(self.now))
            }
            Op::Info { target } if self.remote(pick, target) => self.fail(pick, OpError::Badarg),
            Op::Info { target } => {
                let info = self.info(pick, target);
                self.record(
                    me,
                    EventKind::Info {
                        target,
                        alive: info.is_some(),
                    },
                );
                Reply::Info(info)
            }
            Op::Monitor { target } => {
                let monitor = MonitorId(self.next_monitor);
                self.next_monitor += 1;
                let here = self.procs[pick.index()].node;
                let (item, resolved) = match &target {
                    Dest::Proc(p) => (DownItem::Proc(*p), Some(*p)),
                    Dest::Name(n) => (DownItem::Name(n.clone()), self.whereis_on(here, n)),
                    Dest::At { name, node } => (
                        DownItem::At {
                            name: name.clone(),
                            node: node.clone(),
                        },
                        self.cluster
                            .lookup(node)
                            .and_then(|n| self.whereis_on(n, name)),
                    ),
                };
                self.record(
                    me,
                    EventKind::Monitor {
                        monitor,
                        target: target.clone(),
                    },
                );
                let unreachable = match &target {
                    Dest::Proc(p) => !self.reaches(here, self.procs[p.index()].node),
                    Dest::At { node, .. } => self
                        .cluster
                        .lookup(node)
                        .is_none_or(|n| !self.reaches(here, n)),
                    Dest::Name(_) => false,
                };
                match resolved.filter(|t| self.is_alive(*t)) {
                    _ if unreachable => {
                        let down = Message::Down {
                            monitor,
                            item,
                            reason: Reason::NoConnection,
                        };
                        self.deliver(pick, None, down);
                    }
                    Some(t) => self.insert_monitor(monitor, pick, t, item),
                    None => {
                        let down = Message::Down {
                            monitor,
                            item,
                            reason: Reason::Noproc,
                        };
                        // From a remote node the answer comes back through the channel.
                        let origin = match resolved {
                            Some(t) => self.procs[t.index()].node,
                            None => here,
                        };
                        self.route(origin, pick, None, down);
                    }
                }
                Reply::Monitor(monitor)
            }
            Op::Demonitor { monitor, flush } => {
                let found = self.owns_monitor(pick, monitor);
                if found {
                    self.drop_monitor(monitor);
                }
                if flush {
                    let mut dropped = Vec::new();
                    self.procs[pick.index()].mailbox.retain(|e| {
                        let down =
                            matches!(&e.msg, Message::Down { monitor: m, .. } if *m == monitor);
                        if down {
                            dropped.push(e.id);
                        }
                        !down
                    });
                    for id in dropped {
                        self.touch(me, crate::explore::Touch::Dropped { id });
                    }
                }
                self.record(me, EventKind::Demonitor { monitor, found });
                Reply::Bool(found)
            }
            Op::Link { target } => {
                self.record(me, EventKind::Link { target });
                let unreachable = self.remote(pick, target)
                    && !self.reaches(
                        self.procs[pick.index()].node,
                        self.procs[target.index()].node,
                    );
                if target == pick {
                    Reply::Ok
                } else if unreachable {
                    let msg = Message::Exit {
                        from: target,
                        reason: Reason::NoConnection,
                    };
                    if self.procs[pick.index()].trap_exit {
                        self.deliver(pick, None, msg);
                    } else {
                        let how = Termination::Signal {
                            from: target,
                            link: true,
                            abnormal: true,
                        };
                        self.terminate(pick, Reason::NoConnection, how);
                    }
                    Reply::Ok
                } else if self.is_alive(target) {
                    self.procs[pick.index()].links.insert(target);
                    self.procs[target.index()].links.insert(pick);
                    Reply::Ok
                } else if self.procs[pick.index()].trap_exit {
                    let msg = Message::Exit {
                        from: target,
                        reason: Reason::Noproc,
                    };
                    self.deliver(pick, None, msg);
                    Reply::Ok
                } else {
                    self.fail(pick, OpError::Noproc)
                }
            }
            Op::Unlink { target } => {
                self.procs[pick.index()].links.remove(&target);
                self.procs[target.index()].links.remove(&pick);
                self.record(me, EventKind::Unlink { target });
                Reply::Ok
            }
            Op::TrapExit { on } => {
                let before = std::mem::replace(&mut self.procs[pick.index()].trap_exit, on);
                self.record(me, EventKind::TrapExit(on));
                Reply::Bool(before)
            }
            Op::Alive { target } if self.remote(pick, target) => self.fail(pick, OpError::Badarg),
            Op::Alive { target } => {
                let alive = self.is_alive(target);
                self.record(me, EventKind::Alive { target, alive });
                Reply::Bool(alive)
            }
            Op::Signal {
                target,
                reason,
                abnormal,
            } => {
                self.record(
                    me,
                    EventKind::Signal {
                        target,
                        reason: reason.clone(),
                    },
                );
                if self.remote(pick, target) {
                    let id = self.next_msg_id();
                    let item = Transit::Signal {
                        id,
                        from: pick,
                        target,
                        reason,
                        abnormal,
                        link: false,
                    };
                    let (a, b) = (
                        self.procs[pick.index()].node,
                        self.procs[target.index()].node,
                    );
                    self.transmit(a, b, item);
                } else {
                    self.signal(pick, target, reason, abnormal);
                }
                Reply::Ok
            }
            Op::Exit { reason, crash } => {
                self.record(
                    me,
                    EventKind::Exit {
                        reason: reason.clone(),
                    },
                );
                self.terminate(pick, reason, Termination::Own { crash });
                // Nobody receives it: the process is gone.
                Reply::Ok
            }
            Op::Register { name, target } => {
                let here = self.procs[pick.index()].node;
                let free = !self.names[here.index()].contains_key(&name)
                    && self.is_alive(target)
                    && self.procs[target.index()].node == here
                    && self.procs[target.index()].name.is_none();
                if free {
                    self.names[here.index()].insert(name.clone(), target);
                    self.procs[target.index()].name = Some(name.clone());
                    self.record(me, EventKind::Register { name, target });
                    Reply::Ok
                } else {
                    self.fail(pick, OpError::Badarg)
                }
            }
            Op::Unregister { name } => {
                match self.names[self.procs[pick.index()].node.index()].remove(&name) {
                    Some(p) => {
                        self.procs[p.index()].name = None;
                        self.record(me, EventKind::Unregister { name });
                        Reply::Ok
                    }
                    None => self.fail(pick, OpError::Badarg),
                }
            }
            Op::Whereis { name } => {
                let found = self.whereis_on(self.procs[pick.index()].node, &name);
                self.record(me, EventKind::Whereis { name, found });
                Reply::Whereis(found)
            }
            Op::Registered { global } => {
                let here = self.procs[pick.index()].node;
                let names: Vec<Name> = if global {
                    let visible = |(name, _): &(&Name, &Vec<ProcId>)| {
                        self.global_holder(here, name).is_some()
                    };
                    self.globals
                        .iter()
                        .filter(visible)
                        .map(|(n, _)| n.clone())
                        .collect()
                } else {
                    self.names[here.index()].keys().cloned().collect()
                };
                let count = names.len();
                self.record(me, EventKind::Registered { global, count });
                Reply::Names { global, names }
            }
            Op::GlobalRegister { name, target } => {
                let here = self.procs[pick.index()].node;
                let ok = self.global_holder(here, &name).is_none();
                if ok && self.is_alive(target) {
                    // In registration order: at a heal the first holder keeps the name.
                    let holders = self.globals.entry(name.clone()).or_default();
                    if !holders.contains(&target) {
                        holders.push(target);
                    }
                    self.procs[target.index()].globals.insert(name.clone());
                }
                self.record(me, EventKind::GlobalRegister { name, target, ok });
                Reply::Bool(ok)
            }
            Op::GlobalUnregister { name } => {
                let here = self.procs[pick.index()].node;
                if let Some(p) = self.global_holder(here, &name) {
                    self.drop_global(&name, p);
                }
                self.record(me, EventKind::GlobalUnregister { name });
                Reply::Ok
            }
            Op::GlobalWhereis { name } => {
                let found = self.global_holder(self.procs[pick.index()].node, &name);
                self.record(me, EventKind::GlobalWhereis { name, found });
                Reply::Whereis(found)
            }
            Op::Sync {
                object,
                write,
                label,
            } => {
                self.record(
                    me,
                    EventKind::Sync {
                        object,
                        write,
                        label,
                        result: None,
                    },
                );
                Reply::Ok
            }
        };
        reply
    }

    fn fail(&mut self, pick: ProcId, e: OpError) -> Reply<P> {
        self.record(Some(pick), EventKind::Failed(e));
        Reply::Error(e)
    }

    /// `exit(target, reason)` from `from`, with the BEAM's rules: `kill` cannot be trapped, a
    /// trapping target gets `{:EXIT, from, reason}`, `normal` is ignored unless sent to oneself.
    fn signal(&mut self, from: ProcId, target: ProcId, reason: Reason<P>, abnormal: bool) {
        if !self.is_alive(target) {
            return;
        }
        let how = |abnormal| Termination::Signal {
            from,
            link: false,
            abnormal,
        };
        match reason {
            Reason::Kill => self.terminate(target, Reason::Killed, how(true)),
            r if self.procs[target.index()].trap_exit => {
                self.deliver(target, Some(from), Message::Exit { from, reason: r });
            }
            Reason::Normal => {
                if target == from {
                    self.terminate(target, Reason::Normal, how(false));
                }
            }
            r => self.terminate(target, r, how(abnormal)),
        }
    }

    /// A process ends: monitors fire, links propagate, names are released. Link propagation runs
    /// as a worklist in a fixed order so that long chains neither recurse nor vary between runs.
    fn terminate(&mut self, victim: ProcId, reason: Reason<P>, how: Termination) {
        let mut work = VecDeque::from([(victim, reason, how)]);
        while let Some((v, reason, how)) = work.pop_front() {
            if !self.is_alive(v) {
                continue;
            }
            match how {
                Termination::Signal { from, link, .. } => {
                    self.record(
                        None,
                        EventKind::Died {
                            victim: v,
                            reason: reason.clone(),
                            from,
                            link,
                        },
                    );
                    self.kills.push(v);
                }
                Termination::External => self.record(None, EventKind::Vanished { victim: v }),
                Termination::NodeDown => self.kills.push(v),
                Termination::Own { .. } => {}
            }
            self.clear_deadline(v);
            if self.running == Some(v) {
                self.running = None;
            }
            let p = &mut self.procs[v.index()];
            p.state = State::Exited(reason.clone());
            let owned = std::mem::take(&mut p.owned);
            let watchers = std::mem::take(&mut p.watchers);
            let links = std::mem::take(&mut p.links);
            let node = p.node;
            if let Some(name) = p.name.take() {
                self.names[node.index()].remove(&name);
            }
            for name in std::mem::take(&mut p.globals) {
                self.drop_global(&name, v);
            }
            // Timers addressed to the pid die with it, as on the BEAM.
            let timers = &mut self.timers;
            self.timer_keys.retain(|_, key| {
                let to_victim =
                    matches!(timers.get(key), Some(Timed::Msg { to: Dest::Proc(t), .. }) if *t == v);
                if to_victim {
                    timers.remove(key);
                }
                !to_victim
            });
            for m in owned {
                self.drop_monitor(m);
            }
            // A process of a stopped node (killed with it, or by a link as it went down):
            // others hear of it from their own node.
            let node_down = how == Termination::NodeDown || !self.cluster.is_up(node);
            for m in watchers {
                if let Some(rec) = self.monitors.remove(&m) {
                    self.procs[rec.owner.index()].owned.retain(|x| *x != m);
                    let remote = self.procs[rec.owner.index()].node != node;
                    let down = Message::Down {
                        monitor: m,
                        item: rec.item,
                        reason: if remote && node_down {
                            Reason::NoConnection
                        } else {
                            reason.clone()
                        },
                    };
                    if node_down {
                        // The watcher's own node notices the connection going: no transit.
                        self.deliver(rec.owner, None, down);
                    } else {
                        self.route(node, rec.owner, None, down);
                    }
                }
            }
            for l in links {
                self.procs[l.index()].links.remove(&v);
                if !self.is_alive(l) {
                    continue;
                }
                let remote = self.procs[l.index()].node != node;
                if remote && node_down {
                    let lost = Reason::NoConnection;
                    if self.procs[l.index()].trap_exit {
                        let msg = Message::Exit {
                            from: v,
                            reason: lost,
                        };
                        self.deliver(l, None, msg);
                    } else {
                        let via = Termination::Signal {
                            from: v,
                            link: true,
                            abnormal: true,
                        };
                        work.push_back((l, lost, via));
                    }
                } else if remote {
                    let id = self.next_msg_id();
                    let item = Transit::Signal {
                        id,
                        from: v,
                        target: l,
                        reason: reason.clone(),
                        abnormal: how.abnormal(),
                        link: true,
                    };
                    let to = self.procs[l.index()].node;
                    self.transmit(node, to, item);
                } else if self.procs[l.index()].trap_exit {
                    let msg = Message::Exit {
                        from: v,
                        reason: reason.clone(),
                    };
                    self.deliver(l, Some(v), msg);
                } else if !reason.is_normal() {
                    let via = Termination::Signal {
                        from: v,
                        link: true,
                        abnormal: how.abnormal(),
                    };
                    work.push_back((l, reason.clone(), via));
                }
            }
            for (i, child) in self.procs.iter_mut().enumerate() {
                if i != v.index()
                    && child.parent == Some(v)
                    && matches!(child.state, State::Unbound)
                {
                    child.state = State::Exited(Reason::Noproc);
                    self.unbound -= 1;
                }
            }
            if v == ProcId::ROOT {
                match (&reason, how) {
                    // The body returned: what is left runs on until it settles.
                    (Reason::Normal, Termination::Own { .. }) => self.root_end = Some(self.now),
                    _ => self.finish(Outcome::RootExit(reason.clone())),
                }
            } else if !self.config.allow_crashes {
                match how {
                    Termination::Own { crash: true } => self.finish(Outcome::Crash {
                        proc: v,
                        reason: reason.clone(),
                    }),
                    Termination::External => self.finish(Outcome::Crash {
                        proc: v,
                        reason: Reason::Killed,
                    }),
                    Termination::Signal {
                        from,
                        abnormal: true,
                        ..
                    } if self.config.fail_on_abnormal_exit => self.finish(Outcome::Killed {
                        proc: v,
                        reason: reason.clone(),
                        from,
                    }),
                    _ => {}
                }
            }
        }
    }

    fn completion(&self) -> Outcome<P> {
        if self.config.fail_on_blocked {
            let left: Vec<Blocked> = self
                .blocked()
                .into_iter()
                .filter(|b| {
                    matches!(b.op, OpKind::Recv | OpKind::RecvMatch) && b.deadline.is_none()
                })
                .collect();
            if !left.is_empty() {
                return Outcome::LeftBlocked(left);
            }
        }
        Outcome::Completed
    }

    fn finish(&mut self, outcome: Outcome<P>) {
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
    }

    // ----- helpers ------------------------------------------------------------------------

    /// The process `dest` names, resolved on node `here` (a `{name, node}` on that node).
    fn resolve_from(&self, here: NodeId, dest: &Dest) -> Option<ProcId> {
        match dest {
            Dest::Proc(p) => Some(*p),
            Dest::Name(n) => self.whereis_on(here, n),
            Dest::At { name, node } => self
                .cluster
                .lookup(node)
                .and_then(|n| self.whereis_on(n, name)),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn next_msg_id(&mut self) -> MsgId {
        let id = MsgId(self.next_msg);
        self.next_msg += 1;
        id
    }

    /// Append to a live process's mailbox; false (dropped) when it is dead.
    fn push(&mut self, to: ProcId, id: MsgId, from: Option<ProcId>, msg: Message<P>) -> bool {
        let p = &mut self.procs[to.index()];
        if !p.is_alive() || matches!(p.state, State::Unbound) {
            return false;
        }
        p.mailbox.push_back(Envelope { id, from, msg });
        true
    }

    /// Deliver a message that is not a plain `send` (timer fires, DOWN, EXIT), recording it.
    fn deliver(&mut self, to: ProcId, from: Option<ProcId>, msg: Message<P>) -> Option<MsgId> {
        let id = self.next_msg_id();
        if !self.push(to, id, from, msg.clone()) {
            return None;
        }
        if !matches!(msg, Message::User(_)) {
            self.record(None, EventKind::Deliver { to, id, msg });
        }
        Some(id)
    }

    /// A new monitor of `owner` on the live process `target`.
    fn add_monitor(&mut self, owner: ProcId, target: ProcId, item: DownItem) -> MonitorId {
        let monitor = MonitorId(self.next_monitor);
        self.next_monitor += 1;
        self.insert_monitor(monitor, owner, target, item);
        monitor
    }

    fn insert_monitor(
        &mut self,
        monitor: MonitorId,
        owner: ProcId,
        target: ProcId,
        item: DownItem,
    ) {
        self.monitors.insert(
            monitor,
            MonitorRec {
                owner,
                target,
                item,
            },
        );
        self.procs[owner.index()].owned.push(monitor);
        self.procs[target.index()].watchers.push(monitor);
    }

    /// `Process.info/2`'s view of `target`, asked by `asker`; `None` when it is dead.
    fn info(&self, asker: ProcId, target: ProcId) -> Option<ProcInfo<P>> {
        let p = self.procs.get(target.index()).filter(|p| p.is_alive())?;
        let status = if target == asker {
            InfoStatus::Running
        } else if p.is_enabled() {
            InfoStatus::Runnable
        } else {
            InfoStatus::Waiting
        };
        Some(ProcInfo {
            status,
            messages: p.mailbox.iter().map(|e| e.msg.clone()).collect(),
            links: p.links.iter().copied().collect(),
            monitors: p
                .owned
                .iter()
                .filter_map(|m| self.monitors.get(m).map(|r| (*m, r.item.clone())))
                .collect(),
            monitored_by: p
                .watchers
                .iter()
                .filter_map(|m| self.monitors.get(m).map(|r| r.owner))
                .collect(),
            name: p.name.clone(),
            trap_exit: p.trap_exit,
        })
    }

    fn drop_monitor(&mut self, m: MonitorId) {
        if let Some(rec) = self.monitors.remove(&m) {
            self.procs[rec.owner.index()].owned.retain(|x| *x != m);
            self.procs[rec.target.index()].watchers.retain(|x| *x != m);
        }
    }

    fn arm_deadline(&mut self, who: ProcId, ms: u64) {
        let deadline = if ms == 0 {
            Deadline {
                key: None,
                fired: true,
            }
        } else {
            let key = (self.now.saturating_add(ms), self.next_seq());
            self.timers.insert(key, Timed::Deadline(who));
            if self.wants_events {
                // Part of the step `who` just took: it read the clock and added to the queue.
                self.strategy
                    .on_event(Some(who), &crate::explore::Touch::DeadlineArmed);
            }
            Deadline {
                key: Some(key),
                fired: false,
            }
        };
        self.procs[who.index()].deadline = Some(deadline);
    }

    fn clear_deadline(&mut self, who: ProcId) {
        if let Some(Deadline { key: Some(k), .. }) = self.procs[who.index()].deadline.take() {
            self.timers.remove(&k);
        }
    }

    /// Tell a strategy that hears of events something that is not an event of the trace.
    fn touch(&mut self, proc: Option<ProcId>, touch: crate::explore::Touch) {
        if self.wants_events {
            self.strategy.on_event(proc, &touch);
        }
    }

    fn record(&mut self, proc: Option<ProcId>, kind: EventKind<P>) {
        if self.wants_events {
            let touch = crate::explore::Touch::of(&kind);
            self.strategy.on_event(proc, &touch);
        }
        self.trace.push(Event {
            step: self.step,
            time: self.now,
            proc,
            kind,
        });
    }

    fn proc_ref(&self, p: ProcId) -> Result<&Process<P>, EngineError> {
        self.procs.get(p.index()).ok_or(EngineError::UnknownProc(p))
    }

    fn proc_mut(&mut self, p: ProcId) -> Result<&mut Process<P>, EngineError> {
        self.procs
            .get_mut(p.index())
            .ok_or(EngineError::UnknownProc(p))
    }

    fn check_running(&self, who: ProcId) -> Result<(), EngineError> {
        self.proc_ref(who)?;
        if self.running == Some(who) {
            Ok(())
        } else {
            Err(EngineError::NotRunning {
                proc: who,
                running: self.running,
            })
        }
    }

    /// Reject operations that name processes that do not exist, or a mailbox index past the end.
    fn validate(&self, who: ProcId, op: &Op<P>) -> Result<(), EngineError> {
        if let Some(t) = op.target() {
            self.proc_ref(t)?;
        }
        if let Op::RecvMatch { seen, .. } = op {
            let len = self.procs[who.index()].mailbox.len();
            if *seen > len {
                return Err(EngineError::BadIndex { index: *seen, len });
            }
        }
        if self.unbound > 0 {
            if let Some(p) = self
                .procs
                .iter()
                .position(|p| matches!(p.state, State::Unbound) && p.parent == Some(who))
            {
                return Err(EngineError::Unbound(ProcId(p as u32)));
            }
        }
        Ok(())
    }
}

/// The candidate for `proc`'s pending `op`, described in full. Names are resolved as executing
/// the operation now would resolve them, so strategies see which process a name-addressed
/// operation reaches.
fn describe<P>(
    proc: ProcId,
    op: &Op<P>,
    names: &BTreeMap<Name, ProcId>,
    globals: impl Fn(&str) -> Option<ProcId>,
) -> Candidate {
    let (target, name) = match op {
        Op::Send { to: dest, .. } | Op::Monitor { target: dest } => match dest {
            Dest::Proc(t) => (Some(*t), None),
            Dest::Name(n) => (names.get(n).copied(), Some(name_hash(n))),
            Dest::At { name, .. } => (None, Some(name_hash(name))),
        },
        Op::Whereis { name } | Op::Unregister { name } => {
            (names.get(name).copied(), Some(name_hash(name)))
        }
        Op::Register { name, target } => (Some(*target), Some(name_hash(name))),
        Op::GlobalWhereis { name } | Op::GlobalUnregister { name } => {
            (globals(name), Some(global_name_hash(name)))
        }
        Op::GlobalRegister { name, target } => (Some(*target), Some(global_name_hash(name))),
        _ => (op.target(), None),
    };
    Candidate {
        proc,
        op: op.kind(),
        target,
        object: match op {
            Op::Sync { object, write, .. } => Some((*object, *write)),
            _ => None,
        },
        name,
        fatal: match op {
            Op::Signal { .. } => true,
            Op::Exit { reason, .. } => !matches!(reason, Reason::Normal),
            _ => false,
        },
        timed: matches!(
            op,
            Op::Recv { timeout: Some(_) }
                | Op::RecvMatch {
                    timeout: Some(_),
                    ..
                }
                | Op::Sleep { .. }
        ),
    }
}

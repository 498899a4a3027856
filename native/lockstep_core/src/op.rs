//! Operations a process announces at a sync point, and what executing them hands back.

use crate::ids::{MonitorId, MsgId, Name, ProcId, TimerId};

/// Where a message or monitor goes: a process, or a registered name resolved when the operation
/// executes (a `send` to an unregistered name fails with `badarg`, as on the BEAM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    Proc(ProcId),
    Name(Name),
    /// `{name, node}`: a name registered on a node, resolved when the message arrives there. A
    /// send to it never fails, whether the name is registered or the node is up (as on the
    /// BEAM): what cannot be delivered is lost.
    At {
        name: Name,
        node: Name,
    },
}

/// Why a process exited. `P` is the embedder's payload type (a stored term in the NIF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason<P> {
    Normal,
    /// Sent by `exit(pid, :kill)`: cannot be trapped; the target dies with `Killed`.
    Kill,
    Killed,
    Noproc,
    NoConnection,
    Term(P),
}

impl<P> Reason<P> {
    pub fn is_normal(&self) -> bool {
        matches!(self, Reason::Normal)
    }
}

/// What a `DOWN` message names: the monitored pid, or the registered name it was monitored by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownItem {
    Proc(ProcId),
    Name(Name),
    /// Monitored as `{name, node}`.
    At {
        name: Name,
        node: Name,
    },
}

/// A message in a mailbox: a user term, or one the runtime generated from a monitor or link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<P> {
    User(P),
    /// `{:DOWN, ref, :process, item, reason}`
    Down {
        monitor: MonitorId,
        item: DownItem,
        reason: Reason<P>,
    },
    /// `{:EXIT, pid, reason}` delivered to a process that traps exits.
    Exit {
        from: ProcId,
        reason: Reason<P>,
    },
    /// `{:nodedown, node}` for a process monitoring a node (`Node.monitor/2`).
    NodeDown {
        node: Name,
    },
}

/// A message with its identity and sender (`None` for runtime-generated ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<P> {
    pub id: MsgId,
    pub from: Option<ProcId>,
    pub msg: Message<P>,
}

/// The operation a process performs at its next sync point. The controller executes it only when
/// the strategy picks the process; until then the process waits.
#[derive(Clone, Debug)]
pub enum Op<P> {
    /// A new process's first step: beginning to run its function.
    Start,
    /// Reserve a child process (the embedder then binds it to a real process); with `monitor`,
    /// the parent also monitors it, atomically (`spawn_monitor`, `spawn_opt` with `:monitor`).
    Spawn {
        link: bool,
        monitor: bool,
    },
    Send {
        to: Dest,
        msg: P,
    },
    /// Take the oldest message; with a timeout (ms), give up once it passes.
    Recv {
        timeout: Option<u64>,
    },
    /// Selective receive: hand over the messages from index `seen` on (the caller already looked
    /// at the earlier ones). Enabled once a message past `seen` exists or the timeout passed. A
    /// continuation (`seen > 0`) keeps the deadline set when the receive began.
    RecvMatch {
        seen: usize,
        timeout: Option<u64>,
    },
    Sleep {
        ms: u64,
    },
    /// A timer sending `msg` to `to`: after `delay` ms, or with `abs` at virtual time `delay`
    /// (at once if that has passed). A timer to a pid that is dead, or dies before it fires, is
    /// cancelled, as on the BEAM; a timer to a name resolves the name when it fires.
    SendAfter {
        to: Dest,
        msg: P,
        delay: u64,
        abs: bool,
    },
    CancelTimer {
        timer: TimerId,
    },
    /// The milliseconds left on a timer, without cancelling it (`read_timer`).
    ReadTimer {
        timer: TimerId,
    },
    /// The virtual monotonic clock, in ms from the start of the run.
    Now,
    /// The virtual system clock: the run's epoch plus the monotonic clock.
    SystemTime,
    /// What `Process.info/2` reports about `target` (see [`ProcInfo`]).
    Info {
        target: ProcId,
    },
    Monitor {
        target: Dest,
    },
    Demonitor {
        monitor: MonitorId,
        flush: bool,
    },
    Link {
        target: ProcId,
    },
    Unlink {
        target: ProcId,
    },
    TrapExit {
        on: bool,
    },
    Alive {
        target: ProcId,
    },
    /// `exit(target, reason)`: send an exit signal. `abnormal` says whether a process killed
    /// by it counts as ending abnormally (anything but `normal`, `shutdown`, `{shutdown, _}`;
    /// `kill` always), which matters when every abnormal exit fails the run.
    Signal {
        target: ProcId,
        reason: Reason<P>,
        abnormal: bool,
    },
    /// The process's own end. `crash` marks an abnormal end of its own code (an exception or an
    /// abnormal `exit/1`), which fails the run unless crashes are allowed.
    Exit {
        reason: Reason<P>,
        crash: bool,
    },
    Register {
        name: Name,
        target: ProcId,
    },
    Unregister {
        name: Name,
    },
    Whereis {
        name: Name,
    },
    /// List the registered names: the local ones, or with `global` the run's global ones.
    Registered {
        global: bool,
    },
    /// Register `target` under a name in the run's global name space (`:global`'s mirror): fails
    /// (`Bool(false)`) only when the name is taken. A process may hold several global names,
    /// besides its local one. Registering a dead process succeeds and is forgotten at once, as
    /// `:global` forgets a registered process when it dies.
    GlobalRegister {
        name: Name,
        target: ProcId,
    },
    /// Remove a global name (a no-op when nobody holds it).
    GlobalUnregister {
        name: Name,
    },
    GlobalWhereis {
        name: Name,
    },
    /// A shared-state operation (ETS, atomics, ...) made interleavable. `object` identifies what it
    /// touches (hashed by the embedder) so strategies can tell conflicting operations apart.
    Sync {
        object: u64,
        write: bool,
        label: P,
    },
    /// An operation on the simulated cluster (see [`ClusterOp`]).
    Cluster(ClusterOp),
    /// Not an operation of a process: a channel between two nodes delivering the oldest message
    /// or signal it carries. Channels are processes of the controller's own.
    Deliver,
}

/// Operations on the simulated cluster (see [`crate::cluster`]). Nodes are named by their
/// names; an unknown one is refused with [`Reply::Refused`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterOp {
    /// Spawn on another node (as [`Op::Spawn`], which spawns on the parent's node).
    Spawn {
        node: Name,
        link: bool,
        monitor: bool,
    },
    /// Name nodes (idempotent); they start up and connected to every other node.
    StartNodes { names: Vec<Name> },
    /// Cut traffic between two groups of nodes (only from `from` to `to` when `one_way`).
    Partition {
        from: Vec<Name>,
        to: Vec<Name>,
        mode: crate::cluster::Mode,
        one_way: bool,
    },
    /// Heal one partition, or all of them with `None`.
    Heal { partition: Option<u32> },
    /// Stop a node: its processes die, traffic to and from it is lost, node monitors fire.
    StopNode { node: Name },
    /// Bring a stopped node back, empty.
    StartNode { node: Name },
    /// `Node.monitor(node, on)`.
    MonitorNode { node: Name, on: bool },
    /// Set the virtual `net_ticktime` (ms, at least 1).
    SetTicktime { ms: u64 },
    /// `Node.list/0` from the caller's node; with `all`, every node the run named.
    Nodes { all: bool },
    /// The process registered as `name` on `node` (what a call to `{name, node}` addresses);
    /// refused when the node is unknown or down.
    WhereisOn { name: Name, node: Name },
}

/// The kind of an operation without its payload: what strategies and reports look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Start,
    Spawn,
    Send,
    Recv,
    RecvMatch,
    Sleep,
    SendAfter,
    CancelTimer,
    ReadTimer,
    Now,
    SystemTime,
    Info,
    Monitor,
    Demonitor,
    Link,
    Unlink,
    TrapExit,
    Alive,
    Signal,
    Exit,
    Register,
    Unregister,
    Whereis,
    Registered,
    GlobalRegister,
    GlobalUnregister,
    GlobalWhereis,
    Sync,
    Cluster,
    /// A channel between nodes delivering what it carries.
    Deliver,
    /// Not an operation of a process: an injected fault (see `Config::faults`).
    Fault,
    /// Not an operation of a process: with racing timers, the choice to let the virtual clock
    /// jump to the earliest pending timer and fire it while processes could still run
    /// ([`crate::ids::ProcId::CLOCK`] makes it).
    Clock,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Start => "start",
            OpKind::Spawn => "spawn",
            OpKind::Send => "send",
            OpKind::Recv => "recv",
            OpKind::RecvMatch => "recv_first",
            OpKind::Sleep => "sleep",
            OpKind::SendAfter => "send_after",
            OpKind::CancelTimer => "cancel_timer",
            OpKind::ReadTimer => "read_timer",
            OpKind::Now => "now",
            OpKind::SystemTime => "system_time",
            OpKind::Info => "process_info",
            OpKind::Monitor => "monitor",
            OpKind::Demonitor => "demonitor",
            OpKind::Link => "link",
            OpKind::Unlink => "unlink",
            OpKind::TrapExit => "trap_exit",
            OpKind::Alive => "alive?",
            OpKind::Signal => "exit",
            OpKind::Exit => "exit_self",
            OpKind::Register => "register",
            OpKind::Unregister => "unregister",
            OpKind::Whereis => "whereis",
            OpKind::Registered => "registered",
            OpKind::GlobalRegister => "global_register",
            OpKind::GlobalUnregister => "global_unregister",
            OpKind::GlobalWhereis => "global_whereis",
            OpKind::Sync => "sync",
            OpKind::Cluster => "cluster",
            OpKind::Deliver => "deliver",
            OpKind::Fault => "fault",
            OpKind::Clock => "clock",
        }
    }
}

impl<P> Op<P> {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Start => OpKind::Start,
            Op::Spawn { .. } => OpKind::Spawn,
            Op::Send { .. } => OpKind::Send,
            Op::Recv { .. } => OpKind::Recv,
            Op::RecvMatch { .. } => OpKind::RecvMatch,
            Op::Sleep { .. } => OpKind::Sleep,
            Op::SendAfter { .. } => OpKind::SendAfter,
            Op::CancelTimer { .. } => OpKind::CancelTimer,
            Op::ReadTimer { .. } => OpKind::ReadTimer,
            Op::Now => OpKind::Now,
            Op::SystemTime => OpKind::SystemTime,
            Op::Info { .. } => OpKind::Info,
            Op::Monitor { .. } => OpKind::Monitor,
            Op::Demonitor { .. } => OpKind::Demonitor,
            Op::Link { .. } => OpKind::Link,
            Op::Unlink { .. } => OpKind::Unlink,
            Op::TrapExit { .. } => OpKind::TrapExit,
            Op::Alive { .. } => OpKind::Alive,
            Op::Signal { .. } => OpKind::Signal,
            Op::Exit { .. } => OpKind::Exit,
            Op::Register { .. } => OpKind::Register,
            Op::Unregister { .. } => OpKind::Unregister,
            Op::Whereis { .. } => OpKind::Whereis,
            Op::Registered { .. } => OpKind::Registered,
            Op::GlobalRegister { .. } => OpKind::GlobalRegister,
            Op::GlobalUnregister { .. } => OpKind::GlobalUnregister,
            Op::GlobalWhereis { .. } => OpKind::GlobalWhereis,
            Op::Sync { .. } => OpKind::Sync,
            Op::Cluster(_) => OpKind::Cluster,
            Op::Deliver => OpKind::Deliver,
        }
    }

    /// The process this operation acts on directly, if any (for strategies that reason about
    /// conflicts between pending operations).
    pub fn target(&self) -> Option<ProcId> {
        match self {
            Op::Send {
                to: Dest::Proc(p), ..
            }
            | Op::SendAfter {
                to: Dest::Proc(p), ..
            }
            | Op::Monitor {
                target: Dest::Proc(p),
            }
            | Op::Link { target: p }
            | Op::Unlink { target: p }
            | Op::Alive { target: p }
            | Op::Info { target: p }
            | Op::Signal { target: p, .. }
            | Op::Register { target: p, .. }
            | Op::GlobalRegister { target: p, .. } => Some(*p),
            _ => None,
        }
    }
}

/// The `object` of a [`Op::Sync`] touching `key` (a 32-bit hash) of `table` (a 32-bit hash):
/// `(table << 32) | key`. Key `0` means the operation touches the whole table (`tab2list`,
/// `select`, `first`/`next`, deleting the table, `info`, ...); a keyed operation must use a
/// nonzero key hash (map a hash of 0 to 1). See [`sync_conflict`] for when two objects clash.
pub fn sync_object(table: u32, key: u32) -> u64 {
    (u64::from(table) << 32) | u64::from(key)
}

/// The table half of a [`sync_object`].
pub fn sync_table(object: u64) -> u32 {
    (object >> 32) as u32
}

/// The key half of a [`sync_object`] (`0` for a whole-table operation).
pub fn sync_key(object: u64) -> u32 {
    object as u32
}

/// Whether two shared-state operations conflict (their order can matter): same table, either one
/// whole-table or both on the same key, and at least one of them writes.
pub fn sync_conflict(a: u64, a_writes: bool, b: u64, b_writes: bool) -> bool {
    if !(a_writes || b_writes) || sync_table(a) != sync_table(b) {
        return false;
    }
    let (ka, kb) = (sync_key(a), sync_key(b));
    ka == 0 || kb == 0 || ka == kb
}

/// A stable 64-bit hash of a locally registered name (FNV-1a), so strategies can tell
/// operations on the same name apart without holding the name. Portable and independent of the
/// standard library's hasher, whose output may change between releases.
pub fn name_hash(name: &str) -> u64 {
    fnv1a(FNV_OFFSET, name.as_bytes())
}

/// As [`name_hash`], for a name in the run's global name space: the same name hashes
/// differently in the two spaces, which are independent.
pub fn global_name_hash(name: &str) -> u64 {
    // 0xFF never occurs in UTF-8, so no local name hashes the same bytes.
    fnv1a(fnv1a(FNV_OFFSET, &[0xFF]), name.as_bytes())
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A failed operation, surfaced to the calling process as the BEAM would (an `ArgumentError`
/// for `badarg`, an `ErlangError` for `noproc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpError {
    /// e.g. sending to an unregistered name, registering a taken name.
    Badarg,
    /// linking to a dead process without trapping exits.
    Noproc,
}

/// How a process stands in [`ProcInfo`], as `Process.info(pid, :status)` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoStatus {
    /// The process asking about itself.
    Running,
    /// At a sync point it could execute now.
    Runnable,
    /// Blocked in a receive (or a sleep).
    Waiting,
}

/// What `Process.info/2` reports about a live process: `None` in [`Reply::Info`] for a dead one.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcInfo<P> {
    pub status: InfoStatus,
    /// The mailbox, oldest first.
    pub messages: Vec<Message<P>>,
    pub links: Vec<ProcId>,
    /// Monitors the process holds: their ids and what each watches.
    pub monitors: Vec<(MonitorId, DownItem)>,
    /// Processes monitoring it.
    pub monitored_by: Vec<ProcId>,
    pub name: Option<Name>,
    pub trap_exit: bool,
}

/// What executing an operation hands back to the process that performed it.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply<P> {
    Ok,
    Spawned(ProcId),
    Msg(Envelope<P>),
    /// Selective receive: the messages at indices `base..` of the mailbox, oldest first, and
    /// whether the receive's deadline has passed. `exact`: the strategy wants to know which
    /// messages behind the one taken the receive rejects (see [`crate::Controller::consume_scanned`]).
    Batch {
        base: usize,
        msgs: Vec<Message<P>>,
        timed_out: bool,
        exact: bool,
    },
    Timeout,
    Time(u64),
    Timer(TimerId),
    /// `cancel_timer` and `read_timer`: the milliseconds that remained, or `None` if it had fired,
    /// was cancelled or never existed.
    Cancelled(Option<u64>),
    /// `spawn_monitor`: the child and the monitor on it.
    SpawnedMonitored(ProcId, MonitorId),
    Info(Option<ProcInfo<P>>),
    Monitor(MonitorId),
    Bool(bool),
    Whereis(Option<ProcId>),
    /// `registered`: the names asked for, in name order.
    Names {
        global: bool,
        names: Vec<Name>,
    },
    /// A node's name (`node/1`) or a list of them (`Node.list/0`).
    Nodes(Vec<Name>),
    /// A new partition's id.
    Partition(u32),
    /// A cluster operation refused: the caller raises an `ArgumentError` with this text.
    Refused(String),
    Error(OpError),
}

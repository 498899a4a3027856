//! The event trace of one run: what each step did, with stable ids, oldest first. Payloads are
//! the embedder's (`P`); the NIF renders them as terms and the Elixir side prints them.

use crate::cluster::Mode;
use crate::ids::{MonitorId, MsgId, Name, ProcId, TimerId};
use crate::op::{Dest, Message, OpError, Reason};

#[derive(Clone, Debug, PartialEq)]
pub struct Event<P> {
    /// The step this event belongs to (0 for events before the first step).
    pub step: u64,
    /// Virtual time in milliseconds.
    pub time: u64,
    /// The process whose operation caused the event, if any (timer fires have none).
    pub proc: Option<ProcId>,
    pub kind: EventKind<P>,
}

/// Where the last (at most) `max` events of `trace` start, moved forward to the start of a step
/// so that no step is cut in half (the events of steps that long alone may be fewer). Reports,
/// schedule files and causal slices of a long run read this tail, so their cost is bounded
/// whatever the length of the run.
pub fn tail_start<P>(trace: &[Event<P>], max: usize) -> usize {
    let mut start = trace.len().saturating_sub(max);
    if start > 0 {
        let cut = trace[start - 1].step;
        while start < trace.len() && trace[start].step == cut {
            start += 1;
        }
    }
    start
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventKind<P> {
    Start,
    Spawn {
        child: ProcId,
        link: bool,
    },
    /// A message sent; `to` is `None` when it was dropped (dead target).
    Send {
        dest: Dest,
        to: Option<ProcId>,
        id: MsgId,
        msg: P,
    },
    /// A message taken out of the process's mailbox.
    Receive {
        id: MsgId,
        msg: Message<P>,
    },
    /// A selective receive looked at `count` messages from mailbox index `base`, the first of
    /// them `first`.
    Scan {
        base: usize,
        count: usize,
        timed_out: bool,
        first: MsgId,
    },
    Timeout,
    Sleep,
    SendAfter {
        timer: TimerId,
        dest: Dest,
        delay: u64,
        msg: P,
    },
    CancelTimer {
        timer: TimerId,
        remaining: Option<u64>,
    },
    ReadTimer {
        timer: TimerId,
        remaining: Option<u64>,
    },
    /// A clock read: the virtual monotonic time (system time reads record it too).
    Now(u64),
    /// `Process.info/2` on `target`.
    Info {
        target: ProcId,
        alive: bool,
    },
    Monitor {
        monitor: MonitorId,
        target: Dest,
    },
    Demonitor {
        monitor: MonitorId,
        found: bool,
    },
    Link {
        target: ProcId,
    },
    Unlink {
        target: ProcId,
    },
    TrapExit(bool),
    Alive {
        target: ProcId,
        alive: bool,
    },
    /// `exit(target, reason)`.
    Signal {
        target: ProcId,
        reason: Reason<P>,
    },
    Exit {
        reason: Reason<P>,
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
        found: Option<ProcId>,
    },
    /// The registered names were listed (`count` of them).
    Registered {
        global: bool,
        count: usize,
    },
    /// A global name registration; `ok` is false when the name was taken.
    GlobalRegister {
        name: Name,
        target: ProcId,
        ok: bool,
    },
    GlobalUnregister {
        name: Name,
    },
    GlobalWhereis {
        name: Name,
        found: Option<ProcId>,
    },
    Sync {
        object: u64,
        write: bool,
        label: P,
        /// What the operation returned, when the embedder noted it (`Controller::annotate`):
        /// for the report only, never a choice.
        result: Option<P>,
    },
    /// An operation that failed as it would on the BEAM (the process raises).
    Failed(OpError),
    /// A runtime-generated message (DOWN, EXIT) put into a mailbox.
    Deliver {
        to: ProcId,
        id: MsgId,
        msg: Message<P>,
    },
    /// A process killed by an exit signal (not by its own code): one `from` sent with
    /// `exit/2`, or, with `link`, the one `from`'s death sent through their link.
    Died {
        victim: ProcId,
        reason: Reason<P>,
        from: ProcId,
        link: bool,
    },
    /// A process that died outside Lockstep's control (killed by a plain VM call).
    Vanished {
        victim: ProcId,
    },
    /// The virtual clock jumped forward: nothing was enabled, or (racing timers) the schedule
    /// picked the clock.
    Clock {
        to: u64,
    },
    TimerFired {
        timer: TimerId,
        to: Option<ProcId>,
        id: Option<MsgId>,
    },
    /// A receive's deadline passed.
    Deadline {
        of: ProcId,
    },
    /// Something happened in the simulated cluster (see [`NetEvent`]).
    Net(NetEvent),
}

/// Why something in transit between nodes was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropWhy {
    /// A partition with mode `drop` cut its way (the partition's id).
    Partition(u32),
    /// The node it came from or went to is down.
    NodeDown,
    /// It arrived, but its target had ended or its name was not registered there.
    NoTarget,
}

/// A cluster event. Nodes are named, so the event reads the same without the run's node table.
#[derive(Clone, Debug, PartialEq)]
pub enum NetEvent {
    NodesStarted {
        nodes: Vec<Name>,
    },
    Partitioned {
        id: u32,
        from: Vec<Name>,
        to: Vec<Name>,
        mode: Mode,
        one_way: bool,
        fault: bool,
    },
    /// Partitions removed; `released` deferred messages and signals delivered at once.
    Healed {
        ids: Vec<u32>,
        released: usize,
        fault: bool,
    },
    /// The net tick time passed on a partition: the connection is down, monitors and links
    /// across it fired with `noconnection`.
    Detected {
        id: u32,
    },
    NodeStopped {
        node: Name,
        fault: bool,
    },
    NodeStarted {
        node: Name,
        fault: bool,
    },
    Ticktime {
        ms: u64,
    },
    MonitorNode {
        node: Name,
        on: bool,
    },
    /// `Node.list/0` (or every node, with `all`) read: `count` nodes.
    Nodes {
        all: bool,
        count: usize,
    },
    /// A message or signal handed to the channel between two nodes (`held` when a partition
    /// defers it).
    Sent {
        id: MsgId,
        from: Name,
        to: Name,
        held: bool,
    },
    /// It arrived on `to` (`target`: the process it reached).
    Arrived {
        id: MsgId,
        from: Name,
        to: Name,
        target: ProcId,
    },
    Dropped {
        id: MsgId,
        from: Name,
        to: Name,
        why: DropWhy,
    },
    /// Halves of a healed partition had each registered `name`: `killed` is killed and `kept`
    /// keeps it (as `:global`'s default resolution does).
    GlobalClash {
        name: Name,
        kept: ProcId,
        killed: ProcId,
    },
}

#[cfg(test)]
mod tests {
    use super::{tail_start, Event, EventKind};

    fn trace(steps: &[u64]) -> Vec<Event<()>> {
        steps
            .iter()
            .map(|&step| Event {
                step,
                time: 0,
                proc: None,
                kind: EventKind::Start,
            })
            .collect()
    }

    #[test]
    fn the_tail_starts_at_a_step_and_holds_at_most_max_events() {
        let t = trace(&[0, 1, 1, 2, 3, 3, 3, 4]);
        assert_eq!(tail_start(&t, 100), 0);
        assert_eq!(tail_start(&t, 8), 0);
        // Whole steps: the last 4 are steps 3 and 4; the last 3 would cut step 3, so only 4.
        assert_eq!(tail_start(&t, 4), 4);
        assert_eq!(tail_start(&t, 3), 7);
        assert_eq!(tail_start(&t, 5), 3);
        assert_eq!(tail_start(&t, 0), 8);
        assert_eq!(tail_start(&trace(&[]), 3), 0);
    }
}

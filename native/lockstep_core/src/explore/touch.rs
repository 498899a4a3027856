//! What an event did, without its payloads: the part of a step's effects the explorer needs to
//! tell which steps are dependent (see [`super::Footprint`]).

use crate::ids::{MonitorId, MsgId, ProcId, TimerId};
use crate::op::{global_name_hash, name_hash, Message};
use crate::trace::EventKind;

/// A recorded event, summarised (see [`crate::strategy::Strategy::on_event`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    Spawn {
        child: ProcId,
        link: bool,
    },
    Monitor {
        monitor: MonitorId,
    },
    Demonitor {
        monitor: MonitorId,
    },
    Link {
        target: ProcId,
    },
    Unlink {
        target: ProcId,
    },
    /// A message put into `to`'s mailbox (a send, a DOWN or EXIT message); `down` names the
    /// monitor of a DOWN message.
    Added {
        to: ProcId,
        id: MsgId,
        down: Option<MonitorId>,
    },
    /// The acting process took message `id` out of its mailbox.
    Received {
        id: MsgId,
    },
    /// The acting process's selective receive was handed its mailbox from index `base`:
    /// `count` messages, the first of them `first`.
    Scan {
        base: usize,
        count: usize,
        first: MsgId,
    },
    /// The acting process's selective receive, taking a message, rejected message `id`,
    /// behind it in the mailbox (not an event of the trace).
    Rejected {
        id: MsgId,
    },
    /// The pattern of the acting process's `back`-th latest selective receive that took a
    /// message (0: the latest) rejects message `id`, which came later (not an event of the
    /// trace).
    RejectedEarlier {
        back: usize,
        id: MsgId,
    },
    /// Message `id` left the acting process's mailbox unread (a demonitor's flush; not an
    /// event of the trace).
    Dropped {
        id: MsgId,
    },
    /// A receive of the acting process timed out, or its sleep ended.
    Timeout,
    /// A process died of a signal or outside the controller's control.
    Died {
        victim: ProcId,
    },
    /// The acting process's own end.
    Exit,
    /// `name` (a [`name_hash`] or [`global_name_hash`]) now names `target`.
    Named {
        name: u64,
        target: ProcId,
    },
    /// `name` was released.
    Unnamed {
        name: u64,
    },
    /// A timer fired (delivering `added`, if anything).
    TimerFired {
        timer: TimerId,
        to: Option<ProcId>,
        id: Option<MsgId>,
    },
    /// The acting process armed a timer (`send_after`); `by_pid` when it is addressed to a
    /// process id (otherwise a name, resolved when it fires).
    Armed {
        timer: TimerId,
        by_pid: bool,
    },
    /// The acting process cancelled or read a timer.
    TimerRead {
        timer: TimerId,
    },
    /// The acting process, announcing a receive with a timeout or a sleep, armed its deadline.
    DeadlineArmed,
    /// The clock moved with the step (`time_per_step`).
    Tick,
    /// The clock jumped.
    Clock,
    /// `of`'s receive deadline or sleep passed.
    Deadline {
        of: ProcId,
    },
    /// Anything in the simulated cluster.
    Net,
    /// Nothing the explorer looks at.
    Other,
}

impl Touch {
    pub fn of<P>(kind: &EventKind<P>) -> Touch {
        match kind {
            EventKind::Spawn { child, link } => Touch::Spawn {
                child: *child,
                link: *link,
            },
            EventKind::Monitor { monitor, .. } => Touch::Monitor { monitor: *monitor },
            EventKind::Demonitor { monitor, .. } => Touch::Demonitor { monitor: *monitor },
            EventKind::Link { target } => Touch::Link { target: *target },
            EventKind::Unlink { target } => Touch::Unlink { target: *target },
            EventKind::Send {
                to: Some(to), id, ..
            } => Touch::Added {
                to: *to,
                id: *id,
                down: None,
            },
            EventKind::Deliver { to, id, msg } => Touch::Added {
                to: *to,
                id: *id,
                down: match msg {
                    Message::Down { monitor, .. } => Some(*monitor),
                    _ => None,
                },
            },
            EventKind::Receive { id, .. } => Touch::Received { id: *id },
            EventKind::Scan {
                base, count, first, ..
            } => Touch::Scan {
                base: *base,
                count: *count,
                first: *first,
            },
            EventKind::Timeout | EventKind::Sleep => Touch::Timeout,
            EventKind::Died { victim, .. } | EventKind::Vanished { victim } => {
                Touch::Died { victim: *victim }
            }
            EventKind::Exit { .. } => Touch::Exit,
            EventKind::Register { name, target } => Touch::Named {
                name: name_hash(name),
                target: *target,
            },
            EventKind::GlobalRegister {
                name,
                target,
                ok: true,
            } => Touch::Named {
                name: global_name_hash(name),
                target: *target,
            },
            EventKind::Unregister { name } => Touch::Unnamed {
                name: name_hash(name),
            },
            EventKind::GlobalUnregister { name } => Touch::Unnamed {
                name: global_name_hash(name),
            },
            EventKind::TimerFired { timer, to, id } => Touch::TimerFired {
                timer: *timer,
                to: *to,
                id: *id,
            },
            EventKind::CancelTimer { timer, .. } | EventKind::ReadTimer { timer, .. } => {
                Touch::TimerRead { timer: *timer }
            }
            EventKind::SendAfter { timer, dest, .. } => Touch::Armed {
                timer: *timer,
                by_pid: matches!(dest, crate::op::Dest::Proc(_)),
            },
            EventKind::Clock { .. } => Touch::Clock,
            EventKind::Deadline { of } => Touch::Deadline { of: *of },
            EventKind::Net(_) => Touch::Net,
            _ => Touch::Other,
        }
    }
}

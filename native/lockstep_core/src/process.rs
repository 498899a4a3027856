//! Per-process state kept by the controller.

use crate::cluster::NodeId;
use crate::ids::{MonitorId, MsgId, Name, ProcId};
use crate::op::{Envelope, Message, Op, Reason};
use std::collections::{BTreeSet, VecDeque};

#[derive(Clone, Debug)]
pub(crate) enum State<P> {
    /// Reserved by a `spawn` whose process the embedder has not bound yet.
    Unbound,
    /// Executing its own code between sync points. At most one process is in this state.
    Running,
    /// At a sync point, waiting for the strategy to pick it.
    Waiting(Op<P>),
    Exited(Reason<P>),
}

/// A pending receive timeout or sleep. `key` is its entry in the timer queue until it fires.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub key: Option<(u64, u64)>,
    pub fired: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Process<P> {
    pub state: State<P>,
    pub mailbox: VecDeque<Envelope<P>>,
    /// Ordered so that exit signals propagate in the same order on every run.
    pub links: BTreeSet<ProcId>,
    pub trap_exit: bool,
    pub name: Option<Name>,
    /// Names this process holds in the run's global name space.
    pub globals: BTreeSet<Name>,
    pub parent: Option<ProcId>,
    pub deadline: Option<Deadline>,
    /// Monitors others hold on this process.
    pub watchers: Vec<MonitorId>,
    /// Monitors this process holds.
    pub owned: Vec<MonitorId>,
    /// The node it runs on.
    pub node: NodeId,
    /// Set for the controller's channel processes, which carry traffic between two nodes.
    pub channel: Option<Box<Channel<P>>>,
}

/// Where a message in transit goes: a process, or a name resolved on arrival.
#[derive(Clone, Debug)]
pub(crate) enum TransitTo {
    Proc(ProcId),
    Name(Name),
}

/// Something travelling from one node to another.
#[derive(Clone, Debug)]
pub(crate) enum Transit<P> {
    /// A message for a mailbox (a user message, or a DOWN or EXIT message).
    Msg {
        id: MsgId,
        from: Option<ProcId>,
        to: TransitTo,
        msg: Message<P>,
    },
    /// An exit signal: sent with `exit/2`, or (`link`) the death of a linked process.
    Signal {
        id: MsgId,
        from: ProcId,
        target: ProcId,
        reason: Reason<P>,
        abnormal: bool,
        link: bool,
    },
}

impl<P> Transit<P> {
    pub fn id(&self) -> MsgId {
        match self {
            Transit::Msg { id, .. } | Transit::Signal { id, .. } => *id,
        }
    }
}

/// A channel from one node to another: FIFO, and held (not enabled) while a partition cuts it.
#[derive(Clone, Debug)]
pub(crate) struct Channel<P> {
    pub from: NodeId,
    pub to: NodeId,
    pub queue: VecDeque<Transit<P>>,
    pub held: bool,
}

impl<P> Process<P> {
    pub fn new(parent: Option<ProcId>, node: NodeId) -> Self {
        Process {
            node,
            channel: None,
            state: State::Unbound,
            mailbox: VecDeque::new(),
            links: BTreeSet::new(),
            trap_exit: false,
            name: None,
            globals: BTreeSet::new(),
            parent,
            deadline: None,
            watchers: Vec::new(),
            owned: Vec::new(),
        }
    }

    pub fn is_alive(&self) -> bool {
        !matches!(self.state, State::Exited(_))
    }

    pub fn deadline_fired(&self) -> bool {
        self.deadline.is_some_and(|d| d.fired)
    }

    /// Whether the pending operation can execute now.
    pub fn is_enabled(&self) -> bool {
        match &self.state {
            State::Waiting(op) => match op {
                Op::Recv { .. } => !self.mailbox.is_empty() || self.deadline_fired(),
                Op::RecvMatch { seen, .. } => self.mailbox.len() > *seen || self.deadline_fired(),
                Op::Sleep { .. } => self.deadline_fired(),
                Op::Deliver => self
                    .channel
                    .as_ref()
                    .is_some_and(|c| !c.held && !c.queue.is_empty()),
                _ => true,
            },
            _ => false,
        }
    }
}

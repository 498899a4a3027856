//! Per-process state kept by the controller.

use crate::ids::{MonitorId, Name, ProcId};
use crate::op::{Envelope, Op, Reason};
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
}

impl<P> Process<P> {
    pub fn new(parent: Option<ProcId>) -> Self {
        Process {
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
                _ => true,
            },
            _ => false,
        }
    }
}

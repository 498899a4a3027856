//! Footprints: what a step reads and writes, and when two steps are dependent.
//!
//! Every step of a process implicitly reads that process's *liveness*: an exit signal (or a
//! linked death) that kills it is dependent with whatever it does next. Spawns all write one
//! counter, since process ids are handed out in spawn order, and a child's first step reads its
//! own reservation, written by the spawn. Steps that reach the cluster or `process_info` are
//! *global*: dependent with every other step.
//!
//! Virtual time is two resources. The *clock* is read by the steps whose effect depends on the
//! time (`now` and system time; `send_after`, whose deadline is now + delay; cancelling and
//! reading a timer, which answer with the time left; the step after which a process arms a
//! receive deadline or a sleep) and written by the steps that move it (the clock's jump to the
//! next timer). The *timer queue* is written by every step that adds to it or takes from it:
//! arming a timer or a deadline, cancelling, a timed step (its deadline leaves the queue with
//! the next submit), the clock's jump and each fire; reading a timer reads it. Timers due at
//! one time fire in creation order, so two arms are ordered. A timer's fire is a send from
//! outside every process (it writes the mailbox and the message; to a name, it is global),
//! and a deadline's fire writes the process's *wake*, read by its timed steps: whether the
//! deadline passed decides whether a receive times out or a selective scan gives up. A
//! process's end drops the timers addressed to it: the arm, the fire, a cancel and a read of
//! such a timer read the target's liveness.
//!
//! When nothing can run (`timers: :idle`) the clock's jump and the fires are part of the
//! step after which everything blocked; with `timers: :race` the clock is a choice of its
//! own, whose step is not persistent (a cancel or a death can take it away, a new timer
//! change what it fires), which the explorer makes up for (see [`super::Explorer`]). With
//! `time_per_step > 0` every step moves the clock and every step is global.
//!
//! Mailboxes are FIFO queues: a step that adds a message writes the order of the mailbox's
//! messages (its *queue*) and the message; a receive reads only the message it took. A
//! receive and an addition of another message commute: the message added lands behind every
//! message already there, so the receive (plain or selective) takes the same one either way.
//! Which message a receive takes is decided by the order of the additions, and a receive that
//! found nothing waiting is enabled only by one of them (the run's `needs`). Two additions to
//! one queue conflict here; over a finished run, only where a receive observed their order
//! (see [`super::observe`]). A selective receive's scan that matched nothing reads the queue:
//! it is enabled by the messages it was handed. With a deadline, such a scan, and a receive
//! that timed out, read the whole mailbox: one more message, added before them, might have
//! been taken before the deadline. Everything else a mailbox sees (DOWN and EXIT messages from
//! an end, flushes, trapping exits) writes the whole mailbox, ordered with every addition.
//!
//! Dependency must not depend on the state a step ran in (the explorer compares steps seen in
//! different runs), so where the effect of an operation varies with the state it is
//! over-approximated: a send through a name writes the name (two of them fill one mailbox
//! wherever it is held), and an exit signal or an abnormal exit, which may or may not end the
//! run, is global.

use crate::ids::{MsgId, ProcId};
use crate::op::sync_conflict;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Res {
    /// Everything about a process's mailbox: what its DOWN and EXIT messages, flushes and end
    /// do, and what a receive that found nothing read.
    Mailbox(ProcId),
    /// The order of the messages added to a process's mailbox: written by every addition,
    /// read by a selective receive's scan that took nothing. Over one run, two additions
    /// conflict only where a receive observed their order (see [`super::observe`]).
    Queue(ProcId),
    Live(ProcId),
    /// A local or global name, by its hash.
    Name(u64),
    /// The set of local (`false`) or global (`true`) names.
    Space(bool),
    /// A shared-state object (see [`crate::op::sync_object`]).
    Object(u64),
    /// The spawn counter.
    Spawns,
    /// A reserved process, before its first step.
    Proc(ProcId),
    /// One message: written by the step that put it in a mailbox, read by the receive that
    /// took it.
    Msg(MsgId),
    /// The virtual clock: read by steps whose effect depends on the time, written by the
    /// steps that move it.
    Clock,
    /// The timer queue (timers and receive deadlines): which fire next and when.
    Timers,
    /// Whether a process's deadline has passed: written by its firing, read by the process's
    /// timed steps.
    Wake(ProcId),
}

/// One step: the process that took it and what it touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub proc: ProcId,
    pub(crate) global: bool,
    pub(crate) acc: Vec<(Res, bool)>,
}

impl Footprint {
    pub(crate) fn new(proc: ProcId) -> Self {
        Footprint {
            proc,
            global: false,
            acc: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, r: Res, write: bool) {
        match self.acc.iter_mut().find(|(q, _)| *q == r) {
            Some(slot) => slot.1 |= write,
            None => self.acc.push((r, write)),
        }
    }

    pub(crate) fn read(&mut self, r: Res) {
        self.add(r, false)
    }

    pub(crate) fn write(&mut self, r: Res) {
        self.add(r, true)
    }

    /// Whether the order of the two steps can matter. Steps of one process are always ordered.
    pub fn dependent(&self, other: &Footprint) -> bool {
        self.conflicts(other, true)
    }

    /// As [`Footprint::dependent`], leaving out conflicts over the order of a mailbox's
    /// messages ([`Res::Queue`]), which a run's receives decide (see [`super::observe`]).
    pub(crate) fn dependent_beside_queues(&self, other: &Footprint) -> bool {
        self.conflicts(other, false)
    }

    /// The mailboxes whose order both steps touch, one of them adding to it.
    pub(crate) fn shared_queues<'a>(
        &'a self,
        other: &'a Footprint,
    ) -> impl Iterator<Item = ProcId> + 'a {
        self.acc.iter().filter_map(move |&(r, w)| match r {
            Res::Queue(p) => other
                .acc
                .iter()
                .any(|&(q, v)| q == Res::Queue(p) && (w || v))
                .then_some(p),
            _ => None,
        })
    }

    fn conflicts(&self, other: &Footprint, queues: bool) -> bool {
        if self.proc == other.proc || self.global || other.global {
            return true;
        }
        let kills =
            |a: &Footprint, b: &Footprint| a.acc.iter().any(|&(r, w)| w && r == Res::Live(b.proc));
        if kills(self, other) || kills(other, self) {
            return true;
        }
        self.acc.iter().any(|&(a, aw)| {
            other.acc.iter().any(|&(b, bw)| match (a, b) {
                (Res::Object(x), Res::Object(y)) => sync_conflict(x, aw, y, bw),
                (Res::Queue(x), Res::Queue(y)) => queues && x == y && (aw || bw),
                (Res::Queue(x), Res::Mailbox(y)) | (Res::Mailbox(x), Res::Queue(y)) => {
                    x == y && (aw || bw)
                }
                (x, y) => x == y && (aw || bw),
            })
        })
    }
}

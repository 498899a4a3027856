//! Reads-from coverage: which write each read of a run saw, as stable 64-bit hashes, so a hunt
//! can count the distinct pairs it has covered across runs (a coarser, more telling measure
//! than distinct schedules: two schedules that differ only in the order of independent steps
//! have the same pairs).
//!
//! A pair names both sides by process and operation: `(p, k)` is process `p`'s `k`-th step
//! (counted from 1 over the steps in which `p` has events). Process ids are given in spawn
//! order, so the same pair means the same thing in every run of one test.
//!
//! * Mailboxes: each `Receive` pairs with the step that put the message in the mailbox: the
//!   `Send`, the `Deliver` of a runtime message (DOWN, EXIT) or, for a `send_after`, the step
//!   that set the timer. Messages of unknown origin pair with no writer.
//! * Shared state: each `Sync` access pairs with the last write to the same object before it
//!   (or with no writer, for the initial value), and the object.
//!
//! A run yields at most [`MAX_PAIRS`] distinct pairs (the rest of a very long run is not
//! counted), so the cost of carrying them out of a run is bounded.

use crate::ids::{MsgId, ProcId, TimerId};
use crate::schedule::Fnv;
use crate::trace::{Event, EventKind};
use std::collections::{BTreeSet, HashMap};

/// The most distinct pairs one run reports.
pub const MAX_PAIRS: usize = 4096;

/// One side of a pair: a process and its operation number (`None`: no writer).
type Op = Option<(ProcId, u32)>;

const MAILBOX: u64 = 1;
const SHARED: u64 = 2;

fn hash(kind: u64, writer: Op, reader: (ProcId, u32), object: u64) -> u64 {
    let mut h = Fnv::new();
    h.word(kind);
    match writer {
        Some((p, k)) => {
            h.word(1);
            h.word(u64::from(p.0));
            h.word(u64::from(k));
        }
        None => h.word(0),
    }
    h.word(u64::from(reader.0 .0));
    h.word(u64::from(reader.1));
    h.word(object);
    h.finish()
}

/// The distinct reads-from pairs of one run's trace, hashed, in ascending order (at most
/// [`MAX_PAIRS`]).
pub fn pairs<P>(trace: &[Event<P>]) -> Vec<u64> {
    // Per process: (last step seen, operations so far).
    let mut ops: HashMap<ProcId, (u64, u32)> = HashMap::new();
    let mut origin: HashMap<MsgId, Op> = HashMap::new();
    let mut timers: HashMap<TimerId, Op> = HashMap::new();
    let mut last_write: HashMap<u64, Op> = HashMap::new();
    let mut out = BTreeSet::new();
    for e in trace {
        if out.len() >= MAX_PAIRS {
            break;
        }
        let me: Op = e.proc.map(|p| {
            let entry = ops.entry(p).or_insert((u64::MAX, 0));
            if entry.0 != e.step {
                *entry = (e.step, entry.1 + 1);
            }
            (p, entry.1)
        });
        match &e.kind {
            EventKind::Send {
                id, to: Some(_), ..
            } => {
                origin.insert(*id, me);
            }
            EventKind::Deliver { id, .. } => {
                origin.insert(*id, me);
            }
            EventKind::SendAfter { timer, .. } => {
                timers.insert(*timer, me);
            }
            EventKind::TimerFired {
                timer,
                id: Some(id),
                ..
            } => {
                let from = timers.get(timer).copied().flatten();
                origin.insert(*id, from);
            }
            EventKind::Receive { id, .. } => {
                if let Some(reader) = me {
                    let writer = origin.remove(id).flatten();
                    out.insert(hash(MAILBOX, writer, reader, 0));
                }
            }
            EventKind::Sync { object, write, .. } => {
                if let Some(reader) = me {
                    let writer = last_write.get(object).copied().flatten();
                    out.insert(hash(SHARED, writer, reader, *object));
                    if *write {
                        last_write.insert(*object, me);
                    }
                }
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

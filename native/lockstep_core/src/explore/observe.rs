//! Observers: which additions to one mailbox a run's receives told apart (after Aronis,
//! Jonsson, Lång, Sagonas, "Optimal dynamic partial order reduction with observers", TACAS
//! 2018).
//!
//! Two additions to one mailbox do not commute as states (the queue's order differs), but the
//! order is seen only by a receive that took one of the two while the other was still
//! there or still to come, and whose pattern did not reject the other: a plain receive
//! (which takes whatever is first), or a selective receive that did not see the other
//! message and reject it. Every other pair may come in either order with the same outcome:
//! in the explorer's analysis of a finished run, such a pair is independent, and a scan that
//! took nothing is ordered only after the additions of the messages it was handed (it is
//! enabled by them; another order changes how many scans a receive takes, not what it
//! takes). A message added after a receive took its own is one the receive's pattern never
//! saw: it counts as observed. A timed scan that took nothing and a timeout stay dependent
//! with every addition (one more message might have beaten the deadline).
//!
//! Only the analysis of a finished run, which knows the receives to come, uses this; sleep
//! sets and wakeup trees compare steps of different runs and keep the state-independent
//! [`super::Footprint::dependent`]. A run whose mailbox model lost track of the engine's (a
//! cluster's channels) is analysed without observers.

use super::run::StepRec;
use crate::ids::{MsgId, ProcId};
use std::collections::HashMap;

/// How two steps of a run are related.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relation {
    Independent,
    /// The second must come after the first (it is enabled by it), but reversing them is no
    /// other behaviour.
    Ordered,
    /// Dependent: the order can matter.
    Dependent,
}

/// A receive that took a message, as observers need it.
struct Take {
    step: usize,
    /// The messages its pattern rejected (`None`: a plain receive, which rejects nothing).
    rejected: Option<Vec<MsgId>>,
}

/// The receives of one run, by the message each took.
pub(crate) struct Observers {
    takes: HashMap<MsgId, Take>,
}

impl Observers {
    /// The run's receives, or `None` when it must be analysed without observers.
    pub fn of(steps: &[&StepRec]) -> Option<Observers> {
        let mut takes = HashMap::new();
        // The messages the current selective receive of each process rejected so far.
        let mut open: HashMap<ProcId, Vec<MsgId>> = HashMap::new();
        for (k, s) in steps.iter().enumerate() {
            if s.obs.inexact {
                return None;
            }
            if let Some(id) = s.obs.took_any {
                takes.insert(
                    id,
                    Take {
                        step: k,
                        rejected: None,
                    },
                );
            }
            let Some(scan) = &s.obs.scan else { continue };
            let rejected = open.entry(s.pick).or_default();
            if scan.fresh {
                rejected.clear();
            }
            match scan.took {
                Some(id) => {
                    let before = scan.batch.iter().take_while(|m| **m != id);
                    rejected.extend(before.chain(&scan.rejected));
                    let rejected = Some(std::mem::take(rejected));
                    takes.insert(id, Take { step: k, rejected });
                }
                None => rejected.extend(&scan.batch),
            }
        }
        // What earlier receives were later found to reject.
        for s in steps {
            for (x, y) in &s.obs.later {
                if let Some(Take {
                    rejected: Some(r), ..
                }) = takes.get_mut(x)
                {
                    // Later scans of a process hand the same messages over again.
                    if !r.contains(y) {
                        r.push(*y);
                    }
                }
            }
        }
        Some(Observers { takes })
    }

    /// Whether some receive told the order of the additions of `x` and `y` apart: the first
    /// of them to be taken was taken by a receive that did not reject the other.
    fn observed(&self, x: MsgId, y: MsgId) -> bool {
        let sees = |t: &Take, other: MsgId| match &t.rejected {
            None => true,
            Some(r) => !r.contains(&other),
        };
        match (self.takes.get(&x), self.takes.get(&y)) {
            (None, None) => false,
            (Some(a), None) => sees(a, y),
            (None, Some(b)) => sees(b, x),
            (Some(a), Some(b)) if a.step < b.step => sees(a, y),
            (Some(_), Some(b)) => sees(b, x),
        }
    }

    /// How step `a` and the later step `b` (of another process) are related.
    pub fn relation(&self, a: &StepRec, b: &StepRec) -> Relation {
        // Observers only ever relax the state-independent relation.
        if !a.fp.dependent(&b.fp) {
            return Relation::Independent;
        }
        if a.fp.dependent_beside_queues(&b.fp) {
            return Relation::Dependent;
        }
        let mut rel = Relation::Independent;
        for q in a.fp.shared_queues(&b.fp) {
            fn added(s: &StepRec, q: ProcId) -> impl Iterator<Item = MsgId> + '_ {
                s.obs
                    .adds
                    .iter()
                    .filter(move |(to, _)| *to == q)
                    .map(|(_, id)| *id)
            }
            for x in added(a, q) {
                if added(b, q).any(|y| self.observed(x, y)) {
                    return Relation::Dependent;
                }
                let handed = b.pick == q
                    && b.obs
                        .scan
                        .as_ref()
                        .is_some_and(|s| s.took.is_none() && s.batch.contains(&x));
                if handed {
                    rel = Relation::Ordered;
                }
            }
        }
        rel
    }
}

//! Schedule shrinking: from a failing schedule, search for a smaller one that fails the same way.
//!
//! The [`Shrinker`] is a pure candidate generator. It proposes choice sequences; the embedder
//! runs each one with the [`Guided`](crate::strategy::Guided) strategy (follow the proposal where
//! it is enabled, else run non-preemptively), and reports back whether the run failed the same
//! way, with the choices it actually executed and their preemption flags. The executed run
//! becomes the new best when it is smaller. No I/O, no clock, no randomness: the same input and
//! the same answers give the same candidates.
//!
//! ## Size
//!
//! A schedule's size is its number of *preemptions* (steps that switched away from a process
//! that was still enabled) and its number of *steps*. A run **improves** on the best when it is
//! no larger in either measure and smaller in at least one ([`Size::improves_on`]). Both
//! measures therefore only ever go down, and every acceptance lowers their sum, so the search
//! ends.
//!
//! ## Moves, cheapest first
//!
//! Each pass tries, against the current best:
//!
//! 1. the empty proposal (a fully non-preemptive run);
//! 2. for each preemption point `i` (earliest first): *cut before it* (keep the prefix, let the
//!    preempted process continue, finish non-preemptively) and *cut after it* (keep the prefix
//!    through this preemption, finish non-preemptively);
//! 3. for each process: *drop* all its choices (a process that ran beside the failure need not
//!    run before it at all);
//! 4. for each preemption point: *delay it* by moving the preempted process's next run of steps
//!    to the preemption point;
//! 5. at each point where the running process changes (earliest first): *switch* to another
//!    process that runs later in the schedule, and finish non-preemptively;
//! 6. *delete chunks* of choices, delta-debugging style: halves, then quarters, ... down to
//!    single choices;
//! 7. *swap adjacent choices* of different processes where that lowers the number of process
//!    switches in the sequence.
//!
//! After a pass that improved the best, another pass starts; a pass that improves nothing ends
//! the search: no move improves the result. A proposal already tried is not proposed again (a
//! guided run is a function of its proposal, and a rejected run cannot improve a smaller best).

use crate::ids::ProcId;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A schedule's size: the shrinker's measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size {
    pub steps: u64,
    pub preemptions: u64,
}

impl Size {
    /// The size of a schedule with these per-step preemption flags.
    pub fn of(flags: &[bool]) -> Size {
        Size {
            steps: flags.len() as u64,
            preemptions: flags.iter().filter(|f| **f).count() as u64,
        }
    }

    /// No larger than `other` in either measure, and smaller in at least one.
    pub fn improves_on(&self, other: &Size) -> bool {
        self.steps <= other.steps && self.preemptions <= other.preemptions && self != other
    }
}

/// Bad input from the embedder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShrinkError {
    /// The choices and the preemption flags have different lengths.
    LengthMismatch { choices: usize, flags: usize },
    /// Feedback arrived with no candidate awaiting it.
    NoPendingCandidate,
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::LengthMismatch { choices, flags } => write!(
                f,
                "{choices} choices but {flags} preemption flags (one flag per step expected)"
            ),
            ShrinkError::NoPendingCandidate => {
                write!(f, "feedback given with no candidate awaiting it")
            }
        }
    }
}

impl std::error::Error for ShrinkError {}

/// Where the generator stands within a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    Empty,
    /// `k`-th preemption point; `after` selects the cut-after variant.
    Cut {
        k: usize,
        after: bool,
    },
    /// The `k`-th process (ascending ids) of the best schedule.
    Drop {
        k: usize,
    },
    Delay {
        k: usize,
    },
    /// Step index `i`, `alt`-th alternative process.
    Switch {
        i: usize,
        alt: usize,
    },
    Delete {
        size: usize,
        start: usize,
    },
    Swap {
        i: usize,
    },
    Done,
}

/// Proposes smaller schedules; see the module docs for the protocol.
pub struct Shrinker {
    best: Vec<ProcId>,
    flags: Vec<bool>,
    initial: Size,
    cursor: Cursor,
    /// The cursor of the candidate awaiting feedback.
    pending: Option<Cursor>,
    improved_this_pass: bool,
    tried: HashSet<u64>,
    candidates: u64,
    accepted: u64,
}

impl Shrinker {
    /// Start from a failing schedule and its per-step preemption flags.
    pub fn new(choices: Vec<ProcId>, flags: Vec<bool>) -> Result<Self, ShrinkError> {
        if choices.len() != flags.len() {
            return Err(ShrinkError::LengthMismatch {
                choices: choices.len(),
                flags: flags.len(),
            });
        }
        let initial = Size::of(&flags);
        let mut tried = HashSet::new();
        tried.insert(fingerprint(&choices));
        Ok(Shrinker {
            best: choices,
            flags,
            initial,
            cursor: Cursor::Empty,
            pending: None,
            improved_this_pass: false,
            tried,
            candidates: 0,
            accepted: 0,
        })
    }

    /// The next proposal to run (guided), or `None` when no move is left to try. Each proposal
    /// must be answered with [`Shrinker::feedback`] before the next one is asked for; asking
    /// again without feedback abandons the pending proposal (counted as rejected).
    pub fn next_candidate(&mut self) -> Option<Vec<ProcId>> {
        self.pending = None;
        loop {
            let at = self.cursor;
            let candidate = match at {
                Cursor::Done => return None,
                Cursor::Empty => {
                    self.cursor = Cursor::Cut { k: 0, after: false };
                    Some(Vec::new())
                }
                Cursor::Cut { k, after } => match self.preemption_point(k) {
                    None => {
                        self.cursor = Cursor::Drop { k: 0 };
                        None
                    }
                    Some(i) => {
                        self.cursor = if after {
                            Cursor::Cut {
                                k: k + 1,
                                after: false,
                            }
                        } else {
                            Cursor::Cut { k, after: true }
                        };
                        Some(if after {
                            self.best[..=i].to_vec()
                        } else {
                            let mut c = self.best[..i].to_vec();
                            c.push(self.best[i - 1]);
                            c
                        })
                    }
                },
                Cursor::Drop { k } => match self.process(k) {
                    None => {
                        self.cursor = Cursor::Delay { k: 0 };
                        None
                    }
                    Some(q) => {
                        self.cursor = Cursor::Drop { k: k + 1 };
                        Some(self.best.iter().copied().filter(|p| *p != q).collect())
                    }
                },
                Cursor::Delay { k } => match self.preemption_point(k) {
                    None => {
                        self.cursor = Cursor::Switch { i: 1, alt: 0 };
                        None
                    }
                    Some(i) => {
                        self.cursor = Cursor::Delay { k: k + 1 };
                        self.delayed(i)
                    }
                },
                Cursor::Switch { i, alt } => {
                    if i >= self.best.len() {
                        self.cursor = self.first_delete();
                        None
                    } else {
                        match self.alternative(i, alt) {
                            None => {
                                self.cursor = Cursor::Switch { i: i + 1, alt: 0 };
                                None
                            }
                            Some(q) => {
                                self.cursor = Cursor::Switch { i, alt: alt + 1 };
                                let mut c = self.best[..i].to_vec();
                                c.push(q);
                                Some(c)
                            }
                        }
                    }
                }
                Cursor::Delete { size, start } => {
                    if start >= self.best.len() {
                        self.cursor = if size <= 1 {
                            Cursor::Swap { i: 0 }
                        } else {
                            Cursor::Delete {
                                size: size / 2,
                                start: 0,
                            }
                        };
                        None
                    } else {
                        self.cursor = Cursor::Delete {
                            size,
                            start: start + size,
                        };
                        let end = (start + size).min(self.best.len());
                        let mut c = self.best[..start].to_vec();
                        c.extend_from_slice(&self.best[end..]);
                        Some(c)
                    }
                }
                Cursor::Swap { i } => {
                    if i + 1 >= self.best.len() {
                        self.cursor = self.end_of_pass();
                        None
                    } else {
                        self.cursor = Cursor::Swap { i: i + 1 };
                        self.swapped(i)
                    }
                }
            };
            let Some(candidate) = candidate else {
                continue;
            };
            if !self.tried.insert(fingerprint(&candidate)) {
                continue;
            }
            self.candidates += 1;
            self.pending = Some(at);
            return Some(candidate);
        }
    }

    /// The answer for the pending proposal: whether its run failed the same way as the original,
    /// and the choices it executed with their preemption flags. Returns whether the run became
    /// the new best (it failed the same way and improves on the best's size).
    pub fn feedback(
        &mut self,
        same_failure: bool,
        executed: Vec<ProcId>,
        flags: Vec<bool>,
    ) -> Result<bool, ShrinkError> {
        let Some(at) = self.pending.take() else {
            return Err(ShrinkError::NoPendingCandidate);
        };
        if executed.len() != flags.len() {
            return Err(ShrinkError::LengthMismatch {
                choices: executed.len(),
                flags: flags.len(),
            });
        }
        if !same_failure || !Size::of(&flags).improves_on(&self.size()) {
            return Ok(false);
        }
        self.tried.insert(fingerprint(&executed));
        self.best = executed;
        self.flags = flags;
        self.accepted += 1;
        self.improved_this_pass = true;
        // A deleted chunk pulled the next one into its place: try the same position again.
        if let Cursor::Delete { size, start } = at {
            self.cursor = Cursor::Delete { size, start };
        }
        Ok(true)
    }

    /// The best schedule so far (the original until a candidate is accepted).
    pub fn best(&self) -> &[ProcId] {
        &self.best
    }

    /// The best schedule's preemption flags.
    pub fn best_flags(&self) -> &[bool] {
        &self.flags
    }

    /// The best schedule's size.
    pub fn size(&self) -> Size {
        Size::of(&self.flags)
    }

    /// The original schedule's size.
    pub fn initial_size(&self) -> Size {
        self.initial
    }

    /// Proposals handed out so far.
    pub fn candidates(&self) -> u64 {
        self.candidates
    }

    /// Proposals whose runs became the new best.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// No move is left to try: the best is a local minimum under every move.
    pub fn is_done(&self) -> bool {
        self.cursor == Cursor::Done
    }

    /// The most steps a candidate run may take and still be accepted: runs may be stopped there.
    pub fn step_budget(&self) -> u64 {
        self.best.len() as u64
    }

    // ----- moves --------------------------------------------------------------------------

    /// Index (0-based step) of the `k`-th preemption of the best schedule.
    fn preemption_point(&self, k: usize) -> Option<usize> {
        self.flags
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .nth(k)
            .map(|(i, _)| i)
            // The first step cannot preempt anyone; guard against flags saying otherwise.
            .filter(|i| *i > 0)
    }

    /// The `k`-th distinct process of the best schedule, by ascending id.
    fn process(&self, k: usize) -> Option<ProcId> {
        let mut procs = self.best.clone();
        procs.sort_unstable();
        procs.dedup();
        procs.get(k).copied()
    }

    /// Move the preempted process's next run of steps up to the preemption point `i`.
    fn delayed(&self, i: usize) -> Option<Vec<ProcId>> {
        let preempted = self.best[i - 1];
        let j = (i + 1..self.best.len()).find(|j| self.best[*j] == preempted)?;
        let e = (j..self.best.len())
            .find(|e| self.best[*e] != preempted)
            .unwrap_or(self.best.len());
        let mut c = self.best[..i].to_vec();
        c.extend_from_slice(&self.best[j..e]);
        c.extend_from_slice(&self.best[i..j]);
        c.extend_from_slice(&self.best[e..]);
        Some(c)
    }

    /// The `alt`-th other process (ascending ids) that could run at switch point `i` instead:
    /// one that runs later in the schedule. `None` when `i` is not a switch point or the
    /// alternatives are exhausted.
    fn alternative(&self, i: usize, alt: usize) -> Option<ProcId> {
        if i == 0 || self.best[i] == self.best[i - 1] {
            return None;
        }
        let mut later: Vec<ProcId> = self.best[i + 1..]
            .iter()
            .copied()
            .filter(|q| *q != self.best[i])
            .collect();
        later.sort_unstable();
        later.dedup();
        later.get(alt).copied()
    }

    /// Swap choices `i` and `i + 1` if they name different processes and the swap lowers the
    /// number of switches between neighbouring choices.
    fn swapped(&self, i: usize) -> Option<Vec<ProcId>> {
        let (a, b) = (self.best[i], self.best[i + 1]);
        if a == b {
            return None;
        }
        let before = i.checked_sub(1).map(|h| self.best[h]);
        let after = self.best.get(i + 2).copied();
        let switch = |x: Option<ProcId>, y: ProcId| usize::from(x.is_some_and(|x| x != y));
        let now = switch(before, a) + switch(after, b);
        let then = switch(before, b) + switch(after, a);
        if then >= now {
            return None;
        }
        let mut c = self.best.clone();
        c.swap(i, i + 1);
        Some(c)
    }

    fn first_delete(&self) -> Cursor {
        Cursor::Delete {
            size: (self.best.len() / 2).max(1),
            start: 0,
        }
    }

    fn end_of_pass(&mut self) -> Cursor {
        if std::mem::take(&mut self.improved_this_pass) {
            Cursor::Cut { k: 0, after: false }
        } else {
            Cursor::Done
        }
    }
}

/// A stable 64-bit fingerprint of a proposal (a collision only skips one proposal).
fn fingerprint(choices: &[ProcId]) -> u64 {
    let mut h = DefaultHasher::new();
    choices.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ids: &[u32]) -> Vec<ProcId> {
        ids.iter().map(|i| ProcId(*i)).collect()
    }

    #[test]
    fn size_order_is_dominance() {
        let s = |steps, preemptions| Size { steps, preemptions };
        assert!(s(5, 1).improves_on(&s(6, 1)));
        assert!(s(6, 0).improves_on(&s(6, 1)));
        assert!(!s(6, 1).improves_on(&s(6, 1)));
        assert!(!s(4, 2).improves_on(&s(6, 1)));
        assert!(!s(7, 0).improves_on(&s(6, 1)));
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        assert_eq!(
            Shrinker::new(p(&[0, 1]), vec![false]).err(),
            Some(ShrinkError::LengthMismatch {
                choices: 2,
                flags: 1
            })
        );
        let mut s = Shrinker::new(p(&[0]), vec![false]).unwrap();
        assert_eq!(
            s.feedback(true, p(&[0]), vec![false]),
            Err(ShrinkError::NoPendingCandidate)
        );
        assert!(s.next_candidate().is_some());
        assert_eq!(
            s.feedback(true, p(&[0]), vec![]),
            Err(ShrinkError::LengthMismatch {
                choices: 1,
                flags: 0
            })
        );
    }

    #[test]
    fn first_proposals_are_non_preemptive_then_cuts() {
        // P0 P1 P0 P1: steps 2, 3 and 4 preempt.
        let best = p(&[0, 1, 0, 1]);
        let mut s = Shrinker::new(best, vec![false, true, true, true]).unwrap();
        let mut seen = Vec::new();
        while let Some(c) = s.next_candidate() {
            seen.push(c.clone());
            s.feedback(false, c.clone(), vec![false; c.len()]).unwrap();
            if seen.len() == 3 {
                break;
            }
        }
        assert_eq!(seen, vec![p(&[]), p(&[0, 0]), p(&[0, 1])]);
    }

    #[test]
    fn accepts_only_improvements_and_ends() {
        let best = p(&[0, 1, 0, 1, 0, 1]);
        let flags = vec![false, true, true, true, true, true];
        let mut s = Shrinker::new(best.clone(), flags).unwrap();
        // A candidate that failed the same way but is no smaller is rejected.
        let c = s.next_candidate().unwrap();
        assert!(!s
            .feedback(
                true,
                best.clone(),
                vec![false, true, true, true, true, true]
            )
            .unwrap());
        let _ = c;
        // A smaller one is accepted.
        let _ = s.next_candidate().unwrap();
        assert!(s
            .feedback(true, p(&[0, 0, 1]), vec![false, false, false])
            .unwrap());
        assert_eq!(s.best(), &p(&[0, 0, 1])[..]);
        assert_eq!(
            s.size(),
            Size {
                steps: 3,
                preemptions: 0
            }
        );
        // Rejecting everything from here on ends the search.
        let mut n = 0;
        while let Some(c) = s.next_candidate() {
            n += 1;
            s.feedback(false, c.clone(), vec![false; c.len()]).unwrap();
            assert!(n < 100, "the search must end");
        }
        assert!(s.is_done());
        assert_eq!(s.best(), &p(&[0, 0, 1])[..]);
    }

    #[test]
    fn delay_moves_the_preempted_run_forward() {
        let s = Shrinker::new(
            p(&[0, 0, 1, 1, 0, 0, 2]),
            vec![false, false, true, false, true, false, true],
        )
        .unwrap();
        assert_eq!(s.delayed(2), Some(p(&[0, 0, 0, 0, 1, 1, 2])));
        assert_eq!(s.delayed(6), None);
    }

    #[test]
    fn swaps_only_when_switches_drop() {
        let s = Shrinker::new(p(&[0, 1, 0, 1]), vec![false; 4]).unwrap();
        assert_eq!(s.swapped(1), Some(p(&[0, 0, 1, 1])));
        let s = Shrinker::new(p(&[0, 0, 1, 1]), vec![false; 4]).unwrap();
        assert_eq!(s.swapped(1), None);
        assert_eq!(s.swapped(0), None);
    }

    #[test]
    fn never_proposes_the_same_sequence_twice() {
        let best = p(&[0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0]);
        let flags = vec![
            false, true, true, true, true, true, true, true, true, false, true, true,
        ];
        let mut s = Shrinker::new(best.clone(), flags).unwrap();
        let mut all = HashSet::new();
        while let Some(c) = s.next_candidate() {
            assert!(all.insert(c.clone()), "{c:?} proposed twice");
            assert_ne!(c, best);
            s.feedback(false, c.clone(), vec![false; c.len()]).unwrap();
        }
        assert_eq!(s.candidates() as usize, all.len());
        assert_eq!(s.accepted(), 0);
    }
}

//! Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized
//! Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
//!
//! **Idea.** Every process gets a random priority when it comes into existence, and the
//! highest-priority enabled process always runs. Before the run, `d - 1` *change points* are
//! drawn: distinct steps `k_1 .. k_(d-1)`, uniformly from `1..=k` where `k` is the expected
//! number of steps; change point `k_i` carries the priority `i`. When a process has executed
//! step `k_i`, its priority drops to `i`: below every process not yet demoted (those hold
//! priorities above `2^32`), so the next step goes to someone else unless nobody else is
//! enabled. Among demoted processes the labels decide, and since labels are assigned to steps at
//! random, a process demoted later may rank above or below one demoted earlier. For a program
//! with `n` processes and `k` steps, one run finds a bug of depth `d` (one needing `d` ordering
//! constraints) with probability at least `1 / (n * k^(d-1))`.
//!
//! Processes spawned mid-run draw a priority from the same range as the initial ones, so a new
//! process lands at a uniformly random rank among the undemoted ones, as if it had been part of
//! the initial random permutation.
//!
//! **Options.** `depth` (`d`, default 3). `k` comes from [`IterationInfo::expected_steps`]
//! (the runner passes the longest run seen so far). When `k < d - 1`, every step is a change
//! point.
//!
//! **When to pick it.** The default: most concurrency bugs have a small depth (the paper counts
//! an ordering violation as depth 1, an atomicity violation or a two-lock deadlock as depth 2),
//! and PCT finds them with a probability that does not shrink with the number of consecutive
//! steps a process must win. A spin loop ends only if a change point happens to demote the
//! spinning process; otherwise the spinner keeps the top priority and starves the process it
//! waits for until the step limit: use `fair_pct` for such programs.

use super::{Decision, IterationInfo, PickError, Strategy};
use crate::ids::ProcId;
use crate::seed::{self, SeedRng};

/// Undemoted priorities are drawn from `[FLOOR, FLOOR + 2^62)`, far above every change point's.
const FLOOR: u64 = 1 << 32;

pub struct Pct {
    depth: u32,
    /// The range change points are drawn from; `None` takes the iteration's expected steps.
    horizon: Option<u64>,
    rng: SeedRng,
    /// Priority per process id; larger runs first. Demoted processes hold values `1..depth`,
    /// undemoted ones values from `FLOOR` up.
    priority: Vec<u64>,
    /// The clock's priority (racing timers): drawn like a process's at its first appearance.
    clock: u64,
    /// `(step, priority)`: after step `step` the process that executed it takes `priority`.
    /// Sorted by step; steps are distinct.
    change_points: Vec<(u64, u64)>,
    /// Index of the first change point not yet reached.
    next_change: usize,
}

impl Pct {
    /// PCT with bug depth `depth` (at least 1).
    pub fn new(depth: u32) -> Self {
        Pct::with_horizon(depth, None)
    }

    /// PCT whose change points fall in `1..=horizon` instead of the expected steps.
    pub(crate) fn with_horizon(depth: u32, horizon: Option<u64>) -> Self {
        Pct {
            depth: depth.max(1),
            horizon,
            rng: seed::rng(0),
            priority: Vec::new(),
            clock: 0,
            change_points: Vec::new(),
            next_change: 0,
        }
    }

    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The steps after which a priority change happens in the current iteration, ascending.
    pub fn change_points(&self) -> Vec<u64> {
        self.change_points.iter().map(|&(at, _)| at).collect()
    }

    /// The current priority of `proc` (0 for a process not seen yet).
    pub fn priority(&self, proc: ProcId) -> u64 {
        if proc.is_clock() {
            return self.clock;
        }
        self.priority.get(proc.index()).copied().unwrap_or(0)
    }

    /// The iteration's generator, for strategies built on PCT that draw more.
    pub(crate) fn rng(&mut self) -> &mut SeedRng {
        &mut self.rng
    }

    fn best(&self, decision: &Decision<'_>) -> ProcId {
        let mut best = decision.enabled[0].proc;
        for c in &decision.enabled[1..] {
            // Ties are practically impossible with 62-bit draws; the lower id wins them.
            if self.priority(c.proc) > self.priority(best) {
                best = c.proc;
            }
        }
        best
    }

    /// Draw `min(d - 1, k)` distinct steps from `1..=k`; the `i`-th drawn gets priority `i`.
    /// Drawing one after another and redrawing repeats is sampling without replacement, so which
    /// label lands on which step is uniformly random, as with the paper's independent draws.
    fn draw_change_points(&mut self, k: u64) {
        let wanted = u64::from(self.depth - 1).min(k);
        for i in 1..=wanted {
            let at = loop {
                let at = 1 + seed::below(&mut self.rng, k);
                if !self.change_points.iter().any(|&(s, _)| s == at) {
                    break at;
                }
            };
            self.change_points.push((at, i));
        }
        self.change_points.sort_unstable();
    }
}

impl Strategy for Pct {
    fn name(&self) -> &'static str {
        "pct"
    }

    fn needs_races(&self) -> bool {
        false
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.rng = seed::rng(info.seed);
        self.priority.clear();
        self.clock = 0;
        self.change_points.clear();
        self.next_change = 0;
        let k = self.horizon.unwrap_or(info.expected_steps).max(1);
        self.draw_change_points(k);
    }

    fn on_spawn(&mut self, proc: ProcId) {
        if proc.is_clock() {
            self.clock = FLOOR + seed::below(&mut self.rng, 1 << 62);
            return;
        }
        if self.priority.len() <= proc.index() {
            self.priority.resize(proc.index() + 1, 0);
        }
        self.priority[proc.index()] = FLOOR + seed::below(&mut self.rng, 1 << 62);
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        // `decision.step` steps have run; the last of them was `decision.last`'s. Demote it if
        // that step was a change point.
        while let Some(&(at, prio)) = self.change_points.get(self.next_change) {
            if at > decision.step {
                break;
            }
            self.next_change += 1;
            if at == decision.step {
                if let Some(p) = decision.last.filter(|p| p.index() < self.priority.len()) {
                    self.priority[p.index()] = prio;
                }
            }
        }
        Ok(self.best(decision))
    }
}

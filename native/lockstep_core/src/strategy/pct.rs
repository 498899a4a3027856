//! Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized
//! Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
//!
//! Every process gets a random priority when it comes into existence; the highest-priority enabled
//! process always runs. At `d - 1` change points, drawn uniformly from the expected run length
//! `k`, the process about to run is demoted below every undemoted process (the `i`-th change
//! point gives priority `i`). For a program with `n` processes and `k` steps, a bug of depth `d`
//! (needing `d` ordering constraints) is found by one run with probability at least
//! `1 / (n * k^(d-1))`. The default depth is 3.
//!
//! Processes spawned mid-run get a random priority among the undemoted ones, which keeps the
//! guarantee's spirit for dynamic process creation.

use super::{Decision, IterationInfo, PickError, Strategy};
use crate::ids::ProcId;
use crate::seed::{self, SeedRng};

pub struct Pct {
    depth: u32,
    rng: SeedRng,
    /// Priority per process id; larger runs first. Demoted processes hold values `1..depth`,
    /// undemoted ones values above `u32::MAX` (drawn at random).
    priority: Vec<u64>,
    /// Steps (1-based) at which a change point fires, with the priority it assigns.
    change_points: Vec<(u64, u64)>,
}

impl Pct {
    pub fn new(depth: u32) -> Self {
        Pct {
            depth: depth.max(1),
            rng: seed::rng(0),
            priority: Vec::new(),
            change_points: Vec::new(),
        }
    }

    fn best(&self, decision: &Decision<'_>) -> ProcId {
        let mut best = decision.enabled[0].proc;
        for c in &decision.enabled[1..] {
            // Ties are practically impossible with 64-bit draws; break them by id for determinism.
            if self.prio(c.proc) > self.prio(best) {
                best = c.proc;
            }
        }
        best
    }

    fn prio(&self, p: ProcId) -> u64 {
        self.priority.get(p.index()).copied().unwrap_or(0)
    }
}

impl Strategy for Pct {
    fn name(&self) -> &'static str {
        "pct"
    }

    fn begin(&mut self, info: &IterationInfo) {
        self.rng = seed::rng(info.seed);
        self.priority.clear();
        self.change_points.clear();
        let k = info.expected_steps.max(1);
        for i in 1..self.depth {
            let at = 1 + seed::below(&mut self.rng, k);
            // Priority `depth - i` for the i-th change point: later-labelled points rank lower,
            // as in the paper (labels, not times, order the demoted processes).
            self.change_points.push((at, u64::from(self.depth - i)));
        }
        self.change_points.sort_unstable();
    }

    fn on_spawn(&mut self, proc: ProcId) {
        if self.priority.len() <= proc.index() {
            self.priority.resize(proc.index() + 1, 0);
        }
        self.priority[proc.index()] = (1u64 << 32) + (seed::below(&mut self.rng, 1 << 62));
    }

    fn pick(&mut self, decision: &Decision<'_>) -> Result<ProcId, PickError> {
        let step = decision.step + 1;
        let mut chosen = self.best(decision);
        while let Some(&(at, prio)) = self.change_points.first() {
            if at > step {
                break;
            }
            self.change_points.remove(0);
            if at == step {
                self.priority[chosen.index()] = prio;
                chosen = self.best(decision);
            }
        }
        Ok(chosen)
    }
}

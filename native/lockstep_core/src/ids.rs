//! Stable identifiers. Traces and schedules speak only of these, never of VM pids or refs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A managed process. `P0` is the root (the test body); children are numbered in spawn order,
/// so the same schedule names the same processes on every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProcId(pub u32);

impl ProcId {
    pub const ROOT: ProcId = ProcId(0);
    /// Not a process: the virtual clock, as a choice. With racing timers a schedule step may
    /// pick the clock instead of a process: time jumps to the earliest pending timer and every
    /// timer due then fires. It has no process state; strategies give it a priority of its own.
    pub const CLOCK: ProcId = ProcId(u32::MAX);

    pub fn is_clock(self) -> bool {
        self == ProcId::CLOCK
    }

    /// The choice of injecting fault `code` (see `crate::controller::Fault`): ids counted down
    /// from just below [`ProcId::CLOCK`], far above any process's.
    pub fn fault(code: u32) -> ProcId {
        ProcId(u32::MAX - 1 - code)
    }

    /// The fault code of a fault choice.
    pub fn fault_code(self) -> Option<u32> {
        (self.0 < u32::MAX && self.0 >= u32::MAX - 1 - FAULT_CODES).then(|| u32::MAX - 1 - self.0)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// How many fault codes exist (kinds times nodes).
pub const FAULT_CODES: u32 = 4 * 256;

impl fmt::Display for ProcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clock() {
            f.write_str("clock")
        } else if let Some(code) = self.fault_code() {
            write!(f, "fault{code}")
        } else {
            write!(f, "P{}", self.0)
        }
    }
}

/// A monitor set up by `monitor`, numbered in creation order within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MonitorId(pub u64);

/// A timer set up by `send_after`, numbered in creation order within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// A message, numbered in send order within a run (used to check delivery and to explain traces).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MsgId(pub u64);

/// A registered process name (an atom on the BEAM side).
pub type Name = Arc<str>;

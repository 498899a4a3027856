//! Lockstep's engine: a pure-Rust controller for controlled concurrency testing of BEAM programs.
//!
//! The embedder (the NIF bridge, or a test harness) owns real processes; this crate decides who
//! runs next and applies every operation's effects: mailboxes, links, monitors, names, timers and
//! the virtual clock. It knows nothing of terms: payloads are an opaque type `P`.

pub mod checker;
pub mod cluster;
pub mod controller;
pub mod excerpt;
pub mod explore;
pub mod ids;
pub mod op;
mod process;
pub mod reads_from;
pub mod schedule;
pub mod seed;
pub mod shrink;
pub mod slice;
pub mod strategy;
pub mod trace;

pub use controller::{
    Blocked, Buffers, Config, Controller, EngineError, Next, Outcome, ProcStatus,
};
pub use ids::{MonitorId, MsgId, Name, ProcId, TimerId};
pub use op::{
    ClusterOp, Dest, DownItem, Envelope, InfoStatus, Message, Op, OpError, OpKind, ProcInfo,
    Reason, Reply,
};
pub use schedule::{Schedule, ScheduleError};
pub use strategy::{IterationInfo, Strategy, StrategyConfig};
pub use trace::{Event, EventKind};

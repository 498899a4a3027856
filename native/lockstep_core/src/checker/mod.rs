//! History checkers: linearizability, sequential consistency and causal consistency.
//!
//! The approach is Jepsen's: record what clients invoked and what they observed ([`history`]), then
//! ask whether some sequential execution of a specification ([`models`]) explains it.
//!
//! - [`linearizability`] / [`search`]: Wing–Gong search with Lowe's memoisation, P-compositional
//!   partitioning (Horn & Kroening) and explanations of violations ([`report`]).
//! - [`sequential`]: sequential consistency (Lamport 1979), program order only.
//! - [`causal`]: causal consistency CC, CM and CCv (Bouajjani, Enea, Guerraoui, Hamza, POPL 2017).
//! - [`isolation`]: transactional isolation by dependency cycles (Elle; Adya's anomalies).
//! - [`parse`]: Jepsen EDN op maps, the Jepsen etcd log format, JSON events.
//! - [`api`]: check texts or files with a named model; what the CLI and the NIF call.

pub mod api;
pub mod causal;
pub mod error;
pub mod history;
pub mod isolation;
pub mod linearizability;
pub mod models;
pub mod parse;
pub mod report;
pub mod search;
pub mod sequential;
pub mod value;

pub use api::{
    check_causal_events, check_events, check_file, check_path_entries, check_paths,
    check_sequential_events, check_text, locate_error, locate_verdict, not_a_history, CheckOptions,
    FileVerdict, ModelKind, PathEntry,
};
pub use causal::{check_causal, CausalModel, CausalOp};
pub use error::CheckError;
pub use history::{
    positions, Event, EventKind, FailMode, HistoryOptions, InfoMode, NilReads, Operation,
    PositionUnit, Rules,
};
pub use linearizability::{
    check_operations, LinearizabilityOptions, LinearizabilityReport, Verdict,
};
pub use parse::{Format, Skipped};
pub use sequential::{check_sequential, check_sequential_with, ConsistencyVerdict};
pub use value::Value;

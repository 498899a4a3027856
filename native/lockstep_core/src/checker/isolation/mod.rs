//! Isolation checking of transactional histories by dependency cycles, in the style of Elle
//! (Kingsbury and Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
//! Observations", VLDB 2020), with Adya's anomaly definitions (Adya, "Weak Consistency", MIT
//! PhD thesis, 1999).
//!
//! A history holds transactions (`:f :txn`) whose values are micro-ops, in one of two
//! workloads:
//!
//! - list-append: `[:append k v]` and `[:r k [v1 v2 ...]]`. Appended values are unique per key,
//!   so a read's list shows the key's version order up to that point.
//! - rw-register: `[:w k v]` and `[:r k v]`, written values unique per key (never `nil`, the
//!   initial state). The version order is known only in part (see [`infer`]).
//!
//! [`infer`] turns transactions into a graph whose edges are write-write (ww), write-read
//! (wr), read-write anti-dependencies (rw), process order and real-time order, plus the
//! anomalies that need no cycle (G1a, G1b, internal, lost update, dirty update, duplicate
//! elements, incompatible orders, garbage reads). [`cycles`] finds cycles by strongly
//! connected components and names them (G0, G1c, G-single, G2-item, and their `-process` and
//! `-realtime` variants). A [`ConsistencyModel`] forbids a set of anomalies (the table is on
//! [`ConsistencyModel`]); the verdict is valid, not valid (naming the forbidden anomalies
//! found; others found are noted), or unknown when a search budget ran out before the
//! answer was known.
//!
//! The check is sound, not complete: every anomaly reported is real (given unique values,
//! and counting `:info` transactions as committed only once a committed read saw their
//! writes), but a history can hide anomalies the observations do not reveal, most of all
//! with rw-register, whose version order is mostly unknown. "Valid" means no forbidden
//! anomaly can be inferred.
//!
//! Costs are linear in the history (plus the total length of list-append reads): Tarjan's
//! algorithm per layer, a few breadth-first searches per non-trivial component, and the
//! G-single search, which has a step budget ([`IsolationOptions::max_steps`]).

pub mod anomaly;
pub mod cycles;
pub mod generate;
pub mod graph;
pub mod infer;
pub mod txn;

pub use anomaly::{Anomaly, AnomalyKind, ConsistencyModel, Step, TxnView};
pub use txn::{transactions, Mop, Status, Txn};

use super::error::CheckError;
use super::history::Event;
use super::parse::{read_history, Format, Skipped};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Which micro-ops the transactions hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    ListAppend,
    RwRegister,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        }
    }
}

impl FromStr for Workload {
    type Err = CheckError;
    fn from_str(s: &str) -> Result<Self, CheckError> {
        match s.replace('_', "-").as_str() {
            "list-append" | "append" => Ok(Workload::ListAppend),
            "rw-register" | "register" | "wr-register" => Ok(Workload::RwRegister),
            _ => Err(CheckError::Options {
                message: format!(
                    "unknown workload {} (known: list-append, rw-register)",
                    crate::excerpt::quoted(s)
                ),
            }),
        }
    }
}

/// The G-single search's default budget, in edges looked at.
pub const DEFAULT_MAX_STEPS: u64 = 200_000_000;

/// How many anomalies of each kind a report shows (all are counted).
pub const SHOWN_PER_KIND: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationOptions {
    pub model: ConsistencyModel,
    /// Budget of the G-single search (`None`: unbounded).
    pub max_steps: Option<u64>,
}

impl Default for IsolationOptions {
    fn default() -> Self {
        IsolationOptions {
            model: ConsistencyModel::Serializable,
            max_steps: Some(DEFAULT_MAX_STEPS),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum IsolationVerdict {
    /// No anomaly the model forbids can be inferred.
    Valid,
    /// Anomalies the model forbids were found.
    Invalid,
    /// A budget ran out before the answer was known.
    Unknown { why: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationReport {
    pub verdict: IsolationVerdict,
    pub model: ConsistencyModel,
    pub workload: Workload,
    /// Anomalies found, those the model forbids first; at most [`SHOWN_PER_KIND`] per kind.
    pub anomalies: Vec<Anomaly>,
    /// How many of each kind were found, in kind order.
    pub counts: Vec<(AnomalyKind, usize)>,
    /// The kinds found that the model forbids.
    pub forbidden: Vec<AnomalyKind>,
    /// A summary line, then each anomaly shown.
    pub text: String,
    pub transactions: usize,
    pub committed: usize,
    pub edges: usize,
}

/// Checks decoded transactions.
pub fn check_transactions(
    txns: &[Txn],
    workload: Workload,
    opts: &IsolationOptions,
) -> Result<IsolationReport, CheckError> {
    if txns.is_empty() {
        return Err(CheckError::NoOperations { skipped: None });
    }
    let inferred = match workload {
        Workload::ListAppend => infer::list_append(txns)?,
        Workload::RwRegister => infer::rw_register(txns)?,
    };
    let g = &inferred.graph;
    let cyc = cycles::find(g, opts.max_steps.unwrap_or(u64::MAX));
    let model = opts.model;
    let mut found = inferred.found;
    found.extend(cyc.found);
    let cycle_len = |f: &anomaly::Found| f.cycle.as_ref().map_or(0, Vec::len);
    found.sort_by_key(|f| (!model.forbids(f.kind), f.kind, cycle_len(f)));
    let mut counts: BTreeMap<AnomalyKind, usize> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for f in &found {
        let n = counts.entry(f.kind).or_default();
        *n += 1;
        if *n <= SHOWN_PER_KIND {
            anomalies.push(anomaly::render(f, g, txns, workload));
        }
    }
    let forbidden: Vec<AnomalyKind> = counts
        .keys()
        .copied()
        .filter(|k| model.forbids(*k))
        .collect();
    let allowed: Vec<AnomalyKind> = counts
        .keys()
        .copied()
        .filter(|k| !model.forbids(*k))
        .collect();
    let verdict = if !forbidden.is_empty() {
        IsolationVerdict::Invalid
    } else if cyc.undecided > 0
        && model.forbids(AnomalyKind::GSingle)
        && !model.forbids(AnomalyKind::G2Item)
    {
        IsolationVerdict::Unknown {
            why: format!(
                "the G-single search ran out of its budget of {} steps in {} strongly connected \
                 component(s) where it found only G2-item cycles, which {model} allows",
                opts.max_steps.unwrap_or(u64::MAX),
                cyc.undecided
            ),
        }
    } else {
        IsolationVerdict::Valid
    };
    let committed = txns.iter().filter(|t| t.status == Status::Ok).count();
    let list = |kinds: &[AnomalyKind]| {
        kinds
            .iter()
            .map(|k| format!("{k} ({})", counts[k]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = match &verdict {
        IsolationVerdict::Valid => format!(
            "{model}: valid ({} transactions, {committed} committed; no anomaly {model} forbids)",
            txns.len()
        ),
        IsolationVerdict::Invalid => format!("not {model}: {}", list(&forbidden)),
        IsolationVerdict::Unknown { why } => format!("{model}: unknown ({why})"),
    };
    if !allowed.is_empty() {
        text.push_str(&format!(
            "; also found, allowed by {model}: {}",
            list(&allowed)
        ));
    }
    for a in &anomalies {
        text.push_str("\n\n");
        text.push_str(&a.text);
    }
    Ok(IsolationReport {
        verdict,
        model,
        workload,
        anomalies,
        counts: counts.into_iter().collect(),
        forbidden,
        text,
        transactions: txns.len(),
        committed,
        edges: g.edge_count(),
    })
}

/// Checks history events (every one a transaction, `:f :txn`).
pub fn check_isolation(
    events: &[Event],
    workload: Workload,
    opts: &IsolationOptions,
) -> Result<IsolationReport, CheckError> {
    let txns = transactions(events, workload)?;
    check_transactions(&txns, workload, opts)
}

/// Parses a history text (Jepsen EDN op maps or JSON events; see [`read_history`]) and checks
/// it; also returns the lines skipped.
pub fn check_isolation_text(
    text: &str,
    format: Format,
    strict: bool,
    workload: Workload,
    opts: &IsolationOptions,
) -> (Result<IsolationReport, CheckError>, Option<Skipped>) {
    match read_history(text, format, strict) {
        Ok(parsed) => (
            check_isolation(&parsed.events, workload, opts),
            parsed.skipped,
        ),
        Err(e) => (Err(e), None),
    }
}

#[cfg(test)]
mod tests;

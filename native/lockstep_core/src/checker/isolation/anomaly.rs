//! Anomaly names (Adya's, as Elle uses them), the consistency models that forbid them, and
//! their explanations.

use super::graph::{kind_name, Basis, Graph, Path, Why, PROCESS, REALTIME, RW, WR};
use super::txn::{show, show_key, Mop, Status, Txn};
use super::Workload;
use crate::checker::error::CheckError;
use crate::checker::value::Value;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What went wrong. Cycle anomalies: G0 (write cycle: ww edges only), G1c (circular
/// information flow: ww and wr edges, at least one wr), G-single (exactly one rw edge), G2-item
/// (two or more rw edges); with `-process` the cycle also uses process order, with `-realtime`
/// real-time order. The others are found without cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    G0,
    G1c,
    GSingle,
    G2Item,
    G0Process,
    G1cProcess,
    GSingleProcess,
    G2ItemProcess,
    G0Realtime,
    G1cRealtime,
    GSingleRealtime,
    G2ItemRealtime,
    /// Aborted read: a committed transaction read a value a failed one wrote.
    G1a,
    /// Intermediate read: a value that was not its writer's last write of the key.
    G1b,
    /// Two committed transactions read the same version of a key and both wrote the key.
    LostUpdate,
    /// List-append: a committed append follows a failed transaction's append in a key's list.
    DirtyUpdate,
    /// A transaction's read disagrees with its own earlier reads and writes of the key.
    Internal,
    /// List-append: a read shows one element twice.
    DuplicateElements,
    /// List-append: two reads of a key disagree on its order (neither is a prefix of the other).
    IncompatibleOrder,
    /// A read of a value no transaction wrote.
    GarbageRead,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 20] = [
        AnomalyKind::G0,
        AnomalyKind::G1c,
        AnomalyKind::GSingle,
        AnomalyKind::G2Item,
        AnomalyKind::G0Process,
        AnomalyKind::G1cProcess,
        AnomalyKind::GSingleProcess,
        AnomalyKind::G2ItemProcess,
        AnomalyKind::G0Realtime,
        AnomalyKind::G1cRealtime,
        AnomalyKind::GSingleRealtime,
        AnomalyKind::G2ItemRealtime,
        AnomalyKind::G1a,
        AnomalyKind::G1b,
        AnomalyKind::LostUpdate,
        AnomalyKind::DirtyUpdate,
        AnomalyKind::Internal,
        AnomalyKind::DuplicateElements,
        AnomalyKind::IncompatibleOrder,
        AnomalyKind::GarbageRead,
    ];

    /// The identifier (`g_single`, `g2_item_realtime`, `lost_update`): the serde name.
    pub fn id(self) -> String {
        self.name().to_lowercase().replace('-', "_")
    }

    /// The name used in reports (`G-single`, `G2-item-realtime`, `lost-update`).
    pub fn name(self) -> &'static str {
        use AnomalyKind::*;
        match self {
            G0 => "G0",
            G1c => "G1c",
            GSingle => "G-single",
            G2Item => "G2-item",
            G0Process => "G0-process",
            G1cProcess => "G1c-process",
            GSingleProcess => "G-single-process",
            G2ItemProcess => "G2-item-process",
            G0Realtime => "G0-realtime",
            G1cRealtime => "G1c-realtime",
            GSingleRealtime => "G-single-realtime",
            G2ItemRealtime => "G2-item-realtime",
            G1a => "G1a",
            G1b => "G1b",
            LostUpdate => "lost-update",
            DirtyUpdate => "dirty-update",
            Internal => "internal",
            DuplicateElements => "duplicate-elements",
            IncompatibleOrder => "incompatible-order",
            GarbageRead => "garbage-read",
        }
    }

    fn gloss(self) -> &'static str {
        use AnomalyKind::*;
        match self {
            G0 | G0Process | G0Realtime => "write cycle",
            G1c | G1cProcess | G1cRealtime => "circular information flow",
            GSingle | GSingleProcess | GSingleRealtime => {
                "read skew: a cycle with exactly one anti-dependency"
            }
            G2Item | G2ItemProcess | G2ItemRealtime => {
                "a cycle with two or more anti-dependencies (write skew)"
            }
            G1a => "aborted read",
            G1b => "intermediate read",
            LostUpdate => "two transactions read the same version and both wrote it",
            DirtyUpdate => "a committed write built on an aborted one",
            Internal => "a transaction disagrees with itself",
            DuplicateElements => "an element appears twice in a read",
            IncompatibleOrder => "two reads disagree on a key's order",
            GarbageRead => "a read of a value nobody wrote",
        }
    }

    /// The cycle anomaly with `rw` anti-dependencies, `wr` write-read edges, and whether the
    /// cycle needs real-time or process order.
    pub fn of_cycle(rw: usize, wr: usize, realtime: bool, process: bool) -> AnomalyKind {
        use AnomalyKind::*;
        let base = match (rw, wr) {
            (0, 0) => 0,
            (0, _) => 1,
            (1, _) => 2,
            _ => 3,
        };
        let table = if realtime {
            [G0Realtime, G1cRealtime, GSingleRealtime, G2ItemRealtime]
        } else if process {
            [G0Process, G1cProcess, GSingleProcess, G2ItemProcess]
        } else {
            [G0, G1c, GSingle, G2Item]
        };
        table[base]
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A consistency model: the set of anomalies it forbids.
///
/// | model | forbids |
/// |---|---|
/// | read-uncommitted | G0, internal, duplicate-elements, incompatible-order, garbage-read |
/// | read-committed | the above, G1a, G1b, G1c, dirty-update |
/// | causal | read-committed's, G0-process, G1c-process |
/// | snapshot-isolation | read-committed's, G-single, lost-update |
/// | repeatable-read | read-committed's, G-single, G2-item, lost-update |
/// | serializable | read-committed's, G-single, G2-item, lost-update |
/// | strict-serializable | serializable's and every -process and -realtime cycle |
///
/// Repeatable read is Adya's PL-2.99, which forbids G2-item; these histories have no
/// predicates, so it forbids what serializability does. G-single stands in for snapshot
/// isolation's G-SI (a cycle with one anti-dependency cannot happen under snapshot isolation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencyModel {
    ReadUncommitted,
    ReadCommitted,
    Causal,
    SnapshotIsolation,
    RepeatableRead,
    Serializable,
    StrictSerializable,
}

impl ConsistencyModel {
    pub const ALL: [ConsistencyModel; 7] = [
        ConsistencyModel::ReadUncommitted,
        ConsistencyModel::ReadCommitted,
        ConsistencyModel::Causal,
        ConsistencyModel::SnapshotIsolation,
        ConsistencyModel::RepeatableRead,
        ConsistencyModel::Serializable,
        ConsistencyModel::StrictSerializable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ConsistencyModel::ReadUncommitted => "read-uncommitted",
            ConsistencyModel::ReadCommitted => "read-committed",
            ConsistencyModel::Causal => "causal",
            ConsistencyModel::SnapshotIsolation => "snapshot-isolation",
            ConsistencyModel::RepeatableRead => "repeatable-read",
            ConsistencyModel::Serializable => "serializable",
            ConsistencyModel::StrictSerializable => "strict-serializable",
        }
    }

    pub fn forbids(self, kind: AnomalyKind) -> bool {
        use AnomalyKind::*;
        use ConsistencyModel::*;
        let always = matches!(
            kind,
            G0 | Internal | DuplicateElements | IncompatibleOrder | GarbageRead
        );
        let committed = always || matches!(kind, G1a | G1b | G1c | DirtyUpdate);
        let serial = committed || matches!(kind, GSingle | G2Item | LostUpdate);
        match self {
            ReadUncommitted => always,
            ReadCommitted => committed,
            Causal => committed || matches!(kind, G0Process | G1cProcess),
            SnapshotIsolation => committed || matches!(kind, GSingle | LostUpdate),
            RepeatableRead | Serializable => serial,
            StrictSerializable => true,
        }
    }
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConsistencyModel {
    type Err = CheckError;
    fn from_str(s: &str) -> Result<Self, CheckError> {
        let norm = s.replace('_', "-");
        ConsistencyModel::ALL
            .into_iter()
            .find(|m| m.name() == norm)
            .or(match norm.as_str() {
                "si" | "snapshot" => Some(ConsistencyModel::SnapshotIsolation),
                "strict-serializability" | "strong-serializable" => {
                    Some(ConsistencyModel::StrictSerializable)
                }
                "serializability" => Some(ConsistencyModel::Serializable),
                _ => None,
            })
            .ok_or_else(|| CheckError::Options {
                message: format!(
                    "unknown consistency model {} (known: {})",
                    crate::excerpt::quoted(s),
                    ConsistencyModel::ALL.map(|m| m.name()).join(", ")
                ),
            })
    }
}

/// A transaction as an anomaly shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnView {
    /// `T12`: invoked at event 12 (1-based), or completed there when no invocation was recorded.
    pub label: String,
    pub process: u64,
    /// 1-based event numbers.
    pub invoke: Option<usize>,
    pub complete: Option<usize>,
    pub status: Status,
    /// The micro-ops, EDN-like.
    pub ops: String,
    /// The whole line: label, process, events, status and micro-ops.
    pub text: String,
}

impl TxnView {
    pub fn of(t: &Txn) -> Self {
        TxnView {
            label: t.label(),
            process: t.process,
            invoke: t.invoke.map(|i| i + 1),
            complete: t.complete.map(|c| c + 1),
            status: t.status,
            ops: super::txn::mops_text(&t.mops),
            text: t.describe(),
        }
    }
}

/// One edge of a cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub from: String,
    pub to: String,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub kind: String,
    pub why: String,
}

/// One anomaly found, with its witnesses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub txns: Vec<TxnView>,
    /// For cycles: the edges, in order, the last returning to the first transaction.
    pub steps: Vec<Step>,
    pub text: String,
}

/// An anomaly before it is rendered: transaction indices and, for cycles, the path.
#[derive(Clone, Debug)]
pub struct Found {
    pub kind: AnomalyKind,
    pub txns: Vec<u32>,
    pub cycle: Option<Path>,
    /// What a non-cycle anomaly's witnesses show.
    pub note: String,
}

impl Found {
    pub fn plain(kind: AnomalyKind, txns: Vec<u32>, note: String) -> Self {
        Found {
            kind,
            txns,
            cycle: None,
            note,
        }
    }
}

/// The edges of a cycle with junctions folded away: `(from, to, kind, why)`.
pub fn cycle_edges<'g>(g: &'g Graph, path: &Path) -> Vec<(u32, u32, u8, &'g Why)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < path.len() {
        let (from, idx) = path[i];
        let e = g.adj[from as usize][idx as usize];
        if g.is_junction(e.to) && i + 1 < path.len() {
            let (j, jdx) = path[i + 1];
            let out_edge = g.adj[j as usize][jdx as usize];
            out.push((from, out_edge.to, RW, &g.whys[out_edge.why as usize]));
            i += 2;
        } else {
            out.push((from, e.to, e.kind, &g.whys[e.why as usize]));
            i += 1;
        }
    }
    out
}

/// Classifies a cycle by its edges.
pub fn classify(g: &Graph, path: &Path) -> AnomalyKind {
    let edges = cycle_edges(g, path);
    let count = |k: u8| edges.iter().filter(|e| e.2 == k).count();
    AnomalyKind::of_cycle(
        count(RW),
        count(WR),
        count(REALTIME) > 0,
        count(PROCESS) > 0,
    )
}

fn basis_text(b: &Basis, txns: &[Txn], key: &str) -> String {
    match b {
        Basis::Observed { reader } => format!(
            "{key}'s order as {} read it",
            txns[*reader as usize].label()
        ),
        Basis::ReadThenWrite { txn } => format!(
            "{} read the earlier version and then wrote the later",
            txns[*txn as usize].label()
        ),
        Basis::Initial => "every written version follows the initial nil".to_string(),
    }
}

/// What `txn` first read of `key`, shown.
fn seen(txns: &[Txn], txn: u32, key: &Value) -> Option<String> {
    txns[txn as usize].mops.iter().find_map(|m| match m {
        Mop::Read {
            key: k,
            value: Some(v),
        } if k == key => Some(show(v)),
        _ => None,
    })
}

fn why_text(why: &Why, (from_id, to_id): (u32, u32), txns: &[Txn], workload: Workload) -> String {
    let la = workload == Workload::ListAppend;
    let from = &txns[from_id as usize].label();
    let to = &txns[to_id as usize].label();
    match why {
        Why::Ww {
            key,
            prev,
            next,
            basis,
        } => {
            let k = show_key(key);
            let b = basis_text(basis, txns, &k);
            if la {
                format!(
                    "{from} appended {} to {k} and {to} appended {}, the next element ({b})",
                    show(prev),
                    show(next)
                )
            } else {
                format!(
                    "{from} wrote {k} = {} and {to} wrote {k} = {}, a later version ({b})",
                    show(prev),
                    show(next)
                )
            }
        }
        Why::Wr { key, value } => {
            let k = show_key(key);
            if la {
                format!(
                    "{from} appended {} to {k}, and {to} read {k} = {}",
                    show(value),
                    seen(txns, to_id, key).unwrap_or_else(|| show(value))
                )
            } else {
                format!("{from} wrote {k} = {}, and {to} read it", show(value))
            }
        }
        Why::Rw {
            key,
            read,
            next,
            basis,
        } => {
            let k = show_key(key);
            let b = basis_text(basis, txns, &k);
            if la {
                format!(
                    "{from} read {k} = {}, and {to} appended {}, the next element ({b})",
                    seen(txns, from_id, key).unwrap_or_else(|| show(read)),
                    show(next)
                )
            } else {
                format!(
                    "{from} read {k} = {}, and {to} wrote {k} = {}, a later version ({b})",
                    show(read),
                    show(next)
                )
            }
        }
        Why::RwToJunction { key, read } => {
            format!("{from} read {} = {}", show_key(key), show(read))
        }
        Why::Process { process } => format!("process {process} ran {from} and then {to}"),
        Why::Realtime { completed, invoked } => format!(
            "{from} completed (event {}) before {to} was invoked (event {})",
            completed + 1,
            invoked + 1
        ),
    }
}

/// Renders a found anomaly.
pub fn render(f: &Found, g: &Graph, txns: &[Txn], workload: Workload) -> Anomaly {
    let mut ids: Vec<u32> = f.txns.clone();
    let mut steps = Vec::new();
    if let Some(path) = &f.cycle {
        ids.clear();
        for (from, to, kind, why) in cycle_edges(g, path) {
            ids.push(from);
            let (a, b) = (txns[from as usize].label(), txns[to as usize].label());
            steps.push(Step {
                why: why_text(why, (from, to), txns, workload),
                from: a,
                to: b,
                kind: kind_name(kind).to_string(),
            });
        }
    }
    let views: Vec<TxnView> = ids
        .iter()
        .map(|t| TxnView::of(&txns[*t as usize]))
        .collect();
    let mut text = format!("{} ({})", f.kind.name(), f.kind.gloss());
    if f.cycle.is_some() {
        text.push_str(&format!(": a cycle of {} transactions", views.len()));
    }
    for v in &views {
        text.push_str("\n  ");
        text.push_str(&v.text);
    }
    for s in &steps {
        text.push_str(&format!("\n  {} -{}-> {}: {}", s.from, s.kind, s.to, s.why));
    }
    if !f.note.is_empty() {
        text.push_str("\n  ");
        text.push_str(&f.note);
    }
    Anomaly {
        kind: f.kind,
        txns: views,
        steps,
        text,
    }
}

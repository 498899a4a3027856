//! Causal consistency of read/write histories: CC, CM and CCv, after Bouajjani, Enea, Guerraoui and
//! Hamza, "On verifying causal consistency" (POPL 2017).
//!
//! Checking causal consistency is NP-complete in general, but for *differentiated* histories (each
//! value written at most once per key, and never the initial value) the paper shows that a history
//! violates each criterion iff it contains one of a few "bad patterns", all decidable in polynomial
//! time. We compute, over the history's operations:
//!
//! - `po`, program order (each process's operations in order) and `wr`, read-from (a read of `v`
//!   reads from the unique write of `v` to that key);
//! - `co`, causal order, the transitive closure of `po ∪ wr`.
//!
//! Bad patterns (a read of the initial value "reads init"):
//! - *ThinAirRead*: a read of a value nobody wrote.
//! - *CyclicCO*: `co` has a cycle.
//! - *WriteCOInitRead*: a write to x is causally before a read of x that reads init.
//! - *WriteCORead*: `w1 co w2 co r` where r reads x from w1 and w2 also writes x (r should have seen
//!   w2 or a later value).
//! - *CyclicCF* (for CCv): `w1 cf w2` when w1, w2 write x and some read of x reads from w2 while w1 is
//!   causally before it (so w1 must be arbitrated before w2); `co ∪ cf` has a cycle.
//! - For CM, per process p (taking its last operation o), the relation `hb_o`: the smallest
//!   transitive relation containing the `co` edges into o's causal past, and such that if a read r of
//!   p reads x from w2 and `w1 hb_o r` for another write w1 of x, then `w1 hb_o w2`.
//!   *CyclicHB*: `hb_o` has a cycle. *WriteHBInitRead*: a read of p reads init on x and some write
//!   of x is `hb_o`-before it.
//!
//! CC forbids ThinAirRead, CyclicCO, WriteCOInitRead and WriteCORead; CM additionally forbids
//! CyclicHB and WriteHBInitRead; CCv additionally forbids CyclicCF. Sequential consistency implies
//! all three.

use super::error::CheckError;
use super::history::{Outcome, RawOperation};
use super::models::canonical_f;
use super::sequential::ConsistencyVerdict;
use super::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CausalKind {
    Read,
    Write,
}

/// A read or write of one key by one process. Slice order is program order within a process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausalOp {
    pub process: u64,
    pub key: Value,
    pub kind: CausalKind,
    pub value: Value,
}

/// Which variant of causal consistency to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CausalModel {
    /// Causal consistency (weakest).
    CC,
    /// Causal memory.
    CM,
    /// Causal convergence.
    CCv,
}

/// A bad pattern found in a history (operation indices into the checked slice).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "pattern")]
pub enum BadPattern {
    ThinAirRead {
        read: usize,
    },
    CyclicCO {
        op: usize,
    },
    WriteCOInitRead {
        write: usize,
        read: usize,
    },
    WriteCORead {
        source: usize,
        overwrite: usize,
        read: usize,
    },
    CyclicCF {
        op: usize,
    },
    CyclicHB {
        process: u64,
        op: usize,
    },
    WriteHBInitRead {
        process: u64,
        write: usize,
        read: usize,
    },
}

impl BadPattern {
    /// Whether this pattern rules out `model`.
    pub fn violates(&self, model: CausalModel) -> bool {
        match self {
            BadPattern::CyclicCF { .. } => model == CausalModel::CCv,
            BadPattern::CyclicHB { .. } | BadPattern::WriteHBInitRead { .. } => {
                model == CausalModel::CM
            }
            _ => true,
        }
    }
}

/// Square boolean relation over operations, one bitset row per operation.
struct Rel {
    n: usize,
    words: usize,
    rows: Vec<u64>,
}

impl Rel {
    fn new(n: usize) -> Self {
        let words = n.div_ceil(64).max(1);
        Rel {
            n,
            words,
            rows: vec![0; n * words],
        }
    }
    fn get(&self, i: usize, j: usize) -> bool {
        self.rows[i * self.words + j / 64] >> (j % 64) & 1 == 1
    }
    fn set(&mut self, i: usize, j: usize) {
        self.rows[i * self.words + j / 64] |= 1 << (j % 64);
    }
    /// Warshall's transitive closure on bitset rows.
    fn close(&mut self) {
        let w = self.words;
        let mut row_k = vec![0u64; w];
        for k in 0..self.n {
            row_k.copy_from_slice(&self.rows[k * w..(k + 1) * w]);
            for i in 0..self.n {
                if self.get(i, k) {
                    for (a, b) in self.rows[i * w..(i + 1) * w].iter_mut().zip(&row_k) {
                        *a |= *b;
                    }
                }
            }
        }
    }
    fn cyclic_at(&self) -> Option<usize> {
        (0..self.n).find(|&i| self.get(i, i))
    }
}

/// Extracts reads and writes from paired operations (reads and writes of registers or keys).
/// Failed operations and reads that never returned are dropped; writes that never returned are kept
/// (they may have taken effect and been read).
pub fn causal_ops(raw: &[RawOperation]) -> Result<Vec<CausalOp>, CheckError> {
    let mut out = Vec::new();
    for op in raw {
        let kind = match canonical_f(&op.f) {
            "read" => CausalKind::Read,
            "write" => CausalKind::Write,
            other => {
                return Err(CheckError::model(
                    op.call + 1,
                    format!("causal checking supports reads and writes only, not {other}"),
                ))
            }
        };
        let value = match (kind, op.outcome) {
            (_, Outcome::Fail) | (CausalKind::Read, Outcome::Open) => continue,
            (CausalKind::Read, _) => op.output.clone().unwrap_or(Value::Nil),
            (CausalKind::Write, _) => op.input.clone(),
        };
        out.push(CausalOp {
            process: op.process,
            key: op.key.clone().unwrap_or(Value::Nil),
            kind,
            value,
        });
    }
    Ok(out)
}

/// Finds every kind of bad pattern in a differentiated history (one witness per kind and process).
/// Errors if the history is not differentiated.
pub fn bad_patterns(ops: &[CausalOp], initial: &Value) -> Result<Vec<BadPattern>, CheckError> {
    let n = ops.len();
    let mut writer: BTreeMap<(&Value, &Value), usize> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.kind == CausalKind::Write {
            if op.value == *initial {
                return Err(CheckError::model(
                    i + 1,
                    format!("write of the initial value {initial}: history not differentiated"),
                ));
            }
            if writer.insert((&op.key, &op.value), i).is_some() {
                return Err(CheckError::model(
                    i + 1,
                    format!(
                        "{} written twice to {}: history not differentiated",
                        op.value, op.key
                    ),
                ));
            }
        }
    }
    let mut found = Vec::new();
    // Read-from: Some(writer) or None for reads of the initial value.
    let mut source: Vec<Option<usize>> = vec![None; n];
    let mut co = Rel::new(n);
    let mut last_of: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(prev) = last_of.insert(op.process, i) {
            co.set(prev, i);
        }
        if op.kind == CausalKind::Read && op.value != *initial {
            match writer.get(&(&op.key, &op.value)) {
                Some(&w) => {
                    source[i] = Some(w);
                    co.set(w, i);
                }
                None => found.push(BadPattern::ThinAirRead { read: i }),
            }
        }
    }
    co.close();
    if let Some(op) = co.cyclic_at() {
        found.push(BadPattern::CyclicCO { op });
    }
    let mut writes_by_key: BTreeMap<&Value, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.kind == CausalKind::Write {
            writes_by_key.entry(&op.key).or_default().push(i);
        }
    }
    let no_writes: Vec<usize> = Vec::new();
    let writes_to = |key: &Value| writes_by_key.get(key).unwrap_or(&no_writes).iter().copied();
    let reads_init = |i: usize| ops[i].kind == CausalKind::Read && ops[i].value == *initial;

    // WriteCOInitRead and WriteCORead.
    'init: for (r, op) in ops.iter().enumerate() {
        if reads_init(r) {
            for w in writes_to(&op.key) {
                if co.get(w, r) {
                    found.push(BadPattern::WriteCOInitRead { write: w, read: r });
                    break 'init;
                }
            }
        }
    }
    'wcr: for r in 0..n {
        if let Some(w1) = source[r] {
            for w2 in writes_to(&ops[r].key) {
                if w2 != w1 && co.get(w1, w2) && co.get(w2, r) {
                    found.push(BadPattern::WriteCORead {
                        source: w1,
                        overwrite: w2,
                        read: r,
                    });
                    break 'wcr;
                }
            }
        }
    }

    // CyclicCF: co ∪ cf acyclic.
    let mut cocf = Rel::new(n);
    cocf.rows.copy_from_slice(&co.rows);
    for r in 0..n {
        if let Some(w2) = source[r] {
            for w1 in writes_to(&ops[r].key) {
                if w1 != w2 && co.get(w1, r) {
                    cocf.set(w1, w2);
                }
            }
        }
    }
    cocf.close();
    if let Some(op) = cocf.cyclic_at() {
        found.push(BadPattern::CyclicCF { op });
    }

    // CM: hb_o for the last operation o of each process.
    for (&process, &o) in &last_of {
        let mut hb = Rel::new(n);
        for a in 0..n {
            for b in 0..n {
                if co.get(a, b) && (b == o || co.get(b, o)) {
                    hb.set(a, b);
                }
            }
        }
        let own_reads: Vec<usize> = (0..n)
            .filter(|&r| ops[r].process == process && ops[r].kind == CausalKind::Read)
            .collect();
        loop {
            let mut changed = false;
            for &r in &own_reads {
                let Some(w2) = source[r] else { continue };
                for w1 in writes_to(&ops[r].key) {
                    if w1 != w2 && hb.get(w1, r) && !hb.get(w1, w2) {
                        hb.set(w1, w2);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
            hb.close();
        }
        if let Some(op) = hb.cyclic_at() {
            found.push(BadPattern::CyclicHB { process, op });
        }
        'hbinit: for &r in &own_reads {
            if reads_init(r) {
                for w in writes_to(&ops[r].key) {
                    if hb.get(w, r) {
                        found.push(BadPattern::WriteHBInitRead {
                            process,
                            write: w,
                            read: r,
                        });
                        break 'hbinit;
                    }
                }
            }
        }
    }
    Ok(found)
}

fn describe(ops: &[CausalOp], i: usize) -> String {
    let o = &ops[i];
    let verb = if o.kind == CausalKind::Read {
        "read"
    } else {
        "write"
    };
    format!("process {} {} {} {}", o.process, verb, o.key, o.value)
}

/// Renders a bad pattern in words.
pub fn describe_pattern(ops: &[CausalOp], p: &BadPattern) -> String {
    let d = |i: usize| describe(ops, i);
    match p {
        BadPattern::ThinAirRead { read } => format!("ThinAirRead: ({}) reads a value nobody wrote", d(*read)),
        BadPattern::CyclicCO { op } => format!("CyclicCO: causal order is cyclic through ({})", d(*op)),
        BadPattern::WriteCOInitRead { write, read } => format!(
            "WriteCOInitRead: ({}) reads the initial value although ({}) causally precedes it",
            d(*read),
            d(*write)
        ),
        BadPattern::WriteCORead { source, overwrite, read } => format!(
            "WriteCORead: ({}) reads from ({}) although ({}) is causally between them",
            d(*read),
            d(*source),
            d(*overwrite)
        ),
        BadPattern::CyclicCF { op } => format!(
            "CyclicCF: no single order of writes agrees with what was read (cycle through ({}))",
            d(*op)
        ),
        BadPattern::CyclicHB { process, op } => format!(
            "CyclicHB: process {process} cannot order the writes it saw (cycle through ({}))",
            d(*op)
        ),
        BadPattern::WriteHBInitRead { process, write, read } => format!(
            "WriteHBInitRead: in process {process}'s view ({}) happens before ({}), which reads the initial value",
            d(*write),
            d(*read)
        ),
    }
}

/// Checks a differentiated read/write history against one causal consistency criterion.
pub fn check_causal(
    ops: &[CausalOp],
    model: CausalModel,
    initial: &Value,
) -> Result<ConsistencyVerdict, CheckError> {
    let found = bad_patterns(ops, initial)?;
    let bad: Vec<String> = found
        .iter()
        .filter(|p| p.violates(model))
        .map(|p| describe_pattern(ops, p))
        .collect();
    Ok(if bad.is_empty() {
        ConsistencyVerdict::Consistent
    } else {
        ConsistencyVerdict::Inconsistent {
            reason: format!("Not {model:?}: {}", bad.join("; ")),
        }
    })
}

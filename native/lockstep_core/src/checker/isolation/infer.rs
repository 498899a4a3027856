//! Dependency inference: from transactions to a graph of ww, wr, rw, process and real-time
//! edges, plus the anomalies that need no cycle.
//!
//! Only committed transactions (`:ok`) and transactions that may have committed (`:info`) are
//! nodes with edges. An `:info` transaction's reads are unknown, and its writes give edges only
//! once a committed read has observed them (which proves it committed), so an `:info`
//! transaction is never the only evidence of an anomaly.
//!
//! What is inferred of each key's version order:
//!
//! - list-append: the order of the elements in the longest read of the key; every other read
//!   must be a prefix of it (else `incompatible-order`, and the key gives no ww or rw edges).
//!   ww: the writers of consecutive elements; wr: the writer of the last element of a
//!   transaction's first read of the key (before its own appends) to the reader; rw: that reader
//!   to the writer of the element after the ones it saw.
//! - rw-register: only what is sound without a total order. The initial state (`nil`) precedes
//!   every write; a transaction that read version `a` of a key and then wrote `b` puts `a`
//!   before `b` (writes follow the reads they saw). ww: the writer of `a`
//!   to that transaction; rw: every other reader of `a` to it, and every reader of `nil` to the
//!   writer of each version with no known predecessor. wr: the writer of a value to its
//!   readers. An rw edge may skip versions whose order is unknown; its cycle still has the
//!   same number of anti-dependencies as the cycle through the versions it skips.

use super::anomaly::{AnomalyKind, Found};
use super::graph::{Basis, Graph, Why, PROCESS, REALTIME, RW, WR, WW};
use super::txn::{show, show_key, Mop, Status, Txn};
use crate::checker::error::CheckError;
use crate::checker::value::Value;
use std::collections::{HashMap, HashSet};

pub struct Inferred {
    pub graph: Graph,
    pub found: Vec<Found>,
}

#[derive(Clone, Copy)]
struct Writer {
    txn: u32,
    /// The transaction's last write (append) of the key.
    last: bool,
}

/// Keys in order of first appearance, each with its data.
struct Keys<T> {
    index: HashMap<Value, usize>,
    items: Vec<(Value, T)>,
}

impl<T: Default> Keys<T> {
    fn new() -> Self {
        Keys {
            index: HashMap::new(),
            items: Vec::new(),
        }
    }

    fn get(&mut self, key: &Value) -> &mut T {
        let i = match self.index.get(key) {
            Some(i) => *i,
            None => {
                self.items.push((key.clone(), T::default()));
                self.index.insert(key.clone(), self.items.len() - 1);
                self.items.len() - 1
            }
        };
        &mut self.items[i].1
    }
}

/// Records every transaction's writes of each key; a value written twice to one key by
/// different transactions is an error (the inference relies on unique values).
fn writers<T: Default>(
    txns: &[Txn],
    keys: &mut Keys<T>,
    slot: impl Fn(&mut T) -> &mut HashMap<Value, Writer>,
    what: &str,
) -> Result<(), CheckError> {
    for (i, t) in txns.iter().enumerate() {
        let mut last: HashMap<&Value, &Value> = HashMap::new();
        for m in &t.mops {
            let (key, value) = match m {
                Mop::Append { key, value } | Mop::Write { key, value } => (key, value),
                Mop::Read { .. } => continue,
            };
            if value.is_nil() && what == "wrote" {
                return Err(CheckError::model(
                    t.number(),
                    format!(
                        "{} wrote nil to {}: nil is the initial state, so writes of nil cannot be told apart from it",
                        t.label(),
                        show_key(key)
                    ),
                ));
            }
            let map = slot(keys.get(key));
            if let Some(w) = map.get(value) {
                if w.txn != i as u32 || what == "appended" {
                    return Err(CheckError::model(
                        t.number(),
                        format!(
                            "{} {what} {} to {} as {} did: values must be unique per key",
                            t.label(),
                            show(value),
                            show_key(key),
                            txns[w.txn as usize].label()
                        ),
                    ));
                }
            }
            map.insert(
                value.clone(),
                Writer {
                    txn: i as u32,
                    last: false,
                },
            );
            last.insert(key, value);
        }
        for (key, value) in last {
            if let Some(w) = slot(keys.get(key)).get_mut(value) {
                w.last = true;
            }
        }
    }
    Ok(())
}

fn internal(found: &mut Vec<Found>, t: u32, note: String) {
    found.push(Found::plain(AnomalyKind::Internal, vec![t], note));
}

// ---------------------------------------------------------------------------------------------
// List-append

#[derive(Default)]
struct AppendKey {
    writers: HashMap<Value, Writer>,
    /// Every read of the key by a committed transaction: (txn, micro-op index).
    reads: Vec<(u32, u32)>,
    /// First reads, before the transaction's own appends.
    external: Vec<(u32, u32)>,
    /// Transactions whose first read of the key came before an append to it.
    rmw: Vec<u32>,
}

fn read_list(txns: &[Txn], (t, m): (u32, u32)) -> &[Value] {
    match &txns[t as usize].mops[m as usize] {
        Mop::Read {
            value: Some(Value::List(l)),
            ..
        } => l,
        _ => &[],
    }
}

pub fn list_append(txns: &[Txn]) -> Result<Inferred, CheckError> {
    let mut keys: Keys<AppendKey> = Keys::new();
    writers(txns, &mut keys, |k| &mut k.writers, "appended")?;
    let mut found = Vec::new();
    for (i, t) in txns.iter().enumerate() {
        if t.status != Status::Ok {
            continue;
        }
        let ti = i as u32;
        // Per key: the list as last read, the appends since, whether touched, whether the
        // first access was a read.
        type St<'a> = (Option<&'a [Value]>, Vec<&'a Value>, bool);
        let mut state: HashMap<&Value, St> = HashMap::new();
        let mut bad: HashSet<&Value> = HashSet::new();
        for (mi, m) in t.mops.iter().enumerate() {
            match m {
                Mop::Append { key, value } => {
                    let st = state.entry(key).or_insert((None, Vec::new(), false));
                    if st.2 && st.0.is_some() && st.1.is_empty() {
                        // An append after an external read: a read-modify-write.
                        let k = keys.get(key);
                        if k.external.last().is_some_and(|e| e.0 == ti) && k.rmw.last() != Some(&ti)
                        {
                            k.rmw.push(ti);
                        }
                    }
                    st.1.push(value);
                    st.2 = true;
                }
                Mop::Read {
                    key,
                    value: Some(Value::List(l)),
                } => {
                    let k = keys.get(key);
                    k.reads.push((ti, mi as u32));
                    let st = state.entry(key).or_insert((None, Vec::new(), false));
                    if !st.2 {
                        k.external.push((ti, mi as u32));
                    } else if !bad.contains(key) {
                        let ok = match st.0 {
                            Some(prev) => {
                                l.len() == prev.len() + st.1.len()
                                    && l[..prev.len()] == *prev
                                    && l[prev.len()..].iter().zip(&st.1).all(|(a, b)| a == *b)
                            }
                            None => {
                                l.len() >= st.1.len()
                                    && l[l.len() - st.1.len()..]
                                        .iter()
                                        .zip(&st.1)
                                        .all(|(a, b)| a == *b)
                            }
                        };
                        if !ok {
                            bad.insert(key);
                            let own: Vec<String> = st.1.iter().map(|v| show(v)).collect();
                            let note = match st.0 {
                                Some(prev) => format!(
                                    "{} read {} = {}, appended [{}], then read {} = {}",
                                    t.label(),
                                    show_key(key),
                                    show(&Value::List(prev.to_vec())),
                                    own.join(" "),
                                    show_key(key),
                                    show(&Value::List(l.clone()))
                                ),
                                None => format!(
                                    "{} appended [{}] to {}, then read {} = {}, which does not end with them",
                                    t.label(),
                                    own.join(" "),
                                    show_key(key),
                                    show_key(key),
                                    show(&Value::List(l.clone()))
                                ),
                            };
                            internal(&mut found, ti, note);
                        }
                    }
                    *st = (Some(l), Vec::new(), true);
                }
                Mop::Read { .. } | Mop::Write { .. } => {}
            }
        }
    }

    let mut g = Graph::new(txns.len());
    let failed = |w: &Writer| txns[w.txn as usize].status == Status::Fail;
    for (key, k) in &keys.items {
        let Some(&longest_at) = k
            .reads
            .iter()
            .max_by_key(|r| (read_list(txns, **r).len(), std::cmp::Reverse(**r)))
        else {
            continue;
        };
        let longest = read_list(txns, longest_at);
        let mut broken = false;
        // Reads that are not a prefix of the longest: their elements are checked too.
        let mut check = vec![longest_at];
        for r in &k.reads {
            let l = read_list(txns, *r);
            if longest[..l.len()] != *l {
                if !broken {
                    found.push(Found::plain(
                        AnomalyKind::IncompatibleOrder,
                        vec![longest_at.0, r.0],
                        format!(
                            "{} read {} = {} and {} read {} = {}: neither is a prefix of the other",
                            txns[longest_at.0 as usize].label(),
                            show_key(key),
                            show(&Value::List(longest.to_vec())),
                            txns[r.0 as usize].label(),
                            show_key(key),
                            show(&Value::List(l.to_vec()))
                        ),
                    ));
                }
                broken = true;
                check.push(*r);
            }
        }
        let mut reported: HashSet<&Value> = HashSet::new();
        let mut dirty_reported = false;
        for r in check {
            let l = read_list(txns, r);
            let reader = txns[r.0 as usize].label();
            let mut seen: HashSet<&Value> = HashSet::with_capacity(l.len());
            let mut first_failed: Option<(u32, &Value)> = None;
            for v in l {
                if !seen.insert(v) && reported.insert(v) {
                    broken = true;
                    found.push(Found::plain(
                        AnomalyKind::DuplicateElements,
                        vec![r.0],
                        format!(
                            "{reader} read {} = {}, where {} appears more than once",
                            show_key(key),
                            show(&Value::List(l.to_vec())),
                            show(v)
                        ),
                    ));
                }
                match k.writers.get(v) {
                    None => {
                        if reported.insert(v) {
                            found.push(Found::plain(
                                AnomalyKind::GarbageRead,
                                vec![r.0],
                                format!(
                                    "{reader} read {} = {}, but no transaction appended {}",
                                    show_key(key),
                                    show(&Value::List(l.to_vec())),
                                    show(v)
                                ),
                            ));
                        }
                    }
                    Some(w) if failed(w) => {
                        if reported.insert(v) {
                            found.push(Found::plain(
                                AnomalyKind::G1a,
                                vec![w.txn, r.0],
                                format!(
                                    "{} failed, yet {reader} read {} = {}, which holds its append of {}",
                                    txns[w.txn as usize].label(),
                                    show_key(key),
                                    show(&Value::List(l.to_vec())),
                                    show(v)
                                ),
                            ));
                        }
                        first_failed.get_or_insert((w.txn, v));
                    }
                    Some(w) => {
                        if let (Some((f, fv)), false) = (first_failed, dirty_reported) {
                            dirty_reported = true;
                            found.push(Found::plain(
                                AnomalyKind::DirtyUpdate,
                                vec![f, w.txn, r.0],
                                format!(
                                    "{reader} read {} = {}: {}'s append of {} follows the failed {}'s append of {}",
                                    show_key(key),
                                    show(&Value::List(l.to_vec())),
                                    txns[w.txn as usize].label(),
                                    show(v),
                                    txns[f as usize].label(),
                                    show(fv)
                                ),
                            ));
                        }
                    }
                }
            }
        }
        let basis = Basis::Observed {
            reader: longest_at.0,
        };
        let writer_of = |v: &Value| k.writers.get(v).filter(|w| !failed(w)).copied();
        if !broken {
            for pair in longest.windows(2) {
                if let (Some(a), Some(b)) = (writer_of(&pair[0]), writer_of(&pair[1])) {
                    if a.txn != b.txn {
                        g.add(
                            a.txn,
                            b.txn,
                            WW,
                            Why::Ww {
                                key: key.clone(),
                                prev: pair[0].clone(),
                                next: pair[1].clone(),
                                basis: basis.clone(),
                            },
                        );
                    }
                }
            }
        }
        for r in &k.external {
            let l = read_list(txns, *r);
            if let Some(last) = l.last() {
                if let Some(w) = writer_of(last) {
                    if w.txn != r.0 {
                        g.add(
                            w.txn,
                            r.0,
                            WR,
                            Why::Wr {
                                key: key.clone(),
                                value: last.clone(),
                            },
                        );
                        if !w.last {
                            found.push(Found::plain(
                                AnomalyKind::G1b,
                                vec![w.txn, r.0],
                                format!(
                                    "{} read {} = {}, ending with {}, which {} appended before its last append to {}",
                                    txns[r.0 as usize].label(),
                                    show_key(key),
                                    show(&Value::List(l.to_vec())),
                                    show(last),
                                    txns[w.txn as usize].label(),
                                    show_key(key)
                                ),
                            ));
                        }
                    }
                }
            }
            if !broken {
                if let Some(next) = longest.get(l.len()) {
                    if let Some(w) = writer_of(next) {
                        if w.txn != r.0 {
                            g.add(
                                r.0,
                                w.txn,
                                RW,
                                Why::Rw {
                                    key: key.clone(),
                                    read: l.last().cloned().unwrap_or(Value::Nil),
                                    next: next.clone(),
                                    basis: basis.clone(),
                                },
                            );
                        }
                    }
                }
            }
        }
        lost_updates(
            &mut found,
            txns,
            key,
            k.rmw.iter().map(|t| {
                let at = k
                    .external
                    .iter()
                    .find(|e| e.0 == *t)
                    .copied()
                    .unwrap_or((0, 0));
                (
                    *t,
                    read_list(txns, at).last().cloned().unwrap_or(Value::Nil),
                )
            }),
            "appended to it",
        );
    }
    order_edges(&mut g, txns);
    g.finish();
    Ok(Inferred { graph: g, found })
}

/// Read-modify-writes `(txn, version read)` of `key`: two that read the same version are a
/// lost update.
fn lost_updates(
    found: &mut Vec<Found>,
    txns: &[Txn],
    key: &Value,
    rmw: impl Iterator<Item = (u32, Value)>,
    wrote: &str,
) {
    let mut by_version: Vec<(Value, Vec<u32>)> = Vec::new();
    let mut index: HashMap<Value, usize> = HashMap::new();
    for (t, v) in rmw {
        match index.get(&v) {
            Some(i) => by_version[*i].1.push(t),
            None => {
                index.insert(v.clone(), by_version.len());
                by_version.push((v, vec![t]));
            }
        }
    }
    for (v, ts) in by_version {
        if ts.len() > 1 {
            let names: Vec<String> = ts.iter().map(|t| txns[*t as usize].label()).collect();
            let version = if v.is_nil() {
                "the initial state".to_string()
            } else {
                format!("the version {}", show(&v))
            };
            found.push(Found::plain(
                AnomalyKind::LostUpdate,
                ts,
                format!(
                    "{} {} read {version} of {} and {wrote}",
                    names.join(", "),
                    if names.len() == 2 { "both" } else { "all" },
                    show_key(key)
                ),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rw-register

#[derive(Default)]
struct RegisterKey {
    writers: HashMap<Value, Writer>,
    /// First reads (before the transaction's own writes) by committed transactions.
    external: Vec<(u32, Value)>,
    /// Read-modify-writes: (txn, version read, its last write).
    rmw: Vec<(u32, Value, Value)>,
}

pub fn rw_register(txns: &[Txn]) -> Result<Inferred, CheckError> {
    let mut keys: Keys<RegisterKey> = Keys::new();
    writers(txns, &mut keys, |k| &mut k.writers, "wrote")?;
    let mut found = Vec::new();
    for (i, t) in txns.iter().enumerate() {
        if t.status != Status::Ok {
            continue;
        }
        let ti = i as u32;
        // Per key: last write, last read, first read (before any write), reported.
        type St<'a> = (
            Option<&'a Value>,
            Option<&'a Value>,
            Option<&'a Value>,
            bool,
            bool,
        );
        let mut state: Vec<(&Value, St)> = Vec::new();
        let mut at: HashMap<&Value, usize> = HashMap::new();
        for m in &t.mops {
            let key = m.key();
            let s = *at.entry(key).or_insert_with(|| {
                state.push((key, (None, None, None, false, false)));
                state.len() - 1
            });
            let st = &mut state[s].1;
            match m {
                Mop::Write { value, .. } => {
                    st.0 = Some(value);
                    st.3 = true;
                }
                Mop::Read { value: Some(v), .. } => {
                    let expected = st.0.or(st.1);
                    if let (Some(e), false) = (expected, st.4) {
                        if e != v {
                            st.4 = true;
                            let note = if st.0.is_some() {
                                format!(
                                    "{} wrote {k} = {}, then read {k} = {}",
                                    t.label(),
                                    show(e),
                                    show(v),
                                    k = show_key(key)
                                )
                            } else {
                                format!(
                                    "{} read {k} = {}, then {k} = {} with no write between",
                                    t.label(),
                                    show(e),
                                    show(v),
                                    k = show_key(key)
                                )
                            };
                            internal(&mut found, ti, note);
                        }
                    }
                    if !st.3 {
                        st.2 = Some(v);
                        st.3 = true;
                    }
                    st.1 = Some(v);
                }
                _ => {}
            }
        }
        for (key, st) in state {
            if let Some(read) = st.2 {
                let k = keys.get(key);
                k.external.push((ti, read.clone()));
                if let Some(w) = st.0 {
                    k.rmw.push((ti, read.clone(), w.clone()));
                }
            }
        }
    }

    let mut g = Graph::new(txns.len());
    let status = |t: u32| txns[t as usize].status;
    for (key, k) in &keys.items {
        let mut readers: HashMap<&Value, Vec<u32>> = HashMap::new();
        let mut observed: HashSet<u32> = HashSet::new();
        let mut reported: HashSet<&Value> = HashSet::new();
        for (r, v) in &k.external {
            readers.entry(v).or_default().push(*r);
            if v.is_nil() {
                continue;
            }
            let reader = txns[*r as usize].label();
            match k.writers.get(v) {
                Some(w) if w.txn == *r => {}
                None => {
                    if reported.insert(v) {
                        found.push(Found::plain(
                            AnomalyKind::GarbageRead,
                            vec![*r],
                            format!(
                                "{reader} read {} = {}, but no transaction wrote it",
                                show_key(key),
                                show(v)
                            ),
                        ));
                    }
                }
                Some(w) if status(w.txn) == Status::Fail => {
                    if reported.insert(v) {
                        found.push(Found::plain(
                            AnomalyKind::G1a,
                            vec![w.txn, *r],
                            format!(
                                "{} failed, yet {reader} read its write {} = {}",
                                txns[w.txn as usize].label(),
                                show_key(key),
                                show(v)
                            ),
                        ));
                    }
                }
                Some(w) => {
                    observed.insert(w.txn);
                    g.add(
                        w.txn,
                        *r,
                        WR,
                        Why::Wr {
                            key: key.clone(),
                            value: v.clone(),
                        },
                    );
                    if !w.last {
                        found.push(Found::plain(
                            AnomalyKind::G1b,
                            vec![w.txn, *r],
                            format!(
                                "{reader} read {} = {}, which {} overwrote later in the same transaction",
                                show_key(key),
                                show(v),
                                txns[w.txn as usize].label()
                            ),
                        ));
                    }
                }
            }
        }
        lost_updates(
            &mut found,
            txns,
            key,
            k.rmw.iter().map(|(t, a, _)| (*t, a.clone())),
            "wrote it",
        );
        // Versions that follow a known one: a -> [(txn, b)], in order of appearance.
        let mut succ: Vec<(&Value, Vec<(u32, &Value)>)> = Vec::new();
        let mut succ_at: HashMap<&Value, usize> = HashMap::new();
        let mut has_pred: HashSet<&Value> = HashSet::new();
        for (t, a, b) in &k.rmw {
            let i = *succ_at.entry(a).or_insert_with(|| {
                succ.push((a, Vec::new()));
                succ.len() - 1
            });
            succ[i].1.push((*t, b));
            has_pred.insert(b);
        }
        let no_readers = Vec::new();
        for (a, later) in &succ {
            if !a.is_nil() {
                if let Some(w) = k.writers.get(*a) {
                    if status(w.txn) != Status::Fail && w.last {
                        for (t, b) in later {
                            g.add(
                                w.txn,
                                *t,
                                WW,
                                Why::Ww {
                                    key: key.clone(),
                                    prev: (*a).clone(),
                                    next: (*b).clone(),
                                    basis: Basis::ReadThenWrite { txn: *t },
                                },
                            );
                        }
                    }
                }
            }
            let rs = readers.get(*a).unwrap_or(&no_readers);
            let targets: Vec<(u32, Value, Basis)> = later
                .iter()
                .map(|(t, b)| (*t, (*b).clone(), Basis::ReadThenWrite { txn: *t }))
                .collect();
            anti_dependencies(&mut g, key, a, rs, &targets);
        }
        // The initial state precedes every version with no known predecessor.
        let mut roots: Vec<(u32, Value, Basis)> = k
            .writers
            .iter()
            .filter(|(v, w)| {
                w.last
                    && !has_pred.contains(v)
                    && match status(w.txn) {
                        Status::Ok => true,
                        Status::Info => observed.contains(&w.txn),
                        Status::Fail => false,
                    }
            })
            .map(|(v, w)| (w.txn, v.clone(), Basis::Initial))
            .collect();
        roots.sort_by_key(|r| r.0);
        if let Some(rs) = readers.get(&Value::Nil) {
            anti_dependencies(&mut g, key, &Value::Nil, rs, &roots);
        }
    }
    order_edges(&mut g, txns);
    g.finish();
    Ok(Inferred { graph: g, found })
}

/// rw edges from every reader of version `read` of `key` to every writer of a later version
/// in `targets`; through a junction when both sides are many.
fn anti_dependencies(
    g: &mut Graph,
    key: &Value,
    read: &Value,
    readers: &[u32],
    targets: &[(u32, Value, Basis)],
) {
    let writers: HashSet<u32> = targets.iter().map(|t| t.0).collect();
    let rw = |next: &Value, basis: &Basis| Why::Rw {
        key: key.clone(),
        read: read.clone(),
        next: next.clone(),
        basis: basis.clone(),
    };
    let outsiders: Vec<u32> = readers
        .iter()
        .copied()
        .filter(|r| !writers.contains(r))
        .collect();
    let direct = |g: &mut Graph, rs: &[u32]| {
        for r in rs {
            for (t, next, basis) in targets {
                g.add(*r, *t, RW, rw(next, basis));
            }
        }
    };
    let insiders: Vec<u32> = readers
        .iter()
        .copied()
        .filter(|r| writers.contains(r))
        .collect();
    direct(g, &insiders);
    if outsiders.len() <= 1 || targets.len() <= 1 {
        direct(g, &outsiders);
    } else {
        let j = g.add_junction();
        for r in &outsiders {
            g.add(
                *r,
                j,
                RW,
                Why::RwToJunction {
                    key: key.clone(),
                    read: read.clone(),
                },
            );
        }
        for (t, next, basis) in targets {
            g.add(j, *t, WW, rw(next, basis));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Process and real-time order

/// Process order (each process's committed transaction to its next transaction) and real
/// time (a committed transaction to every transaction invoked after it completed, as a
/// transitive reduction: each transaction gets edges from the completed transactions not yet
/// followed by another completed one when it was invoked).
fn order_edges(g: &mut Graph, txns: &[Txn]) {
    let mut last_ok: HashMap<u64, u32> = HashMap::new();
    let mut times: Vec<(usize, u32)> = Vec::new();
    for (i, t) in txns.iter().enumerate() {
        if t.status == Status::Fail {
            continue;
        }
        let ti = i as u32;
        if let Some(p) = last_ok.get(&t.process) {
            g.add(*p, ti, PROCESS, Why::Process { process: t.process });
        }
        if t.status == Status::Ok {
            last_ok.insert(t.process, ti);
        }
        if let Some(inv) = t.invoke {
            times.push((inv, ti));
            if let (Status::Ok, Some(c)) = (t.status, t.complete) {
                times.push((c, ti));
            }
        }
    }
    times.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut drop = vec![false; txns.len()];
    for (time, t) in times {
        let txn = &txns[t as usize];
        if txn.invoke == Some(time) {
            for p in &frontier {
                g.add(
                    *p,
                    t,
                    REALTIME,
                    Why::Realtime {
                        completed: txns[*p as usize].complete.unwrap_or(0),
                        invoked: time,
                    },
                );
            }
            if txn.status == Status::Ok {
                preds.insert(t, frontier.clone());
            }
        } else {
            let before = preds.remove(&t).unwrap_or_default();
            for p in &before {
                drop[*p as usize] = true;
            }
            frontier.retain(|p| !drop[*p as usize]);
            for p in &before {
                drop[*p as usize] = false;
            }
            frontier.push(t);
        }
    }
}

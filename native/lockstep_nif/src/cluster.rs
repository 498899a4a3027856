//! Cluster terms: `{:cluster, ...}` operations to engine operations, cluster replies and net
//! events to terms, and the node queries that are no steps (`node/0`, `node/1`).

use crate::decode::PendingRef;
use crate::run::{lock, RunResource, RunState};
use crate::terms::show;
use lockstep_core::cluster::Mode;
use lockstep_core::trace::{DropWhy, NetEvent};
use lockstep_core::{ClusterOp, Name, Op, ProcId};
use rustler::{Atom, Encoder, Env, LocalPid, ResourceArc, Term};

/// The most nodes one operation may name (the engine's own bound is on the run).
const MAX_LISTED: usize = 256;

fn atom_name(term: Term<'_>, what: &str) -> Result<Name, String> {
    if !term.is_atom() {
        return Err(format!("{what} must be an atom, got {}", show(term)));
    }
    term.atom_to_string()
        .map(Name::from)
        .map_err(|_| format!("{what} is not valid UTF-8"))
}

fn node_list(term: Term<'_>) -> Result<Vec<Name>, String> {
    let items: Vec<Term<'_>> = term
        .decode()
        .map_err(|_| format!("expected a list of node names, got {}", show(term)))?;
    if items.len() > MAX_LISTED {
        return Err(format!("at most {MAX_LISTED} nodes per call"));
    }
    items
        .into_iter()
        .map(|t| atom_name(t, "a node name"))
        .collect()
}

fn tag_is(term: Term<'_>, name: &str) -> bool {
    term.is_atom() && term.atom_to_string().is_ok_and(|s| s == name)
}

fn flag(term: Term<'_>, what: &str) -> Result<bool, String> {
    term.decode()
        .map_err(|_| format!("{what} must be a boolean, got {}", show(term)))
}

impl RunState {
    /// `{:cluster, what, ...}`. A spawn with a monitor puts its ref into `pending`.
    pub fn decode_cluster(
        &self,
        items: &[Term<'_>],
        pending: &mut Option<PendingRef>,
    ) -> Result<Op<crate::payload::Payload>, String> {
        let bad = || {
            let shown: Vec<String> = items.iter().map(|t| show(*t)).collect();
            format!("malformed cluster operation {{{}}}", shown.join(", "))
        };
        let what = items.get(1).copied().ok_or_else(bad)?;
        let args = &items[2..];
        let arity = |n: usize| if args.len() == n { Ok(()) } else { Err(bad()) };
        let op = if tag_is(what, "start_nodes") {
            arity(1)?;
            ClusterOp::StartNodes {
                names: node_list(args[0])?,
            }
        } else if tag_is(what, "spawn") {
            arity(3)?;
            let monitor = !tag_is(args[2], "nil");
            if monitor {
                *pending = Some(self.cluster_ref(args[2])?);
            }
            ClusterOp::Spawn {
                node: atom_name(args[0], "the node")?,
                link: flag(args[1], "the link flag")?,
                monitor,
            }
        } else if tag_is(what, "partition") {
            arity(4)?;
            let mode = if tag_is(args[2], "drop") {
                Mode::Drop
            } else if tag_is(args[2], "defer") {
                Mode::Defer
            } else {
                return Err(format!(
                    "a partition's mode must be :drop or :defer, got {}",
                    show(args[2])
                ));
            };
            ClusterOp::Partition {
                from: node_list(args[0])?,
                to: node_list(args[1])?,
                mode,
                one_way: flag(args[3], "one_way")?,
            }
        } else if tag_is(what, "heal") {
            arity(1)?;
            let partition = if tag_is(args[0], "all") {
                None
            } else {
                Some(args[0].decode::<u32>().map_err(|_| {
                    format!("heal takes a partition id or :all, got {}", show(args[0]))
                })?)
            };
            ClusterOp::Heal { partition }
        } else if tag_is(what, "stop_node") {
            arity(1)?;
            ClusterOp::StopNode {
                node: atom_name(args[0], "the node")?,
            }
        } else if tag_is(what, "start_node") {
            arity(1)?;
            ClusterOp::StartNode {
                node: atom_name(args[0], "the node")?,
            }
        } else if tag_is(what, "monitor_node") {
            arity(2)?;
            ClusterOp::MonitorNode {
                node: atom_name(args[0], "the node")?,
                on: flag(args[1], "monitor_node's flag")?,
            }
        } else if tag_is(what, "set_ticktime") {
            arity(1)?;
            ClusterOp::SetTicktime {
                ms: args[0].decode().map_err(|_| {
                    format!(
                        "the net tick time must be a positive integer (ms), got {}",
                        show(args[0])
                    )
                })?,
            }
        } else if tag_is(what, "nodes") {
            arity(1)?;
            ClusterOp::Nodes {
                all: flag(args[0], "the all flag")?,
            }
        } else if tag_is(what, "whereis_on") {
            arity(2)?;
            ClusterOp::WhereisOn {
                name: atom_name(args[0], "the name")?,
                node: atom_name(args[1], "the node")?,
            }
        } else {
            return Err(bad());
        };
        Ok(Op::Cluster(op))
    }

    fn cluster_ref(&self, term: Term<'_>) -> Result<PendingRef, String> {
        if !term.is_ref() {
            return Err(format!("expected a reference, got {}", show(term)));
        }
        Ok(PendingRef {
            key: crate::decode::ref_key(term),
            term: crate::payload::Payload::new(term),
        })
    }

    /// A net event as `{:net, what, ...}`, nodes as atoms and processes as their ids.
    pub fn net_event<'a>(&self, env: Env<'a>, e: &NetEvent) -> Term<'a> {
        let a = |s: &str| Atom::from_str(env, s).map_or_else(|_| s.encode(env), |a| a.encode(env));
        let nodes = |ns: &[Name]| -> Vec<Term<'a>> { ns.iter().map(|n| a(n)).collect() };
        let net = a("net");
        match e {
            NetEvent::NodesStarted { nodes: ns } => {
                (net, a("nodes_started"), nodes(ns)).encode(env)
            }
            NetEvent::Partitioned {
                id,
                from,
                to,
                mode,
                one_way,
                fault,
            } => (
                net,
                a("partitioned"),
                *id,
                nodes(from),
                nodes(to),
                (a(mode.name()), *one_way, *fault),
            )
                .encode(env),
            NetEvent::Healed {
                ids,
                released,
                fault,
            } => (net, a("healed"), ids.clone(), *released, *fault).encode(env),
            NetEvent::Detected { id } => (net, a("detected"), *id).encode(env),
            NetEvent::NodeStopped { node, fault } => {
                (net, a("node_stopped"), a(node), *fault).encode(env)
            }
            NetEvent::NodeStarted { node, fault } => {
                (net, a("node_started"), a(node), *fault).encode(env)
            }
            NetEvent::Ticktime { ms } => (net, a("ticktime"), *ms).encode(env),
            NetEvent::MonitorNode { node, on } => {
                (net, a("monitor_node"), a(node), *on).encode(env)
            }
            NetEvent::Nodes { all, count } => (net, a("nodes"), *all, *count).encode(env),
            NetEvent::Sent { id, from, to, held } => {
                (net, a("sent"), id.0, a(from), a(to), *held).encode(env)
            }
            NetEvent::Arrived {
                id,
                from,
                to,
                target,
            } => (net, a("arrived"), id.0, a(from), a(to), target.0).encode(env),
            NetEvent::Dropped { id, from, to, why } => {
                let why = match why {
                    DropWhy::Partition(p) => (a("partition"), *p).encode(env),
                    DropWhy::NodeDown => a("nodedown"),
                    DropWhy::NoTarget => a("no_target"),
                };
                (net, a("dropped"), id.0, a(from), a(to), why).encode(env)
            }
            NetEvent::GlobalClash { name, kept, killed } => {
                let name = match self.global_terms.get(name) {
                    Some(t) => t.load(env),
                    None => name.encode(env),
                };
                (net, a("global_clash"), name, kept.0, killed.0).encode(env)
            }
        }
    }
}

/// The node a managed pid runs on in the run's cluster, or `nil` for a pid that is not the
/// run's. No step: the node of a process never changes.
#[rustler::nif]
fn run_node_of<'a>(env: Env<'a>, run: ResourceArc<RunResource>, pid: LocalPid) -> Term<'a> {
    match lock(&run) {
        Ok(st) => match st.by_pid.get(&pid).and_then(|p| st.ctl.node_of(*p)) {
            Some(name) => Atom::from_str(env, name).map_or_else(
                |_| rustler::types::atom::nil().encode(env),
                |a| a.encode(env),
            ),
            None => rustler::types::atom::nil().encode(env),
        },
        Err(e) => (rustler::types::atom::error(), e).encode(env),
    }
}

/// `[{id, node, kind}]` for every process of the run, with kind `:process`, or
/// `{:channel, from, to}` for the engine's channels between nodes (what reports name them by).
#[rustler::nif]
fn run_nodes<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => {
            let atom = |s: &str| {
                Atom::from_str(env, s).map_or_else(
                    |_| rustler::types::atom::nil().encode(env),
                    |a| a.encode(env),
                )
            };
            let list: Vec<Term<'a>> = (0..st.ctl.process_count())
                .map(|i| ProcId(i as u32))
                .map(|p| {
                    let node = st.ctl.node_of(p).map_or("", |n| n);
                    let kind = match st.ctl.channel_of(p) {
                        Some((from, to)) => {
                            (Atom::from_str(env, "channel").ok(), atom(from), atom(to)).encode(env)
                        }
                        None => atom("process"),
                    };
                    (p.0, atom(node), kind).encode(env)
                })
                .collect();
            list.encode(env)
        }
        Err(e) => (rustler::types::atom::error(), e).encode(env),
    }
}

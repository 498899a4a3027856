//! The simulated cluster's state: named nodes, partitions between groups of them, and which
//! pairs of nodes can hear each other. The controller keeps one [`Cluster`] per run and asks it
//! where a cross-node message may go; the messages themselves travel in channel processes of the
//! controller (one per ordered pair of nodes, FIFO), so that delivering one is a step the
//! strategy schedules.
//!
//! Rules, as distributed Erlang has them:
//! - Every process belongs to a node; the root's node is node 0 (named `nonode@nohost` unless
//!   the run names it). Within a node, delivery is instant; between nodes, ordered per pair of
//!   nodes (so per pair of processes), and nothing is ordered across pairs.
//! - A partition cuts the traffic from one group of nodes to another (both ways, or one way).
//!   With [`Mode::Drop`] what crosses the cut is lost; with [`Mode::Defer`] it waits in its
//!   channel and is delivered when the partition heals, in send order.
//! - A partition is *detected* once the virtual net tick time has passed since it began: the
//!   connection is then down in both directions (a node that stops hearing another drops the
//!   connection as a whole), monitors and links across it fire with `noconnection`, and the
//!   nodes leave each other's `Node.list/0`, until the partition heals.

use crate::ids::Name;
use std::collections::BTreeSet;
use std::fmt;

/// A node of the simulated cluster, numbered in the order the run named it (0 is the root's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u16);

impl NodeId {
    pub const ROOT: NodeId = NodeId(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The most nodes a run may name (channel ids and fault ids are derived from node numbers).
pub const MAX_NODES: usize = 256;

/// The default virtual `net_ticktime`, in ms (the BEAM's default is 60 s; simulated clusters
/// use a shorter one so tests detect partitions quickly; settable per run).
pub const DEFAULT_TICKTIME: u64 = 15_000;

/// What happens to traffic that crosses a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Lost.
    Drop,
    /// Held in its channel and delivered at heal, in send order.
    Defer,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Drop => "drop",
            Mode::Defer => "defer",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRec {
    pub name: Name,
    pub up: bool,
    /// How many times the node was started; a restarted node is a new incarnation with nothing
    /// of the old one (no processes, names, tables or persistent terms).
    pub incarnation: u32,
}

/// A cut between two groups of nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Numbered from 1 in creation order within the run.
    pub id: u32,
    pub from: BTreeSet<NodeId>,
    pub to: BTreeSet<NodeId>,
    /// When true only traffic from `from` to `to` is cut (until detected).
    pub one_way: bool,
    pub mode: Mode,
    /// Virtual time at which it began.
    pub since: u64,
    /// Whether the net tick time has passed since it began (the connection is then down).
    pub detected: bool,
    /// Made by the fault injector rather than by the test.
    pub fault: bool,
}

impl Partition {
    /// Whether this partition separates `a` and `b` at all (either way).
    pub fn separates(&self, a: NodeId, b: NodeId) -> bool {
        (self.from.contains(&a) && self.to.contains(&b))
            || (self.from.contains(&b) && self.to.contains(&a))
    }

    /// Whether traffic from `a` to `b` crosses this partition's cut now.
    pub fn cuts(&self, a: NodeId, b: NodeId) -> bool {
        if self.one_way && !self.detected {
            self.from.contains(&a) && self.to.contains(&b)
        } else {
            self.separates(a, b)
        }
    }
}

/// Why a cluster operation was refused (the calling process raises an `ArgumentError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterError {
    UnknownNode(Name),
    TooManyNodes,
    /// A node in both groups of a partition, or an empty group.
    BadGroups(String),
    UnknownPartition(u32),
    NodeDown(Name),
    /// The root's node cannot be stopped (the test body runs there).
    RootNode,
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::UnknownNode(n) => write!(f, "unknown node {n}"),
            ClusterError::TooManyNodes => write!(f, "a run can name at most {MAX_NODES} nodes"),
            ClusterError::BadGroups(why) => f.write_str(why),
            ClusterError::UnknownPartition(id) => write!(f, "no active partition {id}"),
            ClusterError::NodeDown(n) => write!(f, "node {n} is down"),
            ClusterError::RootNode => {
                f.write_str("the root's node cannot be stopped: the test body runs there")
            }
        }
    }
}

/// The nodes and partitions of one run.
#[derive(Clone, Debug)]
pub struct Cluster {
    nodes: Vec<NodeRec>,
    partitions: Vec<Partition>,
    next_partition: u32,
    pub ticktime: u64,
}

impl Cluster {
    pub fn new(root_name: Name) -> Self {
        Cluster {
            nodes: vec![NodeRec {
                name: root_name,
                up: true,
                incarnation: 1,
            }],
            partitions: Vec::new(),
            next_partition: 1,
            ticktime: DEFAULT_TICKTIME,
        }
    }

    /// Whether the run ever named a node besides the root's (then it is a cluster run).
    pub fn is_cluster(&self) -> bool {
        self.nodes.len() > 1
    }

    pub fn nodes(&self) -> &[NodeRec] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> &NodeRec {
        &self.nodes[id.index()]
    }

    pub fn name(&self, id: NodeId) -> &Name {
        &self.nodes[id.index()].name
    }

    pub fn lookup(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| &*n.name == name)
            .map(|i| NodeId(i as u16))
    }

    pub fn resolve(&self, name: &str) -> Result<NodeId, ClusterError> {
        self.lookup(name)
            .ok_or_else(|| ClusterError::UnknownNode(name.into()))
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes.get(id.index()).is_some_and(|n| n.up)
    }

    /// Name a node (idempotent: a known name keeps its number and state). New nodes are up.
    pub fn add(&mut self, name: Name) -> Result<NodeId, ClusterError> {
        if let Some(id) = self.lookup(&name) {
            return Ok(id);
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(ClusterError::TooManyNodes);
        }
        self.nodes.push(NodeRec {
            name,
            up: true,
            incarnation: 1,
        });
        Ok(NodeId((self.nodes.len() - 1) as u16))
    }

    pub fn set_up(&mut self, id: NodeId, up: bool) {
        let n = &mut self.nodes[id.index()];
        if up && !n.up {
            n.incarnation += 1;
        }
        n.up = up;
    }

    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// Add a partition between two groups; returns its id.
    pub fn partition(
        &mut self,
        from: BTreeSet<NodeId>,
        to: BTreeSet<NodeId>,
        mode: Mode,
        one_way: bool,
        now: u64,
        fault: bool,
    ) -> Result<u32, ClusterError> {
        if from.is_empty() || to.is_empty() {
            return Err(ClusterError::BadGroups(
                "a partition needs a node on each side".into(),
            ));
        }
        if let Some(n) = from.intersection(&to).next() {
            return Err(ClusterError::BadGroups(format!(
                "node {} is on both sides of the partition",
                self.name(*n)
            )));
        }
        let id = self.next_partition;
        self.next_partition += 1;
        self.partitions.push(Partition {
            id,
            from,
            to,
            one_way,
            mode,
            since: now,
            detected: false,
            fault,
        });
        Ok(id)
    }

    /// Remove one partition (or all with `None`); returns the removed ones.
    pub fn heal(&mut self, id: Option<u32>) -> Result<Vec<Partition>, ClusterError> {
        match id {
            None => Ok(std::mem::take(&mut self.partitions)),
            Some(id) => match self.partitions.iter().position(|p| p.id == id) {
                Some(i) => Ok(vec![self.partitions.remove(i)]),
                None => Err(ClusterError::UnknownPartition(id)),
            },
        }
    }

    pub fn partition_mut(&mut self, id: u32) -> Option<&mut Partition> {
        self.partitions.iter_mut().find(|p| p.id == id)
    }

    /// The partition that cuts traffic from `a` to `b` now, if any (the first one made wins
    /// when several do: its mode decides the traffic's fate).
    pub fn cut(&self, a: NodeId, b: NodeId) -> Option<&Partition> {
        if a == b {
            return None;
        }
        self.partitions.iter().find(|p| p.cuts(a, b))
    }

    /// Whether `a` and `b` are connected: both up and no detected partition between them. What
    /// `Node.list/0` and the global name space's views follow.
    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        if a == b {
            return self.is_up(a);
        }
        self.is_up(a)
            && self.is_up(b)
            && !self
                .partitions
                .iter()
                .any(|p| p.detected && p.separates(a, b))
    }

    /// `Node.list/0` as seen from `from`: the other up nodes it is connected to, in naming
    /// order. The root's node counts as a node of the cluster like any other.
    pub fn visible(&self, from: NodeId) -> Vec<NodeId> {
        (0..self.nodes.len())
            .map(|i| NodeId(i as u16))
            .filter(|&n| n != from && self.connected(from, n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u16]) -> BTreeSet<NodeId> {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    fn three() -> Cluster {
        let mut c = Cluster::new("nonode@nohost".into());
        for n in ["a", "b", "c"] {
            c.add(n.into()).unwrap();
        }
        c
    }

    #[test]
    fn nodes_are_named_once_and_keep_their_numbers() {
        let mut c = three();
        assert_eq!(c.add("b".into()), Ok(NodeId(2)));
        assert_eq!(c.lookup("c"), Some(NodeId(3)));
        assert_eq!(c.resolve("d"), Err(ClusterError::UnknownNode("d".into())));
        assert!(c.is_cluster());
    }

    #[test]
    fn a_one_way_partition_cuts_one_direction_until_detected() {
        let mut c = three();
        let id = c
            .partition(set(&[1]), set(&[2]), Mode::Drop, true, 0, false)
            .unwrap();
        assert!(c.cut(NodeId(1), NodeId(2)).is_some());
        assert!(c.cut(NodeId(2), NodeId(1)).is_none());
        assert!(c.connected(NodeId(1), NodeId(2)));
        c.partition_mut(id).unwrap().detected = true;
        assert!(c.cut(NodeId(2), NodeId(1)).is_some());
        assert!(!c.connected(NodeId(1), NodeId(2)));
        assert_eq!(c.visible(NodeId(1)), vec![NodeId(0), NodeId(3)]);
        c.heal(Some(id)).unwrap();
        assert!(c.connected(NodeId(1), NodeId(2)));
    }

    #[test]
    fn bad_groups_are_refused() {
        let mut c = three();
        assert!(c
            .partition(set(&[1, 2]), set(&[2]), Mode::Drop, false, 0, false)
            .is_err());
        assert!(c
            .partition(set(&[]), set(&[2]), Mode::Drop, false, 0, false)
            .is_err());
        assert_eq!(c.heal(Some(9)), Err(ClusterError::UnknownPartition(9)));
    }

    #[test]
    fn a_down_node_is_connected_to_nobody_and_restarts_as_a_new_incarnation() {
        let mut c = three();
        c.set_up(NodeId(2), false);
        assert!(!c.connected(NodeId(1), NodeId(2)));
        assert_eq!(c.visible(NodeId(1)), vec![NodeId(0), NodeId(3)]);
        c.set_up(NodeId(2), true);
        assert_eq!(c.node(NodeId(2)).incarnation, 2);
    }
}

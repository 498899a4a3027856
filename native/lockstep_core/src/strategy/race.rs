//! Which pending operations race: pairs whose order can change what the program observes.
//! Partial-order sampling ([`super::Pos`]) re-draws the priorities of the operations racing with
//! the one just executed; everything here is a cheap function of two [`Candidate`]s.
//!
//! Each operation reads or writes a few *resources*; two operations of different processes race
//! when they touch the same resource and at least one writes it:
//!
//! - the **mailbox** of `q`: written by a send to `q`, an exit signal to `q` (it may arrive as an
//!   `EXIT` message) and `q`'s own receives;
//! - the **liveness** of `q`: written by an exit signal to `q` and `q`'s own exit; read by a
//!   send, monitor, link, unlink, `alive?`, `register` or `whereis` that reaches `q`, and by
//!   `q`'s `trap_exit`;
//! - a **name** (local and global names are distinct resources): written by `register` and
//!   `unregister`; read by `whereis` and by a send or monitor addressed by name;
//! - a **name space** (local, global): read by every `register`, `unregister` and exit (an exit
//!   releases the process's names); written by listing the registered names. Listing is taken
//!   as the write so that it clashes with every change to the space while changes to different
//!   names still commute; as `registered` does not say which space it lists, it takes both;
//! - a **shared object**: written or read by `Sync` operations, clashing as
//!   [`sync_conflict`] says (same table, same key or whole table).
//!
//! The clock's choice (racing timers) races with everything: a timer may fire into any mailbox
//! or end any timed receive. `process_info` reads the target's mailbox and liveness.
//!
//! In addition an exit signal to `q` races with every pending operation of `q`: if it kills `q`,
//! that operation never runs. Operations with no visible effect on others (`start`, `spawn`,
//! `sleep`, `now`, `send_after`, `cancel_timer`, `demonitor`) race with nothing; a `send_after`
//! touches its target only when the timer fires, which is not a process's step.

use super::Candidate;
use crate::ids::ProcId;
use crate::op::{sync_conflict, OpKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    Mailbox(ProcId),
    Liveness(ProcId),
    /// A local or global name, by [`crate::op::name_hash`] or [`crate::op::global_name_hash`].
    Name(u64),
    /// The set of local (`false`) or global (`true`) names.
    NameSpace(bool),
    Object(u64),
}

#[derive(Clone, Copy, Debug)]
struct Access {
    resource: Resource,
    write: bool,
}

/// At most three resources per operation (a send by name: the name, the mailbox, the liveness).
type Accesses = [Option<Access>; 3];

const MAILBOX: u8 = 1;
const LIVENESS: u8 = 2;
const NAME: u8 = 4;
const OBJECT: u8 = 8;

/// The kinds of resource an operation of kind `op` may touch: a cheap filter before comparing
/// resources one by one (two operations whose kinds share no bit cannot conflict).
fn kinds(op: OpKind) -> u8 {
    match op {
        OpKind::Send => MAILBOX | LIVENESS | NAME,
        OpKind::Recv | OpKind::RecvMatch => MAILBOX,
        OpKind::Signal => MAILBOX | LIVENESS,
        OpKind::TrapExit | OpKind::Link | OpKind::Unlink | OpKind::Alive => LIVENESS,
        OpKind::Exit
        | OpKind::Monitor
        | OpKind::Whereis
        | OpKind::Register
        | OpKind::GlobalWhereis
        | OpKind::GlobalRegister => LIVENESS | NAME,
        OpKind::Unregister | OpKind::GlobalUnregister | OpKind::Registered => NAME,
        OpKind::Sync => OBJECT,
        OpKind::Start
        | OpKind::Spawn
        | OpKind::Sleep
        | OpKind::SendAfter
        | OpKind::CancelTimer
        | OpKind::ReadTimer
        | OpKind::Now
        | OpKind::SystemTime
        | OpKind::Demonitor => 0,
        OpKind::Info => MAILBOX | LIVENESS,
        // The clock fires timers into any mailbox and ends any timed receive.
        OpKind::Clock => MAILBOX | LIVENESS | NAME | OBJECT,
        // A channel delivering into its head message's target mailbox.
        OpKind::Deliver => MAILBOX | LIVENESS,
        // Cluster operations and faults reach every process of a node or more.
        OpKind::Cluster | OpKind::Fault => MAILBOX | LIVENESS | NAME | OBJECT,
    }
}

/// Whether an operation of kind `op` races with nothing at all (`start`, `spawn`, `sleep`,
/// `now`, timers, `demonitor`): no other process can tell when it ran.
pub(crate) fn is_invisible(op: OpKind) -> bool {
    kinds(op) == 0
}

fn read(resource: Resource) -> Option<Access> {
    Some(Access {
        resource,
        write: false,
    })
}

fn write(resource: Resource) -> Option<Access> {
    Some(Access {
        resource,
        write: true,
    })
}

impl Candidate {
    fn accesses(&self) -> Accesses {
        use Resource::*;
        let me = self.proc;
        let name = self.name.and_then(|n| read(Name(n)));
        let on_target = |f: fn(ProcId) -> Resource, w: bool| {
            self.target
                .and_then(|t| if w { write(f(t)) } else { read(f(t)) })
        };
        match self.op {
            OpKind::Send => [on_target(Mailbox, true), on_target(Liveness, false), name],
            OpKind::Recv | OpKind::RecvMatch => [write(Mailbox(me)), None, None],
            OpKind::Signal => [on_target(Mailbox, true), on_target(Liveness, true), None],
            OpKind::Exit => [
                write(Liveness(me)),
                read(NameSpace(false)),
                read(NameSpace(true)),
            ],
            OpKind::TrapExit => [read(Liveness(me)), None, None],
            OpKind::Monitor | OpKind::Whereis | OpKind::GlobalWhereis => {
                [on_target(Liveness, false), name, None]
            }
            OpKind::Link | OpKind::Unlink | OpKind::Alive => {
                [on_target(Liveness, false), None, None]
            }
            OpKind::Register | OpKind::GlobalRegister => [
                on_target(Liveness, false),
                self.name.and_then(|n| write(Name(n))),
                read(NameSpace(self.op == OpKind::GlobalRegister)),
            ],
            OpKind::Unregister | OpKind::GlobalUnregister => [
                self.name.and_then(|n| write(Name(n))),
                read(NameSpace(self.op == OpKind::GlobalUnregister)),
                None,
            ],
            OpKind::Registered => [write(NameSpace(false)), write(NameSpace(true)), None],
            OpKind::Sync => [
                self.object
                    .and_then(|(o, w)| if w { write(Object(o)) } else { read(Object(o)) }),
                None,
                None,
            ],
            OpKind::Info => [on_target(Mailbox, false), on_target(Liveness, false), None],
            OpKind::Deliver => [on_target(Mailbox, true), on_target(Liveness, true), None],
            OpKind::Cluster | OpKind::Fault => [None, None, None],
            OpKind::Start
            | OpKind::Spawn
            | OpKind::Sleep
            | OpKind::SendAfter
            | OpKind::CancelTimer
            | OpKind::ReadTimer
            | OpKind::Now
            | OpKind::SystemTime
            | OpKind::Demonitor
            | OpKind::Clock => [None, None, None],
        }
    }

    /// Whether executing `self` and `other` (pending operations of two processes) in either
    /// order can lead to different outcomes. Symmetric; never true for one process's own pair.
    pub fn races_with(&self, other: &Candidate) -> bool {
        RaceProbe::new(self).races_with(other)
    }

    /// An exit signal to the process that owns `other`.
    fn kills_pending_of(&self, other: &Candidate) -> bool {
        self.op == OpKind::Signal && self.target == Some(other.proc)
    }
}

/// One operation's resources, worked out once to test it against many others (what POS does
/// after every step).
pub(crate) struct RaceProbe {
    of: Candidate,
    kinds: u8,
    accesses: Accesses,
}

impl RaceProbe {
    pub(crate) fn new(of: &Candidate) -> Self {
        RaceProbe {
            of: *of,
            kinds: kinds(of.op),
            accesses: of.accesses(),
        }
    }

    pub(crate) fn races_with(&self, other: &Candidate) -> bool {
        if self.of.proc == other.proc {
            return false;
        }
        // A timer fire can reach any process's mailbox or end its receive.
        let global = |k| matches!(k, OpKind::Clock | OpKind::Cluster | OpKind::Fault);
        if global(self.of.op) || global(other.op) {
            return true;
        }
        if self.of.kills_pending_of(other) || other.kills_pending_of(&self.of) {
            return true;
        }
        if self.kinds & kinds(other.op) == 0 {
            return false;
        }
        // The common case among shared-state operations, without building the access lists.
        if let (Some((a, aw)), Some((b, bw))) = (self.of.object, other.object) {
            if self.of.op == OpKind::Sync && other.op == OpKind::Sync {
                return sync_conflict(a, aw, b, bw);
            }
        }
        let theirs = other.accesses();
        self.accesses
            .iter()
            .flatten()
            .any(|a| theirs.iter().flatten().any(|b| conflict(a, b)))
    }
}

fn conflict(a: &Access, b: &Access) -> bool {
    match (a.resource, b.resource) {
        (Resource::Object(x), Resource::Object(y)) => sync_conflict(x, a.write, y, b.write),
        (x, y) => x == y && (a.write || b.write),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{global_name_hash, name_hash, sync_object};

    fn c(proc: u32, op: OpKind) -> Candidate {
        Candidate::new(ProcId(proc), op)
    }

    fn to(proc: u32, op: OpKind, target: u32) -> Candidate {
        Candidate {
            target: Some(ProcId(target)),
            ..c(proc, op)
        }
    }

    fn sync(proc: u32, table: u32, key: u32, w: bool) -> Candidate {
        Candidate {
            object: Some((sync_object(table, key), w)),
            ..c(proc, OpKind::Sync)
        }
    }

    fn named(proc: u32, op: OpKind, name: &str, target: Option<u32>) -> Candidate {
        Candidate {
            name: Some(name_hash(name)),
            target: target.map(ProcId),
            ..c(proc, op)
        }
    }

    fn races(a: Candidate, b: Candidate) -> bool {
        let r = a.races_with(&b);
        assert_eq!(
            r,
            b.races_with(&a),
            "races_with must be symmetric: {a:?} {b:?}"
        );
        r
    }

    #[test]
    fn messages() {
        // Two sends to one receiver; a send and the receiver's receive.
        assert!(races(to(1, OpKind::Send, 3), to(2, OpKind::Send, 3)));
        assert!(races(to(1, OpKind::Send, 3), c(3, OpKind::Recv)));
        assert!(races(to(1, OpKind::Send, 3), c(3, OpKind::RecvMatch)));
        // Sends to different receivers, and a receive against an unrelated send, commute.
        assert!(!races(to(1, OpKind::Send, 3), to(2, OpKind::Send, 4)));
        assert!(!races(to(1, OpKind::Send, 3), c(4, OpKind::Recv)));
        // A send and the receiver's death; a send and an exit signal to the receiver.
        assert!(races(to(1, OpKind::Send, 3), c(3, OpKind::Exit)));
        assert!(races(to(1, OpKind::Send, 3), to(2, OpKind::Signal, 3)));
        // A send and the receiver's other operations.
        assert!(!races(to(1, OpKind::Send, 3), c(3, OpKind::Now)));
        // One process's own operations never race with each other.
        assert!(!races(to(3, OpKind::Send, 3), c(3, OpKind::Recv)));
    }

    #[test]
    fn liveness() {
        let exit = c(3, OpKind::Exit);
        for op in [
            OpKind::Monitor,
            OpKind::Link,
            OpKind::Unlink,
            OpKind::Alive,
            OpKind::Signal,
        ] {
            assert!(
                races(to(1, op, 3), exit),
                "{op:?} against the target's exit"
            );
            assert!(
                races(to(1, op, 3), to(2, OpKind::Signal, 3)),
                "{op:?} against a signal to its target"
            );
            assert!(!races(to(1, op, 3), c(4, OpKind::Exit)), "{op:?} elsewhere");
        }
        // Observers of one process commute with each other.
        assert!(!races(to(1, OpKind::Monitor, 3), to(2, OpKind::Alive, 3)));
        assert!(!races(to(1, OpKind::Link, 3), to(2, OpKind::Monitor, 3)));
        assert!(!races(to(1, OpKind::Send, 3), to(2, OpKind::Alive, 3)));
        // trap_exit decides what a signal does.
        assert!(races(c(3, OpKind::TrapExit), to(1, OpKind::Signal, 3)));
        assert!(!races(c(3, OpKind::TrapExit), to(1, OpKind::Send, 3)));
        // A signal to a process races with whatever that process is about to do.
        assert!(races(to(1, OpKind::Signal, 3), c(3, OpKind::Now)));
        assert!(races(to(1, OpKind::Signal, 3), c(3, OpKind::Start)));
        // Operations with no visible effect race with nothing.
        for op in [
            OpKind::Start,
            OpKind::Spawn,
            OpKind::Sleep,
            OpKind::SendAfter,
            OpKind::CancelTimer,
            OpKind::Now,
            OpKind::Demonitor,
        ] {
            assert!(!races(to(1, op, 3), exit), "{op:?}");
            assert!(!races(c(1, op), c(2, op)), "{op:?}");
        }
    }

    #[test]
    fn names() {
        let reg = named(1, OpKind::Register, "a", Some(1));
        assert!(races(reg, named(2, OpKind::Whereis, "a", None)));
        assert!(races(reg, named(2, OpKind::Register, "a", Some(2))));
        assert!(races(reg, named(2, OpKind::Unregister, "a", None)));
        assert!(races(reg, named(2, OpKind::Send, "a", None)));
        assert!(races(reg, named(2, OpKind::Monitor, "a", None)));
        assert!(!races(reg, named(2, OpKind::Whereis, "b", None)));
        assert!(!races(reg, named(2, OpKind::Register, "b", Some(2))));
        // Readers of a name commute.
        assert!(!races(
            named(1, OpKind::Whereis, "a", Some(5)),
            named(2, OpKind::Send, "a", Some(5))
        ));
        // A name resolving to a process that exits: whereis answers differently.
        assert!(races(
            named(1, OpKind::Whereis, "a", Some(5)),
            c(5, OpKind::Exit)
        ));
        // Global names are a space of their own.
        let global = |proc, op, name, target: Option<u32>| Candidate {
            name: Some(global_name_hash(name)),
            target: target.map(ProcId),
            ..c(proc, op)
        };
        let greg = global(1, OpKind::GlobalRegister, "a", Some(1));
        assert!(races(greg, global(2, OpKind::GlobalWhereis, "a", None)));
        assert!(races(greg, global(2, OpKind::GlobalRegister, "a", Some(2))));
        assert!(races(greg, global(2, OpKind::GlobalUnregister, "a", None)));
        assert!(!races(greg, global(2, OpKind::GlobalWhereis, "b", None)));
        assert!(!races(greg, named(2, OpKind::Whereis, "a", None)));
        assert!(!races(greg, reg));
        assert!(races(
            global(1, OpKind::GlobalWhereis, "a", Some(5)),
            c(5, OpKind::Exit)
        ));
        // Listing the names clashes with every change to them, and with exits (which release
        // names); changes to different names still commute.
        let list = c(3, OpKind::Registered);
        for change in [
            reg,
            named(2, OpKind::Unregister, "b", None),
            greg,
            global(2, OpKind::GlobalUnregister, "b", None),
            c(2, OpKind::Exit),
        ] {
            assert!(races(list, change), "{change:?}");
        }
        assert!(!races(list, named(2, OpKind::Whereis, "a", Some(1))));
        assert!(!races(reg, named(2, OpKind::Unregister, "b", None)));
        assert!(!races(reg, c(2, OpKind::Exit)));
        // A send by name reaches the resolved process's mailbox.
        assert!(races(
            named(1, OpKind::Send, "a", Some(5)),
            c(5, OpKind::Recv)
        ));
        assert!(races(
            named(1, OpKind::Send, "a", Some(5)),
            to(2, OpKind::Send, 5)
        ));
    }

    #[test]
    fn the_kind_filter_covers_every_resource_an_operation_touches() {
        let all = [
            OpKind::Start,
            OpKind::Spawn,
            OpKind::Send,
            OpKind::Recv,
            OpKind::RecvMatch,
            OpKind::Sleep,
            OpKind::SendAfter,
            OpKind::CancelTimer,
            OpKind::Now,
            OpKind::Monitor,
            OpKind::Demonitor,
            OpKind::Link,
            OpKind::Unlink,
            OpKind::TrapExit,
            OpKind::Alive,
            OpKind::Signal,
            OpKind::Exit,
            OpKind::Register,
            OpKind::Unregister,
            OpKind::Whereis,
            OpKind::Registered,
            OpKind::GlobalRegister,
            OpKind::GlobalUnregister,
            OpKind::GlobalWhereis,
            OpKind::Sync,
        ];
        for op in all {
            // Every field set, so every resource the kind could touch shows up.
            let full = Candidate {
                target: Some(ProcId(4)),
                object: Some((sync_object(1, 1), true)),
                name: Some(name_hash("a")),
                ..c(1, op)
            };
            for a in full.accesses().iter().flatten() {
                let class = match a.resource {
                    Resource::Mailbox(_) => MAILBOX,
                    Resource::Liveness(_) => LIVENESS,
                    Resource::Name(_) | Resource::NameSpace(_) => NAME,
                    Resource::Object(_) => OBJECT,
                };
                assert_ne!(kinds(op) & class, 0, "{op:?} touches {a:?}");
            }
        }
    }

    #[test]
    fn shared_objects() {
        // Same key, at least one write.
        assert!(races(sync(1, 7, 1, true), sync(2, 7, 1, false)));
        assert!(races(sync(1, 7, 1, true), sync(2, 7, 1, true)));
        assert!(!races(sync(1, 7, 1, false), sync(2, 7, 1, false)));
        // Different keys of one table commute; a whole-table operation clashes with every key.
        assert!(!races(sync(1, 7, 1, true), sync(2, 7, 2, true)));
        assert!(races(sync(1, 7, 0, false), sync(2, 7, 2, true)));
        assert!(races(sync(1, 7, 0, true), sync(2, 7, 2, false)));
        assert!(!races(sync(1, 7, 0, false), sync(2, 7, 2, false)));
        // Different tables never clash.
        assert!(!races(sync(1, 7, 0, true), sync(2, 8, 0, true)));
        assert!(!races(sync(1, 7, 1, true), sync(2, 8, 1, true)));
        // Shared objects and processes are separate worlds.
        assert!(!races(sync(1, 7, 1, true), to(2, OpKind::Send, 1)));
    }
}

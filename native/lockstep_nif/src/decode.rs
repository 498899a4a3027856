//! Terms from Elixir to engine operations. Every malformed input becomes an `Err` naming what was
//! wrong; nothing here panics.

use crate::atoms;
use crate::payload::Payload;
use crate::run::RunState;
use crate::terms::show;
use lockstep_core::{Dest, MonitorId, Name, Op, ProcId, Reason, TimerId};
use rustler::types::tuple::get_tuple;
use rustler::{Atom, Env, LocalPid, Term};

/// What a submitted term turned into.
pub enum Decoded {
    Op(Op<Payload>),
    /// The operation names a process or ref that is not part of this run: the caller falls back
    /// to the plain BEAM primitive, with no sync point.
    Unmanaged,
}

/// A ref supplied with `monitor`/`send_after`, remembered until the engine assigns its id.
pub struct PendingRef {
    pub key: Vec<u8>,
    pub term: Payload,
}

const HEX: &[u8; 16] = b"0123456789abcdef";
/// Distinct shared-state labels a run keeps shared (see `RunState::labels`).
const LABELS_KEPT: usize = 4096;

pub fn ref_key(term: Term<'_>) -> Vec<u8> {
    term.to_binary().as_slice().to_vec()
}

fn name(term: Term<'_>) -> Result<Name, String> {
    let atom: Atom = term
        .decode()
        .map_err(|_| format!("expected an atom name, got {term}", term = show(term)))?;
    atom.to_term(term.get_env())
        .atom_to_string()
        .map(Name::from)
        .map_err(|_| "atom name is not valid UTF-8".to_string())
}

fn tag_is_cluster(tag: Atom) -> bool {
    tag == atoms::cluster()
}

fn timeout(term: Term<'_>) -> Result<Option<u64>, String> {
    if term == atoms::infinity().to_term(term.get_env()) {
        return Ok(None);
    }
    term.decode::<u64>().map(Some).map_err(|_| {
        format!(
            "timeout must be a non-negative integer or :infinity, got {term}",
            term = show(term)
        )
    })
}

pub fn reason(term: Term<'_>) -> Reason<Payload> {
    if let Ok(a) = term.decode::<Atom>() {
        if a == atoms::normal() {
            return Reason::Normal;
        } else if a == atoms::kill() {
            return Reason::Kill;
        } else if a == atoms::killed() {
            return Reason::Killed;
        } else if a == atoms::noproc() {
            return Reason::Noproc;
        } else if a == atoms::noconnection() {
            return Reason::NoConnection;
        }
    }
    Reason::Term(Payload::new(term))
}

/// Whether an exit reason counts as a crash of the process's own code: anything but `:normal`,
/// `:shutdown` and `{:shutdown, _}` (the reasons OTP treats as orderly).
pub fn is_crash(term: Term<'_>) -> bool {
    if let Ok(a) = term.decode::<Atom>() {
        return !(a == atoms::normal() || a == atoms::shutdown());
    }
    if let Ok(items) = get_tuple(term) {
        if items.len() == 2 && items[0].decode::<Atom>().ok() == Some(atoms::shutdown()) {
            return false;
        }
    }
    true
}

impl RunState {
    fn proc_of(&self, term: Term<'_>) -> Result<Option<ProcId>, String> {
        let pid: LocalPid = term
            .decode()
            .map_err(|_| format!("expected a local pid, got {term}", term = show(term)))?;
        Ok(self.by_pid.get(&pid).copied())
    }

    /// A destination: a managed pid, a registered name, or `{name, node}` on this node.
    fn decode_dest(&self, term: Term<'_>) -> Result<Option<Dest>, String> {
        if term.is_pid() {
            return Ok(self.proc_of(term)?.map(Dest::Proc));
        }
        if term.is_atom() {
            return Ok(Some(Dest::Name(name(term)?)));
        }
        if let Ok([n, node]) = get_tuple(term).as_deref() {
            let node: Atom = node
                .decode()
                .map_err(|_| "node must be an atom".to_string())?;
            let node_name = name(node.to_term(term.get_env()))?;
            if !self.ctl.cluster().is_cluster() {
                if node == self.node {
                    return Ok(Some(Dest::Name(name(*n)?)));
                }
                return Err(format!(
                    "node {node_name} is not simulated in this run (start it with \
                     Lockstep.Cluster.start_nodes/1)"
                ));
            }
            return Ok(Some(Dest::At {
                name: name(*n)?,
                node: node_name,
            }));
        }
        Err(format!(
            "expected a pid, a registered name or {{name, node}}, got {term}",
            term = show(term)
        ))
    }

    /// Decode `term` submitted by `me`. A ref supplied with `monitor` or `send_after` is put into
    /// `pending` to be tied to the id the engine assigns when the operation executes.
    pub fn decode_op<'a>(
        &mut self,
        env: Env<'a>,
        term: Term<'a>,
        pending: &mut Option<PendingRef>,
    ) -> Result<Decoded, String> {
        use Decoded::{Op as D, Unmanaged};
        if let Ok(a) = term.decode::<Atom>() {
            return if a == atoms::spawn() {
                Ok(D(Op::Spawn {
                    link: false,
                    monitor: false,
                }))
            } else if a == atoms::spawn_link() {
                Ok(D(Op::Spawn {
                    link: true,
                    monitor: false,
                }))
            } else if a == atoms::now() {
                Ok(D(Op::Now))
            } else if a == atoms::system_time() {
                Ok(D(Op::SystemTime))
            } else {
                Err(format!("unknown operation {term}", term = show(term)))
            };
        }
        let items = get_tuple(term)
            .map_err(|_| format!("malformed operation {term}", term = show(term)))?;
        let tag: Atom = items
            .first()
            .and_then(|t| t.decode().ok())
            .ok_or_else(|| format!("malformed operation {term}", term = show(term)))?;
        let arity = |n: usize| -> Result<(), String> {
            if items.len() == n {
                Ok(())
            } else {
                Err(format!("malformed operation {term}", term = show(term)))
            }
        };
        let op = if tag == atoms::send() {
            arity(3)?;
            match self.decode_dest(items[1])? {
                None => return Ok(Unmanaged),
                Some(to) => Op::Send {
                    to,
                    msg: Payload::new(items[2]),
                },
            }
        } else if tag == atoms::recv() {
            arity(2)?;
            Op::Recv {
                timeout: timeout(items[1])?,
            }
        } else if tag == atoms::recv_match() {
            arity(3)?;
            Op::RecvMatch {
                seen: items[1]
                    .decode()
                    .map_err(|_| "seen must be a non-negative integer".to_string())?,
                timeout: timeout(items[2])?,
            }
        } else if tag == atoms::sleep() {
            arity(2)?;
            Op::Sleep {
                ms: items[1].decode().map_err(|_| {
                    format!(
                        "sleep time must be a non-negative integer, got {}",
                        show(items[1])
                    )
                })?,
            }
        } else if tag == atoms::spawn_monitor() {
            arity(3)?;
            let link: bool = items[1]
                .decode()
                .map_err(|_| "spawn_monitor's link flag must be a boolean".to_string())?;
            *pending = Some(self.new_ref(items[2])?);
            Op::Spawn {
                link,
                monitor: true,
            }
        } else if tag == atoms::send_after() || tag == atoms::send_at() {
            arity(5)?;
            let Some(to) = self.decode_dest(items[1])? else {
                return Ok(Unmanaged);
            };
            let delay: u64 = items[3].decode().map_err(|_| {
                format!(
                    "timer time must be a non-negative integer, got {}",
                    show(items[3])
                )
            })?;
            *pending = Some(self.new_ref(items[4])?);
            Op::SendAfter {
                to,
                msg: Payload::new(items[2]),
                delay,
                abs: tag == atoms::send_at(),
            }
        } else if tag == atoms::cancel_timer() || tag == atoms::read_timer() {
            arity(2)?;
            match self.timer_ids.get(&ref_key(items[1])) {
                Some(id) if tag == atoms::cancel_timer() => Op::CancelTimer { timer: *id },
                Some(id) => Op::ReadTimer { timer: *id },
                None => return Ok(Unmanaged),
            }
        } else if tag == atoms::monitor() {
            arity(3)?;
            let Some(target) = self.decode_dest(items[1])? else {
                return Ok(Unmanaged);
            };
            *pending = Some(self.new_ref(items[2])?);
            Op::Monitor { target }
        } else if tag == atoms::demonitor() {
            arity(3)?;
            let flush: bool = items[2]
                .decode()
                .map_err(|_| "flush must be a boolean".to_string())?;
            match self.monitor_ids.get(&ref_key(items[1])) {
                Some(id) => Op::Demonitor {
                    monitor: *id,
                    flush,
                },
                None => return Ok(Unmanaged),
            }
        } else if tag == atoms::link()
            || tag == atoms::unlink()
            || tag == atoms::alive()
            || tag == atoms::info()
        {
            arity(2)?;
            let Some(target) = self.proc_of(items[1])? else {
                return Ok(Unmanaged);
            };
            if tag == atoms::link() {
                Op::Link { target }
            } else if tag == atoms::unlink() {
                Op::Unlink { target }
            } else if tag == atoms::info() {
                Op::Info { target }
            } else {
                Op::Alive { target }
            }
        } else if tag == atoms::trap_exit() {
            arity(2)?;
            Op::TrapExit {
                on: items[1]
                    .decode()
                    .map_err(|_| "trap_exit takes a boolean".to_string())?,
            }
        } else if tag == atoms::exit_signal() {
            arity(3)?;
            let Some(target) = self.proc_of(items[1])? else {
                return Ok(Unmanaged);
            };
            let reason = reason(items[2]);
            let abnormal = matches!(reason, Reason::Kill) || is_crash(items[2]);
            Op::Signal {
                target,
                reason,
                abnormal,
            }
        } else if tag == atoms::exit() {
            arity(2)?;
            Op::Exit {
                reason: reason(items[1]),
                crash: is_crash(items[1]),
            }
        } else if tag == atoms::register() {
            arity(3)?;
            let n = name(items[1])?;
            let Some(target) = self.proc_of(items[2])? else {
                return Ok(Unmanaged);
            };
            Op::Register { name: n, target }
        } else if tag == atoms::unregister() {
            arity(2)?;
            Op::Unregister {
                name: name(items[1])?,
            }
        } else if tag == atoms::whereis() {
            arity(2)?;
            Op::Whereis {
                name: name(items[1])?,
            }
        } else if tag == atoms::registered() {
            arity(2)?;
            Op::Registered {
                global: items[1]
                    .decode()
                    .map_err(|_| "registered takes a boolean (global or not)".to_string())?,
            }
        } else if tag == atoms::global_register() {
            arity(3)?;
            let n = self.global_name(items[1]);
            let Some(target) = self.proc_of(items[2])? else {
                return Ok(Unmanaged);
            };
            Op::GlobalRegister { name: n, target }
        } else if tag == atoms::global_unregister() {
            arity(2)?;
            Op::GlobalUnregister {
                name: self.global_name(items[1]),
            }
        } else if tag == atoms::global_whereis() {
            arity(2)?;
            Op::GlobalWhereis {
                name: self.global_name(items[1]),
            }
        } else if tag_is_cluster(tag) {
            self.decode_cluster(&items, pending)?
        } else if tag == atoms::sync() {
            arity(4)?;
            // An integer object is the embedder's own encoding (see `Lockstep.SharedState`)
            // and must fit in 64 bits; any other term is hashed.
            let object = if items[1].is_number() {
                items[1].decode::<u64>().map_err(|_| {
                    format!(
                        "sync object must be an integer in 0..2^64-1 or a non-numeric term, got {}",
                        show(items[1])
                    )
                })?
            } else {
                u64::from(items[1].hash_phash2())
            };
            Op::Sync {
                object,
                write: items[2]
                    .decode()
                    .map_err(|_| "sync's write flag must be a boolean".to_string())?,
                label: self.label(items[3]),
            }
        } else {
            return Err(format!("unknown operation {term}", term = show(term)));
        };
        let _ = env;
        Ok(D(op))
    }

    /// The engine's key for a global name: any term, keyed by its external format (equal terms
    /// give equal keys). The term itself is kept to show it in traces and listings.
    fn global_name(&mut self, term: Term<'_>) -> Name {
        let bytes = term.to_binary();
        let mut key = String::with_capacity(bytes.len() * 2);
        for b in bytes.as_slice() {
            key.push(char::from(HEX[usize::from(b >> 4)]));
            key.push(char::from(HEX[usize::from(b & 15)]));
        }
        let name = Name::from(key);
        self.global_terms
            .entry(name.clone())
            .or_insert_with(|| Payload::new(term));
        name
    }

    /// The stored term for a shared-state label: one per distinct label while there are fewer
    /// than `LABELS_KEPT`, a fresh one after that.
    pub(crate) fn label(&mut self, term: Term<'_>) -> Payload {
        let key = term.to_binary().as_slice().to_vec();
        if let Some(p) = self.labels.get(&key) {
            return p.clone();
        }
        let p = Payload::new(term);
        if self.labels.len() < LABELS_KEPT && key.len() <= 1024 {
            self.labels.insert(key, p.clone());
        }
        p
    }

    fn new_ref(&self, term: Term<'_>) -> Result<PendingRef, String> {
        if !term.is_ref() {
            return Err(format!(
                "expected a reference, got {term}",
                term = show(term)
            ));
        }
        Ok(PendingRef {
            key: ref_key(term),
            term: Payload::new(term),
        })
    }

    pub fn bind_monitor(&mut self, id: MonitorId, r: PendingRef) {
        self.monitor_ids.insert(r.key, id);
        self.monitor_refs.insert(id, r.term);
    }

    pub fn bind_timer(&mut self, id: TimerId, r: PendingRef) {
        self.timer_ids.insert(r.key, id);
    }
}

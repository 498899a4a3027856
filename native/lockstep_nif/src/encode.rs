//! Engine values to terms: replies, messages, exit reasons, trace events and outcomes.

use crate::atoms;
use crate::payload::Payload;
use crate::run::RunState;
use lockstep_core::strategy::PickError;
use lockstep_core::{
    Blocked, Dest, DownItem, Event, EventKind, InfoStatus, Message, Name, OpError, Outcome, ProcId,
    ProcInfo, Reason, Reply,
};
use rustler::{Atom, Encoder, Env, Term};

fn nil(env: Env<'_>) -> Term<'_> {
    atoms::nil().encode(env)
}

fn name_atom<'a>(env: Env<'a>, name: &str) -> Term<'a> {
    match Atom::from_str(env, name) {
        Ok(a) => a.encode(env),
        Err(_) => name.encode(env),
    }
}

impl RunState {
    /// The pid of a process, or `nil` if it was never bound.
    pub fn pid_term<'a>(&self, env: Env<'a>, p: ProcId) -> Term<'a> {
        match self.pids.get(p.index()).copied().flatten() {
            Some(pid) => pid.encode(env),
            None => nil(env),
        }
    }

    /// A global name as the term it was registered with.
    fn global_term<'a>(&self, env: Env<'a>, name: &Name) -> Term<'a> {
        match self.global_terms.get(name) {
            Some(t) => t.load(env),
            None => name.encode(env),
        }
    }

    pub fn reason<'a>(&self, env: Env<'a>, r: &Reason<Payload>) -> Term<'a> {
        match r {
            Reason::Normal => atoms::normal().encode(env),
            Reason::Kill => atoms::kill().encode(env),
            Reason::Killed => atoms::killed().encode(env),
            Reason::Noproc => atoms::noproc().encode(env),
            Reason::NoConnection => atoms::noconnection().encode(env),
            Reason::Term(t) => t.load(env),
        }
    }

    pub fn message<'a>(&self, env: Env<'a>, m: &Message<Payload>) -> Term<'a> {
        match m {
            Message::User(t) => t.load(env),
            Message::Down {
                monitor,
                item,
                reason,
            } => {
                let r = match self.monitor_refs.get(monitor) {
                    Some(r) => r.load(env),
                    None => nil(env),
                };
                let item = match item {
                    DownItem::Proc(p) => self.pid_term(env, *p),
                    DownItem::Name(n) => (name_atom(env, n), self.node).encode(env),
                    DownItem::At { name, node } => {
                        (name_atom(env, name), name_atom(env, node)).encode(env)
                    }
                };
                (
                    atoms::down_tag(),
                    r,
                    atoms::process(),
                    item,
                    self.reason(env, reason),
                )
                    .encode(env)
            }
            Message::Exit { from, reason } => (
                atoms::exit_tag(),
                self.pid_term(env, *from),
                self.reason(env, reason),
            )
                .encode(env),
            Message::NodeDown { node } => {
                (name_atom(env, "nodedown"), name_atom(env, node)).encode(env)
            }
        }
    }

    pub fn reply<'a>(&self, env: Env<'a>, r: &Reply<Payload>) -> Term<'a> {
        match r {
            Reply::Ok | Reply::Timer(_) | Reply::Monitor(_) => atoms::ok().encode(env),
            Reply::Spawned(p) | Reply::SpawnedMonitored(p, _) => {
                (atoms::spawned(), p.0).encode(env)
            }
            Reply::Info(None) => nil(env),
            Reply::Info(Some(info)) => self.info(env, info),
            Reply::Msg(e) => (atoms::msg(), self.message(env, &e.msg)).encode(env),
            Reply::Batch {
                base,
                msgs,
                timed_out,
                exact,
            } => {
                let list: Vec<Term<'a>> = msgs.iter().map(|m| self.message(env, m)).collect();
                (atoms::batch(), *base, list, *timed_out, *exact).encode(env)
            }
            Reply::Timeout => atoms::timeout().encode(env),
            Reply::Time(t) => t.encode(env),
            Reply::Cancelled(Some(ms)) => ms.encode(env),
            Reply::Cancelled(None) => false.encode(env),
            Reply::Bool(b) => b.encode(env),
            Reply::Whereis(Some(p)) => self.pid_term(env, *p),
            Reply::Whereis(None) => nil(env),
            Reply::Names {
                global: false,
                names,
            } => {
                let list: Vec<Term<'a>> = names.iter().map(|n| name_atom(env, n)).collect();
                list.encode(env)
            }
            Reply::Names {
                global: true,
                names,
            } => {
                let list: Vec<Term<'a>> = names.iter().map(|n| self.global_term(env, n)).collect();
                list.encode(env)
            }
            Reply::Error(e) => (atoms::error(), op_error(*e)).encode(env),
            Reply::Nodes(names) => {
                let names: Vec<Term<'a>> = names.iter().map(|n| name_atom(env, n)).collect();
                names.encode(env)
            }
            Reply::Partition(id) => id.encode(env),
            Reply::Refused(why) => (name_atom(env, "refused"), why.as_str()).encode(env),
        }
    }

    /// `Process.info/2`'s facts about a live process, as a map the Elixir side picks from.
    fn info<'a>(&self, env: Env<'a>, info: &ProcInfo<Payload>) -> Term<'a> {
        let status = match info.status {
            InfoStatus::Running => atoms::running(),
            InfoStatus::Runnable => atoms::runnable(),
            InfoStatus::Waiting => atoms::waiting(),
        };
        let messages: Vec<Term<'a>> = info.messages.iter().map(|m| self.message(env, m)).collect();
        let pids = |ps: &[ProcId]| -> Vec<Term<'a>> {
            ps.iter().map(|p| self.pid_term(env, *p)).collect()
        };
        let monitors: Vec<Term<'a>> = info
            .monitors
            .iter()
            .map(|(_, item)| {
                let what = match item {
                    DownItem::Proc(p) => self.pid_term(env, *p),
                    DownItem::Name(n) => (name_atom(env, n), self.node).encode(env),
                    DownItem::At { name, node } => {
                        (name_atom(env, name), name_atom(env, node)).encode(env)
                    }
                };
                (atoms::process(), what).encode(env)
            })
            .collect();
        let name = match &info.name {
            Some(n) => name_atom(env, n),
            None => Vec::<Term<'a>>::new().encode(env),
        };
        let pairs: [(Term<'a>, Term<'a>); 7] = [
            (atoms::status().encode(env), status.encode(env)),
            (atoms::messages().encode(env), messages.encode(env)),
            (atoms::links().encode(env), pids(&info.links).encode(env)),
            (atoms::monitors().encode(env), monitors.encode(env)),
            (
                atoms::monitored_by().encode(env),
                pids(&info.monitored_by).encode(env),
            ),
            (atoms::registered_name().encode(env), name),
            (atoms::trap_exit().encode(env), info.trap_exit.encode(env)),
        ];
        Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| nil(env))
    }

    fn dest<'a>(&self, env: Env<'a>, d: &Dest) -> Term<'a> {
        match d {
            Dest::Proc(p) => p.0.encode(env),
            Dest::Name(n) => name_atom(env, n),
            Dest::At { name, node } => (name_atom(env, name), name_atom(env, node)).encode(env),
        }
    }

    fn opt_proc<'a>(&self, env: Env<'a>, p: Option<ProcId>) -> Term<'a> {
        match p {
            Some(p) => p.0.encode(env),
            None => nil(env),
        }
    }

    /// `{step, time, proc | nil, {kind, ...}}`, with processes as their numeric ids.
    pub fn event<'a>(&self, env: Env<'a>, e: &Event<Payload>) -> Term<'a> {
        use EventKind as K;
        let a = |name: &str| name_atom(env, name);
        let kind: Term<'a> = match &e.kind {
            K::Start => (a("start"),).encode(env),
            K::Spawn { child, link } => (a("spawn"), child.0, *link).encode(env),
            K::Send { dest, to, msg, .. } => (
                a("send"),
                self.dest(env, dest),
                self.opt_proc(env, *to),
                msg.load(env),
            )
                .encode(env),
            K::Receive { msg, .. } => (a("receive"), self.message(env, msg)).encode(env),
            K::Scan {
                base,
                count,
                timed_out,
                ..
            } => (a("scan"), *base, *count, *timed_out).encode(env),
            K::Timeout => (a("timeout"),).encode(env),
            K::Sleep => (a("sleep"),).encode(env),
            K::SendAfter {
                dest, delay, msg, ..
            } => (a("send_after"), self.dest(env, dest), *delay, msg.load(env)).encode(env),
            K::CancelTimer { remaining, .. } => match remaining {
                Some(ms) => (a("cancel_timer"), *ms).encode(env),
                None => (a("cancel_timer"), false).encode(env),
            },
            K::ReadTimer { remaining, .. } => match remaining {
                Some(ms) => (a("read_timer"), *ms).encode(env),
                None => (a("read_timer"), false).encode(env),
            },
            K::Now(t) => (a("now"), *t).encode(env),
            K::Info { target, alive } => (a("info"), target.0, *alive).encode(env),
            K::Monitor { target, .. } => (a("monitor"), self.dest(env, target)).encode(env),
            K::Demonitor { found, .. } => (a("demonitor"), *found).encode(env),
            K::Link { target } => (a("link"), target.0).encode(env),
            K::Unlink { target } => (a("unlink"), target.0).encode(env),
            K::TrapExit(on) => (a("trap_exit"), *on).encode(env),
            K::Alive { target, alive } => (a("alive"), target.0, *alive).encode(env),
            K::Signal { target, reason } => {
                (a("exit_signal"), target.0, self.reason(env, reason)).encode(env)
            }
            K::Exit { reason } => (a("exit"), self.reason(env, reason)).encode(env),
            K::Register { name, target } => {
                (a("register"), name_atom(env, name), target.0).encode(env)
            }
            K::Unregister { name } => (a("unregister"), name_atom(env, name)).encode(env),
            K::Whereis { name, found } => (
                a("whereis"),
                name_atom(env, name),
                self.opt_proc(env, *found),
            )
                .encode(env),
            K::Registered { global, count } => (a("registered"), *global, *count).encode(env),
            K::GlobalRegister { name, target, ok } => (
                a("global_register"),
                self.global_term(env, name),
                target.0,
                *ok,
            )
                .encode(env),
            K::GlobalUnregister { name } => {
                (a("global_unregister"), self.global_term(env, name)).encode(env)
            }
            K::GlobalWhereis { name, found } => (
                a("global_whereis"),
                self.global_term(env, name),
                self.opt_proc(env, *found),
            )
                .encode(env),
            K::Sync {
                label,
                result: None,
                ..
            } => (a("sync"), label.load(env)).encode(env),
            K::Sync {
                label,
                result: Some(result),
                ..
            } => (a("sync"), label.load(env), result.load(env)).encode(env),
            K::Failed(err) => (a("failed"), op_error(*err)).encode(env),
            K::Deliver { to, msg, .. } => (a("deliver"), to.0, self.message(env, msg)).encode(env),
            K::Died {
                victim,
                reason,
                from,
                link,
            } => (a("died"), victim.0, self.reason(env, reason), from.0, *link).encode(env),
            K::Vanished { victim } => (a("vanished"), victim.0).encode(env),
            K::Clock { to } => (a("clock"), *to).encode(env),
            K::TimerFired { to, .. } => (a("timer_fired"), self.opt_proc(env, *to)).encode(env),
            K::Deadline { of } => (a("deadline"), of.0).encode(env),
            K::Net(n) => self.net_event(env, n),
        };
        (e.step, e.time, self.opt_proc(env, e.proc), kind).encode(env)
    }

    fn blocked<'a>(&self, env: Env<'a>, b: &Blocked) -> Term<'a> {
        let name = match &b.name {
            Some(n) => name_atom(env, n),
            None => nil(env),
        };
        let mailbox: Vec<Term<'a>> = self
            .ctl
            .mailbox(b.proc)
            .map(|e| self.message(env, &e.msg))
            .collect();
        let deadline = match b.deadline {
            Some(d) => d.encode(env),
            None => nil(env),
        };
        (
            b.proc.0,
            name_atom(env, b.op.name()),
            name,
            mailbox,
            deadline,
        )
            .encode(env)
    }

    /// `nil` while running; otherwise `{category, detail}`.
    pub fn outcome<'a>(&self, env: Env<'a>) -> Term<'a> {
        let Some(o) = self.ctl.outcome() else {
            return nil(env);
        };
        let blocked =
            |bs: &[Blocked]| -> Vec<Term<'a>> { bs.iter().map(|b| self.blocked(env, b)).collect() };
        let detail: Term<'a> = match o {
            Outcome::Completed => nil(env),
            Outcome::RootExit(r) => self.reason(env, r),
            Outcome::Crash { proc, reason } => (proc.0, self.reason(env, reason)).encode(env),
            Outcome::Killed { proc, reason, from } => {
                (proc.0, self.reason(env, reason), from.0).encode(env)
            }
            Outcome::Deadlock(bs) | Outcome::LeftBlocked(bs) => blocked(bs).encode(env),
            Outcome::StepLimit { steps } => steps.encode(env),
            Outcome::Diverged(PickError::Diverged {
                step,
                expected,
                enabled,
            }) => {
                let enabled: Vec<u32> = enabled.iter().map(|p| p.0).collect();
                (atoms::diverged(), *step, expected.0, enabled).encode(env)
            }
            Outcome::Diverged(PickError::Exhausted { step }) => {
                (atoms::exhausted(), *step).encode(env)
            }
            Outcome::Aborted(why) => why.encode(env),
        };
        (name_atom(env, o.category()), detail).encode(env)
    }
}

fn op_error(e: OpError) -> Atom {
    match e {
        OpError::Badarg => atoms::badarg(),
        OpError::Noproc => atoms::noproc(),
    }
}

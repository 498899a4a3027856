//! The run resource: one engine per iteration, the pid table, and the NIFs that drive it.
//!
//! Wake-ups are `{:"$lockstep_wake", reply}` messages sent to the process the engine resumes;
//! the runner process (which outlives runs, so its messages carry the run's reference `tag`) gets `{tag, :kill, pids}` for processes killed by exit signals and
//! `{tag, :finished, nil}` once the run has an outcome. Every managed pid is monitored, so a
//! process that dies behind the engine's back is noticed in `down` and the run moves on.

use crate::atoms;
use crate::decode::{Decoded, PendingRef};
use crate::payload::Payload;
use crate::terms::show;
use lockstep_core::strategy::StrategyConfig;
use lockstep_core::{
    Buffers, Config, Controller, IterationInfo, MonitorId, Name, Next, ProcId, Reply, TimerId,
};
use rustler::{Atom, Encoder, Env, LocalPid, Monitor, NifResult, ResourceArc, Term};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Trace, schedule and preemption-flag buffers of released runs, reused by new ones so that
/// long runs do not regrow them and fault in fresh pages every time. Bounded in count and in
/// size.
static POOL: Mutex<Vec<Buffers<Payload>>> = Mutex::new(Vec::new());
const POOL_BUFFERS: usize = 4;
const POOL_MAX_EVENTS: usize = 1 << 20;

fn pooled() -> Option<Buffers<Payload>> {
    POOL.lock().ok().and_then(|mut pool| pool.pop())
}

fn release(mut buffers: Buffers<Payload>) {
    if buffers.trace.capacity() == 0 || buffers.trace.capacity() > POOL_MAX_EVENTS {
        return;
    }
    buffers.trace.clear();
    buffers.choices.clear();
    buffers.preempted.clear();
    if let Ok(mut pool) = POOL.lock() {
        if pool.len() < POOL_BUFFERS {
            pool.push(buffers);
        }
    }
}

/// Hashing for the pid map: a pid's hash is already the VM's own hash of the term (see
/// `LocalPid`'s `Hash`), so it is only spread over the table's bits, not hashed again.
#[derive(Clone, Copy, Default)]
pub struct PidHash;

impl std::hash::BuildHasher for PidHash {
    type Hasher = PidHasher;
    fn build_hasher(&self) -> PidHasher {
        PidHasher(0)
    }
}

pub struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub struct RunResource {
    state: Mutex<RunState>,
}

pub struct RunState {
    pub ctl: Controller<Payload>,
    pub pids: Vec<Option<LocalPid>>,
    pub by_pid: HashMap<LocalPid, ProcId, PidHash>,
    /// By process id: whether the VM reported the bound process dead (through the run's
    /// monitor). The VM deletes a process's ETS tables before it reports it down.
    reaped: Vec<bool>,
    tag: Payload,
    runner: LocalPid,
    pub node: Atom,
    pub monitor_refs: HashMap<MonitorId, Payload>,
    pub monitor_ids: HashMap<Vec<u8>, MonitorId>,
    pub timer_ids: HashMap<Vec<u8>, TimerId>,
    /// The term behind each global name the engine has seen (keyed by the engine's name).
    pub global_terms: HashMap<Name, Payload>,
    /// Shared-state labels seen in this run, by external format: a loop over the same
    /// operation keeps one stored term, not one per step (at most `LABELS_KEPT` of them).
    pub labels: HashMap<Vec<u8>, Payload>,
    /// Results noted with `run_annotate` so far (at most `ANNOTATIONS_KEPT`).
    pub annotations: usize,
    /// A ref a process supplied with its pending `monitor`/`send_after`, by process id.
    pending: Vec<Option<PendingRef>>,
    notified: bool,
}

#[rustler::resource_impl]
impl rustler::Resource for RunResource {
    fn down<'a>(&'a self, env: Env<'a>, pid: LocalPid, _monitor: Monitor) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let Some(&p) = st.by_pid.get(&pid) else {
            return;
        };
        if let Some(r) = st.reaped.get_mut(p.index()) {
            *r = true;
        }
        match st.ctl.external_exit(p) {
            Ok(Some(next)) => {
                st.dispatch(env, next, None);
            }
            Ok(None) | Err(_) => st.notify(env),
        }
    }
}

fn err<'a>(env: Env<'a>, msg: impl std::fmt::Display) -> Term<'a> {
    (atoms::error(), msg.to_string()).encode(env)
}

impl RunState {
    /// Carry out what the engine decided: wake the resumed process (or answer the caller
    /// directly), and tell the runner about kills and the end of the run.
    fn dispatch<'a>(
        &mut self,
        env: Env<'a>,
        next: Next<Payload>,
        caller: Option<ProcId>,
    ) -> Term<'a> {
        let out = match next {
            Next::Resume(p, reply) => {
                self.bind_refs(p, &reply);
                let term = self.reply(env, &reply);
                if caller == Some(p) {
                    (atoms::ok(), term).encode(env)
                } else {
                    match self.pids.get(p.index()).copied().flatten() {
                        Some(pid) => {
                            // A dead recipient is noticed by `down`, which moves the run on.
                            let _ = env.send(&pid, (atoms::wake(), term));
                        }
                        None => self.ctl.abort(format!("{p} was resumed but has no pid")),
                    }
                    atoms::wait().encode(env)
                }
            }
            Next::Finished => atoms::wait().encode(env),
        };
        self.notify(env);
        out
    }

    /// Like `dispatch`, but hands the decision back instead of waking the process:
    /// `{:resume, id, reply}` or `:finished`.
    fn detached<'a>(&mut self, env: Env<'a>, next: Next<Payload>) -> Term<'a> {
        let out = match next {
            Next::Resume(p, reply) => {
                self.bind_refs(p, &reply);
                (atoms::resume(), p.0, self.reply(env, &reply)).encode(env)
            }
            Next::Finished => atoms::finished().encode(env),
        };
        self.notify(env);
        out
    }

    fn bind_refs(&mut self, p: ProcId, reply: &Reply<Payload>) {
        match reply {
            Reply::Monitor(id) | Reply::SpawnedMonitored(_, id) => {
                if let Some(r) = self.take_pending(p) {
                    self.bind_monitor(*id, r);
                }
            }
            Reply::Timer(id) => {
                if let Some(r) = self.take_pending(p) {
                    self.bind_timer(*id, r);
                }
            }
            _ => {}
        }
    }

    fn take_pending(&mut self, p: ProcId) -> Option<PendingRef> {
        self.pending.get_mut(p.index()).and_then(Option::take)
    }

    fn notify(&mut self, env: Env<'_>) {
        let kills = self.ctl.take_kills();
        if !kills.is_empty() {
            let pids: Vec<LocalPid> = kills
                .iter()
                .filter_map(|p| self.pids.get(p.index()).copied().flatten())
                .collect();
            let _ = env.send(&self.runner, (self.tag.load(env), atoms::kill(), pids));
        }
        if self.ctl.outcome().is_some() && !self.notified {
            self.notified = true;
            let _ = env.send(
                &self.runner,
                (self.tag.load(env), atoms::finished(), atoms::nil()),
            );
        }
    }
}

pub(crate) fn lock(run: &ResourceArc<RunResource>) -> Result<MutexGuard<'_, RunState>, String> {
    run.state
        .lock()
        .map_err(|_| "the run's state was poisoned by an earlier panic".to_string())
}

fn opt<'a, T: rustler::Decoder<'a>>(opts: Term<'a>, key: Atom, default: T) -> Result<T, String> {
    match opts.map_get(key) {
        Ok(v) => v
            .decode()
            .map_err(|_| format!("bad value for {key:?}: {v}", v = show(v))),
        Err(_) => Ok(default),
    }
}

/// The `choices` option: a proper list of process ids (empty when absent). Decoded with
/// `decode_list`, which refuses an improper list where rustler's `Vec` decoder would panic.
fn choices_opt(opts: Term<'_>) -> Result<Vec<ProcId>, String> {
    match opts.map_get(atoms::choices()) {
        Ok(v) => crate::terms::decode_list::<u32>(v)
            .map(|ids| ids.into_iter().map(ProcId).collect())
            .ok_or_else(|| {
                format!(
                    "bad value for choices: {v} (a list of process ids)",
                    v = show(v)
                )
            }),
        Err(_) => Ok(Vec::new()),
    }
}

/// The strategy named by the `strategy` key (default `pct`) and its parameters: `depth` (pct,
/// fair_pct; default 3), `prefix` (fair_pct; a positive integer, absent or `nil` for the
/// default), `depth_min`/`depth_max` (idpct; default 1 and 5), `choices` (replay, guided,
/// prefixed), `then` (prefixed). Keys a strategy does not use are ignored.
fn strategy(opts: Term<'_>) -> Result<StrategyConfig, String> {
    let Ok(s) = opts.map_get(atoms::strategy()) else {
        return Ok(StrategyConfig::default());
    };
    let config = named_strategy(s, opts)?;
    config.validate()?;
    Ok(config)
}

/// The strategy the atom `s` names, its parameters read from `opts`. `prefixed` takes
/// `choices` and `then`, the name of the strategy that follows the prefix (whose parameters are
/// read from the same map).
fn named_strategy(s: Term<'_>, opts: Term<'_>) -> Result<StrategyConfig, String> {
    let depth = || opt(opts, atoms::depth(), 3u32);
    let config = match s.decode::<Atom>() {
        Ok(a) if a == atoms::random() => StrategyConfig::Random,
        Ok(a) if a == atoms::pct() => StrategyConfig::Pct { depth: depth()? },
        Ok(a) if a == atoms::fair_pct() => StrategyConfig::FairPct {
            depth: depth()?,
            prefix: opt(opts, atoms::prefix(), None::<u64>)?,
        },
        Ok(a) if a == atoms::pos() => StrategyConfig::Pos,
        Ok(a) if a == atoms::idpct() => StrategyConfig::IdPct {
            depth_min: opt(opts, atoms::depth_min(), 1u32)?,
            depth_max: opt(opts, atoms::depth_max(), 5u32)?,
        },
        Ok(a) if a == atoms::replay() => StrategyConfig::Replay {
            choices: choices_opt(opts)?,
        },
        Ok(a) if a == atoms::guided() => StrategyConfig::Guided {
            choices: choices_opt(opts)?,
        },
        Ok(a) if a == atoms::prefixed() => {
            let then = opts
                .map_get(atoms::then())
                .map_err(|_| "strategy :prefixed needs `then` (a strategy name)".to_string())?;
            if then.decode::<Atom>().ok() == Some(atoms::prefixed()) {
                return Err(
                    "a prefix must be followed by a sampling strategy, got prefixed".into(),
                );
            }
            StrategyConfig::Prefixed {
                choices: choices_opt(opts)?,
                then: Box::new(named_strategy(then, opts)?),
            }
        }
        _ => {
            return Err(format!(
                "unknown strategy {s} \
                 (expected :random, :pct, :fair_pct, :pos, :idpct, :exhaustive, :replay, :guided \
                 or :prefixed)",
                s = show(s)
            ))
        }
    };
    Ok(config)
}

/// The `settle` option: virtual ms, or `:infinity` for no bound.
fn settle_opt(opts: Term<'_>) -> Result<Option<u64>, String> {
    match opts.map_get(atoms::settle()) {
        Err(_) => Ok(Config::default().settle),
        Ok(v) if v == atoms::infinity().to_term(v.get_env()) => Ok(None),
        Ok(v) => v.decode::<u64>().map(Some).map_err(|_| {
            format!(
                "bad value for settle: {v} (a non-negative integer or :infinity)",
                v = show(v)
            )
        }),
    }
}

/// A new run. `opts` is a map with the keys `strategy`, `depth`, `prefix`, `depth_min`,
/// `depth_max`, `choices`, `then`, `seed`, `iteration`, `expected_steps`, `max_steps`,
/// `allow_crashes`, `fail_on_blocked`, `fail_on_abnormal_exit`, `race_timers`, `settle`,
/// `time_per_step`, `epoch` (all optional; see [`Config`]).
/// The root's node: the `node` option (an atom), else the VM's own node.
fn root_node<'a>(
    env: Env<'a>,
    opts: Term<'a>,
    vm_node: Atom,
) -> Result<lockstep_core::Name, String> {
    let term = match Term::map_get(opts, atoms::node().encode(env)) {
        Ok(t) if !t.is_atom() || t != atoms::nil().encode(env) => t,
        _ => vm_node.encode(env),
    };
    if !term.is_atom() {
        return Err(format!("node must be an atom, got {}", show(term)));
    }
    term.atom_to_string()
        .map(lockstep_core::Name::from)
        .map_err(|_| "node is not valid UTF-8".to_string())
}

/// `faults: %{partitions: n, crashes: n}` (absent: none).
fn faults_opt(opts: Term<'_>) -> Result<lockstep_core::controller::FaultBudget, String> {
    let env = opts.get_env();
    let Ok(map) = Term::map_get(opts, atoms::faults().encode(env)) else {
        return Ok(Default::default());
    };
    if !map.is_map() {
        return Err(format!(
            "faults must be a map of partitions and crashes, got {}",
            show(map)
        ));
    }
    let count = |key: Atom| -> Result<u32, String> {
        match Term::map_get(map, key.encode(env)) {
            Ok(t) => t.decode::<u32>().map_err(|_| {
                format!(
                    "fault counts must be non-negative integers, got {}",
                    show(t)
                )
            }),
            Err(_) => Ok(0),
        }
    };
    Ok(lockstep_core::controller::FaultBudget {
        partitions: count(atoms::partitions())?,
        crashes: count(atoms::crashes())?,
    })
}

#[rustler::nif]
fn run_new<'a>(
    env: Env<'a>,
    opts: Term<'a>,
    tag: Term<'a>,
    runner: LocalPid,
    node: Atom,
) -> NifResult<Term<'a>> {
    let build = || -> Result<RunState, String> {
        if !opts.is_map() {
            return Err(format!(
                "options must be a map, got {opts}",
                opts = show(opts)
            ));
        }
        let config = Config {
            max_steps: opt(opts, atoms::max_steps(), 1000u64)?,
            allow_crashes: opt(opts, atoms::allow_crashes(), false)?,
            fail_on_blocked: opt(opts, atoms::fail_on_blocked(), false)?,
            fail_on_abnormal_exit: opt(opts, atoms::fail_on_abnormal_exit(), false)?,
            race_timers: opt(opts, atoms::race_timers(), false)?,
            settle: settle_opt(opts)?,
            time_per_step: opt(opts, atoms::time_per_step(), 0u64)?,
            epoch: opt(
                opts,
                atoms::epoch(),
                lockstep_core::controller::DEFAULT_EPOCH,
            )?,
            node: root_node(env, opts, node)?,
            faults: faults_opt(opts)?,
        };
        let info = IterationInfo {
            seed: opt(opts, atoms::seed(), 0u64)?,
            iteration: opt(opts, atoms::iteration(), 0u64)?,
            expected_steps: opt(opts, atoms::expected_steps(), 100u64)?,
        };
        let strategy = match opts.map_get(atoms::strategy()) {
            Ok(s) if s == atoms::exhaustive().encode(env) => crate::explore::next_strategy(opts)?,
            _ => strategy(opts)?.build(),
        };
        let mut ctl = Controller::new(config, strategy, info);
        if let Some(buffers) = pooled() {
            ctl.recycle(buffers);
        }
        Ok(RunState {
            ctl,
            pids: Vec::new(),
            by_pid: HashMap::default(),
            reaped: Vec::new(),
            tag: Payload::new(tag),
            runner,
            node,
            monitor_refs: HashMap::new(),
            monitor_ids: HashMap::new(),
            timer_ids: HashMap::new(),
            global_terms: HashMap::new(),
            labels: HashMap::new(),
            annotations: 0,
            pending: Vec::new(),
            notified: false,
        })
    };
    Ok(match build() {
        Ok(state) => ResourceArc::new(RunResource {
            state: Mutex::new(state),
        })
        .encode(env),
        Err(e) => err(env, e),
    })
}

/// Tie a reserved process id (the root, or a child just spawned) to its pid, and monitor it.
#[rustler::nif]
fn run_bind<'a>(env: Env<'a>, run: ResourceArc<RunResource>, id: u32, pid: LocalPid) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    let p = ProcId(id);
    if st.by_pid.contains_key(&pid) {
        return err(env, "that pid is already managed by this run");
    }
    if let Err(e) = st.ctl.bind(p) {
        return err(env, e);
    }
    if st.pids.len() <= p.index() {
        st.pids.resize(p.index() + 1, None);
        st.reaped.resize(p.index() + 1, false);
    }
    st.pids[p.index()] = Some(pid);
    st.by_pid.insert(pid, p);
    drop(st);
    let _ = run.monitor(Some(env), &pid);
    atoms::ok().encode(env)
}

/// Make the first scheduling decision (called by the runner once the root is bound).
#[rustler::nif]
fn run_start<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    match st.ctl.start() {
        Ok(next) => st.dispatch(env, next, None),
        Err(e) => err(env, e),
    }
}

/// A sync point: process `id` (the caller) announces its next operation. Returns `{:ok, reply}`
/// when the caller itself runs next, `:wait` when it must wait for its wake-up, `:unmanaged`
/// when the operation names something outside the run, or `{:error, why}`.
#[rustler::nif]
fn run_op<'a>(env: Env<'a>, run: ResourceArc<RunResource>, id: u32, op: Term<'a>) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    let me = ProcId(id);
    if st.pids.get(me.index()).copied().flatten() != Some(env.pid()) {
        return err(env, format!("the calling process is not {me} of this run"));
    }
    match st.submit(env, me, op) {
        Ok(Ok(next)) => st.dispatch(env, next, Some(me)),
        Ok(Err(unmanaged)) => unmanaged,
        Err(e) => err(env, e),
    }
}

/// A sync point submitted on behalf of process `id` by a controller that delivers replies
/// itself: returns `{:resume, id, reply}` or `:finished` and wakes nobody. Lockstep's runtime
/// does not use it; it lets `bench/` drive the same engine through a GenServer (the classic
/// design) for a like-for-like comparison.
#[rustler::nif]
fn run_submit_for<'a>(
    env: Env<'a>,
    run: ResourceArc<RunResource>,
    id: u32,
    op: Term<'a>,
) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    match st.submit(env, ProcId(id), op) {
        Ok(Ok(next)) => st.detached(env, next),
        Ok(Err(unmanaged)) => unmanaged,
        Err(e) => err(env, e),
    }
}

/// The first scheduling decision, handed back like `run_submit_for/3`.
#[rustler::nif]
fn run_start_for<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    match st.ctl.start() {
        Ok(next) => st.detached(env, next),
        Err(e) => err(env, e),
    }
}

impl RunState {
    /// Decode and submit `op` for `me`. The inner `Err` is the `:unmanaged` answer.
    fn submit<'a>(
        &mut self,
        env: Env<'a>,
        me: ProcId,
        op: Term<'a>,
    ) -> Result<Result<Next<Payload>, Term<'a>>, String> {
        let mut pending = None;
        let op = match self.decode_op(env, op, &mut pending)? {
            Decoded::Op(op) => op,
            Decoded::Unmanaged => return Ok(Err(atoms::unmanaged().encode(env))),
        };
        if let Some(r) = pending {
            if self.pending.len() <= me.index() {
                self.pending.resize_with(me.index() + 1, || None);
            }
            self.pending[me.index()] = Some(r);
        }
        self.ctl.submit(me, op).map(Ok).map_err(|e| e.to_string())
    }
}

/// Take message `index` out of the running caller's mailbox (a selective receive matched it).
#[rustler::nif]
fn run_consume<'a>(env: Env<'a>, run: ResourceArc<RunResource>, id: u32, index: usize) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    match st.ctl.consume(ProcId(id), index) {
        Ok(_) => atoms::ok().encode(env),
        Err(e) => err(env, e),
    }
}

/// As `run_consume`, after an exact batch: `rejected` are the mailbox indices behind `index`
/// whose messages the receive's pattern rejects.
#[rustler::nif]
fn run_consume_scanned<'a>(
    env: Env<'a>,
    run: ResourceArc<RunResource>,
    id: u32,
    index: usize,
    rejected: Vec<usize>,
) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    match st.ctl.consume_scanned(ProcId(id), index, &rejected) {
        Ok(_) => atoms::ok().encode(env),
        Err(e) => err(env, e),
    }
}

/// The running caller's earlier selective receives reject messages of its mailbox: each
/// `{back, index}`, the `back`-th latest receive that took a message (0: the latest) and the
/// mailbox index (for an exhaustive exploration: see `Controller::note_rejected`).
#[rustler::nif]
fn run_note_rejected<'a>(
    env: Env<'a>,
    run: ResourceArc<RunResource>,
    id: u32,
    rejections: Vec<(usize, usize)>,
) -> Term<'a> {
    let mut st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    match st.ctl.note_rejected(ProcId(id), &rejections) {
        Ok(()) => atoms::ok().encode(env),
        Err(e) => err(env, e),
    }
}

/// `{steps, running_pid | nil, finished?, now}` (for the runner's watchdog).
#[rustler::nif]
fn run_status<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    let st = match lock(&run) {
        Ok(st) => st,
        Err(e) => return err(env, e),
    };
    let running = match st.ctl.running() {
        Some(p) => st.pid_term(env, p),
        None => atoms::nil().encode(env),
    };
    (
        st.ctl.steps(),
        running,
        st.ctl.outcome().is_some(),
        st.ctl.now(),
    )
        .encode(env)
}

/// `{steps, fingerprint, outcome}`: what the runner reads of every run that ended, in one call
/// (`run_status`'s steps, `run_fingerprint/1`, `run_outcome/1`).
#[rustler::nif]
fn run_result<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => (
            st.ctl.steps(),
            lockstep_core::schedule::fingerprint(st.ctl.choices()),
            st.outcome(env),
        )
            .encode(env),
        Err(e) => err(env, e),
    }
}

#[rustler::nif]
fn run_outcome<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => st.outcome(env),
        Err(e) => err(env, e),
    }
}

/// Encodes each event of the trace's tail (the last `max` events, whole steps only: see
/// `lockstep_core::trace::tail_start`) with `each`, or answers the error naming a bad `max`.
fn tail_terms<'a>(
    env: Env<'a>,
    run: &ResourceArc<RunResource>,
    max: Term<'a>,
    each: impl Fn(&RunState, &lockstep_core::Event<Payload>) -> Term<'a>,
) -> Term<'a> {
    let Ok(max) = max.decode::<usize>() else {
        return err(
            env,
            format!("max must be a non-negative integer, got {}", show(max)),
        );
    };
    match lock(run) {
        Ok(st) => {
            let trace = st.ctl.trace();
            let tail = &trace[lockstep_core::trace::tail_start(trace, max)..];
            let terms: Vec<Term<'a>> = tail.iter().map(|e| each(&st, e)).collect();
            terms.encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// The last (at most) `max` events of the trace, whole steps only. On a dirty scheduler: a
/// long run's trace is long.
#[rustler::nif(schedule = "DirtyCpu")]
fn run_trace<'a>(env: Env<'a>, run: ResourceArc<RunResource>, max: Term<'a>) -> Term<'a> {
    tail_terms(env, &run, max, |st, e| st.event(env, e))
}

/// For each event of `run_trace(run, max)`'s tail, the engine's message id of a send, receive
/// or delivery, `nil` for other events: which receive took which send, exactly.
#[rustler::nif(schedule = "DirtyCpu")]
fn run_message_ids<'a>(env: Env<'a>, run: ResourceArc<RunResource>, max: Term<'a>) -> Term<'a> {
    use lockstep_core::EventKind as K;
    tail_terms(env, &run, max, |_st, e| match &e.kind {
        K::Send { id, .. } | K::Receive { id, .. } | K::Deliver { id, .. } => id.0.encode(env),
        _ => atoms::nil().encode(env),
    })
}

/// The schedule: the process id picked at each step (a dirty scheduler's work for a long run).
#[rustler::nif(schedule = "DirtyCpu")]
fn run_choices<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => {
            let c: Vec<u32> = st.ctl.choices().iter().map(|p| p.0).collect();
            c.encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// The pids of bound processes that the VM has not reported dead yet; with `ended_only`, only
/// those of processes that have already ended in the run. Their ETS tables may still exist.
/// One call, so that waiting for a run's processes costs nothing once they are all gone.
#[rustler::nif]
fn run_unreaped<'a>(env: Env<'a>, run: ResourceArc<RunResource>, ended_only: Term<'a>) -> Term<'a> {
    let Ok(ended_only) = ended_only.decode::<bool>() else {
        return err(
            env,
            format!(
                "ended_only must be a boolean, got {ended_only}",
                ended_only = show(ended_only)
            ),
        );
    };
    match lock(&run) {
        Ok(st) => {
            let pids: Vec<LocalPid> = st
                .pids
                .iter()
                .enumerate()
                .filter(|(i, _)| !st.reaped.get(*i).copied().unwrap_or(false))
                .filter(|(i, _)| !ended_only || !st.ctl.is_alive(ProcId(*i as u32)))
                .filter_map(|(_, pid)| *pid)
                .collect();
            pids.encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// `[{id, pid, registered_name | nil, alive?}]` for every bound process.
#[rustler::nif]
fn run_procs<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => {
            let procs: Vec<Term<'a>> = st
                .pids
                .iter()
                .enumerate()
                .filter_map(|(i, pid)| pid.map(|pid| (ProcId(i as u32), pid)))
                .map(|(p, pid)| {
                    let name = match st.ctl.name_of(p) {
                        Some(n) => match Atom::from_str(env, n) {
                            Ok(a) => a.encode(env),
                            Err(_) => atoms::nil().encode(env),
                        },
                        None => atoms::nil().encode(env),
                    };
                    (p.0, pid, name, st.ctl.is_alive(p)).encode(env)
                })
                .collect();
            procs.encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// The runner is done with this run's trace and schedule: hand their buffers to the next run.
/// Later calls for this run see an empty trace and schedule.
#[rustler::nif]
fn run_release<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(mut st) => {
            release(st.ctl.take_buffers());
            atoms::ok().encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// Results of shared-state reads a run keeps for its report; later ones are not noted.
const ANNOTATIONS_KEPT: usize = 50_000;

/// Notes what process `id`'s latest shared-state operation returned (for the report; no step).
#[rustler::nif]
fn run_annotate<'a>(
    env: Env<'a>,
    run: ResourceArc<RunResource>,
    id: Term<'a>,
    result: Term<'a>,
) -> Term<'a> {
    let Ok(id) = id.decode::<u32>() else {
        return err(env, format!("id must be a process id, got {}", show(id)));
    };
    match lock(&run) {
        // A bounded number per run: each distinct result is a stored term.
        Ok(st) if st.annotations >= ANNOTATIONS_KEPT => atoms::ok().encode(env),
        Ok(mut st) => {
            let payload = st.label(result);
            match st.ctl.annotate(ProcId(id), payload) {
                Ok(()) => {
                    st.annotations += 1;
                    atoms::ok().encode(env)
                }
                Err(e) => err(env, e),
            }
        }
        Err(e) => err(env, e),
    }
}

/// Stop the run from outside (the runner's watchdog or time budget).
#[rustler::nif]
fn run_abort<'a>(env: Env<'a>, run: ResourceArc<RunResource>, why: String) -> Term<'a> {
    match lock(&run) {
        Ok(mut st) => {
            st.ctl.abort(why);
            st.notify(env);
            atoms::ok().encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// `[{id, status, op | nil, enabled?}]` for every process of the run, `status` one of
/// `:waiting`, `:running`, `:unbound`, `:exited`: where each process stands (explains a replay
/// that could not follow its schedule).
#[rustler::nif]
fn run_statuses<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    use lockstep_core::ProcStatus as S;
    match lock(&run) {
        Ok(st) => {
            let nil = atoms::nil().encode(env);
            let list: Vec<Term<'a>> = (0..st.ctl.process_count())
                .map(|i| {
                    let p = ProcId(i as u32);
                    let name = |s: &str| Atom::from_str(env, s).map(|a| a.encode(env));
                    let (status, op, enabled) = match st.ctl.status(p) {
                        S::Waiting { op, enabled } => ("waiting", name(op.name()), enabled),
                        S::Running => ("running", Ok(nil), false),
                        S::Unbound => ("unbound", Ok(nil), false),
                        S::Exited | S::Unknown => ("exited", Ok(nil), false),
                    };
                    (p.0, name(status).unwrap_or(nil), op.unwrap_or(nil), enabled).encode(env)
                })
                .collect();
            list.encode(env)
        }
        Err(e) => err(env, e),
    }
}

/// A stable 64-bit fingerprint of the run's choices so far (for counting distinct schedules
/// without copying them out).
#[rustler::nif]
fn run_fingerprint<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => lockstep_core::schedule::fingerprint(st.ctl.choices()).encode(env),
        Err(e) => err(env, e),
    }
}

/// The run's reads-from pairs so far (see `lockstep_core::reads_from`), as a binary of
/// little-endian 64-bit hashes, ascending, at most `lockstep_core::reads_from::MAX_PAIRS`.
#[rustler::nif]
fn run_reads_from<'a>(env: Env<'a>, run: ResourceArc<RunResource>) -> Term<'a> {
    match lock(&run) {
        Ok(st) => {
            let pairs = lockstep_core::reads_from::pairs(st.ctl.trace());
            // At most `MAX_PAIRS` * 8 bytes (32 KiB).
            let mut bin = rustler::NewBinary::new(env, pairs.len() * 8);
            for (chunk, h) in bin.as_mut_slice().chunks_exact_mut(8).zip(&pairs) {
                chunk.copy_from_slice(&h.to_le_bytes());
            }
            Term::from(bin)
        }
        Err(e) => err(env, e),
    }
}

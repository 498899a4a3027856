//! The schedule file: one failing run written down so that it can be replayed, shrunk, read and
//! diffed.
//!
//! A schedule is JSON with a format marker and a version. It names the test it came from, the
//! strategy and seeds that produced it, the run settings that shape replay (the step limit and
//! the crash policies), how the run failed, the choice sequence (the process picked at each
//! step) and the run's events as readable text, so that one file is enough to replay the run
//! and to explain it.
//!
//! Decoding checks the marker and the version before anything else, so a file from a newer
//! Lockstep is refused as such rather than as a pile of unknown fields, then reads each field
//! on its own so that an error names the field at fault. Unknown fields are ignored.
//!
//! ```json
//! {
//!   "format": "lockstep-schedule",
//!   "version": 1,
//!   "created_by": "lockstep 0.1.0",
//!   "test": {"module": "CounterTest", "name": "two increments", "file": "test/counter_test.exs", "line": 12},
//!   "strategy": {"name": "pct", "params": {"depth": 3}, "text": ":pct"},
//!   "seed": 7,
//!   "iteration": 3,
//!   "iter_seed": 1469598103934665603,
//!   "expected_steps": 50,
//!   "settings": {"max_steps": 1000, "allow_crashes": false, "fail_on_blocked": false, "step_limit": "fail"},
//!   "steps": 3,
//!   "category": "exception",
//!   "detail": "** (RuntimeError) lost update",
//!   "choices": [0,0,1],
//!   "shrunk_from": null,
//!   "processes": [
//!     {"id": 0, "name": null},
//!     {"id": 1, "name": ":counter"}
//!   ],
//!   "trace": [
//!     {"step": 1, "time": 0, "proc": 0, "kind": "start", "text": "starts"},
//!     {"step": 2, "time": 0, "proc": 0, "kind": "spawn", "text": "spawns P1"},
//!     {"step": 3, "time": 0, "proc": 1, "kind": "start", "text": "starts"}
//!   ]
//! }
//! ```

use crate::excerpt::{excerpt, quoted, CONTENT_CHARS, MESSAGE_CHARS};
use crate::ids::ProcId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io;

/// The value of the `format` field of every schedule file.
pub const FORMAT: &str = "lockstep-schedule";

/// The version this engine writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// The strategies a schedule may name: those a hunt runs with (replay and guided runs only
/// follow a schedule, they never record one of their own).
pub const STRATEGIES: &[&str] = &["pct", "fair_pct", "pos", "idpct", "random", "exhaustive"];

/// The failure categories a schedule may record: the engine's outcomes
/// ([`crate::controller::Outcome::category`], but `completed`) and those the embedder adds
/// (`watchdog`, `escape`).
pub const CATEGORIES: &[&str] = &[
    "exception",
    "crash",
    "exit_signal",
    "deadlock",
    "left_blocked",
    "step_limit",
    "watchdog",
    "escape",
    "diverged",
    "aborted",
];

/// One failing run, as saved on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] when written by this engine.
    pub version: u32,
    /// What wrote the file (`"lockstep 0.1.0"`), for people reading it.
    pub created_by: Option<String>,
    /// The test the run belongs to; absent for runs started outside a test.
    pub test: Option<TestIdentity>,
    pub strategy: StrategySpec,
    /// The hunt's seed.
    pub seed: u64,
    /// Zero-based index of the failing iteration within the hunt.
    pub iteration: u64,
    /// The failing iteration's own seed (derived from `seed` and `iteration`).
    pub iter_seed: u64,
    /// The run-length estimate the strategy was given for this iteration (PCT places its change
    /// points with it), so the iteration can be re-run from its seeds alone.
    pub expected_steps: Option<u64>,
    pub settings: RunSettings,
    /// Steps the run took; always the length of `choices`.
    pub steps: u64,
    /// How the run failed: `exception`, `crash`, `deadlock`, `left_blocked`, `step_limit`,
    /// `watchdog`, ... (lower-case words and underscores).
    pub category: String,
    /// The failure explained in text (an exception with its stacktrace, the blocked processes).
    pub detail: String,
    /// The process picked at each step, oldest first: what strict replay follows.
    pub choices: Vec<ProcId>,
    /// When `choices` is the result of shrinking: the size of the schedule it was shrunk from.
    pub shrunk_from: Option<ShrunkFrom>,
    /// The run's processes with their registered names.
    pub processes: Vec<ProcessInfo>,
    /// The run's events, rendered as text.
    pub trace: Vec<TraceEvent>,
}

/// Where a test lives. `file` is relative to the project root when the test is inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestIdentity {
    /// The test module as Elixir prints it (`CounterTest`).
    pub module: String,
    /// The test's name as written in `ctest "..."`.
    pub name: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// The strategy that found the run, both for people and programs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategySpec {
    /// The strategy's name (`pct`, `random`, ...).
    pub name: String,
    /// Its parameters (`{"depth": 3}`), if any.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// The strategy option exactly as the embedder spells it (`{:pct, depth: 2}` in Elixir).
    #[serde(default)]
    pub text: Option<String>,
}

/// The run settings that change what a replay does. Files written before the time and exit
/// settings existed read with their defaults (see [`crate::controller::Config`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    pub max_steps: u64,
    pub allow_crashes: bool,
    pub fail_on_blocked: bool,
    pub step_limit: StepLimit,
    #[serde(default)]
    pub fail_on_abnormal_exit: bool,
    /// `"idle"` (timers fire when nothing else can move) or `"race"`.
    #[serde(default)]
    pub timers: Timers,
    /// Virtual ms after the root returns during which timers still fire; `null`: no bound.
    #[serde(default = "default_settle")]
    pub settle: Option<u64>,
    #[serde(default)]
    pub time_per_step: u64,
    /// The system time (ms since the Unix epoch) at virtual time 0.
    #[serde(default = "default_clock_start")]
    pub clock_start: u64,
    /// The faults the strategy could inject (`faults:`); none in older files.
    #[serde(default)]
    pub faults: FaultSettings,
    /// The run's own node (`node:`); `null`: the VM's node.
    #[serde(default)]
    pub node: Option<String>,
}

/// The fault budget of a run whose strategy may partition and stop nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSettings {
    #[serde(default)]
    pub partitions: u32,
    #[serde(default)]
    pub crashes: u32,
}

fn default_settle() -> Option<u64> {
    crate::controller::Config::default().settle
}

fn default_clock_start() -> u64 {
    crate::controller::DEFAULT_EPOCH
}

/// When timers fire: only when no process can move, or as choices racing with the processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timers {
    #[default]
    Idle,
    Race,
}

/// Whether reaching `max_steps` fails the run or ends it quietly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepLimit {
    Fail,
    Stop,
}

/// The schedule a shrunk one came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrunkFrom {
    pub steps: u64,
    /// Context switches away from a process that could have continued.
    pub preemptions: u64,
    /// The original choices, when kept.
    #[serde(default)]
    pub choices: Option<Vec<ProcId>>,
}

/// A process of the run. `name` is its registered name as the embedder prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub id: ProcId,
    pub name: Option<String>,
}

/// One event of the run, rendered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    pub step: u64,
    /// Virtual time in milliseconds.
    pub time: u64,
    /// The process whose step caused the event (`null` for timer fires and clock jumps).
    pub proc: Option<ProcId>,
    /// The event's kind (`send`, `receive`, `spawn`, ...), for comparing runs step by step.
    pub kind: String,
    /// What happened, for people (`sends {:set, 1} to P1`).
    pub text: String,
    /// The same, as named fields for tools (`to`, `message`, `reason`, ...; see `mix help
    /// lockstep.dump_trace`). Absent in files written before fields existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Field>,
}

/// A value of a trace event's field: a process id or count, a flag, or rendered text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Field {
    Bool(bool),
    Int(i64),
    Text(String),
}

/// Why a schedule could not be read or written. The message names the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// The text is not JSON (serde_json's message, with line and column).
    NotJson(String),
    /// The JSON is not an object.
    NotAnObject(&'static str),
    /// The `format` field is missing (None) or is not [`FORMAT`].
    NotASchedule(Option<String>),
    /// A version this engine does not read (newer than [`VERSION`], or 0).
    UnsupportedVersion(u64),
    MissingField(&'static str),
    /// A field has the wrong shape.
    BadField {
        field: &'static str,
        message: String,
    },
    /// The fields contradict each other.
    Inconsistent(String),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::NotJson(e) => write!(f, "not JSON: {e}"),
            ScheduleError::NotAnObject(kind) => write!(
                f,
                "not a Lockstep schedule: the JSON is {kind}, expected an object"
            ),
            ScheduleError::NotASchedule(None) => write!(
                f,
                "not a Lockstep schedule: no \"format\" field (expected \"{FORMAT}\")"
            ),
            ScheduleError::NotASchedule(Some(found)) => write!(
                f,
                "not a Lockstep schedule: format is {found}, expected \"{FORMAT}\""
            ),
            ScheduleError::UnsupportedVersion(found) if *found > u64::from(VERSION) => write!(
                f,
                "schedule version {found} is unsupported: it was written by a newer Lockstep; \
                 this one reads version {VERSION}"
            ),
            ScheduleError::UnsupportedVersion(found) => write!(
                f,
                "schedule version {found} is unsupported: this Lockstep reads version {VERSION}"
            ),
            ScheduleError::MissingField(name) => write!(f, "missing field `{name}`"),
            ScheduleError::BadField { field, message } => {
                write!(f, "bad field `{field}`: {message}")
            }
            ScheduleError::Inconsistent(why) => write!(f, "inconsistent schedule: {why}"),
        }
    }
}

impl std::error::Error for ScheduleError {}

impl Schedule {
    /// Reads a schedule from JSON text: the marker and version first, then every field, then
    /// the checks of [`Schedule::validate`].
    pub fn from_json(text: &str) -> Result<Schedule, ScheduleError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ScheduleError::NotJson(e.to_string()))?;
        Schedule::from_value(value)
    }

    /// Like [`Schedule::from_json`], from an already parsed JSON value (what an embedder builds
    /// from its own data before writing).
    pub fn from_value(value: Value) -> Result<Schedule, ScheduleError> {
        let Value::Object(mut obj) = value else {
            return Err(ScheduleError::NotAnObject(kind_of(&value)));
        };
        match obj.get("format") {
            Some(Value::String(s)) if s == FORMAT => {}
            Some(other) => {
                return Err(ScheduleError::NotASchedule(Some(excerpt(
                    &other.to_string(),
                    CONTENT_CHARS,
                ))))
            }
            None => return Err(ScheduleError::NotASchedule(None)),
        }
        match obj.get("version") {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v == u64::from(VERSION) => {}
                Some(v) => return Err(ScheduleError::UnsupportedVersion(v)),
                None => return Err(bad_version(&n.to_string())),
            },
            Some(other) => return Err(bad_version(&excerpt(&other.to_string(), CONTENT_CHARS))),
            None => return Err(ScheduleError::MissingField("version")),
        }
        let schedule = Schedule {
            format: FORMAT.to_string(),
            version: VERSION,
            created_by: optional(&mut obj, "created_by")?,
            test: optional(&mut obj, "test")?,
            strategy: required(&mut obj, "strategy")?,
            seed: required(&mut obj, "seed")?,
            iteration: required(&mut obj, "iteration")?,
            iter_seed: required(&mut obj, "iter_seed")?,
            expected_steps: optional(&mut obj, "expected_steps")?,
            settings: required(&mut obj, "settings")?,
            steps: required(&mut obj, "steps")?,
            category: required(&mut obj, "category")?,
            detail: optional(&mut obj, "detail")?.unwrap_or_default(),
            choices: required(&mut obj, "choices")?,
            shrunk_from: optional(&mut obj, "shrunk_from")?,
            processes: optional(&mut obj, "processes")?.unwrap_or_default(),
            trace: required(&mut obj, "trace")?,
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks what the types cannot: the marker and version, `steps` against `choices`, the
    /// category's spelling, the settings, the test identity and the order of the trace.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.format != FORMAT {
            return Err(ScheduleError::NotASchedule(Some(format!(
                "{:?}",
                self.format
            ))));
        }
        if self.version != VERSION {
            return Err(ScheduleError::UnsupportedVersion(u64::from(self.version)));
        }
        let inconsistent = |why: String| Err(ScheduleError::Inconsistent(why));
        if self.steps != self.choices.len() as u64 {
            return inconsistent(format!(
                "steps is {} but choices has {} entries",
                self.steps,
                self.choices.len()
            ));
        }
        if !STRATEGIES.contains(&self.strategy.name.as_str()) {
            return Err(ScheduleError::BadField {
                field: "strategy",
                message: format!(
                    "unknown strategy {} (known: {})",
                    quoted(&self.strategy.name),
                    STRATEGIES.join(", ")
                ),
            });
        }
        if !CATEGORIES.contains(&self.category.as_str()) {
            return Err(ScheduleError::BadField {
                field: "category",
                message: format!(
                    "unknown failure category {} (known: {})",
                    quoted(&self.category),
                    CATEGORIES.join(", ")
                ),
            });
        }
        if self.settings.max_steps == 0 {
            return Err(ScheduleError::BadField {
                field: "settings",
                message: "max_steps must be at least 1".into(),
            });
        }
        if self.steps > self.settings.max_steps {
            return inconsistent(format!(
                "{} steps exceed settings.max_steps {}",
                self.steps, self.settings.max_steps
            ));
        }
        if let Some(test) = &self.test {
            if test.line.is_some() && test.file.is_none() {
                return inconsistent("test.line is set but test.file is not".into());
            }
        }
        if let Some(ShrunkFrom {
            steps,
            choices: Some(choices),
            ..
        }) = &self.shrunk_from
        {
            if *steps != choices.len() as u64 {
                return inconsistent(format!(
                    "shrunk_from.steps is {steps} but shrunk_from.choices has {} entries",
                    choices.len()
                ));
            }
        }
        let mut last = 0;
        for (i, e) in self.trace.iter().enumerate() {
            if e.step < last || e.step > self.steps {
                return inconsistent(format!(
                    "trace event {i} is at step {}, after step {last} and with {} steps in all",
                    e.step, self.steps
                ));
            }
            last = e.step;
        }
        Ok(())
    }

    /// The schedule as JSON: one field per line, small objects and the choices inline, and one
    /// line per trace event and per process, so that files read and diff well.
    pub fn to_json(&self) -> Result<String, ScheduleError> {
        self.validate()?;
        to_readable_json(self)
    }

    /// The trace events alone, as a JSON array with one event per line.
    pub fn trace_json(&self) -> Result<String, ScheduleError> {
        to_readable_json(&self.trace)
    }
}

/// serde's message may repeat a value of the file (`invalid type: string "..."`): bounded.
fn bad_field(field: &'static str, e: &serde_json::Error) -> ScheduleError {
    ScheduleError::BadField {
        field,
        message: excerpt(&e.to_string(), MESSAGE_CHARS),
    }
}

fn bad_version(found: &str) -> ScheduleError {
    ScheduleError::BadField {
        field: "version",
        message: format!("expected a positive integer, got {found}"),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    field: &'static str,
) -> Result<T, ScheduleError> {
    match obj.remove(field) {
        None => Err(ScheduleError::MissingField(field)),
        Some(v) => serde_json::from_value(v).map_err(|e| bad_field(field, &e)),
    }
}

fn optional<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<T>, ScheduleError> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| bad_field(field, &e)),
    }
}

fn to_readable_json<T: Serialize>(value: &T) -> Result<String, ScheduleError> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Readable::default());
    value
        .serialize(&mut ser)
        .map_err(|e| ScheduleError::Inconsistent(format!("cannot be written as JSON: {e}")))?;
    out.push(b'\n');
    String::from_utf8(out)
        .map_err(|e| ScheduleError::Inconsistent(format!("cannot be written as JSON: {e}")))
}

/// A stable 64-bit fingerprint of a choice sequence (FNV-1a over the length and the ids), the
/// same on every machine and build, for counting distinct schedules.
pub fn fingerprint(choices: &[ProcId]) -> u64 {
    let mut h = Fnv::new();
    h.word(choices.len() as u64);
    for p in choices {
        h.bytes(&p.0.to_le_bytes());
    }
    h.finish()
}

/// FNV-1a, 64-bit: a hash that is the same on every machine and build (no random state), for
/// fingerprints that are compared across runs.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn word(&mut self, w: u64) {
        self.bytes(&w.to_le_bytes());
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// JSON layout: the outermost container's members one per line; objects that are elements of
/// the outermost array, or of an array directly inside the outermost object, one per line;
/// everything deeper inline.
#[derive(Default)]
struct Readable {
    /// Open containers, outermost first: (is_array, put a member on its own line).
    stack: Vec<(bool, bool)>,
}

impl Readable {
    fn indent<W: ?Sized + io::Write>(w: &mut W, levels: usize) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..levels {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        if let Some((_, broke)) = self.stack.pop() {
            if broke {
                Readable::indent(w, self.stack.len())?;
            }
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Readable {
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        let depth = self.stack.len();
        let outer_object = self.stack.first().is_some_and(|(array, _)| !array);
        if let Some((true, broke)) = self.stack.last_mut() {
            if depth == 1 || (depth == 2 && outer_object) {
                *broke = true;
                Readable::indent(w, depth)?;
            }
        }
        self.stack.push((false, false));
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        let outermost = self.stack.len() == 1;
        if !first {
            w.write_all(if outermost { b"," } else { b", " })?;
        }
        if outermost {
            if let Some((_, broke)) = self.stack.last_mut() {
                *broke = true;
            }
            Readable::indent(w, 1)?;
        }
        Ok(())
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.stack.push((true, false));
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }
}

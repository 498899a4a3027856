//! The entry point a command line or a NIF calls: check histories (text, events or files) with a
//! named model and options, returning serde-friendly per-file verdicts.

use super::causal::{causal_ops, check_causal, CausalModel};
use super::error::CheckError;
use super::history::{pair_events, positions, Event, HistoryOptions, Rules};
use super::linearizability::{
    check_operations, LinearizabilityOptions, LinearizabilityReport, Verdict,
};
use super::models::counter::CounterModel;
use super::models::kv::KvModel;
use super::models::multi_register::MultiRegisterModel;
use super::models::mutex::MutexModel;
use super::models::queue::QueueModel;
use super::models::register::RegisterModel;
use super::models::set::SetModel;
use super::models::{encode_operations, HistoryModel, Model};
use super::parse::{read_history, Format, Skipped};
use super::sequential::{check_sequential_with, ConsistencyVerdict};
use super::value::Value;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The built-in models, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Register,
    CasRegister,
    /// Key-value map (one register per key), partitioned by key.
    Kv,
    /// Registers named by keys, read and written by `:txn` transactions (strict
    /// serializability), partitioned by groups of keys transactions connect.
    MultiRegister,
    Counter,
    Set,
    Queue,
    Mutex,
}

impl FromStr for ModelKind {
    type Err = CheckError;
    fn from_str(s: &str) -> Result<Self, CheckError> {
        match s.replace('-', "_").as_str() {
            "register" => Ok(ModelKind::Register),
            "cas_register" | "cas" => Ok(ModelKind::CasRegister),
            "kv" | "key_value" | "map" => Ok(ModelKind::Kv),
            // Single-key operations with a :key check as they do with kv.
            "multi_register" | "txn" | "txn_register" => Ok(ModelKind::MultiRegister),
            "counter" => Ok(ModelKind::Counter),
            "set" => Ok(ModelKind::Set),
            "queue" | "fifo_queue" | "fifo" => Ok(ModelKind::Queue),
            "mutex" | "lock" => Ok(ModelKind::Mutex),
            other => Err(CheckError::Options {
                message: format!(
                    "unknown model {other:?} (known: register, cas_register, kv, multi_register, \
                     counter, set, queue, mutex)"
                ),
            }),
        }
    }
}

/// Everything a check needs besides the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOptions {
    pub model: ModelKind,
    #[serde(default)]
    pub format: Format,
    #[serde(default)]
    pub history: HistoryOptions,
    /// Initial value of the register / of every key (default `nil`; counters default to 0).
    #[serde(default)]
    pub initial: Option<Value>,
    #[serde(default)]
    pub linearizability: LinearizabilityOptions,
    /// Refuse history texts with lines that are not history events (other log output in a
    /// Jepsen etcd log), instead of skipping and counting them.
    #[serde(default)]
    pub strict: bool,
    /// The preset the options started from (see [`CheckOptions::with_rules`]); informational:
    /// the other fields are what a check uses.
    #[serde(default)]
    pub rules: Rules,
}

impl CheckOptions {
    pub fn new(model: ModelKind) -> Self {
        CheckOptions {
            model,
            format: Format::Auto,
            history: HistoryOptions::default(),
            initial: None,
            linearizability: LinearizabilityOptions::default(),
            strict: false,
            rules: Rules::Lockstep,
        }
    }

    /// Options that read histories as `rules` does (see [`Rules`]): its history options,
    /// initial value and strictness. Fields set afterwards override the preset.
    pub fn with_rules(model: ModelKind, rules: Rules) -> Self {
        CheckOptions {
            history: rules.history(),
            initial: rules.initial(),
            strict: rules.strict(),
            rules,
            ..CheckOptions::new(model)
        }
    }
}

fn run<M>(
    mut model: M,
    events: &[Event],
    opts: &CheckOptions,
) -> Result<LinearizabilityReport, CheckError>
where
    M: HistoryModel + Model + Sync,
    M::State: Send,
    M::Input: Sync,
    M::Output: Sync,
{
    let raw = pair_events(events, &opts.history)?;
    let ops = encode_operations(&mut model, &raw, &opts.history)?;
    Ok(check_operations(&model, &ops, &opts.linearizability))
}

/// Refuses an initial value nested deeper than the checkers accept.
fn check_initial(opts: &CheckOptions) -> Result<(), CheckError> {
    match &opts.initial {
        Some(v) => v.check_depth().map_err(|m| CheckError::Options {
            message: format!("the initial value: {m}"),
        }),
        None => Ok(()),
    }
}

/// Builds the model named in `opts` and evaluates `$body` with it bound to `$m`.
macro_rules! with_model {
    ($opts:expr, $m:ident => $body:expr) => {{
        check_initial($opts)?;
        let initial = $opts.initial.clone().unwrap_or(Value::Nil);
        match $opts.model {
            ModelKind::Register => {
                let $m = RegisterModel::new(initial);
                $body
            }
            ModelKind::CasRegister => {
                let $m = RegisterModel::with_cas(initial);
                $body
            }
            ModelKind::Kv => {
                let $m = KvModel::new(initial);
                $body
            }
            ModelKind::MultiRegister => {
                let $m = MultiRegisterModel::new(initial);
                $body
            }
            ModelKind::Counter => {
                let initial = match &$opts.initial {
                    None => 0,
                    Some(v) => v.as_int().ok_or_else(|| CheckError::Options {
                        message: "a counter's initial value must be an integer".into(),
                    })?,
                };
                let $m = CounterModel { initial };
                $body
            }
            ModelKind::Set => {
                let $m = SetModel;
                $body
            }
            ModelKind::Queue => {
                let $m = QueueModel;
                $body
            }
            ModelKind::Mutex => {
                let $m = MutexModel;
                $body
            }
        }
    }};
}

/// Checks parsed events for linearizability with the model named in `opts`. A violation's
/// operations are placed where they are in the file ([`locate_verdict`]), and an event that
/// cannot be read is named by its line when the events carry lines.
pub fn check_events(
    events: &[Event],
    opts: &CheckOptions,
) -> Result<LinearizabilityReport, CheckError> {
    let mut report =
        with_model!(opts, m => run(m, events, opts)).map_err(|e| locate_error(e, events))?;
    locate_verdict(&mut report.verdict, events);
    Ok(report)
}

/// Gives the operations of a violation their places in the file the events were read from:
/// lines, or the ops' own `:index` when every event carries one (see
/// [`positions`](super::history::positions)); client event numbers otherwise.
pub fn locate_verdict(verdict: &mut Verdict, events: &[Event]) {
    if let Verdict::NotLinearizable { explanation } = verdict {
        let (unit, at) = positions(events);
        explanation.locate(unit, &at);
    }
}

/// An error about event `n` becomes an error about its line, when the event has one.
pub fn locate_error(e: CheckError, events: &[Event]) -> CheckError {
    let line_of = |event: usize| {
        event
            .checked_sub(1)
            .and_then(|i| events.get(i))
            .and_then(|e| e.line)
            .and_then(|l| usize::try_from(l).ok())
    };
    match e {
        CheckError::History { event, message } | CheckError::Model { event, message }
            if line_of(event).is_some() =>
        {
            CheckError::Parse {
                line: line_of(event).unwrap_or(event),
                message,
            }
        }
        other => other,
    }
}

fn run_sequential<M: HistoryModel>(
    mut model: M,
    events: &[Event],
    opts: &CheckOptions,
) -> Result<ConsistencyVerdict, CheckError> {
    let raw = pair_events(events, &opts.history)?;
    let ops = encode_operations(&mut model, &raw, &opts.history)?;
    Ok(check_sequential_with(
        &model,
        &ops,
        &opts.linearizability.search_limits(),
    ))
}

/// Checks parsed events for sequential consistency with the model named in `opts` (never
/// partitioned: sequential consistency is not compositional).
pub fn check_sequential_events(
    events: &[Event],
    opts: &CheckOptions,
) -> Result<ConsistencyVerdict, CheckError> {
    with_model!(opts, m => run_sequential(m, events, opts)).map_err(|e| locate_error(e, events))
}

/// Checks parsed read/write events (registers or keys) for causal consistency.
pub fn check_causal_events(
    events: &[Event],
    opts: &CheckOptions,
    model: CausalModel,
) -> Result<ConsistencyVerdict, CheckError> {
    check_initial(opts)?;
    let raw = pair_events(events, &opts.history).map_err(|e| locate_error(e, events))?;
    let ops = causal_ops(&raw).map_err(|e| locate_error(e, events))?;
    check_causal(&ops, model, &opts.initial.clone().unwrap_or(Value::Nil))
}

/// Parses `text` (in `opts.format`, see [`read_history`]: a text without operations is an
/// error, and so are lines that are not history events when `opts.strict`) and checks it.
pub fn check_text(text: &str, opts: &CheckOptions) -> Result<Verdict, CheckError> {
    check_text_counting(text, opts).0
}

/// [`check_text`], and the lines it skipped (known once the text is parsed).
fn check_text_counting(
    text: &str,
    opts: &CheckOptions,
) -> (Result<Verdict, CheckError>, Option<Skipped>) {
    match read_history(text, opts.format, opts.strict) {
        Ok(parsed) => (
            check_events(&parsed.events, opts).map(|r| r.verdict),
            parsed.skipped,
        ),
        Err(e) => (Err(e), None),
    }
}

/// The outcome for one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileVerdict {
    pub path: String,
    pub result: Result<Verdict, CheckError>,
    /// Lines of the file that are not history events and were skipped (never in strict mode).
    #[serde(default)]
    pub skipped: Option<Skipped>,
}

/// Reads and checks one file.
pub fn check_file(path: &Path, opts: &CheckOptions) -> FileVerdict {
    let name = path.display().to_string();
    let text = std::fs::read(path)
        .map_err(|e| CheckError::Io {
            path: name.clone(),
            message: e.to_string(),
        })
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| CheckError::Io {
                path: name.clone(),
                message: "not UTF-8 text".into(),
            })
        });
    let (result, skipped) = match text {
        Ok(text) => check_text_counting(&text, opts),
        Err(e) => (Err(e), None),
    };
    FileVerdict {
        path: name,
        result,
        skipped,
    }
}

/// What a path given to [`check_path_entries`] turned into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "entry")]
pub enum PathEntry {
    Checked(FileVerdict),
    /// A file found in a directory that is not a history (an HTML timeline, an image, binary
    /// data): passed over, not an error. Files named explicitly are always checked.
    NotHistory {
        path: String,
        reason: String,
    },
}

/// Extensions of files that sit beside histories but are never histories themselves.
const NOT_HISTORY_EXTENSIONS: &[&str] = &[
    "html", "htm", "xhtml", "svg", "png", "jpg", "jpeg", "gif", "webp", "pdf", "md", "css", "js",
    "zip", "gz", "tgz", "bz2", "xz", "zst", "tar", "jar", "class", "so", "o",
];

/// Why a file found in a directory is not a history, or `None` when it may be one: decided by
/// its extension, then by its first 4 KiB (binary data, or markup starting with `<`). Texts
/// that might be histories are checked, so that a broken history is still an error.
pub fn not_a_history(path: &Path) -> Option<String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if let Some(ext) = ext.filter(|e| NOT_HISTORY_EXTENSIONS.contains(&e.as_str())) {
        return Some(format!("a .{ext} file"));
    }
    let mut head = Vec::with_capacity(4096);
    let file = std::fs::File::open(path).ok()?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 4096), &mut head).ok()?;
    if head.contains(&0) {
        return Some("binary data".into());
    }
    let text = match std::str::from_utf8(&head) {
        Ok(t) => t,
        // A multi-byte character cut at the 4 KiB boundary is still text.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_) => return Some("not UTF-8 text".into()),
    };
    match text.trim_start().as_bytes().first() {
        Some(b'<') => Some("markup (HTML or XML)".into()),
        _ => None,
    }
}

/// Expands directories (their regular, non-hidden files, sorted by name; not recursive) and checks
/// every file; files in a directory that are not histories ([`not_a_history`]) are passed over.
/// Paths that do not exist produce an error entry rather than being dropped.
pub fn check_path_entries(paths: &[PathBuf], opts: &CheckOptions) -> Vec<PathEntry> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(PathEntry::Checked(check_file(p, opts)));
            continue;
        }
        match std::fs::read_dir(p) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file())
                    .filter(|f| {
                        f.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| !n.starts_with('.'))
                    })
                    .collect();
                found.sort();
                for f in found {
                    out.push(match not_a_history(&f) {
                        Some(reason) => PathEntry::NotHistory {
                            path: f.display().to_string(),
                            reason,
                        },
                        None => PathEntry::Checked(check_file(&f, opts)),
                    });
                }
            }
            Err(e) => out.push(PathEntry::Checked(FileVerdict {
                path: p.display().to_string(),
                result: Err(CheckError::Io {
                    path: p.display().to_string(),
                    message: e.to_string(),
                }),
                skipped: None,
            })),
        }
    }
    out
}

/// [`check_path_entries`], the files checked only.
pub fn check_paths(paths: &[PathBuf], opts: &CheckOptions) -> Vec<FileVerdict> {
    check_path_entries(paths, opts)
        .into_iter()
        .filter_map(|e| match e {
            PathEntry::Checked(v) => Some(v),
            PathEntry::NotHistory { .. } => None,
        })
        .collect()
}

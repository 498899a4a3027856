//! The entry point a command line or a NIF calls: check histories (text, events or files) with a
//! named model and options, returning serde-friendly per-file verdicts.

use super::causal::{causal_ops, check_causal, CausalModel};
use super::error::CheckError;
use super::history::{pair_events, Event, HistoryOptions, Rules};
use super::linearizability::{
    check_operations, LinearizabilityOptions, LinearizabilityReport, Verdict,
};
use super::models::counter::CounterModel;
use super::models::kv::KvModel;
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
    /// Key-value map / multi-register, partitioned by key.
    Kv,
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
            "kv" | "key_value" | "multi_register" | "map" => Ok(ModelKind::Kv),
            "counter" => Ok(ModelKind::Counter),
            "set" => Ok(ModelKind::Set),
            "queue" | "fifo_queue" | "fifo" => Ok(ModelKind::Queue),
            "mutex" | "lock" => Ok(ModelKind::Mutex),
            other => Err(CheckError::Options {
                message: format!(
                    "unknown model {other:?} (known: register, cas_register, kv, counter, set, queue, mutex)"
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

/// Checks parsed events for linearizability with the model named in `opts`.
pub fn check_events(
    events: &[Event],
    opts: &CheckOptions,
) -> Result<LinearizabilityReport, CheckError> {
    with_model!(opts, m => run(m, events, opts))
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
    with_model!(opts, m => run_sequential(m, events, opts))
}

/// Checks parsed read/write events (registers or keys) for causal consistency.
pub fn check_causal_events(
    events: &[Event],
    opts: &CheckOptions,
    model: CausalModel,
) -> Result<ConsistencyVerdict, CheckError> {
    check_initial(opts)?;
    let raw = pair_events(events, &opts.history)?;
    let ops = causal_ops(&raw)?;
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

/// Expands directories (their regular, non-hidden files, sorted by name; not recursive) and checks
/// every file. Paths that do not exist produce an error entry rather than being dropped.
pub fn check_paths(paths: &[PathBuf], opts: &CheckOptions) -> Vec<FileVerdict> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
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
                    files.extend(found);
                }
                Err(e) => out.push((
                    p.clone(),
                    FileVerdict {
                        path: p.display().to_string(),
                        result: Err(CheckError::Io {
                            path: p.display().to_string(),
                            message: e.to_string(),
                        }),
                        skipped: None,
                    },
                )),
            }
        } else {
            files.push(p.clone());
        }
    }
    out.extend(files.iter().map(|f| (f.clone(), check_file(f, opts))));
    out.into_iter().map(|(_, v)| v).collect()
}

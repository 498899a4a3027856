//! Human-readable explanations of violations, and a self-contained HTML view.
//!
//! An explanation names the smallest failing partition, shows the longest partial linearizations the
//! search found (each step with the model state after it) and the operation that could not be placed
//! next, with the reason in the model's own words.

use super::history::PositionUnit;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Where an operation is in the file it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub unit: PositionUnit,
    /// The position of the invocation and of the completion (`None` when open).
    pub call: u64,
    pub ret: Option<u64>,
}

/// One operation as shown to a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpView {
    /// Index among the checked (encoded) operations.
    pub index: usize,
    pub process: u64,
    pub description: String,
    /// The checker's clock (0-based client event indices).
    pub call: u64,
    /// `None` for open operations.
    pub ret: Option<u64>,
    /// Where the operation is in the file (lines or `:index`); `None`: client event numbers,
    /// `call + 1` and `ret + 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
}

/// One step of a partial linearization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub op: OpView,
    pub state_after: String,
}

/// A longest partial linearization and where it got stuck.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialView {
    pub steps: Vec<StepView>,
    pub state: String,
    pub stuck: Option<OpView>,
    pub reason: String,
}

/// Why a history is not linearizable, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The failing partition (e.g. `key "3"`), when the history was partitioned.
    pub partition: Option<String>,
    pub total_ops: usize,
    /// Every operation of the failing partition, in invocation order.
    pub ops: Vec<OpView>,
    pub longest: Vec<PartialView>,
    /// The full explanation as prose.
    pub text: String,
}

fn interval(op: &OpView) -> String {
    let place = op.place.unwrap_or(Place {
        unit: PositionUnit::Event,
        call: op.call + 1,
        ret: op.ret.map(|r| r + 1),
    });
    let (many, one) = match place.unit {
        PositionUnit::Event => ("events", "event"),
        PositionUnit::Line => ("lines", "line"),
        PositionUnit::Index => (":index", ":index"),
    };
    match place.ret {
        Some(r) => format!("{many} {}..{r}", place.call),
        None => format!("invoked at {one} {}, never returned", place.call),
    }
}

/// An operation in one line: its process, what it did and where it is in the history.
pub fn op_line(op: &OpView) -> String {
    format!(
        "process {}: {} ({})",
        op.process,
        op.description,
        interval(op)
    )
}

/// Assembles the prose for an explanation from its parts.
pub(crate) fn render_text(
    partition: Option<&str>,
    total_ops: usize,
    part_ops: usize,
    longest: &[PartialView],
) -> String {
    let mut t = String::new();
    match partition {
        Some(p) => {
            let _ = writeln!(
                t,
                "Not linearizable: the operations on {p} ({part_ops} of {total_ops} operations) admit no legal order."
            );
        }
        None => {
            let _ = writeln!(
                t,
                "Not linearizable: the {part_ops} operations admit no legal order."
            );
        }
    }
    for (i, p) in longest.iter().enumerate() {
        let _ = writeln!(
            t,
            "\nLongest partial linearization{} ({} operations):",
            if longest.len() > 1 {
                format!(" #{}", i + 1)
            } else {
                String::new()
            },
            p.steps.len()
        );
        if p.steps.is_empty() {
            let _ = writeln!(
                t,
                "  (none: not even a first operation can be placed; {})",
                p.state
            );
        }
        for (k, s) in p.steps.iter().enumerate() {
            let _ = writeln!(
                t,
                "  {:>3}. {}  => {}",
                k + 1,
                op_line(&s.op),
                s.state_after
            );
        }
        if let Some(stuck) = &p.stuck {
            let _ = writeln!(t, "  Cannot place next: {}", op_line(stuck));
        }
        let _ = writeln!(t, "  {}", p.reason);
    }
    t
}

impl Explanation {
    /// Gives every operation its place in the file: `positions[i]` is where client event `i`
    /// (the checker's clock) is, counted in `unit`; the prose is written again to match.
    pub fn locate(&mut self, unit: PositionUnit, positions: &[u64]) {
        let at = |op: &mut OpView| {
            let pos = |t: u64| {
                usize::try_from(t)
                    .ok()
                    .and_then(|i| positions.get(i))
                    .copied()
            };
            if let Some(call) = pos(op.call) {
                op.place = Some(Place {
                    unit,
                    call,
                    ret: op.ret.and_then(pos),
                });
            }
        };
        self.ops.iter_mut().for_each(at);
        for p in &mut self.longest {
            p.steps.iter_mut().for_each(|s| at(&mut s.op));
            if let Some(stuck) = p.stuck.as_mut() {
                at(stuck);
            }
        }
        self.text = render_text(
            self.partition.as_deref(),
            self.total_ops,
            self.ops.len(),
            &self.longest,
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page showing the failing partition as a timeline (one row per process, one
/// bar per operation spanning its invocation to its return) and the longest partial linearizations
/// (bars numbered by their position in the partial order; the stuck operation outlined in red).
pub fn render_html(title: &str, exp: &Explanation) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font-family:sans-serif;margin:1.5em}}\
.tl{{position:relative;border-left:1px solid #999;margin:1em 14em 1em 0}}\
.row{{position:relative;height:34px;border-bottom:1px dotted #ddd}}\
.lbl{{position:absolute;left:-7em;width:6.5em;text-align:right;font-size:12px;top:9px}}\
.op{{position:absolute;top:4px;height:22px;background:#cfe3ff;border:1px solid #4a7bd0;\
border-radius:3px;font-size:11px;white-space:nowrap;overflow:visible;box-sizing:border-box}}\
.op span{{position:relative;top:3px;left:2px;background:rgba(255,255,255,.75);padding:0 2px}}\
.op:hover{{z-index:5;outline:2px solid #333}}\
.op.open{{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ddd 4px,#ddd 8px);border-style:dashed}}\
.op.lin{{background:#c8f0c8;border-color:#3a3}}.op.stuck{{border:2px solid #d22}}\
.op.later{{background:#cfe3ff;border-color:#4a7bd0}}\
.legend span{{display:inline-block;margin-right:1.2em;font-size:12px}}\
.legend i{{display:inline-block;width:2.2em;height:1em;vertical-align:middle;margin-right:.3em;border:1px solid #4a7bd0;background:#cfe3ff}}\
.legend i.lin{{background:#c8f0c8;border-color:#3a3}}.legend i.stuck{{border:2px solid #d22}}\
.legend i.open{{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ddd 4px,#ddd 8px);border-style:dashed}}\
.step{{font-size:13px;margin:.3em 0}}\
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}</style>\
<script>function lstep(id,k){{document.querySelectorAll('#'+id+' .op.lin,#'+id+' .op.later').forEach(\
function(e){{var n=+e.dataset.k;e.classList.toggle('lin',n<=k);e.classList.toggle('later',n>k);}});\
document.getElementById(id+'-n').textContent=k;}}</script></head><body>",
        esc(title)
    );
    let _ = write!(h, "<h1>{}</h1>", esc(title));
    h.push_str(
        "<div class=\"legend\"><span><i class=\"lin\"></i>placed, numbered in the order found</span>\
<span><i></i>not placed</span><span><i class=\"open\"></i>never returned (may take effect late)</span>\
<span><i class=\"stuck\"></i>could not be placed next</span>\
<span>Lanes are the history's processes (P0, P1, ...), time runs left to right; hover an \
operation for its whole text.</span></div>",
    );
    let mut procs: Vec<u64> = exp.ops.iter().map(|o| o.process).collect();
    procs.sort_unstable();
    procs.dedup();
    let t0 = exp.ops.iter().map(|o| o.call).min().unwrap_or(0);
    let t1 = exp
        .ops
        .iter()
        .map(|o| o.ret.unwrap_or(o.call) + 1)
        .max()
        .unwrap_or(1)
        .max(t0 + 1);
    let span = (t1 - t0) as f64;
    let pct = |t: u64| ((t.saturating_sub(t0)) as f64 / span * 100.0).min(100.0);
    for (pi, p) in exp.longest.iter().enumerate() {
        let n = p.steps.len();
        let _ = write!(
            h,
            "<h2>Partial linearization {} ({} operation{})</h2>\
<div class=\"step\">Step through it: <input type=\"range\" min=\"0\" max=\"{n}\" value=\"{n}\" \
oninput=\"lstep('p{pi}',+this.value)\"> <span id=\"p{pi}-n\">{n}</span> of {n} placed</div>\
<div class=\"tl\" id=\"p{pi}\" style=\"margin-left:7em\">",
            pi + 1,
            n,
            if n == 1 { "" } else { "s" }
        );
        for proc_ in &procs {
            let _ = write!(h, "<div class=\"row\"><span class=\"lbl\">P{proc_}</span>");
            for op in exp.ops.iter().filter(|o| o.process == *proc_) {
                let left = pct(op.call);
                let right = op.ret.map(|r| pct(r + 1)).unwrap_or(100.0);
                let pos = p.steps.iter().position(|s| s.op.index == op.index);
                let mut class = String::from("op");
                if op.ret.is_none() {
                    class.push_str(" open");
                }
                if pos.is_some() {
                    class.push_str(" lin");
                }
                if p.stuck.as_ref().is_some_and(|s| s.index == op.index) {
                    class.push_str(" stuck");
                }
                let label = match pos {
                    Some(k) => format!("{}. {}", k + 1, op.description),
                    None => op.description.clone(),
                };
                let order = pos
                    .map(|k| format!(" data-k=\"{}\"", k + 1))
                    .unwrap_or_default();
                let _ = write!(
                    h,
                    "<div class=\"{}\"{} style=\"left:{:.3}%;width:{:.3}%\" title=\"{}\"><span>{}</span></div>",
                    class,
                    order,
                    left,
                    (right - left).max(0.5),
                    esc(&op_line(op)),
                    esc(&label)
                );
            }
            h.push_str("</div>");
        }
        h.push_str("</div>");
    }
    let _ = write!(
        h,
        "<h2>Explanation</h2><pre>{}</pre></body></html>",
        esc(&exp.text)
    );
    h
}

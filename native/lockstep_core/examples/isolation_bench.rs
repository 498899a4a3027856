//! Times the isolation checker on generated 100,000-transaction histories (list-append and
//! rw-register; a correct store and a faulty one), parsed from EDN and checked:
//! `cargo run --release -p lockstep_core --example isolation_bench [TXNS [DIR]]` (with `DIR`,
//! each history is also written there as EDN, for `mix lockstep.check --isolation`).

use lockstep_core::checker::isolation::generate::{history, to_edn, Spec};
use lockstep_core::checker::isolation::{
    check_isolation, ConsistencyModel, IsolationOptions, Workload,
};
use lockstep_core::checker::parse::read_history;
use lockstep_core::checker::Format;
use std::time::Instant;

fn main() {
    let txns: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    for w in [Workload::ListAppend, Workload::RwRegister] {
        for (name, faults) in [("correct", (0, 0)), ("faulty", (20, 5))] {
            let spec = Spec {
                processes: 10,
                faults,
                ..Spec::correct(w, 42, txns)
            };
            let text = to_edn(&history(&spec));
            if let Some(dir) = std::env::args().nth(2) {
                let file = format!("{dir}/{}-{name}-{txns}.edn", w.name());
                std::fs::write(&file, &text).expect("the directory is writable");
            }
            for model in [
                ConsistencyModel::Serializable,
                ConsistencyModel::StrictSerializable,
            ] {
                let opts = IsolationOptions {
                    model,
                    ..IsolationOptions::default()
                };
                let t = Instant::now();
                let parsed = read_history(&text, Format::Edn, true).expect("it parses");
                let parse = t.elapsed();
                let r = check_isolation(&parsed.events, w, &opts).expect("it checks");
                let took = t.elapsed() - parse;
                let first = r.text.lines().next().unwrap_or("");
                println!(
                    "{:<11} {name:<7} {:<19} {txns} txns, {:>5} MB of EDN, {} edges: parse {:>5.0} ms, check {:>5.0} ms  {}",
                    w.name(),
                    model.name(),
                    text.len() / 1_000_000,
                    r.edges,
                    parse.as_secs_f64() * 1000.0,
                    took.as_secs_f64() * 1000.0,
                    first.chars().take(90).collect::<String>()
                );
            }
        }
    }
}

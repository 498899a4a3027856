//! The two transactional checkers against each other: a history the multi-register model finds
//! linearizable (strictly serializable transactions) is one the isolation checker finds valid
//! under serializability (and strict serializability), on generated rw-register histories from
//! correct and from faulty stores.

use lockstep_core::checker::isolation::generate::{history, Spec};
use lockstep_core::checker::isolation::{
    check_isolation, ConsistencyModel, IsolationOptions, IsolationVerdict, Workload,
};
use lockstep_core::checker::{check_events, CheckOptions, ModelKind, Verdict};
use proptest::prelude::*;

fn spec(seed: u64, txns: usize, snapshot: u32, interleaved: u32) -> Spec {
    Spec {
        processes: 3,
        keys: 3,
        max_ops: 3,
        faults: (snapshot, interleaved),
        fail: 0,
        info: 0,
        ..Spec::correct(Workload::RwRegister, seed, txns)
    }
}

fn isolation(
    events: &[lockstep_core::checker::Event],
    model: ConsistencyModel,
) -> IsolationVerdict {
    let opts = IsolationOptions {
        model,
        ..IsolationOptions::default()
    };
    check_isolation(events, Workload::RwRegister, &opts)
        .expect("generated histories are well formed")
        .verdict
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn linearizable_under_multi_register_implies_serializable(
        seed in any::<u64>(),
        txns in 1usize..9,
        snapshot in 0u32..600,
        interleaved in 0u32..600,
    ) {
        let events = history(&spec(seed, txns, snapshot, interleaved));
        let lin = check_events(&events, &CheckOptions::new(ModelKind::MultiRegister))
            .expect("generated histories are well formed")
            .verdict;
        if let Verdict::Linearizable = lin {
            for model in [ConsistencyModel::Serializable, ConsistencyModel::StrictSerializable] {
                let v = isolation(&events, model);
                prop_assert!(
                    !matches!(v, IsolationVerdict::Invalid),
                    "linearizable, yet {:?} is {:?}: {:?}", model, v, events
                );
            }
        }
    }
}

/// The property is not empty: both outcomes of the multi-register check occur.
#[test]
fn the_generated_histories_cover_both_verdicts() {
    let (mut lin, mut not) = (0, 0);
    for seed in 0..200 {
        let events = history(&spec(seed, 6, 400, 400));
        match check_events(&events, &CheckOptions::new(ModelKind::MultiRegister))
            .unwrap()
            .verdict
        {
            Verdict::Linearizable => lin += 1,
            Verdict::NotLinearizable { .. } => not += 1,
            Verdict::Unknown { .. } => {}
        }
    }
    assert!(lin > 10 && not > 10, "linearizable {lin}, not {not}");
}

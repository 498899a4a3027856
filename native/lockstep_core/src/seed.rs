//! Seed derivation. Everything random in a run flows from one 64-bit seed through these functions,
//! so a (seed, iteration) pair names the same schedule on every machine.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator every strategy draws from.
pub type SeedRng = ChaCha8Rng;

/// SplitMix64's finaliser: a bijective mixer with good avalanche, used to spread seeds.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of iteration `iteration` of a hunt started with `seed`.
pub fn iteration_seed(seed: u64, iteration: u64) -> u64 {
    mix64(seed ^ mix64(iteration.wrapping_add(1)))
}

/// A portable generator (ChaCha8 gives the same stream on every platform).
pub fn rng(seed: u64) -> SeedRng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A uniform draw from `0..n` (`n > 0`), by Lemire's multiply-and-reject method. Written here
/// rather than taken from `rand` so that the mapping from seed to schedule can never shift under
/// a dependency upgrade.
pub fn below(rng: &mut SeedRng, n: u64) -> u64 {
    debug_assert!(n > 0, "below(0)");
    if n <= 1 {
        return 0;
    }
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = (rng.next_u64() as u128) * (n as u128);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: [u64; 6] = [681, 950, 427, 627, 288, 149];
    const PINNED_SEED: u64 = 16_860_738_450_190_168_606;

    #[test]
    fn iteration_seeds_differ_and_repeat() {
        let a: Vec<u64> = (0..100).map(|i| iteration_seed(7, i)).collect();
        let b: Vec<u64> = (0..100).map(|i| iteration_seed(7, i)).collect();
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), a.len());
        assert_ne!(iteration_seed(7, 0), iteration_seed(8, 0));
    }

    #[test]
    fn rng_stream_is_pinned() {
        // Pinned values: if these change, saved seeds no longer reproduce old schedules.
        let mut r = rng(42);
        let v: Vec<u64> = (0..6).map(|_| below(&mut r, 1000)).collect();
        assert_eq!(v, PINNED);
        assert_eq!(iteration_seed(1, 0), PINNED_SEED);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = rng(3);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let x = below(&mut r, 7);
            seen[x as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
        assert_eq!(below(&mut r, 1), 0);
    }
}

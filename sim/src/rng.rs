//! Seeded random streams.
//!
//! Every random draw in the twin comes from a stream keyed by a stable name: the run seed, the
//! stable id of the thing that draws (a bed, a patient, a device) and the purpose of the draws
//! ("baseline", "physiology", "noise", …). Streams are independent of spawn order, query order
//! and thread count, and adding a device does not change any other device's numbers.
//!
//! The generator is ChaCha8 (portable and specified, unlike `StdRng`/`SmallRng`, whose
//! algorithms may change between rand releases); the 256-bit key is SHA-256 of the stream key.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// The generator behind every stream.
pub type SimRng = ChaCha8Rng;

/// The stream for `(run_seed, id, purpose)`.
pub fn stream(run_seed: u64, id: &str, purpose: &str) -> SimRng {
    let mut h = Sha256::new();
    h.update(b"wardtwin/stream/v1\0");
    h.update(run_seed.to_le_bytes());
    // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
    h.update((id.len() as u64).to_le_bytes());
    h.update(id.as_bytes());
    h.update((purpose.len() as u64).to_le_bytes());
    h.update(purpose.as_bytes());
    SimRng::from_seed(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn same_key_same_numbers_other_key_other_numbers() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "W1-07", "physiology");
                move |_| r.random()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "W1-07", "physiology");
                move |_| r.random()
            })
            .collect();
        assert_eq!(a, b);
        for (seed, id, purpose) in [
            (8, "W1-07", "physiology"),
            (7, "W1-08", "physiology"),
            (7, "W1-07", "noise"),
            (7, "W1-0", "7physiology"),
        ] {
            let mut r = stream(seed, id, purpose);
            let c: Vec<u64> = (0..4).map(|_| r.random()).collect();
            assert_ne!(a, c, "{seed} {id} {purpose}");
        }
    }

    /// Pins the algorithm: if this changes, every recorded run changes. Re-bless only on purpose
    /// (a documented change of the stream derivation), by pasting the new value.
    #[test]
    fn stream_derivation_is_pinned() {
        let mut r = stream(42, "ecg-W1-01", "noise");
        let v: u64 = r.random();
        assert_eq!(v, PINNED, "stream derivation changed: new value {v}");
    }
    const PINNED: u64 = 18_108_898_704_237_277_241;
}

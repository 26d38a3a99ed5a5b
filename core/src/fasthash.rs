//! The hasher for the engine's maps (price names, aggregates by model and step, token pieces,
//! ledger ids). Several of them are keyed by text a user or an attacker controls — step labels,
//! model names, the pieces of a prompt — so the hash is seeded per process (foldhash's
//! `RandomState`): keys cannot be chosen ahead of time to collide, as they can against a
//! fixed-seed hash such as Fx, where a flood of colliding keys turns each insert into a scan.
//! foldhash is as fast as Fx on the short keys of the hot path.

use std::collections::HashMap;

pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// The fixed-seed Fx hash wflo used before, for 16-byte keys: two word steps.
    fn fx(key: &[u8; 16]) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let w1 = u64::from_le_bytes(key[..8].try_into().unwrap());
        let w2 = u64::from_le_bytes(key[8..].try_into().unwrap());
        let h = w1.wrapping_mul(K);
        (h.rotate_left(5) ^ w2).wrapping_mul(K)
    }

    /// Printable-ASCII labels that all share one Fx state: for any first word w1, the second
    /// word rotl(w1·K, 5) ^ C lands every key on the same value — an attacker's flood.
    fn fx_flood(n: usize) -> Vec<String> {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        const C: u64 = u64::from_le_bytes(*b"wflo-fx!");
        let printable = |w: u64| w.to_le_bytes().iter().all(|b| (0x21..0x7f).contains(b));
        let mut out = Vec::new();
        let mut seed = 0x1234_5678_9abc_def0_u64;
        while out.len() < n {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Eight printable bytes for the first word.
            let w1 = u64::from_le_bytes(seed.to_le_bytes().map(|b| 0x21 + b % 94));
            let w2 = w1.wrapping_mul(K).rotate_left(5) ^ C;
            if printable(w2) {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&w1.to_le_bytes());
                key[8..].copy_from_slice(&w2.to_le_bytes());
                out.push(String::from_utf8(key.to_vec()).unwrap());
            }
        }
        out
    }

    #[test]
    fn keys_that_flood_a_fixed_seed_hash_spread_under_the_engines_hasher() {
        let keys = fx_flood(2_000);
        let fx_values: std::collections::HashSet<u64> = keys
            .iter()
            .map(|k| fx(k.as_bytes().try_into().unwrap()))
            .collect();
        assert_eq!(fx_values.len(), 1, "the flood collides under Fx");
        let map: FastMap<String, ()> = FastMap::default();
        let ours: std::collections::HashSet<u64> =
            keys.iter().map(|k| map.hasher().hash_one(k)).collect();
        assert_eq!(ours.len(), keys.len(), "every flooded key has its own hash");
        // Two maps (two seeds) hash the same key differently: nothing to precompute.
        let other: FastMap<String, ()> = FastMap::default();
        assert!(
            keys.iter()
                .any(|k| map.hasher().hash_one(k) != other.hasher().hash_one(k))
        );
    }
}

//! A latency histogram of fixed size (a soak must not grow its own memory): buckets 2 % wide
//! from 1 ns to beyond an hour, so a quantile is within 2 % of the exact one.

use serde::{Deserialize, Serialize};

const GROWTH: f64 = 1.02;
const BUCKETS: usize = 1_500;

#[derive(Clone, Serialize, Deserialize)]
pub struct Histogram {
    /// Sparse on the wire: (bucket, count).
    #[serde(with = "sparse")]
    counts: Vec<u64>,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            max_ns: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, ns: u64) {
        let i = ((ns.max(1) as f64).ln() / GROWTH.ln()) as usize;
        self.counts[i.min(BUCKETS - 1)] += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn max(&self) -> f64 {
        self.max_ns as f64
    }

    /// The value at quantile `q` (0..=1), nanoseconds: the middle of its bucket.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return GROWTH.powf(i as f64 + 0.5).min(self.max());
            }
        }
        self.max()
    }
}

mod sparse {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(counts: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(usize, u64)> = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i, *n))
            .collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let mut counts = vec![0; super::BUCKETS];
        for (i, n) in Vec::<(usize, u64)>::deserialize(d)? {
            if let Some(c) = counts.get_mut(i) {
                *c = n;
            }
        }
        Ok(counts)
    }
}

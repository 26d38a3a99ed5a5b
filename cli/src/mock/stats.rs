//! Counts what the mock served, so tests can prove a refused call never reached it.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Requests served, by kind.
#[derive(Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Counts one request of `kind` ("chat.completions", "messages", …): `total` is the number
    /// of requests served.
    pub fn count(&self, kind: &str) {
        let mut c = self.counts.lock();
        *c.entry(kind.to_owned()).or_default() += 1;
        *c.entry("total".to_owned()).or_default() += 1;
    }

    /// Counts a property of a request already counted ("chat.completions.stream",
    /// "status.500"): not another request, so `total` stays.
    pub fn tag(&self, tag: &str) {
        *self.counts.lock().entry(tag.to_owned()).or_default() += 1;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&*self.counts.lock()).unwrap_or_else(|_| "{}".into())
    }

    pub fn reset(&self) {
        self.counts.lock().clear();
    }
}

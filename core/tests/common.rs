//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Reads a shared vector file from `tests/vectors/` at the repository root.
pub fn vector(name: &str) -> serde_json::Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "tests", "vectors", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The six usage fields from a vector's JSON object.
pub fn usage_of(v: &serde_json::Value) -> wflo_core::Usage {
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    wflo_core::Usage {
        input: f("input"),
        output: f("output"),
        cache_read: f("cache_read"),
        cache_write_5m: f("cache_write_5m"),
        cache_write_1h: f("cache_write_1h"),
        reasoning: f("reasoning"),
    }
}

//! Fuzz harnesses. Each `run` takes the fuzzer's bytes, drives one face of the engine and
//! panics when an invariant breaks; libFuzzer reports any panic as a crash — even one the C
//! ABI's boundary would have caught and turned into WFLO_STATUS_INTERNAL, which is still a bug.
//!
//! Plain Rust without libFuzzer, so ffi/tests/fuzz_regressions.rs includes this file and
//! replays every committed crash input under `cargo test` on stable.

pub mod c_abi;
pub mod checkpoint_state;
pub mod input;
pub mod prices;
pub mod usage_json;
pub mod usage_stream;

/// One harness: the fuzzer's bytes in, a panic out when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every target by the name its binary, corpus and `regressions/` directory carry.
pub const TARGETS: &[(&str, Harness)] = &[
    ("usage_json", usage_json::run),
    ("usage_stream", usage_stream::run),
    ("prices", prices::run),
    ("checkpoint_state", checkpoint_state::run),
    ("c_abi", c_abi::run),
];

//! # wflo-core
//!
//! The engine behind every wflo face (C, Go, Node, Python, Kotlin, Swift): what an LLM call
//! will cost, whether it may run, and what it did cost — exactly (integer money), before the
//! money is spent (reserve the worst case, settle the actual), and durably (executions, calls
//! and checkpoints in a store).
//!
//! ```
//! use wflo_core::{Engine, ExecutionOptions, CallRequest, Usage};
//!
//! let engine = Engine::in_memory();
//! let exec = engine
//!     .start_execution(ExecutionOptions { name: "demo".into(), budget_nanos: Some(1_000_000_000), ..Default::default() })
//!     .unwrap();
//! let mut call = exec
//!     .reserve(&CallRequest { model: "gpt-4o-mini", input_tokens: 1200, max_output_tokens: Some(300), ..Default::default() })
//!     .unwrap();
//! // ... send the request ...
//! let record = call.settle(Usage { input: 1200, output: 250, ..Default::default() }).unwrap();
//! assert!(record.cost_nanos > 0);
//! ```
//!
//! No FFI lives here; the faces convert types and map [`Error`] once.

mod aggregate;
mod allowances;
pub mod budget;
mod call;
pub mod clock;
mod engine;
pub mod error;
pub mod events;
mod execution;
mod fasthash;
pub mod ids;
mod json_check;
pub mod langgraph;
pub mod money;
pub mod pricing;
pub mod python_json;
pub mod records;
pub mod request;
pub mod resilience;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tokens;
pub mod usage;

pub use call::{
    CallRequest, DEFAULT_OUTPUT_CAP, MIN_CLAMPED_OUTPUT, Reservation, Settlement, UsageReport,
};
pub use engine::{DEFAULT_LEASE_MS, DEFAULT_MAX_STATE_BYTES, Engine, EngineConfig, Quote};
pub use error::{BudgetExceeded, Error, ErrorCode, Result};
pub use execution::{Execution, ExecutionOptions, RequestReservation, Scope};
pub use money::{Nanos, Picos};
pub use pricing::{CacheWrite, ModelPrice, PriceCatalog};
pub use records::{
    Breakdown, CallRecord, CallStatus, CheckpointInfo, ExecutionRecord, ExecutionStatus,
};
pub use request::{RequestOptions, RequestPlan};
pub use store::{CheckpointState, JsonText};
pub use usage::{StreamAccumulator, StreamOutcome, Usage, UsageFormat};

/// The library version (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    /// A xorshift64 stream from `seed` (not 0): reproducible noise for tests, no dependency.
    pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }
}

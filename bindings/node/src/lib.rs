//! The Node.js addon (napi-rs): the wflo engine in-process. This layer converts types and
//! errors only; the idiomatic API (`WfloWorkflow`, `trackLlmCall`, the integrations) is the
//! JavaScript in `lib/`. Work that touches storage runs on libuv's thread pool and returns a
//! promise; a wait that may last (a resource acquisition, an approval) runs on a thread of its
//! own and returns a promise; a panic never crosses into JavaScript.

// napi-derive emits no module registration in the unit-test build, so an exported function
// that no Rust code calls looks unused there; in the addon build it is reached from JavaScript.
#![cfg_attr(test, allow(dead_code))]

mod approval;
mod call;
mod contention;
mod engine;
mod events;
mod execution;
mod job;
mod langgraph;
mod resilience;
mod telemetry;

use napi::{Error, Status};

/// Errors cross as `Error` objects whose message is `wflo:` + the engine's error JSON
/// (`{"code": "BUDGET_EXCEEDED", "message": …, "limit_nanos": …}`); `lib/errors.js` turns
/// them into the typed classes once.
pub(crate) fn js_error(e: wflo_core::Error) -> Error {
    Error::new(Status::GenericFailure, format!("wflo:{}", e.to_json()))
}

/// Runs engine code, mapping its error and catching a panic as an INTERNAL error.
pub(crate) fn guard<T>(f: impl FnOnce() -> wflo_core::Result<T>) -> napi::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(js_error),
        Err(_) => Err(js_error(wflo_core::Error::Internal(
            "a bug in the wflo addon (panic)".into(),
        ))),
    }
}

/// The engine version.
#[napi_derive::napi]
pub fn version() -> String {
    wflo_core::VERSION.to_string()
}

/// Whether an error code (`"BUDGET_EXCEEDED"`, …) is one of wflo's own refusals rather than a
/// failure of what was called: a circuit breaker does not count it and a retry never retries
/// it (the engine's rule, `ErrorCode::is_refusal`). Unknown codes: false.
#[napi_derive::napi]
pub fn is_refusal(code: String) -> bool {
    wflo_core::ErrorCode::from_name(&code).is_some_and(wflo_core::ErrorCode::is_refusal)
}

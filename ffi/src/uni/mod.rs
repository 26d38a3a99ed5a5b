//! The UniFFI face of libwflo, for the generated Python, Kotlin and Swift bindings: objects,
//! records and one typed error enum. Like the C ABI it only converts: the behaviour is
//! wflo-core's. Operations that touch storage also come as `async` methods that run the work
//! on a blocking pool, so an event loop (asyncio, Kotlin coroutines, Swift concurrency) never
//! waits on a database.
//!
//! Modules mirror the engine's: `engine`, `execution`, `call`, `events`, `telemetry`,
//! `resilience`, `langgraph`, plus `error` and `types`.

pub mod call;
pub mod engine;
pub mod error;
pub mod events;
pub mod execution;
pub mod langgraph;
pub mod resilience;
pub mod telemetry;
pub mod types;

/// Runs blocking engine work off the caller's thread (for the async exports).
pub(crate) async fn offload<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    blocking::unblock(f).await
}

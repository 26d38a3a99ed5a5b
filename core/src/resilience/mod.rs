//! The seed's "next features", built on the engine because each is about money or durable
//! state: budget-aware retries (every attempt reserves) and circuit breakers (an open breaker
//! refuses before anything is reserved).

pub mod approval;
pub mod breaker;
pub mod contention;
pub mod retry;

pub use approval::{ApprovalRequest, ApprovalWait, OnTimeout};
pub use breaker::{Breaker, BreakerConfig, BreakerState, BreakerStatus, Transition};
pub use contention::{LockConfig, Permit, ResourceLock};
pub use retry::{
    Backoff, Decision, Failure, FailureKind, GiveUpWhy, Retrier, RetryPolicy, retry_after_ms,
};

//! Retries and circuit breakers for the UniFFI faces. The rules are the engine's
//! (`wflo_core::resilience`); the face runs its loop in its own idiom and asks the retrier
//! after each failure, and asks the breaker before each reservation.

use std::sync::Arc;

use parking_lot::Mutex;
use wflo_core::Engine;
use wflo_core::resilience::{
    Breaker, BreakerConfig, Failure, LockConfig, Permit, ResourceLock, Retrier, RetryPolicy,
};

use super::engine::NativeEngine;
use super::error::{Result, guard};
use super::offload;

/// The retry state of one logical call. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeRetrier {
    engine: Engine,
    inner: Mutex<Retrier>,
}

/// A named circuit breaker, shared by everything in the process that asks the engine for the
/// same name. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeBreaker {
    inner: Arc<Breaker>,
}

#[uniffi::export]
impl NativeEngine {
    /// A retrier for a call whose first attempt begins now. `policy_json`: see
    /// `wflo_engine_retrier` (None or "": the defaults).
    pub fn retrier(&self, policy_json: Option<String>) -> Result<Arc<NativeRetrier>> {
        guard(|| {
            let policy = RetryPolicy::from_json(policy_json.as_deref().unwrap_or(""))?;
            Ok(Arc::new(NativeRetrier {
                inner: Mutex::new(self.inner.retrier(policy)?),
                engine: self.inner.clone(),
            }))
        })
    }

    /// The breaker called `name`, made with `config_json` the first time (see
    /// `wflo_engine_breaker`).
    pub fn breaker(&self, name: String, config_json: Option<String>) -> Result<Arc<NativeBreaker>> {
        guard(|| {
            let config = match config_json.as_deref() {
                Some(json) => Some(BreakerConfig::from_json(json)?),
                None => None,
            };
            Ok(Arc::new(NativeBreaker {
                inner: self.inner.breaker(&name, config)?,
            }))
        })
    }

    /// Every breaker's status as a JSON array, by name.
    pub fn breakers_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.breakers()?).unwrap_or_default()))
    }

    /// Circuit breakers as the store knows them (see `wflo_engine_breakers_on_store_json`).
    pub fn breakers_on_store_json(&self, name: Option<String>, limit: u32) -> Result<String> {
        guard(|| {
            let on_store = self
                .inner
                .breakers_on_store(name.as_deref(), limit as usize)?;
            Ok(serde_json::to_string(&on_store).unwrap_or_default())
        })
    }
}

#[uniffi::export]
impl NativeRetrier {
    /// The attempt just made failed (`failure_json`: see `wflo_retrier_next`): the decision
    /// as JSON, `{"decision": "retry", "attempt", "delay_ms", "reason"}` or
    /// `{"decision": "give_up", "reason"}`.
    pub fn next(&self, failure_json: String) -> Result<String> {
        guard(|| {
            let failure: Failure = serde_json::from_str(&failure_json)
                .map_err(|e| wflo_core::Error::invalid(format!("failure_json: {e}")))?;
            let decision = self.inner.lock().next(&failure, self.engine.now_ms());
            Ok(serde_json::to_string(&decision).unwrap_or_default())
        })
    }

    /// The attempt being made now (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.inner.lock().attempt()
    }

    /// A refusal's message saying which attempt was not sent and what failed before it
    /// (unchanged before the first failure).
    pub fn refused_message(&self, message: String) -> String {
        self.inner.lock().refused_message(&message)
    }

    /// What a refusal of the coming retry must say, if an attempt failed.
    pub fn refusal_note(&self) -> Option<String> {
        self.inner.lock().refusal_note()
    }

    /// The policy's jittered delay before retry `n` (1 = the first retry), in ms.
    pub fn delay_ms(&self, n: u32) -> u64 {
        self.inner.lock().delay_ms(n)
    }

    /// The policy as JSON, every field filled in.
    pub fn policy_json(&self) -> String {
        serde_json::to_string(self.inner.lock().policy()).unwrap_or_default()
    }
}

#[uniffi::export]
impl NativeBreaker {
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// Refuses with `CircuitOpen` while the breaker is open; call it before reserving.
    pub fn check(&self) -> Result<()> {
        guard(|| self.inner.check())
    }

    pub fn record_success(&self) -> Result<()> {
        guard(|| self.inner.record_success())
    }

    pub fn record_failure(&self) -> Result<()> {
        guard(|| self.inner.record_failure())
    }

    /// Closes the breaker and forgets its counts.
    pub fn reset(&self) -> Result<()> {
        guard(|| self.inner.reset())
    }

    /// "closed", "open" or "half_open" (a shared breaker's, read from the store).
    pub fn state(&self) -> Result<String> {
        guard(|| Ok(self.inner.state()?.as_str().to_owned()))
    }

    /// The breaker's figures as JSON (see `wflo_breaker_status_json`).
    pub fn status_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.status()?).unwrap_or_default()))
    }

    /// The settings as JSON, every field filled in.
    pub fn config_json(&self) -> String {
        serde_json::to_string(self.inner.config()).unwrap_or_default()
    }
}

/// A named resource of the engine's store: a lock or semaphore shared by every process on
/// the store. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeResource {
    inner: ResourceLock,
}

/// A slot of a resource, held until released (or until this object is dropped) or until its
/// lease ends. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativePermit {
    inner: Mutex<Permit>,
    waited_ms: u64,
}

#[uniffi::export]
impl NativeEngine {
    /// The resource `name` (1 to 200 bytes) with `config_json` (see `wflo_engine_resource`;
    /// None or "": a lock of one holder, 30 s timeout, 5 s contention threshold).
    pub fn resource(
        &self,
        name: String,
        config_json: Option<String>,
    ) -> Result<Arc<NativeResource>> {
        guard(|| {
            let config = LockConfig::from_json(config_json.as_deref().unwrap_or(""))?;
            Ok(Arc::new(NativeResource {
                inner: self.inner.resource(&name, config)?,
            }))
        })
    }
}

fn permit(p: Permit) -> Arc<NativePermit> {
    Arc::new(NativePermit {
        waited_ms: p.waited_ms(),
        inner: Mutex::new(p),
    })
}

#[uniffi::export]
impl NativeResource {
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// Takes a slot for `workflow_id`, waiting up to `timeout_ms` (None: the configured
    /// timeout; 0: do not wait); `ResourceBusy` when none freed in time. Blocks the caller.
    pub fn acquire(
        &self,
        workflow_id: String,
        timeout_ms: Option<u64>,
    ) -> Result<Arc<NativePermit>> {
        guard(|| Ok(permit(self.inner.acquire(&workflow_id, timeout_ms)?)))
    }

    /// `acquire` off the caller's thread (the wait does not block an event loop).
    pub async fn acquire_async(
        &self,
        workflow_id: String,
        timeout_ms: Option<u64>,
    ) -> Result<Arc<NativePermit>> {
        let lock = self.inner.clone();
        offload(move || guard(|| Ok(permit(lock.acquire(&workflow_id, timeout_ms)?)))).await
    }

    /// The statistics and current holders as JSON: `{"resource", "acquisitions",
    /// "contentions", "timeouts", "total_wait_ms", "max_wait_ms", "holders": [{"hold_id",
    /// "holder", "workflow_id", "acquired_at_ms", "lease_until_ms"}]}`.
    pub fn stats_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.stats()?).unwrap_or_default()))
    }

    /// Zeroes the statistics (holds stay).
    pub fn reset_stats(&self) -> Result<()> {
        guard(|| self.inner.reset_stats())
    }

    /// The settings as JSON, every field filled in.
    pub fn config_json(&self) -> String {
        serde_json::to_string(self.inner.config()).unwrap_or_default()
    }
}

#[uniffi::export]
impl NativePermit {
    /// How long the acquisition waited, ms.
    pub fn waited_ms(&self) -> u64 {
        self.waited_ms
    }

    /// Extends the lease from now; false when it had already ended (stop using the resource).
    pub fn renew(&self) -> Result<bool> {
        guard(|| self.inner.lock().renew())
    }

    /// Gives the slot back; releasing twice is fine.
    pub fn release(&self) -> Result<()> {
        guard(|| self.inner.lock().release())
    }
}

#[uniffi::export]
impl NativeEngine {
    /// Approvals in the store as a JSON array, newest first (pending only with `pending_only`).
    pub fn approvals_json(&self, pending_only: bool) -> Result<String> {
        guard(|| {
            Ok(
                serde_json::to_string(&self.inner.approvals(pending_only, 1_000)?)
                    .unwrap_or_default(),
            )
        })
    }

    /// One approval as JSON; `NotFound` when there is none with that id.
    pub fn approval_json(&self, id: String) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.approval(&id)?).unwrap_or_default()))
    }

    /// How a reservation meeting an execution's approval threshold waits: `return_pending`
    /// false (the default) blocks the reserving thread until decided; true fails it at once
    /// with `ApprovalPending` (naming the approval) for callers that wait asynchronously and
    /// reserve again.
    pub fn set_approval_wait(&self, return_pending: bool) {
        self.inner.set_approval_wait(if return_pending {
            wflo_core::resilience::ApprovalWait::Return
        } else {
            wflo_core::resilience::ApprovalWait::Block
        });
    }

    /// Approves or denies a pending approval (`by` None: USER@host); the decided approval as
    /// JSON. `Conflict` when it was already decided.
    pub fn decide_approval(
        &self,
        id: String,
        approve: bool,
        by: Option<String>,
        note: Option<String>,
    ) -> Result<String> {
        guard(|| {
            let a = self
                .inner
                .decide_approval(&id, approve, by.as_deref(), note.as_deref())?;
            Ok(serde_json::to_string(&a).unwrap_or_default())
        })
    }
}

//! Resource contention (core's `resilience::contention`): named locks and semaphores whose
//! state is in the store, shared by every process on it; handed to `lib/contention.cjs`.
//! Settings and statistics cross as the engine's JSON; every decision (who gets a slot, how
//! long a wait lasts, what counts as contention) is core's.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Env, Object};
use napi_derive::napi;
use parking_lot::Mutex;
use wflo_core::resilience::{LockConfig, Permit, ResourceLock};

use crate::engine::NativeEngine;
use crate::guard;
use crate::job::{Job, spawn_wait};

/// A JavaScript number of milliseconds as the engine's (None: the configured value).
pub(crate) fn millis(ms: Option<i64>, what: &str) -> wflo_core::Result<Option<u64>> {
    ms.map(|m| {
        u64::try_from(m)
            .map_err(|_| wflo_core::Error::invalid(format!("{what} must not be negative, got {m}")))
    })
    .transpose()
}

#[napi]
impl NativeEngine {
    /// The resource `name` (1 to 200 bytes) of this engine's store with `config_json` (the
    /// engine's lock settings JSON, `{"max_concurrent", "timeout_ms",
    /// "contention_threshold_ms", "lease_ms"}`; null: a lock of one holder, 30 s timeout, 5 s
    /// contention threshold). Touches no storage.
    #[napi]
    pub fn resource(
        &self,
        name: String,
        config_json: Option<String>,
    ) -> napi::Result<NativeResource> {
        guard(|| {
            let config = LockConfig::from_json(config_json.as_deref().unwrap_or(""))?;
            Ok(NativeResource {
                inner: self.inner.resource(&name, config)?,
            })
        })
    }
}

/// A named resource of the store (wrapped by `lib/contention.cjs`'s `ResourceLock`).
#[napi]
pub struct NativeResource {
    inner: ResourceLock,
}

#[napi]
impl NativeResource {
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// Takes a slot for `workflow_id`, waiting up to `timeout_ms` (null: the configured
    /// timeout; 0: no wait) on a thread of its own; rejects with RESOURCE_BUSY (who holds it,
    /// how long it waited) when no slot freed in time.
    #[napi(ts_return_type = "Promise<NativePermit>")]
    pub fn acquire<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        timeout_ms: Option<i64>,
    ) -> napi::Result<Object<'env>> {
        let lock = self.inner.clone();
        spawn_wait(env, move || {
            let permit = lock.acquire(&workflow_id, millis(timeout_ms, "timeoutMs")?)?;
            Ok(NativePermit {
                waited_ms: i64::try_from(permit.waited_ms()).unwrap_or(i64::MAX),
                inner: Arc::new(Mutex::new(permit)),
            })
        })
    }

    /// The statistics and current holders, as JSON: `{"resource", "acquisitions",
    /// "contentions", "timeouts", "total_wait_ms", "max_wait_ms", "holders": [{"hold_id",
    /// "holder", "workflow_id", "acquired_at_ms", "lease_until_ms"}]}`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn stats_json(&self) -> AsyncTask<Job<String>> {
        let lock = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&lock.stats()?).unwrap_or_default())
        }))
    }

    /// Zeroes the statistics (holds stay).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn reset_stats(&self) -> AsyncTask<Job<()>> {
        let lock = self.inner.clone();
        AsyncTask::new(Job::new(move || lock.reset_stats()))
    }

    /// The settings as JSON, every field filled in.
    #[napi]
    pub fn config_json(&self) -> String {
        serde_json::to_string(self.inner.config()).unwrap_or_default()
    }
}

/// A slot of a resource, held until released (or until this object is collected) or until its
/// lease ends (wrapped by `lib/contention.cjs`'s `Permit`).
#[napi]
pub struct NativePermit {
    inner: Arc<Mutex<Permit>>,
    waited_ms: i64,
}

#[napi]
impl NativePermit {
    /// How long the acquisition waited, ms.
    #[napi(getter)]
    pub fn waited_ms(&self) -> i64 {
        self.waited_ms
    }

    /// Extends the lease from now; false when it had already ended (stop using the resource).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn renew(&self) -> AsyncTask<Job<bool>> {
        let permit = self.inner.clone();
        AsyncTask::new(Job::new(move || permit.lock().renew()))
    }

    /// Gives the slot back; releasing twice is fine.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn release(&self) -> AsyncTask<Job<()>> {
        let permit = self.inner.clone();
        AsyncTask::new(Job::new(move || permit.lock().release()))
    }
}

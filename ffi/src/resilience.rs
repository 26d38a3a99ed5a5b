//! Retries, circuit breakers and named resources (locks, semaphores) across the C ABI. The rules (what is retryable, how long to
//! wait, when a breaker opens) are the engine's (`wflo_core::resilience`); the caller runs its
//! own loop — reserve, send, and on failure ask the retrier — and this module converts.

use std::ffi::c_char;
use std::sync::Arc;

use parking_lot::Mutex;
use wflo_core::Engine;
use wflo_core::resilience::{
    Breaker, BreakerConfig, Failure, LockConfig, Permit, ResourceLock, Retrier, RetryPolicy,
};

use crate::boundary::{last_error, run, run_quiet, set_last_error, wflo_status};
use crate::engine::wflo_engine;
use crate::handle::{Arced, Handle, arc_free, arc_into_ptr, arc_ref, out};
use crate::strings::{input, optional, output_json};

/// The retry state of one logical call (its attempts so far). Thread-safe. Free with
/// wflo_retrier_free.
pub struct wflo_retrier {
    _private: [u8; 0],
}

/// A retrier and the engine whose clock it reads.
pub struct RetrierHandle {
    engine: Engine,
    retrier: Mutex<Retrier>,
}

impl Handle for wflo_retrier {
    type Ownership = Arced;
    type Rust = RetrierHandle;
}

/// A named circuit breaker, shared by everything in the process that asks the engine for the
/// same name. Thread-safe. Free with wflo_breaker_free (the breaker stays in the engine).
pub struct wflo_breaker {
    _private: [u8; 0],
}

impl Handle for wflo_breaker {
    type Ownership = Arced;
    type Rust = Breaker;
}

/// A retrier for a call whose first attempt begins now. `policy_json` (NULL or "": the
/// defaults): `{"backoff": "exponential" | "linear" | "fixed", "max_retries": 3,
/// "base_delay_ms": 1000, "max_delay_ms": 60000, "multiplier": 2.0, "jitter": 0.1,
/// "deadline_ms": null, "retry_statuses": [408, 429, 500, …], "retry_timeouts": true,
/// "retry_connection_errors": true, "seed": null}`; unknown keys are INVALID_ARGUMENT.
///
/// # Safety
/// `engine` is a live handle; `policy_json` points to `policy_len` bytes or is NULL with 0;
/// `retrier_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_retrier(
    engine: *const wflo_engine,
    policy_json: *const c_char,
    policy_len: usize,
    retrier_out: *mut *mut wflo_retrier,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(retrier_out, "retrier_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let json = unsafe { optional(policy_json, policy_len, "policy_json") }?;
        let policy = RetryPolicy::from_json(json.unwrap_or(""))?;
        let retrier = Mutex::new(engine.retrier(policy)?);
        let handle = RetrierHandle {
            engine: engine.clone(),
            retrier,
        };
        *out = arc_into_ptr::<wflo_retrier>(Arc::new(handle));
        Ok(())
    })
}

/// The attempt just made failed: `failure_json` is `{"kind": "http" | "timeout" |
/// "connection" | "refused" | "other", "status": 429, "headers": [["retry-after", "2"]],
/// "message": "429 Too Many Requests"}`. `*decision_out` receives `{"decision": "retry",
/// "attempt": 2, "delay_ms": 2000, "reason": …}` (wait, reserve and send attempt 2) or
/// `{"decision": "give_up", "reason": …}`; free it with wflo_string_free.
///
/// # Safety
/// `retrier` is a live handle; `failure_json` points to `failure_len` bytes; `decision_out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_retrier_next(
    retrier: *const wflo_retrier,
    failure_json: *const c_char,
    failure_len: usize,
    decision_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(decision_out, "decision_out") }?;
        let retrier = unsafe { arc_ref(retrier, "retrier") }?;
        let json = unsafe { input(failure_json, failure_len, "failure_json") }?;
        let failure: Failure = serde_json::from_str(json)
            .map_err(|e| wflo_core::Error::invalid(format!("failure_json: {e}")))?;
        let now = retrier.engine.now_ms();
        *out = output_json(&retrier.retrier.lock().next(&failure, now))?;
        Ok(())
    })
}

/// The attempt being made now (1 for the first); 0 when `retrier` is NULL.
///
/// # Safety
/// `retrier` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_retrier_attempt(retrier: *const wflo_retrier) -> u32 {
    run_quiet(0, || match unsafe { arc_ref(retrier, "retrier") } {
        Ok(r) => r.retrier.lock().attempt(),
        Err(_) => 0,
    })
}

/// Call right after a reservation for a retry failed: re-words this thread's last error (a
/// budget refusal) to say which attempt was not sent and what failed before it, and returns
/// its status unchanged. WFLO_STATUS_OK when there was no error.
///
/// # Safety
/// `retrier` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_retrier_refused(retrier: *const wflo_retrier) -> wflo_status {
    let Some(error) = last_error() else {
        return wflo_status::Ok;
    };
    match unsafe { arc_ref(retrier, "retrier") } {
        Ok(r) => set_last_error(&r.retrier.lock().refused(error)),
        Err(e) => set_last_error(&e),
    }
}

/// Releases the handle. NULL is a no-op.
///
/// # Safety
/// `retrier` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_retrier_free(retrier: *const wflo_retrier) {
    run_quiet((), || unsafe { arc_free(retrier) })
}

/// The breaker called `name` (1 to 200 bytes), made with `config_json` the first time the
/// engine is asked for it (NULL or "": the defaults `{"failure_threshold": 5,
/// "recovery_timeout_ms": 60000, "success_threshold": 2, "failure_rate": null, "window": 20,
/// "min_calls": 10, "shared": false}`); later calls get the same breaker whatever they pass.
/// With `"shared": true` its state lives in the store: every process on the store steps one
/// breaker.
///
/// # Safety
/// `engine` is a live handle; `name` points to `name_len` bytes; `config_json` to
/// `config_len` bytes or NULL with 0; `breaker_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_breaker(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    config_json: *const c_char,
    config_len: usize,
    breaker_out: *mut *mut wflo_breaker,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(breaker_out, "breaker_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let name = unsafe { input(name, name_len, "name") }?;
        let config = match unsafe { optional(config_json, config_len, "config_json") }? {
            Some(json) => Some(BreakerConfig::from_json(json)?),
            None => None,
        };
        *out = arc_into_ptr::<wflo_breaker>(engine.breaker(name, config)?);
        Ok(())
    })
}

/// Every breaker of the engine as a JSON array of their status (see wflo_breaker_status_json),
/// by name. Free with wflo_string_free.
///
/// # Safety
/// `engine` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_breakers_json(
    engine: *const wflo_engine,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&unsafe { arc_ref(engine, "engine") }?.breakers()?)?;
        Ok(())
    })
}

/// Circuit breakers as the store knows them, whichever process made them:
/// `{"shared": [status…], "transitions": [{"breaker", "shared", "from", "to", "at_ms",
/// "reason", "holder"}…]}` — every shared breaker's figures (only `name`'s when `name` is not
/// NULL) and the latest `limit` changes of state of every breaker, oldest first (what
/// `wflo breakers --json` prints). Free with wflo_string_free.
///
/// # Safety
/// `engine` is a live handle; `name` points to `name_len` bytes or is NULL with 0; `json_out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_breakers_on_store_json(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    limit: u32,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let name = unsafe { optional(name, name_len, "name") }?;
        *out = output_json(&engine.breakers_on_store(name, limit as usize)?)?;
        Ok(())
    })
}

/// May a call go through the breaker now? WFLO_STATUS_OK, or WFLO_STATUS_CIRCUIT_OPEN (its
/// last error JSON has `name`, `failures`, `retry_in_ms`). Call it before reserving.
///
/// # Safety
/// `breaker` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_breaker_check(breaker: *const wflo_breaker) -> wflo_status {
    run(|| unsafe { arc_ref(breaker, "breaker") }?.check())
}

/// Records how the call let through ended: `succeeded` nonzero for a success.
///
/// # Safety
/// `breaker` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_breaker_record(
    breaker: *const wflo_breaker,
    succeeded: bool,
) -> wflo_status {
    run(|| {
        let b = unsafe { arc_ref(breaker, "breaker") }?;
        if succeeded {
            b.record_success()
        } else {
            b.record_failure()
        }
    })
}

/// Closes the breaker and forgets its counts.
///
/// # Safety
/// `breaker` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_breaker_reset(breaker: *const wflo_breaker) -> wflo_status {
    run(|| unsafe { arc_ref(breaker, "breaker") }?.reset())
}

/// The breaker's figures: `{"name", "shared", "state": "closed" | "open" | "half_open",
/// "failure_count", "success_count", "total_calls", "total_failures", "rejected",
/// "opened_at_ms", "retry_in_ms", "transitions": [{"breaker", "shared", "from", "to", "at_ms",
/// "reason", "holder"}]}` — a shared breaker's as the store has it.
/// Free with wflo_string_free.
///
/// # Safety
/// `breaker` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_breaker_status_json(
    breaker: *const wflo_breaker,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&unsafe { arc_ref(breaker, "breaker") }?.status()?)?;
        Ok(())
    })
}

/// Releases the handle. NULL is a no-op.
///
/// # Safety
/// `breaker` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_breaker_free(breaker: *const wflo_breaker) {
    run_quiet((), || unsafe { arc_free(breaker) })
}

/// A named resource of the engine's store: a lock or semaphore shared by every process on the
/// store. Thread-safe. Free with wflo_resource_free.
pub struct wflo_resource {
    _private: [u8; 0],
}

impl Handle for wflo_resource {
    type Ownership = Arced;
    type Rust = ResourceLock;
}

/// A slot of a resource, held until wflo_permit_release or wflo_permit_free (which releases
/// it) or until its lease ends. Thread-safe.
pub struct wflo_permit {
    _private: [u8; 0],
}

impl Handle for wflo_permit {
    type Ownership = Arced;
    type Rust = Mutex<Permit>;
}

/// The resource `name` (1 to 200 bytes) of the engine's store. `config_json` (NULL or "":
/// the defaults): `{"max_concurrent": 1, "timeout_ms": 30000, "contention_threshold_ms":
/// 5000, "lease_ms": null}` (null lease: the engine's); unknown keys are INVALID_ARGUMENT.
///
/// # Safety
/// `engine` is a live handle; `name` points to `name_len` bytes; `config_json` to
/// `config_len` bytes or NULL with 0; `resource_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_resource(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    config_json: *const c_char,
    config_len: usize,
    resource_out: *mut *mut wflo_resource,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(resource_out, "resource_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let name = unsafe { input(name, name_len, "name") }?;
        let json = unsafe { optional(config_json, config_len, "config_json") }?;
        let config = LockConfig::from_json(json.unwrap_or(""))?;
        *out = arc_into_ptr::<wflo_resource>(Arc::new(engine.resource(name, config)?));
        Ok(())
    })
}

/// Takes a slot for `workflow_id`, blocking up to `timeout_ms` (< 0: the configured timeout;
/// 0: do not wait). WFLO_STATUS_RESOURCE_BUSY when none freed in time (the last error JSON
/// has `resource`, `waited_ms`, `holders`).
///
/// # Safety
/// `resource` is a live handle; `workflow_id` points to `workflow_len` bytes; `permit_out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_resource_acquire(
    resource: *const wflo_resource,
    workflow_id: *const c_char,
    workflow_len: usize,
    timeout_ms: i64,
    permit_out: *mut *mut wflo_permit,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(permit_out, "permit_out") }?;
        let lock = unsafe { arc_ref(resource, "resource") }?;
        let workflow = unsafe { input(workflow_id, workflow_len, "workflow_id") }?;
        let timeout = u64::try_from(timeout_ms).ok();
        let permit = lock.acquire(workflow, timeout)?;
        *out = arc_into_ptr::<wflo_permit>(Arc::new(Mutex::new(permit)));
        Ok(())
    })
}

/// The resource's statistics and current holders: `{"resource", "acquisitions",
/// "contentions", "timeouts", "total_wait_ms", "max_wait_ms", "holders": [{"hold_id",
/// "holder", "workflow_id", "acquired_at_ms", "lease_until_ms"}]}`. Free with wflo_string_free.
///
/// # Safety
/// `resource` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_resource_stats_json(
    resource: *const wflo_resource,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&unsafe { arc_ref(resource, "resource") }?.stats()?)?;
        Ok(())
    })
}

/// Zeroes the resource's statistics (holds stay).
///
/// # Safety
/// `resource` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_resource_reset_stats(resource: *const wflo_resource) -> wflo_status {
    run(|| unsafe { arc_ref(resource, "resource") }?.reset_stats())
}

/// Releases the handle (not any permit). NULL is a no-op.
///
/// # Safety
/// `resource` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_resource_free(resource: *const wflo_resource) {
    run_quiet((), || unsafe { arc_free(resource) })
}

/// How long the acquisition waited, ms (0 when `permit` is NULL).
///
/// # Safety
/// `permit` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_permit_waited_ms(permit: *const wflo_permit) -> u64 {
    run_quiet(0, || match unsafe { arc_ref(permit, "permit") } {
        Ok(p) => p.lock().waited_ms(),
        Err(_) => 0,
    })
}

/// Extends the hold's lease from now; `*held_out` false when it had already ended (stop using
/// the resource then).
///
/// # Safety
/// `permit` is a live handle; `held_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_permit_renew(
    permit: *const wflo_permit,
    held_out: *mut bool,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(held_out, "held_out") }?;
        *out = unsafe { arc_ref(permit, "permit") }?.lock().renew()?;
        Ok(())
    })
}

/// Gives the slot back; releasing twice is fine.
///
/// # Safety
/// `permit` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_permit_release(permit: *const wflo_permit) -> wflo_status {
    run(|| unsafe { arc_ref(permit, "permit") }?.lock().release())
}

/// Releases the slot if still held, and the handle. NULL is a no-op.
///
/// # Safety
/// `permit` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_permit_free(permit: *const wflo_permit) {
    run_quiet((), || unsafe { arc_free(permit) })
}

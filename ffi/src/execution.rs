//! Executions and their budget scopes.

use std::ffi::{CString, c_char};
use std::sync::Arc;

use wflo_core::{Error, Execution, ExecutionOptions, ExecutionStatus, Scope, UsageReport};

use crate::boundary::{run, run_quiet, wflo_status};
use crate::engine::{wflo_engine, wflo_usage};
use crate::handle::{
    Arced, Boxed, Handle, arc_free, arc_into_ptr, arc_ref, box_free, box_into_ptr, box_ref, out,
};
use crate::strings::{input, optional, output, output_json};

/// A running execution and the id C sees. Thread-safe: one handle may be used from many
/// threads at once. Free with wflo_execution_free (the execution itself stays in the store).
pub struct wflo_execution {
    _private: [u8; 0],
}

/// The execution plus its id as a C string, kept for `wflo_execution_id`.
pub struct ExecutionHandle {
    pub execution: Execution,
    id: CString,
}

impl Handle for wflo_execution {
    type Ownership = Arced;
    type Rust = ExecutionHandle;
}

/// A step or agent scope inside an execution. Thread-safe. Free with wflo_scope_free.
pub struct wflo_scope {
    _private: [u8; 0],
}

impl Handle for wflo_scope {
    type Ownership = Boxed;
    type Rust = Scope;
}

pub(crate) fn handle(execution: Execution) -> *mut wflo_execution {
    let id = CString::new(execution.id()).unwrap_or_default();
    arc_into_ptr(Arc::new(ExecutionHandle { execution, id }))
}

pub fn budget(nanos: i64) -> Option<u64> {
    u64::try_from(nanos).ok()
}

/// Starts an execution. `budget_nanos` < 0: no limit. `options_json` (NULL for none):
/// `{"id": "exec-…", "shared_scopes": ["tenant:acme"], "traceparent": "00-…-…-01",
/// "alert_thresholds": [50, 80, 95], "soft_budget_nanos": 5000000}`: "traceparent" (a W3C
/// header value) joins the host's trace (wflo_execution_trace_id); "alert_thresholds" are
/// the percents of each limit at which alerts fire (default 50, 80, 95; `[]`: none);
/// "soft_budget_nanos" fires one alert when spend reaches it and refuses nothing (see
/// wflo_engine_add_alert_listener). An unknown key is WFLO_STATUS_INVALID_ARGUMENT.
///
/// # Safety
/// `engine` is a live engine handle; strings point to their lengths; `execution_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_start(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    budget_nanos: i64,
    options_json: *const c_char,
    options_len: usize,
    execution_out: *mut *mut wflo_execution,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(execution_out, "execution_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let name = unsafe { input(name, name_len, "name") }?;
        let options = unsafe { optional(options_json, options_len, "options_json") }?;
        let execution = engine.start_execution(ExecutionOptions::with_json(
            name,
            budget(budget_nanos),
            options,
        )?)?;
        *out = handle(execution);
        Ok(())
    })
}

/// Opens a stored execution again, with its spend and calls; it continues from its latest
/// live checkpoint (wflo_checkpoint_latest).
///
/// # Safety
/// `engine` is a live engine handle; `id` points to `id_len` bytes; `execution_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_resume(
    engine: *const wflo_engine,
    id: *const c_char,
    id_len: usize,
    execution_out: *mut *mut wflo_execution,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(execution_out, "execution_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        *out = handle(engine.resume_execution(unsafe { input(id, id_len, "id") }?)?);
        Ok(())
    })
}

/// The execution id ("exec-" + 12 hex), NUL-terminated, owned by the handle: valid until
/// the handle is freed. NULL for a NULL handle.
///
/// # Safety
/// `execution` is NULL or a live execution handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_id(execution: *const wflo_execution) -> *const c_char {
    run_quiet(std::ptr::null(), || {
        match unsafe { arc_ref(execution, "execution") } {
            Ok(h) => h.id.as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// The W3C trace id the execution belongs to, 32 lower-case hex digits: the trace of the
/// "traceparent" it was started with (its spans join the host's trace), else one wflo drew
/// when it started. `*trace_id_out` is freed with wflo_string_free.
///
/// # Safety
/// `execution` is a live handle; `trace_id_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_trace_id(
    execution: *const wflo_execution,
    trace_id_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(trace_id_out, "trace_id_out") }?;
        *out = output(
            unsafe { arc_ref(execution, "execution") }?
                .execution
                .trace_id(),
        )?;
        Ok(())
    })
}

/// Ends the execution with a status ("completed", "failed", "budget_exceeded", or "running"
/// to reopen). Held reservations stay valid; new ones fail with WFLO_STATUS_CLOSED.
///
/// # Safety
/// `execution` is a live handle; `status` points to `status_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_finish(
    execution: *const wflo_execution,
    status: *const c_char,
    status_len: usize,
) -> wflo_status {
    run(|| {
        let h = unsafe { arc_ref(execution, "execution") }?;
        h.execution.finish(ExecutionStatus::from_name(unsafe {
            input(status, status_len, "status")
        }?)?)?;
        Ok(())
    })
}

/// Where the money went, as JSON: total, budget, reserved, remaining, overrun (nano-USD and
/// USD), calls, by_model, by_step.
///
/// # Safety
/// `execution` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_breakdown_json(
    execution: *const wflo_execution,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(
            &unsafe { arc_ref(execution, "execution") }?
                .execution
                .breakdown()?,
        )?;
        Ok(())
    })
}

/// The execution's calls, as a JSON array.
///
/// # Safety
/// `execution` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_calls_json(
    execution: *const wflo_execution,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(
            &unsafe { arc_ref(execution, "execution") }?
                .execution
                .calls()?,
        )?;
        Ok(())
    })
}

/// Releases the handle. NULL is a no-op.
///
/// # Safety
/// `execution` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_free(execution: *const wflo_execution) {
    run_quiet((), || unsafe { arc_free(execution) })
}

/// A step scope of the execution, created on first use (the same label returns the same
/// scope). `budget_nanos` < 0: no limit of its own (the execution's still applies).
///
/// # Safety
/// `execution` is a live handle; `label` points to `label_len` bytes; `scope_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_scope(
    execution: *const wflo_execution,
    label: *const c_char,
    label_len: usize,
    budget_nanos: i64,
    scope_out: *mut *mut wflo_scope,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(scope_out, "scope_out") }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        *out = box_into_ptr(h.execution.scope(
            unsafe { input(label, label_len, "label") }?,
            budget(budget_nanos),
        )?);
        Ok(())
    })
}

/// A scope nested in another.
///
/// # Safety
/// `scope` is a live scope handle; `label` points to `label_len` bytes; `scope_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_scope_child(
    scope: *const wflo_scope,
    label: *const c_char,
    label_len: usize,
    budget_nanos: i64,
    scope_out: *mut *mut wflo_scope,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(scope_out, "scope_out") }?;
        let parent = unsafe { box_ref(scope, "scope") }?;
        *out = box_into_ptr(parent.child(
            unsafe { input(label, label_len, "label") }?,
            budget(budget_nanos),
        )?);
        Ok(())
    })
}

/// Frees a scope handle (the scope lives on with its execution). NULL is a no-op.
///
/// # Safety
/// `scope` is NULL or a live scope handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_scope_free(scope: *mut wflo_scope) {
    run_quiet((), || unsafe { box_free(scope) })
}

/// The scope calls go to: `scope` when given, else the execution's own.
///
/// # Safety
/// Each pointer is NULL or a live handle of its type.
pub unsafe fn target(
    execution: *const wflo_execution,
    scope: *const wflo_scope,
) -> wflo_core::Result<Scope> {
    if scope.is_null() {
        Ok(unsafe { arc_ref(execution, "execution") }?.execution.root())
    } else {
        Ok(unsafe { box_ref(scope, "scope") }?.clone())
    }
}

/// Records a call made WITHOUT a reservation (its cost is booked as spend at once) from
/// wflo usage. `scope` NULL: the execution's own scope. `settled_out` (may be NULL) receives what the call came to.
///
/// # Safety
/// Handles live; `model` points to `model_len` bytes; `usage` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_record_call(
    execution: *const wflo_execution,
    scope: *const wflo_scope,
    model: *const c_char,
    model_len: usize,
    usage: *const wflo_usage,
    settled_out: *mut crate::call::wflo_settled,
) -> wflo_status {
    run(|| {
        let usage = unsafe { usage.as_ref() }.ok_or_else(|| Error::invalid("usage is NULL"))?;
        let model = unsafe { input(model, model_len, "model") }?;
        let record = unsafe { target(execution, scope) }?
            .record_call(&UsageReport::new(model, (*usage).into()))?;
        unsafe { crate::call::write_settled(&record, settled_out) };
        Ok(())
    })
}

/// Records a call made without a reservation from the provider's raw usage JSON (`format` as
/// in wflo_parse_usage). `settled_out` (may be NULL) receives what the call came to.
///
/// # Safety
/// Handles live; strings point to their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_record_call_json(
    execution: *const wflo_execution,
    scope: *const wflo_scope,
    model: *const c_char,
    model_len: usize,
    format: *const c_char,
    format_len: usize,
    usage_json: *const c_char,
    usage_json_len: usize,
    settled_out: *mut crate::call::wflo_settled,
) -> wflo_status {
    run(|| {
        let model = unsafe { input(model, model_len, "model") }?;
        let format = unsafe { input(format, format_len, "format") }?;
        let usage_json = unsafe { input(usage_json, usage_json_len, "usage_json") }?;
        let record =
            unsafe { target(execution, scope) }?.record_usage_json(model, format, usage_json)?;
        unsafe { crate::call::write_settled(&record, settled_out) };
        Ok(())
    })
}

/// Ends the execution the way its body ended, by the engine's one rule: `raised_json` NULL
/// (or "null"): the body returned → "completed"; else a JSON array of the wflo error code names
/// found along the raised error's causes, outermost first (`[]` for a foreign error) → a
/// BUDGET_EXCEEDED anywhere makes it "budget_exceeded", anything else "failed". `status_out`
/// (may be NULL) receives the status chosen, a static string.
///
/// # Safety
/// `execution` is a live handle; `raised_json` points to `raised_len` bytes or is NULL;
/// `status_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_end(
    execution: *const wflo_execution,
    raised_json: *const c_char,
    raised_len: usize,
    status_out: *mut *const c_char,
) -> wflo_status {
    run(|| {
        let h = unsafe { arc_ref(execution, "execution") }?;
        let raised = unsafe { optional(raised_json, raised_len, "raised_json") }?
            .map(str::trim)
            .filter(|t| !t.is_empty() && *t != "null")
            .map(|t| {
                serde_json::from_str::<Vec<String>>(t).map_err(|e| {
                    Error::invalid(format!(
                        "raised_json must be a JSON array of error code names: {e}"
                    ))
                })
            })
            .transpose()?;
        let status = h.execution.end(raised.as_deref())?;
        if !status_out.is_null() {
            let name: &'static std::ffi::CStr = match status {
                ExecutionStatus::Running => c"running",
                ExecutionStatus::Completed => c"completed",
                ExecutionStatus::Failed => c"failed",
                ExecutionStatus::BudgetExceeded => c"budget_exceeded",
            };
            unsafe { *status_out = name.as_ptr() };
        }
        Ok(())
    })
}

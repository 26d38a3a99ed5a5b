//! Approval gates across the C ABI. The rules (one approval per gate, decided once, timeouts)
//! are the engine's (`wflo_core::resilience::approval`); this module converts.

use std::ffi::c_char;

use wflo_core::resilience::{ApprovalRequest, ApprovalWait};

use crate::boundary::{run, wflo_status};
use crate::engine::wflo_engine;
use crate::execution::wflo_execution;
use crate::handle::{arc_ref, out};
use crate::strings::{input, optional, output_json};

/// Records a pending approval for a gate of the execution (or finds the one it already has
/// for that gate) without waiting. `request_json`: `{"gate": "publish", "what": "…", "why":
/// "…", "worst_case_nanos": 250000000, "requested_by": null, "timeout_ms": 3600000,
/// "on_timeout": "deny" | "approve"}` (only `gate` is required). `*approval_out`: the
/// approval as JSON (`id`, `status`, …); free it with wflo_string_free.
///
/// # Safety
/// `execution` is a live handle; `request_json` points to `request_len` bytes;
/// `approval_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_request_approval(
    execution: *const wflo_execution,
    request_json: *const c_char,
    request_len: usize,
    approval_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(approval_out, "approval_out") }?;
        let x = &unsafe { arc_ref(execution, "execution") }?.execution;
        let req = ApprovalRequest::from_json(unsafe {
            input(request_json, request_len, "request_json")
        }?)?;
        *out = output_json(&x.request_approval(&req)?)?;
        Ok(())
    })
}

/// Blocks until approval `id` is decided (at most `wait_ms`; < 0: until its timeout).
/// Approved (or still pending when `wait_ms` ran out): WFLO_STATUS_OK and the approval JSON.
/// Denied, or timed out under "on_timeout": "deny": WFLO_STATUS_APPROVAL_DENIED (the last
/// error JSON has `id`, `gate`, `timed_out`, `by`, `note`).
///
/// # Safety
/// `execution` is a live handle; `id` points to `id_len` bytes; `approval_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_execution_wait_for_approval(
    execution: *const wflo_execution,
    id: *const c_char,
    id_len: usize,
    wait_ms: i64,
    approval_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(approval_out, "approval_out") }?;
        let x = &unsafe { arc_ref(execution, "execution") }?.execution;
        let id = unsafe { input(id, id_len, "id") }?;
        *out = output_json(&x.wait_for_approval(id, u64::try_from(wait_ms).ok())?)?;
        Ok(())
    })
}

/// Approvals in the engine's store as a JSON array, newest first (only pending ones when
/// `pending_only`). Free with wflo_string_free.
///
/// # Safety
/// `engine` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_approvals_json(
    engine: *const wflo_engine,
    pending_only: bool,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&unsafe { arc_ref(engine, "engine") }?.approvals(pending_only, 1_000)?)?;
        Ok(())
    })
}

/// Approves (`approve` true) or denies a pending approval; `by` (NULL: USER@host) and `note`
/// (NULL: none) are recorded. WFLO_STATUS_CONFLICT when it was already decided.
/// `*approval_out`: the decided approval's JSON.
///
/// # Safety
/// `engine` is a live handle; the strings point to their lengths' bytes (or NULL with 0);
/// `approval_out` writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wflo_engine_decide_approval(
    engine: *const wflo_engine,
    id: *const c_char,
    id_len: usize,
    approve: bool,
    by: *const c_char,
    by_len: usize,
    note: *const c_char,
    note_len: usize,
    approval_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(approval_out, "approval_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let id = unsafe { input(id, id_len, "id") }?;
        let by = unsafe { optional(by, by_len, "by") }?;
        let note = unsafe { optional(note, note_len, "note") }?;
        *out = output_json(&engine.decide_approval(id, approve, by, note)?)?;
        Ok(())
    })
}

/// One approval as JSON; WFLO_STATUS_NOT_FOUND when there is none with that id. Free with
/// wflo_string_free.
///
/// # Safety
/// `engine` is a live handle; `id` points to `id_len` bytes; `approval_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_approval_json(
    engine: *const wflo_engine,
    id: *const c_char,
    id_len: usize,
    approval_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(approval_out, "approval_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        *out = output_json(&engine.approval(unsafe { input(id, id_len, "id") }?)?)?;
        Ok(())
    })
}

/// How a reservation that meets an execution's approval threshold (`approval_above_nanos`)
/// waits: `return_pending` false (the default) blocks the reserving thread until a person
/// decides; true fails it at once with WFLO_STATUS_APPROVAL_PENDING (the error JSON's `id`
/// names the approval) so a caller on an event loop waits elsewhere
/// (wflo_execution_wait_for_approval on another thread) and reserves again.
///
/// # Safety
/// `engine` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_set_approval_wait(
    engine: *const wflo_engine,
    return_pending: bool,
) -> wflo_status {
    run(|| {
        unsafe { arc_ref(engine, "engine") }?.set_approval_wait(if return_pending {
            ApprovalWait::Return
        } else {
            ApprovalWait::Block
        });
        Ok(())
    })
}

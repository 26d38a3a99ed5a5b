//! Checkpoints: save, list, roll back, the latest (what a resumed execution continues from).

use std::ffi::c_char;

use crate::boundary::{run, wflo_status};
use crate::execution::wflo_execution;
use crate::handle::{arc_ref, out};
use crate::strings::{input, output, output_json};

/// Saves `state_json` (any JSON value) as checkpoint `name`; committed before this returns.
/// `info_json_out` (may be NULL) receives the checkpoint's id, sequence, parent and spend.
///
/// # Safety
/// `execution` is a live handle; strings point to their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_save(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    state_json: *const c_char,
    state_len: usize,
    info_json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let h = unsafe { arc_ref(execution, "execution") }?;
        let info = h
            .execution
            .checkpoint(unsafe { input(name, name_len, "name") }?, unsafe {
                input(state_json, state_len, "state_json")
            }?)?;
        if !info_json_out.is_null() {
            unsafe { *info_json_out = output_json(&info)? };
        }
        Ok(())
    })
}

/// The execution's checkpoints as a JSON array (superseded ones included, flagged).
///
/// # Safety
/// `execution` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_list_json(
    execution: *const wflo_execution,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(
            &unsafe { arc_ref(execution, "execution") }?
                .execution
                .checkpoints()?,
        )?;
        Ok(())
    })
}

/// Rolls back to the latest live checkpoint called `name`: `*state_out` receives its state
/// (JSON); later checkpoints are marked superseded and kept. Spend is not undone.
///
/// # Safety
/// `execution` is a live handle; `name` points to `name_len` bytes; `state_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_rollback(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    state_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(state_out, "state_out") }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        *out = output(
            h.execution
                .rollback_to_checkpoint(unsafe { input(name, name_len, "name") }?)?,
        )?;
        Ok(())
    })
}

/// The state of the latest live checkpoint; WFLO_STATUS_NOT_FOUND when there is none.
///
/// # Safety
/// `execution` is a live handle; `state_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_latest(
    execution: *const wflo_execution,
    state_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(state_out, "state_out") }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        let (_, state) = h.execution.latest_checkpoint()?.ok_or_else(|| {
            wflo_core::Error::NotFound(format!(
                "execution {} has no live checkpoint",
                h.execution.id()
            ))
        })?;
        *out = output(state)?;
        Ok(())
    })
}

/// The state of one checkpoint of this execution by its id (superseded ones included);
/// WFLO_STATUS_NOT_FOUND when the execution has no checkpoint with that id.
///
/// # Safety
/// `execution` is a live handle; `state_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_state(
    execution: *const wflo_execution,
    checkpoint_id: u64,
    state_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(state_out, "state_out") }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        *out = output(h.execution.checkpoint_state(checkpoint_id)?)?;
        Ok(())
    })
}

//! Checkpoints: save, list, roll back, the latest (what a resumed execution continues from).

use std::ffi::c_char;

use crate::boundary::{run, wflo_status};
use crate::execution::wflo_execution;
use crate::handle::{arc_ref, out};
use crate::strings::{input, input_bytes, optional, output, output_bytes, output_json};
use wflo_core::{CheckpointInfo, CheckpointState};

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
        let info = unsafe { save_json(execution, name, name_len, state_json, state_len) }?;
        if !info_json_out.is_null() {
            unsafe { *info_json_out = output_json(&info)? };
        }
        Ok(())
    })
}

/// Saves a binary state — `state_len` bytes in the caller's own format, named by
/// `content_type` (e.g. "application/msgpack") — as checkpoint `name`; the bytes are stored as
/// they are and come back byte for byte. `content_type` NULL (with length 0) means none given:
/// the state is stored as "application/octet-stream". A content type given must be 1 to 255
/// printable ASCII characters without spaces: an empty non-NULL one is refused
/// (WFLO_STATUS_INVALID_ARGUMENT) and nothing is saved. `info_json_out` (may be NULL) as for
/// `wflo_checkpoint_save`, with the content type.
///
/// # Safety
/// `execution` is a live handle; strings and `state` point to their lengths; `content_type`
/// may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_save_binary(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    content_type: *const c_char,
    content_type_len: usize,
    state: *const u8,
    state_len: usize,
    info_json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let content_type = unsafe { optional(content_type, content_type_len, "content_type") }?;
        let info =
            unsafe { save_binary(execution, name, name_len, content_type, state, state_len) }?;
        if !info_json_out.is_null() {
            unsafe { *info_json_out = output_json(&info)? };
        }
        Ok(())
    })
}

/// The save of a JSON state, whichever way its info goes back.
///
/// # Safety
/// As `wflo_checkpoint_save`.
unsafe fn save_json(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    state_json: *const c_char,
    state_len: usize,
) -> wflo_core::Result<CheckpointInfo> {
    let h = unsafe { arc_ref(execution, "execution") }?;
    h.execution
        .checkpoint(unsafe { input(name, name_len, "name") }?, unsafe {
            input(state_json, state_len, "state_json")
        }?)
}

/// The save of a binary state, whichever way its info goes back.
///
/// # Safety
/// As `wflo_checkpoint_save_binary`.
unsafe fn save_binary(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    content_type: Option<&str>,
    state: *const u8,
    state_len: usize,
) -> wflo_core::Result<CheckpointInfo> {
    let h = unsafe { arc_ref(execution, "execution") }?;
    h.execution.checkpoint_binary(
        unsafe { input(name, name_len, "name") }?,
        content_type,
        unsafe { input_bytes(state, state_len, "state") }?,
    )
}

/// A saved checkpoint's fixed-size facts, for callers that already hold its name, execution id
/// and content type (a JSON info string costs a language like Python more to parse than the
/// save itself at 1 KB).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct wflo_checkpoint_saved {
    pub id: u64,
    /// Order within the execution, from 1.
    pub sequence: u64,
    /// The checkpoint this one continued from; meaningful only when `has_parent`.
    pub parent_id: u64,
    /// The execution's spend when the checkpoint was saved.
    pub spent_nanos: u64,
    pub created_at_ms: u64,
    /// Size of the state as given (before compression).
    pub state_bytes: u64,
    pub has_parent: bool,
}

impl From<&CheckpointInfo> for wflo_checkpoint_saved {
    fn from(info: &CheckpointInfo) -> Self {
        wflo_checkpoint_saved {
            id: info.id,
            sequence: info.sequence,
            parent_id: info.parent_id.unwrap_or(0),
            spent_nanos: info.spent_nanos,
            created_at_ms: info.created_at_ms,
            state_bytes: info.state_bytes,
            has_parent: info.parent_id.is_some(),
        }
    }
}

/// `wflo_checkpoint_save` with the checkpoint's facts written to `saved_out` (may be NULL)
/// instead of a JSON string: the name and execution id are the caller's own.
///
/// # Safety
/// As `wflo_checkpoint_save`; `saved_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_save_into(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    state_json: *const c_char,
    state_len: usize,
    saved_out: *mut wflo_checkpoint_saved,
) -> wflo_status {
    run(|| {
        let info = unsafe { save_json(execution, name, name_len, state_json, state_len) }?;
        if !saved_out.is_null() {
            unsafe { *saved_out = (&info).into() };
        }
        Ok(())
    })
}

/// `wflo_checkpoint_save_binary` with the checkpoint's facts written to `saved_out` (may be
/// NULL) instead of a JSON string. `content_type` is required here (the caller then knows the
/// stored one): NULL is refused with WFLO_STATUS_INVALID_ARGUMENT.
///
/// # Safety
/// As `wflo_checkpoint_save_binary`; `saved_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_save_binary_into(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    content_type: *const c_char,
    content_type_len: usize,
    state: *const u8,
    state_len: usize,
    saved_out: *mut wflo_checkpoint_saved,
) -> wflo_status {
    run(|| {
        let content_type = unsafe { input(content_type, content_type_len, "content_type") }?;
        let info = unsafe {
            save_binary(
                execution,
                name,
                name_len,
                Some(content_type),
                state,
                state_len,
            )
        }?;
        if !saved_out.is_null() {
            unsafe { *saved_out = (&info).into() };
        }
        Ok(())
    })
}

/// The out-parameters of a state of either kind (see `wflo_checkpoint_rollback_any`).
struct StateOut<'a> {
    content_type: &'a mut *mut c_char,
    state: &'a mut *mut u8,
    len: &'a mut usize,
}

impl StateOut<'_> {
    /// # Safety
    /// Each pointer is NULL (refused) or writable.
    unsafe fn new(
        content_type: *mut *mut c_char,
        state: *mut *mut u8,
        len: *mut usize,
    ) -> wflo_core::Result<Self> {
        Ok(StateOut {
            content_type: unsafe { out(content_type, "content_type_out") }?,
            state: unsafe { out(state, "state_out") }?,
            len: unsafe { out(len, "state_len_out") }?,
        })
    }

    fn write(self, state: CheckpointState) -> wflo_core::Result<()> {
        let (content_type, bytes) = match state {
            CheckpointState::Json(text) => (None, text.into_bytes()),
            CheckpointState::Binary {
                content_type,
                bytes,
            } => (Some(output(content_type)?), bytes),
        };
        *self.content_type = content_type.unwrap_or(std::ptr::null_mut());
        (*self.state, *self.len) = output_bytes(bytes);
        Ok(())
    }
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

/// The execution's checkpoints after sequence `after_sequence` as a JSON array (what was saved
/// since a reader last looked; 0: all), and `*rollbacks_out` (may be NULL) how many rollbacks
/// the execution has had — a rollback changes which earlier checkpoints are live, so a reader
/// keeping an index reads them all again when that number grows.
///
/// # Safety
/// `execution` is a live handle; `json_out` writable; `rollbacks_out` writable or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_list_after_json(
    execution: *const wflo_execution,
    after_sequence: u64,
    json_out: *mut *mut c_char,
    rollbacks_out: *mut u64,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        let (checkpoints, rollbacks) = h.execution.checkpoints_since(after_sequence)?;
        *out = output_json(&checkpoints)?;
        if !rollbacks_out.is_null() {
            unsafe { *rollbacks_out = rollbacks };
        }
        Ok(())
    })
}

/// Rolls back to the latest live checkpoint called `name`: `*state_out` receives its state
/// (JSON); later checkpoints are marked superseded and kept. Spend is not undone. A binary
/// state is refused (WFLO_STATUS_INVALID_ARGUMENT) before anything changes: see
/// `wflo_checkpoint_rollback_any`.
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

/// The state of the latest live checkpoint; WFLO_STATUS_NOT_FOUND when there is none,
/// WFLO_STATUS_INVALID_ARGUMENT when it is binary (see `wflo_checkpoint_latest_any`).
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
        *out = output(latest(&h.execution)?.into_json()?)?;
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

/// `wflo_checkpoint_rollback` for a state of either kind. `*content_type_out` receives the
/// content type of a binary state (free with `wflo_string_free`) or NULL for a JSON one;
/// `*state_out` and `*state_len_out` its bytes — a binary state's, or a JSON state's UTF-8
/// text without a terminating NUL — freed with `wflo_bytes_free(state, state_len)`. An empty
/// state is (NULL, 0).
///
/// # Safety
/// `execution` is a live handle; `name` points to `name_len` bytes; the out-parameters are
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_rollback_any(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    content_type_out: *mut *mut c_char,
    state_out: *mut *mut u8,
    state_len_out: *mut usize,
) -> wflo_status {
    run(|| {
        let to = unsafe { StateOut::new(content_type_out, state_out, state_len_out) }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        to.write(
            h.execution
                .rollback_to_checkpoint_any(unsafe { input(name, name_len, "name") }?)?,
        )
    })
}

/// `wflo_checkpoint_latest` for a state of either kind (out-parameters as for
/// `wflo_checkpoint_rollback_any`).
///
/// # Safety
/// `execution` is a live handle; the out-parameters are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_latest_any(
    execution: *const wflo_execution,
    content_type_out: *mut *mut c_char,
    state_out: *mut *mut u8,
    state_len_out: *mut usize,
) -> wflo_status {
    run(|| {
        let to = unsafe { StateOut::new(content_type_out, state_out, state_len_out) }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        to.write(latest(&h.execution)?)
    })
}

/// `wflo_checkpoint_state` for a state of either kind (out-parameters as for
/// `wflo_checkpoint_rollback_any`).
///
/// # Safety
/// `execution` is a live handle; the out-parameters are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_state_any(
    execution: *const wflo_execution,
    checkpoint_id: u64,
    content_type_out: *mut *mut c_char,
    state_out: *mut *mut u8,
    state_len_out: *mut usize,
) -> wflo_status {
    run(|| {
        let to = unsafe { StateOut::new(content_type_out, state_out, state_len_out) }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        to.write(h.execution.checkpoint_state_any(checkpoint_id)?)
    })
}

/// `wflo_checkpoint_list_after_json` and `wflo_checkpoint_state_any` of `checkpoint_id` in one
/// call: what a reader keeping an index of checkpoints (LangGraph's savers) needs to load one —
/// the state its index names, and whether the index is still current (an empty array and the
/// same number of rollbacks). On any error nothing is written.
///
/// # Safety
/// `execution` is a live handle; `json_out` and the state out-parameters writable;
/// `rollbacks_out` writable or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_since_with_state(
    execution: *const wflo_execution,
    after_sequence: u64,
    checkpoint_id: u64,
    json_out: *mut *mut c_char,
    rollbacks_out: *mut u64,
    content_type_out: *mut *mut c_char,
    state_out: *mut *mut u8,
    state_len_out: *mut usize,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let to = unsafe { StateOut::new(content_type_out, state_out, state_len_out) }?;
        let h = unsafe { arc_ref(execution, "execution") }?;
        let (checkpoints, rollbacks, state) = h
            .execution
            .checkpoints_since_with_state(after_sequence, checkpoint_id)?;
        let listed = output_json(&checkpoints)?;
        if let Err(e) = to.write(state) {
            unsafe { crate::strings::wflo_string_free(listed) };
            return Err(e);
        }
        *out = listed;
        if !rollbacks_out.is_null() {
            unsafe { *rollbacks_out = rollbacks };
        }
        Ok(())
    })
}

/// The latest live checkpoint's state; NOT_FOUND when there is none (C has no "none").
fn latest(execution: &wflo_core::Execution) -> wflo_core::Result<CheckpointState> {
    let (_, state) = execution.latest_checkpoint_any()?.ok_or_else(|| {
        wflo_core::Error::NotFound(format!(
            "execution {} has no live checkpoint",
            execution.id()
        ))
    })?;
    Ok(state)
}

//! A LangGraph saver's load (and its check for changes) from Python in one call that answers
//! with Python objects, for the Python face only (`wflo/_fast.py` calls it through ctypes
//! `PYFUNCTYPE`, the interpreter lock held). It is `wflo_checkpoint_since_with_state` (and
//! `wflo_checkpoint_list_after_json`) without the out-parameters: through those,
//! every load cost the face four more ctypes calls (copy the state, the content type and the
//! list out, free each) and the state was copied twice; here the library makes the objects
//! with the C API functions of the face's `wflo_py_api` (python_json.rs) and copies the state
//! once, into the `bytes` it returns. The store is read with the interpreter lock released.
//! And a save of a Python value as a JSON state encoded by core's encoder, so not checked again:
//! in one call (`wflo_py_checkpoint_save`), or encoded on one thread and saved on another
//! (`wflo_py_state_encode`, `wflo_checkpoint_save_encoded`).

use std::ffi::{c_char, c_int};

use wflo_core::{CheckpointInfo, CheckpointState, JsonText};

use crate::boundary::{run, run_quiet, wflo_status};
use crate::checkpoint::wflo_checkpoint_saved;
use crate::execution::wflo_execution;
use crate::handle::{Boxed, Handle, arc_ref, box_free, box_into_ptr, box_ref};
use crate::python_call::answer_python;
use crate::python_json::{wflo_py_api, wflo_py_object, with_encoded};
use crate::python_json_loads::{Objects, Owned};
use crate::strings::input;

/// `[checkpoints, rollbacks, content_type, data]`: the checkpoints saved after
/// `after_sequence` (a list of info dicts, as `wflo_checkpoint_list_after_json`'s JSON reads),
/// the execution's rollback count and, `with_state`, checkpoint `checkpoint_id`'s state —
/// `content_type` None and `data` the JSON text's bytes for a JSON state, else the content type
/// and the bytes as saved (without `with_state` both are None: a reader's check for changes).
/// On a failure: None, and `wflo_last_error_json` says why (NULL only when `api` lacks a
/// function this needs, which the face checks at import).
///
/// # Safety
/// Called with the Python interpreter's lock held (ctypes `PYFUNCTYPE`), `api` filled by the
/// Python face for this interpreter, `execution` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_checkpoints_since(
    api: *const wflo_py_api,
    execution: *const wflo_execution,
    after_sequence: u64,
    checkpoint_id: u64,
    with_state: bool,
) -> wflo_py_object {
    let work = || {
        let h = unsafe { arc_ref(execution, "execution") }?;
        Ok(if with_state {
            let (checkpoints, rollbacks, state) = h
                .execution
                .checkpoints_since_with_state(after_sequence, checkpoint_id)?;
            (checkpoints, rollbacks, Some(state))
        } else {
            let (checkpoints, rollbacks) = h.execution.checkpoints_since(after_sequence)?;
            (checkpoints, rollbacks, None)
        })
    };
    let build = |api: &wflo_py_api,
                 objects: &mut Objects,
                 found: (Vec<CheckpointInfo>, u64, Option<CheckpointState>)|
     -> Option<Owned> {
        let (checkpoints, rollbacks, state) = found;
        let listed = serde_json::to_vec(&checkpoints).ok()?;
        let listed = objects.parsed(&listed)?;
        let rollbacks = objects.own(unsafe { (api.long_from_long_long?)(rollbacks as i64) })?;
        let bytes = api.bytes_from_string_and_size?;
        let (content_type, data) = match &state {
            None => (objects.singleton(api.none)?, None),
            Some(CheckpointState::Json(text)) => {
                (objects.singleton(api.none)?, Some(text.as_bytes()))
            }
            Some(CheckpointState::Binary {
                content_type,
                bytes,
            }) => (
                objects.own(unsafe {
                    (api.unicode_from_string_and_size?)(
                        content_type.as_ptr().cast(),
                        content_type.len() as isize,
                    )
                })?,
                Some(bytes.as_slice()),
            ),
        };
        let data = match data {
            Some(data) => {
                objects.own(unsafe { bytes(data.as_ptr().cast(), data.len() as isize) })?
            }
            None => objects.singleton(api.none)?,
        };
        objects.list(vec![listed, rollbacks, content_type, data])
    };
    unsafe { answer_python(api, "a checkpoint read", true, work, build) }
}

/// Returned by `wflo_py_checkpoint_save` when it declines: the state holds something only
/// `json.dumps` may encode (or refuse), and nothing was saved.
pub const WFLO_PY_DECLINED: c_int = -1;

/// Saves a Python value as checkpoint `name`'s JSON state in one call: the value is encoded as
/// `json.dumps` writes it (`wflo_py_json_dumps`, core's encoder), and that text, JSON by
/// construction, is saved without being checked again and without a Python `str` made of it.
/// The store is written with the interpreter lock released. Returns 0 (WFLO_STATUS_OK) with
/// `saved_out` (may be NULL) filled as by `wflo_checkpoint_save_into`; a `wflo_status` when the
/// save failed (`wflo_last_error_json` says why, nothing saved); or WFLO_PY_DECLINED (-1), also
/// when `api` lacks a function this needs: the face then encodes the state itself and saves
/// the text.
///
/// # Safety
/// Called with the Python interpreter's lock held (ctypes `PYFUNCTYPE`), `api` filled by the
/// Python face for this interpreter, `state` a live Python object; `execution` a live handle,
/// `name` pointing to `name_len` bytes, `saved_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_checkpoint_save(
    api: *const wflo_py_api,
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    state: wflo_py_object,
    saved_out: *mut wflo_checkpoint_saved,
) -> c_int {
    let Some(api) = (unsafe { api.as_ref() }) else {
        return WFLO_PY_DECLINED;
    };
    let (Some(save_thread), Some(restore_thread)) = (api.save_thread, api.restore_thread) else {
        return WFLO_PY_DECLINED;
    };
    unsafe {
        with_encoded(api, state, |text| {
            let Some(text) = text else {
                return WFLO_PY_DECLINED;
            };
            let thread = save_thread();
            let status = run(|| save_text(execution, name, name_len, text, saved_out));
            restore_thread(thread);
            status as c_int
        })
    }
}

/// A checkpoint state encoded from a Python value (`wflo_py_state_encode`): JSON by
/// construction, held by the library until saved (`wflo_checkpoint_save_encoded`, on any
/// thread, as often as wanted) and freed (`wflo_encoded_state_free`). The Python face's async
/// checkpoint encodes on the caller's thread, so the state is saved as it was at the call, and
/// saves on a worker thread.
pub struct wflo_encoded_state {
    _private: [u8; 0],
}

impl Handle for wflo_encoded_state {
    type Ownership = Boxed;
    type Rust = JsonText<'static>;
}

/// `state` encoded as `wflo_py_json_dumps` encodes it, held for `wflo_checkpoint_save_encoded`;
/// NULL when it declines (as `wflo_py_checkpoint_save`: the face then encodes the state itself).
///
/// # Safety
/// As `wflo_py_json_dumps`: the interpreter lock held, `state` a live Python object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_state_encode(
    api: *const wflo_py_api,
    state: wflo_py_object,
) -> *mut wflo_encoded_state {
    let Some(api) = (unsafe { api.as_ref() }) else {
        return std::ptr::null_mut();
    };
    unsafe {
        with_encoded(api, state, |text| {
            text.map_or(std::ptr::null_mut(), |text| {
                box_into_ptr::<wflo_encoded_state>(text.clone().into_owned())
            })
        })
    }
}

/// Saves an encoded state as checkpoint `name` (not checked again: it is JSON by
/// construction), as `wflo_checkpoint_save_into`. The state stays the caller's to free.
///
/// # Safety
/// `execution` and `state` are live handles; `name` points to `name_len` bytes; `saved_out`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_checkpoint_save_encoded(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    state: *const wflo_encoded_state,
    saved_out: *mut wflo_checkpoint_saved,
) -> wflo_status {
    run(|| unsafe {
        let state = box_ref(state, "state")?;
        save_text(execution, name, name_len, state, saved_out)
    })
}

/// Saves text core's encoder wrote as checkpoint `name` (not checked again), its facts written
/// to `saved_out` as by `wflo_checkpoint_save_into`.
///
/// # Safety
/// `execution` is a live handle; `name` points to `name_len` bytes; `saved_out` NULL or
/// writable.
unsafe fn save_text(
    execution: *const wflo_execution,
    name: *const c_char,
    name_len: usize,
    text: &JsonText<'_>,
    saved_out: *mut wflo_checkpoint_saved,
) -> wflo_core::Result<()> {
    let h = unsafe { arc_ref(execution, "execution") }?;
    let info = h
        .execution
        .checkpoint_text(unsafe { input(name, name_len, "name") }?, text)?;
    if !saved_out.is_null() {
        unsafe { *saved_out = (&info).into() };
    }
    Ok(())
}

/// Frees an encoded state; NULL is a no-op.
///
/// # Safety
/// `state` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_encoded_state_free(state: *mut wflo_encoded_state) {
    run_quiet((), || unsafe { box_free(state) })
}

//! A LangGraph saver's operations (`wflo_core::langgraph`) over the C ABI, for faces that
//! reach the engine through libwflo (Python's `WfloCheckpointSaver`, C, Go): one entry point
//! taking a request in `wflo_core::langgraph::wire`'s form — JSON naming the operation and its
//! fields, the bytes of its values one after another — and answering the same way.

use std::ffi::c_char;
use std::sync::Arc;

use wflo_core::langgraph::{Checkpointer, wire};
use wflo_core::{Execution, Result};

use crate::boundary::{run, wflo_status};
use crate::execution::wflo_execution;
use crate::handle::{Arced, Handle, arc_free, arc_into_ptr, arc_ref, out};
use crate::strings::{input_bytes, output, output_bytes};

/// A LangGraph saver's index and records (opaque); share it between threads freely.
pub struct wflo_langgraph {
    _private: [u8; 0],
}

impl Handle for wflo_langgraph {
    type Ownership = Arced;
    type Rust = Checkpointer;
}

/// A new checkpointer; free it with `wflo_langgraph_free`.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_langgraph_new() -> *mut wflo_langgraph {
    arc_into_ptr(Arc::new(Checkpointer::new()))
}

/// Frees a checkpointer; NULL is a no-op.
///
/// # Safety
/// `saver` came from `wflo_langgraph_new` and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_langgraph_free(saver: *const wflo_langgraph) {
    unsafe { arc_free(saver) }
}

/// Runs one request on `execution`'s LangGraph records: `request` its JSON text, `values` the
/// bytes of its values one after another (each value's `[type, length]` listed under the
/// request's `"values"`). The operations and their answers: `wflo_core::langgraph::wire`
/// (put, put_writes, get, list, pending_writes, delete_thread, delete_checkpoints,
/// copy_thread, prune, name, key_of, next_version). Writes the answer's JSON to `answer_out` (free with
/// `wflo_string_free`) and its values' bytes to `values_out`/`values_len_out` (free with
/// `wflo_bytes_free`; NULL and 0 when none). On an error nothing is written.
///
/// # Safety
/// `saver` and `execution` live handles (`execution` may be NULL for `name`, `key_of` and
/// `next_version`);
/// `request` and `values` point to their lengths; the out-parameters writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_langgraph_call(
    saver: *const wflo_langgraph,
    execution: *const wflo_execution,
    request: *const c_char,
    request_len: usize,
    values: *const u8,
    values_len: usize,
    answer_out: *mut *mut c_char,
    values_out: *mut *mut u8,
    values_len_out: *mut usize,
) -> wflo_status {
    run(|| {
        let answer_out = unsafe { out(answer_out, "answer_out") }?;
        let values_out = unsafe { out(values_out, "values_out") }?;
        let values_len_out = unsafe { out(values_len_out, "values_len_out") }?;
        let answer = unsafe { call(saver, execution, request, request_len, values, values_len) }?;
        let text = output(answer.json.clone())?;
        let (ptr, len) = output_bytes(answer.joined());
        *answer_out = text;
        *values_out = ptr;
        *values_len_out = len;
        Ok(())
    })
}

/// The request run.
///
/// # Safety
/// As [`wflo_langgraph_call`].
pub(crate) unsafe fn call(
    saver: *const wflo_langgraph,
    execution: *const wflo_execution,
    request: *const c_char,
    request_len: usize,
    values: *const u8,
    values_len: usize,
) -> Result<wire::Answer> {
    let saver = unsafe { arc_ref(saver, "saver") }?;
    let request = unsafe { input_bytes(request.cast(), request_len, "request") }?;
    let values = unsafe { input_bytes(values, values_len, "values") }?;
    let exec = || -> Result<&Execution> {
        unsafe { arc_ref(execution, "execution") }.map(|h| &h.execution)
    };
    wire::run(saver, exec, request, values)
}

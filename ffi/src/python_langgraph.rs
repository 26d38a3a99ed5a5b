//! `wflo_langgraph_call` answered with Python objects, for the Python face only (`wflo/_fast.py`
//! calls it through ctypes `PYFUNCTYPE`, the interpreter lock held): the saver's every
//! operation in one ctypes call instead of four (the call, then the answer and the values
//! copied out and freed). The store is read with the interpreter lock released.

use std::ffi::c_char;

use crate::boundary::run;
use crate::execution::wflo_execution;
use crate::langgraph::{call, wflo_langgraph};
use crate::python_json::{wflo_py_api, wflo_py_object};
use crate::python_json_loads::{Objects, Owned};

/// `[answer, values]`: the answer of `wflo_langgraph_call` as Python objects (what
/// `json.loads` of its JSON gives) and its values as a list of `[type, bytes]`. On a failure: None,
/// and `wflo_last_error_json` says why (NULL only when `api` lacks a function this needs,
/// which the face checks at import).
///
/// # Safety
/// Called with the Python interpreter's lock held (ctypes `PYFUNCTYPE`), `api` filled by the
/// Python face for this interpreter; the rest as `wflo_langgraph_call` (`request` and `values`
/// the buffers of `bytes` objects the caller keeps alive for the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_langgraph_call(
    api: *const wflo_py_api,
    saver: *const wflo_langgraph,
    execution: *const wflo_execution,
    request: *const c_char,
    request_len: usize,
    values: *const u8,
    values_len: usize,
) -> wflo_py_object {
    let Some(api) = (unsafe { api.as_ref() }) else {
        return std::ptr::null_mut();
    };
    let (Some(save_thread), Some(restore_thread), Some(inc_ref)) =
        (api.save_thread, api.restore_thread, api.inc_ref)
    else {
        return std::ptr::null_mut();
    };
    let none = || {
        unsafe { inc_ref(api.none) };
        api.none
    };
    // The store may wait on the disk or the network: other Python threads run meanwhile.
    let mut found = None;
    let thread = unsafe { save_thread() };
    run(|| {
        found = Some(unsafe { call(saver, execution, request, request_len, values, values_len) }?);
        Ok(())
    });
    unsafe { restore_thread(thread) };
    let Some(answer) = found else {
        return none(); // run remembered the error
    };
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Option<Owned> {
        let mut objects = Objects::new(api)?;
        let parsed = objects.parsed(answer.json.as_bytes())?;
        let (text, bytes) = (
            api.unicode_from_string_and_size?,
            api.bytes_from_string_and_size?,
        );
        let mut values = Vec::with_capacity(answer.values.len());
        for v in &answer.values {
            let kind =
                objects.own(unsafe { text(v.kind.as_ptr().cast(), v.kind.len() as isize) })?;
            let data =
                objects.own(unsafe { bytes(v.data.as_ptr().cast(), v.data.len() as isize) })?;
            values.push(objects.list(vec![kind, data])?);
        }
        let values = objects.list(values)?;
        objects.list(vec![parsed, values])
    }));
    match built {
        Ok(Some(answer)) => answer.into_raw(),
        _ => {
            run(|| {
                Err(wflo_core::Error::Internal(
                    "libwflo could not make the Python objects of a LangGraph answer".into(),
                ))
            });
            none()
        }
    }
}

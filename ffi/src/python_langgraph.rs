//! `wflo_langgraph_call` answered with Python objects, for the Python face only (`wflo/_fast.py`
//! calls it through ctypes `PYFUNCTYPE`, the interpreter lock held): the saver's every
//! operation in one ctypes call instead of four (the call, then the answer and the values
//! copied out and freed). The store is read with the interpreter lock released; a request
//! without an execution (names, versions) keeps it.

use std::ffi::c_char;

use crate::execution::wflo_execution;
use crate::langgraph::{call, wflo_langgraph};
use crate::python_call::answer_python;
use crate::python_json::{wflo_py_api, wflo_py_object, with_encoded};

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
    let work = || unsafe { call(saver, execution, request, request_len, values, values_len) };
    // Without an execution a request can only be one of the answers that are pure functions of
    // the request (names, versions, keys; any other needs the execution and fails before it
    // touches the saver's state): there is nothing to wait on, and the interpreter lock is
    // kept (see `answer_python`).
    let release = !execution.is_null();
    unsafe {
        answer_python(
            api,
            "a LangGraph answer",
            release,
            work,
            |api, objects, answer| {
                let parsed = objects.parsed(answer.json.as_bytes())?;
                let (text, bytes) = (
                    api.unicode_from_string_and_size?,
                    api.bytes_from_string_and_size?,
                );
                let mut values = Vec::with_capacity(answer.values.len());
                for v in &answer.values {
                    let kind = objects.own(text(v.kind.as_ptr().cast(), v.kind.len() as isize))?;
                    let data = objects.own(bytes(v.data.as_ptr().cast(), v.data.len() as isize))?;
                    values.push(objects.list(vec![kind, data])?);
                }
                let values = objects.list(values)?;
                objects.list(vec![parsed, values])
            },
        )
    }
}

/// `wflo_py_langgraph_call` with the request given as the Python object it is the JSON of (a
/// dict): encoded here as `json.dumps` would, in the same call, instead of in one call before
/// it. Answers `api.declined` (a new reference) when the encoder declines the request (a type
/// it does not encode): the caller then encodes it itself and calls `wflo_py_langgraph_call`.
///
/// # Safety
/// As `wflo_py_langgraph_call`; `request` a live Python object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_langgraph_request(
    api: *const wflo_py_api,
    saver: *const wflo_langgraph,
    execution: *const wflo_execution,
    request: wflo_py_object,
    values: *const u8,
    values_len: usize,
) -> wflo_py_object {
    let Some(py) = (unsafe { api.as_ref() }) else {
        return std::ptr::null_mut();
    };
    unsafe {
        with_encoded(py, request, |text| {
            let Some(text) = text else {
                let Some(inc_ref) = py.inc_ref else {
                    return std::ptr::null_mut();
                };
                inc_ref(py.declined);
                return py.declined;
            };
            wflo_py_langgraph_call(
                api,
                saver,
                execution,
                text.as_str().as_ptr().cast(),
                text.as_str().len(),
                values,
                values_len,
            )
        })
    }
}

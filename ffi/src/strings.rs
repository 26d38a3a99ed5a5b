//! Strings and bytes across the boundary: in as pointer + length (strings UTF-8 checked), out as
//! NUL-terminated strings the caller frees with `wflo_string_free`, or as pointer + length
//! buffers it frees with `wflo_bytes_free`.

use std::ffi::{CString, c_char};

use wflo_core::{Error, Result};

/// Reads a (pointer, length) string. NULL with length 0 is "".
///
/// # Safety
/// `ptr` points to `len` readable bytes, or is NULL.
pub unsafe fn input<'a>(ptr: *const c_char, len: usize, what: &str) -> Result<&'a str> {
    std::str::from_utf8(unsafe { input_bytes(ptr as *const u8, len, what) }?)
        .map_err(|e| Error::invalid(format!("{what} is not valid UTF-8: {e}")))
}

/// Reads a (pointer, length) byte buffer. NULL with length 0 is empty.
///
/// # Safety
/// `ptr` points to `len` readable bytes, or is NULL.
pub unsafe fn input_bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::invalid(format!(
                "{what} is NULL but its length is {len}"
            )))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what} has an impossible length")));
    }
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Like [`input`], but NULL means "not given".
///
/// # Safety
/// As [`input`].
pub unsafe fn optional<'a>(ptr: *const c_char, len: usize, what: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() && len == 0 {
        Ok(None)
    } else {
        unsafe { input(ptr, len, what) }.map(Some)
    }
}

/// A Rust string handed to C: NUL-terminated, freed with `wflo_string_free`.
pub fn output(text: String) -> Result<*mut c_char> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Error::Internal("a returned string contained a NUL byte".into()))
}

/// JSON of a value, handed to C.
pub fn output_json(value: &impl serde::Serialize) -> Result<*mut c_char> {
    output(serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))?)
}

/// Bytes handed to C as (pointer, length), freed with `wflo_bytes_free`; an empty buffer is
/// (NULL, 0).
pub fn output_bytes(bytes: Vec<u8>) -> (*mut u8, usize) {
    if bytes.is_empty() {
        return (std::ptr::null_mut(), 0);
    }
    let len = bytes.len();
    (Box::into_raw(bytes.into_boxed_slice()) as *mut u8, len)
}

/// Frees a byte buffer returned by this library, with the length it came with. NULL is a
/// no-op.
///
/// # Safety
/// `data` and `len` were returned together by this library and `data` is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_bytes_free(data: *mut u8, len: usize) {
    crate::boundary::run_quiet((), || {
        if !data.is_null() {
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
        }
    })
}

/// Frees a string returned by this library. NULL is a no-op.
///
/// # Safety
/// `s` was returned by this library and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_string_free(s: *mut c_char) {
    crate::boundary::run_quiet((), || {
        if !s.is_null() {
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

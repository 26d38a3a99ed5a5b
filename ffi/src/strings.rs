//! Strings across the boundary: in as pointer + length (UTF-8 checked), out as NUL-terminated
//! strings the caller frees with `wflo_string_free`.

use std::ffi::{CString, c_char};

use wflo_core::{Error, Result};

/// Reads a (pointer, length) string. NULL with length 0 is "".
///
/// # Safety
/// `ptr` points to `len` readable bytes, or is NULL.
pub unsafe fn input<'a>(ptr: *const c_char, len: usize, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return if len == 0 {
            Ok("")
        } else {
            Err(Error::invalid(format!(
                "{what} is NULL but its length is {len}"
            )))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what} has an impossible length")));
    }
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    std::str::from_utf8(bytes)
        .map_err(|e| Error::invalid(format!("{what} is not valid UTF-8: {e}")))
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

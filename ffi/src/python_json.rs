//! `json.dumps` of a Python checkpoint state, in Rust, for the Python face only (its ctypes
//! module `wflo/_fast.py` calls it with the interpreter lock held). The library is not linked
//! with Python: the face hands over the C API functions and type objects it needs in a
//! `wflo_py_api`, the one it also hands to `wflo_py_json_loads` (python_json_loads.rs). Only
//! values of the exact built-in types whose `json.dumps` text is fixed are encoded here (dict
//! with str keys, list, tuple, str, int within 64 bits, finite float, bool, None); on anything
//! else the function declines and the face runs `json.dumps` itself, so the text is always the
//! standard library's, byte for byte (wflo_core::python_json).

use std::ffi::{c_char, c_int, c_void};

use wflo_core::python_json::{
    ITEM_SEPARATOR, KEY_SEPARATOR, push_ascii_string, push_float, push_int,
};

/// A Python object (`PyObject *`).
pub type wflo_py_object = *mut c_void;

/// What `wflo_py_json_dumps` and `wflo_py_json_loads` need from the running Python
/// interpreter: where a `PyObject` keeps its type, the exact types and singletons they read and
/// return, the object `wflo_py_json_loads` answers with when it declines, and C API functions
/// (`ctypes.pythonapi`). Filled once by the Python face and handed to both.
#[repr(C)]
pub struct wflo_py_api {
    /// Byte offset of `ob_type` in a `PyObject` (8 on 64-bit CPython with the GIL).
    pub ob_type_offset: usize,
    pub dict_type: wflo_py_object,
    pub list_type: wflo_py_object,
    pub tuple_type: wflo_py_object,
    pub str_type: wflo_py_object,
    pub int_type: wflo_py_object,
    pub float_type: wflo_py_object,
    pub none: wflo_py_object,
    pub true_: wflo_py_object,
    pub false_: wflo_py_object,
    /// Returned (a new reference) when `wflo_py_json_loads` declines.
    pub declined: wflo_py_object,
    /// `PyDict_Next`.
    pub dict_next: Option<
        unsafe extern "C" fn(
            wflo_py_object,
            *mut isize,
            *mut wflo_py_object,
            *mut wflo_py_object,
        ) -> c_int,
    >,
    /// `PyDict_New`.
    pub dict_new: Option<unsafe extern "C" fn() -> wflo_py_object>,
    /// `PyDict_SetItem`.
    pub dict_set_item:
        Option<unsafe extern "C" fn(wflo_py_object, wflo_py_object, wflo_py_object) -> c_int>,
    /// `PyList_Size`.
    pub list_size: Option<unsafe extern "C" fn(wflo_py_object) -> isize>,
    /// `PyList_GetItem`.
    pub list_get_item: Option<unsafe extern "C" fn(wflo_py_object, isize) -> wflo_py_object>,
    /// `PyList_New`.
    pub list_new: Option<unsafe extern "C" fn(isize) -> wflo_py_object>,
    /// `PyList_SetItem` (steals the item).
    pub list_set_item: Option<unsafe extern "C" fn(wflo_py_object, isize, wflo_py_object) -> c_int>,
    /// `PyTuple_Size`.
    pub tuple_size: Option<unsafe extern "C" fn(wflo_py_object) -> isize>,
    /// `PyTuple_GetItem`.
    pub tuple_get_item: Option<unsafe extern "C" fn(wflo_py_object, isize) -> wflo_py_object>,
    /// `PyUnicode_AsUTF8AndSize`.
    pub unicode_as_utf8_and_size:
        Option<unsafe extern "C" fn(wflo_py_object, *mut isize) -> *const c_char>,
    /// `PyUnicode_FromStringAndSize` (UTF-8).
    pub unicode_from_string_and_size:
        Option<unsafe extern "C" fn(*const c_char, isize) -> wflo_py_object>,
    /// `PyLong_AsLongLongAndOverflow`.
    pub long_as_long_long_and_overflow:
        Option<unsafe extern "C" fn(wflo_py_object, *mut c_int) -> i64>,
    /// `PyLong_FromLongLong`.
    pub long_from_long_long: Option<unsafe extern "C" fn(i64) -> wflo_py_object>,
    /// `PyLong_FromString`.
    pub long_from_string:
        Option<unsafe extern "C" fn(*const c_char, *mut *mut c_char, c_int) -> wflo_py_object>,
    /// `PyFloat_AsDouble`.
    pub float_as_double: Option<unsafe extern "C" fn(wflo_py_object) -> f64>,
    /// `PyFloat_FromDouble`.
    pub float_from_double: Option<unsafe extern "C" fn(f64) -> wflo_py_object>,
    /// `Py_IncRef`.
    pub inc_ref: Option<unsafe extern "C" fn(wflo_py_object)>,
    /// `Py_DecRef`.
    pub dec_ref: Option<unsafe extern "C" fn(wflo_py_object)>,
    /// `PyErr_Clear`.
    pub err_clear: Option<unsafe extern "C" fn()>,
    /// `PyBytes_FromStringAndSize`.
    pub bytes_from_string_and_size:
        Option<unsafe extern "C" fn(*const c_char, isize) -> wflo_py_object>,
    /// `PyEval_SaveThread`: lets other Python threads run while the store is read.
    pub save_thread: Option<unsafe extern "C" fn() -> *mut c_void>,
    /// `PyEval_RestoreThread`.
    pub restore_thread: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// Deeper than this, the encoder declines (json.dumps then reports a cycle or recursion).
const MAX_DEPTH: usize = 200;

/// The encoder declined: the value holds something only `json.dumps` may encode (or refuse).
struct Decline;

struct Api<'a> {
    api: &'a wflo_py_api,
    dict_next: unsafe extern "C" fn(
        wflo_py_object,
        *mut isize,
        *mut wflo_py_object,
        *mut wflo_py_object,
    ) -> c_int,
    list_size: unsafe extern "C" fn(wflo_py_object) -> isize,
    list_get_item: unsafe extern "C" fn(wflo_py_object, isize) -> wflo_py_object,
    tuple_size: unsafe extern "C" fn(wflo_py_object) -> isize,
    tuple_get_item: unsafe extern "C" fn(wflo_py_object, isize) -> wflo_py_object,
    as_utf8: unsafe extern "C" fn(wflo_py_object, *mut isize) -> *const c_char,
    as_i64: unsafe extern "C" fn(wflo_py_object, *mut c_int) -> i64,
    as_f64: unsafe extern "C" fn(wflo_py_object) -> f64,
    err_clear: unsafe extern "C" fn(),
}

impl Api<'_> {
    unsafe fn type_of(&self, value: wflo_py_object) -> wflo_py_object {
        unsafe {
            *value
                .cast::<u8>()
                .add(self.api.ob_type_offset)
                .cast::<wflo_py_object>()
        }
    }

    unsafe fn str_of(&self, value: wflo_py_object) -> Result<&str, Decline> {
        let mut len = 0isize;
        let data = unsafe { (self.as_utf8)(value, &mut len) };
        if data.is_null() {
            // Lone surrogates: not UTF-8. json.dumps escapes them.
            unsafe { (self.err_clear)() };
            return Err(Decline);
        }
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len as usize) };
        std::str::from_utf8(bytes).map_err(|_| Decline)
    }

    unsafe fn encode(
        &self,
        out: &mut Vec<u8>,
        value: wflo_py_object,
        depth: usize,
    ) -> Result<(), Decline> {
        let api = self.api;
        if value == api.none {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        if value == api.true_ {
            out.extend_from_slice(b"true");
            return Ok(());
        }
        if value == api.false_ {
            out.extend_from_slice(b"false");
            return Ok(());
        }
        let ty = unsafe { self.type_of(value) };
        if ty == api.str_type {
            push_ascii_string(out, unsafe { self.str_of(value) }?);
        } else if ty == api.int_type {
            let mut overflow: c_int = 0;
            let n = unsafe { (self.as_i64)(value, &mut overflow) };
            if overflow != 0 {
                return Err(Decline);
            }
            push_int(out, n);
        } else if ty == api.float_type {
            let x = unsafe { (self.as_f64)(value) };
            if !x.is_finite() {
                return Err(Decline); // json.dumps refuses it (allow_nan=False), with its message
            }
            push_float(out, x); // float.__repr__'s text, as json.dumps writes it
        } else if ty == api.dict_type {
            if depth >= MAX_DEPTH {
                return Err(Decline);
            }
            out.push(b'{');
            let (mut pos, mut key, mut item) = (0isize, std::ptr::null_mut(), std::ptr::null_mut());
            let mut first = true;
            while unsafe { (self.dict_next)(value, &mut pos, &mut key, &mut item) } != 0 {
                if unsafe { self.type_of(key) } != api.str_type {
                    return Err(Decline); // json.dumps turns int, float, bool, None keys into text
                }
                if !first {
                    out.extend_from_slice(ITEM_SEPARATOR);
                }
                first = false;
                push_ascii_string(out, unsafe { self.str_of(key) }?);
                out.extend_from_slice(KEY_SEPARATOR);
                unsafe { self.encode(out, item, depth + 1) }?;
            }
            out.push(b'}');
        } else if ty == api.list_type || ty == api.tuple_type {
            if depth >= MAX_DEPTH {
                return Err(Decline);
            }
            let (size, get) = if ty == api.list_type {
                (self.list_size, self.list_get_item)
            } else {
                (self.tuple_size, self.tuple_get_item)
            };
            out.push(b'[');
            let len = unsafe { size(value) };
            for i in 0..len {
                if i > 0 {
                    out.extend_from_slice(ITEM_SEPARATOR);
                }
                let item = unsafe { get(value, i) };
                if item.is_null() {
                    unsafe { (self.err_clear)() };
                    return Err(Decline);
                }
                unsafe { self.encode(out, item, depth + 1) }?;
            }
            out.push(b']');
        } else {
            return Err(Decline); // subclasses, dataclasses, models, …: json.dumps and its default
        }
        Ok(())
    }
}

/// `json.dumps(value)` (default separators, `ensure_ascii=True`, `allow_nan=False`) as a new
/// Python str, for the Python face. Returns a new reference to the empty str when it declines
/// (a type it does not encode, a non-finite float, an int beyond 64 bits, a lone surrogate,
/// nesting deeper than 200): the caller then runs `json.dumps` itself. NULL only if Python
/// could not allocate the result (its exception set).
///
/// # Safety
/// Called with the Python interpreter's lock held (ctypes `PYFUNCTYPE`), `api` filled by the
/// Python face for this interpreter, `value` a live Python object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_json_dumps(
    api: *const wflo_py_api,
    value: wflo_py_object,
) -> wflo_py_object {
    let Some(api) = (unsafe { api.as_ref() }) else {
        return std::ptr::null_mut();
    };
    let Some(from_utf8) = api.unicode_from_string_and_size else {
        return std::ptr::null_mut();
    };
    let text = unsafe { encode_python(api, value) }.unwrap_or_default();
    unsafe { from_utf8(text.as_ptr().cast(), text.len() as isize) }
}

/// `json.dumps(value)`'s bytes (as `wflo_py_json_dumps`), or None when it declines.
///
/// # Safety
/// As `wflo_py_json_dumps`: the interpreter lock held, `value` a live Python object.
pub(crate) unsafe fn encode_python(api: &wflo_py_api, value: wflo_py_object) -> Option<Vec<u8>> {
    let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Option<Vec<u8>> {
        let api = Api {
            api,
            dict_next: api.dict_next?,
            list_size: api.list_size?,
            list_get_item: api.list_get_item?,
            tuple_size: api.tuple_size?,
            tuple_get_item: api.tuple_get_item?,
            as_utf8: api.unicode_as_utf8_and_size?,
            as_i64: api.long_as_long_long_and_overflow?,
            as_f64: api.float_as_double?,
            err_clear: api.err_clear?,
        };
        let mut out = Vec::with_capacity(1024);
        unsafe { api.encode(&mut out, value, 0) }.ok()?;
        Some(out)
    }));
    encoded.ok().flatten()
}

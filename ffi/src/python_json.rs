//! `json.dumps` of a Python checkpoint state, in Rust, for the Python face only (its ctypes
//! module `wflo/_fast.py` calls it with the interpreter lock held). The library is not linked
//! with Python: the face hands over the C API functions and type objects it needs in a
//! `wflo_py_api`, the one it also hands to `wflo_py_json_loads` (python_json_loads.rs). The
//! encoding and its rules are core's (`wflo_core::python_json::encode`: exact built-in types
//! only, else it declines and the face runs `json.dumps` itself, so the text is always the
//! standard library's, byte for byte); this file only reads the objects for it.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};

use wflo_core::JsonText;
use wflo_core::python_json::{Node, Read, encode};

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

/// The interpreter's objects as `wflo_core::python_json::encode` reads them: exact built-in
/// types only (a subclass, a dataclass, a model is not one of them, so the encoder declines
/// and json.dumps, with its `default`, encodes it).
struct Reader<'a> {
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

impl Reader<'_> {
    /// A value's type object. Safe to call only as `Read` is used: by `encode_python`, the
    /// interpreter lock held and the value alive.
    fn type_of(&self, value: wflo_py_object) -> wflo_py_object {
        unsafe {
            *value
                .cast::<u8>()
                .add(self.api.ob_type_offset)
                .cast::<wflo_py_object>()
        }
    }

    fn str_of(&self, value: wflo_py_object) -> Option<&str> {
        let mut len = 0isize;
        let data = unsafe { (self.as_utf8)(value, &mut len) };
        if data.is_null() {
            // Lone surrogates: not UTF-8. json.dumps escapes them.
            unsafe { (self.err_clear)() };
            return None;
        }
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len as usize) };
        // SAFETY: PyUnicode_AsUTF8AndSize returns UTF-8 or fails (checking it again cost 8% of
        // an encoding).
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }
}

impl Read for Reader<'_> {
    type Object = wflo_py_object;

    fn node(&self, value: wflo_py_object) -> Option<Node<'_>> {
        let api = self.api;
        if value == api.none {
            return Some(Node::Null);
        }
        if value == api.true_ || value == api.false_ {
            return Some(Node::Bool(value == api.true_));
        }
        let ty = self.type_of(value);
        Some(if ty == api.str_type {
            Node::Str(self.str_of(value)?)
        } else if ty == api.int_type {
            let mut overflow: c_int = 0;
            let n = unsafe { (self.as_i64)(value, &mut overflow) };
            if overflow != 0 {
                return None;
            }
            Node::Int(n)
        } else if ty == api.float_type {
            Node::Float(unsafe { (self.as_f64)(value) })
        } else if ty == api.dict_type {
            Node::Dict
        } else if ty == api.list_type {
            Node::Sequence(unsafe { (self.list_size)(value) }.max(0) as usize)
        } else if ty == api.tuple_type {
            Node::Sequence(unsafe { (self.tuple_size)(value) }.max(0) as usize)
        } else {
            return None;
        })
    }

    fn member(
        &self,
        dict: wflo_py_object,
        position: &mut isize,
    ) -> Option<(wflo_py_object, wflo_py_object)> {
        let (mut key, mut item) = (std::ptr::null_mut(), std::ptr::null_mut());
        (unsafe { (self.dict_next)(dict, position, &mut key, &mut item) } != 0)
            .then_some((key, item))
    }

    fn item(&self, sequence: wflo_py_object, index: usize) -> Option<wflo_py_object> {
        let get = if self.type_of(sequence) == self.api.list_type {
            self.list_get_item
        } else {
            self.tuple_get_item
        };
        let item = unsafe { get(sequence, index as isize) };
        if item.is_null() {
            unsafe { (self.err_clear)() };
            return None;
        }
        Some(item)
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
    unsafe {
        with_encoded(api, value, |text| {
            let text = text.map_or("", JsonText::as_str);
            from_utf8(text.as_ptr().cast(), text.len() as isize)
        })
    }
}

/// Runs `then` with `json.dumps(value)`'s text (as `wflo_py_json_dumps`), or None when it
/// declines. The text is written into a buffer this thread keeps (up to `KEPT_BUFFER_BYTES`).
///
/// # Safety
/// As `wflo_py_json_dumps`: the interpreter lock held, `value` a live Python object.
pub(crate) unsafe fn with_encoded<T>(
    api: &wflo_py_api,
    value: wflo_py_object,
    then: impl FnOnce(Option<&JsonText<'_>>) -> T,
) -> T {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with(|cell| {
        let mut spare = Vec::new();
        let mut kept = cell.try_borrow_mut();
        let buffer = match kept.as_deref_mut() {
            Ok(buffer) => buffer,
            Err(_) => &mut spare, // in use further up this thread's stack
        };
        let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let reader = Reader {
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
            let buffer = buffer; // moved in, not reborrowed: the text borrows it past the closure
            encode(&reader, value, buffer)
        }));
        let result = then(encoded.ok().flatten().as_ref());
        if let Ok(buffer) = kept.as_deref_mut()
            && buffer.capacity() > KEPT_BUFFER_BYTES
        {
            *buffer = Vec::new(); // a rare huge state's memory is given back
        }
        result
    })
}

/// The largest encoding buffer a thread keeps between encodings.
const KEPT_BUFFER_BYTES: usize = 4 << 20;

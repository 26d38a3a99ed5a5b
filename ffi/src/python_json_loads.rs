//! `json.loads` of a stored checkpoint state, in Rust, for the Python face only (its ctypes
//! module `wflo/_fast.py` calls it with the interpreter lock held): the text is parsed by
//! `wflo_core::python_json::parse` and the Python objects are made with C API functions the
//! face hands over in a `wflo_py_api` (python_json.rs: one struct, filled once, for both
//! directions; the library is not linked with Python). What it builds equals `json.loads`'s
//! result, type for type; on anything unusual it declines and the face runs `json.loads`
//! itself.

use std::ffi::{c_char, c_int};

use wflo_core::python_json::{Build, parse};

use crate::python_json::{wflo_py_api, wflo_py_object};

/// Nested deeper than this, the parser declines (json.loads then reads it, or raises
/// RecursionError as it always did).
const MAX_DEPTH: usize = 200;

/// A new reference, released when dropped (a parse that gives up releases all it built).
pub(crate) struct Owned {
    object: wflo_py_object,
    dec_ref: unsafe extern "C" fn(wflo_py_object),
}

impl Owned {
    pub(crate) fn into_raw(self) -> wflo_py_object {
        let object = self.object;
        std::mem::forget(self);
        object
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        unsafe { (self.dec_ref)(self.object) };
    }
}

/// Keys up to this long are kept for reuse within one parse ([`Objects::key`]).
const KEY_BYTES: usize = 32;
/// How many keys are kept (a key hashed to a taken slot replaces the one there).
const KEY_SLOTS: usize = 64;

/// A key's text and its `str` (a reference of the cache's own; NULL: empty).
#[derive(Clone, Copy)]
struct KeySlot {
    len: u8,
    text: [u8; KEY_BYTES],
    object: wflo_py_object,
}

const EMPTY_SLOT: KeySlot = KeySlot {
    len: 0,
    text: [0; KEY_BYTES],
    object: std::ptr::null_mut(),
};

pub(crate) struct Objects<'a> {
    api: &'a wflo_py_api,
    /// The keys made in this parse, reused as `json.loads` reuses them (its scanner's memo):
    /// a repeated key's `str` is neither made nor hashed again (a list of records has the same
    /// few keys in each; made anew, they were a third of reading it).
    keys: Option<Box<[KeySlot; KEY_SLOTS]>>,
    dict_new: unsafe extern "C" fn() -> wflo_py_object,
    dict_set_item: unsafe extern "C" fn(wflo_py_object, wflo_py_object, wflo_py_object) -> c_int,
    list_new: unsafe extern "C" fn(isize) -> wflo_py_object,
    list_set_item: unsafe extern "C" fn(wflo_py_object, isize, wflo_py_object) -> c_int,
    from_utf8: unsafe extern "C" fn(*const c_char, isize) -> wflo_py_object,
    from_i64: unsafe extern "C" fn(i64) -> wflo_py_object,
    from_text: unsafe extern "C" fn(*const c_char, *mut *mut c_char, c_int) -> wflo_py_object,
    from_f64: unsafe extern "C" fn(f64) -> wflo_py_object,
    inc_ref: unsafe extern "C" fn(wflo_py_object),
    dec_ref: unsafe extern "C" fn(wflo_py_object),
    err_clear: unsafe extern "C" fn(),
}

impl<'a> Objects<'a> {
    /// The builder over `api`; None when a function it needs is missing.
    pub(crate) fn new(api: &'a wflo_py_api) -> Option<Self> {
        Some(Objects {
            api,
            keys: None,
            dict_new: api.dict_new?,
            dict_set_item: api.dict_set_item?,
            list_new: api.list_new?,
            list_set_item: api.list_set_item?,
            from_utf8: api.unicode_from_string_and_size?,
            from_i64: api.long_from_long_long?,
            from_text: api.long_from_string?,
            from_f64: api.float_from_double?,
            inc_ref: api.inc_ref?,
            dec_ref: api.dec_ref?,
            err_clear: api.err_clear?,
        })
    }

    /// `text`, JSON, as Python objects (None when it is not JSON this parser reads).
    pub(crate) fn parsed(&mut self, text: &[u8]) -> Option<Owned> {
        parse(text, self, MAX_DEPTH)
    }

    /// A new list holding `items`.
    pub(crate) fn list(&mut self, mut items: Vec<Owned>) -> Option<Owned> {
        self.array(items.drain(..))
    }

    /// A new reference returned by the C API (None, its error cleared, when it failed).
    pub(crate) fn own(&self, object: wflo_py_object) -> Option<Owned> {
        if object.is_null() {
            unsafe { (self.err_clear)() };
            return None;
        }
        Some(Owned {
            object,
            dec_ref: self.dec_ref,
        })
    }

    pub(crate) fn singleton(&self, object: wflo_py_object) -> Option<Owned> {
        unsafe { (self.inc_ref)(object) };
        self.own(object)
    }
}

impl Drop for Objects<'_> {
    fn drop(&mut self) {
        for slot in self.keys.iter().flat_map(|keys| keys.iter()) {
            if !slot.object.is_null() {
                unsafe { (self.dec_ref)(slot.object) };
            }
        }
    }
}

/// FNV-1a: a key is short, and only picks a slot.
fn key_slot(text: &[u8]) -> usize {
    let hash = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash as usize) % KEY_SLOTS
}

impl Build for Objects<'_> {
    type Value = Owned;

    fn null(&mut self) -> Option<Owned> {
        self.singleton(self.api.none)
    }

    fn bool(&mut self, value: bool) -> Option<Owned> {
        self.singleton(if value {
            self.api.true_
        } else {
            self.api.false_
        })
    }

    fn int(&mut self, value: i64) -> Option<Owned> {
        self.own(unsafe { (self.from_i64)(value) })
    }

    fn big_int(&mut self, text: &str) -> Option<Owned> {
        let text = std::ffi::CString::new(text).ok()?;
        self.own(unsafe { (self.from_text)(text.as_ptr(), std::ptr::null_mut(), 10) })
    }

    fn float(&mut self, value: f64) -> Option<Owned> {
        self.own(unsafe { (self.from_f64)(value) })
    }

    fn string(&mut self, value: &str) -> Option<Owned> {
        self.own(unsafe { (self.from_utf8)(value.as_ptr().cast(), value.len() as isize) })
    }

    fn key(&mut self, value: &str) -> Option<Owned> {
        let text = value.as_bytes();
        if text.len() > KEY_BYTES {
            return self.string(value);
        }
        let at = key_slot(text);
        let kept = self
            .keys
            .as_ref()
            .map(|keys| keys[at])
            .filter(|k| !k.object.is_null() && &k.text[..usize::from(k.len)] == text);
        if let Some(kept) = kept {
            return self.singleton(kept.object);
        }
        let made = self.string(value)?;
        let keys = self
            .keys
            .get_or_insert_with(|| Box::new([EMPTY_SLOT; KEY_SLOTS]));
        let slot = &mut keys[at];
        if !slot.object.is_null() {
            unsafe { (self.dec_ref)(slot.object) };
        }
        unsafe { (self.inc_ref)(made.object) };
        slot.object = made.object;
        slot.len = text.len() as u8;
        slot.text[..text.len()].copy_from_slice(text);
        Some(made)
    }

    fn array(&mut self, items: std::vec::Drain<'_, Owned>) -> Option<Owned> {
        let list = self.own(unsafe { (self.list_new)(items.len() as isize) })?;
        for (i, item) in items.enumerate() {
            // PyList_SetItem takes the reference, even when it fails.
            if unsafe { (self.list_set_item)(list.object, i as isize, item.into_raw()) } != 0 {
                unsafe { (self.err_clear)() };
                return None;
            }
        }
        Some(list)
    }

    fn object(&mut self) -> Option<Owned> {
        self.own(unsafe { (self.dict_new)() })
    }

    fn set(&mut self, object: &Owned, key: Owned, value: Owned) -> Option<()> {
        // PyDict_SetItem takes its own references: key and value are released when dropped.
        if unsafe { (self.dict_set_item)(object.object, key.object, value.object) } != 0 {
            unsafe { (self.err_clear)() };
            return None;
        }
        Some(())
    }
}

/// `json.loads(text)` of JSON text (UTF-8) as a new Python object, for the Python face.
/// Returns a new reference to `api.declined` when it declines (text it leaves to
/// `json.loads`: invalid, `NaN`/`Infinity`, a lone surrogate escaped, nesting deeper than 200,
/// an integer of more than 4300 digits; or Python could not allocate): the caller then runs
/// `json.loads` itself. NULL only if `api` is NULL or incomplete.
///
/// # Safety
/// Called with the Python interpreter's lock held (ctypes `PYFUNCTYPE`), `api` filled by the
/// Python face for this interpreter, `text` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_py_json_loads(
    api: *const wflo_py_api,
    text: *const u8,
    len: usize,
) -> wflo_py_object {
    let Some(api) = (unsafe { api.as_ref() }) else {
        return std::ptr::null_mut();
    };
    let Some(inc_ref) = api.inc_ref else {
        return std::ptr::null_mut();
    };
    let text: &[u8] = if len == 0 {
        &[]
    } else if text.is_null() {
        return std::ptr::null_mut();
    } else {
        unsafe { std::slice::from_raw_parts(text, len) }
    };
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Option<Owned> {
        Objects::new(api)?.parsed(text)
    }));
    match built {
        Ok(Some(value)) => value.into_raw(),
        _ => {
            unsafe { inc_ref(api.declined) };
            api.declined
        }
    }
}

//! How each opaque handle is owned, declared once per type. The conversions between handles
//! and Rust values are generic over that declaration, so a handle can only be converted the
//! way it was made: an `Arced` handle is never `Box::from_raw`ed, a `Boxed` one never shared.

use std::sync::Arc;

use wflo_core::{Error, Result};

/// The handle owns one strong reference of an `Arc`; it may be shared between threads.
pub struct Arced;
/// The handle owns a `Box`.
pub struct Boxed;

/// An opaque C type and the Rust value behind it.
pub trait Handle {
    type Ownership;
    type Rust;
}

fn null(what: &str) -> Error {
    Error::invalid(format!("{what} is NULL"))
}

/// A new shared handle.
pub fn arc_into_ptr<H: Handle<Ownership = Arced>>(value: Arc<H::Rust>) -> *mut H {
    Arc::into_raw(value) as *mut H
}

/// Borrows a shared handle for the duration of the call.
///
/// # Safety
/// `ptr` is NULL or was returned by [`arc_into_ptr`] for `H` and not freed.
pub unsafe fn arc_ref<'a, H: Handle<Ownership = Arced>>(
    ptr: *const H,
    what: &str,
) -> Result<&'a H::Rust> {
    if ptr.is_null() {
        return Err(null(what));
    }
    Ok(unsafe { &*(ptr as *const H::Rust) })
}

/// Drops the handle's reference; NULL is a no-op.
///
/// # Safety
/// As [`arc_ref`]; the handle is not used afterwards.
pub unsafe fn arc_free<H: Handle<Ownership = Arced>>(ptr: *const H) {
    if !ptr.is_null() {
        drop(unsafe { Arc::from_raw(ptr as *const H::Rust) });
    }
}

/// A new boxed handle.
pub fn box_into_ptr<H: Handle<Ownership = Boxed>>(value: H::Rust) -> *mut H {
    Box::into_raw(Box::new(value)) as *mut H
}

/// Borrows a boxed handle.
///
/// # Safety
/// `ptr` is NULL or was returned by [`box_into_ptr`] for `H` and not freed.
pub unsafe fn box_ref<'a, H: Handle<Ownership = Boxed>>(
    ptr: *const H,
    what: &str,
) -> Result<&'a H::Rust> {
    if ptr.is_null() {
        return Err(null(what));
    }
    Ok(unsafe { &*(ptr as *const H::Rust) })
}

/// Frees a boxed handle; NULL is a no-op.
///
/// # Safety
/// As [`box_ref`]; the handle is not used afterwards.
pub unsafe fn box_free<H: Handle<Ownership = Boxed>>(ptr: *mut H) {
    if !ptr.is_null() {
        drop(unsafe { Box::from_raw(ptr as *mut H::Rust) });
    }
}

/// Checks an out-parameter; writing it happens only once the call has succeeded.
///
/// # Safety
/// `ptr` is NULL or points to writable memory for a `T`.
pub unsafe fn out<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("out-parameter {what} is NULL")));
    }
    Ok(unsafe { &mut *ptr })
}

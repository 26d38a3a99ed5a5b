//! The one shape of every libwflo call that answers the Python face with its own objects
//! (`PYFUNCTYPE`, the interpreter lock held): the engine's work runs with the lock released
//! when it may wait on the disk or the network (other Python threads run meanwhile), then the
//! answer's objects are made with the lock held again. On a failure the answer is None and
//! `wflo_last_error_json` says why; NULL only when `api` lacks a function this needs (the face
//! checks that at import).

use crate::boundary::run;
use crate::python_json::{wflo_py_api, wflo_py_object};
use crate::python_json_loads::{Objects, Owned};

/// Runs `work` (without the interpreter lock when `release` says it may wait on a store) and
/// answers with what `build` makes of its result; `what` names the answer in the error when its
/// objects cannot be made.
///
/// Work that waits on nothing keeps the lock: giving it up lets another Python thread run, and
/// getting it back then waits until that thread gives it up in turn — up to the interpreter's
/// switch interval (5 ms). In a LangGraph run, where the graph's thread asks for channel
/// versions while a worker thread saves, a 6 µs version took ~150 µs on average that way.
///
/// # Safety
/// Called with the Python interpreter's lock held, `api` filled by the Python face for this
/// interpreter; `work` touches no Python object.
pub(crate) unsafe fn answer_python<T>(
    api: *const wflo_py_api,
    what: &str,
    release: bool,
    work: impl FnOnce() -> wflo_core::Result<T>,
    build: impl FnOnce(&wflo_py_api, &mut Objects, T) -> Option<Owned>,
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
    let mut found = None;
    let thread = release.then(|| unsafe { save_thread() });
    run(|| {
        found = Some(work()?);
        Ok(())
    });
    if let Some(thread) = thread {
        unsafe { restore_thread(thread) };
    }
    let Some(found) = found else {
        return none(); // run remembered the error
    };
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut objects = Objects::new(api)?;
        build(api, &mut objects, found)
    }));
    match built {
        Ok(Some(answer)) => answer.into_raw(),
        _ => {
            run(|| {
                Err(wflo_core::Error::Internal(format!(
                    "libwflo could not make the Python objects of {what}"
                )))
            });
            none()
        }
    }
}

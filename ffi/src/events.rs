//! The engine's events (reserved, refused, clamped, settled, overrun, checkpoint, rollback,
//! alert, lease_reclaimed) routed to a C callback, one line each (`wflo_core::events`). The
//! lines carry ids, labels, model names, token counts and amounts — never a prompt, a reply,
//! a key or a header value.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use parking_lot::Mutex;
use wflo_core::events;

use crate::boundary::{run, wflo_status};
use crate::callback::Callback;
use crate::strings::optional;

/// `wflo_log_fn`'s level: an error.
pub const WFLO_LOG_ERROR: c_int = 1;
/// A warning (budget alerts).
pub const WFLO_LOG_WARN: c_int = 2;
/// What a person should know (refusals, clamps, overruns, checkpoints, rollbacks).
pub const WFLO_LOG_INFO: c_int = 3;
/// One per call (reservations, settlements).
pub const WFLO_LOG_DEBUG: c_int = 4;
/// The finest detail.
pub const WFLO_LOG_TRACE: c_int = 5;

/// Receives one event: `level` is WFLO_LOG_ERROR (1) … WFLO_LOG_TRACE (5); `line` is
/// NUL-terminated, `len` bytes, like `info refused: call refused before sending execution=…
/// scope=… model=… requested_nanos=… reason=…`, owned by the library and valid only during
/// the call. `user_data` is what wflo_log_to was given.
pub type wflo_log_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, level: c_int, line: *const c_char, len: usize),
>;

type LogFn = unsafe extern "C" fn(*mut c_void, c_int, *const c_char, usize);

/// The callback the route delivers to now, closed when another replaces it.
static CURRENT: Mutex<Option<Arc<Callback<LogFn>>>> = Mutex::new(None);

fn level_number(name: &str) -> c_int {
    match name {
        "ERROR" => WFLO_LOG_ERROR,
        "WARN" => WFLO_LOG_WARN,
        "INFO" => WFLO_LOG_INFO,
        "DEBUG" => WFLO_LOG_DEBUG,
        _ => WFLO_LOG_TRACE,
    }
}

/// Sends the engine's events at `level` and above to `callback`, for the whole process (every
/// engine), one line each. `level` is a name as the WFLO_LOG variable takes it: "off",
/// "error", "warn", "info", "debug" or "trace" (case-insensitive); NULL (length 0) means
/// WFLO_LOG's value (unset: "off"). Another name: WFLO_STATUS_INVALID_ARGUMENT, and the route
/// stays as it was. `callback` NULL or level "off" silences the events. Call it again to
/// change the level or the callback. WFLO_STATUS_CONFLICT when the process already has a
/// global Rust `tracing` subscriber of its own (it receives the events, target "wflo").
///
/// Threads: the callback runs on the thread that emitted the event (any thread calling
/// libwflo, or one of its own), possibly on several at once; `user_data` must be usable from
/// all of them. It may call libwflo, wflo_log_to included.
///
/// Lifetime: once a later wflo_log_to returns (replacing or silencing this callback), the
/// callback is not running and is not called again, so its `user_data` may be freed — unless
/// that wflo_log_to was called from inside the callback, which cannot wait for its own call.
///
/// # Safety
/// `level` points to `level_len` bytes or is NULL; `callback`, if not NULL, is a function of
/// this type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_log_to(
    level: *const c_char,
    level_len: usize,
    callback: wflo_log_fn,
    user_data: *mut c_void,
) -> wflo_status {
    run(|| {
        let max = match unsafe { optional(level, level_len, "level") }? {
            Some(name) => events::parse_level(name)?,
            None => events::level_from_env()?,
        };
        let next = match (max, callback) {
            (Some(_), Some(function)) => Some(Arc::new(Callback::new(function, user_data))),
            _ => None,
        };
        let sink = next.clone();
        // Held while the route changes, so two threads changing it leave CURRENT naming the
        // callback the route delivers to.
        let mut current = CURRENT.lock();
        events::log_to(max.filter(|_| next.is_some()), move |level, line| {
            let Some(sink) = &sink else { return };
            let line = CString::new(line)
                .unwrap_or_else(|_| CString::new(line.replace('\0', " ")).unwrap_or_default());
            let number = level_number(level.as_str());
            sink.call(|f, data| unsafe { f(data, number, line.as_ptr(), line.as_bytes().len()) });
        })?;
        let previous = std::mem::replace(&mut *current, next);
        drop(current);
        // Closed outside the lock: the previous callback may be running and calling libwflo.
        if let Some(previous) = previous {
            previous.close();
        }
        Ok(())
    })
}

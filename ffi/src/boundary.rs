//! The error side of the ABI: the status codes, the thread's last error, and the one
//! boundary every exported function runs inside (a panic becomes `WFLO_STATUS_INTERNAL`).

use std::cell::RefCell;
use std::ffi::{CString, c_char};

use wflo_core::{Error, ErrorCode};

/// The result of every call. Values are stable and never renumbered; a retired value stays
/// as a comment.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum wflo_status {
    Ok = 0,
    InvalidArgument = 1,
    UnknownModel = 2,
    BudgetExceeded = 3,
    NotFound = 4,
    Conflict = 5,
    Storage = 6,
    Closed = 7,
    Internal = 8,
    /// A circuit breaker is open: the call was refused before anything was reserved or sent.
    CircuitOpen = 9,
    /// A resource stayed busy until the acquisition's timeout.
    ResourceBusy = 10,
    /// An approval gate was denied, or not answered in time.
    ApprovalDenied = 11,
    /// A call over the execution's approval threshold on an engine that returns pending
    /// approvals (`wflo_engine_set_approval_wait`): nothing was reserved; wait for the
    /// approval named in the error's JSON (`id`) and reserve again.
    ApprovalPending = 12,
    /// The execution made as many LLM calls as its `max_calls` allows: nothing was reserved.
    CallLimit = 13,
}

impl From<ErrorCode> for wflo_status {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidArgument => wflo_status::InvalidArgument,
            ErrorCode::UnknownModel => wflo_status::UnknownModel,
            ErrorCode::BudgetExceeded => wflo_status::BudgetExceeded,
            ErrorCode::NotFound => wflo_status::NotFound,
            ErrorCode::Conflict => wflo_status::Conflict,
            ErrorCode::Storage => wflo_status::Storage,
            ErrorCode::Closed => wflo_status::Closed,
            ErrorCode::Internal => wflo_status::Internal,
            ErrorCode::CircuitOpen => wflo_status::CircuitOpen,
            ErrorCode::ResourceBusy => wflo_status::ResourceBusy,
            ErrorCode::ApprovalDenied => wflo_status::ApprovalDenied,
            ErrorCode::ApprovalPending => wflo_status::ApprovalPending,
            ErrorCode::CallLimit => wflo_status::CallLimit,
        }
    }
}

/// Whether `status` is one of wflo's own refusals (BUDGET_EXCEEDED, CIRCUIT_OPEN,
/// RESOURCE_BUSY, APPROVAL_DENIED, APPROVAL_PENDING, CALL_LIMIT) rather than a failure of what was called: a circuit breaker
/// does not count it as a failure and a retry never retries it. The engine's rule
/// (`ErrorCode::is_refusal`); false for WFLO_STATUS_OK and unknown values.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_status_is_refusal(status: i32) -> bool {
    ErrorCode::ALL
        .into_iter()
        .find(|c| *c as i32 == status)
        .is_some_and(ErrorCode::is_refusal)
}

struct LastError {
    error: Error,
    message: CString,
    json: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn c_string(text: String) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

fn remember(e: &Error) {
    let last = LastError {
        error: e.clone(),
        message: c_string(e.to_string()),
        json: c_string(e.to_json().to_string()),
    };
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(last));
}

/// The thread's last error, if the last call failed.
pub fn last_error() -> Option<Error> {
    LAST_ERROR.with(|l| l.borrow().as_ref().map(|e| e.error.clone()))
}

/// Replaces the thread's last error (a re-worded refusal) and returns its status.
pub fn set_last_error(e: &Error) -> wflo_status {
    remember(e);
    e.code().into()
}

fn forget() {
    LAST_ERROR.with(|l| *l.borrow_mut() = None);
}

/// Runs an exported function's body: clears the last error, catches panics, maps errors.
pub fn run(body: impl FnOnce() -> wflo_core::Result<()>) -> wflo_status {
    forget();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => wflo_status::Ok,
        Ok(Err(e)) => {
            remember(&e);
            e.code().into()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            remember(&Error::Internal(format!("a bug in libwflo: {what}")));
            wflo_status::Internal
        }
    }
}

/// Runs a function whose failure can only be reported by its return value being empty
/// (`*_free`, getters): panics are caught and remembered.
pub fn run_quiet<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|_| {
        remember(&Error::Internal(
            "a bug in libwflo (panic in a getter or free)".into(),
        ));
        fallback
    })
}

static EMPTY: &std::ffi::CStr = c"";

/// The message of the last failed call on this thread, or "" when the last call succeeded.
/// The string is owned by the library and valid until the next call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_last_error_message() -> *const c_char {
    LAST_ERROR.with(|l| {
        l.borrow()
            .as_ref()
            .map_or(EMPTY.as_ptr(), |e| e.message.as_ptr())
    })
}

/// The last error's details as JSON: `{"code": "BUDGET_EXCEEDED", "message": …}` plus, for a
/// budget refusal, `scope`, `limit_nanos`, `spent_nanos`, `reserved_nanos`, `requested_nanos`,
/// and for an unknown model, `model` and `suggestions`. "" when the last call succeeded.
/// Owned by the library; valid until the next call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_last_error_json() -> *const c_char {
    LAST_ERROR.with(|l| {
        l.borrow()
            .as_ref()
            .map_or(EMPTY.as_ptr(), |e| e.json.as_ptr())
    })
}

/// The stable name of a status value (`"BUDGET_EXCEEDED"`), a static string; "UNKNOWN" for a
/// value that is not a status.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_status_name(status: i32) -> *const c_char {
    // The names are core's one table (ErrorCode::as_str), made C strings once.
    static NAMES: std::sync::OnceLock<Vec<(i32, std::ffi::CString)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ErrorCode::ALL
            .iter()
            .map(|c| {
                (
                    *c as i32,
                    std::ffi::CString::new(c.as_str()).unwrap_or_default(),
                )
            })
            .collect()
    });
    match status {
        0 => c"OK".as_ptr(),
        s => names
            .iter()
            .find(|(code, _)| *code == s)
            .map_or(c"UNKNOWN".as_ptr(), |(_, name)| name.as_ptr()),
    }
}

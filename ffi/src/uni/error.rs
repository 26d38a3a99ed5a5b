//! The one error type of the UniFFI face: the engine's stable codes with their typed fields.

use wflo_core::Error;

/// An engine error. Every variant carries the engine's message; budget and unknown-model
/// errors carry their figures. Variants are the stable codes of the C ABI and every face.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum WfloError {
    #[error("{message}")]
    InvalidArgument { message: String },
    #[error("{message}")]
    UnknownModel {
        message: String,
        model: String,
        suggestions: Vec<String>,
    },
    /// A call was refused BEFORE it was made: it could have passed the limit of `scope`.
    #[error("{message}")]
    BudgetExceeded {
        message: String,
        scope: String,
        limit_nanos: u64,
        spent_nanos: u64,
        reserved_nanos: u64,
        requested_nanos: u64,
    },
    #[error("{message}")]
    NotFound { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("{message}")]
    Storage { message: String },
    #[error("{message}")]
    Closed { message: String },
    #[error("{message}")]
    Internal { message: String },
    /// A circuit breaker is open: refused before anything was reserved or sent.
    #[error("{message}")]
    CircuitOpen {
        message: String,
        name: String,
        failures: u32,
        retry_in_ms: u64,
    },
    /// A resource stayed busy until the acquisition's timeout.
    #[error("{message}")]
    ResourceBusy {
        message: String,
        resource: String,
        waited_ms: u64,
        holders: Vec<String>,
    },
    /// An approval gate was denied, or not answered in time.
    #[error("{message}")]
    ApprovalDenied {
        message: String,
        id: String,
        gate: String,
        timed_out: bool,
        by: Option<String>,
        note: Option<String>,
    },
    /// A call over the execution's approval threshold on an engine that returns pending
    /// approvals: nothing was reserved; wait for approval `id` and reserve again.
    #[error("{message}")]
    ApprovalPending {
        message: String,
        id: String,
        gate: String,
        what: String,
    },
    /// The execution made as many LLM calls as its `max_calls` allows: nothing was reserved.
    #[error("{message}")]
    CallLimit {
        message: String,
        execution: String,
        max_calls: u64,
    },
}

impl From<Error> for WfloError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::InvalidArgument(_) => WfloError::InvalidArgument { message },
            Error::UnknownModel { model, suggestions } => WfloError::UnknownModel {
                message,
                model,
                suggestions,
            },
            Error::BudgetExceeded(b) => WfloError::BudgetExceeded {
                message,
                scope: b.scope,
                limit_nanos: b.limit_nanos,
                spent_nanos: b.spent_nanos,
                reserved_nanos: b.reserved_nanos,
                requested_nanos: b.requested_nanos,
            },
            Error::NotFound(_) => WfloError::NotFound { message },
            Error::Conflict(_) => WfloError::Conflict { message },
            Error::Storage(_) => WfloError::Storage { message },
            Error::Closed(_) => WfloError::Closed { message },
            Error::Internal(_) => WfloError::Internal { message },
            Error::CircuitOpen {
                name,
                failures,
                retry_in_ms,
            } => WfloError::CircuitOpen {
                message,
                name,
                failures,
                retry_in_ms,
            },
            Error::ResourceBusy {
                resource,
                waited_ms,
                holders,
            } => WfloError::ResourceBusy {
                message,
                resource,
                waited_ms,
                holders,
            },
            Error::ApprovalDenied {
                id,
                gate,
                timed_out,
                by,
                note,
            } => WfloError::ApprovalDenied {
                message,
                id,
                gate,
                timed_out,
                by,
                note,
            },
            Error::ApprovalPending { id, gate, what } => WfloError::ApprovalPending {
                message,
                id,
                gate,
                what,
            },
            Error::CallLimit {
                execution,
                max_calls,
            } => WfloError::CallLimit {
                message,
                execution,
                max_calls,
            },
        }
    }
}

impl WfloError {
    /// The stable code name (`"BUDGET_EXCEEDED"`).
    pub fn code(&self) -> &'static str {
        match self {
            WfloError::InvalidArgument { .. } => "INVALID_ARGUMENT",
            WfloError::UnknownModel { .. } => "UNKNOWN_MODEL",
            WfloError::BudgetExceeded { .. } => "BUDGET_EXCEEDED",
            WfloError::NotFound { .. } => "NOT_FOUND",
            WfloError::Conflict { .. } => "CONFLICT",
            WfloError::Storage { .. } => "STORAGE",
            WfloError::Closed { .. } => "CLOSED",
            WfloError::Internal { .. } => "INTERNAL",
            WfloError::CircuitOpen { .. } => "CIRCUIT_OPEN",
            WfloError::ResourceBusy { .. } => "RESOURCE_BUSY",
            WfloError::ApprovalDenied { .. } => "APPROVAL_DENIED",
            WfloError::ApprovalPending { .. } => "APPROVAL_PENDING",
            WfloError::CallLimit { .. } => "CALL_LIMIT",
        }
    }
}

/// Runs engine code: maps its error, and a panic to `Internal` (UniFFI would also catch it,
/// but as a generic error without our code).
pub(crate) fn guard<T>(f: impl FnOnce() -> wflo_core::Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(WfloError::from),
        Err(_) => Err(WfloError::Internal {
            message: "internal error: a bug in libwflo (panic)".into(),
        }),
    }
}

pub(crate) type Result<T> = std::result::Result<T, WfloError>;

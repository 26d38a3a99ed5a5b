//! The one error type of the engine and its table of stable codes.
//!
//! Every face (C, Node, Python, Go, Kotlin, Swift) maps [`Error`] exactly once to its own
//! idiom, keyed by [`ErrorCode`]. The numeric values are part of the public ABI: they are never
//! renumbered, and a retired code stays here as a comment.

use crate::money::Nanos;

/// Stable error codes shared by every language face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u32)]
pub enum ErrorCode {
    InvalidArgument = 1,
    UnknownModel = 2,
    BudgetExceeded = 3,
    NotFound = 4,
    Conflict = 5,
    Storage = 6,
    Closed = 7,
    Internal = 8,
    CircuitOpen = 9,
    ResourceBusy = 10,
    ApprovalDenied = 11,
    ApprovalPending = 12,
    CallLimit = 13,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidArgument,
        ErrorCode::UnknownModel,
        ErrorCode::BudgetExceeded,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Storage,
        ErrorCode::Closed,
        ErrorCode::Internal,
        ErrorCode::CircuitOpen,
        ErrorCode::ResourceBusy,
        ErrorCode::ApprovalDenied,
        ErrorCode::ApprovalPending,
        ErrorCode::CallLimit,
    ];

    /// The code as the upper-case string every face exposes (`"BUDGET_EXCEEDED"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::UnknownModel => "UNKNOWN_MODEL",
            ErrorCode::BudgetExceeded => "BUDGET_EXCEEDED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Storage => "STORAGE",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::CircuitOpen => "CIRCUIT_OPEN",
            ErrorCode::ResourceBusy => "RESOURCE_BUSY",
            ErrorCode::ApprovalDenied => "APPROVAL_DENIED",
            ErrorCode::ApprovalPending => "APPROVAL_PENDING",
            ErrorCode::CallLimit => "CALL_LIMIT",
        }
    }

    /// Whether an error with this code is one of wflo's own refusals — a budget, an open
    /// breaker, a busy resource, a denied or not yet given approval, an execution's call
    /// limit — rather than a failure of what was called.
    /// A refusal says nothing about the health of a provider or a tool: a circuit breaker does
    /// not count it as a failure, and a retry policy never retries it. Every face asks this
    /// rule; none keeps a list of its own.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            ErrorCode::BudgetExceeded
                | ErrorCode::CircuitOpen
                | ErrorCode::ResourceBusy
                | ErrorCode::ApprovalDenied
                | ErrorCode::ApprovalPending
                | ErrorCode::CallLimit
        )
    }

    /// Parses the upper-case name back into a code.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a budget refused a call: every figure a user needs to understand the refusal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BudgetExceeded {
    /// The label of the scope whose limit would be passed (the execution id, a step label, or
    /// the name of a shared scope).
    pub scope: String,
    /// The scope's limit in nano-USD.
    pub limit_nanos: Nanos,
    /// Settled spend in the scope, nano-USD.
    pub spent_nanos: Nanos,
    /// Outstanding reservations in the scope, nano-USD.
    pub reserved_nanos: Nanos,
    /// The worst-case cost of the refused request, nano-USD (0 when the scope refuses because
    /// an earlier call overran its reservation).
    pub requested_nanos: Nanos,
    /// For a retry the budget refused: which attempt was not sent and what failed before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_note: Option<String>,
    /// For a call reserved up front by a tracker that could not see its request: how it was
    /// sized and how to have it budgeted from its actual request instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The engine's error. Each variant belongs to exactly one [`ErrorCode`].
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("unknown model '{model}'{}", suggestion_text(.suggestions))]
    UnknownModel {
        model: String,
        suggestions: Vec<String>,
    },

    #[error(
        "budget exceeded on scope '{}': limit ${}, spent ${}, reserved ${}, this call needs up to ${}{}{}",
        .0.scope,
        crate::money::format_usd(.0.limit_nanos),
        crate::money::format_usd(.0.spent_nanos),
        crate::money::format_usd(.0.reserved_nanos),
        crate::money::format_usd(.0.requested_nanos),
        .0.retry_note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
        .0.hint.as_ref().map(|h| format!(" [{h}]")).unwrap_or_default()
    )]
    BudgetExceeded(Box<BudgetExceeded>),

    #[error("not found: {0}")]
    NotFound(String),

    #[error("conflict: {0}")]
    Conflict(String),

    #[error("storage error: {0}")]
    Storage(String),

    #[error("closed: {0}")]
    Closed(String),

    #[error("internal error: {0}")]
    Internal(String),

    #[error(
        "circuit breaker '{name}' is open after {failures} failure(s): calls through it are refused for {retry_in_ms} ms more"
    )]
    CircuitOpen {
        name: String,
        failures: u32,
        retry_in_ms: u64,
    },

    #[error(
        "resource '{resource}' stayed busy for {waited_ms} ms (held by {})",
        if .holders.is_empty() { "nobody now".to_owned() } else { .holders.join(", ") }
    )]
    ResourceBusy {
        resource: String,
        waited_ms: u64,
        /// Who held it when the wait gave up: `workflow (host:pid)`.
        holders: Vec<String>,
    },

    #[error(
        "approval {id} for '{gate}' was {}{}{}",
        if *.timed_out { "not given in time" } else { "denied" },
        .by.as_ref().filter(|_| !*.timed_out).map(|b| format!(" by {b}")).unwrap_or_default(),
        .note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
    )]
    ApprovalDenied {
        id: String,
        gate: String,
        timed_out: bool,
        by: Option<String>,
        note: Option<String>,
    },

    /// A call over the execution's approval threshold, reserved on an engine that does not
    /// wait on the calling thread ([`crate::resilience::ApprovalWait::Return`]): nothing was
    /// reserved or sent; wait for approval `id` (asynchronously) and reserve again.
    #[error(
        "approval {id} for '{gate}' is pending ({what}): nothing was reserved or sent; wait for the decision and reserve again"
    )]
    ApprovalPending {
        id: String,
        gate: String,
        what: String,
    },

    /// The execution has made as many LLM calls as it may (`max_calls`, the original SDK's
    /// `max_iterations`): this one was not reserved or sent.
    #[error(
        "execution {execution} reached its limit of {max_calls} LLM call(s): this call was not sent"
    )]
    CallLimit { execution: String, max_calls: u64 },
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::UnknownModel { .. } => ErrorCode::UnknownModel,
            Error::BudgetExceeded(_) => ErrorCode::BudgetExceeded,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::Storage(_) => ErrorCode::Storage,
            Error::Closed(_) => ErrorCode::Closed,
            Error::Internal(_) => ErrorCode::Internal,
            Error::CircuitOpen { .. } => ErrorCode::CircuitOpen,
            Error::ResourceBusy { .. } => ErrorCode::ResourceBusy,
            Error::ApprovalDenied { .. } => ErrorCode::ApprovalDenied,
            Error::ApprovalPending { .. } => ErrorCode::ApprovalPending,
            Error::CallLimit { .. } => ErrorCode::CallLimit,
        }
    }

    /// Shorthand for an `INVALID_ARGUMENT` error.
    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }

    /// A budget refusal with `hint` added (see [`BudgetExceeded::hint`]); any other error as
    /// it is.
    pub fn with_hint(self, hint: String) -> Error {
        match self {
            Error::BudgetExceeded(mut b) => {
                b.hint = Some(hint);
                Error::BudgetExceeded(b)
            }
            other => other,
        }
    }

    /// Structured details of the error as JSON (the code, the message and, for budget and
    /// unknown-model errors, their typed fields). Faces that cross a boundary as text (C, Go)
    /// use this so no detail is lost.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "code": self.code().as_str(),
            "message": self.to_string(),
        });
        match self {
            Error::BudgetExceeded(b) => {
                v["scope"] = b.scope.clone().into();
                v["limit_nanos"] = b.limit_nanos.into();
                v["spent_nanos"] = b.spent_nanos.into();
                v["reserved_nanos"] = b.reserved_nanos.into();
                v["requested_nanos"] = b.requested_nanos.into();
                if let Some(n) = &b.retry_note {
                    v["retry_note"] = n.clone().into();
                }
                if let Some(h) = &b.hint {
                    v["hint"] = h.clone().into();
                }
            }
            Error::UnknownModel { model, suggestions } => {
                v["model"] = model.clone().into();
                v["suggestions"] = suggestions.clone().into();
            }
            Error::CircuitOpen {
                name,
                failures,
                retry_in_ms,
            } => {
                v["name"] = name.clone().into();
                v["failures"] = (*failures).into();
                v["retry_in_ms"] = (*retry_in_ms).into();
            }
            Error::ResourceBusy {
                resource,
                waited_ms,
                holders,
            } => {
                v["resource"] = resource.clone().into();
                v["waited_ms"] = (*waited_ms).into();
                v["holders"] = holders.clone().into();
            }
            Error::ApprovalDenied {
                id,
                gate,
                timed_out,
                by,
                note,
            } => {
                v["id"] = id.clone().into();
                v["gate"] = gate.clone().into();
                v["timed_out"] = (*timed_out).into();
                v["by"] = by.clone().into();
                v["note"] = note.clone().into();
            }
            Error::ApprovalPending { id, gate, what } => {
                v["id"] = id.clone().into();
                v["gate"] = gate.clone().into();
                v["what"] = what.clone().into();
            }
            Error::CallLimit {
                execution,
                max_calls,
            } => {
                v["execution"] = execution.clone().into();
                v["max_calls"] = (*max_calls).into();
            }
            _ => {}
        }
        v
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn refusals_are_wflos_own_decisions_never_a_failure_of_what_was_called() {
        let refusals: Vec<_> = ErrorCode::ALL
            .into_iter()
            .filter(|c| c.is_refusal())
            .map(ErrorCode::as_str)
            .collect();
        assert_eq!(
            refusals,
            [
                "BUDGET_EXCEEDED",
                "CIRCUIT_OPEN",
                "RESOURCE_BUSY",
                "APPROVAL_DENIED",
                "APPROVAL_PENDING",
                "CALL_LIMIT"
            ]
        );
    }
}

//! The `wflo` command's exit codes — stable, documented in `wflo --help` and the README — and
//! the error type that carries one.
//!
//! A failure from the engine keeps its [`ErrorCode`]: [`for_code`] turns it into the exit code
//! a script can test (`wflo show … || [ $? -eq 3 ]`). Usage errors (a bad flag, a missing
//! argument) are clap's, which exits with 2 before any command runs.

use wflo_core::ErrorCode;

/// Success.
pub const OK: u8 = 0;
/// Any error without a code of its own below: an invalid argument or input, a file that cannot
/// be read or written, a conflict, an internal error.
pub const FAILURE: u8 = 1;
/// The command line itself is wrong: an unknown flag, a missing or malformed argument (clap).
pub const USAGE: u8 = 2;
/// What was named does not exist: an execution, a checkpoint, a model.
pub const NOT_FOUND: u8 = 3;
/// A budget refused a call.
pub const BUDGET_EXCEEDED: u8 = 4;
/// The store failed: it cannot be opened or reached, or a read or write failed.
pub const STORAGE: u8 = 5;

/// The table printed at the end of `wflo --help` (and copied into the README).
pub const HELP: &str = "\
Exit codes:
  0  success
  1  any other error (invalid input, a file that cannot be read or written, …)
  2  usage error: an unknown flag, a missing or malformed argument
  3  not found: the execution, checkpoint or model named does not exist
  4  a budget refused a call
  5  storage failure: the store cannot be opened or reached, or a read or write failed";

/// The exit code for an engine error code.
pub fn for_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::NotFound | ErrorCode::UnknownModel => NOT_FOUND,
        ErrorCode::BudgetExceeded => BUDGET_EXCEEDED,
        ErrorCode::Storage => STORAGE,
        ErrorCode::InvalidArgument
        | ErrorCode::Conflict
        | ErrorCode::Closed
        | ErrorCode::Internal
        | ErrorCode::CircuitOpen
        | ErrorCode::ResourceBusy
        | ErrorCode::ApprovalDenied
        | ErrorCode::ApprovalPending
        | ErrorCode::CallLimit => FAILURE,
    }
}

/// A command's failure: the one line printed on stderr and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub exit: u8,
    pub message: String,
}

impl CliError {
    /// A failure with the generic exit code ([`FAILURE`]).
    pub fn other(message: impl Into<String>) -> CliError {
        CliError {
            exit: FAILURE,
            message: message.into(),
        }
    }

    /// The same failure with `context` in front of its message (`"step write: …"`).
    pub fn context(self, context: &str) -> CliError {
        CliError {
            exit: self.exit,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl From<wflo_core::Error> for CliError {
    fn from(e: wflo_core::Error) -> CliError {
        CliError {
            exit: for_code(e.code()),
            message: e.to_string(),
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> CliError {
        CliError::other(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> CliError {
        CliError::other(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_has_an_exit_code_and_the_table_lists_them_all() {
        let codes: Vec<u8> = ErrorCode::ALL.into_iter().map(for_code).collect();
        for exit in [FAILURE, NOT_FOUND, BUDGET_EXCEEDED, STORAGE] {
            assert!(codes.contains(&exit), "no engine code maps to {exit}");
        }
        assert!(!codes.contains(&OK) && !codes.contains(&USAGE));
        for exit in [OK, FAILURE, USAGE, NOT_FOUND, BUDGET_EXCEEDED, STORAGE] {
            assert!(
                HELP.lines().any(|l| l.starts_with(&format!("  {exit}  "))),
                "{exit} missing from the help table"
            );
        }
        assert_eq!(for_code(ErrorCode::NotFound), 3);
        assert_eq!(for_code(ErrorCode::BudgetExceeded), 4);
        assert_eq!(for_code(ErrorCode::Storage), 5);
    }

    #[test]
    fn engine_errors_keep_their_code_through_context() {
        let e: CliError = wflo_core::Error::Storage("disk full".into()).into();
        let e = e.context("step write");
        assert_eq!(e.exit, STORAGE);
        assert_eq!(e.message, "step write: storage error: disk full");
        assert_eq!(CliError::from("boom").exit, FAILURE);
    }
}

//! User-supplied text that the stores keep (names, labels, models, error reasons).
//!
//! PostgreSQL `text` cannot hold NUL while SQLite and the memory store can. NUL is therefore
//! refused at the API, for every store alike: left to the store, a NUL in one call record
//! would fail the batch it is written in on every retry, holding back every record after it.

use crate::error::{Error, Result};

/// Refuses text containing NUL with `INVALID_ARGUMENT`, before anything is booked or written.
pub(crate) fn check(what: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(format!(
            "{what} must not contain a NUL character"
        )));
    }
    Ok(())
}

/// Free text recorded with a failed call (often an SDK's error message): never refused,
/// since releasing a reservation must not fail, so NUL becomes U+FFFD instead.
pub(crate) fn recordable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_or_replaced_and_everything_else_kept() {
        assert!(check("name", "a'; DROP TABLE x; --\n\u{1b}🚀").is_ok());
        let e = check("name", "a\0b").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        assert_eq!(recordable("a\0b".into()), "a\u{fffd}b");
        assert_eq!(recordable("tab\tok".into()), "tab\tok");
    }
}

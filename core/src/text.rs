//! User-supplied text that the stores keep (names, labels, models, error reasons).
//!
//! PostgreSQL `text` cannot hold NUL while SQLite and the memory store can. NUL is therefore
//! refused at the API, for every store alike: left to the store, a NUL in one call record
//! would fail the batch it is written in on every retry, holding back every record after it.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::error::{Error, Result};

/// Whether `c` is shown escaped on a terminal or in a log line: the C0 controls (ESC among
/// them), DEL, the C1 controls, and the bidirectional embedding, override and isolate
/// characters, which reorder what follows.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `text` made safe to print: each character [`is_unsafe`] reports is written as an escape
/// (`\t`, `\n`, `\r`; `\xNN` for the other ASCII controls, e.g. `\x1b`; `\u{NNNN}` beyond
/// ASCII, e.g. `\u{9b}`, `\u{202e}`); every other character is kept. Names, labels and models
/// come from a program's callers; the `wflo` command and every log line pass through this.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii() && is_unsafe(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

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

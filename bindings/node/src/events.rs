//! The engine's events (core's `events`) on stderr, as `WFLO_LOG` asks.
//!
//! The lines are written here, in Rust, rather than handed to JavaScript: an event can come
//! from a libuv worker, and a line written where it happens is never reordered, never lost
//! when the process exits with lines still queued, and costs the JavaScript thread nothing.

use std::io::Write;

use napi_derive::napi;

use crate::guard;

/// Routes the engine's events to stderr at the level `WFLO_LOG` names (off when unset or
/// `off`), one line each, prefixed `wflo: `. Returns whether anything is logged; an unknown
/// level is INVALID_ARGUMENT.
#[napi]
pub fn log_from_env() -> napi::Result<bool> {
    guard(|| match wflo_core::events::level_from_env()? {
        None => Ok(false),
        Some(level) => {
            wflo_core::events::log_to(Some(level), |_, line| {
                // A closed stderr loses the line; it never fails the call that logged.
                let _ = writeln!(std::io::stderr().lock(), "wflo: {}", escape(line));
            })?;
            Ok(true)
        }
    })
}

/// `line` safe for a terminal, as the `wflo` command prints it: labels and model names come
/// from the program's callers, so controls and bidi overrides are written as escapes.
fn escape(line: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !line.chars().any(unsafe_char) {
        return line.into();
    }
    line.chars()
        .map(|c| match c {
            '\t' => "\\t".to_owned(),
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            c if c.is_ascii() && unsafe_char(c) => format!("\\x{:02x}", c as u32),
            c if unsafe_char(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn controls_are_escaped_as_the_wflo_command_does() {
        assert_eq!(escape("scope=plain"), "scope=plain");
        assert_eq!(
            escape("a\x1b[31mb\nc\u{202e}d"),
            "a\\x1b[31mb\\nc\\u{202e}d"
        );
    }
}

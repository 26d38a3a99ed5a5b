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
                // Core escaped the line's values (controls, bidi overrides) already.
                let _ = writeln!(std::io::stderr().lock(), "wflo: {line}");
            })?;
            Ok(true)
        }
    })
}

//! The engine's events routed into a generated face's logging (core's `events`: what is
//! logged, at which level, and how `WFLO_LOG` is read, is decided there).

use super::error::{Result, guard};

/// A log level, as `WFLO_LOG` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// From a `tracing` level's name (`Level::as_str`: "ERROR", "WARN", …): this crate takes
    /// levels from core without naming `tracing` itself.
    fn of(name: &str) -> LogLevel {
        match name {
            "ERROR" => LogLevel::Error,
            "WARN" => LogLevel::Warn,
            "INFO" => LogLevel::Info,
            "DEBUG" => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// Receives the engine's events, one line each (`refused: call refused before sending
/// execution=exec-… scope=… requested_nanos=…`; the level is given apart). Called on the
/// thread that did the work; whatever it throws is caught and dropped.
#[uniffi::export(callback_interface)]
pub trait LogSink: Send + Sync {
    fn log(&self, level: LogLevel, line: String) -> Result<()>;
}

/// Sends the engine's events at `level` and above to `sink`, for the whole process, replacing
/// any sink set before. `level`: "off", "error", "warn", "info", "debug" or "trace" ("off":
/// silent); None: what `WFLO_LOG` says (unset: silent). An unknown level is refused
/// (InvalidArgument). Returns the level in force (None: silent).
#[uniffi::export]
pub fn set_log_sink(level: Option<String>, sink: Box<dyn LogSink>) -> Result<Option<LogLevel>> {
    guard(|| {
        let max = match level {
            Some(text) => wflo_core::events::parse_level(&text)?,
            None => wflo_core::events::level_from_env()?,
        };
        wflo_core::events::log_to(max, move |level, line| {
            // Core's line begins with the level's name; the sink gets the level apart.
            let name = level.as_str();
            let text = match line.get(..name.len()) {
                Some(head) if head.eq_ignore_ascii_case(name) => line[name.len()..].trim_start(),
                _ => line,
            };
            let _ = sink.log(LogLevel::of(name), text.to_owned());
        })?;
        Ok(max.map(|l| LogLevel::of(l.as_str())))
    })
}

/// The level `WFLO_LOG` asks for (None: unset or "off"); an unknown value is refused
/// (InvalidArgument).
#[uniffi::export]
pub fn log_level_from_env() -> Result<Option<LogLevel>> {
    guard(|| Ok(wflo_core::events::level_from_env()?.map(|l| LogLevel::of(l.as_str()))))
}

//! Structured events: what the engine did, for the host's logging (issue 15, item 1).
//!
//! Emitted with `tracing` under the target `wflo` and a `event` field naming the kind
//! (`reserved`, `refused`, `clamped`, `settled`, `overrun`, `checkpoint`, `rollback`,
//! `lease_reclaimed`, `alert`, `store_write_failed`, `store_write_recovered`,
//! `telemetry_off`, `breaker`, `breaker_not_recorded`, …). Fields
//! are ids, labels, model names, token counts and nano-USD amounts — never a prompt, a reply,
//! an API key or a header value: nothing here is given any of those. With no subscriber
//! installed an event costs a level check. Levels: refusals, clamps, overruns, reclaimed
//! leases at INFO (a person should know), reservations and settlements at DEBUG (one per call).

use std::sync::Arc;

use crate::money::Nanos;

/// A reservation booked before a call was sent.
pub(crate) fn reserved(execution: &str, scope: &str, model: &str, amount: Nanos, max_output: u64) {
    tracing::debug!(target: "wflo", event = "reserved", execution, scope, model,
        reserved_nanos = amount, max_output_tokens = max_output, "reserved before sending");
}

/// A call refused before it was sent: the scope that refused and the amounts. The reason is
/// formatted only when something listens.
pub(crate) fn refused(
    execution: &str,
    scope: &str,
    model: &str,
    requested: Nanos,
    reason: &crate::Error,
) {
    tracing::info!(target: "wflo", event = "refused", execution, scope, model,
        requested_nanos = requested, reason = %reason, "call refused before sending");
}

/// The output limit lowered so the call fits the budget.
pub(crate) fn clamped(execution: &str, scope: &str, model: &str, from: u64, to: u64) {
    tracing::info!(target: "wflo", event = "clamped", execution, scope, model,
        max_output_tokens = to, requested_max_output_tokens = from, "output limit lowered to fit the budget");
}

/// A call settled at its cost (estimated or from the provider's usage).
pub(crate) fn settled(
    execution: &str,
    scope: &str,
    model: &str,
    cost: Nanos,
    reserved: Nanos,
    estimated: bool,
    status: &str,
) {
    tracing::debug!(target: "wflo", event = "settled", execution, scope, model,
        cost_nanos = cost, reserved_nanos = reserved, estimated, status, "call settled");
}

/// A call cost more than its reservation (its limited scopes now refuse).
pub(crate) fn overrun(execution: &str, scope: &str, model: &str, overrun: Nanos) {
    tracing::info!(target: "wflo", event = "overrun", execution, scope, model,
        overrun_nanos = overrun, "call cost more than it reserved");
}

/// A checkpoint saved.
pub(crate) fn checkpoint(execution: &str, name: &str, sequence: u64, state_bytes: usize) {
    tracing::info!(target: "wflo", event = "checkpoint", execution, name, sequence, state_bytes, "checkpoint saved");
}

/// A rollback to a checkpoint.
pub(crate) fn rollback(execution: &str, name: &str) {
    tracing::info!(target: "wflo", event = "rollback", execution, name, "rolled back");
}

/// A workflow asked for approval and waits.
pub(crate) fn approval_requested(id: &str, execution: &str, gate: &str) {
    tracing::info!(target: "wflo", event = "approval_requested", id, execution, gate, "approval requested");
}

/// An approval was decided.
pub(crate) fn approval_decided(id: &str, execution: &str, status: &str, by: &str) {
    tracing::info!(target: "wflo", event = "approval_decided", id, execution, status, by, "approval decided");
}

/// An acquisition of a resource waited past its contention threshold (or timed out).
pub(crate) fn contention(resource: &str, waited_ms: u64, max_concurrent: u32) {
    tracing::warn!(target: "wflo", event = "contention", resource, waited_ms, max_concurrent, "resource contention");
}

/// A circuit breaker changed state.
pub(crate) fn breaker_changed(name: &str, from: &str, to: &str, reason: &str) {
    tracing::warn!(target: "wflo", event = "breaker", name, from, to, reason, "circuit breaker changed state");
}

/// A local breaker's change of state could not be recorded in the store (the breaker itself
/// carries on: its state is in memory).
pub(crate) fn breaker_not_recorded(name: &str, error: &crate::Error) {
    tracing::warn!(target: "wflo", event = "breaker_not_recorded", name,
        code = error.code().as_str(), error = %error, "circuit breaker change not recorded");
}

/// Reservations whose lease ran out (their caller died or never settled) were released.
pub(crate) fn leases_reclaimed(count: usize) {
    tracing::info!(target: "wflo", event = "lease_reclaimed", count, "expired reservations released");
}

/// How much to log: `WFLO_LOG` (`off`, `error`, `warn`, `info`, `debug`, `trace`; default off,
/// so wflo is silent unless asked). An unknown value is refused rather than guessed.
pub fn level_from_env() -> crate::Result<Option<tracing::Level>> {
    match std::env::var("WFLO_LOG") {
        Err(_) => Ok(None),
        Ok(v) => parse_level(&v),
    }
}

/// Parses a level name as `WFLO_LOG` takes it (`off` or empty: `None`).
pub fn parse_level(text: &str) -> crate::Result<Option<tracing::Level>> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "off" => Ok(None),
        "error" => Ok(Some(tracing::Level::ERROR)),
        "warn" => Ok(Some(tracing::Level::WARN)),
        "info" => Ok(Some(tracing::Level::INFO)),
        "debug" => Ok(Some(tracing::Level::DEBUG)),
        "trace" => Ok(Some(tracing::Level::TRACE)),
        other => Err(crate::Error::invalid(format!(
            "WFLO_LOG must be off, error, warn, info, debug or trace, not '{other}'"
        ))),
    }
}

/// Where lines go: the most detailed level wanted and the sink (`None`: nowhere).
type Sink = Arc<dyn Fn(tracing::Level, &str) + Send + Sync>;
type Route = parking_lot::RwLock<Option<(tracing::Level, Sink)>>;

/// A `tracing` subscriber that turns wflo's events into one line each —
/// `info refused: call refused before sending execution=exec-… scope=… requested_nanos=…` — and
/// hands them to a sink. Events of other targets and below the level are ignored. The
/// process-wide one behind [`log_to`] shares its route, so its level and sink can change.
pub struct LineSubscriber {
    route: Arc<Route>,
}

impl LineSubscriber {
    pub fn new(
        max: tracing::Level,
        sink: impl Fn(tracing::Level, &str) + Send + Sync + 'static,
    ) -> Self {
        LineSubscriber {
            route: Arc::new(parking_lot::RwLock::new(Some((max, Arc::new(sink))))),
        }
    }
}

struct Line {
    kind: String,
    message: String,
    fields: String,
}

impl tracing::field::Visit for Line {
    // Values are escaped (controls, bidi overrides) here, once for every face's logging: a
    // label or model name from a program's caller must not steer a terminal or forge a line.
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "event" => self.kind = value.to_owned(),
            name => self
                .fields
                .push_str(&format!(" {name}={}", crate::text::escape(value))),
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = crate::text::escape(&text).into_owned(),
            name => self
                .fields
                .push_str(&format!(" {name}={}", crate::text::escape(&text))),
        }
    }
}

impl tracing::Subscriber for LineSubscriber {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target() == "wflo"
            && self
                .route
                .read()
                .as_ref()
                .is_some_and(|(max, _)| meta.level() <= max)
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(match self.route.read().as_ref() {
            Some((max, _)) => tracing::level_filters::LevelFilter::from_level(*max),
            None => tracing::level_filters::LevelFilter::OFF,
        })
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let Some((_, sink)) = self.route.read().clone() else {
            return;
        };
        let mut line = Line {
            kind: String::new(),
            message: String::new(),
            fields: String::new(),
        };
        event.record(&mut line);
        let level = *event.metadata().level();
        let text = format!(
            "{} {}: {}{}",
            level.as_str().to_ascii_lowercase(),
            line.kind,
            line.message,
            line.fields
        );
        sink(level, &text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The process's route, shared by the global [`LineSubscriber`] that [`log_to`] installs once.
static ROUTE: std::sync::LazyLock<Arc<Route>> =
    std::sync::LazyLock::new(|| Arc::new(parking_lot::RwLock::new(None)));
static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Sends wflo's events at `max` and above to `sink`, one line each, for the whole process;
/// `max = None` silences them. Each face calls this once with its language's logging (Python
/// `logging`, Go `slog`, a C callback…) and may call it again to change the level or the sink.
/// Fails with `CONFLICT` when the process already had another global `tracing` subscriber
/// (the host's: it receives wflo's events under the target `wflo` already).
pub fn log_to(
    max: Option<tracing::Level>,
    sink: impl Fn(tracing::Level, &str) + Send + Sync + 'static,
) -> crate::Result<()> {
    let installed = *INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(LineSubscriber {
            route: ROUTE.clone(),
        })
        .is_ok()
    });
    if !installed {
        return Err(crate::Error::Conflict(
            "this process already has a tracing subscriber: wflo's events go to it (target \"wflo\")".into(),
        ));
    }
    *ROUTE.write() = max.map(|m| (m, Arc::new(sink) as Sink));
    // Levels changed: let tracing ask `enabled` again.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// A budget alert fired (a threshold of a limit, or a soft budget, was reached).
pub(crate) fn alert(alert: &crate::telemetry::Alert) {
    tracing::warn!(target: "wflo", event = "alert", execution = alert.execution_id.as_str(),
        scope = alert.scope.as_str(), kind = alert.kind.as_str(), percent = alert.percent,
        limit_nanos = alert.limit_nanos, spent_nanos = alert.spent_nanos, "{}", alert.summary());
}

/// OpenTelemetry export was configured but could not start (the reason has no secrets: it is
/// the SDK's configuration error).
#[cfg(feature = "otel")]
pub(crate) fn telemetry_off(reason: &str) {
    tracing::warn!(target: "wflo", event = "telemetry_off", reason, "OpenTelemetry export not started");
}

/// The background writer could not write a batch of call records; they are kept, in order,
/// and retried after a pause.
pub(crate) fn store_write_failed(records: usize, attempt: u32, error: &crate::Error) {
    tracing::warn!(target: "wflo", event = "store_write_failed", records, attempt,
        code = error.code().as_str(), error = %error, "call records not written yet; retrying");
}

/// The background writer wrote again after failures.
pub(crate) fn store_write_recovered(records: usize, failed_attempts: u32) {
    tracing::info!(target: "wflo", event = "store_write_recovered", records, failed_attempts,
        "call records written after retries");
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[test]
    fn values_in_a_line_are_escaped_so_a_label_cannot_forge_or_steer() {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        let subscriber = super::LineSubscriber::new(tracing::Level::INFO, move |_, l| {
            sink.lock().unwrap().push(l.to_owned())
        });
        tracing::subscriber::with_default(subscriber, || {
            super::rollback(
                "exec-000000000001",
                "cp\n\u{1b}[31minfo refused: forged\u{202e}",
            );
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert!(
            !lines[0].contains('\n')
                && !lines[0].contains('\u{1b}')
                && !lines[0].contains('\u{202e}')
        );
        assert!(
            lines[0].contains(r"name=cp\n\x1b[31minfo refused: forged\u{202e}"),
            "{}",
            lines[0]
        );
    }
}

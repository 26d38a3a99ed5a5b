//! What the engine tells the outside world while it runs (issue 15): metrics in process
//! (Prometheus text), budget alerts (callbacks, log lines, span events), the W3C trace
//! context an execution belongs to, and — with the `otel` feature and the standard `OTEL_*`
//! variables — OpenTelemetry spans and metrics exported over OTLP. Every face passes through
//! here: a call's span, its metrics and its alerts are made once, from the call's record.

pub mod alerts;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
pub mod trace;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

pub use alerts::{Alert, AlertKind};
pub use metrics::{Metrics, ScopeKind};
pub use trace::TraceContext;

/// A function that receives alerts. It runs on the thread that settled the call, after the
/// engine's locks are released; a panic in it is caught and ignored.
pub type AlertListener = Arc<dyn Fn(&Alert) + Send + Sync>;

/// The engine's telemetry hub.
pub(crate) struct Telemetry {
    pub metrics: Metrics,
    listeners: RwLock<Vec<(u64, AlertListener)>>,
    next_listener: AtomicU64,
    #[cfg(feature = "otel")]
    pub otel: Option<Arc<otel::Otel>>,
}

impl Telemetry {
    pub fn new() -> Telemetry {
        Telemetry {
            metrics: Metrics::new(),
            listeners: RwLock::new(Vec::new()),
            next_listener: AtomicU64::new(1),
            #[cfg(feature = "otel")]
            otel: otel::from_env(),
        }
    }

    /// Records what a limited scope has left on the OpenTelemetry gauge (the Prometheus
    /// gauge is read when the text is made: no cost per call).
    #[cfg(feature = "otel")]
    pub fn otel_remaining(
        &self,
        kind: ScopeKind,
        scope: &str,
        limit: crate::Nanos,
        spent: crate::Nanos,
    ) {
        if let Some(otel) = &self.otel {
            otel.remaining(kind, scope, limit as i128 - spent as i128);
        }
    }

    /// The metrics text, with the exporter's drop count brought up to date.
    pub fn metrics_text(&self) -> String {
        #[cfg(feature = "otel")]
        if let Some(otel) = &self.otel {
            self.metrics
                .set_dropped(otel.dropped(), otel.dropped_spans());
        }
        self.metrics.render()
    }

    /// Exports what is queued (OpenTelemetry), bounded by the exporter's timeout.
    pub fn flush(&self) {
        #[cfg(feature = "otel")]
        if let Some(otel) = &self.otel {
            otel.flush();
        }
    }

    pub fn add_listener(&self, listener: AlertListener) -> u64 {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        self.listeners.write().push((id, listener));
        id
    }

    pub fn remove_listener(&self, id: u64) -> bool {
        let mut l = self.listeners.write();
        let before = l.len();
        l.retain(|(i, _)| *i != id);
        l.len() != before
    }

    /// Delivers alerts: a log line, a counter, and every listener, in order.
    pub fn deliver(&self, alerts: &[(ScopeKind, Alert)]) {
        if alerts.is_empty() {
            return;
        }
        let listeners: Vec<AlertListener> = self
            .listeners
            .read()
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for (kind, alert) in alerts {
            crate::events::alert(alert);
            self.metrics
                .count_alert(*kind, &alert.scope_label(), alert.kind.as_str());
            for l in &listeners {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l(alert)));
            }
        }
    }
}

impl Drop for Telemetry {
    /// An engine going away sends what its calls queued (the pipeline itself is the process's
    /// and stays for other engines).
    fn drop(&mut self) {
        self.flush();
    }
}

impl Alert {
    /// The scope as metrics label it: the workflow name for an execution's own budget.
    fn scope_label(&self) -> String {
        if self.scope.is_empty() {
            self.workflow.clone()
        } else {
            self.scope.clone()
        }
    }
}

/// What telemetry does when a call ends, after the execution counted it: export its span
/// (with OTLP on) and deliver the alerts it made due.
pub(crate) fn call_ended(
    exec: &crate::execution::ExecutionInner,
    call: &crate::records::CallRecord,
    max_tokens: Option<u64>,
    alerts: &[(ScopeKind, Alert)],
) {
    // (The call was counted in the metrics by the execution, under its lock.)
    let t = &exec.engine.telemetry;
    #[cfg(feature = "otel")]
    if let Some(otel) = &t.otel {
        otel.call_ended(exec, call, max_tokens, alerts);
    }
    #[cfg(not(feature = "otel"))]
    let _ = max_tokens;
    t.deliver(alerts);
}

/// A span event attribute's value.
pub(crate) enum EventValue {
    Text(String),
    Int(i64),
}

impl From<&str> for EventValue {
    fn from(s: &str) -> Self {
        EventValue::Text(s.to_owned())
    }
}

impl From<i64> for EventValue {
    fn from(i: i64) -> Self {
        EventValue::Int(i)
    }
}

/// An event on the execution's span (checkpoint, rollback), when OpenTelemetry is on.
pub(crate) fn execution_event(
    exec: &crate::execution::ExecutionInner,
    name: &'static str,
    attributes: &[(&'static str, EventValue)],
) {
    #[cfg(feature = "otel")]
    if let Some(span) = &exec.span {
        let attrs = attributes
            .iter()
            .map(|(k, v)| match v {
                EventValue::Text(t) => opentelemetry::KeyValue::new(*k, t.clone()),
                EventValue::Int(i) => opentelemetry::KeyValue::new(*k, *i),
            })
            .collect();
        span.event(name, exec.engine.now_ms(), attrs);
    }
    #[cfg(not(feature = "otel"))]
    let _ = (exec, name, attributes);
}

/// Ends the execution's span with its final status, when OpenTelemetry is on.
pub(crate) fn execution_ended(
    exec: &crate::execution::ExecutionInner,
    status: crate::ExecutionStatus,
) {
    #[cfg(feature = "otel")]
    if let Some(span) = &exec.span {
        span.end(status.as_str(), exec.engine.now_ms());
    }
    #[cfg(not(feature = "otel"))]
    let _ = (exec, status);
}

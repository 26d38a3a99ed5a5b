//! The engine's metrics, kept in process and rendered in the Prometheus text format
//! (`Engine::metrics_text`, `wflo serve`'s `/metrics`). The same observations feed the
//! OpenTelemetry instruments when OTLP export is on (`otel.rs`); names follow the GenAI
//! semantic conventions translated the way OpenTelemetry's Prometheus exporters do
//! (`gen_ai.client.token.usage` → `gen_ai_client_token_usage`).
//!
//! Labels are bounded: model, provider, scope (a step label or a shared scope's name), status,
//! token type — never an execution id. A family keeps at most [`MAX_SERIES`] label sets;
//! later ones are counted under the value `_other`, so a program that invents a label per
//! call cannot grow memory or a scrape without bound.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::money::Nanos;
use crate::records::{CallRecord, CallStatus};

/// The most label sets one metric family keeps.
pub const MAX_SERIES: usize = 1000;

/// The label value calls beyond [`MAX_SERIES`] are counted under.
pub const OVERFLOW: &str = "_other";

/// The scope label of calls made on an execution's own scope (not in a step).
pub const EXECUTION_SCOPE: &str = "(execution)";

/// Token-count buckets advised by the GenAI conventions for `gen_ai.client.token.usage`.
pub const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Seconds buckets advised for `gen_ai.client.operation.duration`.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The GenAI operation every tracked call is (wflo meters chat/messages completions).
pub const OPERATION: &str = "chat";

/// A series' label values joined by NUL (which no label value can contain: names, labels and
/// models with NUL are refused at the API).
type Key = String;

#[derive(Debug, Default)]
struct Family<V> {
    series: BTreeMap<Key, V>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl<V: Default> Family<V> {
    fn get(&mut self, labels: &[&str]) -> &mut V {
        SCRATCH.with_borrow_mut(|key| {
            key.clear();
            for (i, l) in labels.iter().enumerate() {
                if i > 0 {
                    key.push('\0');
                }
                key.push_str(l);
            }
            // A known series is found without allocating; a new one past the bound is counted
            // under `_other`.
            if !self.series.contains_key(key.as_str()) && self.series.len() >= MAX_SERIES {
                key.clear();
                key.push_str(&vec![OVERFLOW; labels.len()].join("\0"));
            }
            if !self.series.contains_key(key.as_str()) {
                self.series.insert(key.clone(), V::default());
            }
            self.series.get_mut(key.as_str()).expect("inserted above")
        })
    }
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if value <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct State {
    cost: Family<Nanos>,
    calls: Family<u64>,
    refusals: Family<u64>,
    tokens: Family<Histogram>,
    duration: Family<Histogram>,
    remaining: Family<i128>,
    alerts: Family<u64>,
    telemetry_dropped: u64,
}

/// A registry of wflo's metrics. Thread-safe.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

/// The labels a call is counted under.
pub struct CallLabels<'a> {
    pub model: &'a str,
    pub provider: &'a str,
    pub scope: &'a str,
}

impl<'a> CallLabels<'a> {
    /// A call record's labels: its priced model (else the name asked for), its provider and
    /// its step (the execution's own calls: [`EXECUTION_SCOPE`]).
    pub fn of(call: &'a CallRecord) -> CallLabels<'a> {
        CallLabels {
            model: call.model.as_deref().unwrap_or(&call.requested_model),
            provider: &call.provider,
            scope: if call.step.is_empty() {
                EXECUTION_SCOPE
            } else {
                &call.step
            },
        }
    }
}

/// What kind of scope a budget gauge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// An execution's own budget, labelled by its workflow name.
    Execution,
    /// A step/agent scope with its own limit, labelled by its label.
    Step,
    /// A shared scope in the store, labelled by its name.
    Shared,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Execution => "execution",
            ScopeKind::Step => "step",
            ScopeKind::Shared => "shared",
        }
    }
}

/// `error.type` of a call: `budget_exceeded` for a refusal, the status for other failures.
pub fn error_type(status: CallStatus) -> Option<&'static str> {
    match status {
        CallStatus::Ok => None,
        CallStatus::Refused => Some("budget_exceeded"),
        CallStatus::Error => Some("error"),
        CallStatus::Aborted => Some("aborted"),
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one ended call (any status).
    pub fn observe_call(&self, call: &CallRecord) {
        let l = CallLabels::of(call);
        let mut st = self.state.lock();
        *st.calls.get(&[l.model, l.provider, call.status.as_str()]) += 1;
        if call.status == CallStatus::Refused {
            *st.refusals.get(&[l.model, l.provider, l.scope]) += 1;
            return;
        }
        let cost = st.cost.get(&[l.model, l.provider, l.scope]);
        *cost = cost.saturating_add(call.cost_nanos);
        let input = call.usage.prompt_total();
        for (kind, tokens) in [("input", input), ("output", call.usage.completion_total())] {
            st.tokens
                .get(&[OPERATION, l.provider, l.model, kind])
                .observe(&TOKEN_BUCKETS, tokens as f64);
        }
        let error = error_type(call.status).unwrap_or("");
        st.duration
            .get(&[OPERATION, l.provider, l.model, error])
            .observe(&DURATION_BUCKETS, call.latency_ms as f64 / 1000.0);
    }

    /// Sets what a limited scope has left (limit − spent; negative after an overrun).
    pub fn set_remaining(&self, kind: ScopeKind, scope: &str, limit: Nanos, spent: Nanos) {
        let left = limit as i128 - spent as i128;
        *self.state.lock().remaining.get(&[kind.as_str(), scope]) = left;
    }

    /// Counts an alert.
    pub fn count_alert(&self, kind: ScopeKind, scope: &str, alert: &str) {
        *self.state.lock().alerts.get(&[kind.as_str(), scope, alert]) += 1;
    }

    /// Sets how many spans and metric batches the OpenTelemetry exporter could not deliver.
    pub fn set_dropped(&self, n: u64) {
        self.state.lock().telemetry_dropped = n;
    }

    /// How much telemetry was dropped so far.
    pub fn dropped(&self) -> u64 {
        self.state.lock().telemetry_dropped
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4), families and
    /// series in a stable order.
    pub fn render(&self) -> String {
        let st = self.state.lock();
        let mut out = String::new();
        counter(
            &mut out,
            "wflo_cost_usd_total",
            "Cost of LLM calls in USD, exact to the nano-USD.",
            &["model", "provider", "scope"],
            &st.cost,
            |n| usd(*n as i128),
        );
        counter(
            &mut out,
            "wflo_calls_total",
            "LLM calls tracked, by how they ended.",
            &["model", "provider", "status"],
            &st.calls,
            |n| n.to_string(),
        );
        counter(
            &mut out,
            "wflo_refusals_total",
            "Calls refused before sending because a budget could not cover their worst case.",
            &["model", "provider", "scope"],
            &st.refusals,
            |n| n.to_string(),
        );
        histogram(
            &mut out,
            "gen_ai_client_token_usage",
            "Tokens used per call (GenAI semantic conventions).",
            &[
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
                "gen_ai_token_type",
            ],
            &st.tokens,
            &TOKEN_BUCKETS,
        );
        histogram(
            &mut out,
            "gen_ai_client_operation_duration_seconds",
            "Duration of LLM calls (GenAI semantic conventions).",
            &[
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
                "error_type",
            ],
            &st.duration,
            &DURATION_BUCKETS,
        );
        gauge(
            &mut out,
            "wflo_budget_remaining_usd",
            "What a limited scope has left in USD (negative after an overrun).",
            &["scope_kind", "scope"],
            &st.remaining,
        );
        counter(
            &mut out,
            "wflo_alerts_total",
            "Budget alerts fired.",
            &["scope_kind", "scope", "kind"],
            &st.alerts,
            |n| n.to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP wflo_telemetry_dropped_total Spans and metric points the exporter dropped."
        );
        let _ = writeln!(out, "# TYPE wflo_telemetry_dropped_total counter");
        let _ = writeln!(out, "wflo_telemetry_dropped_total {}", st.telemetry_dropped);
        out
    }
}

/// Exact decimal USD from nano-USD (no float rounding in the exposition).
fn usd(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    format!("{sign}{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
}

/// A label value escaped as the text format asks (backslash, double quote, newline).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn labels(names: &[&str], key: &str, extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .zip(key.split('\0'))
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some((n, v)) = extra {
        parts.push(format!("{n}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn counter<V>(
    out: &mut String,
    name: &str,
    help: &str,
    names: &[&str],
    family: &Family<V>,
    value: impl Fn(&V) -> String,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (k, v) in &family.series {
        let _ = writeln!(out, "{name}{} {}", labels(names, k, None), value(v));
    }
}

fn gauge(out: &mut String, name: &str, help: &str, names: &[&str], family: &Family<i128>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (k, v) in &family.series {
        let _ = writeln!(out, "{name}{} {}", labels(names, k, None), usd(*v));
    }
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    names: &[&str],
    family: &Family<Histogram>,
    bounds: &[f64],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (k, h) in &family.series {
        for (i, b) in bounds.iter().enumerate() {
            let le = format!("{b}");
            let _ = writeln!(
                out,
                "{name}_bucket{} {}",
                labels(names, k, Some(("le", &le))),
                h.counts.get(i).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            labels(names, k, Some(("le", "+Inf"))),
            h.count
        );
        let _ = writeln!(out, "{name}_sum{} {}", labels(names, k, None), h.sum);
        let _ = writeln!(out, "{name}_count{} {}", labels(names, k, None), h.count);
    }
}

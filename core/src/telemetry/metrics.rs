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

/// The bucket of a token count: the least `i` with `n <= TOKEN_BUCKETS[i]` (14: past the
/// last). The bounds are powers of 4, so it is half the count's binary length, rounded up: a
/// few instructions instead of a search (it runs twice on every tracked call).
fn token_bucket(n: u64) -> usize {
    if n <= 1 {
        return 0;
    }
    let log2_ceil = (u64::BITS - (n - 1).leading_zeros()) as usize;
    log2_ceil.div_ceil(2).min(TOKEN_BUCKETS.len())
}

/// The bucket of a duration in ms: the least `i` with `ms / 1000 <= DURATION_BUCKETS[i]`. The
/// bounds are 10 ms × 2^i, so it is the binary length of ⌈ms / 10⌉ − 1.
fn duration_bucket(ms: u64) -> usize {
    let tens = ms.div_ceil(10);
    if tens <= 1 {
        return 0;
    }
    ((u64::BITS - (tens - 1).leading_zeros()) as usize).min(DURATION_BUCKETS.len())
}

/// The GenAI operation every tracked call is (wflo meters chat/messages completions).
pub const OPERATION: &str = "chat";

/// A series' label values joined by NUL (which no label value can contain: names, labels and
/// models with NUL are refused at the API).
type Key = String;

/// A family's series: the values in a vector, found by their key's index (one hash lookup
/// per observation, no allocation for a known series).
#[derive(Debug, Default)]
struct Family<V> {
    index: crate::fasthash::FastMap<Key, usize>,
    values: Vec<(Key, V)>,
}

impl<V: Clone> Family<V> {
    /// The series in label order, for the text.
    fn sorted(&self) -> BTreeMap<String, V> {
        self.values.iter().cloned().collect()
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl<V: Default> Family<V> {
    fn get(&mut self, labels: &[&str]) -> &mut V {
        let at = self.place(labels);
        &mut self.values[at].1
    }

    /// The place of a series in `values`, made when new (places never change).
    fn place(&mut self, labels: &[&str]) -> usize {
        SCRATCH.with_borrow_mut(|key| {
            key.clear();
            for (i, l) in labels.iter().enumerate() {
                if i > 0 {
                    key.push('\0');
                }
                key.push_str(l);
            }
            if let Some(&at) = self.index.get(key.as_str()) {
                return at;
            }
            // A new series past the bound is counted under `_other`.
            if self.values.len() >= MAX_SERIES {
                key.clear();
                key.push_str(&vec![OVERFLOW; labels.len()].join("\0"));
                if let Some(&at) = self.index.get(key.as_str()) {
                    return at;
                }
            }
            self.values.push((key.clone(), V::default()));
            self.index.insert(key.clone(), self.values.len() - 1);
            self.values.len() - 1
        })
    }
}

/// Counts per bucket (not cumulative: one increment per observation; the text cumulates).
#[derive(Debug, Clone, Copy, Default)]
struct Histogram {
    counts: [u64; 14],
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Counts `value` in bucket `bucket` (past the last bound: only in +Inf, i.e. `count`).
    fn observe(&mut self, bucket: usize, value: f64) {
        if let Some(c) = self.counts.get_mut(bucket) {
            *c += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.sum += other.sum;
        self.count += other.count;
    }
}

impl CallSeries {
    pub(crate) fn observe(&mut self, call: &CallRecord) {
        let status = status_index(call.status);
        self.calls[status] += 1;
        if call.status == CallStatus::Refused {
            return;
        }
        self.cost = self.cost.saturating_add(call.cost_nanos);
        let (input, output) = (call.usage.prompt_total(), call.usage.completion_total());
        self.input.observe(token_bucket(input), input as f64);
        self.output.observe(token_bucket(output), output as f64);
        let ms = call.latency_ms;
        self.duration[status].observe(duration_bucket(ms), ms as f64 / 1000.0);
    }

    fn merge(&mut self, other: &CallSeries) {
        for (a, b) in self.calls.iter_mut().zip(other.calls) {
            *a += b;
        }
        self.cost = self.cost.saturating_add(other.cost);
        self.input.merge(&other.input);
        self.output.merge(&other.output);
        for (a, b) in self.duration.iter_mut().zip(&other.duration) {
            a.merge(b);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.calls.iter().all(|c| *c == 0)
    }
}

const STATUSES: [CallStatus; 5] = [
    CallStatus::Ok,
    CallStatus::Error,
    CallStatus::Refused,
    CallStatus::Aborted,
    CallStatus::Unsettled,
];

fn status_index(status: CallStatus) -> usize {
    match status {
        CallStatus::Ok => 0,
        CallStatus::Error => 1,
        CallStatus::Refused => 2,
        CallStatus::Aborted => 3,
        CallStatus::Unsettled => 4,
    }
}

/// Everything counted for one (model, provider, scope); the families are regrouped from these
/// when the text is made. An execution counts its calls in one of its own (under the lock it
/// already holds) and hands it to the engine's [`Metrics`] when its labels change, when the
/// text is made, and when it goes away.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallSeries {
    calls: [u64; 5],
    cost: Nanos,
    input: Histogram,
    output: Histogram,
    /// By status (refusals have none).
    duration: [Histogram; 5],
}

#[derive(Debug, Default)]
struct State {
    /// Keyed by model, provider, scope.
    calls: Family<CallSeries>,
    remaining: Family<i128>,
    alerts: Family<u64>,
    telemetry_dropped: u64,
    spans_dropped: u64,
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
        CallStatus::Unsettled => Some("unsettled"),
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one ended call (any status).
    pub fn observe_call(&self, call: &CallRecord) {
        let mut st = self.state.lock();
        let l = CallLabels::of(call);
        let at = st.calls.place(&[l.model, l.provider, l.scope]);
        st.calls.values[at].1.observe(call);
    }

    /// The place of a call's series (made when new; places never change).
    pub(crate) fn place_of(&self, call: &CallRecord) -> usize {
        let l = CallLabels::of(call);
        self.state
            .lock()
            .calls
            .place(&[l.model, l.provider, l.scope])
    }

    /// Adds what an execution counted for one series since it last handed its counts over.
    pub(crate) fn add(&self, at: usize, counted: &CallSeries) {
        if let Some((_, series)) = self.state.lock().calls.values.get_mut(at) {
            series.merge(counted);
        }
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
    /// `spans` of them spans (the rest metric exports).
    pub fn set_dropped(&self, n: u64, spans: u64) {
        let mut st = self.state.lock();
        st.telemetry_dropped = n;
        st.spans_dropped = spans;
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4), families and
    /// series in a stable order.
    pub fn render(&self) -> String {
        let st = self.state.lock();
        // Regroup the per-(model, provider, scope) series into the families' label sets.
        let mut cost = BTreeMap::new();
        let mut calls = BTreeMap::new();
        let mut refusals = BTreeMap::new();
        let mut tokens: BTreeMap<String, Histogram> = BTreeMap::new();
        let mut duration: BTreeMap<String, Histogram> = BTreeMap::new();
        for (key, s) in &st.calls.sorted() {
            let mut parts = key.split('\0');
            let (model, provider) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let refused = s.calls[2];
            let sent: u64 = s.calls.iter().sum::<u64>() - refused;
            for (i, status) in STATUSES.iter().enumerate() {
                if s.calls[i] > 0 {
                    *calls
                        .entry(join(&[model, provider, status.as_str()]))
                        .or_insert(0u64) += s.calls[i];
                }
            }
            if refused > 0 {
                refusals.insert(key.clone(), refused);
            }
            if sent == 0 {
                continue;
            }
            cost.insert(key.clone(), s.cost);
            for (kind, h) in [("input", &s.input), ("output", &s.output)] {
                tokens
                    .entry(join(&[OPERATION, provider, model, kind]))
                    .or_default()
                    .merge(h);
            }
            for (i, h) in s.duration.iter().enumerate() {
                if h.count > 0 {
                    let error = error_type(STATUSES[i]).unwrap_or("");
                    duration
                        .entry(join(&[OPERATION, provider, model, error]))
                        .or_default()
                        .merge(h);
                }
            }
        }
        let mut out = String::new();
        counter(
            &mut out,
            "wflo_cost_usd_total",
            "Cost of LLM calls in USD, exact to the nano-USD.",
            &["model", "provider", "scope"],
            &cost,
            |n| usd(*n as i128),
        );
        counter(
            &mut out,
            "wflo_calls_total",
            "LLM calls tracked, by how they ended.",
            &["model", "provider", "status"],
            &calls,
            |n| n.to_string(),
        );
        counter(
            &mut out,
            "wflo_refusals_total",
            "Calls refused before sending because a budget could not cover their worst case.",
            &["model", "provider", "scope"],
            &refusals,
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
            &tokens,
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
            &duration,
            &DURATION_BUCKETS,
        );
        gauge(
            &mut out,
            "wflo_budget_remaining_usd",
            "What a limited scope has left in USD (negative after an overrun).",
            &["scope_kind", "scope"],
            &st.remaining.sorted(),
        );
        counter(
            &mut out,
            "wflo_alerts_total",
            "Budget alerts fired.",
            &["scope_kind", "scope", "kind"],
            &st.alerts.sorted(),
            |n| n.to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP wflo_telemetry_dropped_total Spans and metric batches the OpenTelemetry exporter could not deliver."
        );
        let _ = writeln!(out, "# TYPE wflo_telemetry_dropped_total counter");
        let _ = writeln!(out, "wflo_telemetry_dropped_total {}", st.telemetry_dropped);
        let _ = writeln!(
            out,
            "# HELP wflo_telemetry_dropped_spans_total Spans that found the export queue full or were in a batch the endpoint refused."
        );
        let _ = writeln!(out, "# TYPE wflo_telemetry_dropped_spans_total counter");
        let _ = writeln!(
            out,
            "wflo_telemetry_dropped_spans_total {}",
            st.spans_dropped
        );
        out
    }
}

fn join(parts: &[&str]) -> String {
    parts.join("\0")
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
    series: &BTreeMap<String, V>,
    value: impl Fn(&V) -> String,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (k, v) in series {
        let _ = writeln!(out, "{name}{} {}", labels(names, k, None), value(v));
    }
}

fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    names: &[&str],
    series: &BTreeMap<String, i128>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (k, v) in series {
        let _ = writeln!(out, "{name}{} {}", labels(names, k, None), usd(*v));
    }
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    names: &[&str],
    series: &BTreeMap<String, Histogram>,
    bounds: &[f64],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (k, h) in series {
        let mut cumulative = 0;
        for (i, b) in bounds.iter().enumerate() {
            let le = format!("{b}");
            cumulative += h.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}_bucket{} {}",
                labels(names, k, Some(("le", &le))),
                cumulative
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_arithmetic_matches_the_bounds() {
        let search = |bounds: &[f64; 14], v: f64| bounds.iter().position(|b| v <= *b).unwrap_or(14);
        let mut tokens: Vec<u64> = (0..70_000).collect();
        tokens.extend(TOKEN_BUCKETS.iter().flat_map(|b| {
            let b = *b as u64;
            [b - 1, b, b + 1]
        }));
        tokens.extend([u64::MAX, u64::MAX / 2, 1 << 40]);
        for n in tokens {
            assert_eq!(
                token_bucket(n),
                search(&TOKEN_BUCKETS, n as f64),
                "{n} tokens"
            );
        }
        for ms in (0..200_000).chain([u64::MAX / 1000, 81_920, 81_921, 10_000_000]) {
            let want = search(&DURATION_BUCKETS, ms as f64 / 1000.0);
            assert_eq!(duration_bucket(ms), want, "{ms} ms");
        }
    }
}

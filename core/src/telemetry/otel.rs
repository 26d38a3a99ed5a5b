//! OpenTelemetry export (feature `otel`): spans and metrics by the GenAI semantic conventions
//! (attribute spelling of semantic conventions 1.42.0, as bundled by
//! `opentelemetry-semantic-conventions` 0.33), exported over OTLP HTTP/protobuf.
//!
//! Off unless the standard variables name an endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the
//! per-signal `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`), and off whenever
//! `OTEL_SDK_DISABLED=true`. `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the
//! resource; the SDK reads `OTEL_BSP_*` (batching, queue size) and
//! `OTEL_METRIC_EXPORT_INTERVAL`. One pipeline per process, shared by every engine.
//!
//! Never blocking a call: a call's span is handed to a bounded queue drained by its own thread
//! (`batch.rs`) and its metrics to in-memory instruments read by the periodic reader's thread.
//! Spans that find the queue full and batches the endpoint did not take are counted
//! (`wflo_telemetry_dropped_total`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::{Counter, Gauge, Histogram, MeterProvider as _};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use parking_lot::Mutex;

use super::metrics::{CallLabels, DURATION_BUCKETS, OPERATION, TOKEN_BUCKETS, error_type};
use super::{Alert, ScopeKind, TraceContext};
use crate::engine::EngineInner;
use crate::execution::ExecutionInner;
use crate::fasthash::FastMap;
use crate::money::nanos_to_usd;
use crate::records::{CallRecord, CallStatus};

mod batch;
mod http;

/// The process's OpenTelemetry pipeline.
pub struct Otel {
    tracer: SdkTracer,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    tokens: Histogram<u64>,
    duration: Histogram<f64>,
    cost: Counter<f64>,
    refusals: Counter<u64>,
    remaining: Gauge<f64>,
    /// Spans that found the queue full or were in a batch the endpoint refused.
    dropped_spans: Arc<AtomicU64>,
    /// Metric exports the endpoint refused.
    dropped_metrics: Arc<AtomicU64>,
    attributes: Mutex<FastMap<String, Arc<MetricAttributes>>>,
    /// The attribute sets of the budget-remaining gauge, by scope kind and scope.
    remaining_attributes: Mutex<FastMap<String, Arc<[KeyValue; 2]>>>,
}

thread_local! {
    /// The key being looked up in an attribute cache: no allocation for a known series.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `parts` joined by NUL (which no label can contain) in this thread's scratch key, given to `f`.
fn with_key<R>(parts: &[&str], f: impl FnOnce(&str) -> R) -> R {
    KEY.with_borrow_mut(|key| {
        key.clear();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                key.push('\0');
            }
            key.push_str(p);
        }
        f(key)
    })
}

/// The attribute sets a series' metrics are recorded with.
struct MetricAttributes {
    common: Vec<KeyValue>,
    input: Vec<KeyValue>,
    output: Vec<KeyValue>,
    failed: Vec<KeyValue>,
    aborted: Vec<KeyValue>,
    unsettled: Vec<KeyValue>,
    scoped: Vec<KeyValue>,
}

impl std::fmt::Debug for Otel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Otel")
    }
}

static PIPELINE: OnceLock<Option<Arc<Otel>>> = OnceLock::new();

/// The pipeline the `OTEL_*` variables configure, made once per process (`None`: export off).
pub fn from_env() -> Option<Arc<Otel>> {
    PIPELINE.get_or_init(|| build().map(Arc::new)).clone()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn build() -> Option<Otel> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    let any_endpoint = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]
    .iter()
    .any(|v| env(v).is_some());
    if !any_endpoint {
        return None;
    }
    use opentelemetry_otlp::WithHttpConfig as _;
    let dropped_spans = Arc::new(AtomicU64::new(0));
    let dropped_metrics = Arc::new(AtomicU64::new(0));
    let resource = opentelemetry_sdk::Resource::builder().build();
    let client = Arc::new(http::UreqClient::new());
    let mut spans = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_shared_http_client(client.clone())
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            crate::events::telemetry_off(&e.to_string());
            return None;
        }
    };
    let metrics = match opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_shared_http_client(client)
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            crate::events::telemetry_off(&e.to_string());
            return None;
        }
    };
    {
        use opentelemetry_sdk::trace::SpanExporter as _;
        spans.set_resource(&resource);
    }
    let batching = match batch::Batching::start(spans, dropped_spans.clone()) {
        Ok(b) => b,
        Err(e) => {
            crate::events::telemetry_off(&e.to_string());
            return None;
        }
    };
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(batching)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_periodic_exporter(counting::Metrics {
            inner: metrics,
            dropped: dropped_metrics.clone(),
        })
        .build();
    let scope = opentelemetry::InstrumentationScope::builder("wflo")
        .with_version(crate::VERSION)
        .with_schema_url("https://opentelemetry.io/schemas/1.42.0")
        .build();
    let tracer =
        opentelemetry::trace::TracerProvider::tracer_with_scope(&tracer_provider, scope.clone());
    let meter = meter_provider.meter_with_scope(scope);
    Some(Otel {
        tracer,
        tracer_provider,
        tokens: meter
            .u64_histogram("gen_ai.client.token.usage")
            .with_unit("{token}")
            .with_description("Number of input and output tokens used.")
            .with_boundaries(TOKEN_BUCKETS.to_vec())
            .build(),
        duration: meter
            .f64_histogram("gen_ai.client.operation.duration")
            .with_unit("s")
            .with_description("GenAI operation duration.")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build(),
        cost: meter
            .f64_counter("wflo.cost")
            .with_unit("USD")
            .with_description("Cost of LLM calls in USD.")
            .build(),
        refusals: meter
            .u64_counter("wflo.refusals")
            .with_unit("{call}")
            .with_description("Calls refused before sending.")
            .build(),
        remaining: meter
            .f64_gauge("wflo.budget.remaining")
            .with_unit("USD")
            .with_description("What a limited scope has left.")
            .build(),
        meter_provider,
        dropped_spans,
        dropped_metrics,
        attributes: Mutex::default(),
        remaining_attributes: Mutex::default(),
    })
}

/// An execution's span, open while it runs.
pub struct ExecutionSpan {
    span: Mutex<Option<opentelemetry_sdk::trace::Span>>,
    context: SpanContext,
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Opens the execution's span (`invoke_workflow {name}`) under the host's span when the
/// trace context has one; returns it and the trace context as the SDK made it (the trace id
/// is the SDK's when wflo starts the trace).
pub(crate) fn start_execution(
    engine: &EngineInner,
    id: &str,
    name: &str,
    trace: TraceContext,
    now_ms: u64,
) -> (Option<ExecutionSpan>, TraceContext) {
    let Some(otel) = &engine.telemetry.otel else {
        return (None, trace);
    };
    let parent = match trace.parent_span_id {
        Some(span) => Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(trace.trace_id),
            SpanId::from_bytes(span),
            if trace.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            TraceState::default(),
        )),
        None => Context::new(),
    };
    let span = otel
        .tracer
        .span_builder(format!("invoke_workflow {name}"))
        .with_kind(SpanKind::Internal)
        .with_start_time(at(now_ms))
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "invoke_workflow"),
            KeyValue::new("wflo.workflow.name", name.to_owned()),
            KeyValue::new("wflo.execution.id", id.to_owned()),
        ])
        .start_with_context(&otel.tracer, &parent);
    let context = span.span_context().clone();
    let trace = TraceContext {
        trace_id: context.trace_id().to_bytes(),
        ..trace
    };
    (
        Some(ExecutionSpan {
            span: Mutex::new(Some(span)),
            context,
        }),
        trace,
    )
}

impl ExecutionSpan {
    /// A span event on the execution's span (checkpoints, rollbacks, alerts).
    pub(crate) fn event(&self, name: &'static str, at_ms: u64, attributes: Vec<KeyValue>) {
        if let Some(span) = self.span.lock().as_mut() {
            span.add_event_with_timestamp(name, at(at_ms), attributes);
        }
    }

    /// Ends the span with the execution's final status.
    pub(crate) fn end(&self, status: &str, at_ms: u64) {
        if let Some(mut span) = self.span.lock().take() {
            span.set_attribute(KeyValue::new("wflo.status", status.to_owned()));
            if status != "completed" {
                span.set_attribute(KeyValue::new("error.type", status.to_owned()));
                span.set_status(Status::error(status.to_owned()));
            }
            span.end_with_timestamp(at(at_ms));
        }
    }
}

impl Drop for ExecutionSpan {
    fn drop(&mut self) {
        // An execution dropped without finishing still ends its span (as it stood).
        if let Some(mut span) = self.span.get_mut().take() {
            span.end();
        }
    }
}

impl Otel {
    /// A call's span (`chat {model}`, kind CLIENT) under its execution's span, and its
    /// metrics; alerts become events on the execution's span.
    pub(crate) fn call_ended(
        &self,
        exec: &ExecutionInner,
        call: &CallRecord,
        max_tokens: Option<u64>,
        alerts: &[(ScopeKind, Alert)],
    ) {
        let l = CallLabels::of(call);
        let error = error_type(call.status);
        if let Some(parent) = &exec.span {
            let mut attrs = Vec::with_capacity(20);
            attrs.extend([
                KeyValue::new("gen_ai.operation.name", OPERATION),
                KeyValue::new("gen_ai.request.model", call.requested_model.clone()),
                KeyValue::new("wflo.execution.id", exec.id.clone()),
                KeyValue::new("wflo.step", call.step.clone()),
                KeyValue::new("wflo.reserved.nanos", call.reserved_nanos as i64),
                KeyValue::new("wflo.status", call.status.as_str()),
            ]);
            if !call.provider.is_empty() {
                attrs.push(KeyValue::new(
                    "gen_ai.provider.name",
                    call.provider.to_string(),
                ));
            }
            if let Some(m) = max_tokens {
                attrs.push(KeyValue::new("gen_ai.request.max_tokens", m as i64));
            }
            if let Some(e) = error {
                attrs.push(KeyValue::new("error.type", e));
            }
            if call.status != CallStatus::Refused {
                if let Some(model) = &call.model {
                    attrs.push(KeyValue::new("gen_ai.response.model", model.clone()));
                }
                let u = &call.usage;
                attrs.extend([
                    KeyValue::new("gen_ai.usage.input_tokens", u.prompt_total() as i64),
                    KeyValue::new("gen_ai.usage.output_tokens", u.completion_total() as i64),
                    KeyValue::new("gen_ai.usage.cache_read.input_tokens", u.cache_read as i64),
                    KeyValue::new(
                        "gen_ai.usage.cache_creation.input_tokens",
                        (u.cache_write_5m + u.cache_write_1h) as i64,
                    ),
                    KeyValue::new("gen_ai.usage.reasoning.output_tokens", u.reasoning as i64),
                    KeyValue::new("gen_ai.usage.cost.amount", nanos_to_usd(call.cost_nanos)),
                    KeyValue::new("gen_ai.usage.cost.currency", "USD"),
                    KeyValue::new("wflo.cost.nanos", call.cost_nanos as i64),
                    KeyValue::new("wflo.estimated", call.estimated),
                ]);
            }
            let cx = Context::new().with_remote_span_context(parent.context.clone());
            let mut span = self
                .tracer
                .span_builder(Cow::Owned(format!("{OPERATION} {}", l.model)))
                .with_kind(SpanKind::Client)
                .with_start_time(at(call.started_at_ms))
                .with_attributes(attrs)
                .start_with_context(&self.tracer, &cx);
            if let Some(e) = error {
                span.set_status(Status::error(e));
            }
            span.end_with_timestamp(at(call.finished_at_ms.max(call.started_at_ms)));
            for (_, a) in alerts {
                parent.event(
                    "wflo.budget.alert",
                    a.at_ms,
                    vec![
                        KeyValue::new("wflo.alert.kind", a.kind.as_str()),
                        KeyValue::new("wflo.alert.percent", a.percent as i64),
                        KeyValue::new("wflo.scope", a.scope.clone()),
                        KeyValue::new("wflo.limit.nanos", a.limit_nanos as i64),
                        KeyValue::new("wflo.spent.nanos", a.spent_nanos as i64),
                    ],
                );
            }
        }
        let attrs = self.attributes(&l);
        if call.status == CallStatus::Refused {
            self.refusals.add(1, &attrs.scoped);
            return;
        }
        self.tokens.record(call.usage.prompt_total(), &attrs.input);
        self.tokens
            .record(call.usage.completion_total(), &attrs.output);
        let duration = match call.status {
            CallStatus::Error => &attrs.failed,
            CallStatus::Aborted => &attrs.aborted,
            CallStatus::Unsettled => &attrs.unsettled,
            _ => &attrs.common,
        };
        self.duration
            .record(call.latency_ms as f64 / 1000.0, duration);
        self.cost.add(nanos_to_usd(call.cost_nanos), &attrs.scoped);
    }

    /// The metric attribute sets of a (model, provider, scope), made once and kept (labels
    /// are bounded like the Prometheus families': past the bound they are `_other`).
    fn attributes(&self, l: &CallLabels<'_>) -> Arc<MetricAttributes> {
        let mut cache = self.attributes.lock();
        let known = with_key(&[l.model, l.provider, l.scope], |key| {
            cache.get(key).cloned()
        });
        if let Some(a) = known {
            return a;
        }
        let bounded = cache.len() < super::metrics::MAX_SERIES;
        let v = |s: &str| {
            if bounded {
                s.to_owned()
            } else {
                super::metrics::OVERFLOW.to_owned()
            }
        };
        let mut common = vec![
            KeyValue::new("gen_ai.operation.name", OPERATION),
            KeyValue::new("gen_ai.request.model", v(l.model)),
        ];
        if !l.provider.is_empty() {
            common.push(KeyValue::new("gen_ai.provider.name", v(l.provider)));
        }
        let with = |extra: KeyValue| {
            let mut a = common.clone();
            a.push(extra);
            a
        };
        let made = Arc::new(MetricAttributes {
            input: with(KeyValue::new("gen_ai.token.type", "input")),
            output: with(KeyValue::new("gen_ai.token.type", "output")),
            failed: with(KeyValue::new("error.type", "error")),
            aborted: with(KeyValue::new("error.type", "aborted")),
            unsettled: with(KeyValue::new("error.type", "unsettled")),
            scoped: with(KeyValue::new("wflo.scope", v(l.scope))),
            common,
        });
        if bounded {
            cache.insert([l.model, l.provider, l.scope].join("\0"), made.clone());
        }
        made
    }

    /// Records what a limited scope has left.
    pub(crate) fn remaining(&self, kind: ScopeKind, scope: &str, left_nanos: i128) {
        let mut cache = self.remaining_attributes.lock();
        let known = with_key(&[kind.as_str(), scope], |key| cache.get(key).cloned());
        let attrs = known.unwrap_or_else(|| {
            let made: Arc<[KeyValue; 2]> = Arc::new([
                KeyValue::new("wflo.scope.kind", kind.as_str()),
                KeyValue::new("wflo.scope", scope.to_owned()),
            ]);
            // Bounded like the call series: past the bound each set is made afresh.
            if cache.len() < super::metrics::MAX_SERIES {
                cache.insert([kind.as_str(), scope].join("\0"), made.clone());
            }
            made
        });
        drop(cache);
        self.remaining.record(left_nanos as f64 / 1e9, &attrs[..]);
    }

    /// Spans and metric batches the endpoint did not take.
    pub fn dropped(&self) -> u64 {
        self.dropped_spans() + self.dropped_metrics.load(Ordering::Relaxed)
    }

    /// Spans that never reached the endpoint (queue full, or in a refused batch).
    pub fn dropped_spans(&self) -> u64 {
        self.dropped_spans.load(Ordering::Relaxed)
    }

    /// Exports what is queued now (bounded by the exporters' timeouts).
    pub fn flush(&self) {
        let _ = self.tracer_provider.force_flush();
        let _ = self.meter_provider.force_flush();
    }
}

/// Exporters that count what they could not deliver.
mod counting {
    use super::*;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::metrics::Temporality;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

    pub struct Metrics<E> {
        pub inner: E,
        pub dropped: Arc<AtomicU64>,
    }

    impl<E: PushMetricExporter> PushMetricExporter for Metrics<E> {
        async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
            let result = self.inner.export(metrics).await;
            if result.is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            result
        }
        fn force_flush(&self) -> OTelSdkResult {
            self.inner.force_flush()
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }
        fn temporality(&self) -> Temporality {
            self.inner.temporality()
        }
    }
}

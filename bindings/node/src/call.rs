//! Reservations and stream accumulators.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float64Array};
use napi_derive::napi;
use parking_lot::Mutex;
use wflo_core::{CacheWrite, CallRequest, CallStatus, StreamAccumulator, UsageFormat};

use crate::engine::JsUsage;
use crate::execution::JsCallRequest;
use crate::guard;
use crate::job::Job;

/// What a settled call came to.
#[napi(object)]
pub struct Settled {
    pub seq: i64,
    pub cost_nanos: i64,
    pub reserved_nanos: i64,
    pub overrun_nanos: i64,
    pub estimated: bool,
    pub usage_missing: bool,
    pub usage: JsUsage,
}

impl From<&wflo_core::CallRecord> for Settled {
    fn from(r: &wflo_core::CallRecord) -> Self {
        let u = r.usage;
        Settled {
            seq: r.seq as i64,
            cost_nanos: r.cost_nanos as i64,
            reserved_nanos: r.reserved_nanos as i64,
            overrun_nanos: r.overrun_nanos as i64,
            estimated: r.estimated,
            usage_missing: r.usage_missing,
            usage: JsUsage {
                input: Some(u.input as i64),
                output: Some(u.output as i64),
                cache_read: Some(u.cache_read as i64),
                cache_write_5m: Some(u.cache_write_5m as i64),
                cache_write_1h: Some(u.cache_write_1h as i64),
                reasoning: Some(u.reasoning as i64),
            },
        }
    }
}

/// Builds the engine's request from the JavaScript one and hands it to `f`.
pub fn request<T>(
    req: &JsCallRequest,
    f: impl FnOnce(&CallRequest<'_>) -> wflo_core::Result<T>,
) -> wflo_core::Result<T> {
    let count = |v: Option<i64>, name: &str| -> wflo_core::Result<Option<u64>> {
        match v {
            Some(n) if n < 0 => Err(wflo_core::Error::invalid(format!(
                "{name} must not be negative"
            ))),
            n => Ok(n.map(|n| n as u64)),
        }
    };
    let cache_write = CacheWrite::from_name(req.cache_write.as_deref().unwrap_or(""))?;
    f(&CallRequest {
        model: &req.model,
        provider: req.provider.as_deref(),
        input_tokens: count(req.input_tokens, "inputTokens")?.unwrap_or(0),
        input_estimated: req.input_estimated,
        max_output_tokens: count(req.max_output_tokens, "maxOutputTokens")?.filter(|m| *m > 0),
        cache_write,
        stream: req.stream.unwrap_or(false),
        clamp_max_tokens: req.clamp_max_tokens.unwrap_or(false),
    })
}

/// Writes a settled call's figures into `out` (12 numbers: seq, cost, reserved, overrun,
/// estimated, usage_missing, then the six usage fields): numbers in a typed array cross the
/// boundary far cheaper than an object's named properties.
fn write_settled(r: &wflo_core::CallRecord, out: &mut [f64]) -> wflo_core::Result<()> {
    if out.len() < 12 {
        return Err(wflo_core::Error::invalid("the output array needs 12 slots"));
    }
    let u = r.usage;
    let values = [
        r.seq as f64,
        r.cost_nanos as f64,
        r.reserved_nanos as f64,
        r.overrun_nanos as f64,
        f64::from(u8::from(r.estimated)),
        f64::from(u8::from(r.usage_missing)),
        u.input as f64,
        u.output as f64,
        u.cache_read as f64,
        u.cache_write_5m as f64,
        u.cache_write_1h as f64,
        u.reasoning as f64,
    ];
    out[..12].copy_from_slice(&values);
    Ok(())
}

/// A count from JavaScript (a number): non-negative, whole, not absurd.
pub fn js_count(v: f64, name: &str) -> wflo_core::Result<u64> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 1e15 {
        return Err(wflo_core::Error::invalid(format!(
            "{name} must be a whole, non-negative number, got {v}"
        )));
    }
    Ok(v as u64)
}

/// The positional form of a request (the hot path: no object properties to read).
#[allow(clippy::too_many_arguments)]
pub fn reserve_positional(
    scope: &wflo_core::Scope,
    model: &str,
    input_tokens: f64,
    input_estimated: u32,
    max_output_tokens: f64,
    flags: u32,
    cache_write: u32,
    provider: Option<&str>,
) -> wflo_core::Result<NativeReservation> {
    let input_estimated = CallRequest::input_estimated_from_code(input_estimated)?;
    let cache_write = CacheWrite::from_code(cache_write)?;
    let max = js_count(max_output_tokens, "maxOutputTokens")?;
    let r = scope.reserve(&CallRequest {
        model,
        provider,
        input_tokens: js_count(input_tokens, "inputTokens")?,
        input_estimated,
        max_output_tokens: CallRequest::output_limit(max),
        cache_write,
        stream: flags & 1 != 0,
        clamp_max_tokens: flags & 2 != 0,
    })?;
    Ok(NativeReservation::wrap(r, None))
}

/// Budget held for one call.
#[napi]
pub struct NativeReservation {
    inner: Arc<Mutex<wflo_core::Reservation>>,
    amount: i64,
    max_output: i64,
    body: Option<String>,
}

impl NativeReservation {
    fn wrap(r: wflo_core::Reservation, body: Option<String>) -> NativeReservation {
        NativeReservation {
            amount: r.amount_nanos() as i64,
            max_output: r.max_output_tokens() as i64,
            inner: Arc::new(Mutex::new(r)),
            body,
        }
    }

    pub fn reserve(
        scope: &wflo_core::Scope,
        req: JsCallRequest,
    ) -> wflo_core::Result<NativeReservation> {
        let r = request(&req, |r| scope.reserve(r))?;
        Ok(NativeReservation::wrap(r, None))
    }

    /// Reserves a provider request (core's `Scope::reserve_request`); the body to send is
    /// kept as `requestBody`.
    pub fn reserve_request(
        scope: &wflo_core::Scope,
        format: &str,
        body: &str,
        options_json: Option<&str>,
    ) -> wflo_core::Result<NativeReservation> {
        let made = scope.reserve_request_text(format, body, options_json)?;
        Ok(NativeReservation::wrap(made.reservation, Some(made.body)))
    }

    /// `reserve_request` off the JavaScript thread (it may touch the store).
    pub fn reserve_request_job(
        scope: wflo_core::Scope,
        format: String,
        body: String,
        options_json: Option<String>,
    ) -> AsyncTask<Job<NativeReservation>> {
        AsyncTask::new(Job::new(move || {
            NativeReservation::reserve_request(&scope, &format, &body, options_json.as_deref())
        }))
    }
}

#[napi]
impl NativeReservation {
    #[napi(getter)]
    pub fn amount_nanos(&self) -> i64 {
        self.amount
    }

    /// The max_tokens to send (lower than asked under the clamp policy).
    #[napi(getter)]
    pub fn max_output_tokens(&self) -> i64 {
        self.max_output
    }

    #[napi]
    pub fn settle(&self, usage: JsUsage) -> napi::Result<Settled> {
        guard(|| Ok(Settled::from(&self.inner.lock().settle(usage.to_core()?)?)))
    }

    /// Settles from a provider's response body or usage JSON.
    #[napi]
    pub fn settle_json(&self, format: String, json: String) -> napi::Result<Settled> {
        guard(|| {
            Ok(Settled::from(
                &self
                    .inner
                    .lock()
                    .settle_json(UsageFormat::from_name(&format)?, &json)?,
            ))
        })
    }

    /// The request body to send (JSON), for a reservation made by `reserveRequest`.
    #[napi(getter)]
    pub fn request_body(&self) -> Option<String> {
        self.body.clone()
    }

    /// Settles from whatever the call returned: its usage, else its generated text estimated;
    /// `status` (default "ok"): how the call ended ("error"/"aborted": what it had produced).
    #[napi]
    pub fn settle_result(
        &self,
        format: String,
        json: String,
        status: Option<String>,
    ) -> napi::Result<Settled> {
        guard(|| {
            Ok(Settled::from(&self.inner.lock().settle_result_text(
                &format,
                &json,
                status.as_deref(),
            )?))
        })
    }

    /// Settles a call without usage from the text it generated ("ok", "error", "aborted").
    #[napi]
    pub fn settle_text(&self, text: String, status: String) -> napi::Result<Settled> {
        guard(|| {
            Ok(Settled::from(
                &self
                    .inner
                    .lock()
                    .settle_text(&text, CallStatus::from_name(&status)?)?,
            ))
        })
    }

    /// Settles a finished or cut stream ("ok", "error", "aborted").
    #[napi]
    pub fn settle_stream(&self, stream: &NativeStream, status: String) -> napi::Result<Settled> {
        guard(|| {
            let outcome = stream.inner.lock().clone().finish();
            Ok(Settled::from(&self.inner.lock().settle_stream(
                &outcome,
                CallStatus::from_name(&status)?,
            )?))
        })
    }

    /// Releases without cost ("error" or "aborted").
    #[napi]
    pub fn release(&self, status: String, reason: Option<String>) -> napi::Result<()> {
        guard(|| {
            self.inner
                .lock()
                .release(CallStatus::from_name(&status)?, reason.as_deref())
                .map(|_| ())
        })
    }

    /// Settles with usage given as six numbers; writes the result into `out`.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn settle_fast(
        &self,
        input: f64,
        output: f64,
        cache_read: f64,
        cache_write_5m: f64,
        cache_write_1h: f64,
        reasoning: f64,
        mut out: Float64Array,
    ) -> napi::Result<()> {
        guard(|| {
            let usage = wflo_core::Usage {
                input: js_count(input, "input")?,
                output: js_count(output, "output")?,
                cache_read: js_count(cache_read, "cacheRead")?,
                cache_write_5m: js_count(cache_write_5m, "cacheWrite5m")?,
                cache_write_1h: js_count(cache_write_1h, "cacheWrite1h")?,
                reasoning: js_count(reasoning, "reasoning")?,
            };
            let rec = self.inner.lock().settle(usage)?;
            // SAFETY: the typed array is a fresh argument of this call; nothing else reads it meanwhile.
            write_settled(&rec, unsafe { out.as_mut() })
        })
    }

    /// Settles from a provider's JSON; writes the result into `out`.
    #[napi]
    pub fn settle_json_fast(
        &self,
        format: String,
        json: String,
        mut out: Float64Array,
    ) -> napi::Result<()> {
        guard(|| {
            let rec = self
                .inner
                .lock()
                .settle_json(UsageFormat::from_name(&format)?, &json)?;
            // SAFETY: the typed array is a fresh argument of this call; nothing else reads it meanwhile.
            write_settled(&rec, unsafe { out.as_mut() })
        })
    }

    /// Settles a stream; writes the result into `out`.
    #[napi]
    pub fn settle_stream_fast(
        &self,
        stream: &NativeStream,
        status: String,
        mut out: Float64Array,
    ) -> napi::Result<()> {
        guard(|| {
            let outcome = stream.inner.lock().clone().finish();
            let rec = self
                .inner
                .lock()
                .settle_stream(&outcome, CallStatus::from_name(&status)?)?;
            // SAFETY: the typed array is a fresh argument of this call; nothing else reads it meanwhile.
            write_settled(&rec, unsafe { out.as_mut() })
        })
    }

    #[napi(getter)]
    pub fn ended(&self) -> bool {
        self.inner.lock().is_ended()
    }
}

/// Accumulates a streamed response's events.
#[napi]
pub struct NativeStream {
    inner: Mutex<StreamAccumulator>,
}

#[napi]
impl NativeStream {
    #[napi(constructor)]
    pub fn new(format: String) -> napi::Result<NativeStream> {
        guard(|| {
            Ok(NativeStream {
                inner: Mutex::new(StreamAccumulator::new(UsageFormat::from_name(&format)?)?),
            })
        })
    }

    /// Feeds one server-sent event's data (JSON text; "[DONE]" ignored).
    #[napi]
    pub fn push(&self, data: String) -> napi::Result<()> {
        guard(|| self.inner.lock().push_text(&data))
    }

    /// What the stream told so far: {usage, complete, text} as JSON.
    #[napi]
    pub fn state_json(&self) -> String {
        let o = self.inner.lock().clone().finish();
        serde_json::json!({"usage": o.usage, "complete": o.complete, "text": o.text}).to_string()
    }
}

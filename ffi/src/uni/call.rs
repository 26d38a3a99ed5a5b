//! Reservations and stream accumulators.

use std::sync::Arc;

use parking_lot::Mutex;
use wflo_core::{CallStatus, Reservation, Scope, StreamAccumulator, UsageFormat};

use super::error::{Result, guard};
use super::types::{CacheWrite, CallRequest, Settled, Usage};

/// Budget held for one call: settle it or release it; dropped unsettled, it is released and
/// recorded as aborted. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeReservation {
    inner: Mutex<Reservation>,
    amount: u64,
    max_output: u64,
}

impl NativeReservation {
    pub(crate) fn reserve(
        scope: &Scope,
        r: &CallRequest,
    ) -> wflo_core::Result<Arc<NativeReservation>> {
        let cache_write = match r.cache_write.unwrap_or_default() {
            CacheWrite::None => wflo_core::CacheWrite::None,
            CacheWrite::FiveMinutes => wflo_core::CacheWrite::FiveMinutes,
            CacheWrite::OneHour => wflo_core::CacheWrite::OneHour,
        };
        let res = scope.reserve(&wflo_core::CallRequest {
            model: &r.model,
            provider: r.provider.as_deref(),
            input_tokens: r.input_tokens,
            input_estimated: r.input_estimated,
            max_output_tokens: r.max_output_tokens.filter(|m| *m > 0),
            cache_write,
            stream: r.stream,
            clamp_max_tokens: r.clamp_max_tokens,
        })?;
        Ok(Arc::new(NativeReservation {
            amount: res.amount_nanos(),
            max_output: res.max_output_tokens(),
            inner: Mutex::new(res),
        }))
    }
}

impl NativeReservation {
    fn wrap(res: Reservation) -> Arc<NativeReservation> {
        Arc::new(NativeReservation {
            amount: res.amount_nanos(),
            max_output: res.max_output_tokens(),
            inner: Mutex::new(res),
        })
    }

    /// Reserves a provider request (see `wflo_reserve_request`).
    pub(crate) fn reserve_request(
        scope: &Scope,
        format: &str,
        body: &str,
        options_json: Option<&str>,
    ) -> wflo_core::Result<RequestReserved> {
        let made = scope.reserve_request_text(format, body, options_json)?;
        Ok(RequestReserved {
            body: made.body,
            reservation: NativeReservation::wrap(made.reservation),
        })
    }
}

/// A reservation made from a provider request, and the request body to send.
#[derive(uniffi::Record)]
pub struct RequestReserved {
    pub reservation: Arc<NativeReservation>,
    /// The body to send: the caller's, with the output limit and stream options wflo set.
    pub body: String,
}

#[uniffi::export]
impl NativeReservation {
    /// Books whatever the call returned: its usage, else its generated text estimated;
    /// `status` (default "ok"): how the call ended ("error"/"aborted": what it had produced).
    pub fn settle_result(
        &self,
        format: String,
        json: String,
        status: Option<String>,
    ) -> Result<Settled> {
        guard(|| {
            Ok(Settled::from(&self.inner.lock().settle_result_text(
                &format,
                &json,
                status.as_deref(),
            )?))
        })
    }

    /// Books a call without usage from the text it generated ("ok", "error", "aborted").
    pub fn settle_text(&self, text: String, status: String) -> Result<Settled> {
        guard(|| {
            Ok(Settled::from(
                &self
                    .inner
                    .lock()
                    .settle_text(&text, CallStatus::from_name(&status)?)?,
            ))
        })
    }

    /// The worst case held, nano-USD.
    pub fn amount_nanos(&self) -> u64 {
        self.amount
    }

    /// The max_tokens to send (lower than asked under the clamp policy).
    pub fn max_output_tokens(&self) -> u64 {
        self.max_output
    }

    pub fn is_ended(&self) -> bool {
        self.inner.lock().is_ended()
    }

    /// Books the provider's usage.
    pub fn settle(&self, usage: Usage) -> Result<Settled> {
        guard(|| Ok(Settled::from(&self.inner.lock().settle(usage.into())?)))
    }

    /// Books the usage in a provider's response body or usage JSON; bad JSON leaves it held.
    pub fn settle_json(&self, format: String, json: String) -> Result<Settled> {
        guard(|| {
            Ok(Settled::from(
                &self
                    .inner
                    .lock()
                    .settle_json(UsageFormat::from_name(&format)?, &json)?,
            ))
        })
    }

    /// Books a finished or cut stream ("ok", "error", "aborted"); without usage, estimated.
    pub fn settle_stream(&self, stream: Arc<NativeStream>, status: String) -> Result<Settled> {
        guard(|| {
            let outcome = stream.inner.lock().clone().finish();
            Ok(Settled::from(&self.inner.lock().settle_stream(
                &outcome,
                CallStatus::from_name(&status)?,
            )?))
        })
    }

    /// Gives the budget back ("error" or "aborted").
    pub fn release(&self, status: String, reason: Option<String>) -> Result<()> {
        guard(|| {
            self.inner
                .lock()
                .release(CallStatus::from_name(&status)?, reason.as_deref())
                .map(|_| ())
        })
    }
}

/// Accumulates a streamed response's events. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeStream {
    inner: Mutex<StreamAccumulator>,
}

#[uniffi::export]
impl NativeStream {
    /// For "openai_chat", "openai_responses", "anthropic" or "gemini" events.
    #[uniffi::constructor]
    pub fn new(format: String) -> Result<Arc<Self>> {
        guard(|| {
            Ok(Arc::new(NativeStream {
                inner: Mutex::new(StreamAccumulator::new(UsageFormat::from_name(&format)?)?),
            }))
        })
    }

    /// Feeds one server-sent event's data (JSON text; "[DONE]" ignored).
    pub fn push(&self, data: String) -> Result<()> {
        guard(|| self.inner.lock().push_text(&data))
    }

    /// What the stream told so far: {"usage": …|null, "complete": bool, "text": "…"}.
    pub fn state_json(&self) -> String {
        let o = self.inner.lock().clone().finish();
        serde_json::json!({"usage": o.usage, "complete": o.complete, "text": o.text}).to_string()
    }
}

//! Tracked calls: reserve before the request leaves the process, settle after.

use std::ffi::c_char;

use parking_lot::Mutex;
use wflo_core::{
    CacheWrite, CallRequest, CallStatus, Error, Reservation, StreamAccumulator, UsageFormat,
};

use crate::boundary::{run, run_quiet, wflo_status};
use crate::engine::wflo_usage;
use crate::execution::{target, wflo_execution, wflo_scope};
use crate::handle::{Boxed, Handle, box_free, box_into_ptr, box_ref, out};
use crate::strings::{input, optional, output_json};

/// `wflo_call_request.cache_write`: the request writes no cache.
pub const WFLO_CACHE_WRITE_NONE: u32 = 0;
/// The request writes its prompt to a 5-minute cache.
pub const WFLO_CACHE_WRITE_5M: u32 = 1;
/// The request writes its prompt to a 1-hour cache.
pub const WFLO_CACHE_WRITE_1H: u32 = 2;

/// `wflo_call_request.input_count`: decide by the model's tokenizer (exact for OpenAI models).
pub const WFLO_COUNT_AUTO: u32 = 0;
/// `input_tokens` is exact.
pub const WFLO_COUNT_EXACT: u32 = 1;
/// `input_tokens` is an estimate: the budget adds its safety margin.
pub const WFLO_COUNT_ESTIMATED: u32 = 2;

/// What is known about a call before it is made. Zero-initialise it, then set the fields.
#[repr(C)]
pub struct wflo_call_request {
    /// The model as the request names it (required).
    pub model: *const c_char,
    pub model_len: usize,
    /// The provider ("openai", …); NULL: the price table's.
    pub provider: *const c_char,
    pub provider_len: usize,
    /// Prompt tokens (count them with wflo_count_chat_tokens).
    pub input_tokens: u64,
    /// WFLO_COUNT_AUTO (0), WFLO_COUNT_EXACT or WFLO_COUNT_ESTIMATED.
    pub input_count: u32,
    /// The request's max_tokens; 0: not given (the model's maximum output is assumed).
    pub max_output_tokens: u64,
    /// WFLO_CACHE_WRITE_NONE (0), WFLO_CACHE_WRITE_5M or WFLO_CACHE_WRITE_1H.
    pub cache_write: u32,
    pub stream: bool,
    /// When the worst case does not fit, lower max_tokens to what fits instead of refusing
    /// (read the new value with wflo_reservation_max_output_tokens).
    pub clamp_max_tokens: bool,
}

/// Budget held for one call. May be used from any thread, one call at a time (the library
/// serialises). Settle or release it; wflo_reservation_free on an unsettled reservation
/// releases it and records the call as aborted.
pub struct wflo_reservation {
    _private: [u8; 0],
}

impl Handle for wflo_reservation {
    type Ownership = Boxed;
    type Rust = Mutex<Reservation>;
}

/// Accumulates a streamed response's events (see wflo_stream_new). Not thread-safe: use from
/// one thread at a time.
pub struct wflo_stream {
    _private: [u8; 0],
}

impl Handle for wflo_stream {
    type Ownership = Boxed;
    type Rust = Mutex<Option<StreamAccumulator>>;
}

/// Reserves the worst case of a call on `scope` (NULL: the execution's own scope) and every
/// scope above it. WFLO_STATUS_BUDGET_EXCEEDED when it could overspend: then the request must
/// not be sent (wflo_last_error_json has the figures), and the refusal is recorded.
///
/// # Safety
/// Handles live; `request` readable and its strings point to their lengths;
/// `reservation_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reserve(
    execution: *const wflo_execution,
    scope: *const wflo_scope,
    request: *const wflo_call_request,
    reservation_out: *mut *mut wflo_reservation,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(reservation_out, "reservation_out") }?;
        let req = unsafe { request.as_ref() }.ok_or_else(|| Error::invalid("request is NULL"))?;
        let model = unsafe { input(req.model, req.model_len, "request.model") }?;
        let provider = unsafe { optional(req.provider, req.provider_len, "request.provider") }?;
        let input_estimated = CallRequest::input_estimated_from_code(req.input_count)?;
        let cache_write = CacheWrite::from_code(req.cache_write)?;
        let reservation = unsafe { target(execution, scope) }?.reserve(&CallRequest {
            model,
            provider,
            input_tokens: req.input_tokens,
            input_estimated,
            max_output_tokens: CallRequest::output_limit(req.max_output_tokens),
            cache_write,
            stream: req.stream,
            clamp_max_tokens: req.clamp_max_tokens,
        })?;
        *out = box_into_ptr(Mutex::new(reservation));
        Ok(())
    })
}

/// The worst-case amount held, nano-USD (0 for a NULL handle).
///
/// # Safety
/// `reservation` is NULL or a live reservation handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_amount_nanos(
    reservation: *const wflo_reservation,
) -> u64 {
    run_quiet(0, || {
        unsafe { box_ref(reservation, "reservation") }.map_or(0, |r| r.lock().amount_nanos())
    })
}

/// The output cap the reservation covers: send the request with this as its max_tokens
/// (it differs from the request's under the clamp policy). 0 for a NULL handle.
///
/// # Safety
/// `reservation` is NULL or a live reservation handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_max_output_tokens(
    reservation: *const wflo_reservation,
) -> u64 {
    run_quiet(0, || {
        unsafe { box_ref(reservation, "reservation") }.map_or(0, |r| r.lock().max_output_tokens())
    })
}

/// What a settled (or recorded) call came to: the figures callers need on the hot path,
/// without building JSON. The whole record is in wflo_execution_calls_json.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wflo_settled {
    /// Order of the call within its execution.
    pub seq: u64,
    pub cost_nanos: u64,
    pub reserved_nanos: u64,
    /// Cost beyond the reservation (0 normally).
    pub overrun_nanos: u64,
    pub usage: wflo_usage,
    /// The usage is an estimate (a stream without the provider's usage).
    pub estimated: bool,
    pub usage_missing: bool,
}

impl From<&wflo_core::CallRecord> for wflo_settled {
    fn from(r: &wflo_core::CallRecord) -> Self {
        wflo_settled {
            seq: r.seq,
            cost_nanos: r.cost_nanos,
            reserved_nanos: r.reserved_nanos,
            overrun_nanos: r.overrun_nanos,
            usage: r.usage.into(),
            estimated: r.estimated,
            usage_missing: r.usage_missing,
        }
    }
}

/// Writes the settled figures when the caller asked for them.
///
/// # Safety
/// `settled_out` is NULL or writable.
pub unsafe fn write_settled(record: &wflo_core::CallRecord, settled_out: *mut wflo_settled) {
    if !settled_out.is_null() {
        unsafe { *settled_out = record.into() };
    }
}

/// Settles with the provider's usage in wflo's fields. `settled_out` (may be NULL)
/// receives what the call came to. WFLO_STATUS_CONFLICT when already settled or released.
///
/// # Safety
/// `reservation` is a live handle; `usage` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_settle(
    reservation: *const wflo_reservation,
    usage: *const wflo_usage,
    settled_out: *mut wflo_settled,
) -> wflo_status {
    run(|| {
        let r = unsafe { box_ref(reservation, "reservation") }?;
        let usage = unsafe { usage.as_ref() }.ok_or_else(|| Error::invalid("usage is NULL"))?;
        let record = r.lock().settle((*usage).into())?;
        unsafe { write_settled(&record, settled_out) };
        Ok(())
    })
}

/// Settles from the provider's raw usage JSON (a response body or its usage object; `format`
/// as in wflo_parse_usage). Bad JSON: WFLO_STATUS_INVALID_ARGUMENT and the reservation stays
/// held, so the caller can retry or release.
///
/// # Safety
/// `reservation` is a live handle; strings point to their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_settle_json(
    reservation: *const wflo_reservation,
    format: *const c_char,
    format_len: usize,
    json: *const c_char,
    json_len: usize,
    settled_out: *mut wflo_settled,
) -> wflo_status {
    run(|| {
        let r = unsafe { box_ref(reservation, "reservation") }?;
        let format = UsageFormat::from_name(unsafe { input(format, format_len, "format") }?)?;
        let record = r
            .lock()
            .settle_json(format, unsafe { input(json, json_len, "json") }?)?;
        unsafe { write_settled(&record, settled_out) };
        Ok(())
    })
}

/// Settles a finished or cut stream from its accumulator; when the provider's usage never
/// came, the output is estimated from the streamed text and the call is flagged estimated —
/// never recorded as free. `status`: "ok", "error" or "aborted" (NULL: "ok"). The stream
/// handle is consumed (it stays valid to free, but holds nothing).
///
/// # Safety
/// Handles live; `status` points to `status_len` bytes or is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_settle_stream(
    reservation: *const wflo_reservation,
    stream: *const wflo_stream,
    status: *const c_char,
    status_len: usize,
    settled_out: *mut wflo_settled,
) -> wflo_status {
    run(|| {
        let r = unsafe { box_ref(reservation, "reservation") }?;
        let s = unsafe { box_ref(stream, "stream") }?;
        let status = CallStatus::from_name(
            unsafe { optional(status, status_len, "status") }?.unwrap_or("ok"),
        )?;
        let mut guard = s.lock();
        let acc = guard
            .as_ref()
            .ok_or_else(|| Error::Conflict("this stream was already settled".into()))?;
        let outcome = acc.clone().finish();
        let record = r.lock().settle_stream(&outcome, status)?;
        *guard = None;
        unsafe { write_settled(&record, settled_out) };
        Ok(())
    })
}

/// Releases without cost: the call failed before the provider billed anything. `status`:
/// "error" or "aborted"; `reason` (may be NULL) is recorded.
///
/// # Safety
/// `reservation` is a live handle; strings point to their lengths or are NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_release(
    reservation: *const wflo_reservation,
    status: *const c_char,
    status_len: usize,
    reason: *const c_char,
    reason_len: usize,
) -> wflo_status {
    run(|| {
        let r = unsafe { box_ref(reservation, "reservation") }?;
        let status = CallStatus::from_name(
            unsafe { optional(status, status_len, "status") }?.unwrap_or("error"),
        )?;
        let reason = unsafe { optional(reason, reason_len, "reason") }?;
        r.lock().release(status, reason)?;
        Ok(())
    })
}

/// Frees the handle; an unsettled reservation is released and recorded as aborted. NULL is a
/// no-op.
///
/// # Safety
/// `reservation` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_free(reservation: *mut wflo_reservation) {
    run_quiet((), || unsafe { box_free(reservation) })
}

/// A new stream accumulator for `format` ("openai_chat", "openai_responses", "anthropic",
/// "gemini"). Feed it every server-sent event's data with wflo_stream_push.
///
/// # Safety
/// `format` points to `format_len` bytes; `stream_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_stream_new(
    format: *const c_char,
    format_len: usize,
    stream_out: *mut *mut wflo_stream,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(stream_out, "stream_out") }?;
        let format = UsageFormat::from_name(unsafe { input(format, format_len, "format") }?)?;
        *out = box_into_ptr(Mutex::new(Some(StreamAccumulator::new(format)?)));
        Ok(())
    })
}

/// Feeds one event: the payload of a `data:` line (without the prefix). "[DONE]" and blank
/// payloads are ignored; a payload that is not JSON is WFLO_STATUS_INVALID_ARGUMENT and
/// changes nothing.
///
/// # Safety
/// `stream` is a live handle; `data` points to `data_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_stream_push(
    stream: *const wflo_stream,
    data: *const c_char,
    data_len: usize,
) -> wflo_status {
    run(|| {
        let s = unsafe { box_ref(stream, "stream") }?;
        let data = unsafe { input(data, data_len, "data") }?;
        let mut guard = s.lock();
        let acc = guard
            .as_mut()
            .ok_or_else(|| Error::Conflict("this stream was already settled".into()))?;
        let mut trial = acc.clone();
        trial.push_text(data)?;
        *acc = trial;
        Ok(())
    })
}

/// The usage the stream has reported so far; WFLO_STATUS_NOT_FOUND when none yet.
///
/// # Safety
/// `stream` is a live handle; `usage_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_stream_usage(
    stream: *const wflo_stream,
    usage_out: *mut wflo_usage,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(usage_out, "usage_out") }?;
        let s = unsafe { box_ref(stream, "stream") }?;
        let guard = s.lock();
        let usage = guard
            .as_ref()
            .and_then(StreamAccumulator::usage)
            .ok_or_else(|| Error::NotFound("the stream has reported no usage".into()))?;
        *out = usage.into();
        Ok(())
    })
}

/// What the stream has told so far, as JSON: `{"usage": {…} or null, "complete": bool,
/// "text": "…"}` — `complete` once the provider's final usage arrived; `text` is the streamed
/// text (content, reasoning and tool arguments) an estimate would count.
///
/// # Safety
/// `stream` is a live handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_stream_state_json(
    stream: *const wflo_stream,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let s = unsafe { box_ref(stream, "stream") }?;
        let guard = s.lock();
        let acc = guard
            .as_ref()
            .ok_or_else(|| Error::Conflict("this stream was already settled".into()))?;
        let outcome = acc.clone().finish();
        *out = output_json(&serde_json::json!({
            "usage": outcome.usage, "complete": outcome.complete, "text": outcome.text
        }))?;
        Ok(())
    })
}

/// Frees a stream accumulator. NULL is a no-op.
///
/// # Safety
/// `stream` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_stream_free(stream: *mut wflo_stream) {
    run_quiet((), || unsafe { box_free(stream) })
}

/// Reads a provider request (`format`: "openai_chat", "openai_responses", "anthropic",
/// "gemini", "langchain", "ai_sdk"), reserves its worst case on `scope` (NULL: the
/// execution's own scope) and returns the reservation and the body to send — the output
/// limit the reservation covers written in, `include_usage` added to an OpenAI chat stream.
/// `options_json` (NULL for none): `{"base_url": "https://api.x.ai/v1", "provider": …,
/// "model": …, "stream": bool, "clamp_max_tokens": bool, "attempt": n, "retry_reason": …,
/// "agent": "researcher"}` — with `agent`, the call reserves on the execution's agent scope
/// `agent:<name>` (its own budget from the execution's `agent_budgets`) instead of `scope`.
/// On any refusal (WFLO_STATUS_BUDGET_EXCEEDED, _CALL_LIMIT, …) the request must not be sent;
/// nothing is written to the out-parameters on failure.
/// `body_out` is freed with wflo_string_free.
///
/// # Safety
/// Handles live; strings point to their lengths; out-parameters writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wflo_reserve_request(
    execution: *const wflo_execution,
    scope: *const wflo_scope,
    format: *const c_char,
    format_len: usize,
    body: *const c_char,
    body_len: usize,
    options_json: *const c_char,
    options_len: usize,
    reservation_out: *mut *mut wflo_reservation,
    body_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let res_out = unsafe { out(reservation_out, "reservation_out") }?;
        let text_out = unsafe { out(body_out, "body_out") }?;
        let format = unsafe { input(format, format_len, "format") }?;
        let body = unsafe { input(body, body_len, "body") }?;
        let options = unsafe { optional(options_json, options_len, "options_json") }?;
        let made =
            unsafe { target(execution, scope) }?.reserve_request_text(format, body, options)?;
        let text = crate::strings::output(made.body)?;
        *text_out = text;
        *res_out = box_into_ptr(Mutex::new(made.reservation));
        Ok(())
    })
}

/// Settles from whatever the call returned (`format` as for wflo_reserve_request, or
/// "auto"): the usage in the result, else its generated text estimated and flagged — the one
/// rule for results without usage. `status`: how the call ended — "ok", or "error" /
/// "aborted" for what a call that failed midway had produced (NULL: "ok"). Bad JSON:
/// WFLO_STATUS_INVALID_ARGUMENT, still held.
///
/// # Safety
/// `reservation` is a live handle; strings point to their lengths (`status` may be NULL);
/// `settled_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_settle_result(
    reservation: *const wflo_reservation,
    format: *const c_char,
    format_len: usize,
    json: *const c_char,
    json_len: usize,
    status: *const c_char,
    status_len: usize,
    settled_out: *mut wflo_settled,
) -> wflo_status {
    run(|| {
        let r = unsafe { box_ref(reservation, "reservation") }?;
        let record = r.lock().settle_result_text(
            unsafe { input(format, format_len, "format") }?,
            unsafe { input(json, json_len, "json") }?,
            unsafe { optional(status, status_len, "status") }?,
        )?;
        unsafe { write_settled(&record, settled_out) };
        Ok(())
    })
}

/// Settles a call whose usage never came from the text it generated: the prompt as
/// reserved, the output counted, flagged estimated. `status`: "ok", "error", "aborted"
/// (NULL: "ok").
///
/// # Safety
/// `reservation` is a live handle; strings point to their lengths or are NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_reservation_settle_text(
    reservation: *const wflo_reservation,
    text: *const c_char,
    text_len: usize,
    status: *const c_char,
    status_len: usize,
    settled_out: *mut wflo_settled,
) -> wflo_status {
    run(|| {
        let r = unsafe { box_ref(reservation, "reservation") }?;
        let text = unsafe { input(text, text_len, "text") }?;
        let status = CallStatus::from_name(
            unsafe { optional(status, status_len, "status") }?.unwrap_or("ok"),
        )?;
        let record = r.lock().settle_text(text, status)?;
        unsafe { write_settled(&record, settled_out) };
        Ok(())
    })
}

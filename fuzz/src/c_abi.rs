//! The C ABI driven from Rust as a C program would: fuzzer-chosen strings (any bytes, cut at
//! any length, NULL with or without a length), numbers and handles, in any order, on an
//! in-memory engine (the memory store, or SQLite's `:memory:`).
//!
//! After every call: the status is a real one and never INTERNAL (a panic the boundary
//! caught), the thread's last error agrees with it, and every returned string is UTF-8 and
//! parses as JSON. At the end: no reservation still holds budget once its handle is freed, and
//! no execution has spent past its budget except what it reports as overrun.

use std::ffi::{CStr, c_char};
use std::ptr;

use wflo::boundary::{
    wflo_last_error_json, wflo_last_error_message, wflo_status, wflo_status_name,
};
use wflo::call::*;
use wflo::checkpoint::*;
use wflo::engine::*;
use wflo::execution::*;
use wflo::strings::wflo_string_free;

use super::input::Input;

const MODELS: &[&str] = &[
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet-20241022",
    "gemini/gemini-1.5-pro",
    "openai/gpt-4o-2024-08-06",
    "fuzz-model",
    "no-such-model",
    " ",
];
const FORMATS: &[&str] = &[
    "auto",
    "openai_chat",
    "openai_responses",
    "anthropic",
    "gemini",
    "wflo",
    "langchain",
    "ai_sdk",
];
const STATUSES: &[&str] = &[
    "ok",
    "error",
    "aborted",
    "refused",
    "completed",
    "failed",
    "running",
    "budget_exceeded",
];
const NAMES: &[&str] = &[
    "plan",
    "act",
    "tenant",
    "x'); DROP TABLE llm_calls;--",
    "é\u{1b}",
];
const PERIODS: &[&str] = &["none", "day", "month"];
const JSON: &[&str] = &[
    r#"{"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":10}}}"#,
    r#"{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3}"#,
    r#"{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2}}"#,
    r#"{"input":1,"output":1,"reasoning":1}"#,
    r#"{"models":[{"name":"fuzz-model","input":1000000,"output":2000000,"max_output":100}]}"#,
    r#"{"models":[{"name":"gpt-4o","tiers":[{"above":10,"input":1}]}]}"#,
    r#"[{"role":"user","content":"hi"},{"role":"assistant","content":"ok","name":"x"}]"#,
    r#"{"shared_scopes":["tenant"]}"#,
    r#"{"id":"exec-0123456789ab"}"#,
    r#"{"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}"#,
    r#"{"type":"message_delta","usage":{"output_tokens":9}}"#,
    r#"{"choices":[{"delta":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
    r#"{"type":"response.completed","response":{"usage":{"input_tokens":4,"output_tokens":2}}}"#,
    r#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}"#,
    "[DONE]",
    "",
];

/// A string as a C caller could pass it.
struct Arg {
    buf: Vec<u8>,
    null: bool,
    len: usize,
}

impl Arg {
    fn new(input: &mut Input<'_>, choices: &[&str]) -> Arg {
        let buf = input.text(choices);
        let (null, len) = match input.byte() % 8 {
            0 => (true, 0),
            // NULL with a length: refused, never read.
            1 => (true, 1 + usize::from(input.byte())),
            // Cut anywhere, also inside a UTF-8 sequence; never past the buffer.
            2 => (false, usize::from(input.byte()) % (buf.len() + 1)),
            _ => (false, buf.len()),
        };
        Arg { buf, null, len }
    }

    fn ptr(&self) -> *const c_char {
        if self.null {
            ptr::null()
        } else {
            self.buf.as_ptr().cast()
        }
    }
}

fn usage(input: &mut Input<'_>) -> wflo_usage {
    wflo_usage {
        input: input.count(),
        output: input.count(),
        cache_read: input.count(),
        cache_write_5m: input.count(),
        cache_write_1h: input.count(),
        reasoning: input.count(),
    }
}

/// A budget as C passes it: negative for none.
fn budget(input: &mut Input<'_>) -> i64 {
    match input.byte() % 4 {
        0 => -1,
        1 => input.u64() as i64,
        _ => input.count() as i64,
    }
}

/// One of the live handles, or NULL.
fn pick<T>(input: &mut Input<'_>, handles: &[*mut T]) -> *mut T {
    let b = usize::from(input.byte());
    if handles.is_empty() || b == 255 {
        ptr::null_mut()
    } else {
        handles[b % handles.len()]
    }
}

/// Takes handle `i` out of the list to free it (NULL when there is none).
fn take<T>(input: &mut Input<'_>, handles: &mut Vec<*mut T>) -> *mut T {
    if handles.is_empty() {
        return ptr::null_mut();
    }
    let i = usize::from(input.byte()) % handles.len();
    handles.swap_remove(i)
}

fn c_str<'a>(p: *const c_char) -> &'a str {
    assert!(!p.is_null());
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("the library returns UTF-8")
}

/// Checks a status and the last error that goes with it; true for OK.
fn check(status: wflo_status, what: &str) -> bool {
    let message = c_str(wflo_last_error_message());
    let json = c_str(wflo_last_error_json());
    assert_ne!(status, wflo_status::Internal, "{what}: {message}");
    if status == wflo_status::Ok {
        assert!(
            message.is_empty() && json.is_empty(),
            "{what}: stale error {message}"
        );
        return true;
    }
    assert!(!message.is_empty(), "{what}: {status:?} without a message");
    let details: serde_json::Value = serde_json::from_str(json).expect("last error JSON parses");
    assert_eq!(
        details["code"].as_str(),
        Some(c_str(wflo_status_name(status as i32))),
        "{what}: {json}"
    );
    false
}

/// Reads and frees a returned string; it must be JSON.
fn take_json(p: *mut c_char) -> serde_json::Value {
    let text = c_str(p).to_owned();
    unsafe { wflo_string_free(p) };
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("returned text is not JSON ({e}): {text}"))
}

fn check_usage(u: &wflo_usage) {
    wflo_core::Usage::from(*u)
        .validate()
        .expect("an accepted usage is valid");
}

#[derive(Default)]
struct World {
    engine: *mut wflo_engine,
    closed: bool,
    executions: Vec<*mut wflo_execution>,
    scopes: Vec<*mut wflo_scope>,
    reservations: Vec<*mut wflo_reservation>,
    streams: Vec<*mut wflo_stream>,
}

/// Byte 0 picks the store; then up to 200 operations.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let url: &[u8] = if input.bool() {
        b":memory:"
    } else {
        b"memory://"
    };
    let mut w = World::default();
    let status = unsafe { wflo_engine_open(url.as_ptr().cast(), url.len(), &mut w.engine) };
    assert!(check(status, "open"));
    for _ in 0..200 {
        if input.is_empty() {
            break;
        }
        step(&mut input, &mut w);
    }
    finish(w);
}

fn step(input: &mut Input<'_>, w: &mut World) {
    let engine = if input.byte() == 255 {
        ptr::null()
    } else {
        w.engine.cast_const()
    };
    unsafe {
        match input.byte() % 30 {
            0 => {
                let (format, json) = (Arg::new(input, FORMATS), Arg::new(input, JSON));
                let mut out = wflo_usage::default();
                if check(
                    wflo_parse_usage(format.ptr(), format.len, json.ptr(), json.len, &mut out),
                    "parse_usage",
                ) {
                    check_usage(&out);
                }
            }
            1 => {
                let model = Arg::new(input, MODELS);
                let u = usage(input);
                let mut nanos = 0;
                let ok = check(
                    wflo_cost(engine, model.ptr(), model.len, &u, &mut nanos),
                    "cost",
                );
                // The packed form computes the same.
                let mut args = wflo_cost_args {
                    engine,
                    model: model.ptr(),
                    model_len: model.len,
                    usage: u,
                    nanos: 0,
                };
                assert_eq!(check(wflo_cost_packed(&mut args), "cost_packed"), ok);
                if ok {
                    assert_eq!(args.nanos, nanos);
                }
            }
            2 => {
                let (model, text) = (Arg::new(input, MODELS), Arg::new(input, &[]));
                let (mut tokens, mut estimated) = (0, false);
                let f = wflo_count_tokens(
                    engine,
                    model.ptr(),
                    model.len,
                    text.ptr(),
                    text.len,
                    &mut tokens,
                    &mut estimated,
                );
                if check(f, "count_tokens") {
                    assert!(tokens as usize <= text.len, "more tokens than bytes");
                }
            }
            3 => {
                let (model, messages) = (Arg::new(input, MODELS), Arg::new(input, JSON));
                let (mut tokens, mut estimated) = (0, false);
                check(
                    wflo_count_chat_tokens(
                        engine,
                        model.ptr(),
                        model.len,
                        messages.ptr(),
                        messages.len,
                        &mut tokens,
                        &mut estimated,
                    ),
                    "count_chat_tokens",
                );
            }
            4 => {
                let json = Arg::new(input, JSON);
                check(
                    wflo_engine_set_prices(engine, json.ptr(), json.len),
                    "set_prices",
                );
            }
            5 => {
                let model = Arg::new(input, MODELS);
                let mut out = ptr::null_mut();
                if check(
                    wflo_price_json(engine, model.ptr(), model.len, &mut out),
                    "price",
                ) {
                    take_json(out);
                }
            }
            6 => {
                let text = Arg::new(
                    input,
                    &["2.50", "$0.000075", "1e3", "-1", "18446744073.709551615"],
                );
                let mut nanos = 0;
                check(
                    wflo_parse_usd(text.ptr(), text.len, &mut nanos),
                    "parse_usd",
                );
                check(
                    wflo_usd_to_nanos(f64::from_bits(input.u64()), &mut nanos),
                    "usd_to_nanos",
                );
            }
            7 => {
                let (name, period) = (Arg::new(input, NAMES), Arg::new(input, PERIODS));
                let limit = budget(input);
                check(
                    wflo_engine_define_shared_scope(
                        engine,
                        name.ptr(),
                        name.len,
                        limit,
                        period.ptr(),
                        period.len,
                    ),
                    "define_shared_scope",
                );
                let mut out = ptr::null_mut();
                if check(
                    wflo_engine_shared_scope_json(engine, name.ptr(), name.len, &mut out),
                    "shared_scope_json",
                ) {
                    take_json(out);
                }
            }
            8 => {
                let (name, options) = (Arg::new(input, NAMES), Arg::new(input, JSON));
                let limit = budget(input);
                let mut out = ptr::null_mut();
                if check(
                    wflo_execution_start(
                        engine,
                        name.ptr(),
                        name.len,
                        limit,
                        options.ptr(),
                        options.len,
                        &mut out,
                    ),
                    "execution_start",
                ) {
                    let id = c_str(wflo_execution_id(out));
                    wflo_core::ids::check_execution_id(id).unwrap();
                    w.executions.push(out);
                }
            }
            9 => {
                // An id the engine gave out, or any bytes.
                let exec = pick(input, &w.executions);
                let known = (!exec.is_null()).then(|| c_str(wflo_execution_id(exec)).to_owned());
                let id = match known {
                    Some(id) if input.bool() => Arg {
                        len: id.len(),
                        buf: id.into_bytes(),
                        null: false,
                    },
                    _ => Arg::new(input, &["exec-0123456789ab", "exec-", "exec-ZZZZZZZZZZZZ"]),
                };
                let mut out = ptr::null_mut();
                if check(
                    wflo_execution_resume(engine, id.ptr(), id.len, &mut out),
                    "resume",
                ) {
                    w.executions.push(out);
                }
            }
            10 => {
                let exec = pick(input, &w.executions);
                let status = Arg::new(input, STATUSES);
                check(
                    wflo_execution_finish(exec, status.ptr(), status.len),
                    "finish",
                );
            }
            11 => {
                let (exec, parent) = (pick(input, &w.executions), pick(input, &w.scopes));
                let label = Arg::new(input, NAMES);
                let limit = budget(input);
                let mut out = ptr::null_mut();
                let status = if input.bool() || parent.is_null() {
                    wflo_execution_scope(exec, label.ptr(), label.len, limit, &mut out)
                } else {
                    wflo_scope_child(parent, label.ptr(), label.len, limit, &mut out)
                };
                if check(status, "scope") {
                    w.scopes.push(out);
                }
            }
            12 => {
                let (exec, scope) = (pick(input, &w.executions), pick(input, &w.scopes));
                let (model, provider) = (Arg::new(input, MODELS), Arg::new(input, &["openai", ""]));
                let request = wflo_call_request {
                    model: model.ptr(),
                    model_len: model.len,
                    provider: provider.ptr(),
                    provider_len: provider.len,
                    input_tokens: input.count(),
                    input_count: u32::from(input.byte() % 4),
                    max_output_tokens: input.count(),
                    cache_write: u32::from(input.byte() % 4),
                    stream: input.bool(),
                    clamp_max_tokens: input.bool(),
                };
                let mut out = ptr::null_mut();
                if check(wflo_reserve(exec, scope, &request, &mut out), "reserve") {
                    let cap = wflo_reservation_max_output_tokens(out);
                    assert!(request.max_output_tokens == 0 || cap <= request.max_output_tokens);
                    w.reservations.push(out);
                }
            }
            13 => {
                let r = pick(input, &w.reservations);
                let u = usage(input);
                let mut settled = wflo_settled::default();
                if check(wflo_reservation_settle(r, &u, &mut settled), "settle") {
                    assert_eq!(settled.reserved_nanos, wflo_reservation_amount_nanos(r));
                }
            }
            14 => {
                let r = pick(input, &w.reservations);
                let (format, json) = (Arg::new(input, FORMATS), Arg::new(input, JSON));
                let mut settled = wflo_settled::default();
                if check(
                    wflo_reservation_settle_json(
                        r,
                        format.ptr(),
                        format.len,
                        json.ptr(),
                        json.len,
                        &mut settled,
                    ),
                    "settle_json",
                ) {
                    check_usage(&settled.usage);
                }
            }
            15 => {
                let r = pick(input, &w.reservations);
                let (status, reason) = (Arg::new(input, STATUSES), Arg::new(input, NAMES));
                check(
                    wflo_reservation_release(r, status.ptr(), status.len, reason.ptr(), reason.len),
                    "release",
                );
            }
            16 => wflo_reservation_free(take(input, &mut w.reservations)),
            17 => {
                let format = Arg::new(input, FORMATS);
                let mut out = ptr::null_mut();
                if check(
                    wflo_stream_new(format.ptr(), format.len, &mut out),
                    "stream_new",
                ) {
                    w.streams.push(out);
                }
            }
            18 => {
                let s = pick(input, &w.streams);
                let data = Arg::new(input, JSON);
                check(wflo_stream_push(s, data.ptr(), data.len), "stream_push");
            }
            19 => {
                let s = pick(input, &w.streams);
                let mut u = wflo_usage::default();
                if check(wflo_stream_usage(s, &mut u), "stream_usage") {
                    check_usage(&u);
                }
                let mut out = ptr::null_mut();
                if check(wflo_stream_state_json(s, &mut out), "stream_state") {
                    let state = take_json(out);
                    assert!(state["complete"] == false || !state["usage"].is_null());
                }
            }
            20 => {
                let (r, s) = (pick(input, &w.reservations), pick(input, &w.streams));
                let status = Arg::new(input, STATUSES);
                let mut settled = wflo_settled::default();
                if check(
                    wflo_reservation_settle_stream(r, s, status.ptr(), status.len, &mut settled),
                    "settle_stream",
                ) {
                    check_usage(&settled.usage);
                    // A stream without the provider's usage is estimated, never free.
                    assert!(!settled.usage_missing || settled.estimated);
                }
            }
            21 => wflo_stream_free(take(input, &mut w.streams)),
            22 => {
                let (exec, scope) = (pick(input, &w.executions), pick(input, &w.scopes));
                let model = Arg::new(input, MODELS);
                let mut settled = wflo_settled::default();
                if input.bool() {
                    let u = usage(input);
                    check(
                        wflo_record_call(exec, scope, model.ptr(), model.len, &u, &mut settled),
                        "record_call",
                    );
                } else {
                    let (format, json) = (Arg::new(input, FORMATS), Arg::new(input, JSON));
                    check(
                        wflo_record_call_json(
                            exec,
                            scope,
                            model.ptr(),
                            model.len,
                            format.ptr(),
                            format.len,
                            json.ptr(),
                            json.len,
                            &mut settled,
                        ),
                        "record_call_json",
                    );
                }
            }
            23 => {
                let exec = pick(input, &w.executions);
                let (name, state) = (Arg::new(input, NAMES), Arg::new(input, JSON));
                let mut info = ptr::null_mut();
                let info_out = if input.bool() {
                    &mut info
                } else {
                    ptr::null_mut()
                };
                if check(
                    wflo_checkpoint_save(
                        exec,
                        name.ptr(),
                        name.len,
                        state.ptr(),
                        state.len,
                        info_out,
                    ),
                    "checkpoint_save",
                ) && !info.is_null()
                {
                    take_json(info);
                }
            }
            24 => {
                let exec = pick(input, &w.executions);
                let name = Arg::new(input, NAMES);
                let mut out = ptr::null_mut();
                if check(
                    wflo_checkpoint_rollback(exec, name.ptr(), name.len, &mut out),
                    "rollback",
                ) {
                    take_json(out);
                }
                let mut out = ptr::null_mut();
                if check(wflo_checkpoint_latest(exec, &mut out), "latest") {
                    take_json(out);
                }
            }
            25 => {
                let exec = pick(input, &w.executions);
                let mut out = ptr::null_mut();
                if check(wflo_checkpoint_list_json(exec, &mut out), "checkpoints") {
                    take_json(out);
                }
                let mut out = ptr::null_mut();
                if check(wflo_execution_calls_json(exec, &mut out), "calls") {
                    take_json(out);
                }
            }
            26 => {
                let exec = pick(input, &w.executions);
                let mut out = ptr::null_mut();
                if check(wflo_execution_breakdown_json(exec, &mut out), "breakdown") {
                    check_breakdown(&take_json(out), false);
                }
            }
            27 => wflo_execution_free(take(input, &mut w.executions)),
            28 => wflo_scope_free(take(input, &mut w.scopes)),
            _ => {
                // Rarely: close the engine under live handles; every later call is CLOSED.
                if input.byte() == 0 {
                    check(wflo_engine_close(engine), "close");
                    w.closed |= !engine.is_null();
                }
            }
        }
    }
}

/// Money invariants of one execution's breakdown.
fn check_breakdown(b: &serde_json::Value, all_released: bool) {
    let n = |k: &str| b[k].as_u64();
    let (total, overrun) = (n("total_nanos").unwrap(), n("overrun_nanos").unwrap());
    if let Some(limit) = n("budget_nanos") {
        assert!(
            total <= limit.saturating_add(overrun),
            "spent {total} past the budget {limit} with only {overrun} reported as overrun: {b}"
        );
    }
    if all_released {
        assert_eq!(n("reserved_nanos"), Some(0), "budget still held: {b}");
    }
}

fn finish(w: World) {
    unsafe {
        for s in w.streams {
            wflo_stream_free(s);
        }
        // Freeing a reservation releases it: nothing may stay held afterwards.
        for r in w.reservations {
            wflo_reservation_free(r);
        }
        for s in w.scopes {
            wflo_scope_free(s);
        }
        for e in w.executions {
            let mut out = ptr::null_mut();
            if check(
                wflo_execution_breakdown_json(e, &mut out),
                "final breakdown",
            ) {
                check_breakdown(&take_json(out), true);
            } else {
                assert!(w.closed, "breakdown failed on an open engine");
            }
            wflo_execution_free(e);
        }
        check(wflo_engine_close(w.engine), "final close");
        wflo_engine_free(w.engine);
    }
}

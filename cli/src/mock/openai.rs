//! OpenAI's wire formats: Chat Completions (with `stream_options.include_usage`), the
//! Responses API (and its streaming events), `GET /v1/models`.

use std::io;
use std::net::TcpStream;

use serde_json::{Value, json};

use super::directives::Directives;
use super::http::{EventStream, write_json};
use super::reply::{Reply, build, content_text};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn error_body(status: u16, message: &str) -> String {
    let (kind, code) = match status {
        429 => ("rate_limit_exceeded", "rate_limit_exceeded"),
        400 => ("invalid_request_error", "invalid_request"),
        401 => ("invalid_request_error", "invalid_api_key"),
        _ => ("server_error", "server_error"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string()
}

/// Answers with an OpenAI-shaped error.
/// `retry`: the retry headers the directives asked for (default `retry-after-ms: 10`).
pub fn error(
    stream: &mut TcpStream,
    status: u16,
    message: &str,
    retry: Option<Vec<(&'static str, String)>>,
) -> io::Result<()> {
    let mut headers = retry.unwrap_or_else(|| vec![("retry-after-ms", "10".into())]);
    headers.push(("x-request-id", "req_mock".into()));
    write_json(stream, status, &error_body(status, message), &headers)
}

fn usage_chat(r: &Reply) -> Value {
    json!({
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.output_tokens + r.reasoning_tokens,
        "total_tokens": r.prompt_tokens + r.output_tokens + r.reasoning_tokens,
        "prompt_tokens_details": {"cached_tokens": r.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": r.reasoning_tokens, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

fn finish_reason(r: &Reply) -> &'static str {
    if r.tool.is_some() {
        "tool_calls"
    } else if r.truncated {
        "length"
    } else {
        "stop"
    }
}

/// `POST /v1/chat/completions`.
pub fn chat(stream: &mut TcpStream, body: &Value, d: &Directives, id: u64) -> io::Result<()> {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let Some(messages) = body.get("messages").filter(|m| m.is_array()) else {
        return error(stream, 400, "'messages' is required", None);
    };
    let max = body
        .get("max_completion_tokens")
        .or(body.get("max_tokens"))
        .and_then(Value::as_u64);
    let r = build(model, messages, max, d);
    let id = format!("chatcmpl-mock{id}");
    let created = now();
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !streaming {
        let message = match &r.tool {
            Some((name, args)) => {
                json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": "call_mock1", "type": "function", "function": {"name": name, "arguments": args}}]})
            }
            None => {
                json!({"role": "assistant", "content": r.text, "refusal": null, "annotations": []})
            }
        };
        let resp = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(&r)}],
            "usage": usage_chat(&r), "service_tier": "default", "system_fingerprint": "fp_wflo_mock"
        });
        return write_json(
            stream,
            200,
            &resp.to_string(),
            &[("x-request-id", "req_mock".into())],
        );
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_wflo_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c.to_string()
    };
    let mut events = EventStream::start(stream, &[])?;
    events.send(
        None,
        &chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        ),
    )?;
    let mut sent = 0;
    match &r.tool {
        Some((name, args)) => {
            let delta = json!({"tool_calls": [{"index": 0, "id": "call_mock1", "type": "function",
                "function": {"name": name, "arguments": args}}]});
            events.send(None, &chunk(delta, None))?;
        }
        None => {
            for piece in &r.pieces {
                if d.reset_after == Some(sent) {
                    events.reset();
                    return Ok(());
                }
                events.send(None, &chunk(json!({"content": piece}), None))?;
                sent += 1;
            }
        }
    }
    if d.reset_after.is_some() {
        events.reset();
        return Ok(());
    }
    events.send(None, &chunk(json!({}), Some(finish_reason(&r))))?;
    if d.cut_usage {
        return events.finish();
    }
    if include_usage {
        let usage = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_wflo_mock", "choices": [], "usage": usage_chat(&r)});
        events.send(None, &usage.to_string())?;
    }
    events.send(None, "[DONE]")?;
    events.finish()
}

/// The Responses API's `input` (a string or a list of messages) and `instructions`, as chat
/// messages for counting.
fn responses_messages(body: &Value) -> Value {
    let mut msgs = Vec::new();
    if let Some(i) = body.get("instructions").and_then(Value::as_str) {
        msgs.push(json!({"role": "system", "content": i}));
    }
    match body.get("input") {
        Some(Value::String(s)) => msgs.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for item in items {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                msgs.push(json!({"role": role, "content": content_text(item.get("content").unwrap_or(&Value::Null))}));
            }
        }
        _ => {}
    }
    Value::Array(msgs)
}

fn usage_responses(r: &Reply) -> Value {
    json!({
        "input_tokens": r.prompt_tokens,
        "input_tokens_details": {"cached_tokens": r.cached},
        "output_tokens": r.output_tokens + r.reasoning_tokens,
        "output_tokens_details": {"reasoning_tokens": r.reasoning_tokens},
        "total_tokens": r.prompt_tokens + r.output_tokens + r.reasoning_tokens
    })
}

fn response_object(
    id: &str,
    model: &str,
    created: u64,
    status: &str,
    output: Value,
    usage: Value,
    max: Option<u64>,
) -> Value {
    json!({
        "id": id, "object": "response", "created_at": created, "status": status, "background": false,
        "error": null, "incomplete_details": null, "instructions": null, "max_output_tokens": max,
        "model": model, "output": output, "parallel_tool_calls": true, "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null}, "service_tier": "default", "store": true,
        "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
        "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": null, "metadata": {}
    })
}

/// `POST /v1/responses`.
pub fn responses(stream: &mut TcpStream, body: &Value, d: &Directives, id: u64) -> io::Result<()> {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    if body.get("input").is_none() {
        return error(stream, 400, "'input' is required", None);
    }
    let max = body.get("max_output_tokens").and_then(Value::as_u64);
    let r = build(model, &responses_messages(body), max, d);
    let (resp_id, msg_id, created) = (format!("resp_mock{id}"), format!("msg_mock{id}"), now());
    let status = if r.truncated {
        "incomplete"
    } else {
        "completed"
    };
    let message = json!({"type": "message", "id": msg_id, "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": r.text, "annotations": [], "logprobs": []}]});
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !streaming {
        let resp = response_object(
            &resp_id,
            model,
            created,
            status,
            json!([message]),
            usage_responses(&r),
            max,
        );
        return write_json(
            stream,
            200,
            &resp.to_string(),
            &[("x-request-id", "req_mock".into())],
        );
    }
    let mut seq = 0u64;
    let mut events = EventStream::start(stream, &[])?;
    let mut send = |events: &mut EventStream<'_>, kind: &str, mut data: Value| {
        data["type"] = kind.into();
        data["sequence_number"] = seq.into();
        seq += 1;
        events.send(Some(kind), &data.to_string())
    };
    let pending = response_object(
        &resp_id,
        model,
        created,
        "in_progress",
        json!([]),
        Value::Null,
        max,
    );
    send(
        &mut events,
        "response.created",
        json!({"response": pending}),
    )?;
    send(
        &mut events,
        "response.in_progress",
        json!({"response": pending}),
    )?;
    let item = json!({"type": "message", "id": msg_id, "status": "in_progress", "role": "assistant", "content": []});
    send(
        &mut events,
        "response.output_item.added",
        json!({"output_index": 0, "item": item}),
    )?;
    let part = json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
    send(
        &mut events,
        "response.content_part.added",
        json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": part}),
    )?;
    for (sent, piece) in r.pieces.iter().enumerate() {
        if d.reset_after == Some(sent as u64) {
            events.reset();
            return Ok(());
        }
        send(
            &mut events,
            "response.output_text.delta",
            json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}),
        )?;
    }
    if d.reset_after.is_some() {
        events.reset();
        return Ok(());
    }
    send(
        &mut events,
        "response.output_text.done",
        json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "text": r.text, "logprobs": []}),
    )?;
    let done_part =
        json!({"type": "output_text", "text": r.text, "annotations": [], "logprobs": []});
    send(
        &mut events,
        "response.content_part.done",
        json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": done_part}),
    )?;
    send(
        &mut events,
        "response.output_item.done",
        json!({"output_index": 0, "item": message}),
    )?;
    if d.cut_usage {
        return events.finish();
    }
    let final_kind = if r.truncated {
        "response.incomplete"
    } else {
        "response.completed"
    };
    let full = response_object(
        &resp_id,
        model,
        created,
        status,
        json!([message]),
        usage_responses(&r),
        max,
    );
    send(&mut events, final_kind, json!({"response": full}))?;
    events.finish()
}

/// `GET /v1/models`.
pub fn models(stream: &mut TcpStream) -> io::Result<()> {
    let data: Vec<Value> = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "gpt-5"]
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 1_700_000_000u64, "owned_by": "wflo-mock"}))
        .collect();
    write_json(
        stream,
        200,
        &json!({"object": "list", "data": data}).to_string(),
        &[],
    )
}

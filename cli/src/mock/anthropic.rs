//! Anthropic's Messages API: `POST /v1/messages`, streaming with `message_start`,
//! `content_block_*`, cumulative `message_delta` usage and `message_stop`.

use std::io;
use std::net::TcpStream;

use serde_json::{Value, json};

use super::directives::Directives;
use super::http::{EventStream, write_json};
use super::reply::{Reply, build};

/// Answers with an Anthropic-shaped error.
/// `retry`: the retry headers the directives asked for (default `retry-after: 0`).
pub fn error(
    stream: &mut TcpStream,
    status: u16,
    message: &str,
    retry: Option<Vec<(&'static str, String)>>,
) -> io::Result<()> {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": message}}).to_string();
    let mut headers = retry.unwrap_or_else(|| vec![("retry-after", "0".into())]);
    headers.push(("request-id", "req_mock".into()));
    write_json(stream, status, &body, &headers)
}

fn usage(r: &Reply, output_tokens: u64) -> Value {
    json!({
        "input_tokens": r.prompt_tokens - r.cached - r.cache_write_5m - r.cache_write_1h,
        "cache_creation_input_tokens": r.cache_write_5m + r.cache_write_1h,
        "cache_read_input_tokens": r.cached,
        "cache_creation": {"ephemeral_5m_input_tokens": r.cache_write_5m, "ephemeral_1h_input_tokens": r.cache_write_1h},
        "output_tokens": output_tokens,
        "service_tier": "standard"
    })
}

/// Everything an Anthropic request counts as prompt: the system prompt, then the messages.
fn prompt_messages(body: &Value) -> Value {
    let mut msgs = Vec::new();
    if let Some(system) = body.get("system") {
        msgs.push(json!({"role": "system", "content": system}));
    }
    if let Some(Value::Array(m)) = body.get("messages") {
        msgs.extend(m.iter().cloned());
    }
    Value::Array(msgs)
}

/// `POST /v1/messages`.
pub fn messages(stream: &mut TcpStream, body: &Value, d: &Directives, id: u64) -> io::Result<()> {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let Some(max) = body.get("max_tokens").and_then(Value::as_u64) else {
        return error(stream, 400, "max_tokens: Field required", None);
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return error(stream, 400, "messages: Field required", None);
    }
    let r = build(model, &prompt_messages(body), Some(max), d);
    let output_tokens = r.output_tokens + r.reasoning_tokens;
    let msg_id = format!("msg_mock{id}");
    let stop_reason = if r.tool.is_some() {
        "tool_use"
    } else if r.truncated {
        "max_tokens"
    } else {
        "end_turn"
    };
    let mut content = Vec::new();
    if r.reasoning_tokens > 0 {
        content.push(json!({"type": "thinking", "thinking": r.reasoning_text, "signature": "mock-signature"}));
    }
    match &r.tool {
        Some((name, args)) => content.push(
            json!({"type": "tool_use", "id": "toolu_mock1", "name": name,
            "input": serde_json::from_str::<Value>(args).unwrap_or(Value::Null)}),
        ),
        None => content.push(json!({"type": "text", "text": r.text})),
    }
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !streaming {
        let resp = json!({
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": null, "usage": usage(&r, output_tokens)
        });
        return write_json(
            stream,
            200,
            &resp.to_string(),
            &[("request-id", "req_mock".into())],
        );
    }
    let mut events = EventStream::start(stream, &[("request-id", "req_mock".into())])?;
    let send = |events: &mut EventStream<'_>, kind: &str, mut data: Value| {
        data["type"] = kind.into();
        events.send(Some(kind), &data.to_string())
    };
    let start = json!({"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null, "usage": usage(&r, 1)});
    send(&mut events, "message_start", json!({"message": start}))?;
    let mut index = 0;
    if r.reasoning_tokens > 0 {
        send(
            &mut events,
            "content_block_start",
            json!({"index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        )?;
        send(
            &mut events,
            "content_block_delta",
            json!({"index": index, "delta": {"type": "thinking_delta", "thinking": r.reasoning_text}}),
        )?;
        send(
            &mut events,
            "content_block_delta",
            json!({"index": index, "delta": {"type": "signature_delta", "signature": "mock-signature"}}),
        )?;
        send(&mut events, "content_block_stop", json!({"index": index}))?;
        index += 1;
    }
    match &r.tool {
        Some((name, args)) => {
            send(
                &mut events,
                "content_block_start",
                json!({"index": index, "content_block": {"type": "tool_use", "id": "toolu_mock1", "name": name, "input": {}}}),
            )?;
            send(
                &mut events,
                "content_block_delta",
                json!({"index": index, "delta": {"type": "input_json_delta", "partial_json": args}}),
            )?;
        }
        None => {
            send(
                &mut events,
                "content_block_start",
                json!({"index": index, "content_block": {"type": "text", "text": ""}}),
            )?;
            send(&mut events, "ping", json!({}))?;
            for (sent, piece) in r.pieces.iter().enumerate() {
                if d.reset_after == Some(sent as u64) {
                    events.reset();
                    return Ok(());
                }
                send(
                    &mut events,
                    "content_block_delta",
                    json!({"index": index, "delta": {"type": "text_delta", "text": piece}}),
                )?;
            }
        }
    }
    if d.reset_after.is_some() {
        events.reset();
        return Ok(());
    }
    send(&mut events, "content_block_stop", json!({"index": index}))?;
    if d.cut_usage {
        return events.finish();
    }
    send(
        &mut events,
        "message_delta",
        json!({"delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output_tokens}}),
    )?;
    send(&mut events, "message_stop", json!({}))?;
    events.finish()
}

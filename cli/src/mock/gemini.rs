//! Google's Gemini API (the Gen AI SDKs' `generativelanguage` wire format):
//! `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` (server-sent
//! `GenerateContentResponse` chunks, `usageMetadata` in the last) and `:countTokens`. `/v1/`
//! is served the same as `/v1beta/`.
//!
//! Usage is Gemini's: `promptTokenCount` includes `cachedContentTokenCount`;
//! `candidatesTokenCount` is the visible reply, `thoughtsTokenCount` the reasoning (a part with
//! `thought: true`), and `totalTokenCount` their sum.

use std::io;
use std::net::TcpStream;

use serde_json::{Value, json};

use super::directives::Directives;
use super::http::{EventStream, write_json};
use super::reply::{Reply, build, content_text};

/// A Gemini method the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Generate,
    Stream,
    CountTokens,
}

impl Method {
    /// The stats kind requests of this method are counted under.
    pub fn kind(self) -> &'static str {
        match self {
            Method::Generate | Method::Stream => "generateContent",
            Method::CountTokens => "countTokens",
        }
    }
}

/// `/v1beta/models/{model}:{method}` (query already removed) → the model and the method.
/// Tuned models (`tunedModels/…`) are served as models too.
pub fn route(path: &str) -> Option<(&str, Method)> {
    let rest = path
        .strip_prefix("/v1beta/")
        .or_else(|| path.strip_prefix("/v1/"))?;
    let rest = rest
        .strip_prefix("models/")
        .or_else(|| rest.strip_prefix("tunedModels/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream,
        "countTokens" => Method::CountTokens,
        _ => return None,
    };
    Some((model, method))
}

/// Answers with a Gemini-shaped error (`{"error": {code, message, status}}`).
/// `retry`: the retry headers the directives asked for (none by default: Gemini sends none).
pub fn error(
    stream: &mut TcpStream,
    status: u16,
    message: &str,
    retry: Option<Vec<(&'static str, String)>>,
) -> io::Result<()> {
    let kind = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    let body = json!({"error": {"code": status, "message": message, "status": kind}}).to_string();
    write_json(stream, status, &body, &retry.unwrap_or_default())
}

/// The request's system instruction and contents as chat messages (`model` → `assistant`),
/// for counting the prompt.
fn prompt_messages(body: &Value) -> Value {
    let mut msgs = Vec::new();
    let system = body
        .get("systemInstruction")
        .or_else(|| body.get("system_instruction"));
    if let Some(sys) = system {
        msgs.push(json!({"role": "system", "content": parts_text(sys)}));
    }
    match body.get("contents") {
        Some(Value::Array(items)) => {
            for item in items {
                let role = match item.get("role").and_then(Value::as_str) {
                    Some("model") => "assistant",
                    Some(r) => r,
                    None => "user",
                };
                msgs.push(json!({"role": role, "content": parts_text(item)}));
            }
        }
        Some(Value::String(s)) => msgs.push(json!({"role": "user", "content": s})),
        Some(other @ Value::Object(_)) => {
            msgs.push(json!({"role": "user", "content": parts_text(other)}))
        }
        _ => {}
    }
    Value::Array(msgs)
}

/// The text of a `Content` (`{parts: [{text}, …]}`), or of a bare string or part list.
fn parts_text(content: &Value) -> String {
    content_text(content.get("parts").unwrap_or(content))
}

fn generation_config(body: &Value) -> Option<&Value> {
    body.get("generationConfig")
        .or_else(|| body.get("generation_config"))
}

fn max_output(body: &Value) -> Option<u64> {
    let cfg = generation_config(body)?;
    cfg.get("maxOutputTokens")
        .or_else(|| cfg.get("max_output_tokens"))
        .and_then(Value::as_u64)
}

fn usage(r: &Reply) -> Value {
    json!({
        "promptTokenCount": r.prompt_tokens,
        "candidatesTokenCount": r.output_tokens,
        "cachedContentTokenCount": r.cached,
        "thoughtsTokenCount": r.reasoning_tokens,
        "totalTokenCount": r.prompt_tokens + r.output_tokens + r.reasoning_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": r.prompt_tokens}],
    })
}

fn finish_reason(r: &Reply) -> &'static str {
    if r.truncated { "MAX_TOKENS" } else { "STOP" }
}

/// One `GenerateContentResponse`: `parts` of the reply, a finish reason when it ends, usage
/// when given.
fn response(
    model: &str,
    id: &str,
    parts: Vec<Value>,
    finish: Option<&str>,
    usage: Option<Value>,
) -> Value {
    let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        cand["finishReason"] = f.into();
    }
    let mut resp = json!({"candidates": [cand], "modelVersion": model, "responseId": id});
    if let Some(u) = usage {
        resp["usageMetadata"] = u;
    }
    resp
}

/// Serves one Gemini request; `model` and `method` come from [`route`].
pub fn serve(
    stream: &mut TcpStream,
    model: &str,
    method: Method,
    body: &Value,
    d: &Directives,
    id: u64,
) -> io::Result<()> {
    if method == Method::CountTokens {
        // `{contents}` or `{generateContentRequest: {model, contents, …}}`.
        let req = body.get("generateContentRequest").unwrap_or(body);
        let r = build(model, &prompt_messages(req), Some(0), d);
        let resp = json!({"totalTokens": r.prompt_tokens, "cachedContentTokenCount": r.cached,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": r.prompt_tokens}]});
        return write_json(stream, 200, &resp.to_string(), &[]);
    }
    if body.get("contents").is_none_or(|c| c.is_null()) {
        return error(
            stream,
            400,
            "* GenerateContentRequest.contents: contents is not specified",
            None,
        );
    }
    let r = build(model, &prompt_messages(body), max_output(body), d);
    let resp_id = format!("mock-gemini-{id}");
    let mut thought = Vec::new();
    if r.reasoning_tokens > 0 {
        thought.push(json!({"text": r.reasoning_text, "thought": true}));
    }
    let answer = match &r.tool {
        Some((name, args)) => json!({"functionCall": {"name": name,
            "args": serde_json::from_str::<Value>(args).unwrap_or(Value::Null)}}),
        None => json!({"text": r.text}),
    };
    if method == Method::Generate {
        let mut parts = thought;
        parts.push(answer);
        let resp = response(
            model,
            &resp_id,
            parts,
            Some(finish_reason(&r)),
            Some(usage(&r)),
        );
        return write_json(stream, 200, &resp.to_string(), &[]);
    }
    let mut events = EventStream::start(stream, &[])?;
    let send = |events: &mut EventStream<'_>, v: Value| {
        // Gemini's SSE: `data: …` lines separated by CRLF pairs, no event names.
        events.send_text(&format!("data: {v}\r\n\r\n"))
    };
    if !thought.is_empty() {
        send(&mut events, response(model, &resp_id, thought, None, None))?;
    }
    match &r.tool {
        Some(_) => send(
            &mut events,
            response(model, &resp_id, vec![answer], None, None),
        )?,
        None => {
            for (sent, piece) in r.pieces.iter().enumerate() {
                if d.reset_after == Some(sent as u64) {
                    events.reset();
                    return Ok(());
                }
                send(
                    &mut events,
                    response(model, &resp_id, vec![json!({"text": piece})], None, None),
                )?;
            }
        }
    }
    if d.reset_after.is_some() {
        events.reset();
        return Ok(());
    }
    if d.cut_usage {
        // Ends cleanly, but neither the finish reason nor the usage ever arrives.
        return events.finish();
    }
    let last = response(
        model,
        &resp_id,
        vec![json!({"text": ""})],
        Some(finish_reason(&r)),
        Some(usage(&r)),
    );
    send(&mut events, last)?;
    events.finish()
}

#[cfg(test)]
mod tests {
    use super::super::MockServer;
    use super::*;
    use wflo_core::usage::{StreamAccumulator, UsageFormat, parse_usage_value};
    use wflo_core::{PriceCatalog, RequestOptions, request::read_request};

    fn post(url: &str, body: &Value, header: Option<&str>) -> (u16, String) {
        let mut req = ureq::post(url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("content-type", "application/json");
        if let Some(h) = header {
            req = req.header("x-mock", h);
        }
        let mut resp = req.send(body.to_string()).unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    }

    fn stats(server: &MockServer) -> Value {
        serde_json::from_str(&server.stats_json()).unwrap()
    }

    fn request() -> Value {
        json!({
            "systemInstruction": {"parts": [{"text": "You are terse."}]},
            "contents": [{"role": "user", "parts": [{"text": "Name three tokenizers."}]}],
            "generationConfig": {"maxOutputTokens": 64}
        })
    }

    #[test]
    fn routes() {
        assert_eq!(
            route("/v1beta/models/gemini-2.5-flash:generateContent"),
            Some(("gemini-2.5-flash", Method::Generate))
        );
        assert_eq!(
            route("/v1/models/gemini-2.5-pro:streamGenerateContent"),
            Some(("gemini-2.5-pro", Method::Stream))
        );
        assert_eq!(
            route("/v1beta/models/g:countTokens"),
            Some(("g", Method::CountTokens))
        );
        assert_eq!(route("/v1beta/models/g:embedContent"), None);
        assert_eq!(route("/v1/chat/completions"), None);
    }

    #[test]
    fn generate_content_usage_is_wflos_count_and_parses_in_core() {
        let server = MockServer::start("127.0.0.1", 0, false).unwrap();
        let base = format!("http://{}", server.addr());
        let model = "gemini-2.5-flash";
        let body = request();
        let (status, text) = post(
            &format!("{base}/v1beta/models/{model}:generateContent"),
            &body,
            Some("cached=3,reasoning=5,reply=10"),
        );
        assert_eq!(status, 200, "{text}");
        let resp: Value = serde_json::from_str(&text).unwrap();
        let u = &resp["usageMetadata"];
        // The prompt as core reads the same request.
        let plan = read_request(
            &PriceCatalog::default(),
            UsageFormat::Gemini,
            &body,
            &RequestOptions {
                model: Some(model.into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(u["promptTokenCount"].as_u64(), Some(plan.input_tokens));
        let parts = resp["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap();
        assert_eq!(parts[0]["thought"], true);
        let reply = parts[1]["text"].as_str().unwrap();
        let counted = wflo_core::tokens::count_text(model, reply).tokens;
        assert_eq!(u["candidatesTokenCount"].as_u64(), Some(counted));
        assert_eq!(resp["candidates"][0]["finishReason"], "STOP");
        let usage = parse_usage_value(UsageFormat::Gemini, &resp).unwrap();
        assert_eq!(usage.input, plan.input_tokens - 3);
        assert_eq!(usage.cache_read, 3);
        assert_eq!(usage.reasoning, 5);
        assert_eq!(usage.output, counted);
        assert_eq!(
            u["totalTokenCount"].as_u64(),
            Some(plan.input_tokens + counted + 5)
        );
        assert_eq!(stats(&server)["generateContent"], 1);
    }

    /// The SSE stream, parsed as the SDKs do (`data:` lines), fed to core's accumulator.
    fn stream_events(text: &str) -> Vec<Value> {
        text.split("\r\n\r\n")
            .filter_map(|e| e.trim().strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn stream_usage_comes_last_and_matches_the_plain_answer() {
        let server = MockServer::start("127.0.0.1", 0, false).unwrap();
        let base = format!("http://{}/mock/reply=12", server.addr());
        let model = "gemini-2.5-flash";
        let (_, plain) = post(
            &format!("{base}/v1beta/models/{model}:generateContent"),
            &request(),
            None,
        );
        let plain: Value = serde_json::from_str(&plain).unwrap();
        let (status, text) = post(
            &format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse"),
            &request(),
            None,
        );
        assert_eq!(status, 200);
        let events = stream_events(&text);
        assert!(events.len() > 2);
        let (last, rest) = events.split_last().unwrap();
        assert!(rest.iter().all(|e| e.get("usageMetadata").is_none()));
        assert_eq!(last["usageMetadata"], plain["usageMetadata"]);
        let mut acc = StreamAccumulator::new(UsageFormat::Gemini).unwrap();
        for e in &events {
            acc.push(e).unwrap();
        }
        let out = acc.finish();
        assert!(out.complete);
        assert_eq!(
            out.usage,
            Some(parse_usage_value(UsageFormat::Gemini, &plain).unwrap())
        );
        assert_eq!(
            out.text,
            plain["candidates"][0]["content"]["parts"][0]["text"]
        );
        let s = stats(&server);
        assert_eq!(
            (
                s["generateContent"].clone(),
                s["generateContent.stream"].clone()
            ),
            (json!(2), json!(1))
        );
    }

    #[test]
    fn a_cut_stream_has_no_usage_and_faults_are_gemini_errors() {
        let server = MockServer::start("127.0.0.1", 0, false).unwrap();
        let base = format!("http://{}", server.addr());
        let url = format!("{base}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        let (_, text) = post(&url, &request(), Some("cut=usage"));
        let mut acc = StreamAccumulator::new(UsageFormat::Gemini).unwrap();
        for e in stream_events(&text) {
            acc.push(&e).unwrap();
        }
        let out = acc.finish();
        assert!(out.usage.is_none() && !out.complete && !out.text.is_empty());
        let (status, text) = post(&url, &request(), Some("status=429"));
        assert_eq!(status, 429);
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(e["error"]["status"], "RESOURCE_EXHAUSTED");
        let (status, _) = post(
            &format!("{base}/v1beta/models/gemini-2.5-flash:generateContent"),
            &json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 4}}),
            Some("reply=50"),
        );
        assert_eq!(status, 200);
    }

    #[test]
    fn max_output_tokens_truncates_and_tools_are_function_calls() {
        let server = MockServer::start("127.0.0.1", 0, false).unwrap();
        let url = format!(
            "http://{}/v1beta/models/gemini-2.5-flash:generateContent",
            server.addr()
        );
        let body = json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 4}});
        let (_, text) = post(&url, &body, Some("reply=50"));
        let resp: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(resp["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert!(
            resp["usageMetadata"]["candidatesTokenCount"]
                .as_u64()
                .unwrap()
                <= 4
        );
        let (_, text) = post(&url, &body, Some("tool=search"));
        let resp: Value = serde_json::from_str(&text).unwrap();
        let call = &resp["candidates"][0]["content"]["parts"][0]["functionCall"];
        assert_eq!(call["name"], "search");
        assert!(call["args"]["query"].is_string());
    }

    #[test]
    fn count_tokens_is_the_prompt_of_generate_content() {
        let server = MockServer::start("127.0.0.1", 0, false).unwrap();
        let base = format!("http://{}/v1beta/models/gemini-2.5-flash", server.addr());
        let (_, gen_text) = post(&format!("{base}:generateContent"), &request(), None);
        let gen_resp: Value = serde_json::from_str(&gen_text).unwrap();
        let (status, text) = post(&format!("{base}:countTokens"), &request(), None);
        assert_eq!(status, 200);
        let counted: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            counted["totalTokens"],
            gen_resp["usageMetadata"]["promptTokenCount"]
        );
        let wrapped = json!({"generateContentRequest": request()});
        let (_, text) = post(&format!("{base}:countTokens"), &wrapped, None);
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(again["totalTokens"], counted["totalTokens"]);
        assert_eq!(stats(&server)["countTokens"], 2);
    }
}

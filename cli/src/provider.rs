//! Tracked LLM calls over HTTP for the demo: count the prompt, reserve the worst case, send
//! the request (OpenAI Chat Completions or Anthropic Messages), settle from the response's
//! usage — or release when the provider fails.

use serde_json::{Value, json};
use wflo_core::{CallRecord, CallRequest, CallStatus, Error, Scope, UsageFormat};

/// Which wire format a call speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAiChat,
    AnthropicMessages,
}

/// Where calls go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub openai_base: String,
    pub anthropic_base: String,
    pub api_key: String,
}

/// What a tracked call returned: the reply's text and the call's record.
pub struct Answer {
    pub text: String,
    pub record: CallRecord,
}

/// The failure of a tracked call.
#[derive(Debug)]
pub enum CallError {
    /// The engine refused or failed before anything was sent.
    Engine(Error),
    /// The request was sent and failed.
    Provider(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Engine(e) => write!(f, "{e}"),
            CallError::Provider(m) => write!(f, "provider error: {m}"),
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

/// Makes one tracked, non-streamed call.
pub fn call(
    scope: &Scope,
    endpoint: &Endpoint,
    api: Api,
    model: &str,
    prompt: &str,
    max_tokens: u64,
    clamp: bool,
) -> Result<Answer, CallError> {
    let messages = json!([{"role": "user", "content": prompt}]);
    let engine_count =
        wflo_core::tokens::count_chat(model, &messages).map_err(CallError::Engine)?;
    let mut reservation = scope
        .reserve(&CallRequest {
            model,
            input_tokens: engine_count.tokens,
            input_estimated: Some(engine_count.estimated),
            max_output_tokens: Some(max_tokens),
            clamp_max_tokens: clamp,
            ..Default::default()
        })
        .map_err(CallError::Engine)?;
    // Only now does the request leave the process.
    let (url, body, format) = match api {
        Api::OpenAiChat => (
            format!("{}/chat/completions", endpoint.openai_base),
            json!({"model": model, "messages": messages, "max_tokens": reservation.max_output_tokens()}),
            UsageFormat::OpenAiChat,
        ),
        Api::AnthropicMessages => (
            format!("{}/v1/messages", endpoint.anthropic_base),
            json!({"model": model, "messages": messages, "max_tokens": reservation.max_output_tokens()}),
            UsageFormat::Anthropic,
        ),
    };
    let response = agent()
        .post(&url)
        .header("authorization", &format!("Bearer {}", endpoint.api_key))
        .header("x-api-key", &endpoint.api_key)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .send(body.to_string());
    let mut response = match response {
        Ok(r) => r,
        Err(e) => {
            let _ = reservation.release(CallStatus::Error, Some(&e.to_string()));
            return Err(CallError::Provider(e.to_string()));
        }
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if status != 200 {
        let _ = reservation.release(CallStatus::Error, Some(&format!("HTTP {status}")));
        return Err(CallError::Provider(format!("HTTP {status}: {text}")));
    }
    let record = reservation
        .settle_json(format, &text)
        .map_err(CallError::Engine)?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let answer = match api {
        Api::OpenAiChat => value
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str),
        Api::AnthropicMessages => value.pointer("/content/0/text").and_then(Value::as_str),
    };
    Ok(Answer {
        text: answer.unwrap_or_default().to_owned(),
        record,
    })
}

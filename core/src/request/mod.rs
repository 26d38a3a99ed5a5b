//! Provider *requests* → what a reservation needs, and the request as it must be sent.
//!
//! Every integration of every face (the OpenAI and Anthropic wrappers, LangChain, the AI SDK,
//! CrewAI, AutoGen, Go's HTTP middleware) hands the request it is about to send to
//! [`read_request`] (or [`crate::Scope::reserve_request`], which also reserves) and sends
//! what comes back. The rules live here once:
//!
//! - the prompt: messages, system/instructions, tool calls and results, tool definitions and
//!   response schemas (counted as their JSON, flagged estimated), images at the provider's
//!   documented maximum; a part no rule bounds (audio, a PDF) is refused on a limited scope;
//! - the output limit in force (`max_completion_tokens` before `max_tokens`,
//!   `max_output_tokens`, `maxOutputTokens`, `generationConfig.maxOutputTokens`); absent, the
//!   model's maximum output from the price table;
//! - `n` choices: each may use the whole limit, so the worst case is × n;
//! - streaming, and what wflo must change in the request: the limit the reservation covers
//!   (clamped, or made explicit when the request had none) and OpenAI's
//!   `stream_options.include_usage`, without which a chat stream never reports usage;
//! - the provider, from the client's base URL when the integration knows it.

mod prompt;
mod provider;

pub use provider::provider_for_base_url;

use serde_json::{Map, Value};

use crate::UsageFormat;
use crate::error::{Error, Result};
use crate::pricing::{CacheWrite, PriceCatalog};
use crate::tokens;
use prompt::{Flattener, Prompt};

/// Tokens Anthropic adds to the system prompt when a request carries tools (the largest of
/// its documented figures for current models, `tool_choice` auto or none).
pub const ANTHROPIC_TOOL_SYSTEM_TOKENS: u64 = 346;

/// What the integration knows besides the request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestOptions {
    /// The client's base URL: names the provider (api.x.ai → xai).
    pub base_url: Option<String>,
    /// The provider, when the integration knows it without a URL (the AI SDK's
    /// `model.provider`, LangChain's `ls_provider`). The base URL wins when both say.
    pub provider: Option<String>,
    /// The model, when the body does not name it (Gemini's URL, the AI SDK's `model.modelId`).
    pub model: Option<String>,
    /// Whether the call streams, when the body does not say (Gemini, the AI SDK).
    pub stream: Option<bool>,
    /// Lower the output limit to what the budget allows instead of refusing.
    pub clamp_max_tokens: bool,
    /// Which attempt of a retried call this is (a retrier's decision's `attempt`; absent: 1).
    pub attempt: Option<u32>,
    /// Why this attempt is made (the retry decision's `reason`), recorded with the call.
    pub retry_reason: Option<String>,
    /// The agent the call is made for, by the name its framework gives it: a call asked on
    /// the execution reserves on that agent's scope ([`crate::Execution::agent`]); one asked
    /// on a step scope stays on the step (its budget applies, the agent's share does not).
    pub agent: Option<String>,
    /// The caller could not see the call's request and describes it itself: a tracking
    /// decorator (`@track_llm_call`, `trackLlmCall`, …) reserving up front from the function's
    /// arguments. A refusal then says how the call was sized and how to make it precise.
    pub upfront: bool,
}

impl RequestOptions {
    /// Options as JSON (`{"base_url": …, "clamp_max_tokens": true}`); empty text is none.
    pub fn from_json(text: &str) -> Result<RequestOptions> {
        if text.trim().is_empty() {
            return Ok(RequestOptions::default());
        }
        serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("request options are not valid: {e}")))
    }
}

/// A request as read: what to reserve, and where its output limit lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestPlan {
    /// The model as the request names it.
    pub model: String,
    /// The name the call is priced and recorded as (`xai/grok-4` for `grok-4` sent to xAI).
    pub price_model: String,
    pub provider: String,
    /// Prompt tokens (messages, tools, schemas, images).
    pub input_tokens: u64,
    /// The count approximates what the provider bills (another tokenizer, tools, images).
    pub input_estimated: bool,
    /// Of `input_tokens`, those assumed for images and files (the provider's documented
    /// maximum per image).
    pub media_tokens: u64,
    /// The output limit the request sets per choice, if it sets one.
    pub max_output_tokens: Option<u64>,
    /// Choices asked for (`n`, `candidateCount`): each may use the whole limit.
    pub choices: u64,
    pub stream: bool,
    pub cache_write: CacheWrite,
    /// Where the output limit is (or must be) written: a key path in the body.
    #[serde(skip)]
    limit_path: &'static [&'static str],
    /// A part whose tokens no rule bounds; refused when a budget applies.
    pub unbounded: Option<String>,
    /// The request asked for `include_usage` itself (so the usage chunk is the caller's).
    pub usage_requested: bool,
    #[serde(skip)]
    format: UsageFormat,
}

/// Reads a provider request. `format` is the API the body is written for: `openai_chat`,
/// `openai_responses`, `anthropic`, `gemini`, `langchain` (a chat model's messages and
/// invocation parameters) or `ai_sdk` (a language model's call options).
pub fn read_request(
    prices: &PriceCatalog,
    format: UsageFormat,
    body: &Value,
    options: &RequestOptions,
) -> Result<RequestPlan> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::invalid("a request body must be a JSON object"))?;
    let model = model_of(format, obj, options)?;
    let provider = provider_of(prices, format, obj, options, &model);
    let mut flat = Flattener::new(&provider, &model);
    let (limit_path, max_output, choices, stream) = match format {
        UsageFormat::OpenAiChat => openai_chat(obj, &mut flat)?,
        UsageFormat::OpenAiResponses => openai_responses(obj, &mut flat)?,
        UsageFormat::Anthropic => anthropic(obj, &mut flat)?,
        UsageFormat::Gemini => gemini(obj, &mut flat)?,
        UsageFormat::LangChain => langchain(obj, &mut flat)?,
        UsageFormat::AiSdk => ai_sdk(obj, &mut flat)?,
        UsageFormat::Auto | UsageFormat::Wflo => {
            return Err(Error::invalid(
                "a request format must be openai_chat, openai_responses, anthropic, gemini, \
                 langchain or ai_sdk",
            ));
        }
    };
    let stream = options.stream.unwrap_or(false) || stream;
    let limit_path = match (format, limit_path) {
        // No limit given: OpenAI's own API wants max_completion_tokens (reasoning models
        // refuse max_tokens); OpenAI-compatible servers know max_tokens.
        (UsageFormat::OpenAiChat, None) if matches!(provider.as_str(), "openai" | "azure") => {
            &["max_completion_tokens"][..]
        }
        (UsageFormat::OpenAiChat, None) => &["max_tokens"][..],
        (_, Some(p)) => p,
        (UsageFormat::OpenAiResponses, None) => &["max_output_tokens"][..],
        (UsageFormat::Anthropic, None) => &["max_tokens"][..],
        (UsageFormat::Gemini, None) => &["generationConfig", "maxOutputTokens"][..],
        (UsageFormat::AiSdk, None) => &["maxOutputTokens"][..],
        (_, None) => &["max_tokens"][..],
    };
    let cache_write = match format {
        UsageFormat::Anthropic => anthropic_cache_write(obj),
        _ => CacheWrite::None,
    };
    let usage_requested = obj
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true);
    let price_model = price_name(prices, format, &provider, &model);
    let Prompt {
        messages,
        texts,
        extra,
        media_tokens,
        approximate,
        unbounded,
    } = flat.prompt;
    // A completion prompt is plain text: no chat framing around it.
    let counted = if messages.is_empty() && !texts.is_empty() {
        tokens::TokenCount {
            tokens: 0,
            ..tokens::count_text(&price_model, "")
        }
    } else {
        tokens::count_chat(&price_model, &Value::Array(messages))?
    };
    let mut input = counted.tokens.saturating_add(media_tokens);
    for text in &texts {
        input = input.saturating_add(tokens::count_text(&price_model, text).tokens);
    }
    for text in &extra {
        input = input.saturating_add(tokens::count_text(&price_model, text).tokens);
    }
    if format == UsageFormat::Anthropic && obj.get("tools").is_some_and(has_items) {
        input = input.saturating_add(ANTHROPIC_TOOL_SYSTEM_TOKENS);
    }
    Ok(RequestPlan {
        model,
        price_model,
        provider,
        input_tokens: input,
        input_estimated: counted.estimated || approximate,
        media_tokens,
        max_output_tokens: max_output,
        choices,
        stream,
        cache_write,
        limit_path,
        unbounded,
        usage_requested,
        format,
    })
}

impl RequestPlan {
    /// The output cap for all choices together, given the model's maximum per choice.
    pub fn total_output_cap(&self, model_max: Option<u64>) -> Option<u64> {
        self.max_output_tokens
            .or(model_max)
            .map(|per| per.saturating_mul(self.choices.max(1)))
    }

    /// The body to send: the output limit set to `cap_per_choice` when it is lower than
    /// asked or the request set none (so the provider cannot produce more than was reserved),
    /// and `include_usage` on an OpenAI chat stream. LangChain's parameters are not a wire
    /// body and stay as they are.
    pub fn rewrite(&self, body: &mut Value, cap_per_choice: Option<u64>) {
        if self.format == UsageFormat::LangChain {
            return;
        }
        if let Some(cap) = cap_per_choice {
            if self.max_output_tokens.is_none_or(|asked| cap < asked) {
                set_path(body, self.limit_path, Value::from(cap));
            }
        }
        if self.format == UsageFormat::OpenAiChat && self.stream {
            if let Some(obj) = body.as_object_mut() {
                let opts = obj
                    .entry("stream_options")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !opts.is_object() {
                    *opts = Value::Object(Map::new());
                }
                opts["include_usage"] = Value::Bool(true);
            }
        }
    }

    /// The key path of the output limit in the body (`["generationConfig", "maxOutputTokens"]`).
    pub fn limit_path(&self) -> &'static [&'static str] {
        self.limit_path
    }
}

fn has_items(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

fn set_path(body: &mut Value, path: &[&str], value: Value) {
    let Some((last, head)) = path.split_last() else {
        return;
    };
    let mut at = body;
    for key in head {
        let Some(obj) = at.as_object_mut() else {
            return;
        };
        let next = obj
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        at = next;
    }
    if let Some(obj) = at.as_object_mut() {
        obj.insert(last.to_string(), value);
    }
}

fn model_of(
    format: UsageFormat,
    obj: &Map<String, Value>,
    opts: &RequestOptions,
) -> Result<String> {
    let keys: &[&str] = match format {
        UsageFormat::LangChain => &[
            "model",
            "model_name",
            "modelName",
            "ls_model_name",
            "model_id",
            "modelId",
        ],
        UsageFormat::AiSdk => &["modelId", "model"],
        _ => &["model"],
    };
    let from_body = keys.iter().find_map(|k| {
        obj.get(*k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    });
    let model = opts
        .model
        .as_deref()
        .filter(|m| !m.is_empty())
        .or(from_body);
    let model = model.ok_or_else(|| {
        Error::invalid("the request names no model: wflo prices a call by its model")
    })?;
    // Gemini's REST names are `models/gemini-2.5-flash`.
    Ok(model.strip_prefix("models/").unwrap_or(model).to_owned())
}

fn provider_of(
    prices: &PriceCatalog,
    format: UsageFormat,
    obj: &Map<String, Value>,
    opts: &RequestOptions,
    model: &str,
) -> String {
    if let Some(p) = opts.base_url.as_deref().and_then(provider_for_base_url) {
        return p.to_owned();
    }
    let named = opts.provider.as_deref().or_else(|| match format {
        UsageFormat::LangChain => obj.get("ls_provider").and_then(Value::as_str),
        UsageFormat::AiSdk => obj.get("provider").and_then(Value::as_str),
        _ => None,
    });
    match named.map(provider::canonical_provider) {
        Some(p) if !p.is_empty() => p,
        // LangChain's and the AI SDK's formats belong to no provider: the model's own, from
        // the price table (a Claude model is Anthropic's), else OpenAI's.
        _ if matches!(format, UsageFormat::LangChain | UsageFormat::AiSdk) => prices
            .resolve(model)
            .map(|m| m.provider.to_string())
            .unwrap_or_else(|_| provider::default_provider(format).to_owned()),
        _ => provider::default_provider(format).to_owned(),
    }
}

/// The name to price a model as: under the provider's prefix when the request goes to a
/// provider other than the format's own, the table has the model there, and the bare name
/// would price as another provider's model (`grok-4` alone resolves to a reseller's entry).
fn price_name(prices: &PriceCatalog, format: UsageFormat, provider: &str, model: &str) -> String {
    if model.contains('/') || provider == provider::default_provider(format) {
        return model.to_owned();
    }
    // Only a name the table has as it is: resolving would strip an unknown prefix again and
    // record a provider/model pair that exists nowhere.
    let qualified = format!("{provider}/{model}");
    if !prices.has_exact(&qualified) {
        return model.to_owned();
    }
    // The bare name already prices as this provider's model: keep the name as written.
    match prices.resolve(model) {
        Ok(m) if *m.provider == *provider => model.to_owned(),
        _ => qualified,
    }
}

type Read = (Option<&'static [&'static str]>, Option<u64>, u64, bool);

/// A positive integer field: absent or null is none; anything else is refused (the request
/// would be refused by the provider too, after the budget trusted it).
fn count_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(Error::invalid(format!(
                "the request's '{key}' must be a positive integer, got {v}"
            ))),
        },
    }
}

/// The first limit key present, with its path.
fn limit_of(
    obj: &Map<String, Value>,
    keys: &'static [&'static [&'static str]],
) -> Result<(Option<&'static [&'static str]>, Option<u64>)> {
    for path in keys {
        let (last, head) = path.split_last().expect("non-empty path");
        let mut at = Some(obj);
        for key in head {
            at = at.and_then(|o| o.get(*key)).and_then(Value::as_object);
        }
        if let Some(o) = at {
            if let Some(n) = count_field(o, last)? {
                return Ok((Some(path), Some(n)));
            }
        }
    }
    Ok((None, None))
}

fn stream_of(obj: &Map<String, Value>) -> bool {
    obj.get("stream").and_then(Value::as_bool) == Some(true)
}

fn messages(flat: &mut Flattener<'_>, list: Option<&Value>) -> Result<()> {
    match list {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for item in items {
                let m = item
                    .as_object()
                    .ok_or_else(|| Error::invalid("each message must be a JSON object"))?;
                let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                flat.message(role, m.get("content").unwrap_or(&Value::Null), Some(m));
            }
            Ok(())
        }
        Some(_) => Err(Error::invalid("'messages' must be a JSON array")),
    }
}

fn openai_chat(obj: &Map<String, Value>, flat: &mut Flattener<'_>) -> Result<Read> {
    messages(flat, obj.get("messages"))?;
    for key in ["tools", "functions"] {
        flat.extra(obj.get(key).unwrap_or(&Value::Null));
    }
    if let Some(Value::Object(rf)) = obj.get("response_format") {
        if rf.get("type").and_then(Value::as_str) != Some("text") {
            flat.extra(&Value::Object(rf.clone()));
        }
    }
    let (path, max) = limit_of(obj, &[&["max_completion_tokens"], &["max_tokens"]])?;
    let n = count_field(obj, "n")?.unwrap_or(1);
    Ok((path, max, n, stream_of(obj)))
}

fn openai_responses(obj: &Map<String, Value>, flat: &mut Flattener<'_>) -> Result<Read> {
    if let Some(Value::String(s)) = obj.get("instructions") {
        flat.message("system", &Value::String(s.clone()), None);
    }
    match obj.get("input") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => flat.message("user", &Value::String(s.clone()), None),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::Object(m) if m.contains_key("role") => {
                        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                        flat.message(role, m.get("content").unwrap_or(&Value::Null), Some(m));
                    }
                    // function_call, function_call_output, reasoning … items.
                    other => flat.message("assistant", other, None),
                }
            }
        }
        Some(_) => return Err(Error::invalid("'input' must be a string or an array")),
    }
    flat.extra(obj.get("tools").unwrap_or(&Value::Null));
    if let Some(Value::Object(format)) = obj.get("text").and_then(|t| t.get("format")) {
        if format.get("type").and_then(Value::as_str) != Some("text") {
            flat.extra(&Value::Object(format.clone()));
        }
    }
    let (path, max) = limit_of(obj, &[&["max_output_tokens"]])?;
    Ok((path, max, 1, stream_of(obj)))
}

fn anthropic(obj: &Map<String, Value>, flat: &mut Flattener<'_>) -> Result<Read> {
    match obj.get("system") {
        None | Some(Value::Null) => {}
        Some(s) => flat.message("system", s, None),
    }
    messages(flat, obj.get("messages"))?;
    flat.extra(obj.get("tools").unwrap_or(&Value::Null));
    let (path, max) = limit_of(obj, &[&["max_tokens"]])?;
    Ok((path, max, 1, stream_of(obj)))
}

/// The dearest cache write the request asks for: any `cache_control` mark (top level, system,
/// messages, tools) is a 5-minute write unless it says `ttl: "1h"`.
fn anthropic_cache_write(obj: &Map<String, Value>) -> CacheWrite {
    fn walk(v: &Value, found: &mut CacheWrite) {
        match v {
            Value::Object(o) => {
                for (k, inner) in o {
                    if k == "cache_control" && inner.is_object() {
                        if inner.get("ttl").and_then(Value::as_str) == Some("1h") {
                            *found = CacheWrite::OneHour;
                        } else if *found == CacheWrite::None {
                            *found = CacheWrite::FiveMinutes;
                        }
                    } else {
                        walk(inner, found);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, found)),
            _ => {}
        }
    }
    let mut found = CacheWrite::None;
    for key in ["cache_control", "system", "messages", "tools"] {
        if let Some(v) = obj.get(key) {
            if key == "cache_control" {
                let mut top = Map::new();
                top.insert(key.into(), v.clone());
                walk(&Value::Object(top), &mut found);
            } else {
                walk(v, &mut found);
            }
        }
    }
    found
}

fn gemini(obj: &Map<String, Value>, flat: &mut Flattener<'_>) -> Result<Read> {
    if let Some(sys) = obj
        .get("systemInstruction")
        .or_else(|| obj.get("system_instruction"))
    {
        flat.message("system", sys.get("parts").unwrap_or(sys), None);
    }
    match obj.get("contents") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let role = match item.get("role").and_then(Value::as_str) {
                    Some("model") => "assistant",
                    Some(r) => r,
                    None => "user",
                };
                flat.message(role, item.get("parts").unwrap_or(item), None);
            }
        }
        // A single content or plain text.
        Some(other) => flat.message("user", other.get("parts").unwrap_or(other), None),
    }
    flat.extra(obj.get("tools").unwrap_or(&Value::Null));
    let config = obj
        .get("generationConfig")
        .or_else(|| obj.get("generation_config"))
        .and_then(Value::as_object);
    if let Some(cfg) = config {
        for key in ["responseSchema", "responseJsonSchema", "response_schema"] {
            flat.extra(cfg.get(key).unwrap_or(&Value::Null));
        }
    }
    let (path, max) = limit_of(
        obj,
        &[
            &["generationConfig", "maxOutputTokens"],
            &["generation_config", "max_output_tokens"],
        ],
    )?;
    let n = match config {
        Some(cfg) => count_field(cfg, "candidateCount")?
            .or(count_field(cfg, "candidate_count")?)
            .unwrap_or(1),
        None => 1,
    };
    Ok((path, max, n, false))
}

/// LangChain's message types and the roles they stand for.
fn langchain_role(m: &Map<String, Value>) -> String {
    let kind = m
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| m.get("role").and_then(Value::as_str))
        .unwrap_or("user");
    match kind {
        "human" | "HumanMessage" | "HumanMessageChunk" => "user",
        "ai" | "AIMessage" | "AIMessageChunk" => "assistant",
        "system" | "SystemMessage" => "system",
        "tool" | "ToolMessage" => "tool",
        "function" | "FunctionMessage" => "function",
        "chat" | "generic" | "ChatMessage" => {
            m.get("role").and_then(Value::as_str).unwrap_or("user")
        }
        other => other,
    }
    .to_owned()
}

fn langchain(obj: &Map<String, Value>, flat: &mut Flattener<'_>) -> Result<Read> {
    // A completion model's prompts (LangChain's `handleLLMStart`): plain strings.
    match obj.get("prompts") {
        None | Some(Value::Null) => {}
        Some(Value::Array(prompts)) => {
            for p in prompts {
                let text = p
                    .as_str()
                    .ok_or_else(|| Error::invalid("each of 'prompts' must be a string"))?;
                flat.prompt.texts.push(text.to_owned());
            }
        }
        Some(_) => return Err(Error::invalid("'prompts' must be an array of strings")),
    }
    // What a tracked function (`track_llm_call`, `trackLlmCall`) was given: a string is the
    // user's message, a list is the messages, an object may carry `messages`.
    let messages = match obj.get("input") {
        Some(Value::String(_)) => Some(Value::Array(vec![obj["input"].clone()])),
        Some(Value::Array(_)) => Some(obj["input"].clone()),
        Some(Value::Object(o)) => o.get("messages").cloned(),
        _ => None,
    };
    match messages.as_ref().or_else(|| obj.get("messages")) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(_) => flat.message("user", item, None),
                    Value::Object(m) => {
                        // The serialised form: {"lc": 1, "type": "constructor", "id": [.., "HumanMessage"], "kwargs": {..}}.
                        let (m, role) = match (m.get("kwargs"), m.get("id")) {
                            (Some(Value::Object(kw)), Some(Value::Array(id))) => {
                                let name = id.last().and_then(Value::as_str).unwrap_or("user");
                                let mut with_type = kw.clone();
                                with_type.insert("type".into(), Value::String(name.into()));
                                let role = langchain_role(&with_type);
                                (kw.clone(), role)
                            }
                            _ => (m.clone(), langchain_role(m)),
                        };
                        flat.message(&role, m.get("content").unwrap_or(&Value::Null), Some(&m));
                    }
                    _ => return Err(Error::invalid("each message must be a JSON object")),
                }
            }
        }
        Some(_) => return Err(Error::invalid("'messages' must be a JSON array")),
    }
    for key in ["tools", "functions"] {
        flat.extra(obj.get(key).unwrap_or(&Value::Null));
    }
    let (path, max) = limit_of(
        obj,
        &[
            &["ls_max_tokens"],
            &["max_tokens"],
            &["max_completion_tokens"],
            &["maxTokens"],
            &["max_output_tokens"],
            &["maxOutputTokens"],
            &["max_tokens_to_sample"],
            &["generationConfig", "maxOutputTokens"],
        ],
    )?;
    let n = count_field(obj, "n")?
        .or(count_field(obj, "candidate_count")?)
        .or(count_field(obj, "candidateCount")?)
        .unwrap_or(1);
    Ok((
        path,
        max,
        n,
        stream_of(obj) || obj.get("streaming").and_then(Value::as_bool) == Some(true),
    ))
}

fn ai_sdk(obj: &Map<String, Value>, flat: &mut Flattener<'_>) -> Result<Read> {
    match obj.get("prompt") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => flat.message("user", &Value::String(s.clone()), None),
        Some(Value::Array(items)) => {
            for item in items {
                let m = item
                    .as_object()
                    .ok_or_else(|| Error::invalid("each prompt message must be a JSON object"))?;
                let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                flat.message(role, m.get("content").unwrap_or(&Value::Null), None);
            }
        }
        Some(_) => return Err(Error::invalid("'prompt' must be a string or an array")),
    }
    if let Some(Value::Array(tools)) = obj.get("tools") {
        // What providers are sent of a tool: its name, description and input schema.
        let sent: Vec<Value> = tools
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.get("name"),
                    "description": t.get("description"),
                    "parameters": t.get("inputSchema").or_else(|| t.get("parameters")),
                })
            })
            .collect();
        if !sent.is_empty() {
            flat.extra(&Value::Array(sent));
        }
    }
    if let Some(Value::Object(rf)) = obj.get("responseFormat") {
        if let Some(schema) = rf.get("schema") {
            flat.extra(schema);
        }
    }
    let (path, max) = limit_of(obj, &[&["maxOutputTokens"]])?;
    Ok((path, max, 1, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(format: UsageFormat, body: Value) -> RequestPlan {
        read_request(
            &PriceCatalog::new(),
            format,
            &body,
            &RequestOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn chat_limit_and_choices() {
        let plan = read(
            UsageFormat::OpenAiChat,
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                   "max_tokens": 50, "n": 3, "stream": true}),
        );
        assert_eq!(plan.max_output_tokens, Some(50));
        assert_eq!(plan.choices, 3);
        assert_eq!(plan.total_output_cap(None), Some(150));
        assert_eq!(plan.limit_path(), &["max_tokens"]);
        let mut body = json!({"model": "gpt-4o-mini", "stream": true});
        plan.rewrite(&mut body, Some(20));
        assert_eq!(body["max_tokens"], 20);
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn gemini_nested_limit_is_written_back() {
        let plan = read(
            UsageFormat::Gemini,
            json!({"model": "models/gemini-2.5-flash", "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        );
        assert_eq!(plan.model, "gemini-2.5-flash");
        let mut body = json!({});
        plan.rewrite(&mut body, Some(64));
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 64);
    }
}

//! Provider usage JSON → [`Usage`]. One function per provider format; the arithmetic that
//! turns overlapping provider counts into disjoint fields lives here and nowhere else.

use serde_json::{Map, Value};

use super::{MAX_TOKENS, Usage};
use crate::error::{Error, Result};

/// The provider formats wflo reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageFormat {
    /// Detect the format from the keys present.
    Auto,
    /// OpenAI Chat Completions (`prompt_tokens` includes cached, `completion_tokens` includes
    /// reasoning).
    OpenAiChat,
    /// OpenAI Responses (`input_tokens`/`output_tokens` with `*_details`).
    OpenAiResponses,
    /// Anthropic Messages (`input_tokens` excludes cache reads and writes).
    Anthropic,
    /// Google Gemini `usageMetadata`.
    Gemini,
    /// wflo's own disjoint fields (`{"input": …, "output": …}`).
    Wflo,
    /// LangChain's `usage_metadata` (`input_tokens` includes cache reads and writes,
    /// `output_tokens` includes reasoning; details in `*_token_details`).
    LangChain,
    /// The Vercel AI SDK's usage (`inputTokens: {total, noCache, cacheRead, cacheWrite}`,
    /// `outputTokens: {total, text, reasoning}`).
    AiSdk,
}

impl UsageFormat {
    /// Parses a format name: `auto`, `openai_chat` (also `openai`), `openai_responses`,
    /// `anthropic`, `gemini` (also `google`), `wflo`.
    pub fn from_name(name: &str) -> Result<UsageFormat> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => UsageFormat::Auto,
            "openai" | "openai_chat" | "openai-chat" | "chat" => UsageFormat::OpenAiChat,
            "openai_responses" | "openai-responses" | "responses" => UsageFormat::OpenAiResponses,
            "anthropic" | "claude" => UsageFormat::Anthropic,
            "gemini" | "google" | "vertex" | "vertex_ai" => UsageFormat::Gemini,
            "wflo" => UsageFormat::Wflo,
            "langchain" | "usage_metadata" => UsageFormat::LangChain,
            "ai_sdk" | "ai-sdk" | "vercel" => UsageFormat::AiSdk,
            other => {
                return Err(Error::invalid(format!(
                    "unknown usage format '{other}' (expected auto, openai_chat, openai_responses, \
                     anthropic, gemini, langchain, ai_sdk or wflo)"
                )));
            }
        })
    }
}

/// Parses raw usage JSON text (a whole response body or just its usage object).
pub fn parse_usage(format: UsageFormat, text: &str) -> Result<Usage> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("usage payload is not valid JSON: {e}")))?;
    parse_usage_value(format, &value)
}

/// Parses an already-decoded usage payload.
pub fn parse_usage_value(format: UsageFormat, value: &Value) -> Result<Usage> {
    let obj = value
        .as_object()
        .ok_or_else(|| Error::invalid("usage payload must be a JSON object"))?;
    let format = match format {
        UsageFormat::Auto => detect(obj)?,
        f => f,
    };
    let usage = match format {
        UsageFormat::OpenAiChat => openai_chat(locate(
            obj,
            "usage",
            &["prompt_tokens", "completion_tokens"],
        )?),
        UsageFormat::OpenAiResponses => openai_responses(locate_responses(obj)?),
        UsageFormat::Anthropic => anthropic(locate_anthropic(obj)?),
        UsageFormat::Gemini => gemini(locate(
            obj,
            "usageMetadata",
            &[
                "promptTokenCount",
                "candidatesTokenCount",
                "totalTokenCount",
            ],
        )?),
        UsageFormat::LangChain => match obj.get("generations") {
            Some(Value::Array(prompts)) => match langchain_result(prompts) {
                Err(e) => langchain_llm_output(obj).unwrap_or(Err(e)),
                found => found,
            },
            _ => langchain(locate(
                obj,
                "usage_metadata",
                &["input_tokens", "output_tokens"],
            )?),
        },
        UsageFormat::AiSdk => ai_sdk(locate(obj, "usage", &["inputTokens", "outputTokens"])?),
        UsageFormat::Wflo => {
            let usage: Usage = serde_json::from_value(value.clone())
                .map_err(|e| Error::invalid(format!("not valid wflo usage JSON: {e}")))?;
            Ok(usage)
        }
        UsageFormat::Auto => unreachable!("resolved above"),
    }?;
    usage.validate()?;
    Ok(usage)
}

/// A LangChain `LLMResult`: the usage of each prompt's generations is on its first message
/// (every choice of one request carries the same figures); prompts add up.
fn langchain_result(prompts: &[Value]) -> Result<Usage> {
    let mut total = Usage::default();
    let mut found = false;
    for gens in prompts {
        let first = gens.as_array().and_then(|g| {
            g.iter().find_map(
                |g| match g.get("message").and_then(|m| m.get("usage_metadata")) {
                    Some(Value::Object(u)) => Some(u),
                    _ => None,
                },
            )
        });
        if let Some(u) = first {
            total.add(&langchain(u)?);
            found = true;
        }
    }
    if found {
        Ok(total)
    } else {
        Err(Error::invalid(
            "the LangChain result carries no usage_metadata",
        ))
    }
}

/// An `LLMResult` whose generations carry no `usage_metadata`: older integrations put the
/// provider's own figures in `llm_output.token_usage` (OpenAI's `prompt_tokens` form) or
/// `llm_output.usage` (Anthropic's).
fn langchain_llm_output(obj: &Map<String, Value>) -> Option<Result<Usage>> {
    let out = obj.get("llm_output")?.as_object()?;
    for key in ["token_usage", "usage"] {
        if let Some(Value::Object(u)) = out.get(key) {
            return Some(parse_usage_value(
                UsageFormat::Auto,
                &Value::Object(u.clone()),
            ));
        }
    }
    None
}

/// Picks the format from the keys present. `{input_tokens, output_tokens}` alone reads the same
/// in the Responses and Anthropic formats, so the choice between them only matters when
/// details are present.
fn detect(obj: &Map<String, Value>) -> Result<UsageFormat> {
    let inner = match obj.get("usage") {
        Some(Value::Object(u)) => u,
        _ => match obj.get("response").and_then(|r| r.get("usage")) {
            Some(Value::Object(u)) => u,
            _ => match obj.get("message").and_then(|m| m.get("usage")) {
                Some(Value::Object(u)) => u,
                _ => obj,
            },
        },
    };
    if obj.contains_key("usage_metadata")
        || inner.contains_key("input_token_details")
        || inner.contains_key("output_token_details")
    {
        return Ok(UsageFormat::LangChain);
    }
    if inner.contains_key("inputTokens") || inner.contains_key("outputTokens") {
        return Ok(UsageFormat::AiSdk);
    }
    if obj.contains_key("usageMetadata") || inner.contains_key("promptTokenCount") {
        return Ok(UsageFormat::Gemini);
    }
    if inner.contains_key("prompt_tokens") || inner.contains_key("completion_tokens") {
        return Ok(UsageFormat::OpenAiChat);
    }
    // Anthropic's own fields first: its SDK also serialises `output_tokens_details: null`.
    if [
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
    ]
    .iter()
    .any(|k| inner.contains_key(*k))
    {
        return Ok(UsageFormat::Anthropic);
    }
    let has_details = |k: &str| inner.get(k).is_some_and(Value::is_object);
    if has_details("input_tokens_details") || has_details("output_tokens_details") {
        return Ok(UsageFormat::OpenAiResponses);
    }
    if inner.contains_key("input_tokens") || inner.contains_key("output_tokens") {
        return Ok(UsageFormat::Anthropic);
    }
    if ["input", "output", "cache_read", "reasoning"]
        .iter()
        .any(|k| inner.contains_key(*k))
    {
        return Ok(UsageFormat::Wflo);
    }
    Err(Error::invalid(
        "payload carries no usage object this engine recognises",
    ))
}

/// The usage object: `obj[key]` when present, else `obj` itself when it has a usage field.
fn locate<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    own_fields: &[&str],
) -> Result<&'a Map<String, Value>> {
    match obj.get(key) {
        Some(Value::Object(u)) => Ok(u),
        Some(Value::Null) | None if own_fields.iter().any(|f| obj.contains_key(*f)) => Ok(obj),
        Some(Value::Null) | None => Err(Error::invalid(format!("payload has no '{key}' object"))),
        Some(_) => Err(Error::invalid(format!("'{key}' must be a JSON object"))),
    }
}

fn locate_responses(obj: &Map<String, Value>) -> Result<&Map<String, Value>> {
    // A `response.completed` stream event wraps the response object.
    if let Some(Value::Object(resp)) = obj.get("response") {
        if resp.contains_key("usage") {
            return locate(resp, "usage", &[]);
        }
    }
    locate(obj, "usage", &["input_tokens", "output_tokens"])
}

fn locate_anthropic(obj: &Map<String, Value>) -> Result<&Map<String, Value>> {
    // A `message_start` stream event wraps the message object.
    if let Some(Value::Object(msg)) = obj.get("message") {
        if msg.contains_key("usage") {
            return locate(msg, "usage", &[]);
        }
    }
    locate(obj, "usage", &["input_tokens", "output_tokens"])
}

/// A token count: missing or null is 0; anything but a non-negative integer is an error.
pub(super) fn count(obj: &Map<String, Value>, key: &str) -> Result<u64> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= MAX_TOKENS => Ok(v),
            Some(v) => Err(Error::invalid(format!(
                "'{key}' = {v} is not a plausible token count"
            ))),
            None => Err(Error::invalid(format!(
                "'{key}' must be a non-negative integer, got {n}"
            ))),
        },
        Some(other) => Err(Error::invalid(format!(
            "'{key}' must be a non-negative integer, got {other}"
        ))),
    }
}

/// A nested details object (`prompt_tokens_details`); missing or null reads as empty.
fn details<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(d)) => Ok(Some(d)),
        Some(_) => Err(Error::invalid(format!("'{key}' must be a JSON object"))),
    }
}

fn detail_count(obj: &Map<String, Value>, details_key: &str, key: &str) -> Result<u64> {
    match details(obj, details_key)? {
        Some(d) => count(d, key),
        None => Ok(0),
    }
}

/// Splits an inclusive total into (plain part, sub part), rejecting sub > total.
fn split_included(total: u64, part: u64, total_name: &str, part_name: &str) -> Result<u64> {
    total.checked_sub(part).ok_or_else(|| {
        Error::invalid(format!(
            "{part_name} ({part}) is larger than {total_name} ({total})"
        ))
    })
}

fn openai_chat(u: &Map<String, Value>) -> Result<Usage> {
    let prompt = count(u, "prompt_tokens")?;
    let completion = count(u, "completion_tokens")?;
    let cached = detail_count(u, "prompt_tokens_details", "cached_tokens")?;
    let reasoning = detail_count(u, "completion_tokens_details", "reasoning_tokens")?;
    Ok(Usage {
        input: split_included(prompt, cached, "prompt_tokens", "cached_tokens")?,
        cache_read: cached,
        output: split_included(
            completion,
            reasoning,
            "completion_tokens",
            "reasoning_tokens",
        )?,
        reasoning,
        ..Usage::default()
    })
}

fn openai_responses(u: &Map<String, Value>) -> Result<Usage> {
    let input = count(u, "input_tokens")?;
    let output = count(u, "output_tokens")?;
    let cached = detail_count(u, "input_tokens_details", "cached_tokens")?;
    let reasoning = detail_count(u, "output_tokens_details", "reasoning_tokens")?;
    Ok(Usage {
        input: split_included(input, cached, "input_tokens", "cached_tokens")?,
        cache_read: cached,
        output: split_included(output, reasoning, "output_tokens", "reasoning_tokens")?,
        reasoning,
        ..Usage::default()
    })
}

pub(super) fn anthropic(u: &Map<String, Value>) -> Result<Usage> {
    let creation_total = count(u, "cache_creation_input_tokens")?;
    // The 5m/1h split when given; tokens the total has beyond the split (a later stream event
    // updating only the total) are billed as 5-minute writes.
    let (write_5m, write_1h) = match details(u, "cache_creation")? {
        Some(c)
            if c.contains_key("ephemeral_5m_input_tokens")
                || c.contains_key("ephemeral_1h_input_tokens") =>
        {
            let (m5, h1) = (
                count(c, "ephemeral_5m_input_tokens")?,
                count(c, "ephemeral_1h_input_tokens")?,
            );
            (m5 + creation_total.saturating_sub(m5 + h1), h1)
        }
        _ => (creation_total, 0),
    };
    Ok(Usage {
        input: count(u, "input_tokens")?,
        output: count(u, "output_tokens")?,
        cache_read: count(u, "cache_read_input_tokens")?,
        cache_write_5m: write_5m,
        cache_write_1h: write_1h,
        reasoning: 0,
    })
}

fn gemini(u: &Map<String, Value>) -> Result<Usage> {
    let prompt = count(u, "promptTokenCount")?;
    let cached = count(u, "cachedContentTokenCount")?;
    let tool_prompt = count(u, "toolUsePromptTokenCount")?;
    Ok(Usage {
        input: split_included(
            prompt,
            cached,
            "promptTokenCount",
            "cachedContentTokenCount",
        )? + tool_prompt,
        cache_read: cached,
        output: count(u, "candidatesTokenCount")?,
        reasoning: count(u, "thoughtsTokenCount")?,
        ..Usage::default()
    })
}

fn langchain(u: &Map<String, Value>) -> Result<Usage> {
    let input = count(u, "input_tokens")?;
    let output = count(u, "output_tokens")?;
    let cache_read = detail_count(u, "input_token_details", "cache_read")?;
    let (write_5m, write_1h) = match details(u, "input_token_details")? {
        Some(d)
            if d.contains_key("ephemeral_5m_input_tokens")
                || d.contains_key("ephemeral_1h_input_tokens") =>
        {
            (
                count(d, "ephemeral_5m_input_tokens")?,
                count(d, "ephemeral_1h_input_tokens")?,
            )
        }
        Some(d) => (count(d, "cache_creation")?, 0),
        None => (0, 0),
    };
    let reasoning = detail_count(u, "output_token_details", "reasoning")?;
    let cached = cache_read
        .checked_add(write_5m)
        .and_then(|c| c.checked_add(write_1h))
        .unwrap_or(u64::MAX);
    Ok(Usage {
        input: split_included(input, cached, "input_tokens", "cache reads and writes")?,
        cache_read,
        cache_write_5m: write_5m,
        cache_write_1h: write_1h,
        output: split_included(output, reasoning, "output_tokens", "reasoning")?,
        reasoning,
    })
}

/// The AI SDK's usage: the structured form (`inputTokens: {total, noCache, cacheRead,
/// cacheWrite}`) or the flat one (`inputTokens`, `cachedInputTokens`, `reasoningTokens`).
fn ai_sdk(u: &Map<String, Value>) -> Result<Usage> {
    // A provider that reported nothing gives the AI SDK `undefined` totals: that is missing
    // usage (to be estimated), not a free call.
    let number = |m: &Map<String, Value>, k: &str| matches!(m.get(k), Some(Value::Number(_)));
    let no_counts =
        || Error::invalid("the AI SDK usage carries no token counts (the provider reported none)");
    if let (Some(Value::Object(i)), Some(Value::Object(o))) =
        (u.get("inputTokens"), u.get("outputTokens"))
    {
        if !["total", "noCache"].iter().any(|k| number(i, k))
            && !["total", "text"].iter().any(|k| number(o, k))
        {
            return Err(no_counts());
        }
        let (cache_read, cache_write) = (count(i, "cacheRead")?, count(i, "cacheWrite")?);
        let input = match i.get("noCache") {
            Some(Value::Number(_)) => count(i, "noCache")?,
            _ => split_included(
                count(i, "total")?,
                cache_read + cache_write,
                "inputTokens.total",
                "cached tokens",
            )?,
        };
        let reasoning = count(o, "reasoning")?;
        let output = match o.get("text") {
            Some(Value::Number(_)) => count(o, "text")?,
            _ => split_included(
                count(o, "total")?,
                reasoning,
                "outputTokens.total",
                "reasoning",
            )?,
        };
        return Ok(Usage {
            input,
            output,
            cache_read,
            cache_write_5m: cache_write,
            cache_write_1h: 0,
            reasoning,
        });
    }
    if !number(u, "inputTokens") && !number(u, "outputTokens") {
        return Err(no_counts());
    }
    let cached = count(u, "cachedInputTokens")?;
    let reasoning = count(u, "reasoningTokens")?;
    Ok(Usage {
        input: split_included(
            count(u, "inputTokens")?,
            cached,
            "inputTokens",
            "cachedInputTokens",
        )?,
        cache_read: cached,
        output: split_included(
            count(u, "outputTokens")?,
            reasoning,
            "outputTokens",
            "reasoningTokens",
        )?,
        reasoning,
        ..Usage::default()
    })
}

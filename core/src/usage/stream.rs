//! Accumulates the usage of a streamed response, event by event.
//!
//! Streams report usage differently: OpenAI sends it once in a final chunk (only when
//! `stream_options.include_usage` was asked for), the Responses API in `response.completed`,
//! Anthropic in `message_start` and then CUMULATIVELY in `message_delta` (assign, never add),
//! Gemini cumulatively in every chunk. The accumulator also keeps the streamed text, so a stream
//! that ends without usage can be estimated with the tokenizer instead of being recorded as 0.

use serde_json::{Map, Value};

use super::parse::{anthropic, count, parse_usage_value};
use super::{Usage, UsageFormat};
use crate::error::{Error, Result};

/// What a finished (or cut) stream told us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    /// The usage the provider reported, if it reported any.
    pub usage: Option<Usage>,
    /// True when the provider's final usage arrived (for Anthropic: a `message_delta` with
    /// usage; the `message_start` figures alone leave the output count unknown).
    pub complete: bool,
    /// The text the stream delivered (content, reasoning and tool-call argument deltas), for
    /// estimating what an incomplete stream used.
    pub text: String,
}

/// Anthropic's fields, each assigned by the latest event that carries it.
#[derive(Debug, Default, Clone)]
struct AnthropicFields {
    usage: Map<String, Value>,
}

/// Feeds stream events in order; [`StreamAccumulator::finish`] yields the outcome.
#[derive(Debug, Clone)]
pub struct StreamAccumulator {
    format: UsageFormat,
    usage: Option<Usage>,
    complete: bool,
    anthropic: Option<AnthropicFields>,
    text: String,
}

impl StreamAccumulator {
    /// A new accumulator for one stream. `Auto` and `Wflo` are not stream formats.
    pub fn new(format: UsageFormat) -> Result<StreamAccumulator> {
        if matches!(
            format,
            UsageFormat::Auto | UsageFormat::Wflo | UsageFormat::LangChain | UsageFormat::AiSdk
        ) {
            return Err(Error::invalid(
                "a stream format must be openai_chat, openai_responses, anthropic or gemini",
            ));
        }
        Ok(StreamAccumulator {
            format,
            usage: None,
            complete: false,
            anthropic: None,
            text: String::new(),
        })
    }

    /// Feeds the payload of one server-sent event (`data: …` without the prefix). `[DONE]` and
    /// blank payloads are ignored.
    pub fn push_text(&mut self, data: &str) -> Result<()> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let value: Value = serde_json::from_str(data)
            .map_err(|e| Error::invalid(format!("stream event is not valid JSON: {e}")))?;
        self.push(&value)
    }

    /// Feeds one decoded stream event.
    pub fn push(&mut self, event: &Value) -> Result<()> {
        let obj = event
            .as_object()
            .ok_or_else(|| Error::invalid("a stream event must be a JSON object"))?;
        match self.format {
            UsageFormat::OpenAiChat => self.push_openai_chat(obj),
            UsageFormat::OpenAiResponses => self.push_openai_responses(obj),
            UsageFormat::Anthropic => self.push_anthropic(obj),
            UsageFormat::Gemini => self.push_gemini(obj),
            UsageFormat::Auto | UsageFormat::Wflo | UsageFormat::LangChain | UsageFormat::AiSdk => {
                unreachable!("rejected in new()")
            }
        }
    }

    /// The usage known so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The text streamed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Ends the stream.
    pub fn finish(self) -> StreamOutcome {
        StreamOutcome {
            usage: self.usage,
            complete: self.complete,
            text: self.text,
        }
    }

    fn push_openai_chat(&mut self, obj: &Map<String, Value>) -> Result<()> {
        if let Some(Value::Array(choices)) = obj.get("choices") {
            for choice in choices {
                let Some(delta) = choice.get("delta") else {
                    continue;
                };
                for key in ["content", "reasoning_content", "refusal"] {
                    if let Some(Value::String(s)) = delta.get(key) {
                        self.text.push_str(s);
                    }
                }
                if let Some(Value::Array(calls)) = delta.get("tool_calls") {
                    for call in calls {
                        // The name comes once, in the call's first chunk; arguments in pieces.
                        for key in ["name", "arguments"] {
                            if let Some(Value::String(s)) =
                                call.get("function").and_then(|f| f.get(key))
                            {
                                self.text.push_str(s);
                            }
                        }
                    }
                }
            }
        }
        if matches!(obj.get("usage"), Some(Value::Object(_))) {
            self.usage = Some(parse_usage_value(
                UsageFormat::OpenAiChat,
                &Value::Object(obj.clone()),
            )?);
            self.complete = true;
        }
        Ok(())
    }

    fn push_openai_responses(&mut self, obj: &Map<String, Value>) -> Result<()> {
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "response.output_text.delta"
            | "response.reasoning_text.delta"
            | "response.reasoning_summary_text.delta"
            | "response.refusal.delta"
            | "response.function_call_arguments.delta" => {
                if let Some(Value::String(s)) = obj.get("delta") {
                    self.text.push_str(s);
                }
            }
            "response.output_item.added" => {
                if let Some(Value::String(name)) = obj.get("item").and_then(|i| i.get("name")) {
                    self.text.push_str(name);
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(Value::Object(u)) = obj.get("response").and_then(|r| r.get("usage")) {
                    self.usage = Some(parse_usage_value(
                        UsageFormat::OpenAiResponses,
                        &Value::Object(u.clone()),
                    )?);
                    self.complete = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn push_anthropic(&mut self, obj: &Map<String, Value>) -> Result<()> {
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let usage = match kind {
            "message_start" => obj.get("message").and_then(|m| m.get("usage")),
            "message_delta" => obj.get("usage"),
            "content_block_start" => {
                if let Some(Value::String(name)) =
                    obj.get("content_block").and_then(|b| b.get("name"))
                {
                    self.text.push_str(name);
                }
                None
            }
            "content_block_delta" => {
                if let Some(delta) = obj.get("delta") {
                    for key in ["text", "thinking", "partial_json"] {
                        if let Some(Value::String(s)) = delta.get(key) {
                            self.text.push_str(s);
                        }
                    }
                }
                None
            }
            _ => None,
        };
        let Some(usage) = usage else { return Ok(()) };
        let Value::Object(fields) = usage else {
            return Err(Error::invalid(
                "an Anthropic event's 'usage' must be a JSON object",
            ));
        };
        let acc = self.anthropic.get_or_insert_with(AnthropicFields::default);
        // Cumulative figures: the latest value of each field replaces the earlier one. A null
        // in a later event means "not reported here", not zero.
        for (key, value) in fields {
            if !value.is_null() {
                acc.usage.insert(key.clone(), value.clone());
            }
        }
        // Validate every field as the parser would, so bad events fail where they arrive.
        for key in [
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ] {
            count(&acc.usage, key)?;
        }
        self.usage = Some(anthropic(&acc.usage)?);
        if kind == "message_delta" {
            self.complete = true;
        }
        Ok(())
    }

    fn push_gemini(&mut self, obj: &Map<String, Value>) -> Result<()> {
        let mut finished = false;
        if let Some(Value::Array(candidates)) = obj.get("candidates") {
            for cand in candidates {
                finished |= cand.get("finishReason").is_some_and(|r| !r.is_null());
                if let Some(Value::Array(parts)) = cand.get("content").and_then(|c| c.get("parts"))
                {
                    for part in parts {
                        if let Some(Value::String(s)) = part.get("text") {
                            self.text.push_str(s);
                        } else if let Some(call) = part.get("functionCall") {
                            if let Some(Value::String(name)) = call.get("name") {
                                self.text.push_str(name);
                            }
                            if let Some(args) = call.get("args") {
                                self.text.push_str(&args.to_string());
                            }
                        }
                    }
                }
            }
        }
        if matches!(obj.get("usageMetadata"), Some(Value::Object(_))) {
            // Gemini repeats cumulative usage in every chunk; it is final with the chunk that
            // carries a finish reason.
            self.usage = Some(parse_usage_value(
                UsageFormat::Gemini,
                &Value::Object(obj.clone()),
            )?);
            self.complete |= finished;
        }
        Ok(())
    }
}

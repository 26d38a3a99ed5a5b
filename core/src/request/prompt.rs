//! What a request's prompt is billed as: its messages flattened to text (content parts, tool
//! calls and tool results as the text the provider is sent), images at the provider's
//! documented worst case, and the extra input every provider bills (tool definitions,
//! response schemas) as JSON text.
//!
//! One flattener reads the content parts of every format by their fields — OpenAI chat and
//! Responses, Anthropic blocks, Gemini parts, LangChain messages and the AI SDK's prompt — so
//! a tool call is counted alike whichever client sent it.

use serde_json::{Map, Value};

/// The prompt of one request, ready to be counted.
#[derive(Debug, Default)]
pub(super) struct Prompt {
    /// `{role, content}` messages with string content (and `name` where given).
    pub messages: Vec<Value>,
    /// Plain-text prompts of a completion model, counted without chat framing.
    pub texts: Vec<String>,
    /// Text sent besides the messages and billed as input (tool definitions, schemas).
    pub extra: Vec<String>,
    /// Tokens of images, at the provider's documented maximum per image.
    pub media_tokens: u64,
    /// The count approximates what the provider is sent (tool calls, schemas, images).
    pub approximate: bool,
    /// A part whose tokens no rule bounds (audio, a PDF, a Gemini image): names it.
    pub unbounded: Option<String>,
}

/// Image tokens, per the providers' documentation:
/// - OpenAI: gpt-4o-mini bills an image as 2,833 base + 5,667 per 512-px tile (low detail: the
///   base only); a high-detail image is scaled to fit 2048×2048 and its short side to 768 px,
///   so at most 8 tiles. Other models bill at most 1,536 patches × 1.72 (o4-mini's multiplier,
///   the largest) = 2,642, more than the tile models' 85 + 8 × 170 = 1,445.
/// - Anthropic: about width × height / 750, images resized to at most ~1.15 megapixels:
///   1,600 tokens.
/// - Gemini bills 258 tokens per 768-px tile with no documented bound on the tiles: unbounded.
fn image_tokens(provider: &str, model: &str, low_detail: bool) -> Option<u64> {
    let base = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    match provider {
        "anthropic" | "bedrock" => Some(1_600),
        "gemini" | "vertex_ai" => None,
        _ if base.starts_with("gpt-4o-mini") => Some(if low_detail { 2_833 } else { 48_169 }),
        _ => Some(2_642),
    }
}

pub(super) struct Flattener<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub prompt: Prompt,
}

impl<'a> Flattener<'a> {
    pub fn new(provider: &'a str, model: &'a str) -> Self {
        Flattener {
            provider,
            model,
            prompt: Prompt::default(),
        }
    }

    /// Adds a message with this role and these content parts (a string, a part, or a list).
    pub fn message(&mut self, role: &str, content: &Value, extra: Option<&Map<String, Value>>) {
        let mut text = String::new();
        self.content(content, &mut text);
        let mut msg = Map::new();
        msg.insert("role".into(), Value::String(role.to_owned()));
        msg.insert("content".into(), Value::String(text));
        if let Some(fields) = extra {
            if let Some(Value::String(name)) = fields.get("name") {
                msg.insert("name".into(), Value::String(name.clone()));
            }
            // Tool calls an assistant made are sent back as their names and JSON arguments.
            for key in ["tool_calls", "function_call"] {
                if let Some(v) = fields.get(key).filter(|v| !v.is_null()) {
                    let mut calls = String::new();
                    self.tool_calls(v, &mut calls);
                    if !calls.is_empty() {
                        msg.insert(key.into(), Value::String(calls));
                    }
                }
            }
            if let Some(Value::String(id)) = fields.get("tool_call_id") {
                msg.insert("tool_call_id".into(), Value::String(id.clone()));
            }
        }
        self.prompt.messages.push(Value::Object(msg));
    }

    /// Adds text billed as input besides the messages (a tool definition, a schema).
    pub fn extra(&mut self, value: &Value) {
        if value.is_null() {
            return;
        }
        self.prompt.approximate = true;
        self.prompt.extra.push(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }

    fn tool_calls(&mut self, value: &Value, out: &mut String) {
        self.prompt.approximate = true;
        match value {
            Value::Array(calls) => {
                for call in calls {
                    self.tool_calls(call, out);
                }
            }
            Value::Object(call) => {
                // OpenAI {function: {name, arguments}}, LangChain {name, args}.
                let f = call
                    .get("function")
                    .and_then(Value::as_object)
                    .unwrap_or(call);
                push_str(out, f.get("name"));
                match f.get("arguments").or_else(|| f.get("args")) {
                    Some(Value::String(s)) => push(out, s),
                    Some(v) if !v.is_null() => push(out, &v.to_string()),
                    _ => {}
                }
            }
            other => push(out, &other.to_string()),
        }
    }

    /// Appends the text of a content value; images and unknown media are tallied apart.
    pub fn content(&mut self, content: &Value, out: &mut String) {
        match content {
            Value::Null => {}
            Value::String(s) => push(out, s),
            Value::Array(parts) => {
                for part in parts {
                    self.content(part, out);
                }
            }
            Value::Object(part) => self.part(part, out),
            other => push(out, &other.to_string()),
        }
    }

    fn part(&mut self, part: &Map<String, Value>, out: &mut String) {
        let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "text" | "input_text" | "output_text" | "reasoning" | "summary_text" => {
                push_str(out, part.get("text"))
            }
            "refusal" => push_str(out, part.get("refusal")),
            "thinking" => push_str(out, part.get("thinking")),
            "redacted_thinking" => push_str(out, part.get("data")),
            // Anthropic tool_use, the AI SDK's tool-call, Responses' function_call.
            "tool_use" | "tool-call" | "function_call" | "custom_tool_call" => {
                self.prompt.approximate = true;
                for key in ["name", "toolName"] {
                    push_str(out, part.get(key));
                }
                for key in ["input", "arguments"] {
                    match part.get(key) {
                        Some(Value::String(s)) => push(out, s),
                        Some(v) if !v.is_null() => push(out, &v.to_string()),
                        _ => {}
                    }
                }
            }
            // Anthropic tool_result, the AI SDK's tool-result, Responses' function_call_output.
            "tool_result" | "tool-result" | "function_call_output" | "custom_tool_call_output" => {
                self.prompt.approximate = true;
                for key in ["content", "output"] {
                    if let Some(v) = part.get(key) {
                        match v {
                            // The AI SDK's {type: "text", value} / {type: "json", value}.
                            Value::Object(o) if o.contains_key("value") => match &o["value"] {
                                Value::String(s) => push(out, s),
                                v => push(out, &v.to_string()),
                            },
                            v => self.content(v, out),
                        }
                    }
                }
            }
            "image_url" | "input_image" | "image" => {
                let low = part
                    .get("image_url")
                    .and_then(|u| u.get("detail"))
                    .or_else(|| part.get("detail"))
                    .and_then(Value::as_str)
                    == Some("low");
                self.image(low);
            }
            "file" => self.file(part, out),
            "message" => {
                // A Responses input item nested as a part.
                self.content(part.get("content").unwrap_or(&Value::Null), out);
            }
            _ => self.untyped_part(kind, part, out),
        }
    }

    /// Parts without a known `type`: Gemini's field-named parts, plain `{text}` objects.
    fn untyped_part(&mut self, kind: &str, part: &Map<String, Value>, out: &mut String) {
        if let Some(Value::String(text)) = part.get("text") {
            push(out, text);
        } else if let Some(call) = part
            .get("functionCall")
            .or_else(|| part.get("function_call"))
        {
            self.prompt.approximate = true;
            push_str(out, call.get("name"));
            if let Some(args) = call.get("args") {
                push(out, &args.to_string());
            }
        } else if let Some(resp) = part
            .get("functionResponse")
            .or_else(|| part.get("function_response"))
        {
            self.prompt.approximate = true;
            push_str(out, resp.get("name"));
            if let Some(r) = resp.get("response") {
                push(out, &r.to_string());
            }
        } else if let Some(data) = part
            .get("inlineData")
            .or_else(|| part.get("inline_data"))
            .or_else(|| part.get("fileData"))
            .or_else(|| part.get("file_data"))
        {
            let mime = data
                .get("mimeType")
                .or_else(|| data.get("mime_type"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if mime.starts_with("image/") {
                self.image(false);
            } else {
                self.unbounded(&format!("a {mime} part"));
            }
        } else if kind.is_empty() && part.is_empty() {
        } else {
            let what = if kind.is_empty() {
                "a content part of unknown kind".to_owned()
            } else {
                format!("a '{kind}' part")
            };
            self.unbounded(&what);
        }
    }

    /// An AI SDK / OpenAI file part: text files are their bytes (each token is at least one
    /// byte, so the byte count bounds the tokens); images as images; other media unbounded.
    fn file(&mut self, part: &Map<String, Value>, out: &mut String) {
        let media = part
            .get("mediaType")
            .or_else(|| part.get("mimeType"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if media.starts_with("image/") {
            self.image(false);
            return;
        }
        let texty = media.starts_with("text/")
            || [
                "application/json",
                "application/xml",
                "application/x-ndjson",
                "application/yaml",
                "application/javascript",
            ]
            .contains(&media);
        match part.get("data") {
            Some(Value::String(b64)) if texty => {
                self.prompt.approximate = true;
                // Base64: 4 characters per 3 bytes.
                let bytes = (b64.trim_end_matches('=').len() as u64 * 3) / 4;
                self.prompt.media_tokens = self.prompt.media_tokens.saturating_add(bytes);
                let _ = out;
            }
            _ => self.unbounded(&format!(
                "a file part{}",
                if media.is_empty() {
                    String::new()
                } else {
                    format!(" of type {media}")
                }
            )),
        }
    }

    fn image(&mut self, low_detail: bool) {
        self.prompt.approximate = true;
        match image_tokens(self.provider, self.model, low_detail) {
            Some(t) => self.prompt.media_tokens = self.prompt.media_tokens.saturating_add(t),
            None => self.unbounded(&format!("an image sent to {}", self.provider)),
        }
    }

    fn unbounded(&mut self, what: &str) {
        self.prompt.approximate = true;
        if self.prompt.unbounded.is_none() {
            self.prompt.unbounded = Some(what.to_owned());
        }
    }
}

fn push(out: &mut String, s: &str) {
    if s.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(s);
}

fn push_str(out: &mut String, v: Option<&Value>) {
    if let Some(Value::String(s)) = v {
        push(out, s);
    }
}

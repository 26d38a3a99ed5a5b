//! What the mock answers: a deterministic reply whose usage is real — the prompt counted with
//! wflo's tokenizer, the reply's tokens counted in the text the mock sends.

use serde_json::{Value, json};
use wflo_core::tokens;

use super::directives::Directives;

/// Reply tokens when the request does not ask for a number.
const DEFAULT_REPLY_TOKENS: u64 = 24;

const WORDS: [&str; 16] = [
    "The", " mock", " model", " answers", " every", " request", " with", " text", " whose",
    " tokens", " it", " counts", " exactly", ",", " and", ".",
];

/// A reply and its usage.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    /// The text in the pieces a stream sends.
    pub pieces: Vec<String>,
    pub output_tokens: u64,
    /// Reasoning ("thinking") text and its tokens.
    pub reasoning_text: String,
    pub reasoning_tokens: u64,
    /// The prompt as counted, and how much of it was cached or written to a cache.
    pub prompt_tokens: u64,
    pub cached: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    /// Set when the reply is a tool call: (tool name, JSON arguments).
    pub tool: Option<(String, String)>,
    /// True when `max_tokens` cut the reply short.
    pub truncated: bool,
}

/// Text of about `tokens` tokens (each word is about one token), in pieces of a few words.
fn text_of(model: &str, tokens: u64) -> (String, Vec<String>) {
    let mut words: Vec<&str> = Vec::new();
    // Add as many words as tokens are missing, then count again: a few counts, not one per
    // word (counting after every word made long replies quadratic).
    let mut counted = 0;
    while counted < tokens {
        for _ in counted..tokens {
            words.push(WORDS[words.len() % WORDS.len()]);
        }
        counted = tokens::count_text(model, &words.concat()).tokens;
    }
    let text = words.concat();
    let pieces = words.chunks(3).map(|c| c.concat()).collect();
    (text, pieces)
}

/// Builds the reply for a request whose messages (`[{role, content}]`, the system prompt
/// included) are given.
pub fn build(model: &str, messages: &Value, max_tokens: Option<u64>, d: &Directives) -> Reply {
    let prompt_tokens = tokens::count_chat(model, messages)
        .map(|c| c.tokens)
        .unwrap_or(0);
    let cached = d.cached.min(prompt_tokens);
    let cache_write_5m = d.cache_write.min(prompt_tokens - cached);
    let cache_write_1h = d
        .cache_write_1h
        .min(prompt_tokens - cached - cache_write_5m);
    let budget = max_tokens.unwrap_or(u64::MAX);
    let reasoning_tokens = d.reasoning.min(budget);
    let (reasoning_text, _) = if reasoning_tokens > 0 {
        text_of(model, reasoning_tokens)
    } else {
        (String::new(), vec![])
    };
    let wanted = d.reply.unwrap_or(DEFAULT_REPLY_TOKENS);
    let room = budget.saturating_sub(reasoning_tokens);
    let truncated = wanted > room;
    let (text, pieces) = text_of(model, wanted.min(room));
    let mut output_tokens = tokens::count_text(model, &text).tokens;
    let tool = d.tool.as_ref().map(|name| {
        let args = json!({"query": text}).to_string();
        output_tokens = tokens::count_text(model, &args).tokens + 4;
        (name.clone(), args)
    });
    Reply {
        text,
        pieces,
        output_tokens,
        reasoning_text,
        reasoning_tokens,
        prompt_tokens,
        cached,
        cache_write_5m,
        cache_write_1h,
        tool,
        truncated,
    }
}

/// Flattens a message `content` (a string, or an array of parts with `text`) to text.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

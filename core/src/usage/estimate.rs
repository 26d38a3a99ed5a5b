//! What a provider generated, as text, for a result that came back without usage.
//!
//! The one rule every face follows when it must estimate: count everything the model
//! produced — every choice, tool-call names and arguments, reasoning text where visible — so
//! an answer that is only a tool call is never estimated as 0 output tokens (it was billed).

use serde_json::Value;

use super::UsageFormat;

/// The generated text of a whole result (a response body, an SDK object as JSON, a LangChain
/// result or message, an AI SDK generate result). `Auto` reads the shape.
pub fn generated_text(format: UsageFormat, result: &Value) -> String {
    // A function that returned plain text (a tracked function, a framework's string output):
    // that text is what the model generated, whatever the format.
    if let Value::String(text) = result {
        return text.clone();
    }
    let mut out = Collector::default();
    let format = match format {
        UsageFormat::Auto | UsageFormat::Wflo => detect(result),
        f => f,
    };
    match format {
        UsageFormat::OpenAiChat => {
            for choice in array(result.get("choices")) {
                out.chat_message(choice.get("message").or_else(|| choice.get("delta")));
                out.field(choice.get("text"));
            }
        }
        UsageFormat::OpenAiResponses => {
            let items = array(result.get("output"));
            if items.is_empty() {
                out.field(result.get("output_text"));
            }
            for item in items {
                out.item(item);
            }
        }
        UsageFormat::Anthropic => {
            for block in array(result.get("content")) {
                out.item(block);
            }
        }
        UsageFormat::Gemini => {
            for cand in array(result.get("candidates")) {
                for part in array(cand.get("content").and_then(|c| c.get("parts"))) {
                    out.item(part);
                }
            }
        }
        UsageFormat::LangChain => {
            if let Some(Value::Array(prompts)) = result.get("generations") {
                for gens in prompts {
                    for g in array(Some(gens)) {
                        match g.get("message") {
                            Some(m) if !m.is_null() => out.chat_message(Some(m)),
                            _ => out.field(g.get("text")),
                        }
                    }
                }
            } else {
                out.chat_message(Some(result.get("kwargs").unwrap_or(result)));
            }
        }
        UsageFormat::AiSdk => {
            let parts = array(result.get("content"));
            if parts.is_empty() {
                out.field(result.get("reasoningText"));
                out.field(result.get("text"));
                for call in array(result.get("toolCalls")) {
                    out.item(call);
                }
            }
            for part in parts {
                out.item(part);
            }
        }
        UsageFormat::Auto | UsageFormat::Wflo => out.field(Some(result)),
    }
    // A result of a shape no provider has (a function's own JSON): what was generated is the
    // whole of it, so its JSON text is counted rather than nothing.
    let filled = match result {
        Value::Object(o) => !o.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    // Whatever format the caller named: a result that has no provider's shape at all.
    let unknown_shape = detect(result) == UsageFormat::Auto;
    if out.text.is_empty() && filled && unknown_shape {
        out.text = result.to_string();
    }
    out.text
}

fn detect(v: &Value) -> UsageFormat {
    if v.get("choices").is_some() {
        UsageFormat::OpenAiChat
    } else if v.get("output").is_some() || v.get("output_text").is_some() {
        UsageFormat::OpenAiResponses
    } else if v.get("candidates").is_some() {
        UsageFormat::Gemini
    } else if v.get("generations").is_some() || v.get("tool_calls").is_some() {
        UsageFormat::LangChain
    } else if v.get("toolCalls").is_some() || v.get("text").is_some() {
        UsageFormat::AiSdk
    } else if v.get("content").is_some() {
        UsageFormat::Anthropic
    } else {
        UsageFormat::Auto
    }
}

fn array(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

#[derive(Default)]
struct Collector {
    text: String,
}

impl Collector {
    fn push(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(s);
    }

    /// A string is itself; parts and objects are read as items; other JSON as its text.
    fn field(&mut self, v: Option<&Value>) {
        match v {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => self.push(s),
            Some(Value::Array(parts)) => parts.iter().for_each(|p| self.item(p)),
            Some(Value::Object(_)) => self.item(v.expect("some")),
            Some(other) => self.push(&other.to_string()),
        }
    }

    /// An assistant message: OpenAI chat (content, refusal, reasoning_content, tool_calls,
    /// function_call) or LangChain (content, tool_calls with args, additional_kwargs).
    fn chat_message(&mut self, m: Option<&Value>) {
        let Some(m) = m else { return };
        for key in ["reasoning_content", "reasoning", "refusal", "content"] {
            self.field(m.get(key));
        }
        for call in array(m.get("tool_calls")) {
            self.call(call);
        }
        if let Some(f) = m.get("function_call").filter(|f| !f.is_null()) {
            self.call(f);
        }
        if let Some(kw) = m.get("additional_kwargs") {
            if m.get("tool_calls").is_none() {
                for call in array(kw.get("tool_calls")) {
                    self.call(call);
                }
            }
            for key in ["reasoning_content", "function_call"] {
                match kw.get(key) {
                    Some(f @ Value::Object(_)) => self.call(f),
                    other => self.field(other),
                }
            }
        }
    }

    /// A tool call in any of its shapes: {function: {name, arguments}}, {name, args|input|arguments}.
    fn call(&mut self, call: &Value) {
        let f = call.get("function").unwrap_or(call);
        for key in ["name", "toolName"] {
            if let Some(Value::String(s)) = f.get(key) {
                self.push(s);
            }
        }
        for key in ["arguments", "args", "input"] {
            match f.get(key) {
                Some(Value::String(s)) => self.push(s),
                Some(v) if !v.is_null() => self.push(&v.to_string()),
                _ => {}
            }
        }
    }

    /// One output item or content part of any provider.
    fn item(&mut self, item: &Value) {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "message" => self.field(item.get("content")),
            "text" | "output_text" | "reasoning_text" | "summary_text" => {
                self.field(item.get("text"))
            }
            "refusal" => self.field(item.get("refusal")),
            "thinking" => self.field(item.get("thinking")),
            "reasoning" => {
                self.field(item.get("text"));
                self.field(item.get("summary"));
                self.field(item.get("content"));
            }
            "tool_use" | "server_tool_use" | "tool-call" | "function_call" | "custom_tool_call" => {
                self.call(item)
            }
            _ => {
                if let Some(Value::String(s)) = item.get("text") {
                    self.push(s);
                } else if let Some(call) = item.get("functionCall") {
                    self.call(call);
                } else if item.get("name").is_some() || item.get("toolName").is_some() {
                    self.call(item);
                } else if let Value::String(s) = item {
                    self.push(s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_call_only_answers_are_not_empty() {
        let chat = json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}]});
        assert_eq!(
            generated_text(UsageFormat::OpenAiChat, &chat),
            "get_weather\n{\"city\":\"Paris\"}"
        );
        let claude =
            json!({"content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]});
        assert_eq!(
            generated_text(UsageFormat::Anthropic, &claude),
            "f\n{\"a\":1}"
        );
    }

    #[test]
    fn a_plain_string_result_is_the_generated_text() {
        let text = json!("Three primes: 2, 3, 5.");
        for format in [
            UsageFormat::Auto,
            UsageFormat::LangChain,
            UsageFormat::OpenAiChat,
        ] {
            assert_eq!(generated_text(format, &text), "Three primes: 2, 3, 5.");
        }
    }

    #[test]
    fn unknown_shapes_count_as_their_json() {
        let v = json!({"answer": 4});
        assert_eq!(generated_text(UsageFormat::Auto, &v), "{\"answer\":4}");
        assert_eq!(generated_text(UsageFormat::Auto, &json!({})), "");
        // Also when the caller named a format the result does not have.
        assert_eq!(generated_text(UsageFormat::LangChain, &v), "{\"answer\":4}");
        // A provider's own shape with nothing generated stays empty.
        let empty = json!({"choices": [{"message": {"content": ""}}]});
        assert_eq!(generated_text(UsageFormat::Auto, &empty), "");
    }

    #[test]
    fn every_choice_counts() {
        let chat =
            json!({"choices": [{"message": {"content": "a"}}, {"message": {"content": "b"}}]});
        assert_eq!(generated_text(UsageFormat::OpenAiChat, &chat), "a\nb");
    }
}

//! Which provider a request goes to.
//!
//! OpenAI's client is also the client of xAI, DeepSeek, Groq, Together, Fireworks, Mistral,
//! OpenRouter, Azure and local servers: the request format says nothing about who bills it.
//! The base URL does. A model name is then priced under that provider's prefix first
//! (`grok-4` sent to api.x.ai prices as `xai/grok-4`, not as the first table entry that ends
//! in `grok-4`).

/// Hosts (exact, or a suffix after a dot) and the price table's provider prefix for them.
const HOSTS: &[(&str, &str)] = &[
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure"),
    ("cognitiveservices.azure.com", "azure"),
    ("services.ai.azure.com", "azure_ai"),
    ("api.anthropic.com", "anthropic"),
    ("api.x.ai", "xai"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.together.xyz", "together_ai"),
    ("api.together.ai", "together_ai"),
    ("api.fireworks.ai", "fireworks_ai"),
    ("api.mistral.ai", "mistral"),
    ("openrouter.ai", "openrouter"),
    ("api.cerebras.ai", "cerebras"),
    ("api.perplexity.ai", "perplexity"),
    ("api.deepinfra.com", "deepinfra"),
    ("generativelanguage.googleapis.com", "gemini"),
    ("aiplatform.googleapis.com", "vertex_ai"),
];

/// The provider a base URL belongs to, or `None` for a host wflo does not know (a local
/// server, a proxy): the request format's own provider then applies.
pub fn provider_for_base_url(base_url: &str) -> Option<&'static str> {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    HOSTS.iter().find_map(|(known, provider)| {
        let matches = host == *known
            || (host.len() > known.len()
                && host.ends_with(known)
                && host.as_bytes()[host.len() - known.len() - 1] == b'.');
        matches.then_some(*provider)
    })
}

/// The provider a request format is sent to when nothing else says.
pub(crate) fn default_provider(format: crate::UsageFormat) -> &'static str {
    use crate::UsageFormat as F;
    match format {
        F::Anthropic => "anthropic",
        F::Gemini => "gemini",
        _ => "openai",
    }
}

/// Provider names the price table spells differently from how callers name them.
pub(crate) fn canonical_provider(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    // The AI SDK names providers `openai.chat`, `anthropic.messages`, `google.generative-ai`.
    let head = lower.split('.').next().unwrap_or("").to_owned();
    match head.as_str() {
        "google" | "google-generative-ai" | "gemini" => "gemini".into(),
        "google-vertex" | "vertex" | "vertexai" | "vertex_ai" => "vertex_ai".into(),
        "azure-openai" | "azure_openai" => "azure".into(),
        "together" => "together_ai".into(),
        "fireworks" => "fireworks_ai".into(),
        "mistralai" => "mistral".into(),
        "x-ai" | "grok" => "xai".into(),
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(provider_for_base_url("https://api.x.ai/v1"), Some("xai"));
        assert_eq!(
            provider_for_base_url("https://my-res.openai.azure.com/openai/deployments/x"),
            Some("azure")
        );
        assert_eq!(
            provider_for_base_url("https://user:pw@API.GROQ.COM:443/openai/v1"),
            Some("groq")
        );
        assert_eq!(provider_for_base_url("http://127.0.0.1:8080/v1"), None);
        assert_eq!(
            provider_for_base_url("https://evilapi.x.ai.example/v1"),
            None
        );
        assert_eq!(provider_for_base_url("https://notapi.x.ai/v1"), None);
        assert_eq!(provider_for_base_url("http://[::1]:9/v1"), None);
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_provider("openai.chat"), "openai");
        assert_eq!(canonical_provider("google.generative-ai"), "gemini");
        assert_eq!(canonical_provider("Anthropic"), "anthropic");
    }
}

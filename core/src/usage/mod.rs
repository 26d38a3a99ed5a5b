//! What a provider says a call used, normalised into one record with disjoint fields.
//!
//! The parsers in this module are the ONLY place where provider usage formats are read; every
//! face hands raw JSON to them instead of reading `prompt_tokens` itself.

mod estimate;
mod parse;
mod stream;

pub use estimate::generated_text;

pub use parse::{UsageFormat, parse_usage, parse_usage_value};
pub use stream::{StreamAccumulator, StreamOutcome};

use crate::error::{Error, Result};

/// The largest token count accepted in any one field. Far beyond any real request, small enough
/// that no cost computation can overflow.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;

/// Token usage of one call. The fields are DISJOINT: each token is in exactly one field and
/// billed at that field's price.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    /// Prompt tokens billed at the plain input rate (cache reads and writes excluded).
    pub input: u64,
    /// Completion tokens other than reasoning tokens.
    pub output: u64,
    /// Prompt tokens read from the provider's prompt cache.
    pub cache_read: u64,
    /// Prompt tokens written to a cache that lives 5 minutes (Anthropic's default).
    pub cache_write_5m: u64,
    /// Prompt tokens written to a cache that lives 1 hour.
    pub cache_write_1h: u64,
    /// Reasoning ("thinking") tokens billed at the reasoning price, or the output price where
    /// the model has none.
    pub reasoning: u64,
}

impl Usage {
    /// Every prompt-side token: what a provider's long-context threshold is compared with.
    pub fn prompt_total(&self) -> u64 {
        self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h
    }

    /// Every completion-side token.
    pub fn completion_total(&self) -> u64 {
        self.output + self.reasoning
    }

    /// All tokens.
    pub fn total(&self) -> u64 {
        self.prompt_total() + self.completion_total()
    }

    /// Rejects counts no real request can have (and that could overflow cost arithmetic).
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("input", self.input),
            ("output", self.output),
            ("cache_read", self.cache_read),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
            ("reasoning", self.reasoning),
        ];
        for (name, value) in fields {
            if value > MAX_TOKENS {
                return Err(Error::invalid(format!(
                    "usage field {name} = {value} is larger than the maximum of {MAX_TOKENS} tokens"
                )));
            }
        }
        Ok(())
    }

    /// Adds another usage field by field (for aggregates), saturating.
    pub fn add(&mut self, other: &Usage) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write_5m = self.cache_write_5m.saturating_add(other.cache_write_5m);
        self.cache_write_1h = self.cache_write_1h.saturating_add(other.cache_write_1h);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }

    /// Parses a usage record in wflo's own JSON form (`{"input": 10, "output": 5}`; missing
    /// fields are 0, unknown fields are an error).
    pub fn from_json(text: &str) -> Result<Usage> {
        let usage: Usage = serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("usage is not valid wflo usage JSON: {e}")))?;
        usage.validate()?;
        Ok(usage)
    }
}

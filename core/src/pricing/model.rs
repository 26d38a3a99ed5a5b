//! One model's prices and the arithmetic on them: the cost of a usage, and the worst case a
//! request could cost (what a budget reserves).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::{Nanos, Picos, picos_to_nanos_ceil};
use crate::usage::Usage;

/// Prices of one model, in pico-USD per token, in wflo's schema (see `pricing/README.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// The canonical name in the price table (`gpt-4o`, `anthropic/claude-…`).
    pub name: String,
    /// The provider as the source table names it (`openai`, `anthropic`, `bedrock`, …).
    #[serde(default)]
    pub provider: String,
    /// What kind of endpoint the model serves (`chat`, `embedding`, `responses`, …).
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Prompt tokens at the plain input rate.
    #[serde(default)]
    pub input: Picos,
    /// Completion tokens.
    #[serde(default)]
    pub output: Picos,
    /// Cached prompt tokens read; falls back to `input` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Picos>,
    /// Prompt tokens written to a 5-minute cache; falls back to `input` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Picos>,
    /// Prompt tokens written to a 1-hour cache; falls back to `cache_write_5m`, then `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Picos>,
    /// Reasoning tokens; falls back to `output` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Picos>,
    /// Long-context tiers, ascending by threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
    /// Largest prompt the model accepts, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input: Option<u64>,
    /// Largest completion the model produces, in tokens: the output cap of a reservation whose
    /// request gives no `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<u64>,
    /// The provider's announced retirement date, if any (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_date: Option<String>,
    /// True when the source table has dropped this model; its last known price is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// For deprecated models: the last source release that listed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

fn default_mode() -> String {
    "chat".to_owned()
}

/// A long-context tier: once a request's prompt exceeds `above` tokens, ALL its tokens are
/// billed at the tier's prices. A price the tier does not give stays at the base price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub above: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Picos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Picos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Picos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Picos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Picos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Picos>,
}

impl Tier {
    /// The tier's rates by name, in the order people read them (what `wflo price` and
    /// `wflo serve` list); `None` where the tier keeps the base rate.
    pub fn named_rates(&self) -> [(&'static str, Option<Picos>); 6] {
        [
            ("input", self.input),
            ("output", self.output),
            ("cache read", self.cache_read),
            ("cache write 5m", self.cache_write_5m),
            ("cache write 1h", self.cache_write_1h),
            ("reasoning", self.reasoning),
        ]
    }
}

/// The six per-token rates that apply to one request, fallbacks resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rates {
    pub input: Picos,
    pub output: Picos,
    pub cache_read: Picos,
    pub cache_write_5m: Picos,
    pub cache_write_1h: Picos,
    pub reasoning: Picos,
}

/// Whether a request asks the provider to write its prompt to a cache (which bills the prompt
/// at the cache-write rate, higher than the input rate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheWrite {
    #[default]
    None,
    FiveMinutes,
    OneHour,
}

impl CacheWrite {
    /// The numeric code faces that pass numbers use (the C ABI's `wflo_call_request`, Node's
    /// positional hot path): 0 none, 1 five minutes, 2 one hour.
    pub fn from_code(code: u32) -> crate::Result<CacheWrite> {
        match code {
            0 => Ok(CacheWrite::None),
            1 => Ok(CacheWrite::FiveMinutes),
            2 => Ok(CacheWrite::OneHour),
            other => Err(crate::Error::invalid(format!(
                "cache_write must be 0 (none), 1 (5 minutes) or 2 (1 hour), got {other}"
            ))),
        }
    }

    /// The name faces that pass text use: `none` (or empty), `5m`, `1h` (also the serialised
    /// `five_minutes`, `one_hour`).
    pub fn from_name(name: &str) -> crate::Result<CacheWrite> {
        match name {
            "" | "none" => Ok(CacheWrite::None),
            "5m" | "five_minutes" => Ok(CacheWrite::FiveMinutes),
            "1h" | "one_hour" => Ok(CacheWrite::OneHour),
            other => Err(crate::Error::invalid(format!(
                "cache_write must be 'none', '5m' or '1h', got '{other}'"
            ))),
        }
    }
}

impl ModelPrice {
    /// The rates for a request whose prompt has `prompt_tokens` tokens.
    pub fn rates_for_prompt(&self, prompt_tokens: u64) -> Rates {
        let tier = self.tiers.iter().rev().find(|t| prompt_tokens > t.above);
        let pick = |tier_value: Option<Picos>, base: Picos| tier_value.unwrap_or(base);
        let input = pick(tier.and_then(|t| t.input), self.input);
        let output = pick(tier.and_then(|t| t.output), self.output);
        let cache_read = tier
            .and_then(|t| t.cache_read)
            .or(self.cache_read)
            .unwrap_or(input);
        let cache_write_5m = tier
            .and_then(|t| t.cache_write_5m)
            .or(self.cache_write_5m)
            .unwrap_or(input);
        let cache_write_1h = tier
            .and_then(|t| t.cache_write_1h)
            .or(self.cache_write_1h)
            .unwrap_or(cache_write_5m);
        let reasoning = tier
            .and_then(|t| t.reasoning)
            .or(self.reasoning)
            .unwrap_or(output);
        Rates {
            input,
            output,
            cache_read,
            cache_write_5m,
            cache_write_1h,
            reasoning,
        }
    }

    /// The exact cost of a usage in pico-USD (before rounding).
    pub fn cost_picos(&self, usage: &Usage) -> u128 {
        let r = self.rates_for_prompt(usage.prompt_total());
        let term = |tokens: u64, rate: Picos| u128::from(tokens) * u128::from(rate);
        term(usage.input, r.input)
            + term(usage.output, r.output)
            + term(usage.cache_read, r.cache_read)
            + term(usage.cache_write_5m, r.cache_write_5m)
            + term(usage.cache_write_1h, r.cache_write_1h)
            + term(usage.reasoning, r.reasoning)
    }

    /// The cost of a usage in nano-USD, rounded up.
    pub fn cost(&self, usage: &Usage) -> Result<Nanos> {
        usage.validate()?;
        picos_to_nanos_ceil(self.cost_picos(usage))
    }

    /// The rates a reservation assumes: (prompt, output) per token. The prompt at the highest
    /// rate any prompt token could be billed at (plain, cache read, and the cache write the
    /// request asks for), the output at the higher of the output and reasoning rates — over
    /// the base rates and EVERY tier a prompt of at most `prompt_upper` tokens reaches, not
    /// only the tier of `prompt_upper` itself: an estimated count may be billed in a lower
    /// tier than its margin reaches, and a lower tier may be the dearer one (user prices, and
    /// a few entries of the built-in table).
    fn reservation_rates(&self, prompt_upper: u64, cache: CacheWrite) -> (Picos, Picos) {
        let reachable = self
            .tiers
            .iter()
            .filter(|t| t.above < prompt_upper)
            .map(|t| t.above + 1);
        let (mut prompt, mut output) = (0, 0);
        for billed in std::iter::once(0).chain(reachable) {
            let r = self.rates_for_prompt(billed);
            let write = match cache {
                CacheWrite::None => 0,
                CacheWrite::FiveMinutes => r.cache_write_5m,
                CacheWrite::OneHour => r.cache_write_1h,
            };
            prompt = prompt.max(r.input).max(r.cache_read).max(write);
            output = output.max(r.output).max(r.reasoning);
        }
        (prompt, output)
    }

    /// The most a request can cost: every prompt token at the highest rate it could be billed
    /// (see `reservation_rates`) and `output_cap` completion tokens at the highest output
    /// rate. `prompt_upper` must already include any estimation margin.
    pub fn worst_case(
        &self,
        prompt_upper: u64,
        output_cap: u64,
        cache: CacheWrite,
    ) -> Result<Nanos> {
        if prompt_upper > crate::usage::MAX_TOKENS || output_cap > crate::usage::MAX_TOKENS {
            return Err(Error::invalid(
                "token counts are larger than any real request",
            ));
        }
        let (prompt_rate, output_rate) = self.reservation_rates(prompt_upper, cache);
        picos_to_nanos_ceil(
            u128::from(prompt_upper) * u128::from(prompt_rate)
                + u128::from(output_cap) * u128::from(output_rate),
        )
    }

    /// The largest output cap whose worst case still fits in `available` nano-USD (for the
    /// clamp policy), or `None` when not even the prompt fits.
    pub fn max_affordable_output(
        &self,
        prompt_upper: u64,
        cache: CacheWrite,
        available: Nanos,
    ) -> Option<u64> {
        let prompt_only = self.worst_case(prompt_upper, 0, cache).ok()?;
        if prompt_only > available {
            return None;
        }
        let (prompt_rate, output_rate) = self.reservation_rates(prompt_upper, cache);
        let output_rate = u128::from(output_rate);
        if output_rate == 0 {
            return Some(crate::usage::MAX_TOKENS);
        }
        // worst_case rounds the total up to a whole nano; solve in picos and check.
        let prompt_picos = u128::from(prompt_upper) * u128::from(prompt_rate);
        let budget_picos = u128::from(available) * 1000;
        let tokens = (budget_picos.saturating_sub(prompt_picos) / output_rate)
            .min(u128::from(crate::usage::MAX_TOKENS)) as u64;
        Some(tokens)
    }

    /// Checks a price entry supplied at run time.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("a model price needs a non-empty name"));
        }
        let limit: Picos = 1_000_000_000_000_000; // $1000 per token
        let all = [
            Some(self.input),
            Some(self.output),
            self.cache_read,
            self.cache_write_5m,
            self.cache_write_1h,
            self.reasoning,
        ];
        if all.iter().flatten().any(|p| *p > limit) {
            return Err(Error::invalid(format!(
                "a price of model '{}' is implausibly large",
                self.name
            )));
        }
        let mut last = None;
        for tier in &self.tiers {
            if last.is_some_and(|l| tier.above <= l) {
                return Err(Error::invalid(format!(
                    "tiers of model '{}' must be in ascending order of 'above'",
                    self.name
                )));
            }
            last = Some(tier.above);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(json: &str) -> ModelPrice {
        serde_json::from_str(json).unwrap()
    }

    /// Found by fuzz/prices: a tier cheaper than the base rates (a user's price, or
    /// gemini-2.0-flash-exp in the built-in table) shrank the reservation of a prompt counted
    /// above the threshold, while the call was billed below it at the dearer base rates.
    #[test]
    fn a_cheaper_tier_does_not_shrink_the_reservation() {
        let p = price(
            r#"{"name":"m","provider":"","mode":"chat","input":100,"output":1000,
                "tiers":[{"above":1000,"input":1,"output":1}]}"#,
        );
        let worst = p.worst_case(1500, 10, CacheWrite::None).unwrap();
        let billed_below = Usage {
            input: 900,
            output: 10,
            ..Usage::default()
        };
        assert!(p.cost(&billed_below).unwrap() <= worst);
        let fit = p
            .max_affordable_output(1500, CacheWrite::None, worst)
            .unwrap();
        assert!(p.worst_case(1500, fit, CacheWrite::None).unwrap() <= worst);
    }

    /// A cache read dearer than plain input (only a user's price can say so) is still covered.
    #[test]
    fn every_prompt_rate_is_covered() {
        let p = price(
            r#"{"name":"m","provider":"","mode":"chat","input":1,"output":1,"cache_read":7}"#,
        );
        let worst = p.worst_case(100, 0, CacheWrite::None).unwrap();
        let cached = Usage {
            cache_read: 100,
            ..Usage::default()
        };
        assert!(p.cost(&cached).unwrap() <= worst);
    }

    /// Rising tiers, the built-in table's normal case, reserve exactly as before.
    #[test]
    fn rising_tiers_reserve_at_the_tier_of_the_prompt() {
        let p = price(
            r#"{"name":"m","provider":"","mode":"chat","input":1000,"output":2000,
                "tiers":[{"above":100,"input":3000,"output":4000}]}"#,
        );
        assert_eq!(p.worst_case(50, 10, CacheWrite::None).unwrap(), 70);
        assert_eq!(p.worst_case(150, 10, CacheWrite::None).unwrap(), 490);
    }
}

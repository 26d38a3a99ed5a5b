//! LiteLLM's `model_prices_and_context_window.json` read into wflo's price entries.
//!
//! The same facts `pricing/refresh.py` carries over when it builds the built-in table (see
//! `pricing/README.md`): USD-per-token floats become whole pico-USD rounded UP (never
//! under-charge), long-context prices become tiers, and entries priced only per image, second
//! or query are left out. Loading the release the built-in table was made from therefore
//! changes no current model — a test holds the two to that.

use serde_json::{Map, Value};

use super::catalog::PriceOverride;
use super::model::Tier;
use crate::money::Picos;

/// LiteLLM key → wflo field, for base prices and `tiered_pricing` rows.
const PRICE_KEYS: [(&str, Field); 6] = [
    ("input_cost_per_token", Field::Input),
    ("output_cost_per_token", Field::Output),
    ("cache_read_input_token_cost", Field::CacheRead),
    ("cache_creation_input_token_cost", Field::CacheWrite5m),
    (
        "cache_creation_input_token_cost_above_1hr",
        Field::CacheWrite1h,
    ),
    ("output_cost_per_reasoning_token", Field::Reasoning),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Input,
    Output,
    CacheRead,
    CacheWrite5m,
    CacheWrite1h,
    Reasoning,
}

/// Why an entry of the file is not a price entry (reported, not an error).
pub(crate) const NO_TOKEN_PRICE: &str =
    "no per-token price (priced per image, second, character or query): not metered";

/// Converts one entry. `Ok(None)`: an entry the table does not carry (no per-token price).
/// `Err(reason)`: a value wflo cannot read; the caller refuses the whole file with the line.
pub(crate) fn convert(name: &str, entry: &Value) -> Result<Option<PriceOverride>, String> {
    let Some(entry) = entry.as_object() else {
        return Err("a LiteLLM entry must be a JSON object".into());
    };
    let rows = tier_rows(entry);
    if !has_token_price(entry, &rows) {
        return Ok(None);
    }
    let mut out = PriceOverride {
        name: name.to_owned(),
        provider: Some(text(entry, "litellm_provider")?.unwrap_or_default()),
        mode: Some(
            text(entry, "mode")?
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "chat".into()),
        ),
        ..PriceOverride::default()
    };
    // Top-level prices first; `tiered_pricing`'s range starting at 0 fills what they leave out.
    for (key, field) in PRICE_KEYS {
        if let Some(p) = price(entry, key, key)? {
            set(&mut out, field, p);
        }
    }
    let mut tiers: Vec<Tier> = Vec::new();
    for (lo, row) in &rows {
        for (key, field) in PRICE_KEYS {
            let where_ = format!("tiered_pricing[{lo}].{key}");
            let Some(p) = price(row, key, &where_)? else {
                continue;
            };
            if *lo == 0 {
                if get(&out, field).is_none() {
                    set(&mut out, field, p);
                }
            } else {
                tier_at(&mut tiers, *lo, field, p);
            }
        }
    }
    // "<price key>_above_<N>k_tokens", exactly: service-tier and media variants do not match.
    for (key, value) in entry {
        let Some((field, above)) = tier_key(key) else {
            continue;
        };
        if let Some(p) = price_value(value, key)? {
            tier_at(&mut tiers, above, field, p);
        }
    }
    tiers.sort_by_key(|t| t.above);
    out.tiers = (!tiers.is_empty()).then_some(tiers);
    out.input = Some(out.input.unwrap_or(0));
    out.output = Some(out.output.unwrap_or(0));
    out.max_input = count(entry, "max_input_tokens")?;
    out.max_output = match count(entry, "max_output_tokens")? {
        Some(v) => Some(v),
        // The legacy key, read only when it holds a whole number (it was free text once).
        None => entry.get("max_tokens").and_then(whole_number),
    };
    out.deprecation_date = text(entry, "deprecation_date")?;
    Ok(Some(out))
}

/// `tiered_pricing` rows priced by token count: (start of the range, the row).
fn tier_rows(entry: &Map<String, Value>) -> Vec<(u64, &Map<String, Value>)> {
    let Some(rows) = entry.get("tiered_pricing").and_then(Value::as_array) else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(Value::as_object)
        .filter_map(|row| {
            // Rows keyed by max_results_range and the like price search queries, not tokens.
            let range = row.get("range")?.as_array()?;
            let lo = range.first().filter(|_| range.len() == 2)?;
            Some((whole_number(lo)?, row))
        })
        .collect()
}

fn has_token_price(entry: &Map<String, Value>, rows: &[(u64, &Map<String, Value>)]) -> bool {
    let priced = |m: &Map<String, Value>| {
        ["input_cost_per_token", "output_cost_per_token"]
            .iter()
            .any(|k| m.get(*k).is_some_and(Value::is_number))
    };
    priced(entry) || rows.iter().any(|(_, row)| priced(row))
}

fn tier_key(key: &str) -> Option<(Field, u64)> {
    let rest = key.strip_suffix("k_tokens")?;
    let (price_key, thousands) = rest.rsplit_once("_above_")?;
    if thousands.is_empty() || !thousands.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = PRICE_KEYS.iter().find(|(k, _)| *k == price_key)?.1;
    Some((field, thousands.parse::<u64>().ok()?.checked_mul(1000)?))
}

/// Sets a tier's price; a tier given twice keeps the higher price (never under-charge).
fn tier_at(tiers: &mut Vec<Tier>, above: u64, field: Field, p: Picos) {
    let i = match tiers.iter().position(|t| t.above == above) {
        Some(i) => i,
        None => {
            tiers.push(Tier {
                above,
                input: None,
                output: None,
                cache_read: None,
                cache_write_5m: None,
                cache_write_1h: None,
                reasoning: None,
            });
            tiers.len() - 1
        }
    };
    let t = &mut tiers[i];
    let slot = match field {
        Field::Input => &mut t.input,
        Field::Output => &mut t.output,
        Field::CacheRead => &mut t.cache_read,
        Field::CacheWrite5m => &mut t.cache_write_5m,
        Field::CacheWrite1h => &mut t.cache_write_1h,
        Field::Reasoning => &mut t.reasoning,
    };
    *slot = Some(slot.map_or(p, |old| old.max(p)));
}

fn set(out: &mut PriceOverride, field: Field, p: Picos) {
    match field {
        Field::Input => out.input = Some(p),
        Field::Output => out.output = Some(p),
        Field::CacheRead => out.cache_read = Some(p),
        Field::CacheWrite5m => out.cache_write_5m = Some(p),
        Field::CacheWrite1h => out.cache_write_1h = Some(p),
        Field::Reasoning => out.reasoning = Some(p),
    }
}

fn get(out: &PriceOverride, field: Field) -> Option<Picos> {
    match field {
        Field::Input => out.input,
        Field::Output => out.output,
        Field::CacheRead => out.cache_read,
        Field::CacheWrite5m => out.cache_write_5m,
        Field::CacheWrite1h => out.cache_write_1h,
        Field::Reasoning => out.reasoning,
    }
}

fn price(map: &Map<String, Value>, key: &str, where_: &str) -> Result<Option<Picos>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => price_value(v, where_),
    }
}

/// A USD-per-token JSON number as whole pico-USD. `null` is no price; anything else that is
/// not a non-negative number is an error.
fn price_value(v: &Value, where_: &str) -> Result<Option<Picos>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => usd_per_token_to_picos(x)
                .map(Some)
                .ok_or_else(|| format!("'{where_}' is implausibly large: {n}")),
            _ => Err(format!(
                "'{where_}' must be a non-negative price in USD per token, got {n}"
            )),
        },
        other => Err(format!(
            "'{where_}' must be a number (USD per token), got {other}"
        )),
    }
}

/// USD per token → pico-USD per token, rounded up. The float is first read as the decimal it
/// was meant to be (15 significant digits), so binary noise such as 1.0000000000000001e-07
/// does not round a whole pico up; only a truly sub-pico price is rounded (up).
pub(crate) fn usd_per_token_to_picos(usd: f64) -> Option<Picos> {
    if usd == 0.0 {
        return Some(0);
    }
    // d.dddddddddddddde±x: 15 significant digits M and a decimal exponent e, so
    // usd = M · 10^(e-14) and picos = M · 10^(e-2).
    let sci = format!("{usd:.14e}");
    let (mantissa, exp) = sci.split_once('e')?;
    let digits: u128 = mantissa.replace('.', "").parse().ok()?;
    let shift = exp.parse::<i32>().ok()? - 2;
    let picos = if shift >= 0 {
        digits.checked_mul(10u128.checked_pow(shift as u32)?)?
    } else if -shift > 38 {
        1 // a positive price far below one pico: the smallest whole pico, rounded up
    } else {
        let div = 10u128.pow((-shift) as u32);
        digits.div_ceil(div)
    };
    Picos::try_from(picos).ok()
}

/// A token count: an integer, or a float holding a whole number (`2000000.0`).
fn whole_number(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let x = v.as_f64()?;
    (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 1e18).then_some(x as u64)
}

fn count(entry: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => whole_number(v)
            .map(Some)
            .ok_or_else(|| format!("'{key}' must be a whole number of tokens, got {v}")),
    }
}

fn text(entry: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("'{key}' must be a string, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_round_up_only_below_a_pico() {
        assert_eq!(usd_per_token_to_picos(2.5e-6), Some(2_500_000));
        // Binary noise is the decimal it was meant to be.
        assert_eq!(
            usd_per_token_to_picos(1.0000000000000001e-07),
            Some(100_000)
        );
        assert_eq!(usd_per_token_to_picos(9.499999999999999e-07), Some(950_000));
        // True sub-pico prices round up.
        assert_eq!(usd_per_token_to_picos(4.6875e-09), Some(4688));
        assert_eq!(
            usd_per_token_to_picos(1.1428571428571428e-06),
            Some(1_142_858)
        );
        assert_eq!(usd_per_token_to_picos(1e-300), Some(1));
        assert_eq!(usd_per_token_to_picos(0.0), Some(0));
        assert_eq!(usd_per_token_to_picos(1e30), None);
    }

    #[test]
    fn an_entry_with_tiers_and_cache_prices() {
        let entry = json!({
            "litellm_provider": "vertex_ai", "mode": "chat",
            "input_cost_per_token": 1.25e-6, "output_cost_per_token": 1e-5,
            "cache_read_input_token_cost": 3.125e-7,
            "input_cost_per_token_above_200k_tokens": 2.5e-6,
            "output_cost_per_token_above_200k_tokens": 1.5e-5,
            "input_cost_per_token_above_200k_tokens_priority": 9.0,
            "max_input_tokens": 1048576.0, "max_tokens": 65535, "max_output_tokens": 65535,
            "deprecation_date": "2027-06-01"
        });
        let p = convert("gemini-x", &entry).unwrap().unwrap();
        assert_eq!(
            (p.input, p.output, p.cache_read),
            (Some(1_250_000), Some(10_000_000), Some(312_500))
        );
        let tiers = p.tiers.unwrap();
        assert_eq!(tiers.len(), 1);
        assert_eq!(
            (tiers[0].above, tiers[0].input, tiers[0].output),
            (200_000, Some(2_500_000), Some(15_000_000))
        );
        assert_eq!((p.max_input, p.max_output), (Some(1_048_576), Some(65_535)));
        assert_eq!(p.deprecation_date.as_deref(), Some("2027-06-01"));
    }

    #[test]
    fn tiered_pricing_rows_give_base_and_tiers() {
        let entry = json!({"litellm_provider": "dashscope", "tiered_pricing": [
            {"range": [0, 32000], "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
            {"range": [32000, 128000], "input_cost_per_token": 3e-6, "output_cost_per_token": 4e-6},
            {"max_results_range": [0, 10], "search_cost_per_query": 0.01}
        ]});
        let p = convert("qwen-x", &entry).unwrap().unwrap();
        assert_eq!((p.input, p.output), (Some(1_000_000), Some(2_000_000)));
        assert_eq!(p.tiers.unwrap()[0].above, 32_000);
    }

    #[test]
    fn media_priced_entries_are_skipped_and_bad_values_refused() {
        let image = json!({"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04});
        assert!(convert("dall-e-9", &image).unwrap().is_none());
        let bad = json!({"input_cost_per_token": "0.000001", "output_cost_per_token": 1e-6});
        let e = convert("m", &bad).unwrap_err();
        assert!(
            e.contains("input_cost_per_token") && e.contains("must be a number"),
            "{e}"
        );
        let negative = json!({"input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6});
        assert!(
            convert("m", &negative)
                .unwrap_err()
                .contains("non-negative")
        );
        assert!(
            convert("m", &json!([1, 2]))
                .unwrap_err()
                .contains("JSON object")
        );
    }
}

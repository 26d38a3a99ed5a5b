//! Money is integer: prices in pico-USD per token, amounts in nano-USD.
//!
//! Floats appear only at the edges (a user's `budget_usd=2.0`, a display string) and are
//! converted once, here. A call's cost is computed exactly in pico-USD and rounded UP to the
//! next nano-USD, so wflo never under-charges.

use crate::error::{Error, Result};

/// An amount of money in nano-USD (1e-9 USD).
pub type Nanos = u64;

/// A price in pico-USD (1e-12 USD) per token.
pub type Picos = u64;

/// Nano-USD in one USD.
pub const NANOS_PER_USD: u64 = 1_000_000_000;

/// The largest amount the engine accepts or produces (fits a signed 64-bit SQL column).
pub const MAX_NANOS: Nanos = i64::MAX as u64;

/// The largest budget accepted, in USD: a billion dollars is no budget at all, but a larger
/// number is much more likely a unit mistake (cents, nanos) than an intent.
pub const MAX_BUDGET_USD: f64 = 1e9;

/// Converts a USD amount given as a float into nano-USD, rounding toward zero so that a budget
/// never grows in conversion. Rejects NaN, infinities, negatives and absurd magnitudes.
pub fn usd_to_nanos(usd: f64) -> Result<Nanos> {
    if !usd.is_finite() {
        return Err(Error::invalid(format!(
            "amount must be a finite number of USD, got {usd}"
        )));
    }
    if usd < 0.0 {
        return Err(Error::invalid(format!(
            "amount must not be negative, got {usd} USD"
        )));
    }
    if usd > MAX_BUDGET_USD {
        return Err(Error::invalid(format!(
            "amount {usd} USD is larger than the maximum of {MAX_BUDGET_USD} USD"
        )));
    }
    // Going through the shortest decimal representation avoids 0.1 * 1e9 = 99999999.99...
    parse_usd(&format!("{usd}"))
}

/// Parses a decimal USD string (`"2"`, `"0.000075"`, `"1e-3"` is rejected) into nano-USD.
/// Digits past the ninth decimal are dropped (toward zero). A leading `$` is accepted.
pub fn parse_usd(text: &str) -> Result<Nanos> {
    let t = text.trim();
    let t = t.strip_prefix('$').unwrap_or(t);
    let bad = || Error::invalid(format!("'{text}' is not a decimal USD amount like 2.50"));
    if t.is_empty() {
        return Err(bad());
    }
    if t.starts_with('-') {
        return Err(Error::invalid(format!(
            "amount must not be negative, got '{text}'"
        )));
    }
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if (whole.is_empty() && frac.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole_value: u64 = if whole.is_empty() {
        0
    } else {
        let trimmed = whole.trim_start_matches('0');
        if trimmed.len() > 10 {
            return Err(too_large(text));
        }
        trimmed.parse::<u64>().unwrap_or(0)
    };
    let mut frac_nanos: u64 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        frac_nanos += u64::from(b - b'0') * 10u64.pow(8 - i as u32);
    }
    let nanos = whole_value
        .checked_mul(NANOS_PER_USD)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(|| too_large(text))?;
    if nanos > (MAX_BUDGET_USD as u64) * NANOS_PER_USD {
        return Err(too_large(text));
    }
    Ok(nanos)
}

fn too_large(text: &str) -> Error {
    Error::invalid(format!(
        "amount '{text}' is larger than the maximum of {MAX_BUDGET_USD} USD"
    ))
}

/// Nano-USD as a float USD value, for faces whose users expect `spent_usd: float`.
pub fn nanos_to_usd(nanos: Nanos) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

/// Formats nano-USD as a decimal USD string with at least two decimals and as many more as
/// needed to show the amount exactly: `75_000` → `"0.000075"`, `2_000_000_000` → `"2.00"`.
pub fn format_usd(nanos: Nanos) -> String {
    let whole = nanos / NANOS_PER_USD;
    let frac = nanos % NANOS_PER_USD;
    let mut digits = format!("{frac:09}");
    while digits.len() > 2 && digits.ends_with('0') {
        digits.pop();
    }
    format!("{whole}.{digits}")
}

/// Converts a price given in USD per token (as price tables publish it) into pico-USD per
/// token, rounding UP so a converted price never under-charges.
pub fn usd_per_token_to_picos(usd: f64) -> Result<Picos> {
    if !usd.is_finite() || usd < 0.0 {
        return Err(Error::invalid(format!(
            "a price must be a finite, non-negative USD amount per token, got {usd}"
        )));
    }
    if usd > 1000.0 {
        return Err(Error::invalid(format!(
            "a price of {usd} USD per token is not plausible"
        )));
    }
    let text = format!("{usd:.15}");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let whole: u64 = whole.parse().map_err(|_| Error::invalid("bad price"))?;
    let mut picos = whole * 1_000_000_000_000;
    let frac = frac.as_bytes();
    for (i, b) in frac.iter().take(12).enumerate() {
        picos += u64::from(b - b'0') * 10u64.pow(11 - i as u32);
    }
    if frac.iter().skip(12).any(|&b| b != b'0') {
        picos += 1;
    }
    Ok(picos)
}

/// Pico-USD (a cost before rounding) to nano-USD, rounded up.
pub fn picos_to_nanos_ceil(picos: u128) -> Result<Nanos> {
    let nanos = picos.div_ceil(1000);
    if nanos > u128::from(MAX_NANOS) {
        return Err(Error::invalid(
            "cost overflows the largest representable amount",
        ));
    }
    Ok(nanos as Nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_floats_convert_exactly() {
        assert_eq!(usd_to_nanos(2.0).unwrap(), 2_000_000_000);
        assert_eq!(usd_to_nanos(0.1).unwrap(), 100_000_000);
        assert_eq!(usd_to_nanos(0.000075).unwrap(), 75_000);
        assert_eq!(usd_to_nanos(0.0).unwrap(), 0);
        assert_eq!(usd_to_nanos(1e-10).unwrap(), 0);
    }

    #[test]
    fn bad_usd_is_invalid_argument() {
        for v in [f64::NAN, f64::INFINITY, -1.0, 1e10] {
            assert_eq!(
                usd_to_nanos(v).unwrap_err().code(),
                crate::ErrorCode::InvalidArgument
            );
        }
        for s in ["", "abc", "-1", "1.2.3", "1e3", ".", "99999999999"] {
            assert!(parse_usd(s).is_err(), "{s}");
        }
    }

    #[test]
    fn decimal_strings_parse() {
        assert_eq!(parse_usd("$2.50").unwrap(), 2_500_000_000);
        assert_eq!(parse_usd(".5").unwrap(), 500_000_000);
        assert_eq!(parse_usd("0.0000000019").unwrap(), 1);
        assert_eq!(
            parse_usd("1000000000").unwrap(),
            1_000_000_000 * NANOS_PER_USD
        );
    }

    #[test]
    fn formatting_shows_small_amounts() {
        assert_eq!(format_usd(75_000), "0.000075");
        assert_eq!(format_usd(2_000_000_000), "2.00");
        assert_eq!(format_usd(1), "0.000000001");
        assert_eq!(format_usd(1_230_000_000), "1.23");
    }

    #[test]
    fn prices_convert_up() {
        assert_eq!(usd_per_token_to_picos(2.5e-6).unwrap(), 2_500_000);
        assert_eq!(usd_per_token_to_picos(1.25e-7).unwrap(), 125_000);
        assert_eq!(usd_per_token_to_picos(3e-15).unwrap(), 1);
        assert!(usd_per_token_to_picos(-1.0).is_err());
    }

    #[test]
    fn costs_round_up() {
        assert_eq!(picos_to_nanos_ceil(0).unwrap(), 0);
        assert_eq!(picos_to_nanos_ceil(1).unwrap(), 1);
        assert_eq!(picos_to_nanos_ceil(1000).unwrap(), 1);
        assert_eq!(picos_to_nanos_ceil(1001).unwrap(), 2);
    }
}

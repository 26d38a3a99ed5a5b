//! The channel versions every face's saver gives LangGraph (its `get_next_version` /
//! `getNextVersion`): `<n + 1, zero-padded to 32 digits>.<16 random decimal digits>`. Zero
//! padding makes the versions of one branch sort by their number as strings; the random part
//! makes them unique across branches, so after a rollback or a fork two branches never store
//! different values under one channel version — the saver resolves a channel's value by
//! (channel, version) equality, walking the parent chain and then the thread's other records.

use serde_json::Value;

use crate::{Error, Result};

/// How many digits a version's number has (its zero padding).
const NUMBER_DIGITS: usize = 32;
/// How many random decimal digits follow the ".".
const RANDOM_DIGITS: u32 = 16;

/// The version after `current`: its number (an integer, or the part of a string before its
/// first "."; none or null is 0) plus one, zero-padded to 32 digits, then "." and 16 random
/// decimal digits. Anything else — a negative or fractional number, a string whose number is
/// not plain digits, a number beyond 32 digits — is `INVALID_ARGUMENT`; INTERNAL when the
/// operating system's random generator fails.
pub fn next_version(current: Option<&Value>) -> Result<String> {
    let n = number_of(current)?;
    let next = n
        .checked_add(1)
        .filter(|&m| m < 10u128.pow(NUMBER_DIGITS as u32))
        .ok_or_else(|| {
            Error::invalid(format!(
                "a LangGraph channel version has no next one within {NUMBER_DIGITS} digits"
            ))
        })?;
    Ok(format!(
        "{next:0width$}.{:0digits$}",
        random_digits()?,
        width = NUMBER_DIGITS,
        digits = RANDOM_DIGITS as usize
    ))
}

/// The number of a channel version.
fn number_of(current: Option<&Value>) -> Result<u128> {
    let refuse = || {
        Error::invalid(format!(
            "a LangGraph channel version must be null, a non-negative integer or a string \
             starting with one (\"<n>.<anything>\"), got {}",
            current.map_or_else(|| "none".to_string(), Value::to_string)
        ))
    };
    match current {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_u64().map(u128::from).ok_or_else(refuse),
        Some(Value::String(s)) => {
            let digits = s.split('.').next().unwrap_or_default();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refuse());
            }
            // Leading zeros are the padding; more significant digits than fit are refused.
            let significant = digits.trim_start_matches('0');
            if significant.len() > NUMBER_DIGITS {
                return Err(refuse());
            }
            Ok(significant.parse::<u128>().unwrap_or(0))
        }
        Some(_) => Err(refuse()),
    }
}

/// 16 uniformly random decimal digits, as a number below 10^16.
fn random_digits() -> Result<u64> {
    const SPAN: u64 = 10u64.pow(RANDOM_DIGITS);
    // The largest multiple of SPAN a u64 holds: draws at or above it are drawn again, so every
    // value below SPAN is equally likely.
    const LIMIT: u64 = u64::MAX - u64::MAX % SPAN;
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| {
            Error::Internal(format!(
                "the operating system's random generator failed ({e}): no channel version is made without it"
            ))
        })?;
        let x = u64::from_le_bytes(bytes);
        if x < LIMIT {
            return Ok(x % SPAN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn next(v: Value) -> String {
        next_version(Some(&v)).unwrap()
    }

    fn number(version: &str) -> &str {
        version.split('.').next().unwrap()
    }

    #[test]
    fn has_a_32_digit_number_a_dot_and_16_random_digits() {
        let v = next_version(None).unwrap();
        assert_eq!(v.len(), 32 + 1 + 16, "{v}");
        assert_eq!(number(&v), format!("{:032}", 1));
        assert_eq!(&v[32..33], ".");
        assert!(v[33..].bytes().all(|b| b.is_ascii_digit()), "{v}");
        assert_eq!(number(&next(Value::Null)), format!("{:032}", 1));
    }

    #[test]
    fn increments_integers_and_both_string_forms() {
        assert_eq!(number(&next(json!(0))), format!("{:032}", 1));
        assert_eq!(number(&next(json!(41))), format!("{:032}", 42));
        assert_eq!(
            number(&next(json!(u64::MAX))),
            format!("{:032}", u64::MAX as u128 + 1)
        );
        // This policy's own form, and LangGraph's Python in-memory saver's ("<n>.<0.random>").
        let ours = next(json!(7));
        assert_eq!(number(&next(json!(ours))), format!("{:032}", 9));
        let python = format!("{:032}.0.8437112030415227", 12);
        assert_eq!(number(&next(json!(python))), format!("{:032}", 13));
        assert_eq!(number(&next(json!("5"))), format!("{:032}", 6));
        assert_eq!(number(&next(json!("0000.x"))), format!("{:032}", 1));
        assert_eq!(
            number(&next(json!("9".repeat(31)))),
            format!("1{}", "0".repeat(31))
        );
    }

    #[test]
    fn versions_sort_by_their_number_as_strings() {
        let mut v = next_version(None).unwrap();
        for _ in 0..12 {
            let w = next(json!(v));
            assert!(w > v, "{w} should sort after {v}");
            v = w;
        }
        assert!(next(json!(9)) < next(json!(10)));
        assert!(next(json!(99)) < next(json!(100_000)));
    }

    #[test]
    fn two_calls_differ() {
        let a = next(json!(3));
        let b = next(json!(3));
        assert_eq!(number(&a), number(&b));
        assert_ne!(a, b, "two branches must not get one version");
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in [
            json!(-1),
            json!(1.5),
            json!(true),
            json!([1]),
            json!({"n": 1}),
            json!(""),
            json!(".5"),
            json!("x.1"),
            json!("-3.1"),
            json!("+3"),
            json!(" 3"),
            json!("١٢"),
            json!("9".repeat(33)),
        ] {
            let e = next_version(Some(&bad)).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e:?}");
        }
        // The largest 32-digit number has no next one.
        let e = next_version(Some(&json!("9".repeat(32)))).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }
}

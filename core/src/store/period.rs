//! The period a shared budget's limit applies to, and the UTC bucket a moment falls in.

use serde::{Deserialize, Serialize};

use crate::clock::civil_date;
use crate::error::{Error, Result};

/// How often a shared scope's spend starts again from zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// One limit for the whole life of the scope.
    #[default]
    None,
    /// A limit per UTC calendar day.
    Day,
    /// A limit per UTC calendar month.
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::None => "none",
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    pub fn from_name(name: &str) -> Result<Period> {
        match name {
            "none" | "" => Ok(Period::None),
            "day" | "daily" => Ok(Period::Day),
            "month" | "monthly" => Ok(Period::Month),
            other => Err(Error::invalid(format!(
                "unknown period '{other}' (expected none, day or month)"
            ))),
        }
    }

    /// The row key of scope `name` at `now_ms`: `name`, `name@YYYY-MM-DD` or `name@YYYY-MM`.
    pub fn key(self, name: &str, now_ms: u64) -> String {
        let (y, m, d) = civil_date(now_ms);
        match self {
            Period::None => name.to_owned(),
            Period::Day => format!("{name}@{y:04}-{m:02}-{d:02}"),
            Period::Month => format!("{name}@{y:04}-{m:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_utc_calendar() {
        // 2024-02-29T23:59:59.999Z and the next millisecond.
        assert_eq!(Period::Day.key("t", 1_709_251_199_999), "t@2024-02-29");
        assert_eq!(Period::Day.key("t", 1_709_251_200_000), "t@2024-03-01");
        assert_eq!(Period::Month.key("t", 1_709_251_200_000), "t@2024-03");
        assert_eq!(Period::None.key("t", 1_709_251_200_000), "t");
        // 2026-12-31T12:00:00Z
        assert_eq!(
            Period::Day.key("acme", 1_798_718_400_000),
            "acme@2026-12-31"
        );
    }
}

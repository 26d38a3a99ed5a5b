//! Budget alerts: soft thresholds of a scope's limit (default 50, 80 and 95%) that fire once
//! each, in order, when spend crosses them, and a soft budget that warns and never refuses.
//! The rule lives here once; the engine applies it after each call and `wflo serve` applies
//! it to what it reads from the store.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::money::{Nanos, nanos_to_usd};

/// The thresholds used when none are given: percent of a scope's limit.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [50, 80, 95];

/// What crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Spend reached `percent` of the scope's hard limit.
    Threshold,
    /// Spend reached the soft budget (a warning; nothing is refused).
    SoftBudget,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Threshold => "threshold",
            AlertKind::SoftBudget => "soft_budget",
        }
    }
}

/// One alert. Carries ids, names and amounts only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The execution whose spend crossed (`""` for a shared scope).
    pub execution_id: String,
    /// The workflow name of that execution (`""` for a shared scope).
    pub workflow: String,
    /// The scope: `""` for the execution itself, a step label, or a shared scope's name.
    pub scope: String,
    pub kind: AlertKind,
    /// The threshold in percent of `limit_nanos` (100 for a soft budget).
    pub percent: u32,
    /// The limit the threshold is a part of (the soft budget itself for `soft_budget`).
    pub limit_nanos: Nanos,
    pub limit_usd: f64,
    pub spent_nanos: Nanos,
    pub spent_usd: f64,
    pub at_ms: u64,
}

impl Alert {
    /// The alert as one JSON object (what every face's callback and the webhook receive).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One line for a person: `budget 80% reached on research/planner: $0.0810 of $0.1000`.
    pub fn summary(&self) -> String {
        let what = match self.kind {
            AlertKind::Threshold => format!("budget {}% reached", self.percent),
            AlertKind::SoftBudget => "soft budget reached".to_owned(),
        };
        let scope = match (self.workflow.as_str(), self.scope.as_str()) {
            ("", s) => s.to_owned(),
            (w, "") => w.to_owned(),
            (w, s) => format!("{w}/{s}"),
        };
        format!(
            "{what} on {scope}: ${:.4} of ${:.4}",
            nanos_to_usd(self.spent_nanos),
            nanos_to_usd(self.limit_nanos)
        )
    }
}

/// Checks thresholds given by a caller: each 1..=100, strictly ascending.
pub fn check_thresholds(thresholds: &[u32]) -> Result<()> {
    if thresholds.len() > 16 {
        return Err(Error::invalid("at most 16 alert thresholds"));
    }
    let mut last = 0;
    for &t in thresholds {
        if !(1..=100).contains(&t) || t <= last {
            return Err(Error::invalid(format!(
                "alert thresholds are percents from 1 to 100 in ascending order, not {thresholds:?}"
            )));
        }
        last = t;
    }
    Ok(())
}

/// What has fired on one scope in its period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired {
    /// How many thresholds (a prefix of the ascending list) have fired.
    pub thresholds: usize,
    pub soft_budget: bool,
}

/// A scope's figures and what fired so far; returns what fires now, in order, and updates
/// `fired`. `limit` is the hard limit (thresholds need one), `soft` the soft budget.
pub fn due(
    thresholds: &[u32],
    limit: Option<Nanos>,
    soft: Option<Nanos>,
    spent: Nanos,
    fired: &mut Fired,
) -> Vec<(AlertKind, u32, Nanos)> {
    let mut out = Vec::new();
    if let Some(limit) = limit.filter(|l| *l > 0) {
        while let Some(&pct) = thresholds.get(fired.thresholds) {
            // spent / limit >= pct / 100, in integers.
            if (spent as u128) * 100 < (limit as u128) * pct as u128 {
                break;
            }
            out.push((AlertKind::Threshold, pct, limit));
            fired.thresholds += 1;
        }
    }
    if let Some(soft) = soft.filter(|s| *s > 0)
        && !fired.soft_budget
        && spent >= soft
    {
        out.push((AlertKind::SoftBudget, 100, soft));
        fired.soft_budget = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_fire_once_each_in_order() {
        let mut fired = Fired::default();
        let t = DEFAULT_THRESHOLDS;
        assert!(due(&t, Some(1000), None, 499, &mut fired).is_empty());
        assert_eq!(
            due(&t, Some(1000), None, 500, &mut fired),
            vec![(AlertKind::Threshold, 50, 1000)]
        );
        assert!(due(&t, Some(1000), None, 700, &mut fired).is_empty());
        // One big call can cross two at once: both fire, lower first.
        assert_eq!(
            due(&t, Some(1000), None, 990, &mut fired),
            vec![
                (AlertKind::Threshold, 80, 1000),
                (AlertKind::Threshold, 95, 1000)
            ]
        );
        assert!(due(&t, Some(1000), None, 2000, &mut fired).is_empty());
    }

    #[test]
    fn a_soft_budget_fires_once_and_needs_no_limit() {
        let mut fired = Fired::default();
        assert!(due(&[], None, Some(300), 299, &mut fired).is_empty());
        assert_eq!(
            due(&[], None, Some(300), 300, &mut fired),
            vec![(AlertKind::SoftBudget, 100, 300)]
        );
        assert!(due(&[], None, Some(300), 900, &mut fired).is_empty());
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(check_thresholds(&[50, 80, 95]).is_ok());
        assert!(check_thresholds(&[]).is_ok());
        for bad in [&[0][..], &[101], &[80, 50], &[50, 50]] {
            assert_eq!(
                check_thresholds(bad).unwrap_err().code(),
                crate::ErrorCode::InvalidArgument
            );
        }
    }
}

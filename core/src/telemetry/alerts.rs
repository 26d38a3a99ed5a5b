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
    /// The spend below which nothing can be due, for the (limit, soft budget) it was worked
    /// out for: after each call the common case is one comparison, not the threshold rule
    /// (it runs on every tracked call). A scope's thresholds never change, so they are not
    /// part of the key.
    quiet: Option<(Option<Nanos>, Option<Nanos>, Nanos)>,
}

impl Fired {
    /// True when nothing can be due at `spent` (known from the last check with the same
    /// limit and soft budget): what the check after every call almost always finds.
    #[inline]
    pub fn quiet(&self, limit: Option<Nanos>, soft: Option<Nanos>, spent: Nanos) -> bool {
        matches!(self.quiet, Some((l, s, below)) if l == limit && s == soft && spent < below)
    }
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
    if fired.quiet(limit, soft, spent) {
        return Vec::new();
    }
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
    fired.quiet = Some((limit, soft, quiet_below(thresholds, limit, soft, fired)));
    out
}

/// The least spend at which the next threshold or the soft budget fires (`Nanos::MAX`: none
/// left to fire).
fn quiet_below(
    thresholds: &[u32],
    limit: Option<Nanos>,
    soft: Option<Nanos>,
    fired: &Fired,
) -> Nanos {
    let next_threshold = limit
        .filter(|l| *l > 0)
        .and_then(|l| {
            let pct = *thresholds.get(fired.thresholds)? as u128;
            // The least spent with spent * 100 >= l * pct.
            Some(((l as u128 * pct).div_ceil(100)).min(Nanos::MAX as u128) as Nanos)
        })
        .unwrap_or(Nanos::MAX);
    let next_soft = match soft.filter(|s| *s > 0) {
        Some(s) if !fired.soft_budget => s,
        _ => Nanos::MAX,
    };
    next_threshold.min(next_soft)
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
    fn the_quiet_shortcut_agrees_with_the_rule() {
        // Every spend path of small steps, against the same rule worked without the shortcut.
        let t = [33, 50, 67, 99];
        for (limit, soft) in [
            (Some(997), None),
            (Some(3), Some(2)),
            (None, Some(500)),
            (Some(1000), Some(10)),
        ] {
            let (mut fast, mut spent) = (Fired::default(), 0);
            let mut slow_fired = Fired::default();
            while spent < 1200 {
                let got = due(&t, limit, soft, spent, &mut fast);
                slow_fired.quiet = None;
                let want = due(&t, limit, soft, spent, &mut slow_fired);
                assert_eq!(got, want, "limit {limit:?} soft {soft:?} spent {spent}");
                spent += 1;
            }
        }
        // A limit raised after the cache was made is seen at once.
        let mut fired = Fired::default();
        assert!(due(&t, Some(1000), None, 300, &mut fired).is_empty());
        assert_eq!(due(&t, Some(800), None, 300, &mut fired).len(), 1);
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

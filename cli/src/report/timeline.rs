//! The calls, checkpoints and rollbacks of an execution on ONE axis: call order. Checkpoints
//! and rollbacks fall in the gaps between calls.

use wflo_core::CallRecord;
use wflo_core::money::Nanos;

use super::ReportData;

/// Cumulative spend after each call, and where each checkpoint and rollback falls.
pub struct Timeline {
    /// `cum[i]`: the spend after the first `i + 1` calls (in sequence order).
    pub cum: Vec<Nanos>,
    /// For each checkpoint (same order as `ReportData::checkpoints`): how many calls came
    /// before it.
    pub checkpoint_gap: Vec<usize>,
    /// For each rollback (same order as `ReportData::rollbacks`): how many calls came before it.
    pub rollback_gap: Vec<usize>,
}

/// Which end of an ambiguous range an event takes.
#[derive(Clone, Copy)]
enum Lean {
    /// A checkpoint saved in the same millisecond as an instant call (a refusal) most likely
    /// came before it: checkpoints are saved after a step, before the next one starts.
    Early,
    /// A rollback in the same millisecond as a refusal most likely answered it.
    Late,
}

impl Timeline {
    pub fn new(data: &ReportData) -> Timeline {
        let mut cum = Vec::with_capacity(data.calls.len());
        let mut total: Nanos = 0;
        for c in &data.calls {
            total = total.saturating_add(c.cost_nanos);
            cum.push(total);
        }
        let checkpoint_gap = data
            .checkpoints
            .iter()
            .map(|c| {
                gap(
                    &data.calls,
                    &cum,
                    c.created_at_ms,
                    c.spent_nanos,
                    Lean::Early,
                )
            })
            .collect();
        let rollback_gap = data
            .rollbacks
            .iter()
            .map(|r| gap(&data.calls, &cum, r.at_ms, r.spent_nanos, Lean::Late))
            .collect();
        Timeline {
            cum,
            checkpoint_gap,
            rollback_gap,
        }
    }

    /// The spend after the first `k` calls.
    pub fn spend_after(&self, k: usize) -> Nanos {
        if k == 0 { 0 } else { self.cum[k - 1] }
    }
}

/// How many calls (a prefix in sequence order) came before an event at `at_ms` that recorded a
/// spend of `spent`. Time gives a range (calls finishing in the event's millisecond may be on
/// either side); the spend, when it matches the cumulative spend, narrows it.
fn gap(calls: &[CallRecord], cum: &[Nanos], at_ms: u64, spent: Nanos, lean: Lean) -> usize {
    // Surely before: finished earlier, or was already running when the event's millisecond began.
    let surely = calls
        .iter()
        .filter(|c| {
            c.finished_at_ms < at_ms || (c.finished_at_ms == at_ms && c.started_at_ms < at_ms)
        })
        .count();
    let maybe = calls.iter().filter(|c| c.finished_at_ms <= at_ms).count();
    let (mut lo, mut hi) = (surely.min(maybe), maybe);
    // Prefixes whose cumulative spend equals the event's spend (contiguous: spend only grows).
    let spend_after = |k: usize| if k == 0 { 0 } else { cum[k - 1] };
    let first = (0..=calls.len()).find(|&k| spend_after(k) == spent);
    if let Some(first) = first {
        let last = (first..=calls.len())
            .take_while(|&k| spend_after(k) == spent)
            .last()
            .unwrap_or(first);
        let (l, h) = (lo.max(first), hi.min(last));
        if l <= h {
            (lo, hi) = (l, h);
        }
    }
    match lean {
        Lean::Early => lo,
        Lean::Late => hi,
    }
}

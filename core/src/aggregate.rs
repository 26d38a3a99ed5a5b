//! Running totals of an execution's calls, by model and by step. The same code sums calls as
//! they happen and replays stored calls (a resumed execution, a report), so the two can never
//! disagree.

use std::sync::Arc;

use crate::fasthash::FastMap;
use crate::money::{Nanos, nanos_to_usd};
use crate::records::{CallRecord, CallStatus, ModelCost, StepCost};
use crate::usage::Usage;

#[derive(Debug, Default, Clone)]
struct ModelTotals {
    calls: u64,
    cost: Nanos,
    usage: Usage,
}

#[derive(Debug, Default, Clone)]
struct StepTotals {
    calls: u64,
    refused: u64,
    cost: Nanos,
}

/// Totals over a set of calls.
#[derive(Debug, Default, Clone)]
pub(crate) struct Aggregates {
    pub calls: u64,
    pub refused: u64,
    pub estimated: u64,
    pub cost: Nanos,
    pub usage: Usage,
    /// The highest call sequence number seen.
    pub last_seq: u64,
    by_model: FastMap<Arc<str>, ModelTotals>,
    by_step: FastMap<Arc<str>, StepTotals>,
}

impl Aggregates {
    pub fn add(&mut self, call: &CallRecord) {
        self.last_seq = self.last_seq.max(call.seq);
        let step = match self.by_step.get_mut(&call.step) {
            Some(s) => s,
            None => self.by_step.entry(call.step.clone()).or_default(),
        };
        if call.status == CallStatus::Refused {
            self.refused += 1;
            step.refused += 1;
            return;
        }
        self.calls += 1;
        self.cost = self.cost.saturating_add(call.cost_nanos);
        self.usage.add(&call.usage);
        if call.estimated {
            self.estimated += 1;
        }
        step.calls += 1;
        step.cost = step.cost.saturating_add(call.cost_nanos);
        let key = call.model.as_ref().unwrap_or(&call.requested_model);
        let model = match self.by_model.get_mut(key) {
            Some(m) => m,
            None => self.by_model.entry(key.clone()).or_default(),
        };
        model.calls += 1;
        model.cost = model.cost.saturating_add(call.cost_nanos);
        model.usage.add(&call.usage);
    }

    /// Models by cost, most expensive first.
    pub fn by_model(&self) -> Vec<ModelCost> {
        let mut v: Vec<ModelCost> = self
            .by_model
            .iter()
            .map(|(model, t)| ModelCost {
                model: model.to_string(),
                calls: t.calls,
                cost_nanos: t.cost,
                cost_usd: nanos_to_usd(t.cost),
                usage: t.usage,
            })
            .collect();
        v.sort_by(|a, b| {
            b.cost_nanos
                .cmp(&a.cost_nanos)
                .then_with(|| a.model.cmp(&b.model))
        });
        v
    }

    /// Steps by cost, most expensive first; `budget_of` gives a step's own limit.
    pub fn by_step(&self, budget_of: impl Fn(&str) -> Option<Nanos>) -> Vec<StepCost> {
        let mut v: Vec<StepCost> = self
            .by_step
            .iter()
            .map(|(step, t)| StepCost {
                step: step.to_string(),
                calls: t.calls,
                refused: t.refused,
                cost_nanos: t.cost,
                cost_usd: nanos_to_usd(t.cost),
                budget_nanos: budget_of(step),
            })
            .collect();
        v.sort_by(|a, b| {
            b.cost_nanos
                .cmp(&a.cost_nanos)
                .then_with(|| a.step.cmp(&b.step))
        });
        v
    }
}

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
    by_model: ByName<ModelTotals>,
    by_step: ByName<StepTotals>,
}

/// Totals by a name (a model, a step), remembering the last name found: consecutive calls
/// almost always share their model and step, and then need no hashing at all (this runs on
/// every tracked call).
#[derive(Debug, Clone)]
struct ByName<V> {
    index: FastMap<Arc<str>, usize>,
    values: Vec<(Arc<str>, V)>,
    last: usize,
}

impl<V> Default for ByName<V> {
    fn default() -> Self {
        ByName {
            index: FastMap::default(),
            values: Vec::new(),
            last: 0,
        }
    }
}

impl<V: Default> ByName<V> {
    fn get_mut(&mut self, name: &Arc<str>) -> &mut V {
        let last_matches = self
            .values
            .get(self.last)
            .is_some_and(|(n, _)| Arc::ptr_eq(n, name) || n == name);
        if !last_matches {
            self.last = match self.index.get(name) {
                Some(&at) => at,
                None => {
                    self.values.push((name.clone(), V::default()));
                    self.index.insert(name.clone(), self.values.len() - 1);
                    self.values.len() - 1
                }
            };
        }
        &mut self.values[self.last].1
    }

    fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &V)> {
        self.values.iter().map(|(n, v)| (n, v))
    }
}

impl Aggregates {
    pub fn add(&mut self, call: &CallRecord) {
        self.last_seq = self.last_seq.max(call.seq);
        let step = self.by_step.get_mut(&call.step);
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
        let model = self.by_model.get_mut(key);
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

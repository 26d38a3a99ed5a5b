//! The one reading of the store that everything live shares. A thread polls every
//! `--poll-ms` (and `/metrics` asks for a fresh poll before a scrape); each poll lists the
//! executions, reads the calls recorded since the last poll, feeds them to the process's
//! [`Metrics`], applies core's alert rule to every execution budget and watched shared scope,
//! and publishes a [`Snapshot`]. Event-stream clients wait on the snapshot's version: however
//! many browsers watch, the store is read once per interval.
//!
//! Alerts: the first poll only primes what has fired (figures already past a threshold when
//! serve starts send nothing); a crossing seen by a later poll is sent once, in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use wflo_core::clock::{Clock, SystemClock};
use wflo_core::store::SharedScopeFigures;
use wflo_core::telemetry::alerts::{Fired, due};
use wflo_core::telemetry::{Alert, Metrics, ScopeKind};
use wflo_core::{CallRecord, CallStatus, Engine, ExecutionRecord, ExecutionStatus, Nanos};

use super::webhook::Webhook;
use crate::terminal::escape;

/// Executions read by each poll, the most recent first: their calls are in `/metrics` and
/// their budgets raise alerts. Older executions are not watched.
pub const WATCHED: usize = 10_000;

/// Spend samples kept per shared scope for its burn-down.
const SAMPLES: usize = 720;

/// Everything live, as of one poll.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Grows by one whenever something below changed.
    pub version: u64,
    pub at_ms: u64,
    /// The most recent first, at most [`WATCHED`].
    pub executions: Vec<ExecutionRecord>,
    /// The watched shared scopes, in the order given.
    pub scopes: Vec<ScopeState>,
    /// Why the last poll failed, if it did (the figures above are then the last good ones).
    pub error: Option<String>,
}

/// A watched shared scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeState {
    pub name: String,
    /// Its current period's figures; `None` when they cannot be read (see `error`).
    pub figures: Option<SharedScopeFigures>,
    pub error: Option<String>,
    /// Calls refused in this period because this scope's limit could not cover them.
    pub refusals: u64,
    /// Spend in this period as serve saw it, oldest first (the burn-down).
    pub samples: Vec<Sample>,
}

/// One observation of a shared scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub at_ms: u64,
    pub spent_nanos: Nanos,
    pub reserved_nanos: Nanos,
}

/// What was already fed to the metrics for one execution.
#[derive(Debug, Default)]
struct Fed {
    last_seq: u64,
    calls: u64,
    spent: Nanos,
}

#[derive(Default)]
struct PollState {
    primed: bool,
    last: Option<Instant>,
    fed: HashMap<String, Fed>,
    fired_executions: HashMap<String, Fired>,
    /// By period key (`name`, `name@2026-05-01`): a new period fires again.
    fired_scopes: HashMap<String, Fired>,
    refusals: HashMap<String, u64>,
    /// By name: the period key the samples belong to, and the samples.
    samples: HashMap<String, (String, Vec<Sample>)>,
}

/// The poller's shared state.
pub struct Watch {
    pub engine: Arc<Engine>,
    pub metrics: Metrics,
    pub webhook: Option<Webhook>,
    thresholds: Vec<u32>,
    scope_names: Vec<String>,
    poll: Mutex<PollState>,
    current: Mutex<Arc<Snapshot>>,
    changed: Condvar,
}

impl Watch {
    pub fn new(
        engine: Arc<Engine>,
        scope_names: Vec<String>,
        thresholds: Vec<u32>,
        webhook: Option<Webhook>,
    ) -> Watch {
        Watch {
            engine,
            metrics: Metrics::new(),
            webhook,
            thresholds,
            scope_names,
            poll: Mutex::new(PollState::default()),
            current: Mutex::new(Arc::new(Snapshot::default())),
            changed: Condvar::new(),
        }
    }

    /// The latest snapshot.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.lock().clone()
    }

    /// Waits up to `timeout` for a snapshot newer than `version`.
    pub fn wait_newer(&self, version: u64, timeout: Duration) -> Option<Arc<Snapshot>> {
        let mut current = self.current.lock();
        if current.version == version {
            let _ = self.changed.wait_for(&mut current, timeout);
        }
        (current.version != version).then(|| current.clone())
    }

    /// Polls now unless a poll finished less than `fresh` ago; returns the snapshot.
    pub fn refresh(&self, fresh: Duration) -> Arc<Snapshot> {
        {
            let st = self.poll.lock();
            if st.last.is_some_and(|t| t.elapsed() < fresh) {
                return self.current();
            }
        }
        self.poll();
        self.current()
    }

    /// Polls every `interval` until the process ends.
    pub fn run(self: Arc<Self>, interval: Duration) {
        loop {
            self.poll();
            std::thread::sleep(interval);
        }
    }

    /// One poll: read, feed, alert, publish.
    pub fn poll(&self) {
        let mut st = self.poll.lock();
        let now = SystemClock.now_ms();
        let mut alerts = Vec::new();
        let read = self.read(&mut st, now, &mut alerts);
        let prime = !st.primed;
        // Primed by the first poll that read the store, not by one that failed.
        st.primed |= read.is_ok();
        st.last = Some(Instant::now());
        drop(st);
        if !prime {
            for (kind, alert) in alerts {
                let label = if alert.scope.is_empty() {
                    alert.workflow.clone()
                } else {
                    alert.scope.clone()
                };
                self.metrics.count_alert(kind, &label, alert.kind.as_str());
                eprintln!("wflo serve: alert: {}", escape(&alert.summary()));
                if let Some(w) = &self.webhook {
                    w.send(alert);
                }
            }
        }
        let mut current = self.current.lock();
        let next = match read {
            Ok((executions, scopes)) => Snapshot {
                version: current.version,
                at_ms: now,
                executions,
                scopes,
                error: None,
            },
            Err(e) => Snapshot {
                version: current.version,
                at_ms: now,
                executions: current.executions.clone(),
                scopes: current.scopes.clone(),
                error: Some(e.to_string()),
            },
        };
        if next.executions != current.executions
            || next.scopes != current.scopes
            || next.error != current.error
        {
            *current = Arc::new(Snapshot {
                version: current.version + 1,
                ..next
            });
            self.changed.notify_all();
        }
    }

    fn read(
        &self,
        st: &mut PollState,
        now: u64,
        alerts: &mut Vec<(ScopeKind, Alert)>,
    ) -> wflo_core::Result<(Vec<ExecutionRecord>, Vec<ScopeState>)> {
        // The scopes named with --scope, else every scope the store defines (read each poll,
        // so one defined while serve runs appears).
        let names: Vec<String> = if self.scope_names.is_empty() {
            self.engine.shared_scope_names()?
        } else {
            self.scope_names.clone()
        };
        let figures: Vec<wflo_core::Result<SharedScopeFigures>> = names
            .iter()
            .map(|name| self.engine.shared_scope(name))
            .collect();
        let executions = self.engine.list_executions(WATCHED)?;
        for e in &executions {
            let fed = st.fed.entry(e.id.clone()).or_default();
            if e.calls != fed.calls || e.spent_nanos != fed.spent {
                // Unreadable now: tried again next poll, nothing counted twice.
                if let Ok(calls) = self.engine.calls(&e.id) {
                    let after = fed.last_seq;
                    for call in calls.iter().filter(|c| c.seq > after) {
                        self.metrics.observe_call(call);
                        if call.status == CallStatus::Refused {
                            count_refusal(&mut st.refusals, call, &names, &figures);
                        }
                        fed.last_seq = call.seq;
                    }
                    fed.calls = e.calls;
                    fed.spent = e.spent_nanos;
                }
            }
            let Some(budget) = e.budget_nanos else {
                continue;
            };
            if e.status == ExecutionStatus::Running {
                self.metrics
                    .set_remaining(ScopeKind::Execution, &e.name, budget, e.spent_nanos);
            }
            let fired = st.fired_executions.entry(e.id.clone()).or_default();
            for (kind, percent, limit) in
                due(&self.thresholds, Some(budget), None, e.spent_nanos, fired)
            {
                alerts.push((
                    ScopeKind::Execution,
                    alert(&e.id, &e.name, "", kind, percent, limit, e.spent_nanos, now),
                ));
            }
        }
        // Executions that left the watched window are not read again.
        if executions.len() >= WATCHED {
            let ids: std::collections::HashSet<&str> =
                executions.iter().map(|e| e.id.as_str()).collect();
            st.fed.retain(|id, _| ids.contains(id.as_str()));
            st.fired_executions
                .retain(|id, _| ids.contains(id.as_str()));
        }
        let mut scopes = Vec::with_capacity(names.len());
        for (name, figures) in names.iter().zip(figures) {
            let f = match figures {
                Ok(f) => f,
                Err(e) => {
                    scopes.push(ScopeState {
                        name: name.clone(),
                        figures: None,
                        error: Some(e.to_string()),
                        refusals: 0,
                        samples: Vec::new(),
                    });
                    continue;
                }
            };
            if let Some(limit) = f.limit_nanos {
                self.metrics
                    .set_remaining(ScopeKind::Shared, name, limit, f.spent_nanos);
            }
            let fired = st.fired_scopes.entry(f.key.clone()).or_default();
            for (kind, percent, limit) in
                due(&self.thresholds, f.limit_nanos, None, f.spent_nanos, fired)
            {
                alerts.push((
                    ScopeKind::Shared,
                    alert("", "", name, kind, percent, limit, f.spent_nanos, now),
                ));
            }
            let (key, samples) = st
                .samples
                .entry(name.clone())
                .or_insert_with(|| (f.key.clone(), Vec::new()));
            if *key != f.key {
                *key = f.key.clone();
                samples.clear();
            }
            let sample = Sample {
                at_ms: now,
                spent_nanos: f.spent_nanos,
                reserved_nanos: f.reserved_nanos,
            };
            // A new point only when the figures move (plus the first): the chart shows change.
            if samples.last().is_none_or(|s| {
                (s.spent_nanos, s.reserved_nanos) != (sample.spent_nanos, sample.reserved_nanos)
            }) {
                if samples.len() >= SAMPLES {
                    samples.remove(0);
                }
                samples.push(sample);
            }
            scopes.push(ScopeState {
                name: name.clone(),
                refusals: st.refusals.get(&f.key).copied().unwrap_or(0),
                samples: samples.clone(),
                figures: Some(f),
                error: None,
            });
        }
        Ok((executions, scopes))
    }
}

#[allow(clippy::too_many_arguments)]
fn alert(
    execution_id: &str,
    workflow: &str,
    scope: &str,
    kind: wflo_core::telemetry::AlertKind,
    percent: u32,
    limit: Nanos,
    spent: Nanos,
    now: u64,
) -> Alert {
    Alert {
        execution_id: execution_id.to_owned(),
        workflow: workflow.to_owned(),
        scope: scope.to_owned(),
        kind,
        percent,
        limit_nanos: limit,
        limit_usd: wflo_core::money::nanos_to_usd(limit),
        spent_nanos: spent,
        spent_usd: wflo_core::money::nanos_to_usd(spent),
        at_ms: now,
    }
}

/// Counts a refused call against the watched shared scope whose limit refused it, in the
/// period the call fell in.
///
/// The store does not keep which scope refused a call; its error text does, as core's
/// `BUDGET_EXCEEDED` message words it (`budget exceeded on scope 'KEY': …`, KEY the scope's
/// row for the period). That wording is checked by the serve tests, so a change to it fails
/// there rather than silently here.
fn count_refusal(
    refusals: &mut HashMap<String, u64>,
    call: &CallRecord,
    names: &[String],
    figures: &[wflo_core::Result<SharedScopeFigures>],
) {
    let Some(error) = &call.error else {
        return;
    };
    for (name, f) in names.iter().zip(figures) {
        let Ok(f) = f else { continue };
        // The message names the scope's row: `name`, or `name@YYYY-MM(-DD)` of the call's period.
        let key = f.period.key(name, call.started_at_ms);
        if refused_by(error, &key) {
            *refusals.entry(key).or_default() += 1;
        }
    }
}

/// Whether a refused call's error names the scope row `key` as the one that refused.
pub fn refused_by(error: &str, key: &str) -> bool {
    error
        .strip_prefix("budget exceeded on scope '")
        .and_then(|rest| rest.strip_prefix(key))
        .is_some_and(|rest| rest.starts_with("':"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_matched_to_the_scope_core_names() {
        let refusal = |scope: &str| {
            wflo_core::Error::BudgetExceeded(Box::new(wflo_core::BudgetExceeded {
                scope: scope.into(),
                limit_nanos: 1,
                spent_nanos: 1,
                reserved_nanos: 0,
                requested_nanos: 5,
                retry_note: None,
                hint: None,
            }))
            .to_string()
        };
        let e = refusal("team:a");
        assert!(refused_by(&e, "team:a"));
        assert!(!refused_by(&e, "team"));
        assert!(!refused_by(&e, "team:ab"));
        let e = refusal("team:a@2026-05");
        assert!(refused_by(&e, "team:a@2026-05"));
        assert!(!refused_by(&e, "team:a"));
    }
}

//! Circuit breakers: after enough failures of a provider, a model or a tool, calls through its
//! breaker fail fast — before anything is reserved or sent — until a recovery timeout has
//! passed; then a few trial calls decide whether it closes again.
//!
//! closed → open after `failure_threshold` consecutive failures, or when the failure rate over
//! the last `window` calls reaches `failure_rate` (with at least `min_calls` in the window);
//! open → half-open once `recovery_timeout_ms` has passed; half-open → closed after
//! `success_threshold` successes, → open again on any failure.
//!
//! A breaker lives in its process, or — with `shared` — in the store, so every process of a
//! fleet on that store sees one breaker: a provider tripped in one process fails fast in all.
//! Either way the rule is [`machine::Machine`], and every change of state is recorded in the
//! store (for `wflo breakers`, `wflo show` and `wflo serve`).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::Store;

pub mod machine;

use machine::{BreakerStep, Machine, Op, Stepped};

/// A breaker's settings. The defaults are the original Python SDK's `CircuitBreaker()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses before it lets trial calls through.
    pub recovery_timeout_ms: u64,
    /// Successful trial calls that close a half-open breaker.
    pub success_threshold: u32,
    /// Also open when this fraction of the last `window` calls failed (`None`: count only).
    pub failure_rate: Option<f64>,
    pub window: u32,
    /// The rate rule applies only once the window holds this many calls.
    pub min_calls: u32,
    /// Keep the state in the store: every process on the store steps one breaker (give them
    /// all the same settings). Each check and outcome is then a store transaction.
    pub shared: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            recovery_timeout_ms: 60_000,
            success_threshold: 2,
            failure_rate: None,
            window: 20,
            min_calls: 10,
            shared: false,
        }
    }
}

impl BreakerConfig {
    /// Settings from JSON (absent keys keep their defaults, unknown keys are an error), checked.
    pub fn from_json(json: &str) -> Result<BreakerConfig> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let c: BreakerConfig = serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("circuit breaker settings: {e}")))?;
        c.check()?;
        Ok(c)
    }

    pub fn check(&self) -> Result<()> {
        if self.failure_threshold == 0 || self.success_threshold == 0 {
            return Err(Error::invalid(
                "circuit breaker: failure_threshold and success_threshold must be at least 1",
            ));
        }
        if let Some(r) = self.failure_rate
            && !(r.is_finite() && r > 0.0 && r <= 1.0)
        {
            return Err(Error::invalid(format!(
                "circuit breaker: failure_rate is a fraction above 0 and at most 1, not {r}"
            )));
        }
        if self.window == 0 || self.window > 10_000 || self.min_calls > self.window {
            return Err(Error::invalid(
                "circuit breaker: window must be 1 to 10000 and min_calls at most window",
            ));
        }
        Ok(())
    }
}

/// Checks a breaker's name: 1 to 200 bytes of text.
pub fn check_name(name: &str) -> Result<()> {
    crate::text::check("circuit breaker name", name)?;
    if name.is_empty() || name.len() > 200 {
        return Err(Error::invalid("a circuit breaker name is 1 to 200 bytes"));
    }
    Ok(())
}

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    pub fn from_name(name: &str) -> Result<BreakerState> {
        match name {
            "closed" => Ok(BreakerState::Closed),
            "open" => Ok(BreakerState::Open),
            "half_open" => Ok(BreakerState::HalfOpen),
            other => Err(Error::invalid(format!(
                "a circuit breaker state is closed, open or half_open, not '{other}'"
            ))),
        }
    }
}

/// A change of state: sent as an event, and recorded in the store for `wflo breakers`,
/// `wflo show` and `wflo serve`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub breaker: String,
    /// Whether the breaker is shared through the store (else it is one process's).
    pub shared: bool,
    pub from: BreakerState,
    pub to: BreakerState,
    pub at_ms: u64,
    /// Why: `5 consecutive failures`, `recovery timeout passed`, `2 successful trial calls`,
    /// `reset`.
    pub reason: String,
    /// The process whose call made the change (`host:pid`).
    pub holder: String,
}

/// A breaker's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerStatus {
    pub name: String,
    pub shared: bool,
    pub state: BreakerState,
    /// Consecutive failures (closed) or failures since it last closed.
    pub failure_count: u32,
    /// Successful trial calls while half-open.
    pub success_count: u32,
    pub total_calls: u64,
    pub total_failures: u64,
    /// Calls refused because the breaker was open.
    pub rejected: u64,
    pub opened_at_ms: Option<u64>,
    /// While open: how long until trial calls are let through.
    pub retry_in_ms: Option<u64>,
    /// The most recent state changes, oldest first (at most 50).
    pub transitions: Vec<Transition>,
}

impl BreakerStatus {
    /// The figures of `machine` as of `now`.
    pub fn of(
        name: &str,
        shared: bool,
        config: &BreakerConfig,
        machine: &Machine,
        now: u64,
        transitions: Vec<Transition>,
    ) -> BreakerStatus {
        let (state, retry_in_ms) = machine.view(config, now);
        BreakerStatus {
            name: name.to_owned(),
            shared,
            state,
            failure_count: machine.failures,
            success_count: machine.successes,
            total_calls: machine.total_calls,
            total_failures: machine.total_failures,
            rejected: machine.rejected,
            opened_at_ms: machine.opened_at_ms,
            retry_in_ms,
            transitions,
        }
    }
}

/// Circuit breakers as the store knows them (see [`crate::Engine::breakers_on_store`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreBreakers {
    /// Every shared breaker's figures, by name.
    pub shared: Vec<BreakerStatus>,
    /// The latest changes of state of every breaker, shared or one process's, oldest first.
    pub transitions: Vec<Transition>,
}

/// How many state changes a status lists, and a process keeps in memory.
pub const KEPT_TRANSITIONS: usize = 50;

/// A shared breaker's figures: its stored `machine` read with `config`, and its latest
/// recorded changes.
pub(crate) fn stored_status(
    store: &dyn Store,
    name: &str,
    config: &BreakerConfig,
    machine: &Machine,
    now: u64,
) -> Result<BreakerStatus> {
    let transitions = store.breaker_transitions(&crate::store::TransitionQuery {
        breaker: Some(name),
        limit: KEPT_TRANSITIONS,
        ..Default::default()
    })?;
    Ok(BreakerStatus::of(
        name,
        true,
        config,
        machine,
        now,
        transitions,
    ))
}

/// A breaker of one process: its machine and its latest changes, in memory.
#[derive(Debug, Default)]
struct Local {
    machine: Machine,
    transitions: VecDeque<Transition>,
}

/// One named breaker, shared by every thread of the process that asks the engine for it —
/// and, when its settings say `shared`, by every process on the store.
pub struct Breaker {
    name: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    holder: String,
    /// `None` for a shared breaker: its machine is in the store.
    local: Option<Mutex<Local>>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("shared", &self.config.shared)
            .finish()
    }
}

impl Breaker {
    /// A breaker keeping its state in memory, or in `store` when `config.shared`; its changes
    /// of state are recorded in `store` either way, as made by `holder`.
    pub fn new(
        name: &str,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        holder: &str,
    ) -> Result<Breaker> {
        config.check()?;
        check_name(name)?;
        let local = (!config.shared).then(|| Mutex::new(Local::default()));
        Ok(Breaker {
            name: name.to_owned(),
            config,
            clock,
            store,
            holder: holder.to_owned(),
            local,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// May a call go through now? An open breaker whose recovery timeout has passed turns
    /// half-open and lets it through; one still open refuses with `CIRCUIT_OPEN`.
    pub fn check(&self) -> Result<()> {
        self.step(Op::Check)?.refusal(&self.name)
    }

    /// The call let through by [`Breaker::check`] succeeded.
    pub fn record_success(&self) -> Result<()> {
        self.step(Op::Success).map(drop)
    }

    /// The call let through by [`Breaker::check`] failed.
    pub fn record_failure(&self) -> Result<()> {
        self.step(Op::Failure).map(drop)
    }

    /// Closes the breaker and forgets its counts (an operator's decision).
    pub fn reset(&self) -> Result<()> {
        self.step(Op::Reset).map(drop)
    }

    /// The state now (an open breaker past its timeout reads as half-open).
    pub fn state(&self) -> Result<BreakerState> {
        Ok(self.status()?.state)
    }

    pub fn status(&self) -> Result<BreakerStatus> {
        let now = self.clock.now_ms();
        match &self.local {
            Some(local) => {
                let l = local.lock();
                Ok(BreakerStatus::of(
                    &self.name,
                    false,
                    &self.config,
                    &l.machine,
                    now,
                    l.transitions.iter().cloned().collect(),
                ))
            }
            None => match self.store.shared_breaker(&self.name)? {
                // Read with the settings the fleet steps it by (see `machine::step_stored`).
                Some(row) => {
                    let machine = machine::read_stored(&self.name, &row.state_json)?;
                    let config = BreakerConfig::from_json(&row.config_json)?;
                    stored_status(&*self.store, &self.name, &config, &machine, now)
                }
                None => stored_status(
                    &*self.store,
                    &self.name,
                    &self.config,
                    &Machine::default(),
                    now,
                ),
            },
        }
    }

    fn step(&self, op: Op) -> Result<Stepped> {
        let now = self.clock.now_ms();
        let (stepped, transition) = match &self.local {
            Some(local) => {
                let mut l = local.lock();
                let stepped = l.machine.step(&self.config, op, now);
                let transition = stepped
                    .change
                    .as_ref()
                    .map(|c| c.recorded(&self.name, false, now, &self.holder));
                if let Some(t) = &transition {
                    l.transitions.push_back(t.clone());
                    while l.transitions.len() > KEPT_TRANSITIONS {
                        l.transitions.pop_front();
                    }
                }
                drop(l);
                // The record in the store is for people looking later; the breaker's own
                // state is in memory, so a store that fails here only loses the record.
                if let Some(t) = &transition
                    && let Err(e) = self.store.record_breaker_transition(t)
                {
                    crate::events::breaker_not_recorded(&self.name, &e);
                }
                (stepped, transition)
            }
            None => {
                let done = self.store.step_breaker(&BreakerStep {
                    name: &self.name,
                    config: &self.config,
                    op,
                    now_ms: now,
                    holder: &self.holder,
                })?;
                (done.stepped, done.transition)
            }
        };
        if let Some(t) = &transition {
            crate::events::breaker_changed(&self.name, t.from.as_str(), t.to.as_str(), &t.reason);
        }
        Ok(stepped)
    }
}

#[cfg(test)]
mod tests;

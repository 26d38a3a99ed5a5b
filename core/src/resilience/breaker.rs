//! Circuit breakers: after enough failures of a provider, a model or a tool, calls through its
//! breaker fail fast — before anything is reserved or sent — until a recovery timeout has
//! passed; then a few trial calls decide whether it closes again.
//!
//! closed → open after `failure_threshold` consecutive failures, or when the failure rate over
//! the last `window` calls reaches `failure_rate` (with at least `min_calls` in the window);
//! open → half-open once `recovery_timeout_ms` has passed; half-open → closed after
//! `success_threshold` successes, → open again on any failure.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{Error, Result};

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
}

/// A change of state, kept for `wflo show`/`serve` and sent as an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    pub at_ms: u64,
    /// Why: `5 consecutive failures`, `recovery timeout passed`, `2 successes`, `reset`.
    pub reason: String,
}

/// A breaker's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerStatus {
    pub name: String,
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

const KEPT_TRANSITIONS: usize = 50;

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    successes: u32,
    opened_at_ms: Option<u64>,
    /// The last `window` outcomes (true: failed).
    recent: VecDeque<bool>,
    total_calls: u64,
    total_failures: u64,
    rejected: u64,
    transitions: VecDeque<Transition>,
}

/// One named breaker, shared by every thread of the process that asks the engine for it.
pub struct Breaker {
    name: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("state", &self.inner.lock().state)
            .finish()
    }
}

impl Breaker {
    pub fn new(name: &str, config: BreakerConfig, clock: Arc<dyn Clock>) -> Result<Breaker> {
        config.check()?;
        crate::text::check("circuit breaker name", name)?;
        if name.is_empty() || name.len() > 200 {
            return Err(Error::invalid("a circuit breaker name is 1 to 200 bytes"));
        }
        Ok(Breaker {
            name: name.to_owned(),
            config,
            clock,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                successes: 0,
                opened_at_ms: None,
                recent: VecDeque::new(),
                total_calls: 0,
                total_failures: 0,
                rejected: 0,
                transitions: VecDeque::new(),
            }),
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
        let now = self.clock.now_ms();
        let mut st = self.inner.lock();
        if st.state == BreakerState::Open {
            let opened = st.opened_at_ms.unwrap_or(now);
            let ready_at = opened.saturating_add(self.config.recovery_timeout_ms);
            if now < ready_at {
                st.rejected += 1;
                return Err(Error::CircuitOpen {
                    name: self.name.clone(),
                    failures: st.failures,
                    retry_in_ms: ready_at - now,
                });
            }
            self.change(
                &mut st,
                BreakerState::HalfOpen,
                now,
                "recovery timeout passed".into(),
            );
        }
        Ok(())
    }

    /// The call let through by [`Breaker::check`] succeeded.
    pub fn record_success(&self) {
        let now = self.clock.now_ms();
        let mut st = self.inner.lock();
        st.total_calls += 1;
        self.remember(&mut st, false);
        match st.state {
            BreakerState::Closed => st.failures = 0,
            BreakerState::HalfOpen => {
                st.successes += 1;
                if st.successes >= self.config.success_threshold {
                    let why = format!("{} successful trial calls", st.successes);
                    self.change(&mut st, BreakerState::Closed, now, why);
                }
            }
            // A call let through before the breaker opened, finishing late: counted only.
            BreakerState::Open => {}
        }
    }

    /// The call let through by [`Breaker::check`] failed.
    pub fn record_failure(&self) {
        let now = self.clock.now_ms();
        let mut st = self.inner.lock();
        st.total_calls += 1;
        st.total_failures += 1;
        st.failures = st.failures.saturating_add(1);
        self.remember(&mut st, true);
        match st.state {
            BreakerState::HalfOpen => self.change(
                &mut st,
                BreakerState::Open,
                now,
                "a trial call failed".into(),
            ),
            BreakerState::Closed => {
                if st.failures >= self.config.failure_threshold {
                    let why = format!("{} consecutive failures", st.failures);
                    self.change(&mut st, BreakerState::Open, now, why);
                } else if let Some(rate) = self.tripping_rate(&st) {
                    let why = format!(
                        "{:.0}% of the last {} calls failed",
                        rate * 100.0,
                        st.recent.len()
                    );
                    self.change(&mut st, BreakerState::Open, now, why);
                }
            }
            BreakerState::Open => {}
        }
    }

    /// Closes the breaker and forgets its counts (an operator's decision).
    pub fn reset(&self) {
        let now = self.clock.now_ms();
        let mut st = self.inner.lock();
        st.recent.clear();
        if st.state != BreakerState::Closed {
            self.change(&mut st, BreakerState::Closed, now, "reset".into());
        }
        st.failures = 0;
        st.successes = 0;
    }

    /// The state now (an open breaker past its timeout reads as half-open).
    pub fn state(&self) -> BreakerState {
        self.status().state
    }

    pub fn status(&self) -> BreakerStatus {
        let now = self.clock.now_ms();
        let st = self.inner.lock();
        let ready_at = st
            .opened_at_ms
            .map(|o| o.saturating_add(self.config.recovery_timeout_ms));
        let (state, retry_in_ms) = match (st.state, ready_at) {
            (BreakerState::Open, Some(r)) if now >= r => (BreakerState::HalfOpen, None),
            (BreakerState::Open, Some(r)) => (BreakerState::Open, Some(r - now)),
            (s, _) => (s, None),
        };
        BreakerStatus {
            name: self.name.clone(),
            state,
            failure_count: st.failures,
            success_count: st.successes,
            total_calls: st.total_calls,
            total_failures: st.total_failures,
            rejected: st.rejected,
            opened_at_ms: st.opened_at_ms,
            retry_in_ms,
            transitions: st.transitions.iter().cloned().collect(),
        }
    }

    fn remember(&self, st: &mut Inner, failed: bool) {
        if self.config.failure_rate.is_none() {
            return;
        }
        st.recent.push_back(failed);
        while st.recent.len() > self.config.window as usize {
            st.recent.pop_front();
        }
    }

    /// The failure rate over the window when it is at or past the configured one.
    fn tripping_rate(&self, st: &Inner) -> Option<f64> {
        let limit = self.config.failure_rate?;
        let n = st.recent.len();
        if n < self.config.min_calls as usize || n == 0 {
            return None;
        }
        let rate = st.recent.iter().filter(|f| **f).count() as f64 / n as f64;
        (rate >= limit).then_some(rate)
    }

    fn change(&self, st: &mut Inner, to: BreakerState, now: u64, reason: String) {
        let from = st.state;
        st.state = to;
        match to {
            BreakerState::Open => st.opened_at_ms = Some(now),
            BreakerState::HalfOpen => st.successes = 0,
            BreakerState::Closed => {
                st.failures = 0;
                st.successes = 0;
                st.opened_at_ms = None;
                st.recent.clear();
            }
        }
        crate::events::breaker_changed(&self.name, from.as_str(), to.as_str(), &reason);
        st.transitions.push_back(Transition {
            from,
            to,
            at_ms: now,
            reason,
        });
        while st.transitions.len() > KEPT_TRANSITIONS {
            st.transitions.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;

//! The breaker's rule, once: a state and its counts, stepped by what happened. A breaker of
//! one process keeps its machine in memory; a shared breaker keeps it in the store as JSON and
//! every process steps it inside a transaction (see [`step_stored`]), so both follow this code.

use serde::{Deserialize, Serialize};

use super::{BreakerConfig, BreakerState, Transition};
use crate::error::{Error, Result};

/// What happened to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// May a call go through now?
    Check,
    /// The call let through succeeded.
    Success,
    /// The call let through failed.
    Failure,
    /// An operator closed it.
    Reset,
}

/// A breaker's state and counts: all a process needs to decide, and all a store keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Machine {
    pub state: BreakerState,
    /// Consecutive failures (closed) or failures since it last closed.
    pub failures: u32,
    /// Successful trial calls while half-open.
    pub successes: u32,
    pub opened_at_ms: Option<u64>,
    /// The last `window` outcomes, oldest first, `1` failed and `0` succeeded (kept only
    /// when a failure rate is configured).
    pub recent: String,
    pub total_calls: u64,
    pub total_failures: u64,
    /// Calls refused because it was open.
    pub rejected: u64,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            state: BreakerState::Closed,
            failures: 0,
            successes: 0,
            opened_at_ms: None,
            recent: String::new(),
            total_calls: 0,
            total_failures: 0,
            rejected: 0,
        }
    }
}

/// A change of state a step made: from, to, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub from: BreakerState,
    pub to: BreakerState,
    pub reason: String,
}

impl Change {
    /// The change as recorded: of breaker `name` (shared or not), at `at_ms`, made by `holder`.
    pub fn recorded(&self, name: &str, shared: bool, at_ms: u64, holder: &str) -> Transition {
        Transition {
            breaker: name.to_owned(),
            shared,
            from: self.from,
            to: self.to,
            at_ms,
            reason: self.reason.clone(),
            holder: holder.to_owned(),
        }
    }
}

/// What a step decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stepped {
    /// A check refused: the failures that opened it and how long until trial calls.
    pub refused: Option<(u32, u64)>,
    pub change: Option<Change>,
    /// Whether the machine changed at all (a store writes it back only then).
    pub changed: bool,
}

impl Stepped {
    /// The refusal as the error a caller gets.
    pub fn refusal(&self, name: &str) -> Result<()> {
        match self.refused {
            Some((failures, retry_in_ms)) => Err(Error::CircuitOpen {
                name: name.to_owned(),
                failures,
                retry_in_ms,
            }),
            None => Ok(()),
        }
    }
}

impl Machine {
    /// Applies `op` at `now` under `config`.
    pub fn step(&mut self, config: &BreakerConfig, op: Op, now: u64) -> Stepped {
        let before = self.clone();
        let mut out = Stepped::default();
        match op {
            Op::Check => {
                if self.state == BreakerState::Open {
                    let ready_at = self.ready_at(config, now);
                    if now < ready_at {
                        self.rejected += 1;
                        out.refused = Some((self.failures, ready_at - now));
                    } else {
                        out.change = self.change(
                            BreakerState::HalfOpen,
                            now,
                            "recovery timeout passed".into(),
                        );
                    }
                }
            }
            Op::Success => {
                self.total_calls += 1;
                self.remember(config, false);
                match self.state {
                    BreakerState::Closed => self.failures = 0,
                    BreakerState::HalfOpen => {
                        self.successes += 1;
                        if self.successes >= config.success_threshold {
                            let why = format!("{} successful trial calls", self.successes);
                            out.change = self.change(BreakerState::Closed, now, why);
                        }
                    }
                    // A call let through before the breaker opened, finishing late: counted only.
                    BreakerState::Open => {}
                }
            }
            Op::Failure => {
                self.total_calls += 1;
                self.total_failures += 1;
                self.failures = self.failures.saturating_add(1);
                self.remember(config, true);
                match self.state {
                    BreakerState::HalfOpen => {
                        out.change =
                            self.change(BreakerState::Open, now, "a trial call failed".into())
                    }
                    BreakerState::Closed => {
                        if self.failures >= config.failure_threshold {
                            let why = format!("{} consecutive failures", self.failures);
                            out.change = self.change(BreakerState::Open, now, why);
                        } else if let Some(rate) = self.tripping_rate(config) {
                            let why = format!(
                                "{:.0}% of the last {} calls failed",
                                rate * 100.0,
                                self.recent.len()
                            );
                            out.change = self.change(BreakerState::Open, now, why);
                        }
                    }
                    BreakerState::Open => {}
                }
            }
            Op::Reset => {
                self.recent.clear();
                if self.state != BreakerState::Closed {
                    out.change = self.change(BreakerState::Closed, now, "reset".into());
                }
                self.failures = 0;
                self.successes = 0;
            }
        }
        out.changed = *self != before;
        out
    }

    /// The state as of `now` (an open breaker past its timeout reads as half-open) and, while
    /// open, how long until trial calls are let through.
    pub fn view(&self, config: &BreakerConfig, now: u64) -> (BreakerState, Option<u64>) {
        match self.state {
            BreakerState::Open => {
                let ready_at = self.ready_at(config, now);
                if now >= ready_at {
                    (BreakerState::HalfOpen, None)
                } else {
                    (BreakerState::Open, Some(ready_at - now))
                }
            }
            s => (s, None),
        }
    }

    fn ready_at(&self, config: &BreakerConfig, now: u64) -> u64 {
        self.opened_at_ms
            .unwrap_or(now)
            .saturating_add(config.recovery_timeout_ms)
    }

    fn remember(&mut self, config: &BreakerConfig, failed: bool) {
        if config.failure_rate.is_none() {
            return;
        }
        self.recent.push(if failed { '1' } else { '0' });
        let window = config.window as usize;
        if self.recent.len() > window {
            self.recent.drain(..self.recent.len() - window);
        }
    }

    /// The failure rate over the window when it is at or past the configured one.
    fn tripping_rate(&self, config: &BreakerConfig) -> Option<f64> {
        let limit = config.failure_rate?;
        let n = self.recent.len();
        if n < config.min_calls as usize || n == 0 {
            return None;
        }
        let rate = self.recent.bytes().filter(|b| *b == b'1').count() as f64 / n as f64;
        (rate >= limit).then_some(rate)
    }

    fn change(&mut self, to: BreakerState, now: u64, reason: String) -> Option<Change> {
        let from = self.state;
        self.state = to;
        match to {
            BreakerState::Open => self.opened_at_ms = Some(now),
            BreakerState::HalfOpen => self.successes = 0,
            BreakerState::Closed => {
                self.failures = 0;
                self.successes = 0;
                self.opened_at_ms = None;
                self.recent.clear();
            }
        }
        Some(Change { from, to, reason })
    }
}

/// One step of a shared breaker, as a store applies it.
#[derive(Debug, Clone)]
pub struct BreakerStep<'a> {
    pub name: &'a str,
    pub config: &'a BreakerConfig,
    pub op: Op,
    pub now_ms: u64,
    /// Who stepped it (`host:pid`).
    pub holder: &'a str,
}

/// What a store's step of a shared breaker gives back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStep {
    pub stepped: Stepped,
    pub machine: Machine,
    /// The machine as JSON when the store must write its row (it changed, or the breaker had
    /// no row yet), else `None`.
    pub json: Option<String>,
    /// The settings the step ran under, as JSON: the row keeps them with the machine.
    pub config_json: String,
    /// The state change to record, when there was one.
    pub transition: Option<Transition>,
}

/// A shared breaker's row as a store holds it.
#[derive(Debug, Clone, Copy)]
pub struct StoredBreaker<'a> {
    pub state_json: &'a str,
    pub config_json: &'a str,
}

/// Steps the stored breaker (`None` for a breaker never used) — the rule every store applies
/// inside its transaction. One breaker has one set of settings for the whole fleet: those of
/// the process that first stepped it on the store, until a reset, which adopts the resetting
/// process's settings (how an operator changes them). A process given other settings still
/// steps by the stored ones, so every process agrees on when the breaker opens.
pub fn step_stored(
    stored: Option<StoredBreaker<'_>>,
    step: &BreakerStep<'_>,
) -> Result<StoredStep> {
    let unreadable = |what: &str, e: serde_json::Error| {
        Error::Storage(format!(
            "circuit breaker '{}': unreadable stored {what}: {e}",
            step.name
        ))
    };
    let mut machine = match stored {
        Some(row) => {
            serde_json::from_str::<Machine>(row.state_json).map_err(|e| unreadable("state", e))?
        }
        None => Machine::default(),
    };
    let config = match stored {
        Some(row) if step.op != Op::Reset && !row.config_json.is_empty() => {
            BreakerConfig::from_json(row.config_json).map_err(|e| {
                Error::Storage(format!(
                    "circuit breaker '{}': unreadable stored settings: {e}",
                    step.name
                ))
            })?
        }
        _ => step.config.clone(),
    };
    let stepped = machine.step(&config, step.op, step.now_ms);
    let json = (stepped.changed || stored.is_none())
        .then(|| serde_json::to_string(&machine))
        .transpose()
        .map_err(|e| Error::Internal(format!("circuit breaker state: {e}")))?;
    let transition = stepped
        .change
        .as_ref()
        .map(|c| c.recorded(step.name, true, step.now_ms, step.holder));
    Ok(StoredStep {
        stepped,
        machine,
        json,
        config_json: serde_json::to_string(&config).unwrap_or_default(),
        transition,
    })
}

/// Reads a stored machine (for status pages), or says it is unreadable.
pub fn read_stored(name: &str, json: &str) -> Result<Machine> {
    serde_json::from_str(json).map_err(|e| {
        Error::Storage(format!(
            "circuit breaker '{name}': unreadable stored state: {e}"
        ))
    })
}

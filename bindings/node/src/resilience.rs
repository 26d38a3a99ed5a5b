//! Retries and circuit breakers (core's `resilience`): the engine's retrier and breakers, handed
//! to `lib/resilience.cjs`. Policies, settings, failures, decisions and statuses cross as the
//! engine's JSON; every decision (retry or not, how long to wait, when a breaker opens, what a
//! refusal says) is core's.

use std::sync::Arc;

use napi_derive::napi;
use wflo_core::resilience::{self, BreakerConfig, Failure, RetryPolicy};

use crate::engine::NativeEngine;
use crate::guard;

fn internal(e: serde_json::Error) -> wflo_core::Error {
    wflo_core::Error::Internal(e.to_string())
}

fn failure(json: &str) -> wflo_core::Result<Failure> {
    serde_json::from_str(json).map_err(|e| wflo_core::Error::invalid(format!("retry failure: {e}")))
}

#[napi]
impl NativeEngine {
    /// A retrier for one logical call whose first attempt begins now. `policy_json`: the
    /// engine's retry policy JSON (`{"max_retries": 5, "backoff": "linear", …}`); null: the
    /// defaults. A bad policy is INVALID_ARGUMENT.
    #[napi]
    pub fn retrier(&self, policy_json: Option<String>) -> napi::Result<NativeRetrier> {
        guard(|| {
            let policy = RetryPolicy::from_json(policy_json.as_deref().unwrap_or(""))?;
            Ok(NativeRetrier {
                inner: self.inner.retrier(policy)?,
                engine: self.inner.clone(),
            })
        })
    }

    /// The engine's circuit breaker `name`, made with `config_json` (the engine's breaker
    /// settings JSON; null: the defaults) the first time; later calls get the same breaker
    /// whatever settings they pass.
    #[napi]
    pub fn breaker(
        &self,
        name: String,
        config_json: Option<String>,
    ) -> napi::Result<NativeBreaker> {
        guard(|| {
            let config = config_json
                .as_deref()
                .map(BreakerConfig::from_json)
                .transpose()?;
            Ok(NativeBreaker {
                inner: self.inner.breaker(&name, config)?,
            })
        })
    }

    /// Every breaker of this engine with its figures, by name, as JSON.
    #[napi]
    pub fn breakers_json(&self) -> napi::Result<String> {
        guard(|| serde_json::to_string(&self.inner.breakers()?).map_err(internal))
    }

    /// Circuit breakers as the store knows them, whichever process made them, as JSON: every
    /// shared breaker's figures and the latest `limit` changes of state of every breaker.
    #[napi]
    pub fn breakers_on_store_json(&self, name: Option<String>, limit: u32) -> napi::Result<String> {
        guard(|| {
            let on_store = self
                .inner
                .breakers_on_store(name.as_deref(), limit as usize)?;
            serde_json::to_string(&on_store).map_err(internal)
        })
    }
}

/// The retry state of one logical call (wrapped by `lib/resilience.cjs`'s `Retrier`).
#[napi]
pub struct NativeRetrier {
    inner: resilience::Retrier,
    /// Its clock: when a failure happened, for deadlines and `Retry-After` dates.
    engine: wflo_core::Engine,
}

#[napi]
impl NativeRetrier {
    /// The attempt being made now (1 for the first).
    #[napi(getter)]
    pub fn attempt(&self) -> u32 {
        self.inner.attempt()
    }

    /// The attempt just made failed (`failure_json`: `{"kind", "status", "headers", "message"}`):
    /// the decision as JSON, `{"decision": "retry", "attempt", "delay_ms", "reason"}` or
    /// `{"decision": "give_up", "why": "not_retryable"|"exhausted"|"deadline", "reason"}`.
    #[napi]
    pub fn next(&mut self, failure_json: String) -> napi::Result<String> {
        guard(|| {
            let f = failure(&failure_json)?;
            let now = self.engine.now_ms();
            serde_json::to_string(&self.inner.next(&f, now)).map_err(internal)
        })
    }

    /// Whether the policy retries a failure like this one at all (attempts and deadline aside).
    #[napi]
    pub fn retryable(&self, failure_json: String) -> napi::Result<bool> {
        guard(|| Ok(self.inner.policy().retryable(&failure(&failure_json)?)))
    }

    /// What a refusal of the retry about to be made must add (`attempt 2 not sent: attempt 1
    /// failed: …`), or null before any attempt failed.
    #[napi]
    pub fn refusal_note(&self) -> Option<String> {
        self.inner.refusal_note()
    }

    /// A refusal's message with the refusal note added (unchanged when there is none).
    #[napi]
    pub fn refused_message(&self, message: String) -> String {
        self.inner.refused_message(&message)
    }

    /// The jittered policy delay before retry `n` (no server hint), in ms; draws jitter.
    #[napi]
    pub fn delay_ms(&mut self, n: u32) -> i64 {
        i64::try_from(self.inner.delay_ms(n)).unwrap_or(i64::MAX)
    }

    /// The policy, as the engine's JSON (every field, defaults filled in).
    #[napi]
    pub fn policy_json(&self) -> napi::Result<String> {
        guard(|| serde_json::to_string(self.inner.policy()).map_err(internal))
    }
}

/// One of the engine's circuit breakers (wrapped by `lib/resilience.cjs`'s `CircuitBreaker`).
#[napi]
pub struct NativeBreaker {
    inner: Arc<resilience::Breaker>,
}

#[napi]
impl NativeBreaker {
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// May a call go through now? Throws CIRCUIT_OPEN while the breaker is open.
    #[napi]
    pub fn check(&self) -> napi::Result<()> {
        guard(|| self.inner.check())
    }

    #[napi]
    pub fn record_success(&self) -> napi::Result<()> {
        guard(|| self.inner.record_success())
    }

    #[napi]
    pub fn record_failure(&self) -> napi::Result<()> {
        guard(|| self.inner.record_failure())
    }

    #[napi]
    pub fn reset(&self) -> napi::Result<()> {
        guard(|| self.inner.reset())
    }

    /// "closed", "open" or "half_open" (a shared breaker's, read from the store).
    #[napi(getter)]
    pub fn state(&self) -> napi::Result<String> {
        guard(|| Ok(self.inner.state()?.as_str().to_owned()))
    }

    /// Its figures and recent transitions, as JSON.
    #[napi]
    pub fn status_json(&self) -> napi::Result<String> {
        guard(|| serde_json::to_string(&self.inner.status()?).map_err(internal))
    }

    /// Its settings, as JSON.
    #[napi]
    pub fn config_json(&self) -> napi::Result<String> {
        guard(|| serde_json::to_string(self.inner.config()).map_err(internal))
    }
}

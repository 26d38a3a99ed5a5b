//! The engine object and the stateless helpers.

use std::sync::Arc;

use wflo_core::store::Period;
use wflo_core::{Engine, UsageFormat};

use super::error::{Result, guard};
use super::execution::NativeExecution;
use super::offload;
use super::telemetry::AlertListener;
use super::types::{StartOptions, TokenCount, Usage};

/// An engine: prices, budgets and a store. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeEngine {
    pub(crate) inner: Engine,
}

/// The library version.
#[uniffi::export]
pub fn wflo_version() -> String {
    wflo_core::VERSION.to_string()
}

/// Parses a provider's usage JSON ("auto", "openai_chat", "openai_responses", "anthropic",
/// "gemini", "langchain", "ai_sdk", "wflo"; a response body or its usage object).
#[uniffi::export]
pub fn parse_usage(format: String, json: String) -> Result<Usage> {
    guard(|| Ok(wflo_core::usage::parse_usage(UsageFormat::from_name(&format)?, &json)?.into()))
}

/// Whether an error code (`"BUDGET_EXCEEDED"`, …) is one of wflo's own refusals rather than
/// a failure of what was called: a circuit breaker does not count it and a retry never
/// retries it (the engine's rule, `ErrorCode::is_refusal`). Unknown codes: false.
#[uniffi::export]
pub fn is_refusal(code: String) -> bool {
    wflo_core::ErrorCode::from_name(&code).is_some_and(wflo_core::ErrorCode::is_refusal)
}

/// Nano-USD from dollars, rounding toward zero; NaN, negative or absurd amounts are refused.
#[uniffi::export]
pub fn usd_to_nanos(usd: f64) -> Result<u64> {
    guard(|| wflo_core::money::usd_to_nanos(usd))
}

/// Nano-USD from a decimal USD string ("2.50", "$0.000075").
#[uniffi::export]
pub fn parse_usd(text: String) -> Result<u64> {
    guard(|| wflo_core::money::parse_usd(&text))
}

#[uniffi::export]
impl NativeEngine {
    /// Opens an engine over the store `url` names (a SQLite path, "sqlite://…", ":memory:",
    /// "memory://", "postgres://…"); None: WFLO_DATABASE_URL, DATABASE_URL, the default file.
    #[uniffi::constructor]
    pub fn open(url: Option<String>) -> Result<Arc<Self>> {
        guard(|| {
            Ok(Arc::new(NativeEngine {
                inner: Engine::open(url.as_deref())?,
            }))
        })
    }

    /// Registers or overrides prices ({"models": [...]} in pico-USD per token).
    pub fn set_prices(&self, json: String) -> Result<()> {
        guard(|| self.inner.set_prices_json(&json))
    }

    /// Loads a price file (wflo's schema or LiteLLM's model_prices_and_context_window.json)
    /// over the table; returns what changed, as JSON. A bad file is refused whole.
    pub fn load_prices(&self, path: String) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.load_prices(&path)?).unwrap_or_default()))
    }

    /// Where the prices come from (built-in table, files loaded over it), as JSON.
    pub fn price_table_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.price_table()).unwrap_or_default()))
    }

    pub fn count_tokens(&self, model: String, text: String) -> TokenCount {
        self.inner.count_tokens(&model, &text).into()
    }

    /// Counts a chat request's messages (a JSON array) with the per-message overhead.
    pub fn count_chat_tokens(&self, model: String, messages_json: String) -> Result<TokenCount> {
        guard(|| Ok(self.inner.count_chat_tokens(&model, &messages_json)?.into()))
    }

    /// The cost of a usage on a model in nano-USD, rounded up.
    pub fn cost(&self, model: String, usage: Usage) -> Result<u64> {
        guard(|| Ok(self.inner.cost(&model, &usage.into())?.cost_nanos))
    }

    /// How a model name resolves and every price it has, as JSON.
    pub fn price_json(&self, model: String) -> Result<String> {
        guard(|| {
            let r = self.inner.resolve_model(&model)?;
            Ok(serde_json::json!({"resolved": r.price.name, "resolution": r.resolution, "price": &*r.price}).to_string())
        })
    }

    /// Creates or changes a shared budget in the store (period "none", "day" or "month";
    /// `allowances` None keeps how the scope is served, false books every call in the store).
    pub fn define_shared_scope(
        &self,
        name: String,
        limit_nanos: Option<u64>,
        period: String,
        allowances: Option<bool>,
    ) -> Result<()> {
        guard(|| {
            self.inner.define_shared_scope_allowances(
                &name,
                limit_nanos,
                Period::from_name(&period)?,
                allowances,
            )
        })
    }

    /// A shared scope's figures for its current period, as JSON.
    pub fn shared_scope_json(&self, name: String) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.shared_scope(&name)?).unwrap_or_default()))
    }

    /// Starts an execution called `name` with `budget_nanos` (None: no limit) and `options`
    /// (id, shared scopes, traceparent, alert thresholds, soft budget).
    pub fn start_execution(
        &self,
        name: String,
        budget_nanos: Option<u64>,
        options: StartOptions,
    ) -> Result<Arc<NativeExecution>> {
        guard(|| {
            let exec = self
                .inner
                .start_execution(options.into_core(name, budget_nanos))?;
            Ok(Arc::new(NativeExecution::new(exec)))
        })
    }

    /// `start_execution` off the caller's thread.
    pub async fn start_execution_async(
        &self,
        name: String,
        budget_nanos: Option<u64>,
        options: StartOptions,
    ) -> Result<Arc<NativeExecution>> {
        let engine = self.inner.clone();
        offload(move || {
            guard(|| {
                let exec = engine.start_execution(options.into_core(name, budget_nanos))?;
                Ok(Arc::new(NativeExecution::new(exec)))
            })
        })
        .await
    }

    /// Opens a stored execution again with its spend and history.
    pub fn resume_execution(
        &self,
        id: String,
        shared_scopes: Vec<String>,
    ) -> Result<Arc<NativeExecution>> {
        guard(|| {
            Ok(Arc::new(NativeExecution::new(
                self.inner.resume_execution_with(&id, &shared_scopes)?,
            )))
        })
    }

    /// A stored execution's record, breakdown, calls, checkpoints and rollbacks, as JSON.
    pub fn execution_json(&self, id: String) -> Result<String> {
        guard(|| {
            let e = &self.inner;
            Ok(serde_json::json!({
                "execution": e.execution(&id)?, "breakdown": e.breakdown(&id)?, "calls": e.calls(&id)?,
                "checkpoints": e.checkpoints(&id)?, "rollbacks": e.rollbacks(&id)?
            })
            .to_string())
        })
    }

    /// The most recent executions, as JSON.
    pub fn list_executions_json(&self, limit: u32) -> Result<String> {
        guard(|| {
            Ok(
                serde_json::to_string(&self.inner.list_executions(limit as usize)?)
                    .unwrap_or_default(),
            )
        })
    }

    /// A C ABI handle (`wflo_engine*`, as an integer) to this same engine, for bindings that
    /// call the C functions directly on their hot path (Python's ctypes). The caller owns it:
    /// free it with `wflo_engine_free`.
    pub fn c_handle(&self) -> u64 {
        crate::handle::arc_into_ptr::<crate::engine::wflo_engine>(Arc::new(self.inner.clone()))
            as usize as u64
    }

    /// This engine's metrics in the Prometheus text exposition format: cost, calls, refusals,
    /// token and duration histograms, budgets remaining, alerts. Labels are bounded (model,
    /// provider, scope, status), never an execution id.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics_text()
    }

    /// Calls `listener` with every budget alert of this engine's executions (thresholds of a
    /// limit, soft budgets), in the order they fire. Returns an id for
    /// `remove_alert_listener`.
    pub fn add_alert_listener(&self, listener: Box<dyn AlertListener>) -> u64 {
        self.inner
            .add_alert_listener(super::telemetry::listener(listener))
    }

    /// Stops a listener; false when the id is unknown.
    pub fn remove_alert_listener(&self, id: u64) -> bool {
        self.inner.remove_alert_listener(id)
    }

    /// Writes buffered records to the store.
    pub fn flush(&self) -> Result<()> {
        guard(|| self.inner.flush())
    }

    /// Flushes and closes the store; closing twice is fine.
    pub fn close(&self) -> Result<()> {
        guard(|| self.inner.close())
    }
}

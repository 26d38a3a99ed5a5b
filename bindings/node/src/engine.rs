//! The engine: stores, prices, token counts, costs.

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use wflo_core::store::Period;
use wflo_core::{Engine, ExecutionOptions, Usage};

use crate::execution::NativeExecution;
use crate::guard;
use crate::job::Job;

/// Token usage in wflo's six disjoint fields (missing = 0).
#[napi(object)]
#[derive(Default, Clone, Copy)]
pub struct JsUsage {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cache_read: Option<i64>,
    #[napi(js_name = "cacheWrite5m")]
    pub cache_write_5m: Option<i64>,
    #[napi(js_name = "cacheWrite1h")]
    pub cache_write_1h: Option<i64>,
    pub reasoning: Option<i64>,
}

fn field(v: Option<i64>, name: &str) -> wflo_core::Result<u64> {
    u64::try_from(v.unwrap_or(0))
        .map_err(|_| wflo_core::Error::invalid(format!("usage.{name} must not be negative")))
}

impl JsUsage {
    pub fn to_core(self) -> wflo_core::Result<Usage> {
        Ok(Usage {
            input: field(self.input, "input")?,
            output: field(self.output, "output")?,
            cache_read: field(self.cache_read, "cacheRead")?,
            cache_write_5m: field(self.cache_write_5m, "cacheWrite5m")?,
            cache_write_1h: field(self.cache_write_1h, "cacheWrite1h")?,
            reasoning: field(self.reasoning, "reasoning")?,
        })
    }
}

/// Parses a provider's usage JSON (a response body or its usage object) into wflo usage.
#[napi]
pub fn parse_usage(format: String, json: String) -> napi::Result<JsUsage> {
    guard(|| {
        let u = wflo_core::usage::parse_usage(wflo_core::UsageFormat::from_name(&format)?, &json)?;
        Ok(JsUsage {
            input: Some(u.input as i64),
            output: Some(u.output as i64),
            cache_read: Some(u.cache_read as i64),
            cache_write_5m: Some(u.cache_write_5m as i64),
            cache_write_1h: Some(u.cache_write_1h as i64),
            reasoning: Some(u.reasoning as i64),
        })
    })
}

/// A count of tokens.
#[napi(object)]
pub struct TokenCount {
    pub tokens: i64,
    pub encoding: String,
    /// True when the model's provider has no offline tokenizer and cl100k_base stood in.
    pub estimated: bool,
}

impl From<wflo_core::tokens::TokenCount> for TokenCount {
    fn from(c: wflo_core::tokens::TokenCount) -> Self {
        TokenCount {
            tokens: c.tokens as i64,
            encoding: c.encoding.name().into(),
            estimated: c.estimated,
        }
    }
}

/// The native engine (wrapped by `lib/engine.js`).
#[napi]
pub struct NativeEngine {
    pub(crate) inner: Engine,
}

/// The engine as Node uses it: a call that meets an approval gate never blocks the event loop
/// (or a libuv worker) on a person — it fails with APPROVAL_PENDING, and the JavaScript side
/// awaits the decision off the thread and reserves again.
fn for_node(engine: Engine) -> NativeEngine {
    engine.set_approval_wait(wflo_core::resilience::ApprovalWait::Return);
    NativeEngine { inner: engine }
}

#[napi]
impl NativeEngine {
    /// Opens an engine over the store `url` names (default: env, then the SQLite file).
    #[napi(factory)]
    pub fn open(url: Option<String>) -> napi::Result<NativeEngine> {
        guard(|| Ok(for_node(Engine::open(url.as_deref())?)))
    }

    /// The same, off the JavaScript thread (a PostgreSQL connect can take a while).
    #[napi(ts_return_type = "Promise<NativeEngine>")]
    pub fn open_async(url: Option<String>) -> AsyncTask<Job<NativeEngine>> {
        AsyncTask::new(Job::new(move || {
            Ok(for_node(Engine::open(url.as_deref())?))
        }))
    }

    #[napi]
    pub fn set_prices(&self, json: String) -> napi::Result<()> {
        guard(|| self.inner.set_prices_json(&json))
    }

    /// Loads a price file over the table; what changed, as JSON. A bad file is refused whole.
    #[napi]
    pub fn load_prices(&self, path: String) -> napi::Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.load_prices(&path)?).unwrap_or_default()))
    }

    /// Where the prices come from, as JSON.
    #[napi]
    pub fn price_table_json(&self) -> napi::Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.price_table()).unwrap_or_default()))
    }

    #[napi]
    pub fn count_tokens(&self, model: String, text: String) -> TokenCount {
        self.inner.count_tokens(&model, &text).into()
    }

    /// Counts a large text off the JavaScript thread.
    #[napi(ts_return_type = "Promise<TokenCount>")]
    pub fn count_tokens_async(&self, model: String, text: String) -> AsyncTask<Job<TokenCount>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(engine.count_tokens(&model, &text).into())
        }))
    }

    #[napi]
    pub fn count_chat_tokens(
        &self,
        model: String,
        messages_json: String,
    ) -> napi::Result<TokenCount> {
        guard(|| Ok(self.inner.count_chat_tokens(&model, &messages_json)?.into()))
    }

    /// Cost in nano-USD, rounded up.
    #[napi]
    pub fn cost(&self, model: String, usage: JsUsage) -> napi::Result<i64> {
        guard(|| Ok(self.inner.cost(&model, &usage.to_core()?)?.cost_nanos as i64))
    }

    /// How a model name resolves and every price it has, as JSON.
    #[napi]
    pub fn price_json(&self, model: String) -> napi::Result<String> {
        guard(|| {
            let r = self.inner.resolve_model(&model)?;
            Ok(serde_json::json!({"resolved": r.price.name, "resolution": r.resolution, "price": &*r.price}).to_string())
        })
    }

    /// Nano-USD from dollars, as the engine converts (toward zero; NaN/negative refused).
    #[napi]
    pub fn usd_to_nanos(&self, usd: f64) -> napi::Result<i64> {
        guard(|| Ok(wflo_core::money::usd_to_nanos(usd)? as i64))
    }

    /// Nano-USD from a decimal dollar string ("2.50", "$0.000075"), parsed by the engine.
    #[napi]
    pub fn parse_usd(&self, text: String) -> napi::Result<i64> {
        guard(|| Ok(wflo_core::money::parse_usd(&text)? as i64))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn define_shared_scope(
        &self,
        name: String,
        limit_nanos: Option<i64>,
        period: Option<String>,
        allowances: Option<bool>,
    ) -> AsyncTask<Job<()>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            let period = Period::from_name(period.as_deref().unwrap_or("none"))?;
            engine.define_shared_scope_allowances(
                &name,
                limit_nanos.map(|l| l.max(0) as u64),
                period,
                allowances,
            )
        }))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn shared_scope_json(&self, name: String) -> AsyncTask<Job<String>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&engine.shared_scope(&name)?).unwrap_or_default())
        }))
    }

    /// Starts an execution. `options_json`: what else it starts with, read by the engine —
    /// `{"id", "shared_scopes", "traceparent", "alert_thresholds", "soft_budget_nanos"}`.
    #[napi(ts_return_type = "Promise<NativeExecution>")]
    pub fn start_execution(
        &self,
        name: String,
        budget_nanos: Option<i64>,
        options_json: Option<String>,
    ) -> AsyncTask<Job<NativeExecution>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            let budget_nanos = match budget_nanos {
                Some(b) if b < 0 => {
                    return Err(wflo_core::Error::invalid("a budget must not be negative"));
                }
                b => b.map(|b| b as u64),
            };
            let options =
                ExecutionOptions::with_json(&name, budget_nanos, options_json.as_deref())?;
            Ok(NativeExecution::new(engine.start_execution(options)?))
        }))
    }

    #[napi(ts_return_type = "Promise<NativeExecution>")]
    pub fn resume_execution(
        &self,
        id: String,
        shared_scopes: Option<Vec<String>>,
    ) -> AsyncTask<Job<NativeExecution>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(NativeExecution::new(engine.resume_execution_with(
                &id,
                &shared_scopes.unwrap_or_default(),
            )?))
        }))
    }

    /// A stored execution's breakdown, calls, checkpoints and rollbacks, as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn execution_json(&self, id: String) -> AsyncTask<Job<String>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::json!({
                "execution": engine.execution(&id)?, "breakdown": engine.breakdown(&id)?,
                "calls": engine.calls(&id)?, "checkpoints": engine.checkpoints(&id)?, "rollbacks": engine.rollbacks(&id)?
            })
            .to_string())
        }))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn list_executions_json(&self, limit: u32) -> AsyncTask<Job<String>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&engine.list_executions(limit as usize)?).unwrap_or_default())
        }))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || engine.close()))
    }
}

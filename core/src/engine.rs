//! The engine: prices, the budget ledger and a store, shared by every execution of a process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde::Serialize;

use crate::aggregate::Aggregates;
use crate::budget::Ledger;
use crate::budget::allowance::AllowancePolicy;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::execution::{Execution, ExecutionInner, ExecutionOptions};
use crate::money::Nanos;
use crate::pricing::{
    PriceCatalog, PriceChanges, PriceFile, PriceOverrides, PriceTableInfo, Rates, ResolvedModel,
};
use crate::records::{Breakdown, CallRecord, CheckpointInfo, ExecutionRecord, RollbackRecord};
use crate::store::{
    CreditShared, MemoryStore, Period, SharedCredit, SharedScopeDef, SharedScopeFigures, Store,
};
use crate::tokens::{self, TokenCount};
use crate::usage::Usage;

/// How long a reservation holds its budget when nobody settles it (a crashed caller): long
/// enough for a slow streamed completion, short enough that a dead worker's budget returns.
pub const DEFAULT_LEASE_MS: u64 = 15 * 60 * 1000;

/// The largest checkpoint state accepted by default (JSON bytes).
pub const DEFAULT_MAX_STATE_BYTES: usize = 16 * 1024 * 1024;

/// How an engine is set up.
#[derive(Clone)]
pub struct EngineConfig {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Lease of a reservation, in milliseconds.
    pub lease_ms: u64,
    /// Largest checkpoint state, in bytes of JSON.
    pub max_state_bytes: usize,
    /// How allowances on shared scopes are sized and kept (see [`crate::budget::allowance`]).
    /// A policy that fails [`AllowancePolicy::validate`] is not used: every shared scope is
    /// then booked per call, the strict side.
    pub allowances: AllowancePolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemClock),
            lease_ms: DEFAULT_LEASE_MS,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            allowances: AllowancePolicy::default(),
        }
    }
}

pub(crate) struct EngineInner {
    pub prices: PriceCatalog,
    pub ledger: Ledger,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub lease_ms: u64,
    pub max_state_bytes: usize,
    closed: AtomicBool,
    /// Shared settlements the store could not take yet (it was unreachable): retried before
    /// the next shared reservation, at flush and at close, so no spend is lost.
    pending_shared: Mutex<Vec<PendingShared>>,
    /// Who holds this process's shared reservations (`host:pid`).
    pub holder: String,
    /// Executions open in this process, so resuming one that is already open shares its
    /// ledger scope instead of creating a second one.
    open: Mutex<HashMap<String, Weak<ExecutionInner>>>,
    /// Metrics, alert listeners and (with OTLP configured) the OpenTelemetry pipeline.
    pub telemetry: crate::telemetry::Telemetry,
    /// This process's circuit breakers by name (the first settings given for a name stand).
    breakers: Mutex<HashMap<String, Arc<crate::resilience::Breaker>>>,
    /// Whether a call meeting an approval gate returns `APPROVAL_PENDING` instead of waiting.
    pub approval_returns: AtomicBool,
    /// This process's allowances on shared scopes.
    pub(crate) allowances: crate::allowances::Allowances,
}

/// A shared settlement or release still to be written.
pub(crate) struct PendingShared {
    pub id: String,
    pub keys: Vec<String>,
    /// `None` releases; `Some(cost)` settles.
    pub actual: Option<Nanos>,
}

fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

impl EngineInner {
    /// Writes shared settlements that failed earlier; stops at the first that still fails.
    pub fn retry_shared(&self) -> Result<()> {
        let mut pending = self.pending_shared.lock();
        while let Some(p) = pending.first() {
            let now = self.now_ms();
            match p.actual {
                Some(actual) => self
                    .store
                    .settle_shared(&p.id, &p.keys, actual, now)
                    .map(|_| ())?,
                None => self.store.release_shared(&p.id)?,
            }
            pending.remove(0);
        }
        Ok(())
    }

    /// Settles (or releases) a shared reservation now, or queues it when the store fails.
    pub fn settle_shared(&self, id: String, keys: Vec<String>, actual: Option<Nanos>) -> Nanos {
        let now = self.now_ms();
        let result = match actual {
            Some(a) => self.store.settle_shared(&id, &keys, a, now),
            None => self.store.release_shared(&id).map(|()| 0),
        };
        match result {
            Ok(overrun) => overrun,
            Err(_) => {
                self.pending_shared
                    .lock()
                    .push(PendingShared { id, keys, actual });
                0
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("the engine is closed".into()))
        } else {
            Ok(())
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn approval_wait(&self) -> crate::resilience::ApprovalWait {
        if self.approval_returns.load(Ordering::Relaxed) {
            crate::resilience::ApprovalWait::Return
        } else {
            crate::resilience::ApprovalWait::Block
        }
    }

    pub fn forget(&self, id: &str) {
        let mut open = self.open.lock();
        if open.get(id).is_some_and(|w| w.strong_count() == 0) {
            open.remove(id);
        }
    }
}

impl Drop for EngineInner {
    /// An engine let go without [`Engine::close`] still gives back its unused allowances and
    /// writes back their spend (best effort): only a process that dies keeps them out until
    /// its lease ends, when they are charged whole.
    fn drop(&mut self) {
        if !self.is_closed() {
            let _ = self.retry_shared();
            let _ = self.return_allowances(None);
        }
    }
}

/// A price quote: what a usage costs on a model.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub requested_model: String,
    pub model: String,
    pub provider: String,
    pub resolution: crate::pricing::Resolution,
    pub usage: Usage,
    pub cost_nanos: Nanos,
    pub cost_usd: f64,
    /// The rates that applied (after long-context tiers and fallbacks).
    pub rates: Rates,
}

/// The engine every face wraps. Cheap to clone; thread-safe.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineConfig::default())
    }
}

impl Engine {
    /// An engine over the given store.
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                prices: PriceCatalog::new(),
                ledger: Ledger::new(),
                store: config.store,
                clock: config.clock,
                lease_ms: config.lease_ms.max(1),
                max_state_bytes: config.max_state_bytes,
                closed: AtomicBool::new(false),
                pending_shared: Mutex::new(Vec::new()),
                holder: holder_name(),
                open: Mutex::new(HashMap::new()),
                telemetry: crate::telemetry::Telemetry::new(),
                breakers: Mutex::new(HashMap::new()),
                approval_returns: AtomicBool::new(false),
                allowances: crate::allowances::Allowances::new(config.allowances),
            }),
        }
    }

    /// An engine over the store a URL names (see [`crate::store::StoreUrl`]); with `None`,
    /// `WFLO_DATABASE_URL`, then `DATABASE_URL`, then the default SQLite file.
    pub fn open(url: Option<&str>) -> Result<Engine> {
        let store = match url {
            Some(url) => crate::store::open_store(url)?,
            None => crate::store::open_store_from_env()?,
        };
        let engine = Engine::new(EngineConfig {
            store,
            ..EngineConfig::default()
        });
        engine.load_prices_from_env()?;
        Ok(engine)
    }

    /// Applies the price file `WFLO_PRICES` names, if set. Every face and the CLI open engines
    /// through [`Engine::open`], so a deployment updates prices for all of them in one place; a
    /// bad file refuses to open the engine rather than price with a table half-updated.
    pub fn load_prices_from_env(&self) -> Result<Option<PriceChanges>> {
        match std::env::var("WFLO_PRICES") {
            Ok(path) if !path.trim().is_empty() => {
                self.load_prices(path.trim())
                    .map(Some)
                    .map_err(|e| match e {
                        Error::InvalidArgument(m) => Error::invalid(format!("WFLO_PRICES: {m}")),
                        other => other,
                    })
            }
            _ => Ok(None),
        }
    }

    /// An engine whose records live only in memory.
    pub fn in_memory() -> Engine {
        Engine::default()
    }

    /// The price catalog (built-in table and run-time overrides).
    pub fn prices(&self) -> &PriceCatalog {
        &self.inner.prices
    }

    /// Registers or overrides prices from their JSON form.
    pub fn set_prices_json(&self, json: &str) -> Result<()> {
        self.inner
            .prices
            .apply_overrides(&PriceOverrides::from_json(json)?)
    }

    /// Loads a price file (wflo's schema or LiteLLM's `model_prices_and_context_window.json`)
    /// over the table and returns what changed. The whole file is checked first: a bad entry
    /// refuses it, with the line and the reason, and nothing is applied.
    pub fn load_prices(&self, path: &str) -> Result<PriceChanges> {
        self.inner.prices.load_file(&PriceFile::read(path)?)
    }

    /// What [`Engine::load_prices`] would change, without applying anything.
    pub fn diff_prices(&self, path: &str) -> Result<PriceChanges> {
        self.inner.prices.diff_file(&PriceFile::read(path)?)
    }

    /// Where this engine's prices come from: the built-in table's source and date, and the
    /// files loaded over it.
    pub fn price_table(&self) -> PriceTableInfo {
        self.inner.prices.table_info()
    }

    /// The store behind this engine.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Resolves a model name to its price entry.
    pub fn resolve_model(&self, model: &str) -> Result<ResolvedModel> {
        self.inner.prices.resolve(model)
    }

    /// The cost of `usage` on `model`, rounded up to the nano-USD.
    pub fn cost(&self, model: &str, usage: &Usage) -> Result<Quote> {
        usage.validate()?;
        let resolved = self.inner.prices.resolve(model)?;
        let price = &resolved.price;
        let cost_nanos = price.cost(usage)?;
        Ok(Quote {
            requested_model: model.to_owned(),
            model: price.name.clone(),
            provider: price.provider.clone(),
            resolution: resolved.resolution,
            usage: *usage,
            cost_nanos,
            cost_usd: crate::money::nanos_to_usd(cost_nanos),
            rates: price.rates_for_prompt(usage.prompt_total()),
        })
    }

    /// Counts `text` with the model's tokenizer (or the documented estimate).
    pub fn count_tokens(&self, model: &str, text: &str) -> TokenCount {
        tokens::count_text(model, text)
    }

    /// Counts a chat request's messages (JSON array) with the per-message overhead.
    pub fn count_chat_tokens(&self, model: &str, messages_json: &str) -> Result<TokenCount> {
        let messages: serde_json::Value = serde_json::from_str(messages_json)
            .map_err(|e| Error::invalid(format!("messages are not valid JSON: {e}")))?;
        tokens::count_chat(model, &messages)
    }

    /// Starts a new execution.
    pub fn start_execution(&self, options: ExecutionOptions) -> Result<Execution> {
        self.inner.check_open()?;
        let inner = ExecutionInner::start(self.inner.clone(), options)?;
        self.register(&inner);
        Ok(Execution { inner })
    }

    /// Opens an existing execution again (in this process or a new one): its spend and call
    /// history are restored, its status set back to running, and its latest live checkpoint
    /// is available from [`Execution::latest_checkpoint`].
    pub fn resume_execution(&self, id: &str) -> Result<Execution> {
        self.resume_execution_with(id, &[])
    }

    /// [`Engine::resume_execution`] for an execution that draws from shared scopes (which are
    /// not part of the stored execution: the caller names them again).
    pub fn resume_execution_with(&self, id: &str, shared_scopes: &[String]) -> Result<Execution> {
        self.inner.check_open()?;
        crate::ids::check_execution_id(id)?;
        if let Some(inner) = self.inner.open.lock().get(id).and_then(Weak::upgrade) {
            inner.reopen()?;
            return Ok(Execution { inner });
        }
        let record = self
            .inner
            .store
            .get_execution(id)?
            .ok_or_else(|| Error::NotFound(format!("execution {id}")))?;
        let calls = self.inner.store.list_calls(id)?;
        let inner =
            ExecutionInner::resume(self.inner.clone(), record, &calls, shared_scopes.to_vec())?;
        self.register(&inner);
        Ok(Execution { inner })
    }

    fn register(&self, inner: &Arc<ExecutionInner>) {
        let mut open = self.inner.open.lock();
        open.retain(|_, w| w.strong_count() > 0);
        open.insert(inner.id.to_string(), Arc::downgrade(inner));
    }

    /// A stored execution record.
    pub fn execution(&self, id: &str) -> Result<ExecutionRecord> {
        self.inner.check_open()?;
        crate::ids::check_execution_id(id)?;
        self.inner.store.flush()?;
        self.inner
            .store
            .get_execution(id)?
            .ok_or_else(|| Error::NotFound(format!("execution {id}")))
    }

    /// The most recent executions first.
    pub fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>> {
        self.inner.check_open()?;
        self.inner.store.list_executions(limit)
    }

    /// A stored execution's calls in order.
    pub fn calls(&self, id: &str) -> Result<Vec<CallRecord>> {
        self.execution(id)?;
        self.inner.store.list_calls(id)
    }

    /// A stored execution's checkpoints in order.
    pub fn checkpoints(&self, id: &str) -> Result<Vec<CheckpointInfo>> {
        self.execution(id)?;
        self.inner.store.list_checkpoints(id)
    }

    /// A stored execution's rollbacks in order.
    pub fn rollbacks(&self, id: &str) -> Result<Vec<RollbackRecord>> {
        self.execution(id)?;
        self.inner.store.list_rollbacks(id)
    }

    /// The breakdown of a stored execution, open or not, computed from its records.
    pub fn breakdown(&self, id: &str) -> Result<Breakdown> {
        if let Some(inner) = self.inner.open.lock().get(id).and_then(Weak::upgrade) {
            return Execution { inner }.breakdown();
        }
        let record = self.execution(id)?;
        let mut agg = Aggregates::default();
        for call in self.inner.store.list_calls(id)? {
            agg.add(&call);
        }
        Ok(stored_breakdown(&record, &agg, self.price_table().label()))
    }

    /// Creates or changes a shared budget scope in the store: every execution started with
    /// it in [`ExecutionOptions::shared_scopes`], in this process or any other using the same
    /// store, draws from its limit (per UTC day or month with a period).
    pub fn define_shared_scope(
        &self,
        name: &str,
        limit_nanos: Option<Nanos>,
        period: Period,
    ) -> Result<()> {
        self.define_shared_scope_allowances(name, limit_nanos, period, None)
    }

    /// [`Engine::define_shared_scope`] that also says whether processes serve the scope from
    /// local allowances (`Some(false)`: every call booked in the store — strict fairness
    /// between processes, a store transaction per call). `None` keeps what the scope has (a
    /// new scope: allowances on). Every face's define passes through here.
    pub fn define_shared_scope_allowances(
        &self,
        name: &str,
        limit_nanos: Option<Nanos>,
        period: Period,
        allowances: Option<bool>,
    ) -> Result<()> {
        self.inner.check_open()?;
        crate::budget::check_amount(limit_nanos.unwrap_or(0), "budget")?;
        let def = SharedScopeDef {
            name: name.to_owned(),
            limit_nanos,
            period,
            allowances,
        };
        self.inner
            .store
            .define_shared_scope(&def, self.inner.now_ms())
    }

    /// A shared scope's figures for its current period.
    pub fn shared_scope(&self, name: &str) -> Result<SharedScopeFigures> {
        self.inner.check_open()?;
        // This engine's own spend and unused allowance on it go to the store first, so the
        // figures are exact as far as this process is concerned.
        self.inner.return_allowances(Some(name))?;
        self.inner.store.shared_scope(name, self.inner.now_ms())
    }

    /// Every shared scope defined in the store, by name (`wflo serve` lists them).
    pub fn shared_scope_names(&self) -> Result<Vec<String>> {
        self.inner.check_open()?;
        self.inner.store.shared_scope_names()
    }

    /// Charges shared reservations whose lease ended (a crashed holder's: the request may
    /// have been sent and billed): each one's amount becomes spent on its scopes and is
    /// recorded as an `unsettled` call in its execution, counted in this engine's metrics.
    /// Returns how many reservations were charged. Reservations also charge the expired leases
    /// of the scopes they touch on their own. (This process's own expired reservations are
    /// released from its in-memory ledger: those are still settled by their holders.)
    pub fn reclaim_expired(&self) -> Result<u64> {
        self.inner.check_open()?;
        let now = self.inner.now_ms();
        self.inner.ledger.reclaim_expired(now);
        let charged = self.inner.store.reclaim_expired_shared(now)?;
        for call in charged.iter().filter_map(|c| c.call.as_ref()) {
            self.inner.telemetry.metrics.observe_call(call);
        }
        Ok(charged.len() as u64)
    }

    /// Gives back `amount_nanos` of a shared scope's current spend — an operator who knows
    /// that a charged `unsettled` call cost less, or nothing — recording who and why.
    pub fn credit_shared_scope(
        &self,
        name: &str,
        amount_nanos: Nanos,
        by: &str,
        reason: &str,
    ) -> Result<SharedCredit> {
        self.inner.check_open()?;
        self.inner.store.credit_shared(&CreditShared {
            name,
            amount_nanos,
            by,
            reason,
            now_ms: self.inner.now_ms(),
        })
    }

    /// A shared scope's credits, oldest first.
    pub fn shared_scope_credits(&self, name: &str) -> Result<Vec<SharedCredit>> {
        self.inner.check_open()?;
        self.inner.store.shared_credits(name)
    }

    /// Who holds unexpired reservations on a shared scope now (`host:pid`, in name order).
    pub fn shared_scope_holders(&self, name: &str) -> Result<Vec<String>> {
        self.inner.check_open()?;
        self.inner
            .store
            .shared_scope_holders(name, self.inner.now_ms())
    }

    /// Flushes buffered records (and shared settlements waiting for the store) to the store.
    pub fn flush(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.retry_shared()?;
        self.inner.write_back_allowances()?;
        self.inner.store.flush()
    }

    /// Flushes and closes the store. Later calls fail with `CLOSED`; closing twice is fine.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let open: Vec<Arc<ExecutionInner>> = self
            .inner
            .open
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for exec in open {
            exec.persist()?;
        }
        self.inner.retry_shared()?;
        self.inner.return_allowances(None)?;
        // Spans and metrics still queued go out now (bounded by the exporter's timeout).
        self.inner.telemetry.flush();
        self.inner.store.close()
    }

    /// The engine's clock, in ms since the Unix epoch (a test's manual clock where one is set).
    pub fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }

    /// A retrier for a call whose first attempt begins now (see [`crate::resilience::retry`]).
    pub fn retrier(
        &self,
        policy: crate::resilience::RetryPolicy,
    ) -> Result<crate::resilience::Retrier> {
        crate::resilience::Retrier::new(policy, self.now_ms())
    }

    /// The named resource `name` of this engine's store (a lock or semaphore shared by every
    /// process on the store; see [`crate::resilience::contention`]).
    pub fn resource(
        &self,
        name: &str,
        config: crate::resilience::LockConfig,
    ) -> Result<crate::resilience::ResourceLock> {
        crate::resilience::ResourceLock::new(self.inner.clone(), name, config)
    }

    /// The circuit breaker called `name`, made with `config` (default settings when `None`)
    /// the first time it is asked for; later calls get the same breaker, whatever settings
    /// they pass, so every caller in the process sees one state (the original SDK's
    /// `get_circuit_breaker`).
    pub fn breaker(
        &self,
        name: &str,
        config: Option<crate::resilience::BreakerConfig>,
    ) -> Result<Arc<crate::resilience::Breaker>> {
        let mut all = self.inner.breakers.lock();
        if let Some(b) = all.get(name) {
            return Ok(b.clone());
        }
        if all.len() >= 10_000 {
            return Err(Error::invalid("at most 10000 circuit breakers per engine"));
        }
        let b = Arc::new(crate::resilience::Breaker::new(
            name,
            config.unwrap_or_default(),
            self.inner.clock.clone(),
            self.inner.store.clone(),
            &self.inner.holder,
        )?);
        all.insert(name.to_owned(), b.clone());
        Ok(b)
    }

    /// Every breaker of this engine with its figures, by name (a shared one as the store has
    /// it).
    pub fn breakers(&self) -> Result<Vec<crate::resilience::BreakerStatus>> {
        let all: Vec<_> = self.inner.breakers.lock().values().cloned().collect();
        let mut v = all.iter().map(|b| b.status()).collect::<Result<Vec<_>>>()?;
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// Every shared breaker on the store — whichever process made it — with its figures as of
    /// now, read with the settings of the process that last stepped it.
    pub fn shared_breakers(&self) -> Result<Vec<crate::resilience::BreakerStatus>> {
        use crate::resilience::breaker::{machine, stored_status};
        let now = self.now_ms();
        let store = &*self.inner.store;
        store
            .shared_breakers()?
            .into_iter()
            .map(|row| {
                let machine = machine::read_stored(&row.name, &row.state_json)?;
                let config = crate::resilience::BreakerConfig::from_json(&row.config_json)?;
                stored_status(store, &row.name, &config, &machine, now)
            })
            .collect()
    }

    /// Circuit breakers as the store knows them: every shared breaker's figures (of `name`
    /// only, if given) and the latest `limit` changes of state of every breaker — what
    /// `wflo breakers`, `wflo serve`'s `/api/breakers` and every face's
    /// `breakers_on_store` give.
    pub fn breakers_on_store(
        &self,
        name: Option<&str>,
        limit: usize,
    ) -> Result<crate::resilience::breaker::StoreBreakers> {
        let mut shared = self.shared_breakers()?;
        shared.retain(|b| name.is_none_or(|n| n == b.name));
        let transitions = self.breaker_transitions(&crate::store::TransitionQuery {
            breaker: name,
            limit,
            ..Default::default()
        })?;
        Ok(crate::resilience::breaker::StoreBreakers {
            shared,
            transitions,
        })
    }

    /// The breakers (of any process on the store) that changed state while execution `id`
    /// ran — from its start to its end, or to now while it runs — the latest 50, oldest first.
    /// Breakers are not tied to an execution: this is what was happening around it.
    pub fn breaker_changes_during(&self, id: &str) -> Result<Vec<crate::resilience::Transition>> {
        let record = self.execution(id)?;
        self.breaker_transitions(&crate::store::TransitionQuery {
            breaker: None,
            since_ms: Some(record.created_at_ms),
            until_ms: record.finished_at_ms,
            limit: crate::resilience::breaker::KEPT_TRANSITIONS,
        })
    }

    /// Recorded changes of state of every breaker on the store (shared or one process's),
    /// the latest `query.limit`, oldest first.
    pub fn breaker_transitions(
        &self,
        query: &crate::store::TransitionQuery<'_>,
    ) -> Result<Vec<crate::resilience::Transition>> {
        self.inner.check_open()?;
        self.inner.store.breaker_transitions(query)
    }

    /// This engine's metrics in the Prometheus text exposition format: cost, calls, refusals,
    /// token and duration histograms, budgets remaining, alerts (see
    /// [`crate::telemetry::metrics`]).
    pub fn metrics_text(&self) -> String {
        // Budgets remaining are read now from the executions open in this process (an
        // execution no longer open keeps its last figure).
        let open: Vec<Arc<ExecutionInner>> = self
            .inner
            .open
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        let metrics = &self.inner.telemetry.metrics;
        for exec in open {
            exec.hand_over_counts();
            for (kind, label, limit, spent) in exec.limited_scopes() {
                metrics.set_remaining(kind, &label, limit, spent);
            }
        }
        self.inner.telemetry.metrics_text()
    }

    /// Calls `listener` with every budget alert of this engine's executions (thresholds of
    /// a limit, soft budgets). Returns an id for [`Engine::remove_alert_listener`].
    pub fn add_alert_listener(
        &self,
        listener: impl Fn(&crate::telemetry::Alert) + Send + Sync + 'static,
    ) -> u64 {
        self.inner.telemetry.add_listener(Arc::new(listener))
    }

    /// Stops a listener; false when the id is unknown.
    pub fn remove_alert_listener(&self, id: u64) -> bool {
        self.inner.telemetry.remove_listener(id)
    }

    /// True once [`Engine::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

/// A breakdown from stored figures only (no live ledger).
fn stored_breakdown(record: &ExecutionRecord, agg: &Aggregates, price_table: String) -> Breakdown {
    let spent = record.spent_nanos.max(agg.cost);
    Breakdown {
        execution_id: record.id.clone(),
        name: record.name.clone(),
        status: record.status,
        total_nanos: spent,
        budget_nanos: record.budget_nanos,
        reserved_nanos: 0,
        remaining_nanos: record.budget_nanos.map(|b| b.saturating_sub(spent)),
        overrun_nanos: record.overrun_nanos,
        total_usd: 0.0,
        budget_usd: None,
        reserved_usd: 0.0,
        remaining_usd: None,
        calls: agg.calls,
        refused_calls: agg.refused,
        estimated_calls: agg.estimated,
        usage: agg.usage,
        by_model: agg.by_model(),
        by_step: agg.by_step(|_| None),
        price_table,
    }
    .with_usd()
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store.kind())
            .finish()
    }
}

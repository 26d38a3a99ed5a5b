//! Executions and their budget scopes: the handles an agent's code holds while it runs.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::aggregate::Aggregates;
use crate::budget::ScopeId;
use crate::call::{CallRequest, Reservation, UsageReport};
use crate::engine::EngineInner;
use crate::error::{Error, Result};
use crate::money::Nanos;
use crate::records::{
    Breakdown, CallRecord, CallStatus, CheckpointInfo, ExecutionRecord, ExecutionStatus,
    RollbackRecord,
};
use crate::store::{CheckpointState, EncodedState, JsonText, NewCheckpoint};

/// How to start an execution.
#[derive(Debug, Clone, Default)]
pub struct ExecutionOptions {
    /// A human name for the workflow (`"research-agent"`).
    pub name: String,
    /// The execution's budget in nano-USD; `None` tracks cost without a limit.
    pub budget_nanos: Option<Nanos>,
    /// Use this id instead of a fresh one (`exec-` + 12 hex).
    pub id: Option<String>,
    /// Shared budget scopes (defined with [`crate::Engine::define_shared_scope`]) that every
    /// call of this execution also draws from: a tenant's monthly budget, a team's daily one.
    pub shared_scopes: Vec<String>,
    /// The host application's current span as a W3C `traceparent`: the execution's span (and
    /// so its calls' spans) become its children. `None`: the execution starts its own trace.
    pub traceparent: Option<String>,
    /// Percents of each limited scope's budget at which an alert fires, once each (`None`:
    /// [`crate::telemetry::alerts::DEFAULT_THRESHOLDS`]; empty: no threshold alerts).
    pub alert_thresholds: Option<Vec<u32>>,
    /// A soft budget in nano-USD: reaching it fires an alert and refuses nothing.
    pub soft_budget_nanos: Option<Nanos>,
    /// Calls whose worst case passes this many nano-USD wait for a person's approval before
    /// they reserve (see [`crate::resilience::approval`]); `None`: no such gate.
    pub approval_above_nanos: Option<Nanos>,
    /// The most LLM calls the execution may reserve (the original SDK's `max_iterations`);
    /// the next is refused with `CALL_LIMIT`. `None`: no cap.
    pub max_calls: Option<u64>,
    /// Each agent's own budget in nano-USD, by the name its framework gives the agent: calls
    /// made with that agent's name (request option `agent`) reserve on the agent's scope
    /// (`agent:<name>`, a child of the execution), so one agent cannot spend another's share.
    pub agent_budgets: std::collections::BTreeMap<String, Nanos>,
}

impl ExecutionOptions {
    /// Options from the JSON every face passes beside the name and budget (`None` or empty:
    /// none): `{"id": "exec-…", "shared_scopes": ["tenant:acme"], "traceparent": "00-…",
    /// "alert_thresholds": [50, 80, 95], "soft_budget_nanos": 5000000}`. Unknown keys are
    /// refused, so a misspelt option is an error rather than silently ignored.
    pub fn with_json(
        name: &str,
        budget_nanos: Option<Nanos>,
        json: Option<&str>,
    ) -> Result<ExecutionOptions> {
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Extra {
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            shared_scopes: Vec<String>,
            #[serde(default)]
            traceparent: Option<String>,
            #[serde(default)]
            alert_thresholds: Option<Vec<u32>>,
            #[serde(default)]
            soft_budget_nanos: Option<Nanos>,
            #[serde(default)]
            approval_above_nanos: Option<Nanos>,
            #[serde(default)]
            max_calls: Option<u64>,
            #[serde(default)]
            agent_budgets: std::collections::BTreeMap<String, Nanos>,
        }
        let extra: Extra = match json.map(str::trim) {
            Some(text) if !text.is_empty() => serde_json::from_str(text)
                .map_err(|e| Error::invalid(format!("execution options: {e}")))?,
            _ => Extra::default(),
        };
        Ok(ExecutionOptions {
            name: name.to_owned(),
            budget_nanos,
            id: extra.id,
            shared_scopes: extra.shared_scopes,
            traceparent: extra.traceparent,
            alert_thresholds: extra.alert_thresholds,
            soft_budget_nanos: extra.soft_budget_nanos,
            approval_above_nanos: extra.approval_above_nanos,
            max_calls: extra.max_calls,
            agent_budgets: extra.agent_budgets,
        })
    }
}

pub(crate) struct ExecutionInner {
    pub engine: Arc<EngineInner>,
    pub id: Arc<str>,
    pub name: String,
    pub root: ScopeId,
    pub created_at_ms: u64,
    /// Shared scopes every call also reserves on, in the store.
    pub shared_scopes: Vec<String>,
    /// The trace this execution belongs to.
    pub trace: crate::telemetry::TraceContext,
    pub alerts: AlertRule,
    /// The execution's span, when OpenTelemetry export is on.
    #[cfg(feature = "otel")]
    pub span: Option<crate::telemetry::otel::ExecutionSpan>,
    pub state: Mutex<ExecutionState>,
    /// Calls whose worst case passes this wait for approval (nano-USD).
    pub approval_above: Option<Nanos>,
    /// Gated calls so far: numbers each call's gate (from the decided ones a resumed
    /// execution already has, so a pending gate is found again after a restart).
    pub gated_calls: Mutex<Option<u64>>,
    /// The most calls the execution may reserve, and how many it has (a resumed one counts
    /// those it made before).
    pub max_calls: Option<u64>,
    pub calls_reserved: std::sync::atomic::AtomicU64,
    /// Each agent's own budget, by name.
    pub agent_budgets: std::collections::BTreeMap<String, Nanos>,
}

/// A run of calls with the same labels, counted by the execution: the labels (model,
/// provider, step), the place of their series in the engine's metrics, and the counts.
pub(crate) struct Counted {
    model: Arc<str>,
    provider: Arc<str>,
    step: Arc<str>,
    at: usize,
    series: crate::telemetry::metrics::CallSeries,
}

/// When an execution's alerts fire.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlertRule {
    pub thresholds: Arc<[u32]>,
    pub soft_budget: Option<Nanos>,
}

impl AlertRule {
    fn new(thresholds: Option<Vec<u32>>, soft_budget: Option<Nanos>) -> Result<AlertRule> {
        let thresholds =
            thresholds.unwrap_or_else(|| crate::telemetry::alerts::DEFAULT_THRESHOLDS.to_vec());
        crate::telemetry::alerts::check_thresholds(&thresholds)?;
        if soft_budget == Some(0) {
            return Err(Error::invalid("a soft budget must be more than $0"));
        }
        Ok(AlertRule {
            thresholds: thresholds.into(),
            soft_budget,
        })
    }
}

pub(crate) struct ExecutionState {
    /// What the store's row last said (status, budget, overrun), to skip rewriting it.
    pub persisted: Option<(ExecutionStatus, Option<Nanos>, Nanos)>,
    pub status: ExecutionStatus,
    pub finished_at_ms: Option<u64>,
    pub agg: Aggregates,
    /// Child scopes by label, with their own limits.
    pub scopes: HashMap<Arc<str>, (ScopeId, Option<Nanos>)>,
    /// The alerts fired so far on the execution's own budget and on step scopes by label.
    pub root_fired: crate::telemetry::alerts::Fired,
    /// What this execution counted for its last call's labels, not yet in the engine's
    /// metrics.
    pub counted: Option<Counted>,
    pub fired: HashMap<Arc<str>, crate::telemetry::alerts::Fired>,
}

impl ExecutionInner {
    pub fn start(
        engine: Arc<EngineInner>,
        options: ExecutionOptions,
    ) -> Result<Arc<ExecutionInner>> {
        let chosen = options.id.is_some();
        let mut id = match options.id {
            Some(id) => {
                crate::ids::check_execution_id(&id)?;
                id
            }
            None => crate::ids::new_execution_id()?,
        };
        crate::text::check("an execution name", &options.name)?;
        let name = if options.name.trim().is_empty() {
            "workflow".to_owned()
        } else {
            options.name
        };
        let alerts = AlertRule::new(options.alert_thresholds.clone(), options.soft_budget_nanos)?;
        let trace = match options.traceparent.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => crate::telemetry::TraceContext::from_traceparent(t)?,
            _ => crate::telemetry::TraceContext::fresh()?,
        };
        for scope in &options.shared_scopes {
            // Fail at start, not at the first call, when a shared scope is not defined.
            engine.store.shared_scope(scope, engine.now_ms())?;
        }
        let now = engine.now_ms();
        let record = |id: &str| ExecutionRecord {
            id: id.to_owned(),
            name: name.clone(),
            status: ExecutionStatus::Running,
            budget_nanos: options.budget_nanos,
            spent_nanos: 0,
            overrun_nanos: 0,
            calls: 0,
            created_at_ms: now,
            updated_at_ms: now,
            finished_at_ms: None,
            approval_above_nanos: options.approval_above_nanos,
            max_calls: options.max_calls,
            agent_budgets: options.agent_budgets.clone(),
        };
        // 48 random bits: a generated id the store already holds (CONFLICT) is drawn again; an
        // id the caller chose is theirs to change.
        let retries = if chosen { 0 } else { 4 };
        let root =
            crate::ids::with_fresh_ids(&mut id, retries, crate::ids::new_execution_id, |id| {
                let root = engine
                    .ledger
                    .create_scope(id.into(), None, options.budget_nanos, 0)?;
                if let Err(e) = engine.store.create_execution(&record(id)) {
                    engine.ledger.close_scope(root);
                    return Err(e);
                }
                Ok(root)
            })?;
        let id: Arc<str> = id.into();
        #[cfg(feature = "otel")]
        let (span, trace) =
            crate::telemetry::otel::start_execution(&engine, &id, &name, trace, now);
        Ok(Arc::new(ExecutionInner {
            engine,
            id,
            name,
            root,
            created_at_ms: now,
            shared_scopes: options.shared_scopes,
            trace,
            alerts,
            #[cfg(feature = "otel")]
            span,
            state: Mutex::new(ExecutionState {
                persisted: Some((ExecutionStatus::Running, options.budget_nanos, 0)),
                status: ExecutionStatus::Running,
                finished_at_ms: None,
                agg: Aggregates::default(),
                scopes: HashMap::new(),
                root_fired: Default::default(),
                counted: None,
                fired: HashMap::new(),
            }),
            approval_above: options.approval_above_nanos,
            gated_calls: Mutex::new(None),
            max_calls: options.max_calls,
            calls_reserved: 0.into(),
            agent_budgets: options.agent_budgets,
        }))
    }

    pub fn resume(
        engine: Arc<EngineInner>,
        record: ExecutionRecord,
        calls: &[CallRecord],
        shared_scopes: Vec<String>,
    ) -> Result<Arc<ExecutionInner>> {
        let mut agg = Aggregates::default();
        for call in calls {
            agg.add(call);
        }
        // The stored total can be ahead of the calls when the last batch of call records was
        // lost in a crash; never resume with less spend than was acknowledged.
        let spent = record.spent_nanos.max(agg.cost);
        let id: Arc<str> = record.id.clone().into();
        let root = engine
            .ledger
            .create_scope(id.clone(), None, record.budget_nanos, spent)?;
        // A resumed execution is a new span in a new trace; thresholds already passed before
        // it was resumed do not fire again.
        let alerts = AlertRule::new(None, None)?;
        let mut root_fired = crate::telemetry::alerts::Fired::default();
        crate::telemetry::alerts::due(
            &alerts.thresholds,
            record.budget_nanos,
            None,
            spent,
            &mut root_fired,
        );
        let trace = crate::telemetry::TraceContext::fresh()?;
        #[cfg(feature = "otel")]
        let (span, trace) = crate::telemetry::otel::start_execution(
            &engine,
            &id,
            &record.name,
            trace,
            engine.now_ms(),
        );
        let inner = Arc::new(ExecutionInner {
            engine,
            id,
            name: record.name.clone(),
            root,
            created_at_ms: record.created_at_ms,
            shared_scopes,
            trace,
            alerts,
            #[cfg(feature = "otel")]
            span,
            state: Mutex::new(ExecutionState {
                persisted: None,
                status: record.status,
                finished_at_ms: record.finished_at_ms,
                agg,
                scopes: HashMap::new(),
                root_fired,
                counted: None,
                fired: HashMap::new(),
            }),
            approval_above: record.approval_above_nanos,
            gated_calls: Mutex::new(None),
            max_calls: record.max_calls,
            // Every call the execution reserved before counts, refused ones do not.
            calls_reserved: (calls
                .iter()
                .filter(|c| c.status != crate::records::CallStatus::Refused)
                .count() as u64)
                .into(),
            agent_budgets: record.agent_budgets.clone(),
        });
        inner.reopen()?;
        Ok(inner)
    }

    /// Sets a resumed execution running again.
    pub fn reopen(&self) -> Result<()> {
        {
            let mut st = self.state.lock();
            st.status = ExecutionStatus::Running;
            st.finished_at_ms = None;
        }
        self.persist()
    }

    pub fn check_running(&self) -> Result<()> {
        self.engine.check_open()?;
        let status = self.state.lock().status;
        if status == ExecutionStatus::Running {
            Ok(())
        } else {
            Err(Error::Closed(format!(
                "execution {} is {}",
                self.id,
                status.as_str()
            )))
        }
    }

    /// The execution's row as it stands now.
    pub fn record(&self) -> Result<ExecutionRecord> {
        let snap = self.engine.ledger.snapshot(self.root)?;
        let st = self.state.lock();
        Ok(ExecutionRecord {
            id: self.id.to_string(),
            name: self.name.clone(),
            status: st.status,
            budget_nanos: snap.limit_nanos,
            spent_nanos: snap.spent_nanos,
            overrun_nanos: snap.overrun_nanos,
            calls: st.agg.calls,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.engine.now_ms(),
            finished_at_ms: st.finished_at_ms,
            approval_above_nanos: self.approval_above,
            max_calls: self.max_calls,
            agent_budgets: self.agent_budgets.clone(),
        })
    }

    /// Writes buffered calls and the execution's current figures to the store.
    /// (The store writes buffered call records in the same transaction.)
    pub fn persist(&self) -> Result<()> {
        let record = self.record()?;
        self.engine.store.update_execution(&record)?;
        self.state.lock().persisted = Some(persist_key(&record));
        Ok(())
    }

    /// The execution's row when it differs from what the store has.
    pub fn changed_record(&self) -> Result<Option<ExecutionRecord>> {
        let record = self.record()?;
        let same = self.state.lock().persisted == Some(persist_key(&record));
        Ok((!same).then_some(record))
    }

    /// [`changed_record`](Self::changed_record), given a snapshot of the execution's scope:
    /// the row (copies of the id and name) is built only when it changed, and a checkpoint save
    /// mostly finds it unchanged.
    fn changed_record_at(
        &self,
        snap: &crate::budget::ScopeSnapshot,
    ) -> Result<Option<ExecutionRecord>> {
        let same = {
            let st = self.state.lock();
            st.persisted == Some((st.status, snap.limit_nanos, snap.overrun_nanos))
        };
        if same {
            Ok(None)
        } else {
            self.changed_record()
        }
    }

    /// Books a finished call: aggregates, then the store, then telemetry (metrics, the call's
    /// span, alerts). `max_tokens` is the output limit the request was sent with, if known.
    pub fn push_call(&self, call: CallRecord, max_tokens: Option<u64>) -> Result<CallRecord> {
        self.push_call_settled(call, max_tokens, None)
    }

    /// [`ExecutionInner::push_call`] with the figures the ledger's settlement returned, so the
    /// alert check need not read the ledger again.
    pub fn push_call_settled(
        &self,
        mut call: CallRecord,
        max_tokens: Option<u64>,
        settled: Option<&crate::budget::Settled>,
    ) -> Result<CallRecord> {
        let alerts = {
            let mut st = self.state.lock();
            call.seq = st.agg.last_seq + 1;
            st.agg.add(&call);
            self.observe(&mut st, &call);
            if call.status == CallStatus::Refused || call.cost_nanos == 0 {
                Vec::new()
            } else {
                self.due_alerts(&mut st, &call.step, settled)
            }
        };
        let stored = self.engine.store.append_calls(vec![call.clone()]);
        crate::telemetry::call_ended(self, &call, max_tokens, &alerts);
        stored?;
        Ok(call)
    }

    /// Counts the call for the engine's metrics: in the execution's own series while the
    /// labels stay the same (no lock or lookup beyond the execution's), handing the counts to
    /// the engine's metrics when they change.
    fn observe(&self, st: &mut ExecutionState, call: &CallRecord) {
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        let model = call.model.as_ref().unwrap_or(&call.requested_model);
        if let Some(c) = &mut st.counted
            && same(&c.model, model)
            && same(&c.provider, &call.provider)
            && same(&c.step, &call.step)
        {
            c.series.observe(call);
            return;
        }
        let metrics = &self.engine.telemetry.metrics;
        if let Some(old) = st.counted.take() {
            metrics.add(old.at, &old.series);
        }
        let mut series = crate::telemetry::metrics::CallSeries::default();
        series.observe(call);
        st.counted = Some(Counted {
            model: model.clone(),
            provider: call.provider.clone(),
            step: call.step.clone(),
            at: metrics.place_of(call),
            series,
        });
    }

    /// Hands what this execution counted to the engine's metrics (the text is being made).
    pub fn hand_over_counts(&self) {
        let mut st = self.state.lock();
        if let Some(c) = &mut st.counted
            && !c.series.is_empty()
        {
            self.engine.telemetry.metrics.add(c.at, &c.series);
            c.series = Default::default();
        }
    }

    /// The alerts a call in `step` made due, on its scope and on the execution's own budget.
    /// The common case — nothing due — costs one ledger read per limited scope.
    fn due_alerts(
        &self,
        st: &mut ExecutionState,
        step: &Arc<str>,
        settled: Option<&crate::budget::Settled>,
    ) -> Vec<(crate::telemetry::ScopeKind, crate::telemetry::Alert)> {
        use crate::telemetry::ScopeKind;
        let mut out = Vec::new();
        if !step.is_empty()
            && let Some((id, Some(_))) = st.scopes.get(step).copied()
        {
            let fired = match st.fired.get_mut(step) {
                Some(f) => f,
                None => st.fired.entry(step.clone()).or_default(),
            };
            let figures = settled
                .map(|s| s.scope_figures)
                .or_else(|| self.engine.ledger.limit_and_spent(id));
            self.check_scope(step, figures, ScopeKind::Step, None, fired, &mut out);
        }
        let soft = self.alerts.soft_budget;
        let figures = settled
            .map(|s| s.root_figures)
            .or_else(|| self.engine.ledger.limit_and_spent(self.root));
        let fired = &mut st.root_fired;
        self.check_scope("", figures, ScopeKind::Execution, soft, fired, &mut out);
        out
    }

    fn check_scope(
        &self,
        label: &str,
        figures: Option<(Option<Nanos>, Nanos)>,
        kind: crate::telemetry::ScopeKind,
        soft: Option<Nanos>,
        fired: &mut crate::telemetry::alerts::Fired,
        out: &mut Vec<(crate::telemetry::ScopeKind, crate::telemetry::Alert)>,
    ) {
        let Some((limit, spent)) = figures else {
            return;
        };
        if limit.is_none() && soft.is_none() {
            return;
        }
        #[cfg(feature = "otel")]
        if let Some(limit) = limit {
            let gauge = if label.is_empty() { &self.name } else { label };
            self.engine
                .telemetry
                .otel_remaining(kind, gauge, limit, spent);
        }
        if fired.quiet(limit, soft, spent) {
            return;
        }
        let due = crate::telemetry::alerts::due(&self.alerts.thresholds, limit, soft, spent, fired);
        if due.is_empty() {
            return;
        }
        let now = self.engine.now_ms();
        for (akind, percent, limit) in due {
            out.push((
                kind,
                crate::telemetry::Alert {
                    execution_id: self.id.to_string(),
                    workflow: self.name.clone(),
                    scope: label.to_owned(),
                    kind: akind,
                    percent,
                    limit_nanos: limit,
                    limit_usd: crate::money::nanos_to_usd(limit),
                    spent_nanos: spent,
                    spent_usd: crate::money::nanos_to_usd(spent),
                    at_ms: now,
                },
            ));
        }
    }

    /// The limited scopes' figures for the budget-remaining gauge: (kind, label, limit, spent).
    pub fn limited_scopes(&self) -> Vec<(crate::telemetry::ScopeKind, String, Nanos, Nanos)> {
        use crate::telemetry::ScopeKind;
        let ledger = &self.engine.ledger;
        let mut out = Vec::new();
        if let Some((Some(limit), spent)) = ledger.limit_and_spent(self.root) {
            out.push((ScopeKind::Execution, self.name.clone(), limit, spent));
        }
        let st = self.state.lock();
        for (label, (id, limit)) in &st.scopes {
            if limit.is_some()
                && let Some((Some(limit), spent)) = ledger.limit_and_spent(*id)
            {
                out.push((ScopeKind::Step, label.to_string(), limit, spent));
            }
        }
        out
    }
}

fn persist_key(r: &ExecutionRecord) -> (ExecutionStatus, Option<Nanos>, Nanos) {
    (r.status, r.budget_nanos, r.overrun_nanos)
}

impl Drop for ExecutionInner {
    fn drop(&mut self) {
        // The budget gauges keep this execution's last figures (they are read from open
        // executions when the metrics text is made; this one is closing).
        for (kind, label, limit, spent) in self.limited_scopes() {
            self.engine
                .telemetry
                .metrics
                .set_remaining(kind, &label, limit, spent);
        }
        // And what it counted for the metrics, not handed over yet.
        if let Some(c) = self.state.get_mut().counted.take() {
            self.engine.telemetry.metrics.add(c.at, &c.series);
        }
        let scopes: Vec<ScopeId> = self
            .state
            .get_mut()
            .scopes
            .values()
            .map(|(s, _)| *s)
            .collect();
        for s in scopes {
            self.engine.ledger.close_scope(s);
        }
        self.engine.ledger.close_scope(self.root);
        self.engine.forget(&self.id);
    }
}

/// A running execution. Clones share the same execution.
#[derive(Clone)]
pub struct Execution {
    pub(crate) inner: Arc<ExecutionInner>,
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("id", &self.inner.id)
            .finish()
    }
}

impl Execution {
    /// The execution id (`exec-` + 12 hex).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The workflow name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The id of the trace this execution's spans belong to (32 hex digits): the host
    /// application's trace when a `traceparent` was given, else one of its own.
    pub fn trace_id(&self) -> String {
        self.inner.trace.trace_id_hex()
    }

    pub fn status(&self) -> ExecutionStatus {
        self.inner.state.lock().status
    }

    /// The execution's own scope: calls made on it count toward the execution budget only.
    pub fn root(&self) -> Scope {
        Scope {
            exec: self.inner.clone(),
            id: self.inner.root,
            label: Arc::from(""),
        }
    }

    /// A step or agent scope of this execution, created on first use. With a budget, the
    /// scope has its own limit inside the execution's; calling again with the same label
    /// returns the same scope (and changes its limit when a new one is given).
    pub fn scope(&self, label: &str, budget_nanos: Option<Nanos>) -> Result<Scope> {
        self.root().child(label, budget_nanos)
    }

    /// The scope of agent `name` (`agent:<name>`, a child of the execution, created on first
    /// use): its limit is the agent's budget from [`ExecutionOptions::agent_budgets`], if any.
    /// Calls an integration makes for that agent reserve here, so they count against both the
    /// agent's share and the execution's budget.
    pub fn agent(&self, name: &str) -> Result<Scope> {
        crate::text::check("an agent's name", name)?;
        if name.is_empty() || name.len() > 200 {
            return Err(Error::invalid("an agent's name is 1 to 200 bytes"));
        }
        // A resumed execution's agent has spent what its recorded calls cost: its share
        // is not handed out twice.
        let store = &self.inner.engine.store;
        self.root().child_with(
            &format!("agent:{name}"),
            self.inner.agent_budgets.get(name).copied(),
            |label| {
                Ok(store
                    .list_calls(&self.inner.id)?
                    .iter()
                    .filter(|c| *c.step == *label)
                    .map(|c| c.cost_nanos)
                    .sum())
            },
        )
    }

    /// Reserves the worst case of a call on the execution's own scope.
    pub fn reserve(&self, request: &CallRequest<'_>) -> Result<Reservation> {
        self.root().reserve(request)
    }

    /// Reserves a provider request on the execution's own scope: [`Scope::reserve_request`].
    pub fn reserve_request(
        &self,
        format: crate::UsageFormat,
        body_json: &str,
        options: &crate::RequestOptions,
    ) -> Result<RequestReservation> {
        self.root().reserve_request(format, body_json, options)
    }

    /// Records a call that was made without a reservation (its cost is booked as spend).
    pub fn record_call(&self, report: &UsageReport<'_>) -> Result<CallRecord> {
        self.root().record_call(report)
    }

    /// [`Execution::record_call`] from a provider's raw usage JSON; see
    /// [`Scope::record_usage_json`].
    pub fn record_usage_json(
        &self,
        model: &str,
        format: &str,
        usage_json: &str,
    ) -> Result<CallRecord> {
        self.root().record_usage_json(model, format, usage_json)
    }

    /// Changes the execution's budget (`None` removes the limit).
    pub fn set_budget(&self, budget_nanos: Option<Nanos>) -> Result<()> {
        self.inner
            .engine
            .ledger
            .set_limit(self.inner.root, budget_nanos)?;
        self.inner.persist()
    }

    /// Where the money went, now.
    pub fn breakdown(&self) -> Result<Breakdown> {
        let ledger = &self.inner.engine.ledger;
        let snap = ledger.snapshot(self.inner.root)?;
        let st = self.inner.state.lock();
        let limits: HashMap<&str, Option<Nanos>> = st
            .scopes
            .iter()
            .map(|(label, (_, limit))| (&**label, *limit))
            .collect();
        Ok(Breakdown {
            execution_id: self.inner.id.to_string(),
            name: self.inner.name.clone(),
            status: st.status,
            total_nanos: snap.spent_nanos,
            budget_nanos: snap.limit_nanos,
            reserved_nanos: snap.reserved_nanos,
            remaining_nanos: snap
                .limit_nanos
                .map(|l| l.saturating_sub(snap.spent_nanos.saturating_add(snap.reserved_nanos))),
            overrun_nanos: snap.overrun_nanos,
            total_usd: 0.0,
            budget_usd: None,
            reserved_usd: 0.0,
            remaining_usd: None,
            calls: st.agg.calls,
            refused_calls: st.agg.refused,
            estimated_calls: st.agg.estimated,
            usage: st.agg.usage,
            by_model: st.agg.by_model(),
            by_step: st.agg.by_step(|step| limits.get(step).copied().flatten()),
            price_table: self.inner.engine.prices.table_info().label(),
        }
        .with_usd())
    }

    /// Saves a checkpoint of `state_json` (any JSON value) under `name`. Buffered call records
    /// are flushed first, and the checkpoint is committed before this returns.
    pub fn checkpoint(&self, name: &str, state_json: &str) -> Result<CheckpointInfo> {
        self.check_checkpoint(name, state_json.len())?;
        let compression = self.inner.engine.store.state_compression();
        self.save_checkpoint(
            name,
            crate::store::state_codec::prepare(state_json, compression)?,
        )
    }

    /// [`checkpoint`](Self::checkpoint) of JSON text already known to be well-formed (checked
    /// where it came in: see [`JsonText`]), which is not checked again: a state saved many times,
    /// or one serde_json or core's Python encoder wrote.
    pub fn checkpoint_text(&self, name: &str, state: &JsonText<'_>) -> Result<CheckpointInfo> {
        self.check_checkpoint(name, state.as_str().len())?;
        let compression = self.inner.engine.store.state_compression();
        self.save_checkpoint(
            name,
            crate::store::state_codec::prepare_text(state, compression),
        )
    }

    /// Saves a checkpoint of a binary state: `bytes` in the caller's own format (LangGraph's
    /// msgpack, a pickle…) named by `content_type` (`None`:
    /// [`DEFAULT_CONTENT_TYPE`](crate::store::state_codec::DEFAULT_CONTENT_TYPE),
    /// `application/octet-stream`; a content type given is 1 to 255 printable ASCII characters
    /// without spaces, else `INVALID_ARGUMENT` and nothing is saved). The bytes are stored as
    /// they are (compressed only when that saves an eighth or more) and come back byte for byte.
    pub fn checkpoint_binary(
        &self,
        name: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<CheckpointInfo> {
        self.check_checkpoint(name, bytes.len())?;
        self.save_checkpoint(
            name,
            crate::store::state_codec::prepare_binary(
                content_type,
                bytes,
                self.inner.engine.store.state_compression(),
            )?,
        )
    }

    /// The checks every checkpoint passes before its state is encoded.
    fn check_checkpoint(&self, name: &str, state_len: usize) -> Result<()> {
        self.inner.engine.check_open()?;
        if name.trim().is_empty() {
            return Err(Error::invalid("checkpoint name must not be empty"));
        }
        crate::text::check("a checkpoint name", name)?;
        let max = self.inner.engine.max_state_bytes;
        if state_len > max {
            return Err(Error::invalid(format!(
                "checkpoint state is {state_len} bytes, more than the limit of {max} bytes"
            )));
        }
        Ok(())
    }

    fn save_checkpoint(&self, name: &str, state: EncodedState<'_>) -> Result<CheckpointInfo> {
        // One transaction: the buffered calls, the execution's row (if it changed) and the
        // checkpoint.
        let snap = self.inner.engine.ledger.snapshot(self.inner.root)?;
        let changed = self.inner.changed_record_at(&snap)?;
        let spent = snap.spent_nanos;
        let info = self.inner.engine.store.save_checkpoint(
            NewCheckpoint {
                execution_id: &self.inner.id,
                name,
                state: &state,
                spent_nanos: spent,
                created_at_ms: self.inner.engine.now_ms(),
            },
            changed.as_ref(),
        )?;
        if let Some(record) = changed {
            self.inner.state.lock().persisted = Some(persist_key(&record));
        }
        crate::events::checkpoint(&self.inner.id, name, info.sequence, state.len);
        // The event's attributes are built (a copy of the name) only for a span to take them.
        #[cfg(feature = "otel")]
        let traced = self.inner.span.is_some();
        #[cfg(not(feature = "otel"))]
        let traced = false;
        if traced {
            crate::telemetry::execution_event(
                &self.inner,
                "wflo.checkpoint",
                &[
                    ("wflo.checkpoint.name", name.into()),
                    ("wflo.checkpoint.sequence", (info.sequence as i64).into()),
                ],
            );
        }
        Ok(info)
    }

    /// Returns the state of the latest live checkpoint called `name`, records the rollback and
    /// marks later checkpoints superseded (they are kept as history). Spend is not undone:
    /// money spent after the checkpoint stays spent. A binary state is refused
    /// (`INVALID_ARGUMENT`) before anything changes: use
    /// [`rollback_to_checkpoint_any`](Self::rollback_to_checkpoint_any).
    pub fn rollback_to_checkpoint(&self, name: &str) -> Result<String> {
        self.rollback(name, true)?.into_json()
    }

    /// [`rollback_to_checkpoint`](Self::rollback_to_checkpoint) for a state of either kind.
    pub fn rollback_to_checkpoint_any(&self, name: &str) -> Result<CheckpointState> {
        self.rollback(name, false)
    }

    fn rollback(&self, name: &str, json_only: bool) -> Result<CheckpointState> {
        self.inner.engine.check_open()?;
        crate::text::check("a checkpoint name", name)?;
        self.inner.persist()?;
        let spent = self
            .inner
            .engine
            .ledger
            .snapshot(self.inner.root)?
            .spent_nanos;
        let rolled = self.inner.engine.store.rollback(
            &self.inner.id,
            name,
            spent,
            self.inner.engine.now_ms(),
            json_only,
        )?;
        crate::events::rollback(&self.inner.id, name);
        crate::telemetry::execution_event(
            &self.inner,
            "wflo.rollback",
            &[("wflo.checkpoint.name", name.into())],
        );
        Ok(rolled.state)
    }

    /// The latest live checkpoint and its JSON state (what a resumed execution continues
    /// from); `INVALID_ARGUMENT` when that state is binary (see
    /// [`latest_checkpoint_any`](Self::latest_checkpoint_any)).
    pub fn latest_checkpoint(&self) -> Result<Option<(CheckpointInfo, String)>> {
        self.latest_checkpoint_any()?
            .map(|(info, state)| Ok((info, state.into_json()?)))
            .transpose()
    }

    /// The latest live checkpoint and its state, of either kind.
    pub fn latest_checkpoint_any(&self) -> Result<Option<(CheckpointInfo, CheckpointState)>> {
        self.inner.engine.check_open()?;
        let latest = self
            .inner
            .engine
            .store
            .list_checkpoints(&self.inner.id)?
            .into_iter()
            .rev()
            .find(|c| !c.superseded);
        match latest {
            Some(info) => {
                let state = self
                    .inner
                    .engine
                    .store
                    .checkpoint_state(&self.inner.id, info.id)?;
                Ok(Some((info, state)))
            }
            None => Ok(None),
        }
    }

    /// The JSON state of one checkpoint by id; `INVALID_ARGUMENT` when it is binary (see
    /// [`checkpoint_state_any`](Self::checkpoint_state_any)).
    pub fn checkpoint_state(&self, checkpoint_id: u64) -> Result<String> {
        self.checkpoint_state_any(checkpoint_id)?.into_json()
    }

    /// The state of one checkpoint by id, of either kind.
    pub fn checkpoint_state_any(&self, checkpoint_id: u64) -> Result<CheckpointState> {
        self.inner.engine.check_open()?;
        self.inner
            .engine
            .store
            .checkpoint_state(&self.inner.id, checkpoint_id)
    }

    /// The execution's checkpoints in order, superseded ones included.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointInfo>> {
        self.checkpoints_after(0)
    }

    /// The execution's checkpoints after sequence `after_sequence`, in order: a reader that
    /// keeps its own index (LangGraph's savers) reads only what was saved since it last looked.
    pub fn checkpoints_after(&self, after_sequence: u64) -> Result<Vec<CheckpointInfo>> {
        self.inner.engine.check_open()?;
        self.inner
            .engine
            .store
            .list_checkpoints_after(&self.inner.id, after_sequence)
    }

    /// What a reader keeping its own index of checkpoints needs in one call: the checkpoints
    /// after sequence `after_sequence`, and how many rollbacks the execution has had (a
    /// rollback changes which earlier checkpoints are live, so the reader reads them all again
    /// when that number grows). The store reads both from one snapshot, or the list before the
    /// count ([`Store::checkpoints_since`]): a rollback is never missed.
    ///
    /// [`Store::checkpoints_since`]: crate::store::Store::checkpoints_since
    pub fn checkpoints_since(&self, after_sequence: u64) -> Result<(Vec<CheckpointInfo>, u64)> {
        let since = self.since(after_sequence, None)?;
        Ok((since.checkpoints, since.rollbacks))
    }

    /// [`Execution::checkpoints_since`] and one checkpoint's state in one call: a reader
    /// keeping its own index (LangGraph's savers) reads the state its index names and learns in
    /// the same call whether the index is still current — one crossing of the language
    /// boundary per load instead of two. A state never changes, so it is right even when the
    /// index was not; the reader only picks again when something changed.
    pub fn checkpoints_since_with_state(
        &self,
        after_sequence: u64,
        checkpoint_id: u64,
    ) -> Result<(Vec<CheckpointInfo>, u64, CheckpointState)> {
        let since = self.since(after_sequence, Some(checkpoint_id))?;
        let state = since.state.ok_or_else(|| {
            crate::Error::Storage("the store read no state for the checkpoint asked for".into())
        })?;
        Ok((since.checkpoints, since.rollbacks, state))
    }

    /// The store's one read for both calls above (one round trip on PostgreSQL).
    fn since(
        &self,
        after_sequence: u64,
        state_of: Option<u64>,
    ) -> Result<crate::store::CheckpointsSince> {
        self.checkpoint_changes(after_sequence, state_of, None)
    }

    /// What [`Execution::checkpoints_since_with_state`] reads (`state_of`: a checkpoint whose
    /// state to read too, if any), for a reader that keeps what it read last: given `known`
    /// (the `version` and rollback count of its last answer), a store whose version has not
    /// moved since (SQLite) answers no checkpoints and `known`'s count without reading them.
    pub fn checkpoint_changes(
        &self,
        after_sequence: u64,
        state_of: Option<u64>,
        known: Option<crate::store::KnownSince>,
    ) -> Result<crate::store::CheckpointsSince> {
        self.inner.engine.check_open()?;
        self.inner
            .engine
            .store
            .checkpoints_since(&self.inner.id, after_sequence, state_of, known)
    }

    /// The checkpoints whose names start with one of `prefixes` (a store may list others too),
    /// the rollback count and the last sequence: where a reader indexing part of the execution
    /// (one LangGraph thread) starts, before it follows [`Execution::checkpoint_changes`].
    pub fn checkpoints_named(&self, prefixes: &[String]) -> Result<crate::store::CheckpointsNamed> {
        self.inner.engine.check_open()?;
        self.inner
            .engine
            .store
            .checkpoints_named(&self.inner.id, prefixes)
    }

    /// The execution's rollbacks in order.
    pub fn rollbacks(&self) -> Result<Vec<RollbackRecord>> {
        self.inner.engine.check_open()?;
        self.inner.engine.store.list_rollbacks(&self.inner.id)
    }

    /// Keeps only the newest `keep_last` checkpoints; returns how many were deleted.
    pub fn prune_checkpoints(&self, keep_last: usize) -> Result<u64> {
        self.inner.engine.check_open()?;
        self.inner
            .engine
            .store
            .prune_checkpoints(&self.inner.id, keep_last)
    }

    /// The execution's calls in order (flushes buffered records first).
    pub fn calls(&self) -> Result<Vec<CallRecord>> {
        self.inner.engine.check_open()?;
        self.inner.engine.store.flush()?;
        self.inner.engine.store.list_calls(&self.inner.id)
    }

    /// Ends the execution the way its body ended, by [`ExecutionStatus::after`]: `raised` is
    /// `None` when the body returned, else the names of the wflo error codes found along the
    /// raised error's causes (names that are no code stand for foreign errors). Returns the
    /// status chosen. Every face's "finish after the body" is this one call.
    pub fn end<S: AsRef<str>>(&self, raised: Option<&[S]>) -> Result<ExecutionStatus> {
        let codes: Option<Vec<crate::ErrorCode>> = raised.map(|names| {
            names
                .iter()
                .filter_map(|n| crate::ErrorCode::from_name(n.as_ref()))
                .collect()
        });
        let status = ExecutionStatus::after(codes.as_deref());
        self.finish(status)?;
        Ok(status)
    }

    /// Ends the execution with a final status and writes it. Reservations still held are
    /// released; later reservations fail with `CLOSED` until the execution is resumed.
    pub fn finish(&self, status: ExecutionStatus) -> Result<ExecutionRecord> {
        self.inner.engine.check_open()?;
        {
            let mut st = self.inner.state.lock();
            st.status = status;
            st.finished_at_ms = Some(self.inner.engine.now_ms());
        }
        self.inner.persist()?;
        crate::telemetry::execution_ended(&self.inner, status);
        self.inner.record()
    }

    /// The execution's row as it stands now.
    pub fn record(&self) -> Result<ExecutionRecord> {
        self.inner.record()
    }
}

/// A reservation made from a provider request: the reservation, the body to send, and the
/// request as read.
#[derive(Debug)]
pub struct RequestReservation {
    pub reservation: Reservation,
    /// The request to send (JSON): the caller's, with the limit and stream options wflo set.
    pub body: String,
    pub plan: crate::RequestPlan,
}

/// A budget scope of an execution: the execution itself, or a step/agent inside it.
#[derive(Clone)]
pub struct Scope {
    pub(crate) exec: Arc<ExecutionInner>,
    pub(crate) id: ScopeId,
    pub(crate) label: Arc<str>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("execution", &self.exec.id)
            .field("label", &self.label)
            .finish()
    }
}

impl Scope {
    /// The label calls in this scope are recorded under (`""` for the execution itself).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The execution this scope belongs to.
    pub fn execution(&self) -> Execution {
        Execution {
            inner: self.exec.clone(),
        }
    }

    /// A nested scope. Labels are unique within an execution: the same label returns the same
    /// scope wherever it is asked for.
    pub fn child(&self, label: &str, budget_nanos: Option<Nanos>) -> Result<Scope> {
        self.child_with(label, budget_nanos, |_| Ok(0))
    }

    /// [`Scope::child`], created with the spend `spent_before(label)` gives (what calls under
    /// that label already spent, for a resumed execution's agent scopes).
    pub(crate) fn child_with(
        &self,
        label: &str,
        budget_nanos: Option<Nanos>,
        spent_before: impl FnOnce(&str) -> Result<Nanos>,
    ) -> Result<Scope> {
        self.exec.engine.check_open()?;
        let label = label.trim();
        if label.is_empty() {
            return Err(Error::invalid("a scope label must not be empty"));
        }
        if label.len() > 200 {
            return Err(Error::invalid("a scope label must be at most 200 bytes"));
        }
        crate::text::check("a scope label", label)?;
        let ledger = &self.exec.engine.ledger;
        let mut st = self.exec.state.lock();
        if let Some((id, limit)) = st.scopes.get_mut(label) {
            if budget_nanos.is_some() && budget_nanos != *limit {
                ledger.set_limit(*id, budget_nanos)?;
                *limit = budget_nanos;
            }
            let (id, label) = (*id, st.scopes.get_key_value(label).map(|(k, _)| k.clone()));
            return Ok(Scope {
                exec: self.exec.clone(),
                id,
                label: label.unwrap_or_default(),
            });
        }
        let label: Arc<str> = label.into();
        let spent = spent_before(&label)?;
        let id = ledger.create_scope(label.clone(), Some(self.id), budget_nanos, spent)?;
        st.scopes.insert(label.clone(), (id, budget_nanos));
        Ok(Scope {
            exec: self.exec.clone(),
            id,
            label,
        })
    }

    /// Reserves the worst case of a call before it is made; `BUDGET_EXCEEDED` when it could
    /// overspend this scope or any scope above it. See [`Reservation`].
    pub fn reserve(&self, request: &CallRequest<'_>) -> Result<Reservation> {
        Reservation::reserve(self, request)
    }

    /// Records a call made without a reservation: its cost is booked as spend at once.
    pub fn record_call(&self, report: &UsageReport<'_>) -> Result<CallRecord> {
        crate::call::record_unreserved(self, report)
    }

    /// [`Scope::reserve_request`] with the format and options as the text every face passes:
    /// a format name (`openai_chat`, …) and options JSON (`None` or empty: none).
    pub fn reserve_request_text(
        &self,
        format: &str,
        body_json: &str,
        options_json: Option<&str>,
    ) -> Result<RequestReservation> {
        let options = crate::RequestOptions::from_json(options_json.unwrap_or(""))?;
        self.reserve_request(crate::UsageFormat::from_name(format)?, body_json, &options)
    }

    /// Reads a provider request (see [`crate::request`]), reserves its worst case on this
    /// scope, and returns the reservation with the body to send: the output limit the
    /// reservation covers written in, `include_usage` added to an OpenAI chat stream. Every
    /// integration of every face reserves through this one call.
    pub fn reserve_request(
        &self,
        format: crate::UsageFormat,
        body_json: &str,
        options: &crate::RequestOptions,
    ) -> Result<RequestReservation> {
        // A call asked on the execution goes to its agent's scope; one asked on a step stays
        // there, so a step's own budget is never stepped around (the ledger is a tree: a call
        // draws on one chain of scopes).
        if let Some(agent) = options.agent.as_ref().filter(|_| self.id == self.exec.root) {
            let execution = Execution {
                inner: self.exec.clone(),
            };
            let options = crate::RequestOptions {
                agent: None,
                ..options.clone()
            };
            return execution
                .agent(agent)?
                .reserve_request(format, body_json, &options);
        }
        let mut body: serde_json::Value = serde_json::from_str(body_json)
            .map_err(|e| Error::invalid(format!("the request body is not valid JSON: {e}")))?;
        let engine = &self.exec.engine;
        let plan = crate::request::read_request(&engine.prices, format, &body, options)?;
        if let Some(what) = &plan.unbounded {
            if engine.ledger.is_limited(self.id) {
                return Err(Error::invalid(format!(
                    "the request has {what}, whose tokens wflo cannot bound before the call, and \
                     a budget applies: the call was not sent (count it yourself and reserve \
                     with an explicit input token count)"
                )));
            }
        }
        let model_max = engine
            .prices
            .resolve(&plan.price_model)
            .ok()
            .and_then(|m| m.price.max_output.or(m.price.max_input));
        let mut attempt = crate::call::Attempt::from_options(options)?;
        if options.upfront {
            attempt.refusal_hint = Some(upfront_hint(plan.max_output_tokens, model_max));
        }
        let reservation = crate::call::Reservation::reserve_attempt(
            self,
            &CallRequest {
                model: &plan.price_model,
                provider: Some(&plan.provider),
                input_tokens: plan.input_tokens,
                input_estimated: Some(plan.input_estimated),
                max_output_tokens: plan.total_output_cap(model_max),
                cache_write: plan.cache_write,
                stream: plan.stream,
                clamp_max_tokens: options.clamp_max_tokens,
            },
            attempt,
        )?;
        // An unpriced call without a budget holds nothing: there is no cap to send.
        let cap = reservation
            .model()
            .map(|_| (reservation.max_output_tokens() / plan.choices.max(1)).max(1));
        plan.rewrite(&mut body, cap);
        Ok(RequestReservation {
            reservation,
            body: body.to_string(),
            plan,
        })
    }

    /// Records a call made without a reservation from the provider's raw usage JSON (a
    /// response body or its usage object); `format` names a [`crate::UsageFormat`] ("auto"
    /// detects it). Every face's "record from JSON" is this one call.
    pub fn record_usage_json(
        &self,
        model: &str,
        format: &str,
        usage_json: &str,
    ) -> Result<CallRecord> {
        let usage = crate::usage::parse_usage(crate::UsageFormat::from_name(format)?, usage_json)?;
        self.record_call(&UsageReport::new(model, usage))
    }

    /// The scope's figures now.
    pub fn snapshot(&self) -> Result<crate::budget::ScopeSnapshot> {
        self.exec.engine.ledger.snapshot(self.id)
    }
}

/// What a refusal of an up-front reservation adds: how the call was sized, and the two ways to
/// size it closer (one wording for every face's tracking decorator).
fn upfront_hint(max_tokens: Option<u64>, model_max: Option<u64>) -> String {
    let (sized, or) = match (max_tokens, model_max) {
        (Some(n), _) => (format!("max_tokens={n} of output"), "a smaller max_tokens"),
        (None, Some(n)) => (
            format!("the model's maximum output ({n} tokens), as no max_tokens was given"),
            "max_tokens",
        ),
        (None, None) => (
            "the model's maximum output, as no max_tokens was given".to_string(),
            "max_tokens",
        ),
    };
    format!(
        "reserved up front: the tracker cannot see this call's request, so it counted the prompt \
         from the function's arguments and reserved {sized}; make the call through a client wflo \
         meters to have it budgeted from its actual request (wflo's README: which calls are \
         budgeted how), or give the tracker {or}"
    )
}

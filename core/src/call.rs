//! One tracked call: reserve the worst case before it is made, settle or release after.
//!
//! ```text
//!   reserve ──► (the request goes out) ──► settle(usage)      spend = actual cost
//!      │                                └► release(error)     spend = 0
//!      └─ BUDGET_EXCEEDED: the request never leaves the process
//! ```

use std::sync::Arc;

use crate::budget::ReservationId;
use crate::error::{Error, Result};
use crate::execution::{ExecutionInner, Scope};
use crate::money::Nanos;
use crate::pricing::{CacheWrite, ResolvedModel};
use crate::records::{CallRecord, CallStatus};
use crate::tokens;
use crate::usage::{MAX_TOKENS, StreamOutcome, Usage, UsageFormat, parse_usage};

/// The output cap a reservation assumes for a model whose table entry gives no maximum output
/// and a request that gives no `max_tokens`.
pub const DEFAULT_OUTPUT_CAP: u64 = 128_000;

/// What is known about a call before it is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallRequest<'a> {
    /// The model name as the request names it.
    pub model: &'a str,
    /// The provider (`openai`, `anthropic`, …); defaults to the price table's.
    pub provider: Option<&'a str>,
    /// Prompt tokens, as counted by [`crate::tokens`] (or by the caller).
    pub input_tokens: u64,
    /// Whether `input_tokens` is an estimate; `None` decides by the model's tokenizer.
    pub input_estimated: Option<bool>,
    /// The request's `max_tokens` (or `max_completion_tokens`, `max_output_tokens`).
    pub max_output_tokens: Option<u64>,
    /// Whether the request asks the provider to write the prompt to its cache.
    pub cache_write: CacheWrite,
    pub stream: bool,
    /// When the worst case does not fit, reserve with a smaller `max_output_tokens` (reported
    /// by [`Reservation::max_output_tokens`]) instead of refusing.
    pub clamp_max_tokens: bool,
}

impl CallRequest<'_> {
    /// Whether the input count is an estimate, from the numeric code faces that pass numbers
    /// use: 0 decide by the model's tokenizer, 1 exact, 2 estimated.
    pub fn input_estimated_from_code(code: u32) -> Result<Option<bool>> {
        match code {
            0 => Ok(None),
            1 => Ok(Some(false)),
            2 => Ok(Some(true)),
            other => Err(Error::invalid(format!(
                "the input count must be 0 (auto), 1 (exact) or 2 (estimated), got {other}"
            ))),
        }
    }

    /// A `max_output_tokens` from faces where 0 stands for "not given".
    pub fn output_limit(given: u64) -> Option<u64> {
        (given > 0).then_some(given)
    }
}

/// The fewest output tokens a clamped request may be given; below that it is refused.
pub const MIN_CLAMPED_OUTPUT: u64 = 16;

/// How a reserved call ended, for [`Reservation::settle_with`].
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    pub usage: Usage,
    pub status: Option<CallStatus>,
    /// The usage is an estimate (the provider did not report it).
    pub estimated: bool,
    pub usage_missing: bool,
    pub error: Option<String>,
}

/// A call recorded after the fact, without a reservation.
#[derive(Debug, Clone, Copy)]
pub struct UsageReport<'a> {
    pub model: &'a str,
    pub provider: Option<&'a str>,
    pub usage: Usage,
    pub estimated: bool,
    pub stream: bool,
    pub latency_ms: u64,
}

impl<'a> UsageReport<'a> {
    /// A call on `model` that used `usage`: counts as reported (not estimated), not streamed,
    /// latency unknown — what a caller recording a finished call from its usage knows.
    pub fn new(model: &'a str, usage: Usage) -> Self {
        UsageReport {
            model,
            provider: None,
            usage,
            estimated: false,
            stream: false,
            latency_ms: 0,
        }
    }
}

/// Budget held for one call. Settle it with the provider's usage, or release it when the call
/// failed without cost; a reservation dropped without either is released and recorded as
/// `aborted`. The methods that end it fail with `CONFLICT` when it has already ended, and leave
/// it held when they fail for bad input, so the caller can try again.
pub struct Reservation {
    exec: Arc<ExecutionInner>,
    scope: crate::budget::ScopeId,
    step: Arc<str>,
    id: ReservationId,
    amount: Nanos,
    model: Option<ResolvedModel>,
    requested_model: Arc<str>,
    provider: Arc<str>,
    input_tokens: u64,
    max_output_tokens: u64,
    clamped: bool,
    stream: bool,
    started_at_ms: u64,
    /// The booking on the execution's shared scopes in the store, if it has any.
    shared: Option<SharedHold>,
    ended: bool,
    attempt: Attempt,
}

/// Which attempt of a retried call a reservation is: recorded with the call (and with its
/// refusal), so `wflo show` and the report can tell attempts apart.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub number: u32,
    pub reason: Option<Arc<str>>,
    /// Added to a budget refusal of this call, recorded and returned (see
    /// [`crate::error::BudgetExceeded::hint`]).
    pub refusal_hint: Option<String>,
}

impl Attempt {
    pub(crate) const FIRST: Attempt = Attempt {
        number: 1,
        reason: None,
        refusal_hint: None,
    };

    /// From a request's options (absent or 0: the first attempt).
    pub(crate) fn from_options(options: &crate::RequestOptions) -> Result<Attempt> {
        let number = options.attempt.unwrap_or(1).max(1);
        if number > 1_000 {
            return Err(Error::invalid(format!("attempt {number}: at most 1000")));
        }
        let reason = match &options.retry_reason {
            Some(r) => {
                crate::text::check("the retry reason", r)?;
                Some(Arc::from(r.chars().take(500).collect::<String>()))
            }
            None => None,
        };
        Ok(Attempt {
            number,
            reason,
            refusal_hint: None,
        })
    }

    /// A budget refusal of this call with its hint added.
    fn explained(&self, error: Error) -> Error {
        match &self.refusal_hint {
            Some(hint) => error.with_hint(hint.clone()),
            None => error,
        }
    }
}

/// A reservation's booking on shared scopes: drawn on this engine's allowances where the
/// scope is served from them, booked in the store for the others (`keys` under `id`).
struct SharedHold {
    id: String,
    keys: Vec<String>,
    local: Vec<crate::allowances::LocalHold>,
}

impl SharedHold {
    /// Ends the booking with the call's cost (0 for a call never made); returns the largest
    /// part of it beyond what was held.
    fn settle(self, engine: &crate::engine::EngineInner, cost: Nanos) -> Nanos {
        let mut overrun = engine.settle_allowances(self.local, cost);
        if !self.keys.is_empty() {
            overrun = overrun.max(engine.settle_shared(self.id, self.keys, Some(cost)));
        }
        overrun
    }
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("execution", &self.exec.id)
            .field("model", &self.requested_model)
            .field("amount_nanos", &self.amount)
            .finish()
    }
}

impl Reservation {
    pub(crate) fn reserve(scope: &Scope, req: &CallRequest<'_>) -> Result<Reservation> {
        Reservation::reserve_attempt(scope, req, Attempt::FIRST)
    }

    /// [`Reservation::reserve`] for a given attempt of a retried call.
    pub(crate) fn reserve_attempt(
        scope: &Scope,
        req: &CallRequest<'_>,
        attempt: Attempt,
    ) -> Result<Reservation> {
        let exec = &scope.exec;
        exec.check_running()?;
        let engine = &exec.engine;
        // Fail closed when the store has stopped taking call records (a bounded queue).
        engine.store.check_accepting()?;
        if req.input_tokens > MAX_TOKENS || req.max_output_tokens.is_some_and(|m| m > MAX_TOKENS) {
            return Err(Error::invalid(format!(
                "token counts must be at most {MAX_TOKENS} (input {}, max output {:?})",
                req.input_tokens, req.max_output_tokens
            )));
        }
        crate::text::check("the model name", req.model)?;
        crate::text::check("the provider", req.provider.unwrap_or(""))?;
        if req.max_output_tokens == Some(0) {
            return Err(Error::invalid("max_output_tokens must be at least 1"));
        }
        // Counted now, given back below if the call is not reserved after all.
        let counted = match CallCount::take(exec) {
            Ok(c) => c,
            Err(e) => {
                refuse(scope, req, &e, 0, &attempt);
                return Err(e);
            }
        };
        let model = match engine.prices.resolve(req.model) {
            Ok(m) => Some(m),
            Err(e @ Error::UnknownModel { .. }) => {
                // Without any limit the call is tracked unpriced; with one, a price is needed
                // to know what it may cost.
                if engine.ledger.is_limited(scope.id) {
                    refuse(scope, req, &e, 0, &attempt);
                    return Err(e);
                }
                None
            }
            Err(e) => return Err(e),
        };
        let estimated = req
            .input_estimated
            .unwrap_or_else(|| tokens::encoding_for_model(req.model).1);
        let prompt_upper = tokens::upper_bound(req.input_tokens, estimated);
        let now = engine.now_ms();
        let full_cap = req
            .max_output_tokens
            .or(model
                .as_ref()
                .and_then(|m| m.price.max_output.or(m.price.max_input)))
            .unwrap_or(DEFAULT_OUTPUT_CAP);
        if let (Some(threshold), Some(m)) = (exec.approval_above, &model) {
            let worst = m
                .price
                .worst_case(prompt_upper, full_cap, req.cache_write)?;
            if worst > threshold {
                crate::resilience::approval::gate_call(exec, &m.name, worst, threshold)?;
            }
        }
        let reserved = match &model {
            None => engine
                .ledger
                .reserve_with(scope.id, now, engine.lease_ms, |_| Ok((0, full_cap))),
            Some(m) => {
                let price = &m.price;
                let cap = full_cap;
                engine
                    .ledger
                    .reserve_with(scope.id, now, engine.lease_ms, |available| {
                        let worst = price.worst_case(prompt_upper, cap, req.cache_write)?;
                        match available {
                            Some(avail) if req.clamp_max_tokens && worst > avail => {
                                match price.max_affordable_output(
                                    prompt_upper,
                                    req.cache_write,
                                    avail,
                                ) {
                                    Some(fit) if fit >= MIN_CLAMPED_OUTPUT.min(cap) => {
                                        let fit = fit.min(cap);
                                        Ok((
                                            price.worst_case(prompt_upper, fit, req.cache_write)?,
                                            fit,
                                        ))
                                    }
                                    // Does not fit even clamped: ask for the full amount so the
                                    // ledger refuses with the real figures.
                                    _ => Ok((worst, cap)),
                                }
                            }
                            _ => Ok((worst, cap)),
                        }
                    })
            }
        };
        let (id, amount, cap) = match reserved {
            Ok(r) => r,
            Err(e) => {
                let e = attempt.explained(e);
                if let Error::BudgetExceeded(b) = &e {
                    refuse(scope, req, &e, b.requested_nanos, &attempt);
                }
                return Err(e);
            }
        };
        let shared = match reserve_shared(exec, amount, now) {
            Ok(hold) => hold,
            Err(e) => {
                // Fail closed: without the shared booking the call does not go out.
                engine.ledger.release(id);
                let e = attempt.explained(e);
                if let Error::BudgetExceeded(b) = &e {
                    refuse(scope, req, &e, b.requested_nanos, &attempt);
                }
                return Err(e);
            }
        };
        let provider: Arc<str> = match (req.provider, &model) {
            (Some(p), Some(m)) if *m.provider == *p => m.provider.clone(),
            (Some(p), _) => p.into(),
            (None, Some(m)) => m.provider.clone(),
            (None, None) => "".into(),
        };
        // The requested name usually is the table's name: share it instead of copying.
        let requested_model: Arc<str> = match &model {
            Some(m) if *m.name == *req.model => m.name.clone(),
            _ => req.model.into(),
        };
        let model_name = model.as_ref().map_or(req.model, |m| &*m.name);
        counted.keep();
        crate::events::reserved(&exec.id, &scope.label, model_name, amount, cap);
        if cap < full_cap {
            crate::events::clamped(&exec.id, &scope.label, model_name, full_cap, cap);
        }
        Ok(Reservation {
            exec: exec.clone(),
            scope: scope.id,
            step: scope.label.clone(),
            id,
            amount,
            requested_model,
            model,
            provider,
            input_tokens: req.input_tokens,
            max_output_tokens: cap,
            clamped: cap < full_cap,
            stream: req.stream,
            started_at_ms: now,
            shared,
            ended: false,
            attempt,
        })
    }

    /// The worst-case amount held, nano-USD.
    pub fn amount_nanos(&self) -> Nanos {
        self.amount
    }

    /// The output cap the reservation covers: the request's `max_tokens`, the model's maximum,
    /// or — under the clamp policy — the smaller number the budget allows. A clamped request
    /// must be sent with this as its `max_tokens`.
    pub fn max_output_tokens(&self) -> u64 {
        self.max_output_tokens
    }

    /// True when the clamp policy lowered the output cap.
    pub fn clamped(&self) -> bool {
        self.clamped
    }

    /// The price-table entry the call is priced as (`None`: unpriced, no budget applies).
    pub fn model(&self) -> Option<&ResolvedModel> {
        self.model.as_ref()
    }

    pub fn execution_id(&self) -> &str {
        &self.exec.id
    }

    /// True once settled or released.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Extends the lease (a long stream still running). False when the lease had already
    /// expired and the budget was reclaimed.
    pub fn renew(&self) -> Result<bool> {
        let engine = &self.exec.engine;
        let now = engine.now_ms();
        let mut held = engine.ledger.renew(self.id, now, engine.lease_ms);
        // Allowances renew their own leases; only per-call bookings need it here.
        if let Some(hold) = self.shared.as_ref().filter(|h| !h.keys.is_empty()) {
            held &= engine
                .store
                .renew_shared(&hold.id, now.saturating_add(engine.lease_ms))?;
        }
        Ok(held)
    }

    /// Settles with the provider's usage: the call succeeded.
    pub fn settle(&mut self, usage: Usage) -> Result<CallRecord> {
        self.settle_with(Settlement {
            usage,
            ..Settlement::default()
        })
    }

    /// Settles from a provider's raw usage JSON (a whole response body or its usage object).
    pub fn settle_json(&mut self, format: UsageFormat, json: &str) -> Result<CallRecord> {
        self.check_not_ended()?;
        let usage = parse_usage(format, json)?;
        self.settle(usage)
    }

    /// Settles a finished or cut stream. When the provider's final usage never came, the
    /// output is estimated from the streamed text with the model's tokenizer (and the prompt
    /// from the reservation's count, unless the stream reported it), flagged `estimated` and
    /// `usage_missing` — never recorded as zero.
    pub fn settle_stream(
        &mut self,
        outcome: &StreamOutcome,
        status: CallStatus,
    ) -> Result<CallRecord> {
        self.check_not_ended()?;
        if outcome.complete {
            if let Some(usage) = outcome.usage {
                return self.settle_with(Settlement {
                    usage,
                    status: Some(status),
                    ..Settlement::default()
                });
            }
        }
        let counted = tokens::count_text(&self.requested_model, &outcome.text).tokens;
        let reported = outcome.usage.unwrap_or_default();
        let usage = if outcome.usage.is_some() {
            Usage {
                output: reported
                    .output
                    .max(counted.saturating_sub(reported.reasoning)),
                ..reported
            }
        } else {
            Usage {
                input: self.input_tokens,
                output: counted,
                ..Usage::default()
            }
        };
        self.settle_with(Settlement {
            usage,
            status: Some(status),
            estimated: true,
            usage_missing: true,
            error: None,
        })
    }

    /// Settles from whatever the call returned (`format` names its API; `auto` reads the
    /// shape): the provider's usage when the result carries it, else — no usage, unreadable
    /// usage, or all zeros beside generated output — the generated text (every choice,
    /// tool-call names and arguments, visible reasoning) counted with the model's tokenizer,
    /// flagged `estimated` and `usage_missing`. The one rule for "a result without usage".
    ///
    /// `status` is how the call ended: `Ok`, or `Error`/`Aborted` for what a call that failed
    /// midway had produced (a framework's partial result, `null` when it kept none) — the
    /// provider billed the prompt and what it generated, so that is booked, not released.
    pub fn settle_result(
        &mut self,
        format: UsageFormat,
        result_json: &str,
        status: CallStatus,
    ) -> Result<CallRecord> {
        self.check_not_ended()?;
        let value: serde_json::Value = serde_json::from_str(result_json)
            .map_err(|e| Error::invalid(format!("the result is not valid JSON: {e}")))?;
        let settle = |this: &mut Self, usage| {
            this.settle_with(Settlement {
                usage,
                status: Some(status),
                ..Settlement::default()
            })
        };
        // The generated text is only read when the usage cannot stand on its own.
        match crate::usage::parse_usage_value(format, &value) {
            Ok(usage) if usage.total() > 0 => settle(self, usage),
            parsed => {
                let text = crate::usage::generated_text(format, &value);
                match parsed {
                    Ok(zero) if text.is_empty() => settle(self, zero),
                    _ => self.settle_text(&text, status),
                }
            }
        }
    }

    /// [`Reservation::settle_result`] with the format and status as the names every face
    /// passes (`status` `None`: "ok").
    pub fn settle_result_text(
        &mut self,
        format: &str,
        result_json: &str,
        status: Option<&str>,
    ) -> Result<CallRecord> {
        let format = UsageFormat::from_name(format)?;
        let status = CallStatus::from_name(status.unwrap_or("ok"))?;
        self.settle_result(format, result_json, status)
    }

    /// Settles a call whose usage never came from the text it generated (what a stream
    /// delivered before it was cut, what a framework returned): the prompt as reserved, the
    /// output counted with the model's tokenizer, flagged `estimated` and `usage_missing`.
    pub fn settle_text(&mut self, text: &str, status: CallStatus) -> Result<CallRecord> {
        self.settle_stream(
            &StreamOutcome {
                usage: None,
                complete: false,
                text: text.to_owned(),
            },
            status,
        )
    }

    /// Settles with full control over status and flags.
    pub fn settle_with(&mut self, s: Settlement) -> Result<CallRecord> {
        self.check_not_ended()?;
        if s.status == Some(CallStatus::Unsettled) {
            // Only the store records it, for a dead holder's reservation it charged.
            return Err(Error::invalid(
                "a call is not settled as unsettled: that status is recorded by the store for reservations whose holder died",
            ));
        }
        s.usage.validate()?;
        let cost = match &self.model {
            Some(m) => m.price.cost(&s.usage)?,
            None => 0,
        };
        let engine = &self.exec.engine;
        let settled = engine.ledger.settle(self.scope, self.id, cost)?;
        self.ended = true;
        let mut overrun = settled.overrun_nanos;
        if let Some(hold) = self.shared.take() {
            overrun = overrun.max(hold.settle(engine, cost));
        }
        let now = engine.now_ms();
        let record = CallRecord {
            execution_id: self.exec.id.clone(),
            seq: 0,
            step: self.step.clone(),
            provider: self.provider.clone(),
            requested_model: self.requested_model.clone(),
            model: self.model.as_ref().map(|m| m.name.clone()),
            usage: s.usage,
            cost_nanos: cost,
            reserved_nanos: self.amount,
            overrun_nanos: overrun,
            estimated: s.estimated,
            usage_missing: s.usage_missing,
            stream: self.stream,
            status: s.status.unwrap_or(CallStatus::Ok),
            error: s.error.map(crate::text::recordable),
            latency_ms: now.saturating_sub(self.started_at_ms),
            started_at_ms: self.started_at_ms,
            finished_at_ms: now,
            attempt: self.attempt.number,
            retry_reason: self.attempt.reason.clone(),
        };
        let model = record.model.as_deref().unwrap_or(&record.requested_model);
        crate::events::settled(
            &self.exec.id,
            &self.step,
            model,
            cost,
            self.amount,
            s.estimated,
            record.status.as_str(),
        );
        if overrun > 0 {
            crate::events::overrun(&self.exec.id, &self.step, model, overrun);
        }
        self.exec
            .push_call_settled(record, Some(self.max_output_tokens), Some(&settled))
    }

    /// Releases the reservation without cost: the call failed before the provider billed
    /// anything (`status` is `error` or `aborted`).
    pub fn release(&mut self, status: CallStatus, error: Option<&str>) -> Result<CallRecord> {
        self.check_not_ended()?;
        if matches!(status, CallStatus::Ok | CallStatus::Refused) {
            return Err(Error::invalid(
                "a released call ends with status error or aborted",
            ));
        }
        self.settle_with(Settlement {
            usage: Usage::default(),
            status: Some(status),
            error: error.map(str::to_owned),
            ..Settlement::default()
        })
    }

    fn check_not_ended(&self) -> Result<()> {
        if self.ended {
            Err(Error::Conflict(
                "this reservation was already settled or released".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.ended {
            // Never leave budget held by a reservation nobody can settle any more.
            let _ = self.release(
                CallStatus::Aborted,
                Some("reservation dropped without settle"),
            );
            if !self.ended {
                self.exec.engine.ledger.release(self.id);
            }
        }
    }
}

/// Books the execution's shared scopes: on this engine's allowances for the scopes served
/// from them, in the store (one transaction for all of them) for the others. All or nothing.
fn reserve_shared(exec: &ExecutionInner, amount: Nanos, now: u64) -> Result<Option<SharedHold>> {
    if exec.shared_scopes.is_empty() {
        return Ok(None);
    }
    let engine = &exec.engine;
    let split = engine.reserve_allowances(&exec.shared_scopes, amount, &exec.id)?;
    if split.per_call.is_empty() {
        return Ok(Some(SharedHold {
            id: String::new(),
            keys: Vec::new(),
            local: split.local,
        }));
    }
    match book_per_call(exec, &split.per_call, amount, now) {
        Ok((id, keys)) => Ok(Some(SharedHold {
            id,
            keys,
            local: split.local,
        })),
        Err(e) => {
            engine.release_allowances(split.local);
            Err(e)
        }
    }
}

/// Books `amount` on the per-call scopes `names` in the store (one transaction for all of
/// them), after the settlements the store missed: the shared figures must include them.
/// Returns the reservation's id and the period keys booked.
fn book_per_call(
    exec: &ExecutionInner,
    names: &[String],
    amount: Nanos,
    now: u64,
) -> Result<(String, Vec<String>)> {
    let engine = &exec.engine;
    engine.retry_shared()?;
    let id = crate::ids::new_reservation_id()?;
    let keys = engine.store.reserve_shared(&crate::store::SharedReserve {
        id: &id,
        scopes: names,
        amount_nanos: amount,
        holder: &engine.holder,
        execution_id: Some(&exec.id),
        now_ms: now,
        lease_until_ms: now.saturating_add(engine.lease_ms),
    })?;
    Ok((id, keys))
}

/// Books spend that had no reservation on the shared scopes, within their limits as a
/// reservation settled at once; past a limit — the money is spent all the same — as an
/// overrun (on allowances, booked at the next sync).
fn charge_shared(exec: &ExecutionInner, cost: Nanos, now: u64) -> Result<Nanos> {
    if exec.shared_scopes.is_empty() || cost == 0 {
        return Ok(0);
    }
    let engine = &exec.engine;
    let per_call = engine.charge_allowances(&exec.shared_scopes, cost, &exec.id)?;
    if per_call.is_empty() {
        return Ok(0);
    }
    match book_per_call(exec, &per_call, cost, now) {
        Ok((id, keys)) => Ok(engine.settle_shared(id, keys, Some(cost))),
        Err(Error::BudgetExceeded(_)) => {
            let mut keys = Vec::with_capacity(per_call.len());
            for name in &per_call {
                keys.push(engine.store.shared_scope(name, now)?.key);
            }
            Ok(engine.settle_shared(crate::ids::new_reservation_id()?, keys, Some(cost)))
        }
        Err(e) => Err(e),
    }
}

/// One call counted against an execution's `max_calls`: given back when dropped before
/// [`CallCount::keep`] (the call was refused or failed before it was reserved).
struct CallCount<'a> {
    exec: &'a crate::execution::ExecutionInner,
    kept: bool,
}

impl<'a> CallCount<'a> {
    /// Counts a call, or refuses it with `CALL_LIMIT` when the execution has made its last.
    fn take(exec: &'a crate::execution::ExecutionInner) -> Result<CallCount<'a>> {
        use std::sync::atomic::Ordering;
        let Some(max) = exec.max_calls else {
            return Ok(CallCount { exec, kept: true });
        };
        let taken = exec
            .calls_reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(CallCount { exec, kept: false }),
            Err(_) => Err(Error::CallLimit {
                execution: exec.id.to_string(),
                max_calls: max,
            }),
        }
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for CallCount<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.exec
                .calls_reserved
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
}

fn refuse(
    scope: &Scope,
    req: &CallRequest<'_>,
    error: &Error,
    requested: Nanos,
    attempt: &Attempt,
) {
    crate::events::refused(&scope.exec.id, &scope.label, req.model, requested, error);
    let now = scope.exec.engine.now_ms();
    let record = CallRecord {
        execution_id: scope.exec.id.clone(),
        seq: 0,
        step: scope.label.clone(),
        // The provider as a settled call would record it: the caller's, else the price table's.
        provider: match req.provider {
            Some(p) => p.into(),
            None => match scope.exec.engine.prices.resolve(req.model) {
                Ok(m) => m.provider.clone(),
                Err(_) => "".into(),
            },
        },
        requested_model: req.model.into(),
        model: None,
        usage: Usage::default(),
        cost_nanos: 0,
        reserved_nanos: requested,
        overrun_nanos: 0,
        estimated: false,
        usage_missing: false,
        stream: req.stream,
        status: CallStatus::Refused,
        error: Some(error.to_string()),
        latency_ms: 0,
        started_at_ms: now,
        finished_at_ms: now,
        attempt: attempt.number,
        retry_reason: attempt.reason.clone(),
    };
    // The refusal is what the caller must see; a store failure here is secondary.
    let _ = scope.exec.push_call(record, req.max_output_tokens);
}

/// A call made without a reservation, recorded after the fact.
pub(crate) fn record_unreserved(
    scope: &Scope,
    report: &UsageReport<'_>,
) -> Result<crate::records::CallRecord> {
    let exec = &scope.exec;
    exec.check_running()?;
    report.usage.validate()?;
    crate::text::check("the model name", report.model)?;
    crate::text::check("the provider", report.provider.unwrap_or(""))?;
    let engine = &exec.engine;
    let model = match engine.prices.resolve(report.model) {
        Ok(m) => Some(m),
        Err(e @ Error::UnknownModel { .. }) if engine.ledger.is_limited(scope.id) => return Err(e),
        Err(Error::UnknownModel { .. }) => None,
        Err(e) => return Err(e),
    };
    let cost = match &model {
        Some(m) => m.price.cost(&report.usage)?,
        None => 0,
    };
    let now = engine.now_ms();
    let mut overrun = engine.ledger.charge(scope.id, cost)?;
    overrun = overrun.max(charge_shared(exec, cost, now)?);
    let record = CallRecord {
        execution_id: exec.id.clone(),
        seq: 0,
        step: scope.label.clone(),
        provider: match (report.provider, &model) {
            (Some(p), _) => p.into(),
            (None, Some(m)) => m.provider.clone(),
            (None, None) => "".into(),
        },
        requested_model: report.model.into(),
        model: model.as_ref().map(|m| m.name.clone()),
        usage: report.usage,
        cost_nanos: cost,
        reserved_nanos: 0,
        overrun_nanos: overrun,
        estimated: report.estimated,
        usage_missing: false,
        stream: report.stream,
        status: CallStatus::Ok,
        error: None,
        latency_ms: report.latency_ms,
        started_at_ms: now.saturating_sub(report.latency_ms),
        finished_at_ms: now,
        attempt: 1,
        retry_reason: None,
    };
    exec.push_call(record, None)
}

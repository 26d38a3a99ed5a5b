//! Executions and scopes.

use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi_derive::napi;
use wflo_core::{CheckpointState, ExecutionStatus, UsageReport};

use crate::call::{NativeReservation, Settled};
use crate::engine::JsUsage;
use crate::guard;
use crate::job::Job;

/// What a call will be, before it is made.
#[napi(object)]
pub struct JsCallRequest {
    pub model: String,
    pub provider: Option<String>,
    pub input_tokens: Option<i64>,
    /// Whether `inputTokens` is an estimate (default: decided by the model's tokenizer).
    pub input_estimated: Option<bool>,
    pub max_output_tokens: Option<i64>,
    /// "5m" or "1h" when the request writes its prompt to a cache.
    pub cache_write: Option<String>,
    pub stream: Option<bool>,
    pub clamp_max_tokens: Option<bool>,
}

/// A binary checkpoint state as it crosses to JavaScript (`lib/workflow.cjs` makes a
/// `BinaryState` of it).
#[napi(object)]
pub struct NativeBinaryState {
    pub content_type: String,
    pub bytes: Buffer,
}

/// A checkpoint state of either kind: a JSON state as its text (parsed by JavaScript), a
/// binary one as its content type and bytes — so one read serves both, and JavaScript returns
/// each state as it was saved.
pub type AnyState = Either<String, NativeBinaryState>;

/// What `checkpointsSinceWithState` resolves to: `since` as `checkpointsSince`'s JSON, and the
/// state read along.
#[napi(object)]
pub struct SinceWithState {
    pub since: String,
    #[napi(ts_type = "string | NativeBinaryState")]
    pub state: AnyState,
}

/// A sequence from JavaScript: a whole number from 0.
fn sequence(after_sequence: i64) -> wflo_core::Result<u64> {
    u64::try_from(after_sequence)
        .map_err(|_| wflo_core::Error::invalid("afterSequence must be a whole number from 0"))
}

/// A checkpoint id from JavaScript: a whole number from 0 (never a negative one clamped into
/// another checkpoint's).
fn checkpoint_id(id: i64) -> wflo_core::Result<u64> {
    u64::try_from(id)
        .map_err(|_| wflo_core::Error::invalid("a checkpoint id is a whole number from 0"))
}

/// `{"checkpoints": [...], "rollbacks": n}`.
fn since_json(
    checkpoints: &[wflo_core::CheckpointInfo],
    rollbacks: u64,
) -> wflo_core::Result<String> {
    let list = serde_json::to_string(checkpoints)
        .map_err(|e| wflo_core::Error::Internal(format!("checkpoint list as JSON: {e}")))?;
    Ok(format!(
        r#"{{"checkpoints":{list},"rollbacks":{rollbacks}}}"#
    ))
}

fn any_state(state: CheckpointState) -> AnyState {
    match state {
        CheckpointState::Json(text) => Either::A(text),
        CheckpointState::Binary {
            content_type,
            bytes,
        } => Either::B(NativeBinaryState {
            content_type,
            bytes: bytes.into(),
        }),
    }
}

/// A running execution (wrapped by `lib/workflow.js`).
// Each class's Rust name is its JavaScript name, not renamed with `js_name`: napi-derive gives
// an `impl` the struct's `js_name` only when it expanded the struct first, so an `impl` in a
// module before this one (approval.rs) registered its methods on a class named `Execution`,
// and returning one failed ("Failed to get constructor of class `NativeExecution`").
#[napi]
pub struct NativeExecution {
    pub(crate) inner: wflo_core::Execution,
}

impl NativeExecution {
    pub fn new(inner: wflo_core::Execution) -> NativeExecution {
        NativeExecution { inner }
    }
}

/// A step scope of an execution.
#[napi]
pub struct NativeScope {
    pub(crate) inner: wflo_core::Scope,
}

fn budget(nanos: Option<i64>) -> wflo_core::Result<Option<u64>> {
    match nanos {
        Some(n) if n < 0 => Err(wflo_core::Error::invalid("a budget must not be negative")),
        n => Ok(n.map(|n| n as u64)),
    }
}

#[napi]
impl NativeExecution {
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// The id of the trace the execution belongs to (32 hex digits).
    #[napi(getter)]
    pub fn trace_id(&self) -> String {
        self.inner.trace_id()
    }

    #[napi]
    pub fn scope(&self, label: String, budget_nanos: Option<i64>) -> napi::Result<NativeScope> {
        guard(|| {
            Ok(NativeScope {
                inner: self.inner.scope(&label, budget(budget_nanos)?)?,
            })
        })
    }

    /// Reserves on the execution's own scope (in memory: no storage touched unless the
    /// execution draws from shared scopes — then use `reserveAsync`).
    #[napi]
    pub fn reserve(&self, req: JsCallRequest) -> napi::Result<NativeReservation> {
        guard(|| NativeReservation::reserve(&self.inner.root(), req))
    }

    /// Reserves off the JavaScript thread (for executions with shared scopes in the store).
    #[napi(ts_return_type = "Promise<NativeReservation>")]
    pub fn reserve_async(&self, req: JsCallRequest) -> AsyncTask<Job<NativeReservation>> {
        let scope = self.inner.root();
        AsyncTask::new(Job::new(move || NativeReservation::reserve(&scope, req)))
    }

    /// Reads a provider request (`format`: openai_chat, openai_responses, anthropic, gemini,
    /// langchain, ai_sdk), reserves its worst case off the JavaScript thread, and resolves to
    /// the reservation; its `requestBody` is the body to send.
    #[napi(ts_return_type = "Promise<NativeReservation>")]
    pub fn reserve_request(
        &self,
        format: String,
        body: String,
        options_json: Option<String>,
    ) -> AsyncTask<Job<NativeReservation>> {
        NativeReservation::reserve_request_job(self.inner.root(), format, body, options_json)
    }

    /// Ends the execution the way its body ended (`raised`: null when it returned, else the
    /// wflo error codes along the raised error's causes); resolves to the status chosen.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn end(&self, raised: Option<Vec<String>>) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(exec.end(raised.as_deref())?.as_str().to_owned())
        }))
    }

    /// The hot-path form of `reserve`: positional numbers instead of an object
    /// (`inputEstimated` 0 auto / 1 exact / 2 estimated, as in C; `maxOutputTokens` 0 = none; `flags` bit 0 stream,
    /// bit 1 clamp; `cacheWrite` 0 none / 1 5m / 2 1h).
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn reserve_fast(
        &self,
        model: String,
        input_tokens: f64,
        input_estimated: u32,
        max_output_tokens: f64,
        flags: u32,
        cache_write: u32,
        provider: Option<String>,
    ) -> napi::Result<NativeReservation> {
        guard(|| {
            crate::call::reserve_positional(
                &self.inner.root(),
                &model,
                input_tokens,
                input_estimated,
                max_output_tokens,
                flags,
                cache_write,
                provider.as_deref(),
            )
        })
    }

    /// Records a call made without a reservation, from raw provider usage JSON.
    #[napi]
    pub fn record_call(
        &self,
        model: String,
        format: String,
        usage_json: String,
    ) -> napi::Result<Settled> {
        guard(|| {
            let rec = self.inner.record_usage_json(&model, &format, &usage_json)?;
            Ok(Settled::from(&rec))
        })
    }

    /// Records a call made without a reservation, from wflo usage.
    #[napi]
    pub fn record_usage(&self, model: String, usage: JsUsage) -> napi::Result<Settled> {
        guard(|| {
            let rec = self
                .inner
                .record_call(&UsageReport::new(&model, usage.to_core()?))?;
            Ok(Settled::from(&rec))
        })
    }

    /// The breakdown now, as JSON (in memory).
    #[napi]
    pub fn breakdown_json(&self) -> napi::Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.breakdown()?).unwrap_or_default()))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn calls_json(&self) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&exec.calls()?).unwrap_or_default())
        }))
    }

    /// Saves a checkpoint (state as JSON text); resolves with its info as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn checkpoint(&self, name: String, state_json: String) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&exec.checkpoint(&name, &state_json)?).unwrap_or_default())
        }))
    }

    /// Saves a checkpoint whose state is bytes in the caller's own format, named by
    /// `contentType` (null/undefined: the engine's default, "application/octet-stream");
    /// resolves with its info as JSON. The bytes are copied here, on the JavaScript thread, so
    /// the job never reads memory JavaScript may write to meanwhile.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn checkpoint_binary(
        &self,
        name: String,
        content_type: Option<String>,
        data: Buffer,
    ) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        let bytes = data.to_vec();
        AsyncTask::new(Job::new(move || {
            let info = exec.checkpoint_binary(&name, content_type.as_deref(), &bytes)?;
            Ok(serde_json::to_string(&info).unwrap_or_default())
        }))
    }

    /// Rolls back; resolves with the checkpoint's state, of either kind (see `AnyState`).
    #[napi(ts_return_type = "Promise<string | NativeBinaryState>")]
    pub fn rollback(&self, name: String) -> AsyncTask<Job<AnyState>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(any_state(exec.rollback_to_checkpoint_any(&name)?))
        }))
    }

    /// The latest live checkpoint's state, of either kind, or null.
    #[napi(ts_return_type = "Promise<string | NativeBinaryState | null>")]
    pub fn latest_checkpoint(&self) -> AsyncTask<Job<Option<AnyState>>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(exec.latest_checkpoint_any()?.map(|(_, s)| any_state(s)))
        }))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn checkpoints_json(&self) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&exec.checkpoints()?).unwrap_or_default())
        }))
    }

    /// The checkpoints saved after sequence `after_sequence` (0: all), in order, and the
    /// execution's number of rollbacks (`Execution::checkpoints_since`), as JSON
    /// `{"checkpoints": [...], "rollbacks": n}`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn checkpoints_since(&self, after_sequence: i64) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            let (checkpoints, rollbacks) = exec.checkpoints_since(sequence(after_sequence)?)?;
            since_json(&checkpoints, rollbacks)
        }))
    }

    /// `checkpoints_since` and `checkpoint_state` of `id` in one call
    /// (`Execution::checkpoints_since_with_state`): what a reader keeping an index loads with,
    /// one trip to the worker pool instead of two.
    #[napi(ts_return_type = "Promise<SinceWithState>")]
    pub fn checkpoints_since_with_state(
        &self,
        after_sequence: i64,
        id: i64,
    ) -> AsyncTask<Job<SinceWithState>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            let (checkpoints, rollbacks, state) =
                exec.checkpoints_since_with_state(sequence(after_sequence)?, checkpoint_id(id)?)?;
            Ok(SinceWithState {
                since: since_json(&checkpoints, rollbacks)?,
                state: any_state(state),
            })
        }))
    }

    /// One checkpoint's state by id, of either kind.
    #[napi(ts_return_type = "Promise<string | NativeBinaryState>")]
    pub fn checkpoint_state(&self, id: i64) -> AsyncTask<Job<AnyState>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(any_state(exec.checkpoint_state_any(checkpoint_id(id)?)?))
        }))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn finish(&self, status: String) -> AsyncTask<Job<()>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            exec.finish(ExecutionStatus::from_name(&status)?)
                .map(|_| ())
        }))
    }
}

#[napi]
impl NativeScope {
    #[napi(getter)]
    pub fn label(&self) -> String {
        self.inner.label().to_owned()
    }

    #[napi]
    pub fn child(&self, label: String, budget_nanos: Option<i64>) -> napi::Result<NativeScope> {
        guard(|| {
            Ok(NativeScope {
                inner: self.inner.child(&label, budget(budget_nanos)?)?,
            })
        })
    }

    #[napi]
    pub fn reserve(&self, req: JsCallRequest) -> napi::Result<NativeReservation> {
        guard(|| NativeReservation::reserve(&self.inner, req))
    }

    #[napi(ts_return_type = "Promise<NativeReservation>")]
    pub fn reserve_async(&self, req: JsCallRequest) -> AsyncTask<Job<NativeReservation>> {
        let scope = self.inner.clone();
        AsyncTask::new(Job::new(move || NativeReservation::reserve(&scope, req)))
    }

    /// `NativeExecution.reserveRequest` on this scope.
    #[napi(ts_return_type = "Promise<NativeReservation>")]
    pub fn reserve_request(
        &self,
        format: String,
        body: String,
        options_json: Option<String>,
    ) -> AsyncTask<Job<NativeReservation>> {
        NativeReservation::reserve_request_job(self.inner.clone(), format, body, options_json)
    }

    /// The hot-path form of `reserve` (see NativeExecution.reserveFast).
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn reserve_fast(
        &self,
        model: String,
        input_tokens: f64,
        input_estimated: u32,
        max_output_tokens: f64,
        flags: u32,
        cache_write: u32,
        provider: Option<String>,
    ) -> napi::Result<NativeReservation> {
        guard(|| {
            crate::call::reserve_positional(
                &self.inner,
                &model,
                input_tokens,
                input_estimated,
                max_output_tokens,
                flags,
                cache_write,
                provider.as_deref(),
            )
        })
    }
}

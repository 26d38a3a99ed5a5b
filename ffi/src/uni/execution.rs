//! Executions and scopes.

use std::sync::Arc;

use wflo_core::{Execution, ExecutionStatus, Scope, UsageReport};

use super::call::{NativeReservation, RequestReserved};
use super::error::{Result, guard};
use super::offload;
use super::types::{
    CallRequest, CheckpointState, CheckpointsSinceJson, CheckpointsSinceWithStateJson, Settled,
    Usage,
};

/// A running execution. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeExecution {
    inner: Execution,
}

impl NativeExecution {
    pub fn new(inner: Execution) -> NativeExecution {
        NativeExecution { inner }
    }

    /// The engine's execution (for the other objects of this face).
    pub(crate) fn inner(&self) -> &Execution {
        &self.inner
    }
}

/// A step or agent scope of an execution. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeScope {
    inner: Scope,
}

fn record(scope: &Scope, model: &str, usage: wflo_core::Usage) -> wflo_core::Result<Settled> {
    Ok(Settled::from(
        &scope.record_call(&UsageReport::new(model, usage))?,
    ))
}

#[uniffi::export]
impl NativeExecution {
    /// The execution id ("exec-" + 12 hex).
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// The W3C trace id (32 lower-case hex) this execution belongs to: the host's trace when
    /// it was started with a `traceparent`, else one of its own.
    pub fn trace_id(&self) -> String {
        self.inner.trace_id()
    }

    /// A C ABI handle (`wflo_execution*`, as an integer) to this same execution, for the hot
    /// path of bindings that call the C functions directly. Free it with
    /// `wflo_execution_free`.
    pub fn c_handle(&self) -> u64 {
        crate::execution::handle(self.inner.clone()) as usize as u64
    }

    /// A step scope, created on first use (a budget gives it a limit of its own).
    pub fn scope(&self, label: String, budget_nanos: Option<u64>) -> Result<Arc<NativeScope>> {
        guard(|| {
            Ok(Arc::new(NativeScope {
                inner: self.inner.scope(&label, budget_nanos)?,
            }))
        })
    }

    /// Reserves the worst case of a call on the execution's own scope.
    pub fn reserve(&self, request: CallRequest) -> Result<Arc<NativeReservation>> {
        guard(|| NativeReservation::reserve(&self.inner.root(), &request))
    }

    /// Reserves a provider request on the execution's own scope; returns the reservation and
    /// the body to send.
    pub fn reserve_request(
        &self,
        format: String,
        body: String,
        options_json: Option<String>,
    ) -> Result<RequestReserved> {
        guard(|| {
            NativeReservation::reserve_request(
                &self.inner.root(),
                &format,
                &body,
                options_json.as_deref(),
            )
        })
    }

    /// Ends the execution the way its body ended: `raised` None when it returned, else the
    /// wflo error codes along the raised error's causes. Returns the status chosen.
    pub fn end(&self, raised: Option<Vec<String>>) -> Result<String> {
        guard(|| Ok(self.inner.end(raised.as_deref())?.as_str().to_owned()))
    }

    /// `reserve` off the caller's thread (for executions with shared scopes in the store).
    pub async fn reserve_async(&self, request: CallRequest) -> Result<Arc<NativeReservation>> {
        let scope = self.inner.root();
        offload(move || guard(|| NativeReservation::reserve(&scope, &request))).await
    }

    /// Records a pending approval for a gate (or finds the one this execution already has
    /// for it) without waiting: the approval as JSON. `request_json`: see
    /// `wflo_execution_request_approval`.
    pub fn request_approval(&self, request_json: String) -> Result<String> {
        guard(|| {
            let req = wflo_core::resilience::ApprovalRequest::from_json(&request_json)?;
            let a = self.inner.request_approval(&req)?;
            Ok(serde_json::to_string(&a).unwrap_or_default())
        })
    }

    /// Waits for approval `id` (at most `wait_ms`; None: until its timeout): the approval as
    /// JSON when approved (or still pending when `wait_ms` ran out); `ApprovalDenied` when
    /// denied or timed out. Off the caller's thread.
    pub async fn wait_for_approval(&self, id: String, wait_ms: Option<u64>) -> Result<String> {
        let x = self.inner.clone();
        offload(move || {
            guard(|| {
                let a = x.wait_for_approval(&id, wait_ms)?;
                Ok(serde_json::to_string(&a).unwrap_or_default())
            })
        })
        .await
    }

    /// `wait_for_approval` blocking the caller's thread.
    pub fn wait_for_approval_blocking(&self, id: String, wait_ms: Option<u64>) -> Result<String> {
        guard(|| {
            let a = self.inner.wait_for_approval(&id, wait_ms)?;
            Ok(serde_json::to_string(&a).unwrap_or_default())
        })
    }

    /// Records a call made without a reservation, from a provider's usage JSON.
    pub fn record_call_json(&self, model: String, format: String, json: String) -> Result<Settled> {
        guard(|| {
            Ok(Settled::from(
                &self.inner.record_usage_json(&model, &format, &json)?,
            ))
        })
    }

    /// Records a call made without a reservation, from wflo usage.
    pub fn record_call(&self, model: String, usage: Usage) -> Result<Settled> {
        guard(|| record(&self.inner.root(), &model, usage.into()))
    }

    /// The breakdown now, as JSON.
    pub fn breakdown_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.breakdown()?).unwrap_or_default()))
    }

    /// The execution's calls (buffered ones written first), as JSON.
    pub fn calls_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.calls()?).unwrap_or_default()))
    }

    /// Saves a checkpoint of a JSON state; returns its info as JSON.
    pub fn checkpoint(&self, name: String, state_json: String) -> Result<String> {
        guard(|| {
            Ok(
                serde_json::to_string(&self.inner.checkpoint(&name, &state_json)?)
                    .unwrap_or_default(),
            )
        })
    }

    /// `checkpoint` off the caller's thread.
    pub async fn checkpoint_async(&self, name: String, state_json: String) -> Result<String> {
        let exec = self.inner.clone();
        offload(move || {
            guard(|| {
                Ok(
                    serde_json::to_string(&exec.checkpoint(&name, &state_json)?)
                        .unwrap_or_default(),
                )
            })
        })
        .await
    }

    /// Saves a checkpoint of a binary state (`bytes` in the caller's format, named by
    /// `content_type`; None: "application/octet-stream"); returns its info as JSON.
    pub fn checkpoint_binary(
        &self,
        name: String,
        content_type: Option<String>,
        bytes: Vec<u8>,
    ) -> Result<String> {
        guard(|| {
            Ok(serde_json::to_string(&self.inner.checkpoint_binary(
                &name,
                content_type.as_deref(),
                &bytes,
            )?)
            .unwrap_or_default())
        })
    }

    /// `checkpoint_binary` off the caller's thread.
    pub async fn checkpoint_binary_async(
        &self,
        name: String,
        content_type: Option<String>,
        bytes: Vec<u8>,
    ) -> Result<String> {
        let exec = self.inner.clone();
        offload(move || {
            guard(|| {
                Ok(serde_json::to_string(&exec.checkpoint_binary(
                    &name,
                    content_type.as_deref(),
                    &bytes,
                )?)
                .unwrap_or_default())
            })
        })
        .await
    }

    /// Rolls back to the latest live checkpoint called `name`; returns its state, of either
    /// kind.
    pub fn rollback_to_checkpoint_any(&self, name: String) -> Result<CheckpointState> {
        guard(|| Ok(self.inner.rollback_to_checkpoint_any(&name)?.into()))
    }

    /// `rollback_to_checkpoint_any` off the caller's thread.
    pub async fn rollback_to_checkpoint_any_async(&self, name: String) -> Result<CheckpointState> {
        let exec = self.inner.clone();
        offload(move || guard(|| Ok(exec.rollback_to_checkpoint_any(&name)?.into()))).await
    }

    /// The latest live checkpoint's state, of either kind, or None.
    pub fn latest_checkpoint_any(&self) -> Result<Option<CheckpointState>> {
        guard(|| Ok(self.inner.latest_checkpoint_any()?.map(|(_, s)| s.into())))
    }

    /// One checkpoint's state by id, of either kind.
    pub fn checkpoint_state_any(&self, id: u64) -> Result<CheckpointState> {
        guard(|| Ok(self.inner.checkpoint_state_any(id)?.into()))
    }

    /// Rolls back to the latest live checkpoint called `name`; returns its state (JSON;
    /// INVALID_ARGUMENT, changing nothing, when it is binary).
    pub fn rollback_to_checkpoint(&self, name: String) -> Result<String> {
        guard(|| self.inner.rollback_to_checkpoint(&name))
    }

    /// `rollback_to_checkpoint` off the caller's thread.
    pub async fn rollback_to_checkpoint_async(&self, name: String) -> Result<String> {
        let exec = self.inner.clone();
        offload(move || guard(|| exec.rollback_to_checkpoint(&name))).await
    }

    /// The latest live checkpoint's state (JSON), or None.
    pub fn latest_checkpoint(&self) -> Result<Option<String>> {
        guard(|| Ok(self.inner.latest_checkpoint()?.map(|(_, s)| s)))
    }

    /// The checkpoints (superseded ones included), as JSON.
    pub fn checkpoints_json(&self) -> Result<String> {
        guard(|| Ok(serde_json::to_string(&self.inner.checkpoints()?).unwrap_or_default()))
    }

    /// The checkpoints after sequence `after_sequence` (0: all) as JSON, as `checkpoints_json`
    /// lists them, and how many rollbacks the execution has had: a reader keeping its own index
    /// reads only what was saved since it last looked, and reads everything again when the
    /// rollback count grows (a rollback changes which earlier checkpoints are live).
    pub fn checkpoints_since(&self, after_sequence: u64) -> Result<CheckpointsSinceJson> {
        guard(|| {
            let (checkpoints, rollbacks) = self.inner.checkpoints_since(after_sequence)?;
            Ok(CheckpointsSinceJson {
                checkpoints_json: serde_json::to_string(&checkpoints).unwrap_or_default(),
                rollbacks,
            })
        })
    }

    /// `checkpoints_since` and `checkpoint_state_any(checkpoint_id)` in one call: what a reader
    /// keeping an index needs for one load, crossing the boundary once. NOT_FOUND when there is
    /// no such checkpoint.
    pub fn checkpoints_since_with_state(
        &self,
        after_sequence: u64,
        checkpoint_id: u64,
    ) -> Result<CheckpointsSinceWithStateJson> {
        guard(|| {
            let (checkpoints, rollbacks, state) = self
                .inner
                .checkpoints_since_with_state(after_sequence, checkpoint_id)?;
            Ok(CheckpointsSinceWithStateJson {
                checkpoints_json: serde_json::to_string(&checkpoints).unwrap_or_default(),
                rollbacks,
                state: state.into(),
            })
        })
    }

    /// One checkpoint's state by id.
    pub fn checkpoint_state(&self, id: u64) -> Result<String> {
        guard(|| self.inner.checkpoint_state(id))
    }

    /// Ends the execution ("completed", "failed", "budget_exceeded").
    pub fn finish(&self, status: String) -> Result<()> {
        guard(|| {
            self.inner
                .finish(ExecutionStatus::from_name(&status)?)
                .map(|_| ())
        })
    }

    /// `finish` off the caller's thread.
    pub async fn finish_async(&self, status: String) -> Result<()> {
        let exec = self.inner.clone();
        offload(move || {
            guard(|| {
                exec.finish(ExecutionStatus::from_name(&status)?)
                    .map(|_| ())
            })
        })
        .await
    }
}

#[uniffi::export]
impl NativeScope {
    pub fn label(&self) -> String {
        self.inner.label().to_owned()
    }

    /// A C ABI handle (`wflo_scope*`, as an integer) to this same scope; free it with
    /// `wflo_scope_free`.
    pub fn c_handle(&self) -> u64 {
        crate::handle::box_into_ptr::<crate::execution::wflo_scope>(self.inner.clone()) as usize
            as u64
    }

    pub fn child(&self, label: String, budget_nanos: Option<u64>) -> Result<Arc<NativeScope>> {
        guard(|| {
            Ok(Arc::new(NativeScope {
                inner: self.inner.child(&label, budget_nanos)?,
            }))
        })
    }

    pub fn reserve(&self, request: CallRequest) -> Result<Arc<NativeReservation>> {
        guard(|| NativeReservation::reserve(&self.inner, &request))
    }

    /// Reserves a provider request on this scope; returns the reservation and the body to send.
    pub fn reserve_request(
        &self,
        format: String,
        body: String,
        options_json: Option<String>,
    ) -> Result<RequestReserved> {
        guard(|| {
            NativeReservation::reserve_request(&self.inner, &format, &body, options_json.as_deref())
        })
    }

    pub async fn reserve_async(&self, request: CallRequest) -> Result<Arc<NativeReservation>> {
        let scope = self.inner.clone();
        offload(move || guard(|| NativeReservation::reserve(&scope, &request))).await
    }

    pub fn record_call(&self, model: String, usage: Usage) -> Result<Settled> {
        guard(|| record(&self.inner, &model, usage.into()))
    }
}

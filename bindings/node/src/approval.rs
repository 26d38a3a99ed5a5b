//! Human approval gates (core's `resilience::approval`), handed to `lib/approval.cjs`:
//! requests and approvals cross as the engine's JSON; every decision (when an approval times
//! out, what a timeout means, what a second request for a gate finds) is core's.

use napi::bindgen_prelude::{AsyncTask, Env, Object};
use napi_derive::napi;
use wflo_core::resilience::ApprovalRequest;

use crate::contention::millis;
use crate::engine::NativeEngine;
use crate::execution::NativeExecution;
use crate::job::{Job, spawn_wait};

fn json(a: &wflo_core::records::ApprovalRecord) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

#[napi]
impl NativeExecution {
    /// Records a pending approval for a gate (or finds the one this execution already has for
    /// it, decided or not) without waiting; resolves to the approval as JSON. `request_json`:
    /// `{"gate", "what", "why", "worst_case_nanos", "requested_by", "timeout_ms",
    /// "on_timeout": "deny"|"approve"}`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn request_approval(&self, request_json: String) -> AsyncTask<Job<String>> {
        let exec = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            let request = ApprovalRequest::from_json(&request_json)?;
            Ok(json(&exec.request_approval(&request)?))
        }))
    }

    /// Waits for approval `id` (at most `wait_ms`; null: until its timeout) on a thread of its
    /// own: resolves to the approval as JSON once approved (or still pending when `wait_ms`
    /// ran out); rejects with APPROVAL_DENIED when denied or timed out under "deny".
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_for_approval<'env>(
        &self,
        env: &'env Env,
        id: String,
        wait_ms: Option<i64>,
    ) -> napi::Result<Object<'env>> {
        let exec = self.inner.clone();
        spawn_wait(env, move || {
            Ok(json(
                &exec.wait_for_approval(&id, millis(wait_ms, "waitMs")?)?,
            ))
        })
    }
}

#[napi]
impl NativeEngine {
    /// Approvals in the store as a JSON array, newest first (pending only with
    /// `pending_only`; at most 1000).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn approvals_json(&self, pending_only: bool) -> AsyncTask<Job<String>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(serde_json::to_string(&engine.approvals(pending_only, 1_000)?).unwrap_or_default())
        }))
    }

    /// One approval as JSON; NOT_FOUND when there is none with that id.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn approval_json(&self, id: String) -> AsyncTask<Job<String>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || Ok(json(&engine.approval(&id)?))))
    }

    /// Approves (`approve` true) or denies a pending approval, with who decides (null: the
    /// engine's default, USER@host) and a note; resolves to the decided approval as JSON.
    /// CONFLICT when it was already decided, NOT_FOUND when there is none with that id.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn decide_approval(
        &self,
        id: String,
        approve: bool,
        by: Option<String>,
        note: Option<String>,
    ) -> AsyncTask<Job<String>> {
        let engine = self.inner.clone();
        AsyncTask::new(Job::new(move || {
            Ok(json(&engine.decide_approval(
                &id,
                approve,
                by.as_deref(),
                note.as_deref(),
            )?))
        }))
    }
}

//! Human approval gates: a workflow asks a person before a named step (or a costly call) and
//! waits. The pending approval lives in the store — what, why, the worst case, who asked — so
//! `wflo approve` from another process (or `wflo serve`) decides it, and a workflow whose
//! process ended finds it again by its gate when it resumes. Approved spend still goes
//! through the budget: approval only opens the gate.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::execution::Execution;
use crate::money::Nanos;
use crate::records::{ApprovalRecord, ApprovalStatus};
use crate::store::ApprovalDecision;

/// What an unanswered approval means when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    #[default]
    Deny,
    Approve,
}

impl OnTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Deny => "deny",
            OnTimeout::Approve => "approve",
        }
    }
}

/// The default wait for a decision: one hour.
pub const DEFAULT_APPROVAL_TIMEOUT_MS: u64 = 3_600_000;

/// A request for approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalRequest {
    /// The gate within the execution (a step's name): the same gate asked again — by a
    /// restarted workflow — finds the same approval.
    pub gate: String,
    /// What happens once approved (default: `run <gate>`).
    pub what: String,
    pub why: String,
    pub worst_case_nanos: Option<Nanos>,
    /// Who asks (default: this process, `host:pid`).
    pub requested_by: Option<String>,
    /// How long to wait for a decision, from when it was first asked (default one hour).
    pub timeout_ms: Option<u64>,
    pub on_timeout: OnTimeout,
}

impl Default for ApprovalRequest {
    fn default() -> Self {
        ApprovalRequest {
            gate: String::new(),
            what: String::new(),
            why: String::new(),
            worst_case_nanos: None,
            requested_by: None,
            timeout_ms: None,
            on_timeout: OnTimeout::Deny,
        }
    }
}

impl ApprovalRequest {
    /// A request from JSON (`{"gate": "publish", "why": "…", "timeout_ms": 60000}`), checked.
    pub fn from_json(json: &str) -> Result<ApprovalRequest> {
        let r: ApprovalRequest = serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("approval request: {e}")))?;
        r.check()?;
        Ok(r)
    }

    pub fn check(&self) -> Result<()> {
        if self.gate.is_empty() || self.gate.len() > 200 {
            return Err(Error::invalid("an approval gate is 1 to 200 bytes"));
        }
        for (what, text) in [
            ("gate", &self.gate),
            ("what", &self.what),
            ("why", &self.why),
        ] {
            crate::text::check(&format!("an approval's {what}"), text)?;
            if text.len() > 2_000 {
                return Err(Error::invalid(format!(
                    "an approval's {what} is at most 2000 bytes"
                )));
            }
        }
        Ok(())
    }
}

/// Who decides from this process when no name is given: `user@host`.
pub fn default_decider() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

impl Execution {
    /// Records a pending approval for `request.gate` (or finds the one this execution already
    /// has for that gate, decided or not) without waiting.
    pub fn request_approval(&self, request: &ApprovalRequest) -> Result<ApprovalRecord> {
        request.check()?;
        let engine = &self.inner.engine;
        engine.check_open()?;
        let now = engine.now_ms();
        let record = ApprovalRecord {
            id: format!("appr-{}", &crate::ids::new_reservation_id()?[..12]),
            execution_id: self.id().to_owned(),
            gate: request.gate.clone(),
            what: if request.what.is_empty() {
                format!("run {}", request.gate)
            } else {
                request.what.clone()
            },
            why: request.why.clone(),
            worst_case_nanos: request.worst_case_nanos,
            requested_by: request
                .requested_by
                .clone()
                .unwrap_or_else(|| engine.holder.clone()),
            on_timeout: request.on_timeout.as_str().to_owned(),
            status: ApprovalStatus::Pending,
            note: None,
            decided_by: None,
            created_at_ms: now,
            expires_at_ms: Some(
                now.saturating_add(request.timeout_ms.unwrap_or(DEFAULT_APPROVAL_TIMEOUT_MS)),
            ),
            decided_at_ms: None,
        };
        let stored = engine.store.create_approval(&record)?;
        if stored.id == record.id {
            crate::events::approval_requested(&stored.id, self.id(), &stored.gate);
        }
        Ok(stored)
    }

    /// Waits for approval `id` to be decided, polling the store (at most `wait_ms` of this
    /// call; `None`: until its timeout). Approved: the record. Denied, or expired under
    /// `on_timeout = deny`: `APPROVAL_DENIED`. Still pending when `wait_ms` ran out: the
    /// pending record (ask again later).
    pub fn wait_for_approval(&self, id: &str, wait_ms: Option<u64>) -> Result<ApprovalRecord> {
        let engine = &self.inner.engine;
        let started = engine.now_ms();
        let mut pause = 50u64;
        loop {
            let mut a = engine.store.approval(id)?;
            let now = engine.now_ms();
            if a.status == ApprovalStatus::Pending && a.expires_at_ms.is_some_and(|e| now >= e) {
                a = match engine.store.decide_approval(&ApprovalDecision {
                    id,
                    status: ApprovalStatus::Expired,
                    by: "timeout",
                    note: Some(&format!("no decision in time: {}", a.on_timeout)),
                    at_ms: now,
                }) {
                    Ok(a) => a,
                    // Decided by a person at the same moment: their decision stands.
                    Err(e) if e.code() == crate::ErrorCode::Conflict => {
                        engine.store.approval(id)?
                    }
                    Err(e) => return Err(e),
                };
            }
            match a.status {
                ApprovalStatus::Approved => return Ok(a),
                ApprovalStatus::Expired if a.on_timeout == OnTimeout::Approve.as_str() => {
                    return Ok(a);
                }
                ApprovalStatus::Denied | ApprovalStatus::Expired => {
                    return Err(Error::ApprovalDenied {
                        id: a.id,
                        gate: a.gate,
                        timed_out: a.status == ApprovalStatus::Expired,
                        by: a.decided_by,
                        note: a.note,
                    });
                }
                ApprovalStatus::Pending => {}
            }
            let waited = now.saturating_sub(started);
            if wait_ms.is_some_and(|w| waited >= w) {
                return Ok(a);
            }
            let mut sleep = pause;
            if let Some(w) = wait_ms {
                sleep = sleep.min(w - waited);
            }
            if let Some(e) = a.expires_at_ms {
                sleep = sleep.min(e.saturating_sub(now));
            }
            std::thread::sleep(Duration::from_millis(sleep.max(1)));
            pause = (pause * 2).min(1_000);
        }
    }

    /// [`Execution::request_approval`] then [`Execution::wait_for_approval`] until decided:
    /// returns once approved, fails with `APPROVAL_DENIED` when denied or timed out.
    pub fn require_approval(&self, request: &ApprovalRequest) -> Result<ApprovalRecord> {
        let a = self.request_approval(request)?;
        self.wait_for_approval(&a.id, None)
    }
}

/// How a reservation that meets an approval gate waits for the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApprovalWait {
    /// On the calling thread, until decided (Rust, C, Go, threads).
    #[default]
    Block,
    /// Not at all: the reservation fails with `APPROVAL_PENDING` naming the approval, and
    /// the caller waits for it off its thread and reserves again — for faces whose calls run
    /// on an event loop (Node), which must never block on a person.
    Return,
}

/// The approval gate of a call whose worst case passes the execution's threshold: the
/// decision must be given before the call reserves. Gates are numbered per execution
/// (`call #3 over $0.50`), counting from the decided ones it already has — so a resumed
/// execution finds a gate that was pending when its process ended, or one approved after it
/// ended (no call started since the approval). A gate still pending under
/// [`ApprovalWait::Return`] keeps its number: reserving again finds the same approval.
pub(crate) fn gate_call(
    exec: &std::sync::Arc<crate::execution::ExecutionInner>,
    model: &str,
    worst: Nanos,
    threshold: Nanos,
) -> Result<()> {
    let mut gated = exec.gated_calls.lock();
    let n = match *gated {
        Some(n) => n + 1,
        None => next_gate_from_store(exec)?,
    };
    let usd = crate::money::format_usd;
    let request = ApprovalRequest {
        gate: format!("call #{n} over ${}", usd(threshold)),
        what: format!("a {model} call that may cost up to ${}", usd(worst)),
        why: format!(
            "its worst case passes the execution's approval threshold of ${}",
            usd(threshold)
        ),
        worst_case_nanos: Some(worst),
        ..Default::default()
    };
    let execution = Execution {
        inner: exec.clone(),
    };
    let asked = execution.request_approval(&request)?;
    if exec.engine.approval_wait() == ApprovalWait::Return {
        // Decided already (or expired now)? Then as below; still pending: say so, keeping n.
        let now = execution.wait_for_approval(&asked.id, Some(0));
        if let Ok(a) = &now
            && a.status == ApprovalStatus::Pending
        {
            return Err(Error::ApprovalPending {
                id: a.id.clone(),
                gate: a.gate.clone(),
                what: a.what.clone(),
            });
        }
        *gated = Some(n);
        return now.map(drop);
    }
    // Waiting on this thread: other calls of the execution that meet a gate meanwhile take
    // the next numbers.
    *gated = Some(n);
    drop(gated);
    execution.wait_for_approval(&asked.id, None).map(drop)
}

/// The number of an execution's next call gate, from the approvals in the store: one past
/// the decided ones — or the latest decided one itself when it was approved and no call of
/// the execution started after that (its process ended between approval and call).
fn next_gate_from_store(exec: &crate::execution::ExecutionInner) -> Result<u64> {
    let decided: Vec<ApprovalRecord> = exec
        .engine
        .store
        .list_approvals(false, 100_000)?
        .into_iter()
        .filter(|a| {
            *a.execution_id == *exec.id
                && a.gate.starts_with("call #")
                && a.status != ApprovalStatus::Pending
        })
        .collect();
    // Listed newest first.
    let unused = match decided.first() {
        Some(a) if a.status == ApprovalStatus::Approved => {
            let given = a.decided_at_ms.unwrap_or(0);
            !exec
                .engine
                .store
                .list_calls(&exec.id)?
                .iter()
                .any(|c| c.started_at_ms >= given)
        }
        _ => false,
    };
    Ok(decided.len() as u64 + u64::from(!unused))
}

impl crate::Engine {
    /// How reservations that meet an execution's approval threshold wait for the decision
    /// (default [`ApprovalWait::Block`]); a face whose calls run on an event loop sets
    /// [`ApprovalWait::Return`] once, when it opens the engine.
    pub fn set_approval_wait(&self, wait: ApprovalWait) {
        self.inner.approval_returns.store(
            wait == ApprovalWait::Return,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Approvals in the store, newest first (only pending ones with `pending_only`).
    pub fn approvals(&self, pending_only: bool, limit: usize) -> Result<Vec<ApprovalRecord>> {
        self.inner.store.list_approvals(pending_only, limit)
    }

    /// One approval; `NOT_FOUND` when there is none with that id.
    pub fn approval(&self, id: &str) -> Result<ApprovalRecord> {
        self.inner.store.approval(id)
    }

    /// Approves (`approve` true) or denies a pending approval, with who decides (default
    /// [`default_decider`]) and a note. `CONFLICT` when it was already decided.
    pub fn decide_approval(
        &self,
        id: &str,
        approve: bool,
        by: Option<&str>,
        note: Option<&str>,
    ) -> Result<ApprovalRecord> {
        let by = by.map(str::to_owned).unwrap_or_else(default_decider);
        crate::text::check("who decides", &by)?;
        if let Some(n) = note {
            crate::text::check("an approval note", n)?;
        }
        let a = self.inner.store.decide_approval(&ApprovalDecision {
            id,
            status: if approve {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Denied
            },
            by: &by,
            note,
            at_ms: self.inner.now_ms(),
        })?;
        crate::events::approval_decided(&a.id, &a.execution_id, a.status.as_str(), &by);
        Ok(a)
    }
}

#[cfg(test)]
mod tests;

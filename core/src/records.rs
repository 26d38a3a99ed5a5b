//! The records an engine keeps: executions, calls, checkpoints, rollbacks, and the breakdown
//! derived from them. Plain data, serialisable as the JSON every face exchanges.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::{Nanos, nanos_to_usd};
use crate::usage::Usage;

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Completed,
    Failed,
    BudgetExceeded,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Completed => "completed",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::BudgetExceeded => "budget_exceeded",
        }
    }

    /// How an execution whose body has ended finishes — the one rule every face follows.
    /// `raised` is `None` when the body returned, else the wflo error codes found along the
    /// raised error's chain of causes (outermost first; empty for an error that is not
    /// wflo's): a budget refusal anywhere in the chain is `budget_exceeded` (an SDK or a
    /// framework that wrapped it does not hide it), any other error `failed`.
    pub fn after(raised: Option<&[crate::ErrorCode]>) -> ExecutionStatus {
        match raised {
            None => ExecutionStatus::Completed,
            Some(codes) if codes.contains(&crate::ErrorCode::BudgetExceeded) => {
                ExecutionStatus::BudgetExceeded
            }
            Some(_) => ExecutionStatus::Failed,
        }
    }

    pub fn from_name(name: &str) -> Result<ExecutionStatus> {
        match name {
            "running" => Ok(ExecutionStatus::Running),
            "completed" => Ok(ExecutionStatus::Completed),
            "failed" => Ok(ExecutionStatus::Failed),
            "budget_exceeded" => Ok(ExecutionStatus::BudgetExceeded),
            other => Err(Error::invalid(format!(
                "unknown execution status '{other}' (expected running, completed, failed or budget_exceeded)"
            ))),
        }
    }
}

/// How a tracked call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// The provider answered and its usage (or an estimate) was settled.
    Ok,
    /// The provider returned an error; whatever it reported was settled.
    Error,
    /// The budget refused the call before any request was sent.
    Refused,
    /// The caller gave up (a stream aborted, a reservation dropped unsettled).
    Aborted,
    /// Its process died (its lease on a shared reservation ended) before settling: the
    /// request may have been sent and billed, so the reservation's whole amount was charged
    /// as its cost. An operator who knows better credits the scope back.
    Unsettled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
            CallStatus::Refused => "refused",
            CallStatus::Aborted => "aborted",
            CallStatus::Unsettled => "unsettled",
        }
    }

    pub fn from_name(name: &str) -> Result<CallStatus> {
        match name {
            "ok" => Ok(CallStatus::Ok),
            "error" => Ok(CallStatus::Error),
            "refused" => Ok(CallStatus::Refused),
            "aborted" => Ok(CallStatus::Aborted),
            "unsettled" => Ok(CallStatus::Unsettled),
            other => Err(Error::invalid(format!(
                "unknown call status '{other}' (expected ok, error, refused, aborted or unsettled)"
            ))),
        }
    }
}

/// One execution as stored (the `workflow_executions` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub id: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub budget_nanos: Option<Nanos>,
    pub spent_nanos: Nanos,
    pub overrun_nanos: Nanos,
    pub calls: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    /// Calls whose worst case passes this many nano-USD wait for a person's approval (kept so
    /// a resumed execution gates as it did; absent from JSON when there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_above_nanos: Option<Nanos>,
    /// The most LLM calls the execution may make (absent from JSON when unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u64>,
    /// Each agent's own budget in nano-USD, by the agent's name (absent from JSON when none).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub agent_budgets: std::collections::BTreeMap<String, Nanos>,
}

/// One tracked LLM call. Prompt and completion text are never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub execution_id: Arc<str>,
    /// Order of the call within its execution, from 1.
    pub seq: u64,
    /// The scope or step label the call was made under (the execution's own calls: `""`).
    pub step: Arc<str>,
    pub provider: Arc<str>,
    /// The model name the caller asked for.
    pub requested_model: Arc<str>,
    /// The price-table entry it was priced as (`None` when no price was known and no budget
    /// required one).
    pub model: Option<Arc<str>>,
    pub usage: Usage,
    pub cost_nanos: Nanos,
    /// What was reserved for the call before it was made.
    pub reserved_nanos: Nanos,
    /// Cost beyond the reservation.
    pub overrun_nanos: Nanos,
    /// True when the usage is the tokenizer's estimate, not the provider's report.
    pub estimated: bool,
    /// True when a stream ended without the provider's usage.
    pub usage_missing: bool,
    pub stream: bool,
    pub status: CallStatus,
    /// For refused and failed calls: why.
    pub error: Option<String>,
    pub latency_ms: u64,
    pub started_at_ms: u64,
    pub finished_at_ms: u64,
    /// Which attempt of a retried call this is (1: the first, or a call never retried).
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// For a retry: why it was made (the retry decision's reason, from the failure before).
    #[serde(default)]
    pub retry_reason: Option<Arc<str>>,
}

fn first_attempt() -> u32 {
    1
}

/// A saved checkpoint, without its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    pub id: u64,
    pub execution_id: String,
    pub name: String,
    /// Order within the execution, from 1.
    pub sequence: u64,
    /// The checkpoint this one continued from (the previous live one when it was saved).
    pub parent_id: Option<u64>,
    /// The execution's spend when the checkpoint was saved.
    pub spent_nanos: Nanos,
    pub created_at_ms: u64,
    /// True once a rollback to an earlier checkpoint made this one history.
    pub superseded: bool,
    /// Size of the state as given (JSON text or binary bytes, before compression).
    pub state_bytes: u64,
    /// The content type of a binary state; `None` (and absent from JSON) for a JSON state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// A rollback, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRecord {
    pub execution_id: String,
    /// The checkpoint rolled back to (`None` once retention pruned it).
    pub checkpoint_id: Option<u64>,
    pub checkpoint_name: String,
    /// Checkpoints this rollback marked superseded.
    pub superseded: u64,
    pub spent_nanos: Nanos,
    pub at_ms: u64,
}

/// Cost of one model within an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCost {
    pub model: String,
    pub calls: u64,
    pub cost_nanos: Nanos,
    pub cost_usd: f64,
    pub usage: Usage,
}

/// Cost of one step or scope within an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepCost {
    pub step: String,
    pub calls: u64,
    pub refused: u64,
    pub cost_nanos: Nanos,
    pub cost_usd: f64,
    /// The scope's own limit, when it has one.
    pub budget_nanos: Option<Nanos>,
}

/// Where an execution's money went. Amounts in nano-USD, with USD floats beside them for
/// display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub execution_id: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub total_nanos: Nanos,
    pub budget_nanos: Option<Nanos>,
    pub reserved_nanos: Nanos,
    pub remaining_nanos: Option<Nanos>,
    pub overrun_nanos: Nanos,
    pub total_usd: f64,
    pub budget_usd: Option<f64>,
    pub reserved_usd: f64,
    pub remaining_usd: Option<f64>,
    pub calls: u64,
    pub refused_calls: u64,
    pub estimated_calls: u64,
    pub usage: Usage,
    pub by_model: Vec<ModelCost>,
    pub by_step: Vec<StepCost>,
    /// The prices of the engine that made this breakdown: the built-in table's source and
    /// date, and any price files loaded over it. (Each call keeps the cost it was recorded at.)
    #[serde(default)]
    pub price_table: String,
}

impl Breakdown {
    /// Fills the USD display fields from the nano-USD ones.
    pub(crate) fn with_usd(mut self) -> Breakdown {
        self.total_usd = nanos_to_usd(self.total_nanos);
        self.budget_usd = self.budget_nanos.map(nanos_to_usd);
        self.reserved_usd = nanos_to_usd(self.reserved_nanos);
        self.remaining_usd = self.remaining_nanos.map(nanos_to_usd);
        self
    }
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    /// Nobody decided in time; the gate applied its `on_timeout` rule.
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn from_name(name: &str) -> crate::Result<ApprovalStatus> {
        Ok(match name {
            "pending" => ApprovalStatus::Pending,
            "approved" => ApprovalStatus::Approved,
            "denied" => ApprovalStatus::Denied,
            "expired" => ApprovalStatus::Expired,
            other => {
                return Err(crate::Error::invalid(format!(
                    "an approval status is pending, approved, denied or expired, not {other:?}"
                )));
            }
        })
    }
}

/// One approval gate's record: what needs a person's decision, why, and the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub id: String,
    pub execution_id: String,
    /// The gate within the execution (a step name, or `call over $X #n`): the same gate of a
    /// restarted execution finds this record again.
    pub gate: String,
    /// What will happen once approved (`run step 'publish'`).
    pub what: String,
    /// Why it needs approval.
    pub why: String,
    /// The worst case of the spend behind the gate, when known.
    pub worst_case_nanos: Option<Nanos>,
    pub requested_by: String,
    /// `deny` (the default) or `approve`: what a timeout means.
    pub on_timeout: String,
    pub status: ApprovalStatus,
    pub note: Option<String>,
    pub decided_by: Option<String>,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    pub decided_at_ms: Option<u64>,
}

//! Records that cross the UniFFI boundary.

use wflo_core::Usage as CoreUsage;

/// Token usage in wflo's six disjoint fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct Usage {
    #[uniffi(default = 0)]
    pub input: u64,
    #[uniffi(default = 0)]
    pub output: u64,
    #[uniffi(default = 0)]
    pub cache_read: u64,
    #[uniffi(default = 0)]
    pub cache_write_5m: u64,
    #[uniffi(default = 0)]
    pub cache_write_1h: u64,
    #[uniffi(default = 0)]
    pub reasoning: u64,
}

impl From<Usage> for CoreUsage {
    fn from(u: Usage) -> Self {
        CoreUsage {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write_5m: u.cache_write_5m,
            cache_write_1h: u.cache_write_1h,
            reasoning: u.reasoning,
        }
    }
}

impl From<CoreUsage> for Usage {
    fn from(u: CoreUsage) -> Self {
        Usage {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write_5m: u.cache_write_5m,
            cache_write_1h: u.cache_write_1h,
            reasoning: u.reasoning,
        }
    }
}

/// A token count.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TokenCount {
    pub tokens: u64,
    pub encoding: String,
    /// True when the model's provider has no offline tokenizer and cl100k_base stood in.
    pub estimated: bool,
}

impl From<wflo_core::tokens::TokenCount> for TokenCount {
    fn from(c: wflo_core::tokens::TokenCount) -> Self {
        TokenCount {
            tokens: c.tokens,
            encoding: c.encoding.name().into(),
            estimated: c.estimated,
        }
    }
}

/// Whether a request writes its prompt to a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Enum)]
pub enum CacheWrite {
    #[default]
    None,
    FiveMinutes,
    OneHour,
}

/// What is known about a call before it is made.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CallRequest {
    pub model: String,
    #[uniffi(default = None)]
    pub provider: Option<String>,
    #[uniffi(default = 0)]
    pub input_tokens: u64,
    /// Whether `input_tokens` is an estimate; None: decided by the model's tokenizer.
    #[uniffi(default = None)]
    pub input_estimated: Option<bool>,
    /// The request's max_tokens; None: the model's maximum output.
    #[uniffi(default = None)]
    pub max_output_tokens: Option<u64>,
    #[uniffi(default = None)]
    pub cache_write: Option<CacheWrite>,
    #[uniffi(default = false)]
    pub stream: bool,
    /// Lower max_tokens to what the budget allows instead of refusing.
    #[uniffi(default = false)]
    pub clamp_max_tokens: bool,
}

/// What a settled (or recorded) call came to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Settled {
    pub seq: u64,
    pub cost_nanos: u64,
    pub reserved_nanos: u64,
    pub overrun_nanos: u64,
    pub estimated: bool,
    pub usage_missing: bool,
    pub usage: Usage,
}

impl From<&wflo_core::CallRecord> for Settled {
    fn from(r: &wflo_core::CallRecord) -> Self {
        Settled {
            seq: r.seq,
            cost_nanos: r.cost_nanos,
            reserved_nanos: r.reserved_nanos,
            overrun_nanos: r.overrun_nanos,
            estimated: r.estimated,
            usage_missing: r.usage_missing,
            usage: r.usage.into(),
        }
    }
}

/// How to start an execution, beside its name and budget.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct StartOptions {
    /// Use this id instead of a fresh one ("exec-" + 12 lower-case hex).
    #[uniffi(default = None)]
    pub id: Option<String>,
    /// Shared budgets (`define_shared_scope`) every call of the execution also draws from.
    #[uniffi(default = [])]
    pub shared_scopes: Vec<String>,
    /// The host's current span as a W3C `traceparent`: the execution joins that trace. None:
    /// a trace of its own.
    #[uniffi(default = None)]
    pub traceparent: Option<String>,
    /// Percents of each limited scope's budget at which an alert fires, once each, ascending
    /// (None: 50, 80 and 95; empty: no threshold alerts).
    #[uniffi(default = None)]
    pub alert_thresholds: Option<Vec<u32>>,
    /// A soft budget in nano-USD: reaching it fires an alert and refuses nothing.
    #[uniffi(default = None)]
    pub soft_budget_nanos: Option<u64>,
    /// Calls whose worst case passes this many nano-USD wait for a person's approval before
    /// they reserve (None: no such gate). Kept with the execution: a resumed one gates alike.
    #[uniffi(default = None)]
    pub approval_above_nanos: Option<u64>,
    /// The most LLM calls the execution may make (the original SDK's `max_iterations`); the
    /// next is refused with `CallLimit`. None: no cap.
    #[uniffi(default = None)]
    pub max_calls: Option<u64>,
    /// Each agent's own budget in nano-USD, by the name its framework gives the agent: calls
    /// reserved for that agent (request option `agent`) draw on its share.
    #[uniffi(default = None)]
    pub agent_budgets: Option<std::collections::HashMap<String, u64>>,
}

impl StartOptions {
    /// Core's options for an execution called `name` with `budget_nanos`.
    pub(crate) fn into_core(
        self,
        name: String,
        budget_nanos: Option<u64>,
    ) -> wflo_core::ExecutionOptions {
        wflo_core::ExecutionOptions {
            name,
            budget_nanos,
            id: self.id,
            shared_scopes: self.shared_scopes,
            traceparent: self.traceparent,
            alert_thresholds: self.alert_thresholds,
            soft_budget_nanos: self.soft_budget_nanos,
            approval_above_nanos: self.approval_above_nanos,
            max_calls: self.max_calls,
            agent_budgets: self.agent_budgets.unwrap_or_default().into_iter().collect(),
        }
    }
}

/// What `checkpoints_since` read: the checkpoints after a sequence, and the rollback count.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckpointsSinceJson {
    /// The checkpoints after the sequence asked for, in order, as a JSON array (the shape of
    /// `checkpoints_json`).
    pub checkpoints_json: String,
    /// How many rollbacks the execution has had (read before the checkpoints: a rollback made
    /// between the two reads is seen by the next call, never missed).
    pub rollbacks: u64,
}

/// What `checkpoints_since_with_state` read in one call: the checkpoints after a sequence, the
/// rollback count, and one checkpoint's state of either kind.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckpointsSinceWithStateJson {
    /// The checkpoints after the sequence asked for, in order, as a JSON array (the shape of
    /// `checkpoints_json`).
    pub checkpoints_json: String,
    /// How many rollbacks the execution has had.
    pub rollbacks: u64,
    /// The state of the checkpoint asked for, of either kind.
    pub state: CheckpointState,
}

/// A checkpoint state: JSON text, or bytes in the caller's format named by a content type.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CheckpointState {
    Json {
        text: String,
    },
    Binary {
        content_type: String,
        bytes: Vec<u8>,
    },
}

impl From<wflo_core::CheckpointState> for CheckpointState {
    fn from(s: wflo_core::CheckpointState) -> Self {
        match s {
            wflo_core::CheckpointState::Json(text) => CheckpointState::Json { text },
            wflo_core::CheckpointState::Binary {
                content_type,
                bytes,
            } => CheckpointState::Binary {
                content_type,
                bytes,
            },
        }
    }
}

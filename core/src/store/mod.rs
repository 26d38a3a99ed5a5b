//! Where records live. One trait; the engine never knows which database is behind it.
//!
//! - [`MemoryStore`]: everything in process memory (tests; programs that keep no history).
//! - [`SqliteStore`]: the default, an embedded SQLite file in WAL mode, safe for several
//!   processes on one machine.
//! - [`PostgresStore`]: PostgreSQL for fleets of workers sharing budgets.
//!
//! Call records are buffered and written in batches off the hot path (see [`CallWriter`]);
//! everything else is committed before the method returns.

pub(crate) mod allowance_sync;
pub(crate) mod approvals;
mod memory;
mod migrate;
mod period;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod state_codec;
mod url;
mod writer;

pub use allowance_sync::{AllowanceSync, AllowanceSynced};
pub use memory::MemoryStore;
pub use migrate::{Dialect, MIGRATIONS_POSTGRES, MIGRATIONS_SQLITE, Migration, SCHEMA_VERSION};
pub use period::Period;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore};
pub use state_codec::{CheckpointState, EncodedState, JsonText};
pub use url::{
    StoreUrl, Synchronous, default_sqlite_path, open_store, open_store_from_env, store_url_from_env,
};
pub use writer::{CallWriter, WriterOptions};

use crate::error::Result;
use crate::money::Nanos;
use crate::records::{ApprovalRecord, CallRecord, CheckpointInfo, ExecutionRecord, RollbackRecord};

/// An execution's agent budgets as its row keeps them: a JSON object, or NULL when none.
pub(crate) fn agent_budgets_json(
    budgets: &std::collections::BTreeMap<String, Nanos>,
) -> Option<String> {
    (!budgets.is_empty()).then(|| serde_json::to_string(budgets).unwrap_or_default())
}

/// The agent budgets a row keeps (NULL: none).
pub(crate) fn agent_budgets_from_json(
    json: Option<&str>,
) -> Result<std::collections::BTreeMap<String, Nanos>> {
    match json {
        None => Ok(Default::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            crate::Error::Storage(format!("an execution's agent budgets are unreadable: {e}"))
        }),
    }
}

/// A checkpoint to save.
#[derive(Debug, Clone)]
pub struct NewCheckpoint<'a> {
    pub execution_id: &'a str,
    pub name: &'a str,
    /// The state, checked and encoded (see [`state_codec::prepare`] and [`state_codec::prepare_text`]).
    pub state: &'a EncodedState<'a>,
    pub spent_nanos: Nanos,
    pub created_at_ms: u64,
}

/// The result of a rollback.
#[derive(Debug, Clone)]
pub struct RolledBack {
    pub checkpoint: CheckpointInfo,
    pub state: CheckpointState,
    pub rollback: RollbackRecord,
}

/// What a reader keeping its own index of an execution's checkpoints reads on each use
/// ([`Store::checkpoints_since`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointsSince {
    /// The checkpoints after the sequence asked for, in order, superseded ones included.
    pub checkpoints: Vec<CheckpointInfo>,
    /// How many rollbacks the execution has had: when it grew, older checkpoints changed.
    pub rollbacks: u64,
    /// The state of the checkpoint asked for, when one was.
    pub state: Option<CheckpointState>,
    /// The store's version this was read at, when the store has one (SQLite: the file's data
    /// version, which every commit changes): given back as [`KnownSince`], it lets the store
    /// answer "nothing changed" without reading the list.
    pub version: Option<u64>,
}

/// An execution's checkpoints whose names start with one of some prefixes: a reader's index of
/// part of the execution (one LangGraph thread's records), read without the rest.
#[derive(Debug, Clone, Default)]
pub struct CheckpointsNamed {
    /// Those checkpoints in order, superseded ones included. A store may list others too (a
    /// reader filters); never fewer.
    pub checkpoints: Vec<NamedCheckpoint>,
    /// How many rollbacks the execution has had, read after the list (as [`CheckpointsSince`]).
    pub rollbacks: u64,
    /// The execution's last sequence, of every checkpoint, read before the list: what the
    /// reader asks [`Store::checkpoints_since`] after, from then on.
    pub last_sequence: u64,
    /// The store's version the list was read at, as [`CheckpointsSince::version`].
    pub version: Option<u64>,
}

/// A checkpoint as a reader indexing names sees it ([`CheckpointsNamed`]): what tells the
/// checkpoints apart and orders them, without the rest of a [`CheckpointInfo`] — so SQLite
/// answers from the partial index of the LangGraph saver's names alone (migration 0018),
/// without reading each checkpoint's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCheckpoint {
    pub id: u64,
    pub name: String,
    pub sequence: u64,
    pub superseded: bool,
}

impl From<CheckpointInfo> for NamedCheckpoint {
    fn from(c: CheckpointInfo) -> NamedCheckpoint {
        NamedCheckpoint {
            id: c.id,
            name: c.name,
            sequence: c.sequence,
            superseded: c.superseded,
        }
    }
}

/// The end of the range of names starting with `prefix` in byte order (as SQLite compares text,
/// and PostgreSQL under `COLLATE "C"`), when the prefix is one of the LangGraph saver's names
/// (`langgraph-…`, `langgraph/…`: inside the partial index of migration 0016) and ends in an
/// ASCII character below DEL; else `None` (the store compares every name of the execution).
pub(crate) fn langgraph_name_range(prefix: &str) -> Option<String> {
    let theirs = ["langgraph-", "langgraph/", "langgraph."]
        .iter()
        .any(|p| prefix.starts_with(p));
    let last = *prefix.as_bytes().last()?;
    if !theirs || last >= 0x7F {
        return None;
    }
    let mut end = prefix[..prefix.len() - 1].to_owned();
    end.push(char::from(last + 1));
    Some(end)
}

/// What a reader learnt from its last [`CheckpointsSince`]: when the store is still at that
/// version, nothing was committed since, and the store answers no checkpoints and this
/// rollback count without reading them (a load then costs its state's read alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownSince {
    pub version: u64,
    pub rollbacks: u64,
}

/// A shared budget scope as its owner defines it: a name, a limit, and the period the limit
/// applies to (the whole life of the scope, each UTC day, or each UTC month).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedScopeDef {
    pub name: String,
    pub limit_nanos: Option<Nanos>,
    pub period: Period,
    /// Whether processes serve its reservations from local allowances or book each call in
    /// the store (strict fairness, a store transaction per call). `None`: as the scope already
    /// is — the store keeps the setting in the same statement that writes the rest, so two
    /// processes defining one scope at once cannot undo each other's choice; a new scope is
    /// served from allowances.
    #[serde(default)]
    pub allowances: Option<bool>,
}

/// The figures of a shared scope's current period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedScopeFigures {
    pub name: String,
    /// The row the figures belong to: the name, or `name@YYYY-MM-DD` / `name@YYYY-MM`.
    pub key: String,
    pub period: Period,
    pub limit_nanos: Option<Nanos>,
    pub spent_nanos: Nanos,
    pub reserved_nanos: Nanos,
    pub overrun_nanos: Nanos,
    pub refusing: bool,
    /// Whether the scope is served from allowances ([`SharedScopeDef::allowances`]).
    #[serde(default = "allowances_on")]
    pub allowances: bool,
    /// Of `reserved_nanos`, what processes hold as allowances, and how many hold one.
    #[serde(default)]
    pub allowance_nanos: Nanos,
    #[serde(default)]
    pub allowance_holders: u64,
}

fn allowances_on() -> bool {
    true
}

/// A reservation against shared scopes, booked in ONE transaction on all of them or on none.
#[derive(Debug, Clone)]
pub struct SharedReserve<'a> {
    /// A unique id chosen by the caller.
    pub id: &'a str,
    /// Names of the shared scopes (defined earlier with [`Store::define_shared_scope`]).
    pub scopes: &'a [String],
    pub amount_nanos: Nanos,
    /// Who holds it (`host:pid`), for operators reading the table.
    pub holder: &'a str,
    pub execution_id: Option<&'a str>,
    pub now_ms: u64,
    pub lease_until_ms: u64,
}

/// A shared reservation whose lease ended before it was settled or released (its holder died
/// or hung), charged by [`Store::reclaim_expired_shared`]: the request may have been sent and
/// billed, so its whole amount became spent on every scope it was booked on — never returned
/// to the headroom, where later calls could overspend the real money.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChargedReservation {
    pub id: String,
    pub holder: String,
    pub execution_id: Option<String>,
    /// The period keys it was booked on (each charged the amount).
    pub keys: Vec<String>,
    pub amount_nanos: Nanos,
    /// The `unsettled` call recorded in its execution (`None` when the reservation named no
    /// execution the store keeps).
    pub call: Option<CallRecord>,
}

/// The call record of a charged reservation: status `unsettled`, its amount as its cost. What
/// was asked of which model is not kept with a reservation, so the model reads `(unknown)`.
pub(crate) fn unsettled_call(
    execution_id: &str,
    reservation_id: &str,
    holder: &str,
    amount: Nanos,
    created_at_ms: u64,
    now_ms: u64,
) -> CallRecord {
    CallRecord {
        execution_id: execution_id.into(),
        seq: 0,
        step: "".into(),
        provider: "".into(),
        requested_model: UNSETTLED_MODEL.into(),
        model: None,
        usage: crate::usage::Usage::default(),
        cost_nanos: amount,
        reserved_nanos: amount,
        overrun_nanos: 0,
        estimated: false,
        usage_missing: true,
        stream: false,
        status: crate::records::CallStatus::Unsettled,
        error: Some(if reservation_id.starts_with(ALLOWANCE_ID_PREFIX) {
            format!(
                "the lease of {holder} ended with its allowance {reservation_id} unreturned: all of it \
                 is charged, as any part may have paid for calls sent and billed (an operator may \
                 credit it back)"
            )
        } else {
            format!(
                "the lease of {holder} ended with shared reservation {reservation_id} unsettled: its \
                 amount is charged, as the request may have been billed (an operator may credit it back)"
            )
        }),
        latency_ms: now_ms.saturating_sub(created_at_ms),
        started_at_ms: created_at_ms,
        finished_at_ms: now_ms,
        attempt: 1,
        retry_reason: None,
    }
}

/// How an allowance's reservation id begins (the engine names them `allowance:…`).
pub(crate) const ALLOWANCE_ID_PREFIX: &str = "allowance:";

/// The model name an `unsettled` call is recorded under.
pub const UNSETTLED_MODEL: &str = "(unknown)";

/// An operator's credit to a shared scope (see [`Store::credit_shared`]).
#[derive(Debug, Clone)]
pub struct CreditShared<'a> {
    pub name: &'a str,
    pub amount_nanos: Nanos,
    pub by: &'a str,
    pub reason: &'a str,
    pub now_ms: u64,
}

/// A credit as recorded: who gave back how much of which period's spend, when and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedCredit {
    pub id: u64,
    pub name: String,
    /// The period row credited.
    pub key: String,
    pub amount_nanos: Nanos,
    pub by: String,
    pub reason: String,
    pub at_ms: u64,
}

/// Checks a credit before any store applies it: a positive amount, who, and why.
pub(crate) fn check_credit(c: &CreditShared<'_>) -> Result<()> {
    if c.amount_nanos == 0 {
        return Err(crate::Error::invalid("a credit must be more than $0"));
    }
    if c.by.trim().is_empty() || c.reason.trim().is_empty() {
        return Err(crate::Error::invalid(
            "a credit records who gives it and why: both are required",
        ));
    }
    Ok(())
}

/// `NOT_FOUND` for a shared scope nobody defined (every store says it the same way).
pub(crate) fn undefined_scope(name: &str) -> crate::Error {
    crate::Error::NotFound(format!("shared budget scope '{name}' is not defined"))
}

/// The refusal of a credit larger than the period's spend.
pub(crate) fn credit_too_large(key: &str, amount: Nanos, spent: Nanos) -> crate::Error {
    crate::Error::invalid(format!(
        "a credit of ${} is more than the ${} spent on '{key}'",
        crate::money::format_usd(amount),
        crate::money::format_usd(spent)
    ))
}

/// A request for a slot of a named resource (see [`Store::try_acquire`]).
#[derive(Debug, Clone)]
pub struct Acquire<'a> {
    pub resource: &'a str,
    pub max_concurrent: u32,
    /// The new hold's id (unique).
    pub hold_id: &'a str,
    /// Who holds it (`host:pid`).
    pub holder: &'a str,
    /// The workflow (execution) it is held for, as the caller names it.
    pub workflow_id: &'a str,
    pub now_ms: u64,
    pub lease_until_ms: u64,
    /// How long the acquirer has waited so far, and whether that wait counts as contention:
    /// booked in the statistics when this attempt is granted.
    pub waited_ms: u64,
    pub contended: bool,
}

/// A decision on a pending approval (see [`Store::decide_approval`]).
#[derive(Debug, Clone)]
pub struct ApprovalDecision<'a> {
    pub id: &'a str,
    pub status: crate::records::ApprovalStatus,
    pub by: &'a str,
    pub note: Option<&'a str>,
    pub at_ms: u64,
}

/// A shared circuit breaker as the store keeps it: its machine (JSON) and the settings of the
/// process that last stepped it (for pages that show it without settings of their own).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SharedBreakerRow {
    pub name: String,
    pub state_json: String,
    pub config_json: String,
    pub updated_at_ms: u64,
    pub updated_by: String,
}

/// Which recorded breaker changes to list (see [`Store::breaker_transitions`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct TransitionQuery<'a> {
    /// One breaker's, or every breaker's.
    pub breaker: Option<&'a str>,
    /// Changes at or after this time…
    pub since_ms: Option<u64>,
    /// …and at or before this one.
    pub until_ms: Option<u64>,
    /// The latest this many (0: none).
    pub limit: usize,
}

impl TransitionQuery<'_> {
    /// Whether `t` is one of the changes asked for (the limit aside).
    pub fn matches(&self, t: &crate::resilience::Transition) -> bool {
        self.breaker.is_none_or(|b| b == t.breaker)
            && self.since_ms.is_none_or(|s| t.at_ms >= s)
            && self.until_ms.is_none_or(|u| t.at_ms <= u)
    }
}

/// How many changes of state a store keeps per breaker (older ones are dropped).
pub const STORED_TRANSITIONS: usize = 500;

/// One current holder of a resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceHolder {
    pub hold_id: String,
    pub holder: String,
    pub workflow_id: String,
    pub acquired_at_ms: u64,
    pub lease_until_ms: u64,
}

/// A resource's statistics and current holders, as the store keeps them for every process.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResourceFigures {
    pub resource: String,
    pub acquisitions: u64,
    /// Acquisitions and timeouts whose wait passed the contention threshold.
    pub contentions: u64,
    pub timeouts: u64,
    /// Summed over granted acquisitions.
    pub total_wait_ms: u64,
    pub max_wait_ms: u64,
    /// Holders whose lease has not ended, oldest first.
    pub holders: Vec<ResourceHolder>,
}

/// Persistence of executions, calls, checkpoints and shared budgets. Implementations are
/// thread-safe, and every method that returns `Ok` has committed its change, except
/// [`Store::append_calls`], which may buffer until [`Store::flush`].
pub trait Store: Send + Sync {
    /// A short name (`memory`, `sqlite`, `postgres`) for messages and reports.
    fn kind(&self) -> &'static str;

    /// When this store keeps a large checkpoint state compressed (where compressing pays).
    fn state_compression(&self) -> state_codec::Compression {
        state_codec::Compression::WhenSmaller
    }

    /// Stores a new execution; `CONFLICT` when the id exists.
    fn create_execution(&self, record: &ExecutionRecord) -> Result<()>;
    /// Writes an execution's status, budget, overrun and times. Its spend and call count are
    /// kept by the store itself as call records arrive, so they always match the calls.
    fn update_execution(&self, record: &ExecutionRecord) -> Result<()>;
    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>>;
    /// The most recent executions first.
    fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>>;

    /// Appends call records (may be buffered until [`Store::flush`]).
    fn append_calls(&self, calls: Vec<CallRecord>) -> Result<()>;
    /// An execution's calls in order (buffered ones included).
    fn list_calls(&self, execution_id: &str) -> Result<Vec<CallRecord>>;

    /// Saves a checkpoint — assigning its id, sequence and parent — together with the buffered
    /// call records and the execution's row, in one transaction committed before it returns.
    fn save_checkpoint(
        &self,
        checkpoint: NewCheckpoint<'_>,
        execution: Option<&ExecutionRecord>,
    ) -> Result<CheckpointInfo>;
    /// An execution's checkpoints in sequence order, superseded ones included.
    fn list_checkpoints(&self, execution_id: &str) -> Result<Vec<CheckpointInfo>> {
        self.list_checkpoints_after(execution_id, 0)
    }
    /// An execution's checkpoints after sequence `after_sequence`, in order: what was saved
    /// since a reader last looked, without reading the rest.
    fn list_checkpoints_after(
        &self,
        execution_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<CheckpointInfo>>;
    /// One checkpoint's state; `NOT_FOUND` when there is none with that id.
    fn checkpoint_state(&self, execution_id: &str, checkpoint_id: u64) -> Result<CheckpointState>;
    /// Rolls back to the latest live checkpoint called `name`: marks later live checkpoints
    /// superseded, records the rollback, returns the state. `NOT_FOUND` when no live
    /// checkpoint has that name. With `json_only`, a binary state is refused
    /// (`INVALID_ARGUMENT`) before anything is marked or recorded.
    fn rollback(
        &self,
        execution_id: &str,
        name: &str,
        spent_nanos: Nanos,
        at_ms: u64,
        json_only: bool,
    ) -> Result<RolledBack>;
    /// An execution's rollbacks in order.
    fn list_rollbacks(&self, execution_id: &str) -> Result<Vec<RollbackRecord>>;
    /// How many rollbacks an execution has had (a reader of checkpoints asks it on every read
    /// to learn whether older checkpoints changed; stores count without reading the records).
    fn rollback_count(&self, execution_id: &str) -> Result<u64> {
        Ok(self.list_rollbacks(execution_id)?.len() as u64)
    }
    /// The checkpoints after `after_sequence`, the rollback count and, with `state_of`, that
    /// checkpoint's state (`NOT_FOUND` when the execution has no such checkpoint): what a
    /// reader keeping an index reads on every use. This default (the memory store) reads the
    /// list before the count, so a rollback made in between shows as a changed count and the
    /// reader reads everything again at once, never keeping a stale list under a current
    /// count; a state never changes, so when it is read does not matter. SQLite answers it in
    /// one read transaction (one snapshot, and ~1 µs faster from Python than three autocommit
    /// reads), PostgreSQL in one statement (one round trip instead of three). `known`: what the
    /// reader read last; a store with versions (SQLite) skips the list and the count when its
    /// version is still `known`'s. The others read them every time (their answer has no version).
    fn checkpoints_since(
        &self,
        execution_id: &str,
        after_sequence: u64,
        state_of: Option<u64>,
        _known: Option<KnownSince>,
    ) -> Result<CheckpointsSince> {
        let state = state_of
            .map(|id| self.checkpoint_state(execution_id, id))
            .transpose()?;
        let checkpoints = self.list_checkpoints_after(execution_id, after_sequence)?;
        let rollbacks = self.rollback_count(execution_id)?;
        Ok(CheckpointsSince {
            checkpoints,
            rollbacks,
            state,
            version: None,
        })
    }
    /// The checkpoints of an execution whose names start with one of `prefixes`, for a reader
    /// indexing part of an execution ([`CheckpointsNamed`]). This default (the memory store)
    /// reads every checkpoint and keeps the named ones; SQLite reads them in one read
    /// transaction, PostgreSQL in one statement.
    fn checkpoints_named(
        &self,
        execution_id: &str,
        prefixes: &[String],
    ) -> Result<CheckpointsNamed> {
        let all = self.list_checkpoints_after(execution_id, 0)?;
        let last_sequence = all.iter().map(|c| c.sequence).max().unwrap_or(0);
        let checkpoints = all
            .into_iter()
            .filter(|c| prefixes.iter().any(|p| c.name.starts_with(p.as_str())))
            .map(NamedCheckpoint::from)
            .collect();
        Ok(CheckpointsNamed {
            checkpoints,
            rollbacks: self.rollback_count(execution_id)?,
            last_sequence,
            version: None,
        })
    }
    /// Deletes all but the newest `keep_last` checkpoints of an execution; returns how many
    /// were deleted.
    fn prune_checkpoints(&self, execution_id: &str, keep_last: usize) -> Result<u64>;

    /// Creates or changes a shared scope.
    fn define_shared_scope(&self, def: &SharedScopeDef, now_ms: u64) -> Result<()>;
    /// The figures of a shared scope's current period; `NOT_FOUND` when it is not defined.
    fn shared_scope(&self, name: &str, now_ms: u64) -> Result<SharedScopeFigures>;
    /// The names of every defined shared scope, in name order.
    fn shared_scope_names(&self) -> Result<Vec<String>>;
    /// Reserves on every named scope at once, after reclaiming their expired leases; returns
    /// the period keys booked. `BUDGET_EXCEEDED` (nothing booked) when any scope would pass its
    /// limit; `NOT_FOUND` when a scope is not defined.
    fn reserve_shared(&self, reserve: &SharedReserve<'_>) -> Result<Vec<String>>;
    /// Settles a reservation: its held amount is released and `actual` booked as spend on
    /// every key. Spend beyond the held amount (or on a reservation already reclaimed) is an
    /// overrun that makes the scope refuse further reservations. Returns the largest overrun.
    fn settle_shared(
        &self,
        id: &str,
        keys: &[String],
        actual_nanos: Nanos,
        now_ms: u64,
    ) -> Result<Nanos>;
    /// Releases a reservation without spend.
    fn release_shared(&self, id: &str) -> Result<()>;
    /// Applies one holder's allowance sync atomically (one statement on PostgreSQL), after
    /// charging the expired leases on its period row, by the one rule
    /// in `store/allowance_sync.rs`; extends the allowance's lease. `NOT_FOUND` when the scope is not
    /// defined. A request with a `seq` already applied is answered as it was then.
    fn sync_allowance(&self, sync: &AllowanceSync<'_>) -> Result<AllowanceSynced>;
    /// Extends a reservation's lease; false when it was already reclaimed.
    fn renew_shared(&self, id: &str, lease_until_ms: u64) -> Result<bool>;
    /// Charges every reservation whose lease ended (a dead holder's): its amount becomes
    /// spent on each of its scopes and an `unsettled` call of that cost is recorded in its
    /// execution — never returned to the headroom. Reservations charge the expired leases of
    /// the scopes they touch in the same way. Returns what was charged.
    fn reclaim_expired_shared(&self, now_ms: u64) -> Result<Vec<ChargedReservation>>;
    /// Lowers the spend of a shared scope's current period by an operator's credit, recording
    /// who, why, when and how much. `INVALID` when the amount is 0, more than the period's
    /// spend, or who or why is missing; `NOT_FOUND` when the scope is not defined.
    fn credit_shared(&self, credit: &CreditShared<'_>) -> Result<SharedCredit>;
    /// A shared scope's credits, oldest first (every period).
    fn shared_credits(&self, name: &str) -> Result<Vec<SharedCredit>>;
    /// The distinct holders of unexpired reservations on a shared scope's current period, in
    /// name order.
    fn shared_scope_holders(&self, name: &str, now_ms: u64) -> Result<Vec<String>>;

    /// Takes a slot of a resource when fewer than `max_concurrent` unexpired holds exist
    /// (expired ones are removed first: a crashed holder frees its slot when its lease ends),
    /// booking the acquisition and its wait in the statistics, atomically for every process.
    /// `None`: granted; `Some(holders)`: busy, with who holds it now.
    fn try_acquire(&self, a: &Acquire<'_>) -> Result<Option<Vec<ResourceHolder>>>;
    /// Gives a hold back; false when it was not held (released, or expired and taken).
    fn release_resource(&self, hold_id: &str) -> Result<bool>;
    /// Extends a hold's lease; false when it had already expired and been removed.
    fn renew_resource(&self, hold_id: &str, lease_until_ms: u64) -> Result<bool>;
    /// Counts an acquisition that gave up waiting (and as contention when `contended`).
    fn record_resource_timeout(&self, resource: &str, contended: bool) -> Result<()>;
    /// A resource's statistics and unexpired holders.
    fn resource_figures(&self, resource: &str, now_ms: u64) -> Result<ResourceFigures>;
    /// Zeroes a resource's statistics (its holds stay).
    fn reset_resource_stats(&self, resource: &str) -> Result<()>;

    /// Stores a new pending approval — or, when the execution already has one for the same
    /// gate (a restarted workflow asking again), returns that one unchanged.
    fn create_approval(&self, approval: &ApprovalRecord) -> Result<ApprovalRecord>;
    /// One approval; `NOT_FOUND` when there is none with that id.
    fn approval(&self, id: &str) -> Result<ApprovalRecord>;
    /// Approvals, newest first: only pending ones with `pending_only`.
    fn list_approvals(&self, pending_only: bool, limit: usize) -> Result<Vec<ApprovalRecord>>;
    /// Decides a pending approval (approved, denied or expired) with who and why; `CONFLICT`
    /// when it was already decided, `NOT_FOUND` when there is none with that id.
    fn decide_approval(&self, decision: &ApprovalDecision<'_>) -> Result<ApprovalRecord>;

    /// Steps the shared breaker `step.name` inside one transaction with the engine's rule
    /// ([`crate::resilience::breaker::machine::step_stored`]): reads its machine, writes it
    /// back when it changed, and records a change of state (keeping the latest
    /// [`STORED_TRANSITIONS`]).
    fn step_breaker(
        &self,
        step: &crate::resilience::breaker::machine::BreakerStep<'_>,
    ) -> Result<crate::resilience::breaker::machine::StoredStep>;
    /// A shared breaker's stored machine, if it was ever used.
    fn shared_breaker(&self, name: &str) -> Result<Option<SharedBreakerRow>>;
    /// Every shared breaker, by name.
    fn shared_breakers(&self) -> Result<Vec<SharedBreakerRow>>;
    /// Records a change of state of a breaker kept in one process's memory.
    fn record_breaker_transition(&self, t: &crate::resilience::Transition) -> Result<()>;
    /// The latest `q.limit` recorded changes matching `q`, oldest first.
    fn breaker_transitions(
        &self,
        q: &TransitionQuery<'_>,
    ) -> Result<Vec<crate::resilience::Transition>>;

    /// Makes everything appended so far durable.
    fn flush(&self) -> Result<()>;

    /// Fails with STORAGE while call records wait in a full queue for a store that is not
    /// taking them: new calls are refused then (the default: a store without a queue).
    fn check_accepting(&self) -> Result<()> {
        Ok(())
    }
    /// Flushes and releases the store; later calls fail with `CLOSED`. Closing twice is fine.
    fn close(&self) -> Result<()>;
}

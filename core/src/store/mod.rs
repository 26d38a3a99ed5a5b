//! Where records live. One trait; the engine never knows which database is behind it.
//!
//! Implementations: [`MemoryStore`] here (tests, and programs that want nothing on disk);
//! SQLite and PostgreSQL in their own modules.

mod memory;

pub use memory::MemoryStore;

use crate::error::Result;
use crate::records::{CallRecord, CheckpointInfo, ExecutionRecord, RollbackRecord};

/// A checkpoint to save.
#[derive(Debug, Clone)]
pub struct NewCheckpoint<'a> {
    pub execution_id: &'a str,
    pub name: &'a str,
    /// The state as JSON text (already validated by the engine).
    pub state: &'a str,
    pub spent_nanos: u64,
    pub created_at_ms: u64,
}

/// The result of a rollback.
#[derive(Debug, Clone)]
pub struct RolledBack {
    pub checkpoint: CheckpointInfo,
    pub state: String,
    pub rollback: RollbackRecord,
}

/// Persistence of executions, calls and checkpoints. Implementations are thread-safe and make
/// every method that returns `Ok` durable to the degree the store promises (see each
/// implementation), except `append_calls`, which may buffer until `flush`.
pub trait Store: Send + Sync {
    /// A short name (`memory`, `sqlite`, `postgres`) for messages and reports.
    fn kind(&self) -> &'static str;

    /// Stores a new execution; `CONFLICT` when the id exists.
    fn create_execution(&self, record: &ExecutionRecord) -> Result<()>;
    /// Replaces an execution's mutable fields (status, spend, counts, times).
    fn update_execution(&self, record: &ExecutionRecord) -> Result<()>;
    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>>;
    /// The most recent executions first.
    fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>>;

    /// Appends call records (may be buffered until [`Store::flush`]).
    fn append_calls(&self, calls: Vec<CallRecord>) -> Result<()>;
    /// An execution's calls in order.
    fn list_calls(&self, execution_id: &str) -> Result<Vec<CallRecord>>;

    /// Saves a checkpoint, assigning its id, sequence and parent atomically; committed before
    /// it returns.
    fn save_checkpoint(&self, checkpoint: NewCheckpoint<'_>) -> Result<CheckpointInfo>;
    /// An execution's checkpoints in sequence order, superseded ones included.
    fn list_checkpoints(&self, execution_id: &str) -> Result<Vec<CheckpointInfo>>;
    /// One checkpoint's state; `NOT_FOUND` when there is none with that id.
    fn checkpoint_state(&self, execution_id: &str, checkpoint_id: u64) -> Result<String>;
    /// Rolls back to the latest live checkpoint called `name`: marks later live checkpoints
    /// superseded, records the rollback, returns the state. `NOT_FOUND` when no live
    /// checkpoint has that name.
    fn rollback(
        &self,
        execution_id: &str,
        name: &str,
        spent_nanos: u64,
        at_ms: u64,
    ) -> Result<RolledBack>;
    /// An execution's rollbacks in order.
    fn list_rollbacks(&self, execution_id: &str) -> Result<Vec<RollbackRecord>>;
    /// Deletes all but the newest `keep_last` checkpoints of an execution; returns how many
    /// were deleted.
    fn prune_checkpoints(&self, execution_id: &str, keep_last: usize) -> Result<u64>;

    /// Makes everything appended so far durable.
    fn flush(&self) -> Result<()>;
    /// Flushes and releases the store; later calls fail with `CLOSED`.
    fn close(&self) -> Result<()>;
}

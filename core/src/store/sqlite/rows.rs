//! Rows ↔ records for the SQLite store. Integers are stored as SQLite INTEGER (i64); every
//! amount the engine produces fits (see `money::MAX_NANOS`).

use std::sync::Arc;

use rusqlite::{Row, ToSql};

use crate::records::{
    CallRecord, CallStatus, CheckpointInfo, ExecutionRecord, ExecutionStatus, RollbackRecord,
};
use crate::usage::Usage;

pub const SELECT_EXECUTION: &str = "SELECT id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls, \
     created_at_ms, updated_at_ms, finished_at_ms, approval_above_nanos, max_calls, agent_budgets_json \
     FROM workflow_executions";

pub const SELECT_CHECKPOINT: &str = "SELECT id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, \
     superseded, state_bytes, state_type FROM checkpoints";

pub const SELECT_CALL: &str = "SELECT execution_id, seq, step, provider, requested_model, model, input_tokens, \
     output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, cost_nanos, \
     reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, started_at_ms, \
     finished_at_ms, attempt, retry_reason FROM llm_calls";

pub const INSERT_CALL: &str = "INSERT INTO llm_calls (execution_id, seq, step, provider, requested_model, model, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, \
     cost_nanos, reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, \
     started_at_ms, finished_at_ms, attempt, retry_reason) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, \
     ?24, ?25) \
     ON CONFLICT (execution_id, seq) DO NOTHING";

/// The same insert with the next free sequence number of the execution (`?2` is 0).
pub const INSERT_CALL_NEXT_SEQ: &str = "INSERT INTO llm_calls (execution_id, seq, step, provider, requested_model, \
     model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, \
     reasoning_tokens, cost_nanos, reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, \
     latency_ms, started_at_ms, finished_at_ms, attempt, retry_reason) \
     SELECT ?1, COALESCE(MAX(seq), 0) + 1 + ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25 FROM llm_calls WHERE execution_id = ?1";

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

/// Parameters of an insert; `seq` is the sequence to use (0 with `INSERT_CALL_NEXT_SEQ`).
pub fn call_params(c: &CallRecord, seq: i64) -> Vec<Box<dyn ToSql + '_>> {
    vec![
        Box::new(&*c.execution_id),
        Box::new(seq),
        Box::new(&*c.step),
        Box::new(&*c.provider),
        Box::new(&*c.requested_model),
        Box::new(c.model.as_deref()),
        Box::new(i(c.usage.input)),
        Box::new(i(c.usage.output)),
        Box::new(i(c.usage.cache_read)),
        Box::new(i(c.usage.cache_write_5m)),
        Box::new(i(c.usage.cache_write_1h)),
        Box::new(i(c.usage.reasoning)),
        Box::new(i(c.cost_nanos)),
        Box::new(i(c.reserved_nanos)),
        Box::new(i(c.overrun_nanos)),
        Box::new(c.estimated),
        Box::new(c.usage_missing),
        Box::new(c.stream),
        Box::new(c.status.as_str()),
        Box::new(c.error.as_deref()),
        Box::new(i(c.latency_ms)),
        Box::new(i(c.started_at_ms)),
        Box::new(i(c.finished_at_ms)),
        Box::new(c.attempt),
        Box::new(c.retry_reason.as_deref()),
    ]
}

fn bad(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
}

pub fn execution(r: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    let status: String = r.get(2)?;
    Ok(ExecutionRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        status: ExecutionStatus::from_name(&status).map_err(|e| bad(2, e.to_string()))?,
        budget_nanos: r.get::<_, Option<i64>>(3)?.map(u),
        spent_nanos: u(r.get(4)?),
        overrun_nanos: u(r.get(5)?),
        calls: u(r.get(6)?),
        created_at_ms: u(r.get(7)?),
        updated_at_ms: u(r.get(8)?),
        finished_at_ms: r.get::<_, Option<i64>>(9)?.map(u),
        approval_above_nanos: r.get::<_, Option<i64>>(10)?.map(u),
        max_calls: r.get::<_, Option<i64>>(11)?.map(u),
        agent_budgets: crate::store::agent_budgets_from_json(
            r.get::<_, Option<String>>(12)?.as_deref(),
        )
        .map_err(|e| bad(12, e.to_string()))?,
    })
}

pub fn call(r: &Row<'_>) -> rusqlite::Result<CallRecord> {
    let s = |idx: usize| -> rusqlite::Result<Arc<str>> { Ok(Arc::from(r.get::<_, String>(idx)?)) };
    let status: String = r.get(18)?;
    Ok(CallRecord {
        execution_id: s(0)?,
        seq: u(r.get(1)?),
        step: s(2)?,
        provider: s(3)?,
        requested_model: s(4)?,
        model: r.get::<_, Option<String>>(5)?.map(Arc::from),
        usage: Usage {
            input: u(r.get(6)?),
            output: u(r.get(7)?),
            cache_read: u(r.get(8)?),
            cache_write_5m: u(r.get(9)?),
            cache_write_1h: u(r.get(10)?),
            reasoning: u(r.get(11)?),
        },
        cost_nanos: u(r.get(12)?),
        reserved_nanos: u(r.get(13)?),
        overrun_nanos: u(r.get(14)?),
        estimated: r.get(15)?,
        usage_missing: r.get(16)?,
        stream: r.get(17)?,
        status: CallStatus::from_name(&status).map_err(|e| bad(18, e.to_string()))?,
        error: r.get(19)?,
        latency_ms: u(r.get(20)?),
        started_at_ms: u(r.get(21)?),
        finished_at_ms: u(r.get(22)?),
        attempt: r.get(23)?,
        retry_reason: r.get::<_, Option<String>>(24)?.map(Arc::from),
    })
}

pub fn checkpoint(r: &Row<'_>) -> rusqlite::Result<CheckpointInfo> {
    Ok(CheckpointInfo {
        id: u(r.get(0)?),
        execution_id: r.get(1)?,
        name: r.get(2)?,
        sequence: u(r.get(3)?),
        parent_id: r.get::<_, Option<i64>>(4)?.map(u),
        spent_nanos: u(r.get(5)?),
        created_at_ms: u(r.get(6)?),
        superseded: r.get(7)?,
        state_bytes: u(r.get(8)?),
        content_type: r.get(9)?,
    })
}

pub fn rollback(r: &Row<'_>) -> rusqlite::Result<RollbackRecord> {
    Ok(RollbackRecord {
        execution_id: r.get(0)?,
        checkpoint_id: r.get::<_, Option<i64>>(1)?.map(u),
        checkpoint_name: r.get(2)?,
        superseded: u(r.get(3)?),
        spent_nanos: u(r.get(4)?),
        at_ms: u(r.get(5)?),
    })
}

/// A stored state: its bytes, encoding, length as given and content type (`None`: JSON).
pub type StoredState = (Vec<u8>, String, i64, Option<String>);

/// A checkpoint's [`StoredState`]; the state may have been written as TEXT (SQLite keeps the
/// type a value was written with) or BLOB.
pub fn state(r: &Row<'_>) -> rusqlite::Result<StoredState> {
    let bytes = match r.get_ref(0)? {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b.to_vec(),
        _ => return Err(bad(0, "checkpoint state is neither text nor blob".into())),
    };
    Ok((bytes, r.get(1)?, r.get(2)?, r.get(3)?))
}

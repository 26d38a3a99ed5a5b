//! Checkpoints in SQLite. A checkpoint's id is `(rowid of its execution << 32) | sequence`,
//! so one execution's checkpoints are one contiguous range of the table's b-tree: saving one
//! writes that b-tree alone (no secondary index page), which keeps a checkpoint within a small
//! margin of a bare insert of the same bytes; listing is a range scan.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{rows, storage};
use crate::error::{Error, Result};
use crate::money::Nanos;
use crate::records::{CheckpointInfo, RollbackRecord};
use crate::store::state_codec::{self, CheckpointState, StateEncoding};
use crate::store::{NewCheckpoint, RolledBack};

/// Executions' rowids, looked up once per execution and process: a rowid never changes (wflo
/// never deletes an execution), and the lookup was a tenth of a checkpoint save.
#[derive(Default)]
pub struct RowIds(parking_lot::Mutex<HashMap<String, i64>>);

/// More executions than a process works on at once: past this, the cache starts again.
const ROWIDS_KEPT: usize = 10_000;

impl RowIds {
    /// The id range `[lo, hi]` of an execution's checkpoints.
    fn range(&self, c: &Connection, execution_id: &str) -> Result<(i64, i64)> {
        let cached = self.0.lock().get(execution_id).copied();
        let rowid = match cached {
            Some(rowid) => rowid,
            None => {
                let rowid: i64 = c
                    .prepare_cached("SELECT rowid FROM workflow_executions WHERE id = ?1")
                    .and_then(|mut s| s.query_row([execution_id], |r| r.get(0)).optional())
                    .map_err(storage)?
                    .ok_or_else(|| Error::NotFound(format!("execution {execution_id}")))?;
                let mut kept = self.0.lock();
                if kept.len() >= ROWIDS_KEPT {
                    kept.clear();
                }
                kept.insert(execution_id.to_owned(), rowid);
                rowid
            }
        };
        if !(0..(1 << 31)).contains(&rowid) {
            return Err(Error::Storage(format!(
                "execution row {rowid} is out of the checkpoint id range"
            )));
        }
        let lo = rowid << 32;
        Ok((lo, lo | 0xFFFF_FFFF))
    }
}

/// Saves a checkpoint. (One `INSERT … SELECT … RETURNING` computing id, sequence and parent
/// inside was measured slower than these two cached statements.)
pub fn save(tx: &Connection, ids: &RowIds, cp: &NewCheckpoint<'_>) -> Result<CheckpointInfo> {
    let (lo, hi) = ids.range(tx, cp.execution_id)?;
    let (id, parent): (i64, Option<i64>) = tx
        .prepare_cached(
            "SELECT COALESCE(MAX(id), ?1) + 1, \
             (SELECT id FROM checkpoints WHERE id BETWEEN ?1 AND ?2 AND superseded = 0 ORDER BY id DESC LIMIT 1) \
             FROM checkpoints WHERE id BETWEEN ?1 AND ?2",
        )
        .and_then(|mut s| s.query_row(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(storage)?;
    if id > hi {
        return Err(Error::Storage(format!(
            "execution {} has no checkpoint ids left",
            cp.execution_id
        )));
    }
    let sequence = id - lo;
    tx.prepare_cached(
        "INSERT INTO checkpoints (id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded, \
         state, state_encoding, state_bytes, state_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            cp.execution_id,
            cp.name,
            sequence,
            parent,
            cp.spent_nanos as i64,
            cp.created_at_ms as i64,
            &cp.state.bytes[..],
            cp.state.encoding.as_str(),
            cp.state.len as i64,
            cp.state.content_type
        ])
    })
    .map_err(storage)?;
    Ok(CheckpointInfo {
        id: id as u64,
        execution_id: cp.execution_id.to_owned(),
        name: cp.name.to_owned(),
        sequence: sequence as u64,
        parent_id: parent.map(|p| p as u64),
        spent_nanos: cp.spent_nanos,
        created_at_ms: cp.created_at_ms,
        superseded: false,
        state_bytes: cp.state.len as u64,
        content_type: cp.state.content_type.clone(),
    })
}

/// The checkpoints after sequence `after` (a range scan from there: sequences are the low bits
/// of the ids).
pub fn list(
    c: &Connection,
    ids: &RowIds,
    execution_id: &str,
    after: u64,
) -> Result<Vec<CheckpointInfo>> {
    let (lo, hi) = match ids.range(c, execution_id) {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let lo = lo + after.min(0xFFFF_FFFF) as i64 + 1;
    let mut stmt = c
        .prepare_cached(&format!(
            "{} WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
            rows::SELECT_CHECKPOINT
        ))
        .map_err(storage)?;
    let rows = stmt
        .query_map(params![lo, hi], rows::checkpoint)
        .map_err(storage)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
}

pub fn state(c: &Connection, execution_id: &str, checkpoint_id: u64) -> Result<CheckpointState> {
    let row = c
        .prepare_cached("SELECT state, state_encoding, state_bytes, state_type FROM checkpoints WHERE id = ?1 AND execution_id = ?2")
        .and_then(|mut s| s.query_row(params![checkpoint_id as i64, execution_id], rows::state).optional())
        .map_err(storage)?;
    let (bytes, encoding, len, content_type) = row.ok_or_else(|| {
        Error::NotFound(format!(
            "checkpoint {checkpoint_id} of execution {execution_id}"
        ))
    })?;
    state_codec::decode(
        StateEncoding::from_name(&encoding)?,
        bytes,
        len.max(0) as usize,
        content_type,
    )
}

pub fn rollback(
    tx: &Connection,
    ids: &RowIds,
    execution_id: &str,
    name: &str,
    spent_nanos: Nanos,
    at_ms: u64,
    json_only: bool,
) -> Result<RolledBack> {
    let not_found = || {
        Error::NotFound(format!(
            "no checkpoint named '{name}' in execution {execution_id}"
        ))
    };
    let (lo, hi) = match ids.range(tx, execution_id) {
        Err(Error::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    let target = tx
        .prepare_cached(&format!(
            "{} WHERE id BETWEEN ?1 AND ?2 AND name = ?3 AND superseded = 0 ORDER BY id DESC LIMIT 1",
            rows::SELECT_CHECKPOINT
        ))
        .and_then(|mut s| s.query_row(params![lo, hi, name], rows::checkpoint).optional())
        .map_err(storage)?
        .ok_or_else(not_found)?;
    if let (true, Some(content_type)) = (json_only, &target.content_type) {
        return Err(state_codec::binary_not_json(content_type));
    }
    let state = state(tx, execution_id, target.id)?;
    let superseded = tx
        .prepare_cached(
            "UPDATE checkpoints SET superseded = 1 WHERE id > ?1 AND id <= ?2 AND superseded = 0",
        )
        .and_then(|mut s| s.execute(params![target.id as i64, hi]))
        .map_err(storage)? as u64;
    tx.prepare_cached(
        "INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![execution_id, target.id as i64, name, superseded as i64, spent_nanos as i64, at_ms as i64])
    })
    .map_err(storage)?;
    let rollback = RollbackRecord {
        execution_id: execution_id.to_owned(),
        checkpoint_id: Some(target.id),
        checkpoint_name: name.to_owned(),
        superseded,
        spent_nanos,
        at_ms,
    };
    Ok(RolledBack {
        checkpoint: target,
        state,
        rollback,
    })
}

pub fn prune(tx: &Connection, ids: &RowIds, execution_id: &str, keep_last: usize) -> Result<u64> {
    let (lo, hi) = match ids.range(tx, execution_id) {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Ok(0),
        Err(e) => return Err(e),
    };
    let n = tx
        .execute(
            "DELETE FROM checkpoints WHERE id BETWEEN ?1 AND ?2 AND id NOT IN \
             (SELECT id FROM checkpoints WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC LIMIT ?3)",
            params![lo, hi, keep_last.min(i64::MAX as usize) as i64],
        )
        .map_err(storage)?;
    Ok(n as u64)
}

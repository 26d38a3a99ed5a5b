//! Approval gates in SQLite. A decision reads and writes the row inside the caller's
//! `BEGIN IMMEDIATE` transaction, so two people deciding at once cannot both win.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::storage;
use crate::error::{Error, Result};
use crate::records::{ApprovalRecord, ApprovalStatus};
use crate::store::ApprovalDecision;

const SELECT: &str = "SELECT id, execution_id, gate, what, why, worst_case_nanos, requested_by, on_timeout, \
     status, note, decided_by, created_at_ms, expires_at_ms, decided_at_ms FROM approvals";

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn row(r: &Row<'_>) -> rusqlite::Result<ApprovalRecord> {
    let status: String = r.get(8)?;
    Ok(ApprovalRecord {
        id: r.get(0)?,
        execution_id: r.get(1)?,
        gate: r.get(2)?,
        what: r.get(3)?,
        why: r.get(4)?,
        worst_case_nanos: r.get::<_, Option<i64>>(5)?.map(u),
        requested_by: r.get(6)?,
        on_timeout: r.get(7)?,
        status: ApprovalStatus::from_name(&status).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, e.into())
        })?,
        note: r.get(9)?,
        decided_by: r.get(10)?,
        created_at_ms: u(r.get(11)?),
        expires_at_ms: r.get::<_, Option<i64>>(12)?.map(u),
        decided_at_ms: r.get::<_, Option<i64>>(13)?.map(u),
    })
}

fn by_gate(c: &Connection, execution_id: &str, gate: &str) -> Result<Option<ApprovalRecord>> {
    c.prepare_cached(&format!("{SELECT} WHERE execution_id = ?1 AND gate = ?2"))
        .map_err(storage)?
        .query_row(params![execution_id, gate], row)
        .optional()
        .map_err(storage)
}

pub fn get(c: &Connection, id: &str) -> Result<ApprovalRecord> {
    c.prepare_cached(&format!("{SELECT} WHERE id = ?1"))
        .map_err(storage)?
        .query_row([id], row)
        .optional()
        .map_err(storage)?
        .ok_or_else(|| Error::NotFound(format!("approval {id}")))
}

pub fn create(tx: &Connection, a: &ApprovalRecord) -> Result<ApprovalRecord> {
    if let Some(found) = by_gate(tx, &a.execution_id, &a.gate)? {
        return Ok(found);
    }
    tx.execute(
        "INSERT INTO approvals (id, execution_id, gate, what, why, worst_case_nanos, requested_by, on_timeout, \
         status, note, decided_by, created_at_ms, expires_at_ms, decided_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            a.id,
            a.execution_id,
            a.gate,
            a.what,
            a.why,
            a.worst_case_nanos.map(i),
            a.requested_by,
            a.on_timeout,
            a.status.as_str(),
            a.note,
            a.decided_by,
            i(a.created_at_ms),
            a.expires_at_ms.map(i),
            a.decided_at_ms.map(i),
        ],
    )
    .map_err(storage)?;
    Ok(a.clone())
}

pub fn list(c: &Connection, pending_only: bool, limit: usize) -> Result<Vec<ApprovalRecord>> {
    let sql = format!(
        "{SELECT} {} ORDER BY created_at_ms DESC, id DESC LIMIT ?1",
        if pending_only {
            "WHERE status = 'pending'"
        } else {
            ""
        }
    );
    let mut st = c.prepare_cached(&sql).map_err(storage)?;
    let rows = st
        .query_map([limit.min(i64::MAX as usize) as i64], row)
        .map_err(storage)?;
    rows.collect::<rusqlite::Result<_>>().map_err(storage)
}

pub fn decide(tx: &Connection, d: &ApprovalDecision<'_>) -> Result<ApprovalRecord> {
    let mut a = get(tx, d.id)?;
    crate::store::approvals::decide(&mut a, d)?;
    tx.execute(
        "UPDATE approvals SET status = ?2, decided_by = ?3, note = ?4, decided_at_ms = ?5 \
         WHERE id = ?1 AND status = 'pending'",
        params![
            a.id,
            a.status.as_str(),
            a.decided_by,
            a.note,
            a.decided_at_ms.map(i)
        ],
    )
    .map_err(storage)?;
    Ok(a)
}

//! Approval gates in PostgreSQL. A decision locks the row (`FOR UPDATE`), so two people
//! deciding at once cannot both win.

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::{i, storage, u};
use crate::error::{Error, Result};
use crate::records::{ApprovalRecord, ApprovalStatus};
use crate::store::ApprovalDecision;

type Tx = Transaction<'static, Postgres>;

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, execution_id, gate, what, why, worst_case_nanos, requested_by, on_timeout, \
             status, note, decided_by, created_at_ms, expires_at_ms, decided_at_ms FROM approvals ",
            $rest
        )
    };
}

fn row(r: &PgRow) -> Result<ApprovalRecord> {
    let g = storage;
    Ok(ApprovalRecord {
        id: r.try_get(0).map_err(g)?,
        execution_id: r.try_get(1).map_err(g)?,
        gate: r.try_get(2).map_err(g)?,
        what: r.try_get(3).map_err(g)?,
        why: r.try_get(4).map_err(g)?,
        worst_case_nanos: r.try_get::<Option<i64>, _>(5).map_err(g)?.map(u),
        requested_by: r.try_get(6).map_err(g)?,
        on_timeout: r.try_get(7).map_err(g)?,
        status: ApprovalStatus::from_name(r.try_get::<&str, _>(8).map_err(g)?)
            .map_err(|e| Error::Storage(e.to_string()))?,
        note: r.try_get(9).map_err(g)?,
        decided_by: r.try_get(10).map_err(g)?,
        created_at_ms: u(r.try_get(11).map_err(g)?),
        expires_at_ms: r.try_get::<Option<i64>, _>(12).map_err(g)?.map(u),
        decided_at_ms: r.try_get::<Option<i64>, _>(13).map_err(g)?.map(u),
    })
}

pub(super) async fn create(tx: &mut Tx, a: &ApprovalRecord) -> Result<ApprovalRecord> {
    // One statement: insert unless the gate exists, then read whichever row stands.
    sqlx::query(
        "INSERT INTO approvals (id, execution_id, gate, what, why, worst_case_nanos, requested_by, on_timeout, \
         status, note, decided_by, created_at_ms, expires_at_ms, decided_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (execution_id, gate) DO NOTHING",
    )
    .bind(&a.id)
    .bind(&a.execution_id)
    .bind(&a.gate)
    .bind(&a.what)
    .bind(&a.why)
    .bind(a.worst_case_nanos.map(i))
    .bind(&a.requested_by)
    .bind(&a.on_timeout)
    .bind(a.status.as_str())
    .bind(&a.note)
    .bind(&a.decided_by)
    .bind(i(a.created_at_ms))
    .bind(a.expires_at_ms.map(i))
    .bind(a.decided_at_ms.map(i))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    let r = sqlx::query(select!("WHERE execution_id = $1 AND gate = $2"))
        .bind(&a.execution_id)
        .bind(&a.gate)
        .fetch_one(&mut **tx)
        .await
        .map_err(storage)?;
    row(&r)
}

pub(super) async fn get(tx: &mut Tx, id: &str, lock: bool) -> Result<ApprovalRecord> {
    let sql = if lock {
        select!("WHERE id = $1 FOR UPDATE")
    } else {
        select!("WHERE id = $1")
    };
    let r = sqlx::query(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(storage)?
        .ok_or_else(|| Error::NotFound(format!("approval {id}")))?;
    row(&r)
}

pub(super) async fn list(
    tx: &mut Tx,
    pending_only: bool,
    limit: usize,
) -> Result<Vec<ApprovalRecord>> {
    let sql = if pending_only {
        select!("WHERE status = 'pending' ORDER BY created_at_ms DESC, id DESC LIMIT $1")
    } else {
        select!("ORDER BY created_at_ms DESC, id DESC LIMIT $1")
    };
    let rows = sqlx::query(sql)
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(&mut **tx)
        .await
        .map_err(storage)?;
    rows.iter().map(row).collect()
}

pub(super) async fn decide(tx: &mut Tx, d: &ApprovalDecision<'_>) -> Result<ApprovalRecord> {
    let mut a = get(tx, d.id, true).await?;
    crate::store::approvals::decide(&mut a, d)?;
    sqlx::query(
        "UPDATE approvals SET status = $2, decided_by = $3, note = $4, decided_at_ms = $5 WHERE id = $1",
    )
    .bind(&a.id)
    .bind(a.status.as_str())
    .bind(&a.decided_by)
    .bind(&a.note)
    .bind(a.decided_at_ms.map(i))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    Ok(a)
}

//! Named resources in PostgreSQL: acquirers of one resource serialise on its statistics row
//! (`SELECT … FOR UPDATE`), so the count of holders and the insert of a new hold are one
//! decision across every process.

use sqlx::{Postgres, Row, Transaction};

use super::{i, storage, u};
use crate::error::Result;
use crate::store::{Acquire, ResourceFigures, ResourceHolder};

type Tx = Transaction<'static, Postgres>;

async fn holders(tx: &mut Tx, resource: &str, now_ms: u64) -> Result<Vec<ResourceHolder>> {
    let rows = sqlx::query(
        "SELECT hold_id, holder, workflow_id, acquired_at_ms, lease_until_ms FROM resource_holds \
         WHERE resource = $1 AND lease_until_ms > $2 ORDER BY acquired_at_ms, acquired_seq",
    )
    .bind(resource)
    .bind(i(now_ms))
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| {
            Ok(ResourceHolder {
                hold_id: r.try_get(0).map_err(storage)?,
                holder: r.try_get(1).map_err(storage)?,
                workflow_id: r.try_get(2).map_err(storage)?,
                acquired_at_ms: u(r.try_get(3).map_err(storage)?),
                lease_until_ms: u(r.try_get(4).map_err(storage)?),
            })
        })
        .collect()
}

/// Locks the resource's statistics row (made when missing): one acquirer at a time.
async fn lock(tx: &mut Tx, resource: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO resource_stats (resource) VALUES ($1) ON CONFLICT (resource) DO NOTHING",
    )
    .bind(resource)
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    sqlx::query("SELECT 1 FROM resource_stats WHERE resource = $1 FOR UPDATE")
        .bind(resource)
        .execute(&mut **tx)
        .await
        .map_err(storage)?;
    Ok(())
}

pub(super) async fn try_acquire(
    tx: &mut Tx,
    a: &Acquire<'_>,
) -> Result<Option<Vec<ResourceHolder>>> {
    lock(tx, a.resource).await?;
    sqlx::query("DELETE FROM resource_holds WHERE resource = $1 AND lease_until_ms <= $2")
        .bind(a.resource)
        .bind(i(a.now_ms))
        .execute(&mut **tx)
        .await
        .map_err(storage)?;
    let now_holding = holders(tx, a.resource, a.now_ms).await?;
    if now_holding.len() >= a.max_concurrent as usize {
        return Ok(Some(now_holding));
    }
    sqlx::query(
        "INSERT INTO resource_holds (hold_id, resource, holder, workflow_id, acquired_at_ms, lease_until_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.hold_id)
    .bind(a.resource)
    .bind(a.holder)
    .bind(a.workflow_id)
    .bind(i(a.now_ms))
    .bind(i(a.lease_until_ms))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    sqlx::query(
        "UPDATE resource_stats SET acquisitions = acquisitions + 1, contentions = contentions + $2, \
         total_wait_ms = total_wait_ms + $3, max_wait_ms = GREATEST(max_wait_ms, $3) WHERE resource = $1",
    )
    .bind(a.resource)
    .bind(i64::from(a.contended))
    .bind(i(a.waited_ms))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    Ok(None)
}

pub(super) async fn record_timeout(tx: &mut Tx, resource: &str, contended: bool) -> Result<()> {
    lock(tx, resource).await?;
    sqlx::query(
        "UPDATE resource_stats SET timeouts = timeouts + 1, contentions = contentions + $2 WHERE resource = $1",
    )
    .bind(resource)
    .bind(i64::from(contended))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    Ok(())
}

pub(super) async fn figures(tx: &mut Tx, resource: &str, now_ms: u64) -> Result<ResourceFigures> {
    let mut f = ResourceFigures {
        resource: resource.to_owned(),
        holders: holders(tx, resource, now_ms).await?,
        ..Default::default()
    };
    let row = sqlx::query(
        "SELECT acquisitions, contentions, timeouts, total_wait_ms, max_wait_ms FROM resource_stats \
         WHERE resource = $1",
    )
    .bind(resource)
    .fetch_optional(&mut **tx)
    .await
    .map_err(storage)?;
    if let Some(r) = row {
        f.acquisitions = u(r.try_get(0).map_err(storage)?);
        f.contentions = u(r.try_get(1).map_err(storage)?);
        f.timeouts = u(r.try_get(2).map_err(storage)?);
        f.total_wait_ms = u(r.try_get(3).map_err(storage)?);
        f.max_wait_ms = u(r.try_get(4).map_err(storage)?);
    }
    Ok(f)
}

//! Named resources in SQLite: each call runs inside the caller's `BEGIN IMMEDIATE`
//! transaction, which holds the database's write lock — no other process can take a slot
//! between the count and the insert.

use rusqlite::{Connection, params};

use super::storage;
use crate::error::Result;
use crate::store::{Acquire, ResourceFigures, ResourceHolder};

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn holders(c: &Connection, resource: &str, now_ms: u64) -> Result<Vec<ResourceHolder>> {
    let mut st = c
        .prepare_cached(
            "SELECT hold_id, holder, workflow_id, acquired_at_ms, lease_until_ms FROM resource_holds \
             WHERE resource = ?1 AND lease_until_ms > ?2 ORDER BY acquired_at_ms, rowid",
        )
        .map_err(storage)?;
    let rows = st
        .query_map(params![resource, i(now_ms)], |r| {
            Ok(ResourceHolder {
                hold_id: r.get(0)?,
                holder: r.get(1)?,
                workflow_id: r.get(2)?,
                acquired_at_ms: u(r.get(3)?),
                lease_until_ms: u(r.get(4)?),
            })
        })
        .map_err(storage)?;
    rows.collect::<rusqlite::Result<_>>().map_err(storage)
}

pub fn try_acquire(tx: &Connection, a: &Acquire<'_>) -> Result<Option<Vec<ResourceHolder>>> {
    tx.execute(
        "DELETE FROM resource_holds WHERE resource = ?1 AND lease_until_ms <= ?2",
        params![a.resource, i(a.now_ms)],
    )
    .map_err(storage)?;
    let now_holding = holders(tx, a.resource, a.now_ms)?;
    if now_holding.len() >= a.max_concurrent as usize {
        return Ok(Some(now_holding));
    }
    tx.execute(
        "INSERT INTO resource_holds (hold_id, resource, holder, workflow_id, acquired_at_ms, lease_until_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![a.hold_id, a.resource, a.holder, a.workflow_id, i(a.now_ms), i(a.lease_until_ms)],
    )
    .map_err(storage)?;
    tx.execute(
        "INSERT INTO resource_stats (resource, acquisitions, contentions, total_wait_ms, max_wait_ms) \
         VALUES (?1, 1, ?2, ?3, ?3) ON CONFLICT (resource) DO UPDATE SET \
         acquisitions = acquisitions + 1, contentions = contentions + excluded.contentions, \
         total_wait_ms = total_wait_ms + excluded.total_wait_ms, \
         max_wait_ms = MAX(max_wait_ms, excluded.max_wait_ms)",
        params![a.resource, i64::from(a.contended), i(a.waited_ms)],
    )
    .map_err(storage)?;
    Ok(None)
}

pub fn release(tx: &Connection, hold_id: &str) -> Result<bool> {
    let n = tx
        .execute("DELETE FROM resource_holds WHERE hold_id = ?1", [hold_id])
        .map_err(storage)?;
    Ok(n > 0)
}

pub fn renew(tx: &Connection, hold_id: &str, lease_until_ms: u64) -> Result<bool> {
    let n = tx
        .execute(
            "UPDATE resource_holds SET lease_until_ms = ?2 WHERE hold_id = ?1",
            params![hold_id, i(lease_until_ms)],
        )
        .map_err(storage)?;
    Ok(n > 0)
}

pub fn record_timeout(tx: &Connection, resource: &str, contended: bool) -> Result<()> {
    tx.execute(
        "INSERT INTO resource_stats (resource, timeouts, contentions) VALUES (?1, 1, ?2) \
         ON CONFLICT (resource) DO UPDATE SET timeouts = timeouts + 1, \
         contentions = contentions + excluded.contentions",
        params![resource, i64::from(contended)],
    )
    .map_err(storage)?;
    Ok(())
}

pub fn figures(c: &Connection, resource: &str, now_ms: u64) -> Result<ResourceFigures> {
    let mut f = ResourceFigures {
        resource: resource.to_owned(),
        holders: holders(c, resource, now_ms)?,
        ..Default::default()
    };
    let mut st = c
        .prepare_cached(
            "SELECT acquisitions, contentions, timeouts, total_wait_ms, max_wait_ms FROM resource_stats \
             WHERE resource = ?1",
        )
        .map_err(storage)?;
    let mut rows = st.query([resource]).map_err(storage)?;
    if let Some(r) = rows.next().map_err(storage)? {
        f.acquisitions = u(r.get(0).map_err(storage)?);
        f.contentions = u(r.get(1).map_err(storage)?);
        f.timeouts = u(r.get(2).map_err(storage)?);
        f.total_wait_ms = u(r.get(3).map_err(storage)?);
        f.max_wait_ms = u(r.get(4).map_err(storage)?);
    }
    Ok(f)
}

pub fn reset_stats(tx: &Connection, resource: &str) -> Result<()> {
    tx.execute("DELETE FROM resource_stats WHERE resource = ?1", [resource])
        .map_err(storage)?;
    Ok(())
}

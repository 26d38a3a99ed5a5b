//! Shared budget scopes in SQLite: a reservation checks and books every scope inside the
//! caller's `BEGIN IMMEDIATE` transaction, which holds the database's write lock — so no other
//! process can book between the check and the write.

use rusqlite::{Connection, OptionalExtension, params};

use super::storage;
use crate::error::{BudgetExceeded, Error, Result};
use crate::money::Nanos;
use crate::store::period::Period;
use crate::store::{SharedReserve, SharedScopeDef, SharedScopeFigures};

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

pub fn define(tx: &Connection, def: &SharedScopeDef, now_ms: u64) -> Result<()> {
    crate::store::memory::check_scope_name(&def.name)?;
    tx.execute(
        "INSERT INTO budget_scope_defs (name, limit_nanos, period, updated_at_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET limit_nanos = excluded.limit_nanos, period = excluded.period, \
         updated_at_ms = excluded.updated_at_ms",
        params![def.name, def.limit_nanos.map(|l| l as i64), def.period.as_str(), now_ms as i64],
    )
    .map_err(storage)?;
    tx.execute(
        "UPDATE budget_scopes SET limit_nanos = ?2 WHERE name = ?1",
        params![def.name, def.limit_nanos.map(|l| l as i64)],
    )
    .map_err(storage)?;
    Ok(())
}

fn definition(c: &Connection, name: &str) -> Result<(Option<Nanos>, Period)> {
    let row: Option<(Option<i64>, String)> = c
        .prepare_cached("SELECT limit_nanos, period FROM budget_scope_defs WHERE name = ?1")
        .map_err(storage)?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(storage)?;
    let (limit, period) =
        row.ok_or_else(|| Error::NotFound(format!("shared budget scope '{name}' is not defined")))?;
    Ok((limit.map(u), Period::from_name(&period)?))
}

pub fn figures(c: &Connection, name: &str, now_ms: u64) -> Result<SharedScopeFigures> {
    let (limit, period) = definition(c, name)?;
    let key = period.key(name, now_ms);
    let row: Option<(i64, i64, i64, bool)> = c
        .prepare_cached("SELECT spent_nanos, reserved_nanos, overrun_nanos, refusing FROM budget_scopes WHERE key = ?1")
        .map_err(storage)?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(storage)?;
    let (spent, reserved, overrun, refusing) = row.unwrap_or((0, 0, 0, false));
    Ok(SharedScopeFigures {
        name: name.to_owned(),
        key,
        period,
        limit_nanos: limit,
        spent_nanos: u(spent),
        reserved_nanos: u(reserved),
        overrun_nanos: u(overrun),
        refusing,
    })
}

/// Returns the lease-expired reservations of one scope row to its headroom.
fn reclaim(tx: &Connection, key: &str, now_ms: u64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE budget_scopes SET reserved_nanos = reserved_nanos - COALESCE((SELECT SUM(amount_nanos) \
         FROM budget_reservations WHERE scope_key = ?1 AND lease_until_ms <= ?2), 0) WHERE key = ?1",
    )
    .map_err(storage)?
    .execute(params![key, now_ms as i64])
    .map_err(storage)?;
    tx.prepare_cached(
        "DELETE FROM budget_reservations WHERE scope_key = ?1 AND lease_until_ms <= ?2",
    )
    .map_err(storage)?
    .execute(params![key, now_ms as i64])
    .map_err(storage)?;
    Ok(())
}

pub fn reserve(tx: &Connection, r: &SharedReserve<'_>) -> Result<Vec<String>> {
    let mut keys = Vec::with_capacity(r.scopes.len());
    for name in r.scopes {
        let (limit, period) = definition(tx, name)?;
        let key = period.key(name, r.now_ms);
        tx.prepare_cached(
            "INSERT INTO budget_scopes (key, name, limit_nanos, updated_at_ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (key) DO NOTHING",
        )
        .map_err(storage)?
        .execute(params![key, name, limit.map(|l| l as i64), r.now_ms as i64])
        .map_err(storage)?;
        reclaim(tx, &key, r.now_ms)?;
        let (limit, spent, reserved, refusing): (Option<i64>, i64, i64, bool) = tx
            .prepare_cached("SELECT limit_nanos, spent_nanos, reserved_nanos, refusing FROM budget_scopes WHERE key = ?1")
            .map_err(storage)?
            .query_row([&key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .map_err(storage)?;
        if let Some(limit) = limit.map(u) {
            let (spent, reserved) = (u(spent), u(reserved));
            if refusing
                || spent
                    .saturating_add(reserved)
                    .saturating_add(r.amount_nanos)
                    > limit
            {
                // Returning the error drops the transaction: nothing of this reservation stays.
                return Err(Error::BudgetExceeded(Box::new(BudgetExceeded {
                    scope: key,
                    limit_nanos: limit,
                    spent_nanos: spent,
                    reserved_nanos: reserved,
                    requested_nanos: r.amount_nanos,
                    retry_note: None,
                    hint: None,
                })));
            }
        }
        keys.push(key);
    }
    for key in &keys {
        tx.prepare_cached("UPDATE budget_scopes SET reserved_nanos = reserved_nanos + ?2, updated_at_ms = ?3 WHERE key = ?1")
            .map_err(storage)?
            .execute(params![key, r.amount_nanos as i64, r.now_ms as i64])
            .map_err(storage)?;
        tx.prepare_cached(
            "INSERT INTO budget_reservations (id, scope_key, amount_nanos, holder, execution_id, lease_until_ms, created_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(storage)?
        .execute(params![
            r.id,
            key,
            r.amount_nanos as i64,
            r.holder,
            r.execution_id,
            r.lease_until_ms as i64,
            r.now_ms as i64
        ])
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                Error::Conflict(format!("reservation id {} is already used", r.id))
            }
            _ => storage(e),
        })?;
    }
    Ok(keys)
}

pub fn settle(
    tx: &Connection,
    id: &str,
    keys: &[String],
    actual: Nanos,
    now_ms: u64,
) -> Result<Nanos> {
    let mut worst = 0;
    for key in keys {
        let held: Option<i64> = tx
            .prepare_cached("DELETE FROM budget_reservations WHERE id = ?1 AND scope_key = ?2 RETURNING amount_nanos")
            .map_err(storage)?
            .query_row(params![id, key], |r| r.get(0))
            .optional()
            .map_err(storage)?;
        let held = held.map_or(0, u);
        let overrun = actual.saturating_sub(held);
        worst = worst.max(overrun);
        tx.prepare_cached(
            "UPDATE budget_scopes SET reserved_nanos = reserved_nanos - ?2, spent_nanos = spent_nanos + ?3, \
             overrun_nanos = overrun_nanos + ?4, refusing = refusing OR (?4 > 0 AND limit_nanos IS NOT NULL), \
             updated_at_ms = ?5 WHERE key = ?1",
        )
        .map_err(storage)?
        .execute(params![key, held as i64, actual as i64, overrun as i64, now_ms as i64])
        .map_err(storage)?;
    }
    Ok(worst)
}

pub fn release(tx: &Connection, id: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE budget_scopes SET reserved_nanos = reserved_nanos - (SELECT amount_nanos FROM budget_reservations \
         WHERE id = ?1 AND scope_key = budget_scopes.key) \
         WHERE key IN (SELECT scope_key FROM budget_reservations WHERE id = ?1)",
    )
    .map_err(storage)?
    .execute([id])
    .map_err(storage)?;
    tx.prepare_cached("DELETE FROM budget_reservations WHERE id = ?1")
        .map_err(storage)?
        .execute([id])
        .map_err(storage)?;
    Ok(())
}

pub fn reclaim_all(tx: &Connection, now_ms: u64) -> Result<u64> {
    tx.execute(
        "UPDATE budget_scopes SET reserved_nanos = reserved_nanos - COALESCE((SELECT SUM(amount_nanos) \
         FROM budget_reservations WHERE scope_key = budget_scopes.key AND lease_until_ms <= ?1), 0) \
         WHERE key IN (SELECT DISTINCT scope_key FROM budget_reservations WHERE lease_until_ms <= ?1)",
        [now_ms as i64],
    )
    .map_err(storage)?;
    let n = tx
        .execute(
            "DELETE FROM budget_reservations WHERE lease_until_ms <= ?1",
            [now_ms as i64],
        )
        .map_err(storage)?;
    Ok(n as u64)
}

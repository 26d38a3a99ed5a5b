//! Shared budget scopes in SQLite: a reservation checks and books every scope inside the
//! caller's `BEGIN IMMEDIATE` transaction, which holds the database's write lock — so no other
//! process can book between the check and the write.

use rusqlite::{Connection, OptionalExtension, params};

use super::storage;
use crate::budget::allowance::SyncReply;
use crate::error::{BudgetExceeded, Error, Result};
use crate::money::Nanos;
use crate::store::allowance_sync::{self, AllowanceRow, PeriodRow};
use crate::store::period::Period;
use crate::store::{
    AllowanceSync, AllowanceSynced, ChargedReservation, CreditShared, SharedCredit, SharedReserve,
    SharedScopeDef, SharedScopeFigures,
};

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

pub fn define(tx: &Connection, def: &SharedScopeDef, now_ms: u64) -> Result<()> {
    crate::store::memory::check_scope_name(&def.name)?;
    tx.execute(
        "INSERT INTO budget_scope_defs (name, limit_nanos, period, updated_at_ms, allowances) \
         VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 1)) \
         ON CONFLICT (name) DO UPDATE SET limit_nanos = excluded.limit_nanos, period = excluded.period, \
         updated_at_ms = excluded.updated_at_ms, allowances = COALESCE(?5, allowances)",
        params![def.name, def.limit_nanos.map(|l| l as i64), def.period.as_str(), now_ms as i64, def.allowances],
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
    definition_with_allowances(c, name).map(|(limit, period, _)| (limit, period))
}

fn definition_with_allowances(c: &Connection, name: &str) -> Result<(Option<Nanos>, Period, bool)> {
    let row: Option<(Option<i64>, String, bool)> = c
        .prepare_cached(
            "SELECT limit_nanos, period, allowances FROM budget_scope_defs WHERE name = ?1",
        )
        .map_err(storage)?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(storage)?;
    let (limit, period, allowances) = row.ok_or_else(|| crate::store::undefined_scope(name))?;
    Ok((limit.map(u), Period::from_name(&period)?, allowances))
}

pub fn figures(c: &Connection, name: &str, now_ms: u64) -> Result<SharedScopeFigures> {
    let (limit, period, allowances) = definition_with_allowances(c, name)?;
    let key = period.key(name, now_ms);
    let (allowance_nanos, allowance_holders): (i64, i64) = c
        .prepare_cached(
            "SELECT COALESCE(SUM(amount_nanos), 0), COUNT(DISTINCT holder) FROM budget_reservations \
             WHERE scope_key = ?1 AND sync_seq IS NOT NULL AND amount_nanos > 0",
        )
        .map_err(storage)?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(storage)?;
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
        allowances,
        allowance_nanos: u(allowance_nanos),
        allowance_holders: u(allowance_holders),
    })
}

/// Charges lease-expired reservations — those booked on `keys`, or every one with `None`:
/// each one's amount moves from reserved to spent on every key it holds (all its rows, so a
/// reservation on several scopes is charged once, whole), and an `unsettled` call of that cost
/// is recorded in its execution, numbered after the execution's last stored call.
pub fn charge_expired(
    tx: &Connection,
    keys: Option<&[String]>,
    now_ms: u64,
) -> Result<Vec<ChargedReservation>> {
    let mut ids: Vec<String> = Vec::new();
    {
        let mut collect = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<()> {
            let mut stmt = tx.prepare_cached(sql).map_err(storage)?;
            let rows = stmt
                .query_map(p, |r| r.get::<_, String>(0))
                .map_err(storage)?;
            for id in rows {
                ids.push(id.map_err(storage)?);
            }
            Ok(())
        };
        match keys {
            None => collect(
                "SELECT DISTINCT id FROM budget_reservations WHERE lease_until_ms <= ?1",
                &[&(now_ms as i64)],
            )?,
            Some(keys) => {
                for key in keys {
                    collect(
                        "SELECT DISTINCT id FROM budget_reservations WHERE scope_key = ?1 AND lease_until_ms <= ?2",
                        &[key, &(now_ms as i64)],
                    )?;
                }
            }
        }
    }
    ids.sort();
    ids.dedup();
    let mut charged = Vec::with_capacity(ids.len());
    for id in ids {
        let rows: Vec<(String, i64, String, Option<String>, i64)> = {
            let mut stmt = tx
                .prepare_cached(
                    "DELETE FROM budget_reservations WHERE id = ?1 \
                     RETURNING scope_key, amount_nanos, holder, execution_id, created_at_ms",
                )
                .map_err(storage)?;
            stmt.query_map([&id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(storage)?
            .collect::<rusqlite::Result<_>>()
            .map_err(storage)?
        };
        let Some(first) = rows.first().cloned() else {
            continue;
        };
        for (key, amount, ..) in &rows {
            tx.prepare_cached(
                "UPDATE budget_scopes SET reserved_nanos = MAX(reserved_nanos - ?2, 0), \
                 spent_nanos = spent_nanos + ?2, updated_at_ms = ?3 WHERE key = ?1",
            )
            .map_err(storage)?
            .execute(params![key, amount, now_ms as i64])
            .map_err(storage)?;
        }
        let amount = rows.iter().map(|r| u(r.1)).max().unwrap_or(0);
        if amount == 0 {
            // An emptied allowance whose lease ended: its row goes, nothing was charged.
            continue;
        }
        let (_, _, holder, execution_id, created) = first;
        let mut call = None;
        if let Some(exec) = &execution_id {
            let next: Option<i64> = tx
                .prepare_cached(
                    "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM llm_calls WHERE execution_id = ?1) \
                     FROM workflow_executions WHERE id = ?1",
                )
                .map_err(storage)?
                .query_row([exec], |r| r.get(0))
                .optional()
                .map_err(storage)?;
            if let Some(next) = next {
                let mut record =
                    crate::store::unsettled_call(exec, &id, &holder, amount, u(created), now_ms);
                record.seq = u(next);
                super::insert_calls(tx, std::slice::from_ref(&record))?;
                call = Some(record);
            }
        }
        charged.push(ChargedReservation {
            id,
            holder,
            execution_id,
            keys: rows.into_iter().map(|r| r.0).collect(),
            amount_nanos: amount,
            call,
        });
    }
    Ok(charged)
}

/// Books a reservation on every scope, after charging their expired leases. A refusal
/// (`BUDGET_EXCEEDED`) comes before anything of this reservation is booked, so the caller may
/// commit the charges with it.
pub fn reserve(tx: &Connection, r: &SharedReserve<'_>) -> Result<Vec<String>> {
    let mut keys = Vec::with_capacity(r.scopes.len());
    for name in r.scopes {
        let (limit, period) = definition(tx, name)?;
        let key = period.key(name, r.now_ms);
        ensure_period_row(tx, name, &key, limit, r.now_ms)?;
        keys.push(key);
    }
    charge_expired(tx, Some(&keys), r.now_ms)?;
    for key in &keys {
        let (limit, spent, reserved, refusing): (Option<i64>, i64, i64, bool) = tx
            .prepare_cached("SELECT limit_nanos, spent_nanos, reserved_nanos, refusing FROM budget_scopes WHERE key = ?1")
            .map_err(storage)?
            .query_row([key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .map_err(storage)?;
        if let Some(limit) = limit.map(u) {
            let (spent, reserved) = (u(spent), u(reserved));
            if refusing
                || spent
                    .saturating_add(reserved)
                    .saturating_add(r.amount_nanos)
                    > limit
            {
                // Committed with the refusal: allowance holders hear of the pressure.
                tx.prepare_cached("UPDATE budget_scopes SET last_refusal_ms = ?2 WHERE key = ?1")
                    .map_err(storage)?
                    .execute(params![key, r.now_ms as i64])
                    .map_err(storage)?;
                return Err(Error::BudgetExceeded(Box::new(BudgetExceeded {
                    scope: key.clone(),
                    limit_nanos: limit,
                    spent_nanos: spent,
                    reserved_nanos: reserved,
                    requested_nanos: r.amount_nanos,
                    retry_note: None,
                    hint: None,
                })));
            }
        }
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

/// Lowers a scope's current spend by an operator's credit and records it.
pub fn credit(tx: &Connection, c: &CreditShared<'_>) -> Result<SharedCredit> {
    crate::store::check_credit(c)?;
    let (_, period) = definition(tx, c.name)?;
    let key = period.key(c.name, c.now_ms);
    let spent: i64 = tx
        .prepare_cached("SELECT spent_nanos FROM budget_scopes WHERE key = ?1")
        .map_err(storage)?
        .query_row([&key], |r| r.get(0))
        .optional()
        .map_err(storage)?
        .unwrap_or(0);
    if c.amount_nanos > u(spent) {
        return Err(crate::store::credit_too_large(
            &key,
            c.amount_nanos,
            u(spent),
        ));
    }
    tx.prepare_cached(
        "UPDATE budget_scopes SET spent_nanos = spent_nanos - ?2, updated_at_ms = ?3 WHERE key = ?1",
    )
    .map_err(storage)?
    .execute(params![key, c.amount_nanos as i64, c.now_ms as i64])
    .map_err(storage)?;
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO budget_credits (name, scope_key, amount_nanos, credited_by, reason, at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )
        .map_err(storage)?
        .query_row(
            params![c.name, key, c.amount_nanos as i64, c.by, c.reason, c.now_ms as i64],
            |r| r.get(0),
        )
        .map_err(storage)?;
    Ok(SharedCredit {
        id: u(id),
        name: c.name.to_owned(),
        key,
        amount_nanos: c.amount_nanos,
        by: c.by.to_owned(),
        reason: c.reason.to_owned(),
        at_ms: c.now_ms,
    })
}

/// A scope's credits, oldest first.
pub fn credits(c: &Connection, name: &str) -> Result<Vec<SharedCredit>> {
    definition(c, name)?;
    let mut stmt = c
        .prepare_cached(
            "SELECT id, name, scope_key, amount_nanos, credited_by, reason, at_ms FROM budget_credits \
             WHERE name = ?1 ORDER BY id",
        )
        .map_err(storage)?;
    let rows = stmt
        .query_map([name], |r| {
            Ok(SharedCredit {
                id: u(r.get(0)?),
                name: r.get(1)?,
                key: r.get(2)?,
                amount_nanos: u(r.get(3)?),
                by: r.get(4)?,
                reason: r.get(5)?,
                at_ms: u(r.get(6)?),
            })
        })
        .map_err(storage)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
}

/// The distinct holders of unexpired reservations on a scope's current period.
pub fn holders(c: &Connection, name: &str, now_ms: u64) -> Result<Vec<String>> {
    let (_, period) = definition(c, name)?;
    let key = period.key(name, now_ms);
    let mut stmt = c
        .prepare_cached(
            "SELECT DISTINCT holder FROM budget_reservations WHERE scope_key = ?1 AND lease_until_ms > ?2 \
             ORDER BY holder",
        )
        .map_err(storage)?;
    let rows = stmt
        .query_map(params![key, now_ms as i64], |r| r.get::<_, String>(0))
        .map_err(storage)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
}

/// Creates a period row for `key` of scope `name` when it does not exist yet.
fn ensure_period_row(
    tx: &Connection,
    name: &str,
    key: &str,
    limit: Option<Nanos>,
    now_ms: u64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO budget_scopes (key, name, limit_nanos, updated_at_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (key) DO NOTHING",
    )
    .map_err(storage)?
    .execute(params![key, name, limit.map(|l| l as i64), now_ms as i64])
    .map_err(storage)?;
    Ok(())
}

/// Applies an allowance sync under the write lock the caller's transaction holds.
pub fn sync_allowance(tx: &Connection, s: &AllowanceSync<'_>) -> Result<AllowanceSynced> {
    let (limit, _) = definition(tx, s.name)?;
    ensure_period_row(tx, s.name, s.key, limit, s.now_ms)?;
    charge_expired(tx, Some(&[s.key.to_owned()]), s.now_ms)?;
    let mut period = tx
        .prepare_cached(
            "SELECT limit_nanos, spent_nanos, reserved_nanos, overrun_nanos, refusing, last_refusal_ms \
             FROM budget_scopes WHERE key = ?1",
        )
        .map_err(storage)?
        .query_row([s.key], |r| {
            Ok(PeriodRow {
                limit: r.get::<_, Option<i64>>(0)?.map(u),
                spent: u(r.get(1)?),
                reserved: u(r.get(2)?),
                overrun: u(r.get(3)?),
                refusing: r.get(4)?,
                last_refusal_ms: r.get::<_, Option<i64>>(5)?.map(u),
            })
        })
        .map_err(storage)?;
    let mut row = tx
        .prepare_cached(
            "SELECT amount_nanos, sync_seq, sync_granted, sync_refused, sync_pressure \
             FROM budget_reservations WHERE id = ?1 AND scope_key = ?2 AND sync_seq IS NOT NULL",
        )
        .map_err(storage)?
        .query_row(params![s.id, s.key], |r| {
            Ok(AllowanceRow {
                amount: u(r.get(0)?),
                seq: u(r.get(1)?),
                reply: SyncReply {
                    granted_nanos: u(r.get(2)?),
                    refused: r.get(3)?,
                    pressure: r.get(4)?,
                },
            })
        })
        .optional()
        .map_err(storage)?;
    let other_holders: i64 = tx
        .prepare_cached(
            "SELECT COUNT(DISTINCT holder) FROM budget_reservations WHERE scope_key = ?1 \
             AND sync_seq IS NOT NULL AND amount_nanos > 0 AND holder <> ?2 AND id <> ?3",
        )
        .map_err(storage)?
        .query_row(params![s.key, s.holder, s.id], |r| r.get(0))
        .map_err(storage)?;
    let out = allowance_sync::apply(s, &mut period, &mut row, u(other_holders));
    let row = row.expect("apply leaves a row");
    tx.prepare_cached(
        "UPDATE budget_scopes SET spent_nanos = ?2, reserved_nanos = ?3, overrun_nanos = ?4, refusing = ?5, \
         last_refusal_ms = ?6, updated_at_ms = ?7 WHERE key = ?1",
    )
    .map_err(storage)?
    .execute(params![
        s.key,
        period.spent as i64,
        period.reserved as i64,
        period.overrun as i64,
        period.refusing,
        period.last_refusal_ms.map(|t| t as i64),
        s.now_ms as i64
    ])
    .map_err(storage)?;
    tx.prepare_cached(
        "INSERT INTO budget_reservations (id, scope_key, amount_nanos, holder, execution_id, lease_until_ms, \
         created_at_ms, sync_seq, sync_granted, sync_refused, sync_pressure) \
         VALUES (?1, ?2, ?3, ?4, ?11, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (id, scope_key) DO UPDATE SET amount_nanos = excluded.amount_nanos, \
         execution_id = COALESCE(excluded.execution_id, budget_reservations.execution_id), \
         lease_until_ms = excluded.lease_until_ms, sync_seq = excluded.sync_seq, \
         sync_granted = excluded.sync_granted, sync_refused = excluded.sync_refused, \
         sync_pressure = excluded.sync_pressure",
    )
    .map_err(storage)?
    .execute(params![
        s.id,
        s.key,
        row.amount as i64,
        s.holder,
        s.lease_until_ms as i64,
        s.now_ms as i64,
        row.seq as i64,
        row.reply.granted_nanos as i64,
        row.reply.refused,
        row.reply.pressure,
        s.execution_id
    ])
    .map_err(storage)?;
    Ok(out)
}

//! Shared scopes in PostgreSQL after a holder dies, and what operators do about it: expired
//! leases are charged (never returned), credits give money back with who and why, and the
//! holders of live reservations are listed. Scope rows are locked in one order (by key), as a
//! reservation locks them, so charging never deadlocks with reserving.

use std::collections::BTreeMap;

use sqlx::{Postgres, Row, Transaction};

use super::{i, insert_calls, storage, u};
use crate::budget::allowance::{SyncReply, SyncRequest};
use crate::error::Result;
use crate::money::Nanos;
use crate::store::{
    AllowanceSync, AllowanceSynced, ChargedReservation, CreditShared, SharedCredit,
};

type Tx = Transaction<'static, Postgres>;

/// Charges lease-expired reservations — those booked on `keys`, or every one with `None`:
/// each one's amount moves from reserved to spent on every key it holds (all its rows, so a
/// reservation on several scopes is charged once, whole), and an `unsettled` call of that cost
/// is recorded in its execution, numbered after the execution's last stored call. Two
/// processes charging the same reservation at once: the second finds its rows gone.
pub(super) async fn charge_expired(
    tx: &mut Tx,
    keys: Option<&[String]>,
    now_ms: u64,
) -> Result<Vec<ChargedReservation>> {
    let ids: Vec<String> = sqlx::query(
        "SELECT DISTINCT id FROM budget_reservations WHERE lease_until_ms <= $1 \
         AND ($2::TEXT[] IS NULL OR scope_key = ANY($2)) ORDER BY id",
    )
    .bind(i(now_ms))
    .bind(keys)
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<std::result::Result<_, _>>()
    .map_err(storage)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Every scope row the charge writes, and the caller's, locked in key order.
    sqlx::query(
        "SELECT key FROM budget_scopes WHERE key IN (SELECT scope_key FROM budget_reservations \
         WHERE id = ANY($1)) OR key = ANY($2) ORDER BY key FOR UPDATE",
    )
    .bind(&ids)
    .bind(keys.unwrap_or_default())
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    // The lease is checked again: a renewal may have come in before the rows were locked.
    let rows = sqlx::query(
        "WITH gone AS (DELETE FROM budget_reservations WHERE id = ANY($1) AND lease_until_ms <= $2 \
         RETURNING id, scope_key, amount_nanos, holder, execution_id, created_at_ms), \
         sums AS (SELECT scope_key, SUM(amount_nanos)::BIGINT AS amount FROM gone GROUP BY scope_key), \
         upd AS (UPDATE budget_scopes s SET reserved_nanos = GREATEST(s.reserved_nanos - sums.amount, 0), \
         spent_nanos = s.spent_nanos + sums.amount, updated_at_ms = $2 FROM sums \
         WHERE s.key = sums.scope_key RETURNING 1) \
         SELECT id, scope_key, amount_nanos, holder, execution_id, created_at_ms FROM gone \
         ORDER BY id, scope_key",
    )
    .bind(&ids)
    .bind(i(now_ms))
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?;
    let mut charged: BTreeMap<String, (ChargedReservation, u64)> = BTreeMap::new();
    for r in &rows {
        let id: String = r.try_get(0).map_err(storage)?;
        let key: String = r.try_get(1).map_err(storage)?;
        let amount = u(r.try_get(2).map_err(storage)?);
        let entry = match charged.get_mut(&id) {
            Some(e) => e,
            None => charged.entry(id.clone()).or_insert((
                ChargedReservation {
                    id,
                    holder: r.try_get(3).map_err(storage)?,
                    execution_id: r.try_get(4).map_err(storage)?,
                    keys: Vec::new(),
                    amount_nanos: 0,
                    call: None,
                },
                u(r.try_get(5).map_err(storage)?),
            )),
        };
        entry.0.keys.push(key);
        entry.0.amount_nanos = entry.0.amount_nanos.max(amount);
    }
    let mut executions: Vec<String> = charged
        .values()
        .filter_map(|(c, _)| c.execution_id.clone())
        .collect();
    executions.sort();
    executions.dedup();
    // Only executions the store keeps get a record; their rows are locked (as the call writer
    // locks them) before their last sequence number is read.
    let kept: Vec<String> =
        sqlx::query("SELECT id FROM workflow_executions WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&executions)
            .fetch_all(&mut **tx)
            .await
            .map_err(storage)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(storage)?;
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT execution_id, COALESCE(MAX(seq), 0)::BIGINT FROM llm_calls \
         WHERE execution_id = ANY($1) GROUP BY execution_id",
    )
    .bind(&kept)
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?
    {
        next.insert(
            r.try_get(0).map_err(storage)?,
            u(r.try_get(1).map_err(storage)?),
        );
    }
    let mut records = Vec::new();
    let mut out = Vec::with_capacity(charged.len());
    for (_, (mut c, created)) in charged {
        // An emptied allowance whose lease ended: its row goes, nothing was charged.
        if c.amount_nanos == 0 {
            continue;
        }
        if let Some(exec) = c
            .execution_id
            .as_deref()
            .filter(|e| kept.iter().any(|k| k == e))
        {
            let seq = next.entry(exec.to_owned()).or_insert(0);
            *seq += 1;
            let mut record = crate::store::unsettled_call(
                exec,
                &c.id,
                &c.holder,
                c.amount_nanos,
                created,
                now_ms,
            );
            record.seq = *seq;
            records.push(record.clone());
            c.call = Some(record);
        }
        out.push(c);
    }
    insert_calls(tx, &records, None).await?;
    Ok(out)
}

/// Lowers a scope's current spend by an operator's credit and records it.
pub(super) async fn credit(tx: &mut Tx, c: &CreditShared<'_>, key: &str) -> Result<SharedCredit> {
    crate::store::check_credit(c)?;
    let spent: i64 = sqlx::query("SELECT spent_nanos FROM budget_scopes WHERE key = $1 FOR UPDATE")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(storage)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(storage)?
        .unwrap_or(0);
    if c.amount_nanos > u(spent) {
        return Err(crate::store::credit_too_large(
            key,
            c.amount_nanos,
            u(spent),
        ));
    }
    sqlx::query(
        "UPDATE budget_scopes SET spent_nanos = spent_nanos - $2, updated_at_ms = $3 WHERE key = $1",
    )
    .bind(key)
    .bind(i(c.amount_nanos))
    .bind(i(c.now_ms))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    let id: i64 = sqlx::query(
        "INSERT INTO budget_credits (name, scope_key, amount_nanos, credited_by, reason, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(c.name)
    .bind(key)
    .bind(i(c.amount_nanos))
    .bind(c.by)
    .bind(c.reason)
    .bind(i(c.now_ms))
    .fetch_one(&mut **tx)
    .await
    .map_err(storage)?
    .try_get(0)
    .map_err(storage)?;
    Ok(SharedCredit {
        id: u(id),
        name: c.name.to_owned(),
        key: key.to_owned(),
        amount_nanos: c.amount_nanos,
        by: c.by.to_owned(),
        reason: c.reason.to_owned(),
        at_ms: c.now_ms,
    })
}

/// A scope's credits, oldest first.
pub(super) async fn credits(tx: &mut Tx, name: &str) -> Result<Vec<SharedCredit>> {
    let rows = sqlx::query(
        "SELECT id, name, scope_key, amount_nanos, credited_by, reason, at_ms FROM budget_credits \
         WHERE name = $1 ORDER BY id",
    )
    .bind(name)
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| {
            Ok(SharedCredit {
                id: u(r.try_get(0).map_err(storage)?),
                name: r.try_get(1).map_err(storage)?,
                key: r.try_get(2).map_err(storage)?,
                amount_nanos: u(r.try_get(3).map_err(storage)?),
                by: r.try_get(4).map_err(storage)?,
                reason: r.try_get(5).map_err(storage)?,
                at_ms: u(r.try_get(6).map_err(storage)?),
            })
        })
        .collect()
}

/// The distinct holders of unexpired reservations on one scope row.
pub(super) async fn holders(tx: &mut Tx, key: &str, now_ms: u64) -> Result<Vec<String>> {
    sqlx::query(
        "SELECT DISTINCT holder FROM budget_reservations WHERE scope_key = $1 AND lease_until_ms > $2 \
         ORDER BY holder",
    )
    .bind(key)
    .bind(i(now_ms))
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?
    .iter()
    .map(|r| r.try_get(0).map_err(storage))
    .collect()
}

/// One allowance sync as the arguments of `wflo_sync_allowance` (migration 0010).
#[derive(Clone)]
pub(super) struct SyncCall {
    id: String,
    name: String,
    pub key: String,
    holder: String,
    execution_id: Option<String>,
    request: SyncRequest,
    pub now_ms: u64,
    lease_until_ms: u64,
    enabled: bool,
    pressure_ms: u64,
    fraction_ppm: u64,
    min_grant: Nanos,
    max_grant: Nanos,
}

impl SyncCall {
    pub fn new(s: &AllowanceSync<'_>) -> SyncCall {
        SyncCall {
            id: s.id.to_owned(),
            name: s.name.to_owned(),
            key: s.key.to_owned(),
            holder: s.holder.to_owned(),
            execution_id: s.execution_id.map(str::to_owned),
            request: s.request,
            now_ms: s.now_ms,
            lease_until_ms: s.lease_until_ms,
            enabled: s.policy.enabled,
            pressure_ms: s.policy.pressure_ms,
            fraction_ppm: s.policy.headroom_ppm(),
            min_grant: s.policy.min_grant_nanos,
            max_grant: s.policy.max_grant_nanos,
        }
    }

    /// Runs the sync; `None` when leases ended on the row must be charged first.
    pub async fn run<'e, E>(&self, on: E) -> Result<Option<AllowanceSynced>>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let r = self.request;
        let row = sqlx::query(
            "SELECT status, granted, refused, pressure, limit_nanos, spent, reserved, held \
             FROM wflo_sync_allowance($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&self.id)
        .bind(&self.name)
        .bind(&self.key)
        .bind(&self.holder)
        .bind(self.execution_id.as_deref())
        .bind(i(r.seq))
        .bind(i(r.write_back_nanos))
        .bind(i(r.overrun_nanos))
        .bind(i(r.give_back_nanos))
        .bind(i(r.need_nanos))
        .bind(i(r.want_nanos))
        .bind(i(self.now_ms))
        .bind(i(self.lease_until_ms))
        .bind(self.enabled)
        .bind(i(self.pressure_ms))
        .bind(i(self.fraction_ppm))
        .bind(i(self.min_grant))
        .bind(i(self.max_grant))
        .fetch_one(on)
        .await
        .map_err(storage)?;
        let status: String = row.try_get(0).map_err(storage)?;
        match status.as_str() {
            "undefined" => return Err(crate::store::undefined_scope(&self.name)),
            "expired" => return Ok(None),
            _ => {}
        }
        let limit: Option<i64> = row.try_get(4).map_err(storage)?;
        Ok(Some(AllowanceSynced {
            reply: SyncReply {
                granted_nanos: u(row.try_get(1).map_err(storage)?),
                refused: row.try_get(2).map_err(storage)?,
                pressure: row.try_get(3).map_err(storage)?,
            },
            limit_nanos: limit.map(u),
            spent_nanos: u(row.try_get(5).map_err(storage)?),
            reserved_nanos: u(row.try_get(6).map_err(storage)?),
            held_nanos: u(row.try_get(7).map_err(storage)?),
        }))
    }
}

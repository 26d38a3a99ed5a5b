//! Circuit breakers in SQLite. A shared breaker is stepped inside the caller's
//! `BEGIN IMMEDIATE` transaction, which holds the database's write lock: no other process
//! steps it between the read and the write.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::storage;
use crate::error::Result;
use crate::resilience::breaker::machine::{BreakerStep, StoredBreaker, StoredStep, step_stored};
use crate::resilience::{BreakerState, Transition};
use crate::store::{STORED_TRANSITIONS, SharedBreakerRow, TransitionQuery};

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

const SELECT_BREAKER: &str =
    "SELECT name, state_json, config_json, updated_at_ms, updated_by FROM breakers";

fn breaker_row(r: &Row<'_>) -> rusqlite::Result<SharedBreakerRow> {
    Ok(SharedBreakerRow {
        name: r.get(0)?,
        state_json: r.get(1)?,
        config_json: r.get(2)?,
        updated_at_ms: u(r.get(3)?),
        updated_by: r.get(4)?,
    })
}

fn state(r: &Row<'_>, col: usize) -> rusqlite::Result<BreakerState> {
    let name: String = r.get(col)?;
    BreakerState::from_name(&name).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, e.into())
    })
}

fn transition_row(r: &Row<'_>) -> rusqlite::Result<Transition> {
    Ok(Transition {
        breaker: r.get(0)?,
        shared: r.get(1)?,
        from: state(r, 2)?,
        to: state(r, 3)?,
        reason: r.get(4)?,
        holder: r.get(5)?,
        at_ms: u(r.get(6)?),
    })
}

pub fn get(c: &Connection, name: &str) -> Result<Option<SharedBreakerRow>> {
    c.prepare_cached(&format!("{SELECT_BREAKER} WHERE name = ?1"))
        .map_err(storage)?
        .query_row([name], breaker_row)
        .optional()
        .map_err(storage)
}

pub fn list(c: &Connection) -> Result<Vec<SharedBreakerRow>> {
    let mut st = c
        .prepare_cached(&format!("{SELECT_BREAKER} ORDER BY name"))
        .map_err(storage)?;
    let rows = st.query_map([], breaker_row).map_err(storage)?;
    rows.collect::<rusqlite::Result<_>>().map_err(storage)
}

pub fn step(tx: &Connection, step: &BreakerStep<'_>) -> Result<StoredStep> {
    let stored = get(tx, step.name)?;
    let done = step_stored(
        stored.as_ref().map(|r| StoredBreaker {
            state_json: &r.state_json,
            config_json: &r.config_json,
        }),
        step,
    )?;
    if let Some(json) = &done.json {
        tx.prepare_cached(
            "INSERT INTO breakers (name, state_json, config_json, updated_at_ms, updated_by) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET \
             state_json = excluded.state_json, config_json = excluded.config_json, \
             updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
        )
        .map_err(storage)?
        .execute(params![
            step.name,
            json,
            done.config_json,
            i(step.now_ms),
            step.holder
        ])
        .map_err(storage)?;
    }
    if let Some(t) = &done.transition {
        record(tx, t)?;
    }
    Ok(done)
}

/// Records a change of state, dropping the breaker's oldest beyond [`STORED_TRANSITIONS`].
pub fn record(tx: &Connection, t: &Transition) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO breaker_transitions (breaker, shared, from_state, to_state, reason, holder, at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(storage)?
    .execute(params![
        t.breaker,
        t.shared,
        t.from.as_str(),
        t.to.as_str(),
        t.reason,
        t.holder,
        i(t.at_ms)
    ])
    .map_err(storage)?;
    tx.prepare_cached(
        "DELETE FROM breaker_transitions WHERE breaker = ?1 AND id <= \
         (SELECT id FROM breaker_transitions WHERE breaker = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )
    .map_err(storage)?
    .execute(params![t.breaker, STORED_TRANSITIONS as i64])
    .map_err(storage)?;
    Ok(())
}

pub fn transitions(c: &Connection, q: &TransitionQuery<'_>) -> Result<Vec<Transition>> {
    let mut st = c
        .prepare_cached(
            "SELECT breaker, shared, from_state, to_state, reason, holder, at_ms FROM breaker_transitions \
             WHERE (?1 IS NULL OR breaker = ?1) AND (?2 IS NULL OR at_ms >= ?2) AND (?3 IS NULL OR at_ms <= ?3) \
             ORDER BY id DESC LIMIT ?4",
        )
        .map_err(storage)?;
    let rows = st
        .query_map(
            params![
                q.breaker,
                q.since_ms.map(i),
                q.until_ms.map(i),
                q.limit.min(i64::MAX as usize) as i64
            ],
            transition_row,
        )
        .map_err(storage)?;
    let mut v: Vec<Transition> = rows.collect::<rusqlite::Result<_>>().map_err(storage)?;
    v.reverse();
    Ok(v)
}

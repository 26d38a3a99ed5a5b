//! Circuit breakers in PostgreSQL. A shared breaker's row is locked (`SELECT … FOR UPDATE`)
//! while a process steps it, so two processes never step it from the same state.

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::{i, storage, u};
use crate::error::{Error, Result};
use crate::resilience::breaker::machine::{BreakerStep, StoredBreaker, StoredStep, step_stored};
use crate::resilience::{BreakerState, Transition};
use crate::store::{STORED_TRANSITIONS, SharedBreakerRow, TransitionQuery};

type Tx = Transaction<'static, Postgres>;

macro_rules! select_breaker {
    ($rest:literal) => {
        concat!(
            "SELECT name, state_json, config_json, updated_at_ms, updated_by FROM breakers ",
            $rest
        )
    };
}

fn breaker_row(r: &PgRow) -> Result<SharedBreakerRow> {
    let g = storage;
    Ok(SharedBreakerRow {
        name: r.try_get(0).map_err(g)?,
        state_json: r.try_get(1).map_err(g)?,
        config_json: r.try_get(2).map_err(g)?,
        updated_at_ms: u(r.try_get(3).map_err(g)?),
        updated_by: r.try_get(4).map_err(g)?,
    })
}

fn state(r: &PgRow, col: usize) -> Result<BreakerState> {
    BreakerState::from_name(r.try_get::<&str, _>(col).map_err(storage)?)
        .map_err(|e| Error::Storage(e.to_string()))
}

fn transition_row(r: &PgRow) -> Result<Transition> {
    let g = storage;
    Ok(Transition {
        breaker: r.try_get(0).map_err(g)?,
        shared: r.try_get(1).map_err(g)?,
        from: state(r, 2)?,
        to: state(r, 3)?,
        reason: r.try_get(4).map_err(g)?,
        holder: r.try_get(5).map_err(g)?,
        at_ms: u(r.try_get(6).map_err(g)?),
    })
}

pub(super) async fn get(tx: &mut Tx, name: &str) -> Result<Option<SharedBreakerRow>> {
    sqlx::query(select_breaker!("WHERE name = $1"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await
        .map_err(storage)?
        .as_ref()
        .map(breaker_row)
        .transpose()
}

pub(super) async fn list(tx: &mut Tx) -> Result<Vec<SharedBreakerRow>> {
    sqlx::query(select_breaker!("ORDER BY name"))
        .fetch_all(&mut **tx)
        .await
        .map_err(storage)?
        .iter()
        .map(breaker_row)
        .collect()
}

pub(super) async fn step(tx: &mut Tx, step: &BreakerStep<'_>) -> Result<StoredStep> {
    let config = serde_json::to_string(step.config).unwrap_or_default();
    // The row exists from the breaker's first step on; locking it serialises the steppers.
    sqlx::query(
        "INSERT INTO breakers (name, state_json, config_json, updated_at_ms, updated_by) \
         VALUES ($1, '{}', $2, $3, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(step.name)
    .bind(&config)
    .bind(i(step.now_ms))
    .bind(step.holder)
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    let row =
        sqlx::query("SELECT state_json, config_json FROM breakers WHERE name = $1 FOR UPDATE")
            .bind(step.name)
            .fetch_one(&mut **tx)
            .await
            .map_err(storage)?;
    let state_json: String = row.try_get(0).map_err(storage)?;
    let config_json: String = row.try_get(1).map_err(storage)?;
    let done = step_stored(
        Some(StoredBreaker {
            state_json: &state_json,
            config_json: &config_json,
        }),
        step,
    )?;
    if let Some(json) = &done.json {
        sqlx::query(
            "UPDATE breakers SET state_json = $2, config_json = $3, updated_at_ms = $4, updated_by = $5 \
             WHERE name = $1",
        )
        .bind(step.name)
        .bind(json)
        .bind(&done.config_json)
        .bind(i(step.now_ms))
        .bind(step.holder)
        .execute(&mut **tx)
        .await
        .map_err(storage)?;
    }
    if let Some(t) = &done.transition {
        record(tx, t).await?;
    }
    Ok(done)
}

/// Records a change of state, dropping the breaker's oldest beyond [`STORED_TRANSITIONS`].
pub(super) async fn record(tx: &mut Tx, t: &Transition) -> Result<()> {
    sqlx::query(
        "INSERT INTO breaker_transitions (breaker, shared, from_state, to_state, reason, holder, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&t.breaker)
    .bind(t.shared)
    .bind(t.from.as_str())
    .bind(t.to.as_str())
    .bind(&t.reason)
    .bind(&t.holder)
    .bind(i(t.at_ms))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    sqlx::query(
        "DELETE FROM breaker_transitions WHERE breaker = $1 AND id <= \
         (SELECT id FROM breaker_transitions WHERE breaker = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(&t.breaker)
    .bind(STORED_TRANSITIONS as i64)
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    Ok(())
}

pub(super) async fn transitions(tx: &mut Tx, q: &TransitionQuery<'_>) -> Result<Vec<Transition>> {
    let rows = sqlx::query(
        "SELECT breaker, shared, from_state, to_state, reason, holder, at_ms FROM breaker_transitions \
         WHERE ($1::TEXT IS NULL OR breaker = $1) AND ($2::BIGINT IS NULL OR at_ms >= $2) \
         AND ($3::BIGINT IS NULL OR at_ms <= $3) ORDER BY id DESC LIMIT $4",
    )
    .bind(q.breaker)
    .bind(q.since_ms.map(i))
    .bind(q.until_ms.map(i))
    .bind(q.limit.min(i64::MAX as usize) as i64)
    .fetch_all(&mut **tx)
    .await
    .map_err(storage)?;
    let mut v = rows
        .iter()
        .map(transition_row)
        .collect::<Result<Vec<_>>>()?;
    v.reverse();
    Ok(v)
}

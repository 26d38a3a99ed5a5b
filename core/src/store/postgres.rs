//! PostgreSQL for fleets: many processes on many machines share executions, checkpoints and
//! budgets. A reservation on shared scopes locks their rows (`SELECT … FOR UPDATE`, in a fixed
//! order so two reservations never deadlock) and books them in one transaction: N workers can
//! never together pass a limit.
//!
//! sqlx is asynchronous; the store runs it on a small runtime of its own and waits for the
//! result on the caller's thread, so it works the same from any thread — including one that
//! belongs to another async runtime (a Node or Python host).

mod approvals;
mod breakers;
mod budgets;
mod resources;
mod spare;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::migrate::{
    MIGRATIONS_POSTGRES, SCHEMA_VERSION, SCHEMA_VERSION_TABLE, check_applied, checksum,
};
use super::period::Period;
use super::state_codec::{self, CheckpointState, StateEncoding};
use super::writer::{CallWriter, WriterOptions};
use super::{
    AllowanceSync, AllowanceSynced, ChargedReservation, CheckpointsNamed, CheckpointsSince,
    CreditShared, KnownSince, NamedCheckpoint, NewCheckpoint, RolledBack, SharedCredit,
    SharedReserve, SharedScopeDef, SharedScopeFigures, Store,
};
use crate::error::{BudgetExceeded, Error, Result};
use crate::money::Nanos;
use crate::records::{
    CallRecord, CallStatus, CheckpointInfo, ExecutionRecord, ExecutionStatus, RollbackRecord,
};
use crate::usage::Usage;

/// Serialises migrations of concurrent openers (an arbitrary constant: "wflo").
const MIGRATION_LOCK: i64 = 0x77_66_6c_6f;

/// How a PostgreSQL store connects.
#[derive(Debug, Clone, Copy)]
pub struct PostgresOptions {
    /// How long an operation waits for a connection before `STORAGE`. While the server is
    /// down every operation that needs it (a shared reservation, a checkpoint) waits this long
    /// for it to come back — riding out a short restart — then fails closed.
    pub acquire_timeout: Duration,
    /// Connections kept per store (per process).
    pub max_connections: u32,
    pub writer: WriterOptions,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            acquire_timeout: Duration::from_secs(10),
            max_connections: 8,
            writer: WriterOptions::default(),
        }
    }
}

/// A PostgreSQL store. See the module documentation.
pub struct PostgresStore {
    inner: Arc<Inner>,
    writer: CallWriter,
    closed: AtomicBool,
    /// Per execution, the checkpoint this store saved last: `(sequence, id)`. The next save
    /// names it as its parent and checks that in the INSERT (see [`insert_checkpoint`]).
    last_saved: parking_lot::Mutex<std::collections::HashMap<String, (i64, i64)>>,
}

/// Executions whose last checkpoint [`PostgresStore::last_saved`] remembers; beyond that it
/// starts afresh (a forgotten one costs its next save the full statement, nothing more).
const LAST_SAVED_MAX: usize = 4096;

struct Inner {
    runtime: tokio::runtime::Runtime,
    pool: PgPool,
    spare: spare::Spare,
}

fn storage(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("23505") => return Error::Conflict(format!("postgres: {}", db.message())),
            Some("23503") => return Error::NotFound(format!("postgres: {}", db.message())),
            _ => {}
        },
        // sqlx's own words ("pool timed out while waiting for an open connection") hide the
        // usual cause: the server is down or unreachable (the pool retries refused connections
        // until its timeout).
        sqlx::Error::PoolTimedOut => {
            return Error::Storage(format!(
                "postgres: no connection to the server within the acquire timeout (is it down or unreachable, or every connection busy?): {e}"
            ));
        }
        _ => {}
    }
    Error::Storage(format!("postgres: {e}"))
}

/// What to change when TLS is why a connection failed (the driver's words name the symptom).
fn tls_hint(e: &sqlx::Error) -> &'static str {
    let text = e.to_string();
    if text.contains("server does not support TLS") {
        " (the URL's sslmode requires TLS and this server does not offer it: enable ssl on the server, or lower sslmode knowingly)"
    } else if text.contains("certificate not valid for name") {
        " (sslmode=verify-full checks the host name: connect by a name the server's certificate carries)"
    } else if text.contains("invalid peer certificate") {
        " (sslrootcert must name the CA that signed the server's certificate)"
    } else {
        ""
    }
}

/// A pooled connection idle this long is pinged before it is used.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

impl Inner {
    /// Runs a future on the store's runtime and waits for it on this thread.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        // On a thread of no runtime (the usual caller), this thread drives the future itself
        // and only the socket's readiness comes from a worker: one thread hand-off fewer than
        // handing the future to a worker and waiting for its answer (a 1 KB checkpoint save
        // measured ~10–25 % faster). Inside another runtime `block_on` would panic, so there
        // the future goes to a worker.
        if tokio::runtime::Handle::try_current().is_err() {
            return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.runtime.block_on(fut)
            }))
            .unwrap_or_else(|_| {
                Err(Error::Internal(
                    "the PostgreSQL task panicked without a result".into(),
                ))
            });
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| Error::Internal("the PostgreSQL task ended without a result".into()))?
    }
}

impl PostgresStore {
    /// Connects (`postgres://user:pass@host:port/db`), applying pending migrations.
    pub fn connect(url: &str) -> Result<PostgresStore> {
        Self::connect_with(url, PostgresOptions::default())
    }

    /// [`PostgresStore::connect`] with options.
    pub fn connect_with(url: &str, options: PostgresOptions) -> Result<PostgresStore> {
        Self::connect_at_version(url, SCHEMA_VERSION, options)
    }

    /// Connects and migrates only up to `version` (for upgrade tests), without a writer for
    /// calls beyond that.
    pub fn create_at_version(url: &str, version: u32) -> Result<()> {
        let store = Self::connect_at_version(url, version, PostgresOptions::default())?;
        store.close()
    }

    fn connect_at_version(
        url: &str,
        version: u32,
        options: PostgresOptions,
    ) -> Result<PostgresStore> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wflo-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let url_owned = url.to_owned();
        let pool = {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            runtime.spawn(async move {
                // One direct connection first: an unreachable server or a bad password fails
                // at once with its own message, instead of after the pool's retries.
                let pool = async {
                    use sqlx::Connection;
                    let probe = sqlx::postgres::PgConnection::connect(&url_owned).await?;
                    let _ = probe.close().await;
                    PgPoolOptions::new()
                        .max_connections(options.max_connections.max(1))
                        // sqlx pings every connection it hands out by default: a round trip
                        // per save, ~100 µs of a ~250 µs 1 KB checkpoint save. A connection in
                        // steady use needs none (sqlx also pings each one as it comes back,
                        // closing any the server dropped); one idle for a while is pinged
                        // first, as a restarted server may have closed it meanwhile.
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                if meta.idle_for >= PING_AFTER_IDLE {
                                    use sqlx::Connection;
                                    conn.ping().await?;
                                }
                                Ok(true)
                            })
                        })
                        .acquire_timeout(options.acquire_timeout)
                        .connect(&url_owned)
                        .await
                }
                .await;
                let _ = tx.send(pool);
            });
            rx.recv()
                .map_err(|_| Error::Internal("PostgreSQL connect task vanished".into()))?
                .map_err(|e| {
                    Error::Storage(format!("cannot connect to PostgreSQL: {e}{}", tls_hint(&e)))
                })?
        };
        let spare = spare::Spare::new(pool.connect_options().as_ref().clone())?;
        let inner = Arc::new(Inner {
            runtime,
            pool,
            spare,
        });
        let pool = inner.pool.clone();
        inner.run(async move { migrate(&pool, version).await })?;
        let sink_inner = inner.clone();
        let writer = CallWriter::start(
            "postgres",
            options.writer,
            Box::new(move |batch| {
                let pool = sink_inner.pool.clone();
                let batch = batch.to_vec();
                sink_inner.run(async move {
                    let mut tx = pool.begin().await.map_err(storage)?;
                    insert_calls(&mut tx, &batch, None).await?;
                    tx.commit().await.map_err(storage)
                })
            }),
        )?;
        Ok(PostgresStore {
            inner,
            writer,
            closed: AtomicBool::new(false),
            last_saved: parking_lot::Mutex::new(std::collections::HashMap::new()),
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("the store is closed".into()))
        } else {
            Ok(())
        }
    }

    /// Runs `f` in a transaction, writing waiting call records first when `with_calls`.
    fn write_tx<T, F, Fut>(&self, with_calls: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Transaction<'static, Postgres>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Transaction<'static, Postgres>, T)>> + Send,
    {
        self.write_tx_for(with_calls, None, f)
    }

    /// [`PostgresStore::write_tx`] for a transaction that also writes the row of execution
    /// `owner`: it is locked together with the rows the waiting call records update.
    fn write_tx_for<T, F, Fut>(&self, with_calls: bool, owner: Option<String>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Transaction<'static, Postgres>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Transaction<'static, Postgres>, T)>> + Send,
    {
        self.check_open()?;
        let calls = if with_calls {
            self.writer.take_all()
        } else {
            Vec::new()
        };
        self.write_tx_with(calls, owner, f)
    }

    /// [`PostgresStore::write_tx_for`] with the waiting calls already taken from the writer
    /// (given back to it when the transaction fails).
    fn write_tx_with<T, F, Fut>(
        &self,
        calls: Vec<CallRecord>,
        owner: Option<String>,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Transaction<'static, Postgres>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Transaction<'static, Postgres>, T)>> + Send,
    {
        let pool = self.inner.pool.clone();
        let batch = calls.clone();
        let result = self.inner.run(async move {
            let mut tx = pool.begin().await.map_err(storage)?;
            insert_calls(&mut tx, &batch, owner.as_deref()).await?;
            let (tx, value) = f(tx).await?;
            tx.commit().await.map_err(storage)?;
            Ok(value)
        });
        if result.is_err() && !calls.is_empty() {
            self.writer.restore(calls);
        }
        result
    }

    /// Runs one call's statements on the store's spare connection, or on a pooled one when
    /// another thread has it (see `spare`).
    fn on_conn<T: Send + 'static>(&self, work: spare::Work<T>) -> Result<T> {
        self.check_open()?;
        let work = match self.inner.spare.try_run(work) {
            Ok(result) => return result,
            Err(work) => work,
        };
        let pool = self.inner.pool.clone();
        self.inner.run(async move {
            let mut conn = pool.acquire().await.map_err(storage)?;
            work(&mut conn).await
        })
    }

    fn read<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(PgPool) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send,
    {
        self.check_open()?;
        let pool = self.inner.pool.clone();
        self.inner.run(async move { f(pool).await })
    }
}

async fn migrate(pool: &PgPool, target: u32) -> Result<()> {
    let mut tx = pool.begin().await.map_err(storage)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    sqlx::query(SCHEMA_VERSION_TABLE)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    // Databases made before checksums were recorded have no column for them yet.
    sqlx::query("ALTER TABLE schema_version ADD COLUMN IF NOT EXISTS checksum TEXT")
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let applied: Vec<(u32, Option<String>)> =
        sqlx::query("SELECT version, checksum FROM schema_version ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(storage)?
            .iter()
            .map(|r| Ok((u(i64::from(r.try_get::<i32, _>(0)?)) as u32, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(storage)?;
    let current = i64::from(applied.last().map_or(0, |(v, _)| *v));
    if current > i64::from(SCHEMA_VERSION) {
        return Err(Error::Storage(format!(
            "the database has schema version {current}, newer than this wflo understands ({SCHEMA_VERSION}); upgrade wflo"
        )));
    }
    for version in check_applied(MIGRATIONS_POSTGRES, &applied)? {
        let m = &MIGRATIONS_POSTGRES[version as usize - 1];
        sqlx::query("UPDATE schema_version SET checksum = $1 WHERE version = $2")
            .bind(checksum(m.sql))
            .bind(version as i32)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
    }
    let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
    for m in MIGRATIONS_POSTGRES
        .iter()
        .filter(|m| i64::from(m.version) > current && m.version <= target)
    {
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::Storage(format!("migration {} failed: {e}", m.name)))?;
        sqlx::query(
            "INSERT INTO schema_version (version, name, applied_at_ms, checksum) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version as i32)
        .bind(m.name)
        .bind(i(now))
        .bind(checksum(m.sql))
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    }
    tx.commit().await.map_err(storage)
}

/// A batch of call records in one statement: the columns as arrays, unnested into rows. A row
/// whose (execution, seq) is taken is skipped and its position (1-based) returned, to be
/// inserted after the execution's last call by [`CALL_INSERT_NEXT_SEQ`] — a resumed execution
/// whose other process numbered calls too.
const CALL_INSERT_BATCH: &str = "WITH input AS (SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], \
     $4::text[], $5::text[], $6::text[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], \
     $13::int8[], $14::int8[], $15::int8[], $16::bool[], $17::bool[], $18::bool[], $19::text[], $20::text[], \
     $21::int8[], $22::int8[], $23::int8[], $24::int4[], $25::text[]) WITH ORDINALITY AS t(execution_id, seq, step, \
     provider, requested_model, model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, \
     cache_write_1h_tokens, reasoning_tokens, cost_nanos, reserved_nanos, overrun_nanos, estimated, usage_missing, \
     stream, status, error, latency_ms, started_at_ms, finished_at_ms, attempt, retry_reason, n)), \
     inserted AS (INSERT INTO llm_calls (execution_id, seq, step, provider, requested_model, model, input_tokens, \
     output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, cost_nanos, \
     reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, started_at_ms, \
     finished_at_ms, attempt, retry_reason) \
     SELECT execution_id, seq, step, provider, requested_model, model, input_tokens, output_tokens, \
     cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, cost_nanos, reserved_nanos, \
     overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, started_at_ms, finished_at_ms, \
     attempt, retry_reason FROM input ORDER BY n \
     ON CONFLICT (execution_id, seq) DO NOTHING RETURNING execution_id, seq) \
     SELECT n FROM input i WHERE NOT EXISTS \
     (SELECT 1 FROM inserted d WHERE d.execution_id = i.execution_id AND d.seq = i.seq) ORDER BY n";

const CALL_INSERT_NEXT_SEQ: &str = "INSERT INTO llm_calls (execution_id, seq, step, provider, requested_model, model, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, \
     cost_nanos, reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, \
     started_at_ms, finished_at_ms, attempt, retry_reason) \
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21, $22, $23, $24 FROM llm_calls WHERE execution_id = $1";

/// [`CALL_INSERT_NEXT_SEQ`] for one call.
fn bind_call_next_seq(
    c: &CallRecord,
) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(CALL_INSERT_NEXT_SEQ)
        .bind(&*c.execution_id)
        .bind(&*c.step)
        .bind(&*c.provider)
        .bind(&*c.requested_model)
        .bind(c.model.as_deref())
        .bind(i(c.usage.input))
        .bind(i(c.usage.output))
        .bind(i(c.usage.cache_read))
        .bind(i(c.usage.cache_write_5m))
        .bind(i(c.usage.cache_write_1h))
        .bind(i(c.usage.reasoning))
        .bind(i(c.cost_nanos))
        .bind(i(c.reserved_nanos))
        .bind(i(c.overrun_nanos))
        .bind(c.estimated)
        .bind(c.usage_missing)
        .bind(c.stream)
        .bind(c.status.as_str())
        .bind(c.error.as_deref())
        .bind(i(c.latency_ms))
        .bind(i(c.started_at_ms))
        .bind(i(c.finished_at_ms))
        .bind(c.attempt as i32)
        .bind(c.retry_reason.as_deref())
}

/// Inserts calls and adds their cost and count to their executions (see the SQLite store).
/// `owner` is an execution the rest of the transaction writes.
async fn insert_calls(
    tx: &mut Transaction<'static, Postgres>,
    calls: &[CallRecord],
    owner: Option<&str>,
) -> Result<()> {
    if calls.is_empty() {
        return Ok(());
    }
    // Lock every execution row the transaction writes, in one order (by id), before writing
    // any. A batch holds the calls of several executions, and the background writer and a
    // checkpoint (which writes its own execution's row too) used to lock them in their own
    // orders: after an outage, with many records waiting, PostgreSQL found deadlocks and
    // aborted checkpoints. FOR UPDATE: what a checkpoint takes on its row anyway.
    let mut ids: Vec<&str> = calls
        .iter()
        .map(|c| &*c.execution_id)
        .chain(owner)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    sqlx::query("SELECT id FROM workflow_executions WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut **tx)
        .await
        .map_err(storage)?;
    let mut taken: Vec<i64> = bind_call_batch(calls)
        .fetch_all(&mut **tx)
        .await
        .map_err(storage)?;
    // A batch holding one (execution, seq) twice: the statement inserts the first and cannot
    // tell the second from it, so the later ones are numbered after the execution's last too.
    let mut seen = std::collections::HashSet::with_capacity(calls.len());
    for (k, c) in calls.iter().enumerate() {
        if !seen.insert((&*c.execution_id, c.seq)) {
            taken.push(k as i64 + 1);
        }
    }
    taken.sort_unstable();
    taken.dedup();
    for n in taken {
        let call = usize::try_from(n - 1)
            .ok()
            .and_then(|k| calls.get(k))
            .ok_or_else(|| {
                Error::Internal(format!("postgres: no call at position {n} of the batch"))
            })?;
        bind_call_next_seq(call)
            .execute(&mut **tx)
            .await
            .map_err(storage)?;
    }
    // Each execution's spend and count, in one statement for the whole batch.
    let (mut ids, mut costs, mut counts): (Vec<&str>, Vec<i64>, Vec<i64>) = Default::default();
    for call in calls {
        let k = match ids.iter().position(|id| *id == &*call.execution_id) {
            Some(k) => k,
            None => {
                ids.push(&call.execution_id);
                costs.push(0);
                counts.push(0);
                ids.len() - 1
            }
        };
        costs[k] += i(call.cost_nanos);
        counts[k] += i64::from(call.status != CallStatus::Refused);
    }
    sqlx::query(
        "UPDATE workflow_executions w SET spent_nanos = w.spent_nanos + t.cost, calls = w.calls + t.n \
         FROM UNNEST($1::text[], $2::int8[], $3::int8[]) AS t(id, cost, n) WHERE w.id = t.id",
    )
    .bind(&ids)
    .bind(&costs)
    .bind(&counts)
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    Ok(())
}

/// [`CALL_INSERT_BATCH`] for `calls`: each column as one array.
fn bind_call_batch(
    calls: &[CallRecord],
) -> sqlx::query::QueryScalar<'_, Postgres, i64, sqlx::postgres::PgArguments> {
    let col = |f: fn(&CallRecord) -> i64| calls.iter().map(f).collect::<Vec<i64>>();
    // Text is bound borrowed: the writer copies no string to send a batch.
    let text = |f: fn(&CallRecord) -> &str| calls.iter().map(f).collect::<Vec<&str>>();
    let maybe =
        |f: fn(&CallRecord) -> Option<&str>| calls.iter().map(f).collect::<Vec<Option<&str>>>();
    let flag = |f: fn(&CallRecord) -> bool| calls.iter().map(f).collect::<Vec<bool>>();
    sqlx::query_scalar(CALL_INSERT_BATCH)
        .bind(text(|c| &c.execution_id))
        .bind(col(|c| i(c.seq)))
        .bind(text(|c| &c.step))
        .bind(text(|c| &c.provider))
        .bind(text(|c| &c.requested_model))
        .bind(maybe(|c| c.model.as_deref()))
        .bind(col(|c| i(c.usage.input)))
        .bind(col(|c| i(c.usage.output)))
        .bind(col(|c| i(c.usage.cache_read)))
        .bind(col(|c| i(c.usage.cache_write_5m)))
        .bind(col(|c| i(c.usage.cache_write_1h)))
        .bind(col(|c| i(c.usage.reasoning)))
        .bind(col(|c| i(c.cost_nanos)))
        .bind(col(|c| i(c.reserved_nanos)))
        .bind(col(|c| i(c.overrun_nanos)))
        .bind(flag(|c| c.estimated))
        .bind(flag(|c| c.usage_missing))
        .bind(flag(|c| c.stream))
        .bind(text(|c| c.status.as_str()))
        .bind(maybe(|c| c.error.as_deref()))
        .bind(col(|c| i(c.latency_ms)))
        .bind(col(|c| i(c.started_at_ms)))
        .bind(col(|c| i(c.finished_at_ms)))
        .bind(calls.iter().map(|c| c.attempt as i32).collect::<Vec<i32>>())
        .bind(maybe(|c| c.retry_reason.as_deref()))
}

const SELECT_EXECUTION: &str = "SELECT id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls, \
     created_at_ms, updated_at_ms, finished_at_ms, approval_above_nanos, max_calls, agent_budgets_json \
     FROM workflow_executions";
// Without execution_id: every query names the execution, and a list of 100 k checkpoints then
// moves 100 k fewer strings over the wire and through the decoder.
const SELECT_CHECKPOINT: &str = "SELECT id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded, \
     state_bytes, state_type FROM checkpoints";
/// [`Store::checkpoints_since`] in one statement, one round trip: a first row with the rollback
/// count (column 10) and the state of checkpoint $3 (columns 11–14, NULL when there is none),
/// then the checkpoints after sequence $2 as [`SELECT_CHECKPOINT`]'s columns (0–8), in order.
/// One statement also reads one snapshot.
const CHECKPOINTS_SINCE: &str = "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 AS part, \
     (SELECT count(*) FROM checkpoint_rollbacks WHERE execution_id = $1), \
     s.state, s.state_encoding, s.state_bytes, s.state_type \
     FROM (SELECT 1) AS one LEFT JOIN checkpoints AS s ON s.execution_id = $1 AND s.id = $3 \
     UNION ALL \
     SELECT id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded, state_bytes, state_type, \
     1, NULL, NULL, NULL, NULL, NULL FROM checkpoints WHERE execution_id = $1 AND sequence > $2 \
     ORDER BY part, 3";
/// [`Store::checkpoints_named`]'s one statement (one snapshot): a head row with the
/// execution's last sequence and its rollback count, then the checkpoints `$listed` selects
/// (their columns as [`checkpoint_row`] reads them, then 1 and NULL), in order.
macro_rules! checkpoints_named {
    ($listed:literal) => {
        concat!(
            "SELECT NULL, NULL, (SELECT max(sequence) FROM checkpoints WHERE execution_id = $1), \
             NULL, NULL, NULL, NULL, NULL, NULL, 0 AS part, \
             (SELECT count(*) FROM checkpoint_rollbacks WHERE execution_id = $1) UNION ALL ",
            $listed,
            " ORDER BY part, 3"
        )
    };
}
/// The checkpoints whose name is in one of the ranges `[$2[i], $3[i])` in byte order: the
/// LangGraph saver's names, each range read over migration 0016's partial index.
const CHECKPOINTS_NAMED: &str = checkpoints_named!(
    "SELECT c.id, c.name, c.sequence, c.parent_id, c.spent_nanos, c.created_at_ms, c.superseded, \
     c.state_bytes, c.state_type, 1, NULL \
     FROM unnest($2::text[], $3::text[]) AS r(lo, hi) JOIN checkpoints c \
     ON c.execution_id = $1 AND (c.name COLLATE \"C\") >= r.lo AND (c.name COLLATE \"C\") < r.hi \
     AND (c.name COLLATE \"C\") >= 'langgraph-' AND (c.name COLLATE \"C\") < 'langgraph0'"
);
/// The checkpoints whose name starts with one of `$2`, for prefixes that are not the saver's:
/// every name of the execution compared.
const CHECKPOINTS_PREFIXED: &str = checkpoints_named!(
    "SELECT id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded, state_bytes, \
     state_type, 1, NULL FROM checkpoints WHERE execution_id = $1 AND name ^@ ANY($2::text[])"
);
const SELECT_CALL: &str = "SELECT execution_id, seq, step, provider, requested_model, model, input_tokens, \
     output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, cost_nanos, \
     reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, started_at_ms, \
     finished_at_ms, attempt, retry_reason FROM llm_calls";

fn execution_row(r: &PgRow) -> Result<ExecutionRecord> {
    let g = |e: sqlx::Error| storage(e);
    Ok(ExecutionRecord {
        id: r.try_get(0).map_err(g)?,
        name: r.try_get(1).map_err(g)?,
        status: ExecutionStatus::from_name(r.try_get::<&str, _>(2).map_err(g)?)
            .map_err(|e| Error::Storage(e.to_string()))?,
        budget_nanos: r.try_get::<Option<i64>, _>(3).map_err(g)?.map(u),
        spent_nanos: u(r.try_get(4).map_err(g)?),
        overrun_nanos: u(r.try_get(5).map_err(g)?),
        calls: u(r.try_get(6).map_err(g)?),
        created_at_ms: u(r.try_get(7).map_err(g)?),
        updated_at_ms: u(r.try_get(8).map_err(g)?),
        finished_at_ms: r.try_get::<Option<i64>, _>(9).map_err(g)?.map(u),
        approval_above_nanos: r.try_get::<Option<i64>, _>(10).map_err(g)?.map(u),
        max_calls: r.try_get::<Option<i64>, _>(11).map_err(g)?.map(u),
        agent_budgets: crate::store::agent_budgets_from_json(
            r.try_get::<Option<String>, _>(12).map_err(g)?.as_deref(),
        )?,
    })
}

fn call_row(r: &PgRow) -> Result<CallRecord> {
    let g = |e: sqlx::Error| storage(e);
    let s =
        |idx: usize| -> Result<Arc<str>> { Ok(Arc::from(r.try_get::<&str, _>(idx).map_err(g)?)) };
    let n = |idx: usize| -> Result<u64> { Ok(u(r.try_get(idx).map_err(g)?)) };
    Ok(CallRecord {
        execution_id: s(0)?,
        seq: n(1)?,
        step: s(2)?,
        provider: s(3)?,
        requested_model: s(4)?,
        model: r.try_get::<Option<&str>, _>(5).map_err(g)?.map(Arc::from),
        usage: Usage {
            input: n(6)?,
            output: n(7)?,
            cache_read: n(8)?,
            cache_write_5m: n(9)?,
            cache_write_1h: n(10)?,
            reasoning: n(11)?,
        },
        cost_nanos: n(12)?,
        reserved_nanos: n(13)?,
        overrun_nanos: n(14)?,
        estimated: r.try_get(15).map_err(g)?,
        usage_missing: r.try_get(16).map_err(g)?,
        stream: r.try_get(17).map_err(g)?,
        status: CallStatus::from_name(r.try_get::<&str, _>(18).map_err(g)?)
            .map_err(|e| Error::Storage(e.to_string()))?,
        error: r.try_get(19).map_err(g)?,
        latency_ms: n(20)?,
        started_at_ms: n(21)?,
        finished_at_ms: n(22)?,
        attempt: r.try_get::<i32, _>(23).map_err(g)?.max(1) as u32,
        retry_reason: r.try_get::<Option<&str>, _>(24).map_err(g)?.map(Arc::from),
    })
}

/// A row of [`SELECT_CHECKPOINT`] from `execution_id`. The columns' types are the migrations'
/// (checked once per statement by the server's row description), so each value is decoded
/// without sqlx's per-value type check: a list of 100 k checkpoints spends ~15 % less.
fn checkpoint_row(r: &PgRow, execution_id: &str) -> Result<CheckpointInfo> {
    let g = |e: sqlx::Error| storage(e);
    Ok(CheckpointInfo {
        id: u(r.try_get_unchecked(0).map_err(g)?),
        execution_id: execution_id.to_owned(),
        name: r.try_get_unchecked(1).map_err(g)?,
        sequence: u(r.try_get_unchecked(2).map_err(g)?),
        parent_id: r.try_get_unchecked::<Option<i64>, _>(3).map_err(g)?.map(u),
        spent_nanos: u(r.try_get_unchecked(4).map_err(g)?),
        created_at_ms: u(r.try_get_unchecked(5).map_err(g)?),
        superseded: r.try_get_unchecked(6).map_err(g)?,
        state_bytes: u(r.try_get_unchecked(7).map_err(g)?),
        content_type: r.try_get_unchecked(8).map_err(g)?,
    })
}

/// A checkpoint to insert, owned so the insert can run on the store's runtime.
struct OwnedCheckpoint {
    execution_id: String,
    name: String,
    spent_nanos: Nanos,
    created_at_ms: u64,
    state: Vec<u8>,
    encoding: &'static str,
    state_bytes: u64,
    content_type: Option<String>,
    /// `(sequence, id)` of the checkpoint this store saved last into the execution, if known.
    after: Option<(i64, i64)>,
}

/// The save after a checkpoint this store saved (`$9` its sequence, `$10` its id): that
/// checkpoint is the parent and the next sequence is one more, if it is still the execution's
/// latest live checkpoint. The INSERT checks so itself, reading the parent's row (by a key
/// each index the plan may pick has whole: id, or execution and sequence):
/// - the parent still there and live: a rollback (by anyone) to an earlier checkpoint
///   superseded it, and pruning that dropped a later checkpoint dropped it too (pruning keeps
///   the latest);
/// - the next sequence free: the unique `(execution_id, sequence)` refuses it if anyone saved
///   in between (sequences are consecutive, so such a save took exactly this one).
///
/// Together: no live checkpoint comes after the parent, so it is the latest. The parent's row
/// also proves the execution exists (it was checked when that row was saved, and executions are
/// never deleted). Otherwise nothing is inserted (or the key refuses it) and the full
/// statement runs. Measured on a 1 KB state: ~20 µs on the server against ~40 µs for the full
/// statement with its two reads of the execution's checkpoints and the foreign key's row lock.
///
/// [`CHECKPOINT_AFTER_SQL`] as it is on a connection of its own: a refused key is an error
/// there, cheaper than `ON CONFLICT` (a speculative insertion, ~2 µs more) and only possible
/// when another saver got in first.
const CHECKPOINT_AFTER_ALONE_SQL: &str = "INSERT INTO checkpoints (execution_id, name, sequence, parent_id, spent_nanos, \
     created_at_ms, superseded, state, state_encoding, state_bytes, state_type) \
     SELECT $1, $2, $9 + 1, $10, $3, $4, FALSE, $5, $6, $7, $8 FROM checkpoints p \
     WHERE p.id = $10 AND p.execution_id = $1 AND p.sequence = $9 AND NOT p.superseded \
     RETURNING id";

/// [`CHECKPOINT_AFTER_ALONE_SQL`] inside a transaction, where an error would end the
/// transaction: a taken sequence inserts nothing instead.
const CHECKPOINT_AFTER_SQL: &str = "INSERT INTO checkpoints (execution_id, name, sequence, parent_id, spent_nanos, \
     created_at_ms, superseded, state, state_encoding, state_bytes, state_type) \
     SELECT $1, $2, $9 + 1, $10, $3, $4, FALSE, $5, $6, $7, $8 FROM checkpoints p \
     WHERE p.id = $10 AND p.execution_id = $1 AND p.sequence = $9 AND NOT p.superseded \
     ON CONFLICT (execution_id, sequence) DO NOTHING RETURNING id";

/// The full save: the INSERT reads the execution's latest checkpoint itself (one step back
/// over the unique `(execution_id, sequence)`): its sequence plus one is the next, and it is
/// the parent unless a rollback superseded it. Then (the first save after a rollback alone)
/// the parent is the target of the execution's last rollback: a rollback leaves its target
/// live and every later checkpoint superseded, and no save has come since, so of the
/// execution's rollback targets still live the one latest in sequence is the latest live
/// checkpoint, whatever order concurrent rollbacks committed in. Read over the execution's
/// rollbacks (few) and their targets' ids, whatever plan the server caches. Only when no target
/// is left (pruning dropped it, and with it every earlier checkpoint) are the execution's
/// checkpoints themselves read back from the end. An index of live checkpoints served this read
/// before (migration 0013) and cost every save ~4 µs on the server: 0017 dropped it.
///
/// The join with the execution's row makes a save for an execution that does not exist insert
/// nothing (migration 0014 dropped the foreign key that refused it).
///
/// Two saves of one execution at once may read the same next sequence; the unique key then
/// makes the later insert do nothing, and it runs again (a new statement, a new snapshot) past
/// the one that won.
const CHECKPOINT_SQL: &str = "INSERT INTO checkpoints (execution_id, name, sequence, parent_id, spent_nanos, \
     created_at_ms, superseded, state, state_encoding, state_bytes, state_type) \
     SELECT $1, $2, COALESCE(l.sequence, 0) + 1, \
     CASE WHEN l.superseded THEN COALESCE((SELECT c.id FROM checkpoint_rollbacks r \
     CROSS JOIN LATERAL (SELECT id, sequence FROM checkpoints WHERE id = r.checkpoint_id AND NOT superseded \
     LIMIT 1) c WHERE r.execution_id = $1 ORDER BY c.sequence DESC LIMIT 1), (SELECT id FROM checkpoints WHERE execution_id = $1 AND NOT superseded \
     ORDER BY sequence DESC LIMIT 1)) ELSE l.id END, $3, $4, FALSE, $5, $6, $7, $8 \
     FROM workflow_executions e LEFT JOIN LATERAL (SELECT id, sequence, superseded FROM checkpoints \
     WHERE execution_id = $1 ORDER BY sequence DESC LIMIT 1) l ON TRUE WHERE e.id = $1 \
     ON CONFLICT (execution_id, sequence) DO NOTHING RETURNING id, sequence, parent_id";

/// A checkpoint INSERT with the checkpoint's own values bound as `$1`…`$8` (each statement
/// above takes them so).
fn checkpoint_query<'q>(
    sql: &'static str,
    cp: &'q OwnedCheckpoint,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(&cp.execution_id)
        .bind(&cp.name)
        .bind(i(cp.spent_nanos))
        .bind(i(cp.created_at_ms))
        .bind(&cp.state)
        .bind(cp.encoding)
        .bind(i(cp.state_bytes))
        .bind(cp.content_type.as_deref())
}

/// Saves a checkpoint in one statement: [`CHECKPOINT_AFTER_ALONE_SQL`] (or, in a transaction
/// `in_tx`, [`CHECKPOINT_AFTER_SQL`]) when the checkpoint this store saved last is known, else or
/// when that one no longer holds, [`CHECKPOINT_SQL`].
///
/// (Migrations 0011/0012's plpgsql `wflo_save_checkpoint` did the same under a lock of the
/// execution's row. It stays in the schema for processes of the earlier version still running
/// during an upgrade.)
async fn insert_checkpoint(
    conn: &mut PgConnection,
    cp: OwnedCheckpoint,
    in_tx: bool,
) -> Result<CheckpointInfo> {
    const ATTEMPTS: usize = 1000;
    let info = |cp: OwnedCheckpoint, id: i64, sequence: i64, parent: Option<i64>| CheckpointInfo {
        id: u(id),
        execution_id: cp.execution_id,
        name: cp.name,
        sequence: u(sequence),
        parent_id: parent.map(u),
        spent_nanos: cp.spent_nanos,
        created_at_ms: cp.created_at_ms,
        superseded: false,
        state_bytes: cp.state_bytes,
        content_type: cp.content_type,
    };
    if let Some((sequence, parent)) = cp.after {
        let sql = if in_tx {
            CHECKPOINT_AFTER_SQL
        } else {
            CHECKPOINT_AFTER_ALONE_SQL
        };
        let saved = checkpoint_query(sql, &cp)
            .bind(sequence)
            .bind(parent)
            .fetch_optional(&mut *conn)
            .await;
        match saved {
            Ok(Some(row)) => {
                let id: i64 = row.try_get(0).map_err(storage)?;
                return Ok(info(cp, id, sequence + 1, Some(parent)));
            }
            // Another saver took the sequence, or the parent is no longer the latest.
            Ok(None) => {}
            Err(sqlx::Error::Database(db)) if !in_tx && db.code().as_deref() == Some("23505") => {}
            Err(e) => return Err(storage(e)),
        }
    }
    for _ in 0..ATTEMPTS {
        let row = checkpoint_query(CHECKPOINT_SQL, &cp)
            .fetch_optional(&mut *conn)
            .await
            .map_err(storage)?;
        if let Some(row) = row {
            let id: i64 = row.try_get(0).map_err(storage)?;
            let sequence: i64 = row.try_get(1).map_err(storage)?;
            let parent: Option<i64> = row.try_get(2).map_err(storage)?;
            return Ok(info(cp, id, sequence, parent));
        }
        // Nothing inserted: another save took the sequence, or there is no such execution.
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workflow_executions WHERE id = $1)")
                .bind(&cp.execution_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(storage)?;
        if !exists {
            return Err(Error::NotFound(format!("execution {}", cp.execution_id)));
        }
    }
    Err(Error::Storage(format!(
        "checkpoint not saved: {ATTEMPTS} other saves of execution {} took each next sequence first",
        cp.execution_id
    )))
}

async fn update_execution(
    tx: &mut Transaction<'static, Postgres>,
    r: &ExecutionRecord,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE workflow_executions SET status = $2, budget_nanos = $3, overrun_nanos = $4, updated_at_ms = $5, \
         finished_at_ms = $6 WHERE id = $1",
    )
    .bind(&r.id)
    .bind(r.status.as_str())
    .bind(r.budget_nanos.map(i))
    .bind(i(r.overrun_nanos))
    .bind(i(r.updated_at_ms))
    .bind(r.finished_at_ms.map(i))
    .execute(&mut **tx)
    .await
    .map_err(storage)?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("execution {}", r.id)));
    }
    Ok(())
}

async fn definition(
    tx: &mut Transaction<'static, Postgres>,
    name: &str,
) -> Result<(Option<Nanos>, Period)> {
    let row = sqlx::query("SELECT limit_nanos, period FROM budget_scope_defs WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await
        .map_err(storage)?
        .ok_or_else(|| crate::store::undefined_scope(name))?;
    let limit: Option<i64> = row.try_get(0).map_err(storage)?;
    let period: &str = row.try_get(1).map_err(storage)?;
    Ok((limit.map(u), Period::from_name(period)?))
}

impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn create_execution(&self, r: &ExecutionRecord) -> Result<()> {
        let r = r.clone();
        self.write_tx(false, move |mut tx| async move {
            sqlx::query(
                "INSERT INTO workflow_executions (id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls, \
                 created_at_ms, updated_at_ms, finished_at_ms, approval_above_nanos, max_calls, \
                 agent_budgets_json) \
                 VALUES ($1, $2, $3, $4, 0, $5, 0, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&r.id)
            .bind(&r.name)
            .bind(r.status.as_str())
            .bind(r.budget_nanos.map(i))
            .bind(i(r.overrun_nanos))
            .bind(i(r.created_at_ms))
            .bind(i(r.updated_at_ms))
            .bind(r.finished_at_ms.map(i))
            .bind(r.approval_above_nanos.map(i))
            .bind(r.max_calls.map(i))
            .bind(crate::store::agent_budgets_json(&r.agent_budgets))
            .execute(&mut *tx)
            .await
            .map_err(|e| match storage(e) {
                Error::Conflict(_) => Error::Conflict(format!("execution {} already exists", r.id)),
                other => other,
            })?;
            Ok((tx, ()))
        })
    }

    fn update_execution(&self, r: &ExecutionRecord) -> Result<()> {
        let r = r.clone();
        self.write_tx_for(true, Some(r.id.clone()), move |mut tx| async move {
            update_execution(&mut tx, &r).await?;
            Ok((tx, ()))
        })
    }

    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        let id = id.to_owned();
        self.read(move |pool| async move {
            let sql = sqlx::AssertSqlSafe(format!("{SELECT_EXECUTION} WHERE id = $1"));
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_optional(&pool)
                .await
                .map_err(storage)?;
            row.as_ref().map(execution_row).transpose()
        })
    }

    fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>> {
        self.read(move |pool| async move {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT_EXECUTION} ORDER BY created_at_ms DESC, id LIMIT $1"
            ));
            let rows = sqlx::query(sql)
                .bind(i(limit as u64))
                .fetch_all(&pool)
                .await
                .map_err(storage)?;
            rows.iter().map(execution_row).collect()
        })
    }

    fn append_calls(&self, calls: Vec<CallRecord>) -> Result<()> {
        self.check_open()?;
        self.writer.push(calls);
        Ok(())
    }

    fn list_calls(&self, execution_id: &str) -> Result<Vec<CallRecord>> {
        self.flush()?;
        let id = execution_id.to_owned();
        self.read(move |pool| async move {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT_CALL} WHERE execution_id = $1 ORDER BY seq"
            ));
            let rows = sqlx::query(sql)
                .bind(id)
                .fetch_all(&pool)
                .await
                .map_err(storage)?;
            rows.iter().map(call_row).collect()
        })
    }

    fn save_checkpoint(
        &self,
        cp: NewCheckpoint<'_>,
        execution: Option<&ExecutionRecord>,
    ) -> Result<CheckpointInfo> {
        let (encoding, bytes) = (cp.state.encoding, cp.state.bytes.to_vec());
        let (execution, exec_id, name) = (
            execution.cloned(),
            cp.execution_id.to_owned(),
            cp.name.to_owned(),
        );
        let (spent, created, state_len) = (cp.spent_nanos, cp.created_at_ms, cp.state.len as u64);
        let save = OwnedCheckpoint {
            execution_id: exec_id,
            name,
            spent_nanos: spent,
            created_at_ms: created,
            state: bytes,
            encoding: encoding.as_str(),
            state_bytes: state_len,
            content_type: cp.state.content_type.clone(),
            after: self.last_saved.lock().get(cp.execution_id).copied(),
        };
        // Nothing else to write with it (no call records waiting or being written, the
        // execution's row unchanged): the save is one statement, one round trip. Otherwise one
        // transaction holds the calls, the row and the checkpoint, so a checkpoint is never
        // stored without the calls made before it.
        self.check_open()?;
        let calls = self.writer.take_all();
        let info = if execution.is_none() && calls.is_empty() {
            self.on_conn(Box::new(move |conn| {
                Box::pin(insert_checkpoint(conn, save, false))
            }))?
        } else {
            let owner = Some(cp.execution_id.to_owned());
            self.write_tx_with(calls, owner, move |mut tx| async move {
                if let Some(execution) = &execution {
                    update_execution(&mut tx, execution).await?;
                }
                let info = insert_checkpoint(&mut tx, save, true).await?;
                Ok((tx, info))
            })?
        };
        // Committed: the next save of this execution names this one as its parent.
        let mut last = self.last_saved.lock();
        if last.len() >= LAST_SAVED_MAX && !last.contains_key(&info.execution_id) {
            last.clear();
        }
        let entry = last.entry(info.execution_id.clone()).or_insert((0, 0));
        // Threads of this process saving into one execution at once: keep the latest.
        if i(info.sequence) > entry.0 {
            *entry = (i(info.sequence), i(info.id));
        }
        drop(last);
        Ok(info)
    }

    fn list_checkpoints_after(
        &self,
        execution_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<CheckpointInfo>> {
        let id = execution_id.to_owned();
        self.on_conn(Box::new(move |conn| {
            Box::pin(async move {
                let sql = sqlx::AssertSqlSafe(format!(
                    "{SELECT_CHECKPOINT} WHERE execution_id = $1 AND sequence > $2 ORDER BY sequence"
                ));
                let rows = sqlx::query(sql)
                    .bind(&id)
                    .bind(i(after_sequence))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(storage)?;
                rows.iter().map(|r| checkpoint_row(r, &id)).collect()
            })
        }))
    }

    fn checkpoint_state(&self, execution_id: &str, checkpoint_id: u64) -> Result<CheckpointState> {
        let id = execution_id.to_owned();
        self.on_conn(Box::new(move |conn| Box::pin(async move {
            let row = sqlx::query("SELECT state, state_encoding, state_bytes, state_type FROM checkpoints WHERE execution_id = $1 AND id = $2")
                .bind(&id)
                .bind(i(checkpoint_id))
                .fetch_optional(&mut *conn)
                .await
                .map_err(storage)?;
            // Not found is an answer, not a failure of the connection.
            Ok(row.map(|row| decode_state(&row)))
        })))?
        .ok_or_else(|| Error::NotFound(format!("checkpoint {checkpoint_id} of execution {execution_id}")))?
    }

    fn rollback(
        &self,
        execution_id: &str,
        name: &str,
        spent_nanos: Nanos,
        at_ms: u64,
        json_only: bool,
    ) -> Result<RolledBack> {
        let (exec_id, name) = (execution_id.to_owned(), name.to_owned());
        // The last saved checkpoint may be superseded now: the next save reads the parent.
        self.last_saved.lock().remove(execution_id);
        self.write_tx_for(true, Some(exec_id.clone()), move |mut tx| async move {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT_CHECKPOINT} WHERE execution_id = $1 AND name = $2 AND NOT superseded ORDER BY sequence DESC LIMIT 1 FOR UPDATE"
            ));
            let row = sqlx::query(sql)
                .bind(&exec_id)
                .bind(&name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(storage)?
                .ok_or_else(|| Error::NotFound(format!("no checkpoint named '{name}' in execution {exec_id}")))?;
            let target = checkpoint_row(&row, &exec_id)?;
            if let (true, Some(content_type)) = (json_only, &target.content_type) {
                return Err(state_codec::binary_not_json(content_type));
            }
            let state_row = sqlx::query("SELECT state, state_encoding, state_bytes, state_type FROM checkpoints WHERE id = $1")
                .bind(i(target.id))
                .fetch_one(&mut *tx)
                .await
                .map_err(storage)?;
            let state = decode_state(&state_row)?;
            let superseded = sqlx::query(
                "UPDATE checkpoints SET superseded = TRUE WHERE execution_id = $1 AND sequence > $2 AND NOT superseded",
            )
            .bind(&exec_id)
            .bind(i(target.sequence))
            .execute(&mut *tx)
            .await
            .map_err(storage)?
            .rows_affected();
            sqlx::query(
                "INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&exec_id)
            .bind(i(target.id))
            .bind(&name)
            .bind(i(superseded))
            .bind(i(spent_nanos))
            .bind(i(at_ms))
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
            let rollback = RollbackRecord {
                execution_id: exec_id,
                checkpoint_id: Some(target.id),
                checkpoint_name: name,
                superseded,
                spent_nanos,
                at_ms,
            };
            Ok((tx, RolledBack { checkpoint: target, state, rollback }))
        })
    }

    fn rollback_count(&self, execution_id: &str) -> Result<u64> {
        let id = execution_id.to_owned();
        self.on_conn(Box::new(move |conn| {
            Box::pin(async move {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM checkpoint_rollbacks WHERE execution_id = $1",
                )
                .bind(&id)
                .fetch_one(&mut *conn)
                .await
                .map_err(storage)?;
                Ok(u(n))
            })
        }))
    }

    fn checkpoints_since(
        &self,
        execution_id: &str,
        after_sequence: u64,
        state_of: Option<u64>,
        _known: Option<KnownSince>, // one round trip either way: the list is read every time
    ) -> Result<CheckpointsSince> {
        let id = execution_id.to_owned();
        // -1 matches no checkpoint: no state asked for.
        let wanted = state_of.map_or(-1, i);
        let rows = self.on_conn(Box::new(move |conn| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(CHECKPOINTS_SINCE))
                    .bind(&id)
                    .bind(i(after_sequence))
                    .bind(wanted)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(storage)
            })
        }))?;
        // The first row is the count and the state (NULL when none was asked for or found),
        // the others are the checkpoints in order.
        let (head, listed) = rows
            .split_first()
            .ok_or_else(|| Error::Storage("checkpoints since: no row came back".into()))?;
        let rollbacks = u(head.try_get(10).map_err(storage)?);
        let state = match state_of {
            None => None,
            Some(_)
                if head
                    .try_get::<Option<&str>, _>(12)
                    .map_err(storage)?
                    .is_some() =>
            {
                Some(decode_state_at(head, 11)?)
            }
            Some(checkpoint_id) => {
                return Err(Error::NotFound(format!(
                    "checkpoint {checkpoint_id} of execution {execution_id}"
                )));
            }
        };
        let checkpoints = listed
            .iter()
            .map(|r| checkpoint_row(r, execution_id))
            .collect::<Result<_>>()?;
        Ok(CheckpointsSince {
            checkpoints,
            rollbacks,
            state,
            version: None,
        })
    }

    fn checkpoints_named(
        &self,
        execution_id: &str,
        prefixes: &[String],
    ) -> Result<CheckpointsNamed> {
        let id = execution_id.to_owned();
        let prefixes = prefixes.to_vec();
        let ends: Option<Vec<String>> = prefixes
            .iter()
            .map(|p| crate::store::langgraph_name_range(p))
            .collect();
        let rows = self.on_conn(Box::new(move |conn| {
            Box::pin(async move {
                let query = match &ends {
                    Some(ends) => sqlx::query(CHECKPOINTS_NAMED)
                        .bind(&id)
                        .bind(&prefixes)
                        .bind(ends),
                    None => sqlx::query(CHECKPOINTS_PREFIXED).bind(&id).bind(&prefixes),
                };
                query.fetch_all(&mut *conn).await.map_err(storage)
            })
        }))?;
        let (head, listed) = rows
            .split_first()
            .ok_or_else(|| Error::Storage("checkpoints named: no row came back".into()))?;
        Ok(CheckpointsNamed {
            last_sequence: head
                .try_get::<Option<i64>, _>(2)
                .map_err(storage)?
                .map_or(0, u),
            rollbacks: u(head.try_get(10).map_err(storage)?),
            checkpoints: listed
                .iter()
                .map(|r| checkpoint_row(r, execution_id).map(NamedCheckpoint::from))
                .collect::<Result<_>>()?,
            version: None,
        })
    }

    fn list_rollbacks(&self, execution_id: &str) -> Result<Vec<RollbackRecord>> {
        let id = execution_id.to_owned();
        self.read(move |pool| async move {
            let rows = sqlx::query(
                "SELECT execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms \
                 FROM checkpoint_rollbacks WHERE execution_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .map_err(storage)?;
            rows.iter()
                .map(|r| {
                    Ok(RollbackRecord {
                        execution_id: r.try_get(0).map_err(storage)?,
                        checkpoint_id: r.try_get::<Option<i64>, _>(1).map_err(storage)?.map(u),
                        checkpoint_name: r.try_get(2).map_err(storage)?,
                        superseded: u(r.try_get(3).map_err(storage)?),
                        spent_nanos: u(r.try_get(4).map_err(storage)?),
                        at_ms: u(r.try_get(5).map_err(storage)?),
                    })
                })
                .collect()
        })
    }

    fn prune_checkpoints(&self, execution_id: &str, keep_last: usize) -> Result<u64> {
        let id = execution_id.to_owned();
        self.last_saved.lock().remove(execution_id);
        self.write_tx(false, move |mut tx| async move {
            let n = sqlx::query(
                "DELETE FROM checkpoints WHERE execution_id = $1 AND id NOT IN \
                 (SELECT id FROM checkpoints WHERE execution_id = $1 ORDER BY sequence DESC LIMIT $2)",
            )
            .bind(&id)
            .bind(i(keep_last as u64))
            .execute(&mut *tx)
            .await
            .map_err(storage)?
            .rows_affected();
            Ok((tx, n))
        })
    }

    fn define_shared_scope(&self, def: &SharedScopeDef, now_ms: u64) -> Result<()> {
        super::memory::check_scope_name(&def.name)?;
        let def = def.clone();
        self.write_tx(false, move |mut tx| async move {
            sqlx::query(
                "INSERT INTO budget_scope_defs (name, limit_nanos, period, updated_at_ms, allowances) \
                 VALUES ($1, $2, $3, $4, COALESCE($5, TRUE)) \
                 ON CONFLICT (name) DO UPDATE SET limit_nanos = EXCLUDED.limit_nanos, period = EXCLUDED.period, \
                 updated_at_ms = EXCLUDED.updated_at_ms, \
                 allowances = COALESCE($5, budget_scope_defs.allowances)",
            )
            .bind(&def.name)
            .bind(def.limit_nanos.map(i))
            .bind(def.period.as_str())
            .bind(i(now_ms))
            .bind(def.allowances)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
            sqlx::query("UPDATE budget_scopes SET limit_nanos = $2 WHERE name = $1")
                .bind(&def.name)
                .bind(def.limit_nanos.map(i))
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
            Ok((tx, ()))
        })
    }

    fn shared_scope_names(&self) -> Result<Vec<String>> {
        self.read(move |pool| async move {
            let rows = sqlx::query("SELECT name FROM budget_scope_defs ORDER BY name")
                .fetch_all(&pool)
                .await
                .map_err(storage)?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0).map_err(storage))
                .collect()
        })
    }

    fn shared_scope(&self, name: &str, now_ms: u64) -> Result<SharedScopeFigures> {
        let name = name.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let (limit, period) = definition(&mut tx, &name).await?;
            let key = period.key(&name, now_ms);
            let defined = sqlx::query(
                "SELECT d.allowances, (SELECT COALESCE(SUM(amount_nanos), 0)::BIGINT FROM budget_reservations \
                 WHERE scope_key = $2 AND sync_seq IS NOT NULL AND amount_nanos > 0), \
                 (SELECT COUNT(DISTINCT holder) FROM budget_reservations \
                 WHERE scope_key = $2 AND sync_seq IS NOT NULL AND amount_nanos > 0) \
                 FROM budget_scope_defs d WHERE d.name = $1",
            )
            .bind(&name)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await
            .map_err(storage)?;
            let allowances: bool = defined.try_get(0).map_err(storage)?;
            let allowance_nanos = u(defined.try_get(1).map_err(storage)?);
            let allowance_holders = u(defined.try_get(2).map_err(storage)?);
            let row = sqlx::query("SELECT spent_nanos, reserved_nanos, overrun_nanos, refusing FROM budget_scopes WHERE key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(storage)?;
            let (spent, reserved, overrun, refusing) = match row {
                Some(r) => (
                    u(r.try_get(0).map_err(storage)?),
                    u(r.try_get(1).map_err(storage)?),
                    u(r.try_get(2).map_err(storage)?),
                    r.try_get(3).map_err(storage)?,
                ),
                None => (0, 0, 0, false),
            };
            let figures = SharedScopeFigures {
                name,
                key,
                period,
                limit_nanos: limit,
                spent_nanos: spent,
                reserved_nanos: reserved,
                overrun_nanos: overrun,
                refusing,
                allowances,
                allowance_nanos,
                allowance_holders,
            };
            Ok((tx, figures))
        })
    }

    fn reserve_shared(&self, r: &SharedReserve<'_>) -> Result<Vec<String>> {
        let id = r.id.to_owned();
        let scopes = r.scopes.to_vec();
        let (amount, holder, exec) = (
            r.amount_nanos,
            r.holder.to_owned(),
            r.execution_id.map(str::to_owned),
        );
        let (now, lease) = (r.now_ms, r.lease_until_ms);
        self.write_tx(false, move |mut tx| async move {
            let mut keys = Vec::with_capacity(scopes.len());
            for name in &scopes {
                let (limit, period) = definition(&mut tx, name).await?;
                let key = period.key(name, now);
                sqlx::query(
                    "INSERT INTO budget_scopes (key, name, limit_nanos, updated_at_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(&key)
                .bind(name)
                .bind(limit.map(i))
                .bind(i(now))
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
                keys.push(key);
            }
            // Expired leases on these scopes are charged first (locking, in key order, every
            // scope row they touch), then the rows are locked in one order so concurrent
            // reservations never deadlock.
            budgets::charge_expired(&mut tx, Some(&keys), now).await?;
            let mut order: Vec<String> = keys.clone();
            order.sort();
            order.dedup();
            for key in &order {
                let row = sqlx::query(
                    "SELECT limit_nanos, spent_nanos, reserved_nanos, refusing FROM budget_scopes WHERE key = $1 FOR UPDATE",
                )
                .bind(key)
                .fetch_one(&mut *tx)
                .await
                .map_err(storage)?;
                let limit: Option<i64> = row.try_get(0).map_err(storage)?;
                let spent = u(row.try_get(1).map_err(storage)?);
                let reserved = u(row.try_get::<i64, _>(2).map_err(storage)?);
                let refusing: bool = row.try_get(3).map_err(storage)?;
                if let Some(limit) = limit.map(u) {
                    if refusing || spent.saturating_add(reserved).saturating_add(amount) > limit {
                        // Nothing of this reservation is booked yet: the refusal commits the
                        // charges made above, and the time allowance holders hear of.
                        sqlx::query("UPDATE budget_scopes SET last_refusal_ms = $2 WHERE key = $1")
                            .bind(key)
                            .bind(i(now))
                            .execute(&mut *tx)
                            .await
                            .map_err(storage)?;
                        let refusal = Error::BudgetExceeded(Box::new(BudgetExceeded {
                            scope: key.clone(),
                            limit_nanos: limit,
                            spent_nanos: spent,
                            reserved_nanos: reserved,
                            requested_nanos: amount,
                            retry_note: None,
                            hint: None,
                        }));
                        return Ok((tx, Err(refusal)));
                    }
                }
            }
            for key in &order {
                sqlx::query("UPDATE budget_scopes SET reserved_nanos = reserved_nanos + $2, updated_at_ms = $3 WHERE key = $1")
                    .bind(key)
                    .bind(i(amount))
                    .bind(i(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(storage)?;
                sqlx::query(
                    "INSERT INTO budget_reservations (id, scope_key, amount_nanos, holder, execution_id, lease_until_ms, \
                     created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&id)
                .bind(key)
                .bind(i(amount))
                .bind(&holder)
                .bind(exec.as_deref())
                .bind(i(lease))
                .bind(i(now))
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
            }
            Ok((tx, Ok(keys)))
        })?
    }

    fn settle_shared(
        &self,
        id: &str,
        keys: &[String],
        actual: Nanos,
        now_ms: u64,
    ) -> Result<Nanos> {
        let (id, keys) = (id.to_owned(), keys.to_vec());
        self.write_tx(false, move |mut tx| async move {
            let mut worst = 0;
            for key in &keys {
                let held: Option<i64> = sqlx::query(
                    "DELETE FROM budget_reservations WHERE id = $1 AND scope_key = $2 RETURNING amount_nanos",
                )
                .bind(&id)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(storage)?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(storage)?;
                let held = held.map_or(0, u);
                let overrun = actual.saturating_sub(held);
                worst = worst.max(overrun);
                sqlx::query(
                    "UPDATE budget_scopes SET reserved_nanos = GREATEST(reserved_nanos - $2, 0), spent_nanos = spent_nanos + $3, \
                     overrun_nanos = overrun_nanos + $4, refusing = refusing OR ($4 > 0 AND limit_nanos IS NOT NULL), \
                     updated_at_ms = $5 WHERE key = $1",
                )
                .bind(key)
                .bind(i(held))
                .bind(i(actual))
                .bind(i(overrun))
                .bind(i(now_ms))
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
            }
            Ok((tx, worst))
        })
    }

    fn sync_allowance(&self, sync: &AllowanceSync<'_>) -> Result<AllowanceSynced> {
        let call = budgets::SyncCall::new(sync);
        // The common case is one statement; leases ended on the row are charged first, in a
        // transaction with the sync.
        let first = call.clone();
        match self.read(move |pool| async move { first.run(&pool).await })? {
            Some(synced) => Ok(synced),
            None => self.write_tx(false, move |mut tx| async move {
                let key = [call.key.clone()];
                budgets::charge_expired(&mut tx, Some(&key), call.now_ms).await?;
                let synced = call.run(&mut *tx).await?;
                let synced = synced.ok_or_else(|| {
                    Error::Storage(
                        "an allowance sync still met expired leases after charging them".into(),
                    )
                })?;
                Ok((tx, synced))
            }),
        }
    }

    fn release_shared(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write_tx(false, move |mut tx| async move {
            sqlx::query(
                "WITH gone AS (DELETE FROM budget_reservations WHERE id = $1 RETURNING scope_key, amount_nanos) \
                 UPDATE budget_scopes s SET reserved_nanos = GREATEST(s.reserved_nanos - gone.amount_nanos, 0) \
                 FROM gone WHERE s.key = gone.scope_key",
            )
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
            Ok((tx, ()))
        })
    }

    fn renew_shared(&self, id: &str, lease_until_ms: u64) -> Result<bool> {
        let id = id.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let n = sqlx::query("UPDATE budget_reservations SET lease_until_ms = $2 WHERE id = $1")
                .bind(&id)
                .bind(i(lease_until_ms))
                .execute(&mut *tx)
                .await
                .map_err(storage)?
                .rows_affected();
            Ok((tx, n > 0))
        })
    }

    fn create_approval(
        &self,
        a: &crate::records::ApprovalRecord,
    ) -> Result<crate::records::ApprovalRecord> {
        let a = a.clone();
        self.write_tx(false, move |mut tx| async move {
            let made = approvals::create(&mut tx, &a).await?;
            Ok((tx, made))
        })
    }

    fn approval(&self, id: &str) -> Result<crate::records::ApprovalRecord> {
        let id = id.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let a = approvals::get(&mut tx, &id, false).await?;
            Ok((tx, a))
        })
    }

    fn list_approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<crate::records::ApprovalRecord>> {
        self.write_tx(false, move |mut tx| async move {
            let v = approvals::list(&mut tx, pending_only, limit).await?;
            Ok((tx, v))
        })
    }

    fn decide_approval(
        &self,
        d: &super::ApprovalDecision<'_>,
    ) -> Result<crate::records::ApprovalRecord> {
        let (id, by, note) = (d.id.to_owned(), d.by.to_owned(), d.note.map(str::to_owned));
        let (status, at_ms) = (d.status, d.at_ms);
        self.write_tx(false, move |mut tx| async move {
            let d = super::ApprovalDecision {
                id: &id,
                status,
                by: &by,
                note: note.as_deref(),
                at_ms,
            };
            let a = approvals::decide(&mut tx, &d).await?;
            Ok((tx, a))
        })
    }

    fn step_breaker(
        &self,
        step: &crate::resilience::breaker::machine::BreakerStep<'_>,
    ) -> Result<crate::resilience::breaker::machine::StoredStep> {
        let (name, config, holder) = (
            step.name.to_owned(),
            step.config.clone(),
            step.holder.to_owned(),
        );
        let (op, now_ms) = (step.op, step.now_ms);
        self.write_tx(false, move |mut tx| async move {
            let step = crate::resilience::breaker::machine::BreakerStep {
                name: &name,
                config: &config,
                op,
                now_ms,
                holder: &holder,
            };
            let done = breakers::step(&mut tx, &step).await?;
            Ok((tx, done))
        })
    }

    fn shared_breaker(&self, name: &str) -> Result<Option<super::SharedBreakerRow>> {
        let name = name.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let row = breakers::get(&mut tx, &name).await?;
            Ok((tx, row))
        })
    }

    fn shared_breakers(&self) -> Result<Vec<super::SharedBreakerRow>> {
        self.write_tx(false, move |mut tx| async move {
            let rows = breakers::list(&mut tx).await?;
            Ok((tx, rows))
        })
    }

    fn record_breaker_transition(&self, t: &crate::resilience::Transition) -> Result<()> {
        let t = t.clone();
        self.write_tx(false, move |mut tx| async move {
            breakers::record(&mut tx, &t).await?;
            Ok((tx, ()))
        })
    }

    fn breaker_transitions(
        &self,
        q: &super::TransitionQuery<'_>,
    ) -> Result<Vec<crate::resilience::Transition>> {
        let breaker = q.breaker.map(str::to_owned);
        let (since_ms, until_ms, limit) = (q.since_ms, q.until_ms, q.limit);
        self.write_tx(false, move |mut tx| async move {
            let q = super::TransitionQuery {
                breaker: breaker.as_deref(),
                since_ms,
                until_ms,
                limit,
            };
            let v = breakers::transitions(&mut tx, &q).await?;
            Ok((tx, v))
        })
    }

    fn try_acquire(&self, a: &super::Acquire<'_>) -> Result<Option<Vec<super::ResourceHolder>>> {
        let (resource, hold_id, holder, workflow) = (
            a.resource.to_owned(),
            a.hold_id.to_owned(),
            a.holder.to_owned(),
            a.workflow_id.to_owned(),
        );
        let a = super::Acquire {
            resource: "",
            hold_id: "",
            holder: "",
            workflow_id: "",
            ..a.clone()
        };
        self.write_tx(false, move |mut tx| async move {
            let a = super::Acquire {
                resource: &resource,
                hold_id: &hold_id,
                holder: &holder,
                workflow_id: &workflow,
                ..a
            };
            let got = resources::try_acquire(&mut tx, &a).await?;
            Ok((tx, got))
        })
    }

    fn release_resource(&self, hold_id: &str) -> Result<bool> {
        let id = hold_id.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let n = sqlx::query("DELETE FROM resource_holds WHERE hold_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(storage)?
                .rows_affected();
            Ok((tx, n > 0))
        })
    }

    fn renew_resource(&self, hold_id: &str, lease_until_ms: u64) -> Result<bool> {
        let id = hold_id.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let n = sqlx::query("UPDATE resource_holds SET lease_until_ms = $2 WHERE hold_id = $1")
                .bind(&id)
                .bind(i(lease_until_ms))
                .execute(&mut *tx)
                .await
                .map_err(storage)?
                .rows_affected();
            Ok((tx, n > 0))
        })
    }

    fn record_resource_timeout(&self, resource: &str, contended: bool) -> Result<()> {
        let resource = resource.to_owned();
        self.write_tx(false, move |mut tx| async move {
            resources::record_timeout(&mut tx, &resource, contended).await?;
            Ok((tx, ()))
        })
    }

    fn resource_figures(&self, resource: &str, now_ms: u64) -> Result<super::ResourceFigures> {
        let resource = resource.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let f = resources::figures(&mut tx, &resource, now_ms).await?;
            Ok((tx, f))
        })
    }

    fn reset_resource_stats(&self, resource: &str) -> Result<()> {
        let resource = resource.to_owned();
        self.write_tx(false, move |mut tx| async move {
            sqlx::query(
                "UPDATE resource_stats SET acquisitions = 0, contentions = 0, timeouts = 0, \
                 total_wait_ms = 0, max_wait_ms = 0 WHERE resource = $1",
            )
            .bind(&resource)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
            Ok((tx, ()))
        })
    }

    fn reclaim_expired_shared(&self, now_ms: u64) -> Result<Vec<ChargedReservation>> {
        self.write_tx(false, move |mut tx| async move {
            let charged = budgets::charge_expired(&mut tx, None, now_ms).await?;
            Ok((tx, charged))
        })
    }

    fn credit_shared(&self, c: &CreditShared<'_>) -> Result<SharedCredit> {
        let (name, by, reason) = (c.name.to_owned(), c.by.to_owned(), c.reason.to_owned());
        let (amount, now) = (c.amount_nanos, c.now_ms);
        self.write_tx(false, move |mut tx| async move {
            let (_, period) = definition(&mut tx, &name).await?;
            let key = period.key(&name, now);
            let credit = CreditShared {
                name: &name,
                amount_nanos: amount,
                by: &by,
                reason: &reason,
                now_ms: now,
            };
            let done = budgets::credit(&mut tx, &credit, &key).await?;
            Ok((tx, done))
        })
    }

    fn shared_credits(&self, name: &str) -> Result<Vec<SharedCredit>> {
        let name = name.to_owned();
        self.write_tx(false, move |mut tx| async move {
            definition(&mut tx, &name).await?;
            let credits = budgets::credits(&mut tx, &name).await?;
            Ok((tx, credits))
        })
    }

    fn shared_scope_holders(&self, name: &str, now_ms: u64) -> Result<Vec<String>> {
        let name = name.to_owned();
        self.write_tx(false, move |mut tx| async move {
            let (_, period) = definition(&mut tx, &name).await?;
            let holders = budgets::holders(&mut tx, &period.key(&name, now_ms), now_ms).await?;
            Ok((tx, holders))
        })
    }

    fn check_accepting(&self) -> Result<()> {
        self.writer.check_accepting()
    }

    fn flush(&self) -> Result<()> {
        self.write_tx(true, |tx| async move { Ok((tx, ())) })
    }

    fn close(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.writer.stop();
        self.flush()?;
        self.closed.store(true, Ordering::Release);
        let pool = self.inner.pool.clone();
        self.inner.spare.close();
        self.inner.run(async move {
            pool.close().await;
            Ok(())
        })
    }
}

fn decode_state(row: &PgRow) -> Result<CheckpointState> {
    decode_state_at(row, 0)
}

/// The state in columns `first..first + 4` of a row: state, state_encoding, state_bytes, state_type.
fn decode_state_at(row: &PgRow, first: usize) -> Result<CheckpointState> {
    let bytes: Vec<u8> = row.try_get(first).map_err(storage)?;
    let encoding: &str = row.try_get(first + 1).map_err(storage)?;
    let len: i64 = row.try_get(first + 2).map_err(storage)?;
    let content_type: Option<String> = row.try_get(first + 3).map_err(storage)?;
    state_codec::decode(
        StateEncoding::from_name(encoding)?,
        bytes,
        u(len) as usize,
        content_type,
    )
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

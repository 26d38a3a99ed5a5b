//! The default store: one SQLite file in WAL mode (rusqlite, SQLite compiled in).
//!
//! Several processes on one machine may share the file: every write transaction starts with
//! `BEGIN IMMEDIATE` (it takes the write lock up front instead of failing half-way with
//! "database is locked"), and a busy timeout makes writers wait their turn. One connection per
//! store, shared by the caller's threads and the background call writer.

mod approvals;
mod breakers;
mod budgets;
mod checkpoints;
mod resources;
mod rows;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::migrate::{
    MIGRATIONS_SQLITE, SCHEMA_VERSION, SCHEMA_VERSION_TABLE, check_applied, checksum,
};
use super::writer::{CallWriter, WriterOptions};
use super::{
    ChargedReservation, CheckpointState, CheckpointsNamed, CheckpointsSince, CreditShared,
    KnownSince, NewCheckpoint, RolledBack, SharedCredit, SharedReserve, SharedScopeDef,
    SharedScopeFigures, Store,
};
use crate::error::{Error, Result};
use crate::money::Nanos;
use crate::records::{CallRecord, CheckpointInfo, ExecutionRecord, RollbackRecord};

pub use super::url::Synchronous;

self_cell::self_cell!(
    /// The store's connection, and the statements kept prepared on it for its whole life
    /// ([`checkpoints::Kept`]). Read as the connection itself (it derefs to it).
    struct Db {
        owner: Connection,
        #[not_covariant]
        dependent: Kept,
    }
);

use checkpoints::Kept;

impl std::ops::Deref for Db {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.borrow_owner()
    }
}

// SAFETY: a `Db` is a connection (Send) and statements that borrow that connection and no
// other. They move together, and the store reaches either only through its mutex (`&mut Db`
// or `&Db` under the lock, never from two threads at once), so the statements never run on
// one thread while the connection is used on another. (A statement is not Send by itself
// only because it could outlive a move of a connection it shares with others.)
unsafe impl Send for Db {}

fn pragma(s: Synchronous) -> &'static str {
    match s {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    }
}

/// How a SQLite store is opened.
#[derive(Debug, Clone, Copy)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// How long a writer waits for another process's write lock before `STORAGE`.
    pub busy_timeout: Duration,
    pub writer: WriterOptions,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(10),
            writer: WriterOptions::default(),
        }
    }
}

/// A SQLite store. See the module documentation.
pub struct SqliteStore {
    path: String,
    conn: Arc<Mutex<Db>>,
    writer: CallWriter,
    closed: AtomicBool,
    rowids: checkpoints::RowIds,
    /// The high half of every version this store answers with (a random number drawn at
    /// open): SQLite's data version counts one connection's view only, so a version another
    /// store (another engine, the file opened again) gave must not match this one's.
    version_tag: u64,
}

pub(super) fn storage(e: rusqlite::Error) -> Error {
    // SQLite's own words name the condition but not what to look at.
    let hint = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                " (another connection held the write lock longer than the busy timeout)"
            }
            rusqlite::ErrorCode::SystemIoFailure
                if f.extended_code == rusqlite::ffi::SQLITE_IOERR_WRITE =>
            {
                " (a write failed: is the disk full, or the file over a size limit?)"
            }
            _ => "",
        },
        _ => "",
    };
    Error::Storage(format!("sqlite: {e}{hint}"))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` (`:memory:` for a private in-memory
    /// database), applying pending migrations. A new file is readable by its owner only.
    pub fn open(path: &str, options: SqliteOptions) -> Result<SqliteStore> {
        let conn = Self::connect(path, options)?;
        let mut conn = conn;
        migrate(&mut conn, SCHEMA_VERSION)?;
        Self::with_connection(path, conn, options)
    }

    /// Creates a database at `path` with the schema of an older `version` (for upgrade
    /// tests: open it with [`SqliteStore::open`] afterwards to migrate it).
    pub fn create_at_version(path: &str, version: u32) -> Result<()> {
        let mut conn = Self::connect(path, SqliteOptions::default())?;
        migrate(&mut conn, version)
    }

    fn connect(path: &str, options: SqliteOptions) -> Result<Connection> {
        if path != ":memory:" {
            prepare_file(Path::new(path))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::Storage(format!("cannot open SQLite database '{path}': {e}")))?;
        conn.busy_timeout(options.busy_timeout).map_err(storage)?;
        checkpoints::register_functions(&conn)?;
        if path != ":memory:" {
            // Switching a new file to WAL needs an exclusive lock that SQLite does not wait
            // for when the waiting could deadlock (several connections opening the same new
            // file at once: each holds a shared lock and wants the exclusive one), so the busy
            // handler is not called: retry within the busy timeout instead.
            let mode: String = retry_while_busy(options.busy_timeout, || {
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            })
            .map_err(storage)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Storage(format!(
                    "'{path}' cannot use WAL mode (got {mode})"
                )));
            }
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
            pragma(options.synchronous)
        ))
        .map_err(storage)?;
        Ok(conn)
    }

    fn with_connection(
        path: &str,
        conn: Connection,
        options: SqliteOptions,
    ) -> Result<SqliteStore> {
        let conn = Arc::new(Mutex::new(Db::new(conn, |_| Kept::default())));
        let sink_conn = conn.clone();
        let writer = CallWriter::start(
            "sqlite",
            options.writer,
            Box::new(move |batch| write_calls(&sink_conn.lock(), batch)),
        )?;
        Ok(SqliteStore {
            path: path.to_owned(),
            conn,
            writer,
            closed: AtomicBool::new(false),
            rowids: Default::default(),
            version_tag: version_tag()?,
        })
    }

    /// The database file (or `:memory:`).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("the store is closed".into()))
        } else {
            Ok(())
        }
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, writing the waiting call records first
    /// when `with_calls` (so what the transaction commits never precedes a call it follows).
    fn write_tx<T>(&self, with_calls: bool, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.write_tx_then(with_calls, f, |_, _| {})
    }

    /// [`write_tx`](Self::write_tx), then `committed` with the connection still held (what it
    /// reads follows this commit and precedes any other of this connection).
    fn write_tx_then<T>(
        &self,
        with_calls: bool,
        f: impl FnOnce(&Connection) -> Result<T>,
        committed: impl FnOnce(&Connection, &T),
    ) -> Result<T> {
        self.check_open()?;
        let calls = if with_calls {
            self.writer.take_all()
        } else {
            Vec::new()
        };
        self.write_calls_then(calls, f, committed)
    }

    /// [`write_tx_then`](Self::write_tx_then) with the waiting call records already taken:
    /// `calls` are written first, and put back if the transaction fails.
    fn write_calls_then<T>(
        &self,
        calls: Vec<CallRecord>,
        f: impl FnOnce(&Connection) -> Result<T>,
        committed: impl FnOnce(&Connection, &T),
    ) -> Result<T> {
        let conn = self.conn.lock();
        let result = immediate(&conn, |tx| {
            insert_calls(tx, &calls)?;
            f(tx)
        });
        if let Ok(value) = &result {
            committed(&conn, value);
        }
        drop(conn);
        if result.is_err() && !calls.is_empty() {
            self.writer.restore(calls);
        }
        result
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_open()?;
        f(&self.conn.lock())
    }
}

/// A random number in the high 32 bits (see `SqliteStore::version_tag`).
fn version_tag() -> Result<u64> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no random number for the store: {e}")))?;
    Ok(u64::from(u32::from_le_bytes(bytes)) << 32)
}

/// Creates the file with owner-only permissions before SQLite opens it, and its directory.
fn prepare_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Storage(format!("cannot create directory {}: {e}", dir.display()))
        })?;
    }
    if !path.exists() {
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        open.open(path)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Runs `f` again while SQLite answers BUSY or LOCKED without having waited, for at most
/// `timeout`.
fn retry_while_busy<T>(
    timeout: std::time::Duration,
    mut f: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < timeout =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Applies migrations up to `target` under the write lock, so concurrent openers run each
/// exactly once.
///
/// Foreign keys are off while they run, as SQLite's procedure for rebuilding a table asks
/// (lang_altertable.html; 0015 rebuilds `checkpoints`): with them on, dropping the old table
/// would apply the `ON DELETE` action of every row referring to it (each rollback's
/// `checkpoint_id` set to NULL). The pragma does nothing inside a transaction, so it is turned
/// off before and back on after, whatever the outcome; the keys are checked before the commit
/// instead.
fn migrate(conn: &mut Connection, target: u32) -> Result<()> {
    let enforced: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(storage)?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(storage)?;
    let result = apply_migrations(conn, target);
    let restored = if enforced {
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(storage)
    } else {
        Ok(())
    };
    result.and(restored)
}

/// [`migrate`]'s transaction, run with foreign keys off.
fn apply_migrations(conn: &mut Connection, target: u32) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage)?;
    tx.execute_batch(SCHEMA_VERSION_TABLE).map_err(storage)?;
    // Databases made before checksums were recorded have no column for them yet.
    let has_checksum: bool = tx
        .query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('schema_version') WHERE name = 'checksum'",
            [],
            |r| r.get(0),
        )
        .map_err(storage)?;
    if !has_checksum {
        tx.execute_batch("ALTER TABLE schema_version ADD COLUMN checksum TEXT")
            .map_err(storage)?;
    }
    let applied: Vec<(u32, Option<String>)> = {
        let mut stmt = tx
            .prepare("SELECT version, checksum FROM schema_version ORDER BY version")
            .map_err(storage)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(storage)?
    };
    let current = applied.last().map_or(0, |(v, _)| *v);
    if current > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "the database has schema version {current}, newer than this wflo understands ({SCHEMA_VERSION}); upgrade wflo"
        )));
    }
    for version in check_applied(MIGRATIONS_SQLITE, &applied)? {
        let m = &MIGRATIONS_SQLITE[version as usize - 1];
        tx.execute(
            "UPDATE schema_version SET checksum = ?1 WHERE version = ?2",
            params![checksum(m.sql), version],
        )
        .map_err(storage)?;
    }
    let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
    let mut last_applied = None;
    for m in MIGRATIONS_SQLITE
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        tx.execute_batch(m.sql)
            .map_err(|e| Error::Storage(format!("migration {} failed: {e}", m.name)))?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at_ms, checksum) VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, now as i64, checksum(m.sql)],
        )
        .map_err(storage)?;
        last_applied = Some(m.name);
    }
    if let Some(name) = last_applied {
        check_foreign_keys(&tx, name)?;
    }
    tx.commit().map_err(storage)
}

/// Fails the migrations (rolled back with their transaction) when `PRAGMA foreign_key_check`
/// finds a row whose foreign key refers to no row: foreign keys are off while migrations run,
/// so nothing else would notice. `last` names the last migration applied.
fn check_foreign_keys(tx: &Connection, last: &str) -> Result<()> {
    let mut stmt = tx.prepare("PRAGMA foreign_key_check").map_err(storage)?;
    let mut rows = stmt.query([]).map_err(storage)?;
    let (mut count, mut first) = (0u64, None);
    while let Some(row) = rows.next().map_err(storage)? {
        if first.is_none() {
            let table: String = row.get(0).map_err(storage)?;
            let rowid: Option<i64> = row.get(1).map_err(storage)?;
            let parent: String = row.get(2).map_err(storage)?;
            first = Some(format!(
                "{table} row {} refers to no row of {parent}",
                rowid.map_or_else(|| "?".to_owned(), |r| r.to_string())
            ));
        }
        count += 1;
    }
    match first {
        None => Ok(()),
        Some(first) => Err(Error::Storage(format!(
            "the migrations up to {last} would leave {count} row(s) whose foreign key refers to no row \
             (first: {first}); nothing was applied"
        ))),
    }
}

fn write_calls(conn: &Connection, calls: &[CallRecord]) -> Result<()> {
    immediate(conn, |tx| insert_calls(tx, calls))
}

/// Runs `f` between `BEGIN IMMEDIATE` and `COMMIT` (`ROLLBACK` when it fails). The three
/// statements are prepared once per connection: parsing them again on every transaction cost
/// a fifth of a small checkpoint's time.
fn immediate<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    in_transaction(conn, "BEGIN IMMEDIATE", f)
}

/// `f` in one read transaction: what it reads is one snapshot.
pub(super) fn deferred<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    in_transaction(conn, "BEGIN", f)
}

/// `f` between `begin` and COMMIT (ROLLBACK when it fails), each a cached statement: parsing
/// them again on every use cost more than some of the reads they wrap.
fn in_transaction<T>(
    conn: &Connection,
    begin: &str,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    conn.prepare_cached(begin)
        .and_then(|mut s| s.execute([]))
        .map_err(storage)?;
    match f(conn) {
        Ok(value) => match conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
        {
            Ok(_) => Ok(value),
            Err(e) => {
                let _ = conn
                    .prepare_cached("ROLLBACK")
                    .and_then(|mut s| s.execute([]));
                Err(storage(e))
            }
        },
        Err(e) => {
            let _ = conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
            Err(e)
        }
    }
}

/// Inserts call records and adds their cost and count to their executions. A sequence number
/// already taken (two processes resuming one execution) gets the next free one instead.
pub(super) fn insert_calls(tx: &Connection, calls: &[CallRecord]) -> Result<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(rows::INSERT_CALL).map_err(storage)?;
    let mut renumber = tx
        .prepare_cached(rows::INSERT_CALL_NEXT_SEQ)
        .map_err(storage)?;
    let mut totals: Vec<(&str, u64, u64)> = Vec::new();
    for call in calls {
        let inserted = insert
            .execute(rusqlite::params_from_iter(rows::call_params(
                call,
                call.seq as i64,
            )))
            .map_err(storage)?;
        if inserted == 0 {
            renumber
                .execute(rusqlite::params_from_iter(rows::call_params(call, 0)))
                .map_err(storage)?;
        }
        let counted = u64::from(call.status != crate::records::CallStatus::Refused);
        match totals.iter_mut().find(|t| t.0 == &*call.execution_id) {
            Some(t) => {
                t.1 += call.cost_nanos;
                t.2 += counted;
            }
            None => totals.push((&call.execution_id, call.cost_nanos, counted)),
        }
    }
    let mut update = tx
        .prepare_cached("UPDATE workflow_executions SET spent_nanos = spent_nanos + ?2, calls = calls + ?3 WHERE id = ?1")
        .map_err(storage)?;
    for (id, cost, count) in totals {
        update
            .execute(params![id, cost as i64, count as i64])
            .map_err(storage)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    /// A local file: writing prose is cheaper than compressing it (see `state_codec`).
    fn state_compression(&self) -> super::state_codec::Compression {
        super::state_codec::Compression::WhenFourFold
    }

    fn create_execution(&self, r: &ExecutionRecord) -> Result<()> {
        self.write_tx(false, |tx| {
            tx.execute(
                "INSERT INTO workflow_executions (id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls, \
                 created_at_ms, updated_at_ms, finished_at_ms, approval_above_nanos, max_calls, \
                 agent_budgets_json) \
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    r.id,
                    r.name,
                    r.status.as_str(),
                    r.budget_nanos.map(|b| b as i64),
                    r.overrun_nanos as i64,
                    r.created_at_ms as i64,
                    r.updated_at_ms as i64,
                    r.finished_at_ms.map(|f| f as i64),
                    r.approval_above_nanos.map(|n| n.min(i64::MAX as u64) as i64),
                    r.max_calls.map(|n| n.min(i64::MAX as u64) as i64),
                    crate::store::agent_budgets_json(&r.agent_budgets)
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    Error::Conflict(format!("execution {} already exists", r.id))
                }
                _ => storage(e),
            })?;
            Ok(())
        })
    }

    fn update_execution(&self, r: &ExecutionRecord) -> Result<()> {
        self.write_tx(true, |tx| update_execution(tx, r))
    }

    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        self.read(|c| {
            c.query_row(
                &format!("{} WHERE id = ?1", rows::SELECT_EXECUTION),
                [id],
                rows::execution,
            )
            .optional()
            .map_err(storage)
        })
    }

    fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "{} ORDER BY created_at_ms DESC, id LIMIT ?1",
                    rows::SELECT_EXECUTION
                ))
                .map_err(storage)?;
            let rows = stmt
                .query_map([limit.min(i64::MAX as usize) as i64], rows::execution)
                .map_err(storage)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
        })
    }

    fn append_calls(&self, calls: Vec<CallRecord>) -> Result<()> {
        self.check_open()?;
        self.writer.push(calls);
        Ok(())
    }

    fn list_calls(&self, execution_id: &str) -> Result<Vec<CallRecord>> {
        self.flush()?;
        self.read(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "{} WHERE execution_id = ?1 ORDER BY seq",
                    rows::SELECT_CALL
                ))
                .map_err(storage)?;
            let rows = stmt
                .query_map([execution_id], rows::call)
                .map_err(storage)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
        })
    }

    fn save_checkpoint(
        &self,
        cp: NewCheckpoint<'_>,
        execution: Option<&ExecutionRecord>,
    ) -> Result<CheckpointInfo> {
        self.check_open()?;
        let calls = self.writer.take_all();
        // The unread next save reads its id and parent from the table: not an error.
        let note_tail = |c: &Connection, info: &CheckpointInfo| {
            if let Ok(version) = checkpoints::data_version(c) {
                self.rowids.saved(&info.execution_id, info.id, version);
            }
        };
        if calls.is_empty() && execution.is_none() {
            // Nothing else to write: one statement, when this connection saved the
            // execution's last checkpoint and nothing was committed since.
            let mut conn = self.conn.lock();
            if let Some(info) = checkpoints::save_on_tail(&mut conn, &self.rowids, &cp)? {
                note_tail(&conn, &info);
                return Ok(info);
            }
        }
        self.write_calls_then(
            calls,
            |tx| {
                if let Some(execution) = execution {
                    update_execution(tx, execution)?;
                }
                let version = checkpoints::data_version(tx)?;
                checkpoints::save(tx, &self.rowids, &cp, version)
            },
            note_tail,
        )
    }

    fn list_checkpoints_after(
        &self,
        execution_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<CheckpointInfo>> {
        self.read(|c| checkpoints::list(c, &self.rowids, execution_id, after_sequence))
    }

    fn checkpoint_state(&self, execution_id: &str, checkpoint_id: u64) -> Result<CheckpointState> {
        self.read(|c| checkpoints::state(c, execution_id, checkpoint_id))
    }

    fn rollback(
        &self,
        execution_id: &str,
        name: &str,
        spent_nanos: Nanos,
        at_ms: u64,
        json_only: bool,
    ) -> Result<RolledBack> {
        self.write_tx(true, |tx| {
            checkpoints::rollback(
                tx,
                &self.rowids,
                execution_id,
                name,
                spent_nanos,
                at_ms,
                json_only,
            )
        })
    }

    fn rollback_count(&self, execution_id: &str) -> Result<u64> {
        self.read(|c| checkpoints::rollback_count(c, execution_id))
    }

    fn checkpoints_since(
        &self,
        execution_id: &str,
        after_sequence: u64,
        state_of: Option<u64>,
        known: Option<KnownSince>,
    ) -> Result<CheckpointsSince> {
        self.read(|c| {
            checkpoints::since(
                c,
                &self.rowids,
                execution_id,
                after_sequence,
                state_of,
                known,
                self.version_tag,
            )
        })
    }

    fn checkpoints_named(
        &self,
        execution_id: &str,
        prefixes: &[String],
    ) -> Result<CheckpointsNamed> {
        self.read(|c| checkpoints::named(c, &self.rowids, execution_id, prefixes, self.version_tag))
    }

    fn list_rollbacks(&self, execution_id: &str) -> Result<Vec<RollbackRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms \
                     FROM checkpoint_rollbacks WHERE execution_id = ?1 ORDER BY id",
                )
                .map_err(storage)?;
            let rows = stmt.query_map([execution_id], rows::rollback).map_err(storage)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
        })
    }

    fn prune_checkpoints(&self, execution_id: &str, keep_last: usize) -> Result<u64> {
        self.write_tx(false, |tx| {
            checkpoints::prune(tx, &self.rowids, execution_id, keep_last)
        })
    }

    fn define_shared_scope(&self, def: &SharedScopeDef, now_ms: u64) -> Result<()> {
        self.write_tx(false, |tx| budgets::define(tx, def, now_ms))
    }

    fn shared_scope(&self, name: &str, now_ms: u64) -> Result<SharedScopeFigures> {
        self.read(|c| budgets::figures(c, name, now_ms))
    }

    fn shared_scope_names(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT name FROM budget_scope_defs ORDER BY name")
                .map_err(storage)?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(storage)?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(storage)?;
            Ok(names)
        })
    }

    fn reserve_shared(&self, r: &SharedReserve<'_>) -> Result<Vec<String>> {
        // A refusal commits the expired leases charged on the way (nothing of the refused
        // reservation is booked before its check).
        self.write_tx(false, |tx| match budgets::reserve(tx, r) {
            Err(refusal @ Error::BudgetExceeded(_)) => Ok(Err(refusal)),
            other => other.map(Ok),
        })?
    }

    fn settle_shared(
        &self,
        id: &str,
        keys: &[String],
        actual: Nanos,
        now_ms: u64,
    ) -> Result<Nanos> {
        self.write_tx(false, |tx| budgets::settle(tx, id, keys, actual, now_ms))
    }

    fn release_shared(&self, id: &str) -> Result<()> {
        self.write_tx(false, |tx| budgets::release(tx, id))
    }

    fn sync_allowance(
        &self,
        s: &crate::store::AllowanceSync<'_>,
    ) -> Result<crate::store::AllowanceSynced> {
        self.write_tx(false, |tx| budgets::sync_allowance(tx, s))
    }

    fn renew_shared(&self, id: &str, lease_until_ms: u64) -> Result<bool> {
        self.write_tx(false, |tx| {
            let n = tx
                .execute(
                    "UPDATE budget_reservations SET lease_until_ms = ?2 WHERE id = ?1",
                    params![id, lease_until_ms as i64],
                )
                .map_err(storage)?;
            Ok(n > 0)
        })
    }

    fn reclaim_expired_shared(&self, now_ms: u64) -> Result<Vec<ChargedReservation>> {
        self.write_tx(false, |tx| budgets::charge_expired(tx, None, now_ms))
    }

    fn credit_shared(&self, c: &CreditShared<'_>) -> Result<SharedCredit> {
        self.write_tx(false, |tx| budgets::credit(tx, c))
    }

    fn shared_credits(&self, name: &str) -> Result<Vec<SharedCredit>> {
        self.read(|c| budgets::credits(c, name))
    }

    fn shared_scope_holders(&self, name: &str, now_ms: u64) -> Result<Vec<String>> {
        self.read(|c| budgets::holders(c, name, now_ms))
    }

    fn try_acquire(
        &self,
        a: &crate::store::Acquire<'_>,
    ) -> Result<Option<Vec<crate::store::ResourceHolder>>> {
        self.write_tx(false, |tx| resources::try_acquire(tx, a))
    }

    fn release_resource(&self, hold_id: &str) -> Result<bool> {
        self.write_tx(false, |tx| resources::release(tx, hold_id))
    }

    fn renew_resource(&self, hold_id: &str, lease_until_ms: u64) -> Result<bool> {
        self.write_tx(false, |tx| resources::renew(tx, hold_id, lease_until_ms))
    }

    fn record_resource_timeout(&self, resource: &str, contended: bool) -> Result<()> {
        self.write_tx(false, |tx| {
            resources::record_timeout(tx, resource, contended)
        })
    }

    fn resource_figures(
        &self,
        resource: &str,
        now_ms: u64,
    ) -> Result<crate::store::ResourceFigures> {
        self.read(|c| resources::figures(c, resource, now_ms))
    }

    fn reset_resource_stats(&self, resource: &str) -> Result<()> {
        self.write_tx(false, |tx| resources::reset_stats(tx, resource))
    }

    fn create_approval(
        &self,
        a: &crate::records::ApprovalRecord,
    ) -> Result<crate::records::ApprovalRecord> {
        self.write_tx(false, |tx| approvals::create(tx, a))
    }

    fn approval(&self, id: &str) -> Result<crate::records::ApprovalRecord> {
        self.read(|c| approvals::get(c, id))
    }

    fn list_approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<crate::records::ApprovalRecord>> {
        self.read(|c| approvals::list(c, pending_only, limit))
    }

    fn step_breaker(
        &self,
        step: &crate::resilience::breaker::machine::BreakerStep<'_>,
    ) -> Result<crate::resilience::breaker::machine::StoredStep> {
        self.write_tx(false, |tx| breakers::step(tx, step))
    }

    fn shared_breaker(&self, name: &str) -> Result<Option<crate::store::SharedBreakerRow>> {
        self.read(|c| breakers::get(c, name))
    }

    fn shared_breakers(&self) -> Result<Vec<crate::store::SharedBreakerRow>> {
        self.read(breakers::list)
    }

    fn record_breaker_transition(&self, t: &crate::resilience::Transition) -> Result<()> {
        self.write_tx(false, |tx| breakers::record(tx, t))
    }

    fn breaker_transitions(
        &self,
        q: &crate::store::TransitionQuery<'_>,
    ) -> Result<Vec<crate::resilience::Transition>> {
        self.read(|c| breakers::transitions(c, q))
    }

    fn decide_approval(
        &self,
        d: &crate::store::ApprovalDecision<'_>,
    ) -> Result<crate::records::ApprovalRecord> {
        self.write_tx(false, |tx| approvals::decide(tx, d))
    }

    fn check_accepting(&self) -> Result<()> {
        self.writer.check_accepting()
    }

    fn flush(&self) -> Result<()> {
        self.write_tx(true, |_| Ok(()))
    }

    fn close(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.writer.stop();
        self.flush()?;
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

fn update_execution(tx: &Connection, r: &ExecutionRecord) -> Result<()> {
    let n = tx
        .prepare_cached(
            "UPDATE workflow_executions SET status = ?2, budget_nanos = ?3, overrun_nanos = ?4, updated_at_ms = ?5, \
             finished_at_ms = ?6 WHERE id = ?1",
        )
        .map_err(storage)?
        .execute(params![
            r.id,
            r.status.as_str(),
            r.budget_nanos.map(|b| b as i64),
            r.overrun_nanos as i64,
            r.updated_at_ms as i64,
            r.finished_at_ms.map(|f| f as i64)
        ])
        .map_err(storage)?;
    if n == 0 {
        return Err(Error::NotFound(format!("execution {}", r.id)));
    }
    Ok(())
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // A store dropped without close still writes what it buffered.
        let _ = self.close();
    }
}

//! Checkpoints in SQLite. A checkpoint's id is `(rowid of its execution << 32) | sequence`,
//! so one execution's checkpoints are one contiguous range of the table's b-tree: saving one
//! writes that b-tree alone (no secondary index page), which keeps a checkpoint within a small
//! margin of a bare insert of the same bytes; listing is a range scan.

use rusqlite::{Connection, OptionalExtension, params};

use super::{rows, storage};
use crate::error::{Error, Result};
use crate::money::Nanos;
use crate::records::{CheckpointInfo, RollbackRecord};
use crate::store::state_codec::{self, CheckpointState, StateEncoding};
use crate::store::{
    CheckpointsNamed, CheckpointsSince, KnownSince, NamedCheckpoint, NewCheckpoint, RolledBack,
};

/// Executions' rowids, looked up once per execution and process: a rowid never changes (wflo
/// never deletes an execution), and the lookup was a tenth of a checkpoint save. Beside each,
/// the execution's last checkpoint as this connection saved it (see [`Tail`]).
#[derive(Default)]
pub struct RowIds(parking_lot::Mutex<crate::fasthash::FastMap<String, Known>>);

#[derive(Clone, Copy)]
struct Known {
    rowid: i64,
    tail: Option<Tail>,
}

/// The id and parent of the next checkpoint of an execution, valid while the database's data
/// version (SQLite's `SQLITE_FCNTL_DATA_VERSION`: it changes with every commit, this
/// connection's or another's, in any process) is still `version`. Reading it instead of the
/// table saves a statement, a sixth of a small save.
#[derive(Clone, Copy)]
struct Tail {
    next_id: i64,
    parent: Option<i64>,
    version: u32,
}

/// More executions than a process works on at once: past this, the cache starts again.
const ROWIDS_KEPT: usize = 10_000;

impl RowIds {
    /// The id range `[lo, hi]` of an execution's checkpoints, and its tail as last saved here.
    fn lookup(&self, c: &Connection, execution_id: &str) -> Result<(i64, i64, Option<Tail>)> {
        let cached = self.0.lock().get(execution_id).copied();
        let known = match cached {
            Some(known) => known,
            None => {
                let rowid: i64 = c
                    .prepare_cached("SELECT rowid FROM workflow_executions WHERE id = ?1")
                    .and_then(|mut s| s.query_row([execution_id], |r| r.get(0)).optional())
                    .map_err(storage)?
                    .ok_or_else(|| Error::NotFound(format!("execution {execution_id}")))?;
                let known = Known { rowid, tail: None };
                let mut kept = self.0.lock();
                if kept.len() >= ROWIDS_KEPT {
                    kept.clear();
                }
                kept.insert(execution_id.to_owned(), known);
                known
            }
        };
        let rowid = known.rowid;
        if !(0..(1 << 31)).contains(&rowid) {
            return Err(Error::Storage(format!(
                "execution row {rowid} is out of the checkpoint id range"
            )));
        }
        let lo = rowid << 32;
        Ok((lo, lo | 0xFFFF_FFFF, known.tail))
    }

    /// The id range `[lo, hi]` of an execution's checkpoints.
    fn range(&self, c: &Connection, execution_id: &str) -> Result<(i64, i64)> {
        self.lookup(c, execution_id).map(|(lo, hi, _)| (lo, hi))
    }

    /// Notes checkpoint `id` as the execution's last, committed when the data version became
    /// `version` (read after the commit, before the connection is let go).
    pub fn saved(&self, execution_id: &str, id: u64, version: u32) {
        if let Some(known) = self.0.lock().get_mut(execution_id) {
            known.tail = Some(Tail {
                next_id: id as i64 + 1,
                parent: Some(id as i64),
                version,
            });
        }
    }
}

/// The database's data version: it changes whenever the database's content does, by this
/// connection or any other (SQLite's `SQLITE_FCNTL_DATA_VERSION`; read within a transaction
/// it counts every commit before it).
pub fn data_version(c: &Connection) -> Result<u32> {
    let mut version: u32 = 0;
    // SAFETY: the handle is the connection's own and open for as long as `c` is borrowed;
    // "main" is NUL-terminated; for this opcode SQLite writes one u32 through the pointer.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            c.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_DATA_VERSION,
            (&raw mut version).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        return Err(Error::Storage(format!(
            "sqlite: cannot read the data version (code {rc})"
        )));
    }
    Ok(version)
}

/// The INSERT of a checkpoint's row whose id is the SQL expression `$id`; its other values are
/// `?2` to `?11`.
macro_rules! insert_checkpoint {
    ($id:literal) => {
        concat!(
            "INSERT INTO checkpoints (id, execution_id, name, sequence, parent_id, spent_nanos, \
             created_at_ms, superseded, state, state_encoding, state_bytes, state_type) VALUES (",
            $id,
            ", ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11)"
        )
    };
}

/// The SQL function that lets the one-statement save below check, inside the statement's own
/// write transaction, that nothing was committed since this connection's last save:
/// `wflo_tail_id(version, id)` is `id` while the database's data version is still `version`,
/// else an error (and the statement, with its implicit transaction, does nothing).
/// (Named in [`save_on_tail`]'s statement too.)
const TAIL_ID_FUNCTION: &std::ffi::CStr = c"wflo_tail_id";

/// Registers [`TAIL_ID_FUNCTION`] on `c`: callable from this connection's own statements only
/// (`SQLITE_DIRECTONLY`: not from a trigger or view someone put in the file).
pub fn register_functions(c: &Connection) -> Result<()> {
    // SAFETY: the handle is the connection's own; the name is NUL-terminated and static;
    // `tail_id` is a plain C function with no user data to free.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_create_function_v2(
            c.handle(),
            TAIL_ID_FUNCTION.as_ptr(),
            2,
            rusqlite::ffi::SQLITE_UTF8 | rusqlite::ffi::SQLITE_DIRECTONLY,
            std::ptr::null_mut(),
            Some(tail_id),
            None,
            None,
            None,
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        return Err(Error::Storage(format!(
            "sqlite: cannot register {TAIL_ID_FUNCTION:?} (code {rc})"
        )));
    }
    Ok(())
}

/// [`TAIL_ID_FUNCTION`]'s body. It runs inside SQLite's statement, so it must not unwind: it
/// only reads integers, the data version, and sets the result.
unsafe extern "C" fn tail_id(
    ctx: *mut rusqlite::ffi::sqlite3_context,
    argc: std::os::raw::c_int,
    argv: *mut *mut rusqlite::ffi::sqlite3_value,
) {
    use rusqlite::ffi;
    // SAFETY: SQLite calls this with `argc` (2, as registered) valid values in `argv` and the
    // context of the running statement, whose connection is open for the call's duration.
    unsafe {
        let args = std::slice::from_raw_parts(argv, argc as usize);
        let expected = ffi::sqlite3_value_int64(args[0]);
        let mut version: u32 = 0;
        let rc = ffi::sqlite3_file_control(
            ffi::sqlite3_context_db_handle(ctx),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_DATA_VERSION,
            (&raw mut version).cast(),
        );
        if rc == ffi::SQLITE_OK && i64::from(version) == expected {
            ffi::sqlite3_result_value(ctx, args[1]);
        } else {
            ffi::sqlite3_result_error(
                ctx,
                c"wflo: checkpoints changed since the last save".as_ptr(),
                -1,
            );
        }
    }
}

/// Statements of the hot path kept prepared on the store's connection for its life: taking one
/// from rusqlite's statement cache and giving it back hashes its SQL text twice and moves it
/// through an LRU list, which was a twentieth of a 1 KB save (0.3 µs of 6).
#[derive(Default)]
pub struct Kept<'c> {
    save_on_tail: Option<rusqlite::Statement<'c>>,
}

/// Saves a checkpoint in one autocommit statement, with the id and parent that follow this
/// connection's last save of the execution, when nothing was committed since (checked inside
/// the statement's transaction by [`TAIL_ID_FUNCTION`]). `None` when that cannot be known or
/// is no longer so: the caller saves it in a transaction instead ([`save`]); the statement
/// that failed wrote nothing. (BEGIN and COMMIT as statements of their own cost a twentieth
/// of a small save.)
pub fn save_on_tail(
    db: &mut super::Db,
    ids: &RowIds,
    cp: &NewCheckpoint<'_>,
) -> Result<Option<CheckpointInfo>> {
    let (lo, hi, tail) = ids.lookup(db, cp.execution_id)?;
    let Some(tail) = tail.filter(|t| t.next_id <= hi) else {
        return Ok(None);
    };
    let inserted = db.with_dependent_mut(|c, kept| {
        let insert = match &mut kept.save_on_tail {
            Some(insert) => insert,
            slot => slot.insert(c.prepare_with_flags(
                insert_checkpoint!("wflo_tail_id(?12, ?1)"),
                rusqlite::PrepFlags::SQLITE_PREPARE_PERSISTENT,
            )?),
        };
        insert_row(
            insert,
            cp,
            tail.next_id,
            tail.next_id - lo,
            tail.parent,
            Some(tail.version),
        )
    });
    Ok(inserted
        .ok()
        .map(|_| info(cp, tail.next_id, tail.next_id - lo, tail.parent)))
}

/// Saves a checkpoint in the write transaction `tx`. Its id and parent come from the
/// execution's tail as this connection last saved it when nothing was committed since
/// (`version`: the data version read in `tx`), else from the table.
/// (One `INSERT … VALUES ((SELECT …), …) RETURNING` computing them inside was measured slower
/// than these cached statements: RETURNING alone cost a third of a small save.)
pub fn save(
    tx: &Connection,
    ids: &RowIds,
    cp: &NewCheckpoint<'_>,
    version: u32,
) -> Result<CheckpointInfo> {
    let (lo, hi, tail) = ids.lookup(tx, cp.execution_id)?;
    let (id, parent) = match tail.filter(|t| t.version == version) {
        Some(t) => (t.next_id, t.parent),
        None => next_id_and_parent(tx, lo, hi)?,
    };
    if id > hi {
        return Err(Error::Storage(format!(
            "execution {} has no checkpoint ids left",
            cp.execution_id
        )));
    }
    let sequence = id - lo;
    tx.prepare_cached(insert_checkpoint!("?1"))
        .and_then(|mut s| insert_row(&mut s, cp, id, sequence, parent, None))
        .map_err(storage)?;
    Ok(info(cp, id, sequence, parent))
}

/// Runs an [`insert_checkpoint!`] statement for checkpoint `id`, `sequence` of its execution,
/// after `parent`; `tail_version` is bound as `?12` (the statement of [`save_on_tail`]).
fn insert_row(
    insert: &mut rusqlite::Statement<'_>,
    cp: &NewCheckpoint<'_>,
    id: i64,
    sequence: i64,
    parent: Option<i64>,
    tail_version: Option<u32>,
) -> rusqlite::Result<()> {
    let values: [&dyn rusqlite::ToSql; 11] = [
        &id,
        &cp.execution_id,
        &cp.name,
        &sequence,
        &parent,
        &(cp.spent_nanos as i64),
        &(cp.created_at_ms as i64),
        &&cp.state.bytes[..],
        &cp.state.encoding.as_str(),
        &(cp.state.len as i64),
        &cp.state.content_type,
    ];
    for (at, value) in values.into_iter().enumerate() {
        insert.raw_bind_parameter(at + 1, value)?;
    }
    if let Some(version) = tail_version {
        insert.raw_bind_parameter(12, i64::from(version))?;
    }
    insert.raw_execute().map(|_| ())
}

/// What was saved: checkpoint `id`, `sequence` of its execution, after `parent`.
fn info(cp: &NewCheckpoint<'_>, id: i64, sequence: i64, parent: Option<i64>) -> CheckpointInfo {
    CheckpointInfo {
        id: id as u64,
        execution_id: cp.execution_id.to_owned(),
        name: cp.name.to_owned(),
        sequence: sequence as u64,
        parent_id: parent.map(|p| p as u64),
        spent_nanos: cp.spent_nanos,
        created_at_ms: cp.created_at_ms,
        superseded: false,
        state_bytes: cp.state.len as u64,
        content_type: cp.state.content_type.clone(),
    }
}

/// The next id of the execution whose ids are `[lo, hi]` (after its highest, superseded or
/// not) and the parent of a checkpoint saved now (its latest live one). One seek reads the
/// highest row; only when that one is superseded (after a rollback) is the live one looked for.
fn next_id_and_parent(tx: &Connection, lo: i64, hi: i64) -> Result<(i64, Option<i64>)> {
    let last: Option<(i64, bool)> = tx
        .prepare_cached(
            "SELECT id, superseded FROM checkpoints WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(storage)?;
    match last {
        None => Ok((lo + 1, None)),
        Some((last, false)) => Ok((last + 1, Some(last))),
        Some((last, true)) => {
            let live: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM checkpoints WHERE id BETWEEN ?1 AND ?2 AND superseded = 0 \
                     ORDER BY id DESC LIMIT 1",
                )
                .and_then(|mut s| s.query_row(params![lo, hi], |r| r.get(0)).optional())
                .map_err(storage)?;
            Ok((last + 1, live))
        }
    }
}

/// The checkpoints after sequence `after` (a range scan from there: sequences are the low bits
/// of the ids).
pub fn list(
    c: &Connection,
    ids: &RowIds,
    execution_id: &str,
    after: u64,
) -> Result<Vec<CheckpointInfo>> {
    let (lo, hi) = match ids.range(c, execution_id) {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let lo = lo + after.min(0xFFFF_FFFF) as i64 + 1;
    let mut stmt = c
        .prepare_cached(&format!(
            "{} WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
            rows::SELECT_CHECKPOINT
        ))
        .map_err(storage)?;
    let rows = stmt
        .query_map(params![lo, hi], rows::checkpoint)
        .map_err(storage)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
}

pub fn state(c: &Connection, execution_id: &str, checkpoint_id: u64) -> Result<CheckpointState> {
    let row = c
        .prepare_cached("SELECT state, state_encoding, state_bytes, state_type FROM checkpoints WHERE id = ?1 AND execution_id = ?2")
        .and_then(|mut s| s.query_row(params![checkpoint_id as i64, execution_id], rows::state).optional())
        .map_err(storage)?;
    let (bytes, encoding, len, content_type) = row.ok_or_else(|| {
        Error::NotFound(format!(
            "checkpoint {checkpoint_id} of execution {execution_id}"
        ))
    })?;
    state_codec::decode(
        StateEncoding::from_name(&encoding)?,
        bytes,
        len.max(0) as usize,
        content_type,
    )
}

/// How many rollbacks an execution has had.
pub fn rollback_count(c: &Connection, execution_id: &str) -> Result<u64> {
    c.prepare_cached("SELECT count(*) FROM checkpoint_rollbacks WHERE execution_id = ?1")
        .and_then(|mut s| s.query_row([execution_id], |r| r.get::<_, i64>(0)))
        .map(|n| n.max(0) as u64)
        .map_err(storage)
}

/// [`Store::checkpoints_since`](crate::store::Store::checkpoints_since) in one read
/// transaction: the list, the count and the state from one snapshot of the file, so a
/// rollback by another process is seen by all three or by none. (Three autocommit reads, in
/// the default's order, were measured ~1 µs slower from Python: each takes the WAL's read
/// lock again.)
pub fn since(
    c: &Connection,
    ids: &RowIds,
    execution_id: &str,
    after: u64,
    state_of: Option<u64>,
    known: Option<KnownSince>,
    tag: u64,
) -> Result<CheckpointsSince> {
    let Some(known) = known else {
        return since_in_snapshot(c, ids, execution_id, after, state_of, tag);
    };
    // One autocommit read (the state, else a statement that reads nothing) and the version it
    // was read at: while that is the reader's, nothing was committed since, and no transaction,
    // list or count is needed. A state never changes, so it stands when the version moved.
    let state = match state_of {
        Some(id) => Some(state(c, execution_id, id)?),
        None => {
            open_snapshot(c)?;
            None
        }
    };
    let version = tag | u64::from(data_version(c)?);
    if version == known.version {
        return Ok(CheckpointsSince {
            checkpoints: Vec::new(),
            rollbacks: known.rollbacks,
            state,
            version: Some(version),
        });
    }
    let mut since = since_in_snapshot(c, ids, execution_id, after, None, tag)?;
    since.state = state;
    Ok(since)
}

/// The list, the count, the state asked for and the version (`tag` its high half), all from
/// one read transaction.
fn since_in_snapshot(
    c: &Connection,
    ids: &RowIds,
    execution_id: &str,
    after: u64,
    state_of: Option<u64>,
    tag: u64,
) -> Result<CheckpointsSince> {
    super::deferred(c, |tx| {
        let state = state_of.map(|id| state(tx, execution_id, id)).transpose()?;
        if state.is_none() {
            open_snapshot(tx)?; // BEGIN reads nothing: the version below must be this snapshot's
        }
        Ok(CheckpointsSince {
            version: Some(tag | u64::from(data_version(tx)?)),
            checkpoints: list(tx, ids, execution_id, after)?,
            rollbacks: rollback_count(tx, execution_id)?,
            state,
        })
    })
}

/// [`Store::checkpoints_named`](crate::store::Store::checkpoints_named) in one read
/// transaction. A prefix of the LangGraph saver's names is read as a range of the partial index
/// over them (migration 0016): the thread's records alone, and from the index alone, which
/// holds all a [`NamedCheckpoint`] is (its id is the row's, the sequence the id's low bits, and
/// migration 0018 added whether it is superseded). Reading each row as well cost a seek per
/// record: a new LangGraph saver's first load of a thread of 45 records took 215 µs, most of
/// it there. Any other prefix compares the name of every checkpoint of the execution.
pub fn named(
    c: &Connection,
    ids: &RowIds,
    execution_id: &str,
    prefixes: &[String],
    tag: u64,
) -> Result<CheckpointsNamed> {
    super::deferred(c, |tx| {
        open_snapshot(tx)?;
        let version = Some(tag | u64::from(data_version(tx)?));
        let rollbacks = rollback_count(tx, execution_id)?;
        let (lo, hi) = match ids.range(tx, execution_id) {
            Ok(r) => r,
            Err(Error::NotFound(_)) => {
                return Ok(CheckpointsNamed {
                    rollbacks,
                    version,
                    ..CheckpointsNamed::default()
                });
            }
            Err(e) => return Err(e),
        };
        // Ids grow with sequences: the highest id in the range is the last sequence.
        let last_sequence: Option<i64> = tx
            .prepare_cached(
                "SELECT sequence FROM checkpoints WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row(params![lo, hi], |r| r.get(0)).optional())
            .map_err(storage)?;
        let mut checkpoints = Vec::new();
        for prefix in prefixes {
            let rows = match crate::store::langgraph_name_range(prefix) {
                Some(end) => tx
                    // The bounds as expressions, not bare parameters: SQLite compares a bare
                    // one's bound value with the partial index's terms, and then prepares the
                    // statement again at every use (~20 µs).
                    .prepare_cached(
                        "SELECT id, name, superseded FROM checkpoints WHERE execution_id = ?1 \
                         AND name >= (?2 || '') AND name < (?3 || '') \
                         AND name >= 'langgraph-' AND name < 'langgraph0'",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![execution_id, prefix, end], |r| named_row(r, lo))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    }),
                None => tx
                    .prepare_cached(
                        "SELECT id, name, superseded FROM checkpoints \
                         WHERE id BETWEEN ?1 AND ?2 AND substr(name, 1, length(?3)) = ?3",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![lo, hi, prefix], |r| named_row(r, lo))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    }),
            };
            checkpoints.extend(rows.map_err(storage)?);
        }
        checkpoints.sort_by_key(|c| c.id);
        checkpoints.dedup_by_key(|c| c.id);
        Ok(CheckpointsNamed {
            checkpoints,
            rollbacks,
            last_sequence: last_sequence.map_or(0, |s| s.max(0) as u64),
            version,
        })
    })
}

/// A row of `SELECT id, name, superseded` of the execution whose ids start after `lo`.
fn named_row(r: &rusqlite::Row<'_>, lo: i64) -> rusqlite::Result<NamedCheckpoint> {
    let id: i64 = r.get(0)?;
    Ok(NamedCheckpoint {
        id: id as u64,
        name: r.get(1)?,
        sequence: (id - lo) as u64,
        superseded: r.get(2)?,
    })
}

/// Runs a statement that reads no row, so that SQLite takes its read snapshot (and brings the
/// data version up to date) as any read would.
fn open_snapshot(c: &Connection) -> Result<()> {
    c.prepare_cached("SELECT 1 FROM checkpoints LIMIT 0")
        .and_then(|mut s| s.query([])?.next().map(|_| ()))
        .map_err(storage)
}

pub fn rollback(
    tx: &Connection,
    ids: &RowIds,
    execution_id: &str,
    name: &str,
    spent_nanos: Nanos,
    at_ms: u64,
    json_only: bool,
) -> Result<RolledBack> {
    let not_found = || {
        Error::NotFound(format!(
            "no checkpoint named '{name}' in execution {execution_id}"
        ))
    };
    let (lo, hi) = match ids.range(tx, execution_id) {
        Err(Error::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    let target = tx
        .prepare_cached(&format!(
            "{} WHERE id BETWEEN ?1 AND ?2 AND name = ?3 AND superseded = 0 ORDER BY id DESC LIMIT 1",
            rows::SELECT_CHECKPOINT
        ))
        .and_then(|mut s| s.query_row(params![lo, hi, name], rows::checkpoint).optional())
        .map_err(storage)?
        .ok_or_else(not_found)?;
    if let (true, Some(content_type)) = (json_only, &target.content_type) {
        return Err(state_codec::binary_not_json(content_type));
    }
    let state = state(tx, execution_id, target.id)?;
    let superseded = tx
        .prepare_cached(
            "UPDATE checkpoints SET superseded = 1 WHERE id > ?1 AND id <= ?2 AND superseded = 0",
        )
        .and_then(|mut s| s.execute(params![target.id as i64, hi]))
        .map_err(storage)? as u64;
    tx.prepare_cached(
        "INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![execution_id, target.id as i64, name, superseded as i64, spent_nanos as i64, at_ms as i64])
    })
    .map_err(storage)?;
    let rollback = RollbackRecord {
        execution_id: execution_id.to_owned(),
        checkpoint_id: Some(target.id),
        checkpoint_name: name.to_owned(),
        superseded,
        spent_nanos,
        at_ms,
    };
    Ok(RolledBack {
        checkpoint: target,
        state,
        rollback,
    })
}

pub fn prune(tx: &Connection, ids: &RowIds, execution_id: &str, keep_last: usize) -> Result<u64> {
    let (lo, hi) = match ids.range(tx, execution_id) {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Ok(0),
        Err(e) => return Err(e),
    };
    let n = tx
        .execute(
            "DELETE FROM checkpoints WHERE id BETWEEN ?1 AND ?2 AND id NOT IN \
             (SELECT id FROM checkpoints WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC LIMIT ?3)",
            params![lo, hi, keep_last.min(i64::MAX as usize) as i64],
        )
        .map_err(storage)?;
    Ok(n as u64)
}

//! Schema upgrades: a database created with the frozen first schema, holding data, is opened
//! by the current engine; afterwards its schema equals a freshly created one and its data is
//! all there — on SQLite and on PostgreSQL.

mod common;

use common::{new_database, psql};

use rusqlite::Connection;
use rusqlite::types::Value;
use wflo_core::store::{PostgresStore, SCHEMA_VERSION, SqliteStore};
use wflo_core::{Engine, ErrorCode};

const EXEC: &str = "exec-0123456789ab";

const V1_DATA: &str = "
INSERT INTO workflow_executions (id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls, created_at_ms, updated_at_ms)
  VALUES ('exec-0123456789ab', 'old run', 'running', 5000000, 1800000, 0, 1, 1700000000000, 1700000000000);
INSERT INTO llm_calls VALUES ('exec-0123456789ab', 1, 'plan', 'openai', 'gpt-4o', 'gpt-4o', 1000, 200, 0, 0, 0, 0,
  1800000, 3000000, 0, FALSE, FALSE, FALSE, 'ok', NULL, 420, 1700000000000, 1700000000420);
INSERT INTO checkpoints (execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded, state)
  VALUES ('exec-0123456789ab', 'planned', 1, NULL, 1800000, 1700000000500, FALSE, '{\"plan\":[1,2,3]}');
";

/// Checks the upgraded database through the engine: the old execution resumes intact.
fn check_data(url: &str) {
    let engine = Engine::open(Some(url)).unwrap();
    let exec = engine.resume_execution(EXEC).unwrap();
    let b = exec.breakdown().unwrap();
    assert_eq!(
        (b.total_nanos, b.calls, b.budget_nanos),
        (1_800_000, 1, Some(5_000_000))
    );
    let (info, state) = exec.latest_checkpoint().unwrap().unwrap();
    assert_eq!(state, r#"{"plan":[1,2,3]}"#);
    assert_eq!(
        info.state_bytes,
        state.len() as u64,
        "state_bytes filled in by the migration"
    );
    assert_eq!(
        info.content_type, None,
        "a state saved before binary states is JSON"
    );
    // The new schema's features work on the upgraded database.
    exec.checkpoint("after-upgrade", r#"{"ok":true}"#).unwrap();
    let binary = exec
        .checkpoint_binary("binary", Some("msgpack"), &[0x81, 0xa2, b'o', b'k', 0xc3])
        .unwrap();
    assert_eq!(
        exec.checkpoint_state_any(binary.id).unwrap(),
        wflo_core::CheckpointState::Binary {
            content_type: "msgpack".into(),
            bytes: vec![0x81, 0xa2, b'o', b'k', 0xc3]
        }
    );
    assert_eq!(
        exec.rollback_to_checkpoint("planned").unwrap(),
        r#"{"plan":[1,2,3]}"#
    );
    engine
        .define_shared_scope("upgraded-tenant", Some(1), wflo_core::store::Period::None)
        .unwrap();
    engine.close().unwrap();
}

fn sqlite_schema(path: &str) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut out = Vec::new();
    let tables: Vec<(String, String)> = c
        .prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name) in tables {
        out.push(format!("{kind} {name}"));
        if kind == "table" {
            let cols: Vec<String> = c
                .prepare(&format!("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{name}')"))
                .unwrap()
                .query_map([], |r| {
                    Ok(format!(
                        "  {} {} notnull={} default={:?} pk={}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?
                    ))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            out.extend(cols);
        }
    }
    out
}

#[test]
fn sqlite_upgrades_from_the_first_schema() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db").to_string_lossy().into_owned();
    let fresh = dir.path().join("fresh.db").to_string_lossy().into_owned();
    SqliteStore::create_at_version(&old, 1).unwrap();
    // SQLite checkpoint ids are (rowid of the execution << 32) | sequence.
    let sqlite_data = V1_DATA
        .replace(
            "INSERT INTO checkpoints (execution_id,",
            "INSERT INTO checkpoints (id, execution_id,",
        )
        .replace(
            "VALUES ('exec-0123456789ab', 'planned'",
            "VALUES (4294967297, 'exec-0123456789ab', 'planned'",
        );
    Connection::open(&old)
        .unwrap()
        .execute_batch(&sqlite_data)
        .unwrap();
    let version: u32 = Connection::open(&old)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    check_data(&old);
    drop(Engine::open(Some(&fresh)).unwrap());
    assert_eq!(sqlite_schema(&old), sqlite_schema(&fresh));
    let version: u32 = Connection::open(&old)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db").to_string_lossy().into_owned();
    drop(Engine::open(Some(&path)).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_version (version, name, applied_at_ms) VALUES (999, '0999_future.sql', 0)",
            [],
        )
        .unwrap();
    assert_eq!(
        Engine::open(Some(&path)).unwrap_err().code(),
        ErrorCode::Storage
    );
}

/// The checksum a database recorded for its first migration.
fn sqlite_checksum(path: &str) -> Option<String> {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT checksum FROM schema_version WHERE version = 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// A LangGraph saver's first load of a thread lists the thread's names from the partial index
/// of the saver's names alone (migration 0018 made it hold whether each is superseded), not
/// seeking each record's row. The query is `checkpoints::named`'s in `store/sqlite`.
#[test]
fn sqlite_lists_a_threads_names_from_the_index_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.db").to_string_lossy().into_owned();
    let engine = Engine::open(Some(&path)).unwrap();
    let exec = engine.start_execution(Default::default()).unwrap();
    for i in 0..50 {
        exec.checkpoint(&format!("langgraph/t{}/c{i}", i % 5), "{}")
            .unwrap();
        exec.checkpoint(&format!("step-{i}"), "{}").unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id, name, superseded FROM checkpoints WHERE execution_id = ?1 \
             AND name >= (?2 || '') AND name < (?3 || '') \
             AND name >= 'langgraph-' AND name < 'langgraph0'",
        )
        .unwrap()
        .query_map(rusqlite::params![exec.id(), "langgraph/t1/", "langgraph/t10"], |r| r.get(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        plan,
        [
            "SEARCH checkpoints USING COVERING INDEX checkpoints_langgraph_names \
          (execution_id=? AND name>? AND name<?)"
        ],
    );
}

#[test]
fn sqlite_refuses_an_edited_migration_and_records_checksums_an_older_wflo_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.db").to_string_lossy().into_owned();
    drop(Engine::open(Some(&path)).unwrap());
    let recorded = sqlite_checksum(&path).expect("a checksum is recorded");
    assert_eq!(recorded.len(), 16);
    // As a database migrated by a wflo that recorded no checksums: filled in on open.
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE schema_version SET checksum = NULL", [])
        .unwrap();
    drop(conn);
    drop(Engine::open(Some(&path)).unwrap());
    assert_eq!(sqlite_checksum(&path), Some(recorded));
    // As if 0001_init.sql had been edited after this database applied it.
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE schema_version SET checksum = '0123456789abcdef' WHERE version = 1",
            [],
        )
        .unwrap();
    let e = Engine::open(Some(&path)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Storage);
    assert!(e.to_string().contains("0001_init.sql was edited"), "{e}");
}

/// Every row of `sql`, each value as SQLite stored it (storage class and bytes).
fn sqlite_rows(path: &str, sql: &str) -> Vec<Vec<Value>> {
    let c = Connection::open(path).unwrap();
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The checkpoints' columns, named explicitly: the same list reads a table of either order.
const CHECKPOINT_COLUMNS: &str = "id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, \
     superseded, state_encoding, state_bytes, state_type, state";

/// A table's columns in order: name, type, NOT NULL, default, primary key.
fn sqlite_columns(path: &str, table: &str) -> Vec<Vec<Value>> {
    sqlite_rows(
        path,
        &format!(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}') ORDER BY cid"
        ),
    )
}

/// A schema-14 database holding the executions, checkpoints and rollbacks of `source` (a
/// database of the current schema), written in schema 14's column order.
fn sqlite_copy_at_version_14(source: &str, path: &str) {
    SqliteStore::create_at_version(path, 14).unwrap();
    let c = Connection::open(path).unwrap();
    c.execute("ATTACH ?1 AS src", [source]).unwrap();
    c.execute_batch(&format!(
        "INSERT INTO workflow_executions SELECT * FROM src.workflow_executions;
         INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) SELECT {CHECKPOINT_COLUMNS} FROM src.checkpoints;
         INSERT INTO checkpoint_rollbacks SELECT * FROM src.checkpoint_rollbacks;
         DETACH src;"
    ))
    .unwrap();
}

/// Migration 0015 rebuilds SQLite's checkpoints table with the state as its last column, so
/// that a listing reads none of a big state's overflow pages. Every checkpoint comes back as it
/// was, byte for byte, and a rollback keeps its checkpoint: dropping the old table with foreign
/// keys on would have set every `checkpoint_rollbacks.checkpoint_id` to NULL.
#[test]
fn sqlite_rebuilds_the_checkpoints_with_the_state_last() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db").to_string_lossy().into_owned();
    let old = dir.path().join("v14.db").to_string_lossy().into_owned();

    // Checkpoints as the engine saves them: JSON, binary, a big JSON state (compressed), a big
    // incompressible binary one (over many overflow pages), and a rollback in another execution.
    let engine = Engine::open(Some(&source)).unwrap();
    let a = engine.start_execution(Default::default()).unwrap();
    a.checkpoint("json", r#"{"step":1,"text":"héllo"}"#)
        .unwrap();
    a.checkpoint_binary(
        "msgpack",
        Some("application/msgpack"),
        &[0x81, 0xa1, b'k', 0xc3],
    )
    .unwrap();
    let big_json = format!(r#"{{"log":"{}"}}"#, "step done; ".repeat(20_000));
    a.checkpoint("big-json", &big_json).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    a.checkpoint_binary("noise", None, &noise).unwrap();
    let b = engine.start_execution(Default::default()).unwrap();
    let b1 = b.checkpoint("b1", r#"{"n":1}"#).unwrap();
    b.checkpoint("b2", r#"{"n":2}"#).unwrap();
    b.rollback_to_checkpoint("b1").unwrap();
    b.checkpoint("b3", r#"{"n":3}"#).unwrap();
    let (a_id, b_id) = (a.id().to_owned(), b.id().to_owned());
    let saved = |engine: &Engine| {
        [&a_id, &b_id]
            .iter()
            .map(|id| {
                let exec = engine.resume_execution(id).unwrap();
                let infos = exec.checkpoints().unwrap();
                let states: Vec<_> = infos
                    .iter()
                    .map(|i| exec.checkpoint_state_any(i.id).unwrap())
                    .collect();
                (infos, states, exec.rollbacks().unwrap())
            })
            .collect::<Vec<_>>()
    };
    let before = saved(&engine);
    assert_eq!(before[0].0.len(), 4);
    assert_eq!(before[1].2[0].checkpoint_id, Some(b1.id));
    drop((a, b));
    engine.close().unwrap();

    sqlite_copy_at_version_14(&source, &old);
    let checkpoints_sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id");
    let rollbacks_sql = "SELECT * FROM checkpoint_rollbacks ORDER BY id";
    let rows = sqlite_rows(&old, &checkpoints_sql);
    assert_eq!(rows.len(), 7);
    assert!(
        rows.iter().any(|r| r[8] == Value::Text("zstd".into())),
        "the big JSON state is stored compressed"
    );
    let rollbacks = sqlite_rows(&old, rollbacks_sql);
    assert_eq!(rollbacks.len(), 1);
    let columns_14 = sqlite_columns(&old, "checkpoints");
    assert_ne!(columns_14.last().unwrap()[0], Value::Text("state".into()));
    let foreign_keys = |path: &str, table: &str| {
        sqlite_rows(
            path,
            &format!(
                "SELECT \"table\", \"from\", \"to\", on_update, on_delete \
                 FROM pragma_foreign_key_list('{table}') ORDER BY id, seq"
            ),
        )
    };
    let checkpoint_keys = foreign_keys(&old, "checkpoints");
    let rollback_keys = foreign_keys(&old, "checkpoint_rollbacks");

    // Upgraded by the engine: the same rows, byte for byte; the same columns with the state last.
    let engine = Engine::open(Some(&old)).unwrap();
    // (States are compared without printing them: a failure would print 300 KB.)
    for ((infos, states, rolled), want) in saved(&engine).into_iter().zip(&before) {
        assert_eq!(rolled, want.2, "the rollbacks keep their checkpoints");
        assert_eq!(infos, want.0);
        assert!(states == want.1, "a state changed in the upgrade");
    }
    assert_eq!(sqlite_rows(&old, rollbacks_sql), rollbacks);
    assert!(
        sqlite_rows(&old, &checkpoints_sql) == rows,
        "a checkpoint row changed in the upgrade"
    );
    let columns = sqlite_columns(&old, "checkpoints");
    assert_eq!(columns.last().unwrap()[0], Value::Text("state".into()));
    let sorted = |mut c: Vec<Vec<Value>>| {
        c.sort_by_key(|col| format!("{col:?}"));
        c
    };
    assert_eq!(sorted(columns), sorted(columns_14));
    assert_eq!(foreign_keys(&old, "checkpoints"), checkpoint_keys);
    assert_eq!(foreign_keys(&old, "checkpoint_rollbacks"), rollback_keys);
    let version: u32 = Connection::open(&old)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);

    // Saving and listing go on from where they were.
    let a = engine.resume_execution(&a_id).unwrap();
    let after = a.checkpoint("after", r#"{"ok":true}"#).unwrap();
    assert_eq!(after.sequence, 5);
    assert_eq!(after.parent_id, Some(before[0].0[3].id));
    let listed = a.checkpoints().unwrap();
    assert_eq!(listed[..4], before[0].0[..]);
    assert_eq!(listed[4], after);
    let b = engine.resume_execution(&b_id).unwrap();
    assert_eq!(
        b.checkpoint("b4", "{}").unwrap().parent_id,
        Some(before[1].0[2].id)
    );
    // Foreign keys are enforced again, and the rollbacks' one names the new table: pruning the
    // checkpoint rolled back to sets the rollback's reference to NULL, as before the upgrade.
    assert_eq!(b.prune_checkpoints(1).unwrap(), 3);
    assert_eq!(b.rollbacks().unwrap()[0].checkpoint_id, None);
    engine.close().unwrap();
}

/// Migrations run with foreign keys off (see 0015) and are checked before they commit: a
/// database whose rows would break a foreign key afterwards is left as it was.
#[test]
fn sqlite_migrations_fail_on_a_broken_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db").to_string_lossy().into_owned();
    SqliteStore::create_at_version(&path, 14).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO workflow_executions (id, name, status, created_at_ms, updated_at_ms)
               VALUES ('{EXEC}', 'run', 'running', 1, 1);
             INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms)
               VALUES ('{EXEC}', 4294967297, 'gone', 0, 0, 1);"
        ))
        .unwrap();
    let e = Engine::open(Some(&path)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Storage);
    assert!(
        e.to_string()
            .contains("checkpoint_rollbacks row 1 refers to no row of checkpoints"),
        "{e}"
    );
    let version: u32 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 14, "nothing was applied");
    assert_eq!(
        sqlite_columns(&path, "checkpoints").last().unwrap()[0],
        Value::Text("state_type".into())
    );
}

fn postgres_schema(url: &str) -> String {
    psql(
        url,
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable || ' default=' || \
         COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = 'public' \
         ORDER BY table_name, column_name",
    ) + &psql(
        url,
        "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
    )
}

#[test]
fn postgres_upgrades_from_the_first_schema() {
    let Some(base) = common::postgres_url() else {
        return;
    };
    let old = new_database(&base, "wflo_upgrade_old");
    let fresh = new_database(&base, "wflo_upgrade_fresh");
    PostgresStore::create_at_version(&old, 1).unwrap();
    psql(&old, V1_DATA);
    assert_eq!(
        psql(&old, "SELECT MAX(version) FROM schema_version").trim(),
        "1"
    );
    check_data(&old);
    drop(Engine::open(Some(&fresh)).unwrap());
    assert_eq!(postgres_schema(&old), postgres_schema(&fresh));
    assert_eq!(
        psql(&old, "SELECT MAX(version) FROM schema_version").trim(),
        SCHEMA_VERSION.to_string()
    );
}

#[test]
fn postgres_refuses_an_edited_migration() {
    let Some(base) = common::postgres_url() else {
        return;
    };
    let url = new_database(&base, "wflo_edited_migration");
    drop(Engine::open(Some(&url)).unwrap());
    let recorded = psql(
        &url,
        "SELECT checksum FROM schema_version WHERE version = 2",
    );
    assert_eq!(recorded.trim().len(), 16);
    psql(&url, "UPDATE schema_version SET checksum = NULL");
    drop(Engine::open(Some(&url)).unwrap());
    assert_eq!(
        psql(
            &url,
            "SELECT checksum FROM schema_version WHERE version = 2"
        ),
        recorded
    );
    psql(
        &url,
        "UPDATE schema_version SET checksum = 'ffffffffffffffff' WHERE version = 2",
    );
    let e = Engine::open(Some(&url)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Storage);
    assert!(
        e.to_string()
            .contains("0002_budgets_rollbacks_compression.sql was edited"),
        "{e}"
    );
}

#[test]
fn concurrent_openers_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db").to_string_lossy().into_owned();
    let mut urls = vec![path];
    if let Some(base) = common::postgres_url() {
        urls.push(new_database(&base, "wflo_migrate_race"));
    }
    for url in urls {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || Engine::open(Some(&url)).map(drop))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let engine = Engine::open(Some(&url)).unwrap();
        assert!(engine.list_executions(1).unwrap().is_empty());
    }
}

/// The first save after a rollback reads its parent (the execution's latest live checkpoint)
/// in its INSERT: the target of the execution's last rollback. Even under a plan cached while
/// the tables were small — forced here with a generic plan of a fresh database — that read
/// goes over the execution's rollbacks and its targets' ids, never a whole table (migration
/// 0017 dropped the index of live checkpoints that 0013 made for it). The query is the
/// parent's read of `CHECKPOINT_SQL` in `store/postgres.rs`.
#[test]
fn postgres_reads_a_checkpoints_parent_after_a_rollback_by_index_whatever_the_plan() {
    let Some(base) = common::postgres_url() else {
        return;
    };
    let url = new_database(&base, "wflo_parent_plan");
    let engine = Engine::open(Some(&url)).unwrap();
    let exec = engine.start_execution(Default::default()).unwrap();
    let plan = || {
        psql(
            &url,
            &format!(
                "SET plan_cache_mode = force_generic_plan; \
                 PREPARE parent(text) AS SELECT c.id FROM checkpoint_rollbacks r \
                 CROSS JOIN LATERAL (SELECT id, sequence FROM checkpoints WHERE id = r.checkpoint_id AND NOT superseded \
                 LIMIT 1) c WHERE r.execution_id = $1 ORDER BY c.sequence DESC LIMIT 1; \
                 EXPLAIN EXECUTE parent('{}')",
                exec.id()
            ),
        )
    };
    let by_index = |plan: &str| {
        plan.contains("checkpoint_rollbacks_by_execution")
            && plan.contains("checkpoints_pkey")
            && !plan.contains("Seq Scan")
    };
    // Tables of a few rows, of hundreds, and after ANALYZE with 20,000 rollbacks of 100 other
    // executions beside them (while the table of rollbacks is a few pages, reading it whole is
    // what the statistics rightly call cheapest).
    for saves in [5, 300] {
        for i in 0..saves {
            exec.checkpoint(&format!("c{i}"), "{}").unwrap();
        }
        exec.rollback_to_checkpoint("c1").unwrap();
        let plan = plan();
        assert!(by_index(&plan), "{saves}: {plan}");
    }
    for _ in 0..100 {
        let other = engine.start_execution(Default::default()).unwrap();
        other.checkpoint("c0", "{}").unwrap();
        other.rollback_to_checkpoint("c0").unwrap();
    }
    psql(
        &url,
        &format!(
            "INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, \
             spent_nanos, at_ms) SELECT r.execution_id, r.checkpoint_id, r.checkpoint_name, 0, 0, 0 \
             FROM checkpoint_rollbacks r, generate_series(1, 200) WHERE r.execution_id <> '{}'; ANALYZE",
            exec.id()
        ),
    );
    let plan = plan();
    assert!(by_index(&plan), "analyzed: {plan}");
    engine.close().unwrap();
}

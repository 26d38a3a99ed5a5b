//! Schema upgrades: a database created with the frozen first schema, holding data, is opened
//! by the current engine; afterwards its schema equals a freshly created one and its data is
//! all there — on SQLite and on PostgreSQL.

mod common;

use common::psql;

use rusqlite::Connection;
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

/// A fresh database on the test server; returns its URL.
fn new_database(base: &str, name: &str) -> String {
    psql(base, &format!("DROP DATABASE IF EXISTS {name}"));
    psql(base, &format!("CREATE DATABASE {name}"));
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
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

/// A checkpoint save reads its parent (the execution's latest live checkpoint) in its INSERT.
/// Even under a plan cached while the table was small — forced here with a generic plan of a
/// fresh database — that read walks back from the end of the live checkpoints' index
/// (migration 0013) instead of scanning every checkpoint of the execution.
#[test]
fn postgres_reads_a_checkpoints_parent_over_the_live_index_whatever_the_plan() {
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
                 PREPARE parent(text) AS SELECT id FROM checkpoints WHERE execution_id = $1 AND NOT superseded \
                 ORDER BY sequence DESC LIMIT 1; \
                 EXPLAIN EXECUTE parent('{}')",
                exec.id()
            ),
        )
    };
    // A table of a few rows, of hundreds, and the same after ANALYZE (with another execution's
    // checkpoints, superseded by a rollback, beside them).
    for saves in [5, 300] {
        for i in 0..saves {
            exec.checkpoint(&format!("c{i}"), "{}").unwrap();
        }
        let plan = plan();
        assert!(
            plan.contains("Index Scan Backward using checkpoints_live"),
            "{saves}: {plan}"
        );
    }
    let other = engine.start_execution(Default::default()).unwrap();
    for i in 0..300 {
        other.checkpoint(&format!("c{i}"), "{}").unwrap();
    }
    other.rollback_to_checkpoint("c0").unwrap();
    psql(&url, "ANALYZE");
    let plan = plan();
    assert!(
        plan.contains("Index Scan Backward using checkpoints_live"),
        "analyzed: {plan}"
    );
    engine.close().unwrap();
}

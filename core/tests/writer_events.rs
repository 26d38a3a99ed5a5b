//! The background writer's failures and recovery are events (WARN, then INFO), seen through
//! the process-wide route every face uses (`events::log_to`), from the writer's own thread.
//! Its own test binary: the route is global.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use wflo_core::store::{SqliteOptions, SqliteStore};
use wflo_core::{Engine, EngineConfig, ExecutionOptions, Usage, UsageReport};

#[test]
fn a_write_that_fails_is_a_warning_and_its_recovery_is_logged() {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    wflo_core::events::log_to(Some(tracing::Level::INFO), move |_, line| {
        sink.lock().unwrap().push(line.to_owned())
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db").to_string_lossy().into_owned();
    let store = SqliteStore::open(
        &db,
        SqliteOptions {
            busy_timeout: Duration::from_millis(50),
            ..Default::default()
        },
    )
    .unwrap();
    let engine = Engine::new(EngineConfig {
        store: Arc::new(store),
        ..Default::default()
    });
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "w".into(),
            ..Default::default()
        })
        .unwrap();
    // Another connection holds the write lock: the writer's batch fails and is kept.
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    exec.record_call(&UsageReport::new(
        "gpt-4o-mini",
        Usage {
            input: 10,
            output: 5,
            ..Default::default()
        },
    ))
    .unwrap();
    let seen = |kind: &str| lines.lock().unwrap().iter().any(|l| l.contains(kind));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen("store_write_failed") {
        assert!(
            Instant::now() < deadline,
            "no failure event: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.execute_batch("COMMIT").unwrap();
    while !seen("store_write_recovered") {
        assert!(
            Instant::now() < deadline,
            "no recovery event: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = lines.lock().unwrap().clone();
    let failed = all
        .iter()
        .find(|l| l.contains("store_write_failed"))
        .unwrap();
    assert!(failed.starts_with("warn store_write_failed"), "{failed}");
    assert!(
        failed.contains("records=1")
            && failed.contains("attempt=1")
            && failed.contains("code=STORAGE"),
        "{failed}"
    );
    assert!(
        all.iter()
            .any(|l| l.starts_with("info store_write_recovered") && l.contains("failed_attempts="))
    );
    // Nothing was lost: the record is in the store.
    assert_eq!(engine.calls(exec.id()).unwrap().len(), 1);
}

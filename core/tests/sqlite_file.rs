//! What a user sees in the SQLite file itself: the seed's query works, the file is private,
//! the journal is WAL, and buffered call records reach the file on flush and close.

use std::os::unix::fs::PermissionsExt;

use rusqlite::Connection;
use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

#[test]
fn the_seed_query_shows_the_execution_with_its_cost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("wflo.db");
    let url = format!("sqlite://{}", path.display());
    let engine = Engine::open(Some(&url)).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "seed".into(),
            budget_nanos: Some(2_000_000_000),
            ..Default::default()
        })
        .unwrap();
    let mut r = exec
        .reserve(&CallRequest {
            model: "gpt-4o",
            input_tokens: 1000,
            max_output_tokens: Some(500),
            ..Default::default()
        })
        .unwrap();
    let rec = r
        .settle(Usage {
            input: 1000,
            output: 400,
            ..Default::default()
        })
        .unwrap();
    let id = exec.id().to_owned();
    engine.close().unwrap();

    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the database must be readable by its owner only"
    );

    let c = Connection::open(&path).unwrap();
    let (name, status, budget, spent, calls): (String, String, i64, i64, i64) = c
        .query_row(
            "SELECT name, status, budget_nanos, spent_nanos, calls FROM workflow_executions WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (name.as_str(), status.as_str(), budget, calls),
        ("seed", "running", 2_000_000_000, 1)
    );
    assert_eq!(spent as u64, rec.cost_nanos);
    assert_eq!(rec.cost_nanos, 6_500_000);
    let journal: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let star: usize = c
        .prepare("SELECT * FROM workflow_executions WHERE id = ?1")
        .unwrap()
        .query_map([&id], |_| Ok(()))
        .unwrap()
        .count();
    assert_eq!(star, 1);
}

#[test]
fn buffered_calls_reach_the_file_by_themselves_and_on_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let engine = Engine::open(Some(&path)).unwrap();
    let exec = engine.start_execution(ExecutionOptions::default()).unwrap();
    let count = || -> i64 {
        Connection::open(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM llm_calls", [], |r| r.get(0))
            .unwrap()
    };
    for _ in 0..3 {
        exec.record_call(&wflo_core::UsageReport {
            model: "gpt-4o-mini",
            provider: None,
            usage: Usage {
                input: 10,
                output: 10,
                ..Default::default()
            },
            estimated: false,
            stream: false,
            latency_ms: 5,
        })
        .unwrap();
    }
    // The background writer writes within its delay (100 ms) without being asked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while count() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(count(), 3);
    exec.record_call(&wflo_core::UsageReport {
        model: "gpt-4o-mini",
        provider: None,
        usage: Usage {
            input: 10,
            output: 10,
            ..Default::default()
        },
        estimated: false,
        stream: false,
        latency_ms: 5,
    })
    .unwrap();
    engine.flush().unwrap();
    assert_eq!(count(), 4);
}

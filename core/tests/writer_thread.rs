//! The call writer's thread starts with the first call: a process that only checkpoints has
//! none (a second thread makes every SQLite write of the process dearer), and one that records
//! calls still has them written in the background. Its own test binary, so no other test's
//! engine adds threads to the count.

use std::time::{Duration, Instant};

use rusqlite::Connection;
use wflo_core::{Engine, ExecutionOptions, Usage, UsageReport};

/// This process's threads. (Not by name: a new thread names itself once it runs, so just
/// after the spawn it may still bear its parent's.)
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn the_writer_thread_starts_with_the_first_call_and_writes_it_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wflo.db");
    let before = threads();
    let engine = Engine::open(Some(&format!("sqlite://{}", path.display()))).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "checkpoints only".into(),
            ..Default::default()
        })
        .unwrap();
    for i in 0..3 {
        exec.checkpoint(&format!("c{i}"), r#"{"n":1}"#).unwrap();
    }
    engine.flush().unwrap();
    assert_eq!(threads(), before, "checkpoints and a flush start no thread");

    exec.record_call(&UsageReport::new(
        "gpt-4o-mini",
        Usage {
            input: 10,
            output: 10,
            ..Default::default()
        },
    ))
    .unwrap();
    assert_eq!(threads(), before + 1, "the first call starts the writer");
    // Written within the writer's delay (100 ms) without a flush, checkpoint or close.
    let reader = Connection::open(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let count = || -> i64 {
        reader
            .query_row("SELECT COUNT(*) FROM llm_calls", [], |r| r.get(0))
            .unwrap()
    };
    while count() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count(), 1, "the background writer wrote the call");
    engine.close().unwrap();
    assert_eq!(threads(), before, "close stops the writer");
}

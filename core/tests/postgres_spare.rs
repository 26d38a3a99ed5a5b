//! PostgreSQL's checkpoint saves, loads and lists run on one spare connection driven by the
//! calling thread, or through the pool when another thread has it or the caller is inside an
//! async runtime. Proved here: many threads at once lose and mix nothing; a call from inside a
//! runtime works; a connection the server dropped is noticed (pinged after an idle second) and
//! replaced, and one dropped under a busy caller costs that one call a STORAGE error at most.

mod common;

use common::psql;
use std::time::Duration;

use wflo_core::{Engine, ErrorCode, ExecutionOptions};

fn engine(url: &str) -> Engine {
    Engine::open(Some(url)).unwrap()
}

fn opts() -> ExecutionOptions {
    ExecutionOptions {
        name: "spare".into(),
        ..Default::default()
    }
}

/// Ends every other session of the database at `url`, as a server restart would.
fn drop_connections(url: &str) {
    psql(
        url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
}

#[test]
fn threads_saving_loading_and_listing_at_once_lose_and_mix_nothing() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let engine = engine(&url);
    let exec = engine.start_execution(opts()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let exec = &exec;
            s.spawn(move || {
                for i in 0..60 {
                    let state = format!(r#"{{"t":{t},"i":{i},"pad":"{}"}}"#, "x".repeat(i * 90));
                    let info = exec.checkpoint(&format!("t{t}-{i}"), &state).unwrap();
                    assert_eq!(exec.checkpoint_state(info.id).unwrap(), state);
                    let (since, _) = exec.checkpoints_since(info.sequence - 1).unwrap();
                    assert!(since.iter().any(|c| c.id == info.id));
                }
            });
        }
    });
    let list = exec.checkpoints().unwrap();
    let sequences: Vec<u64> = list.iter().map(|c| c.sequence).collect();
    assert_eq!(sequences, (1..=240).collect::<Vec<_>>());
    engine.close().unwrap();
}

#[test]
fn a_call_from_inside_an_async_runtime_goes_through_the_pool() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let engine = engine(&url);
    let exec = engine.start_execution(opts()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let info = rt.block_on(async { exec.checkpoint("inside", r#"{"in":"a runtime"}"#) });
    let info = info.unwrap();
    let back = rt.block_on(async { exec.checkpoint_state(info.id) });
    assert_eq!(back.unwrap(), r#"{"in":"a runtime"}"#);
    engine.close().unwrap();
}

#[test]
fn a_connection_the_server_dropped_is_replaced() {
    let Some(base) = common::postgres_url() else {
        return;
    };
    // A database of its own: the other tests' sessions are not to be dropped.
    psql(&base, "DROP DATABASE IF EXISTS wflo_spare_dropped");
    psql(&base, "CREATE DATABASE wflo_spare_dropped");
    let url = format!("{}/wflo_spare_dropped", base.rsplit_once('/').unwrap().0);
    let engine = engine(&url);
    let exec = engine.start_execution(opts()).unwrap();
    exec.checkpoint("before", "1").unwrap();

    // Idle for over a second: pinged before use, found dead, replaced — no error.
    drop_connections(&url);
    std::thread::sleep(Duration::from_millis(1100));
    let idle = exec.checkpoint("after-idle", "2").unwrap();
    assert_eq!(exec.checkpoint_state(idle.id).unwrap(), "2");

    // Used at once: the dead connection fails that call with STORAGE (nothing saved), and the
    // next call connects again.
    drop_connections(&url);
    match exec.checkpoint("at-once", "3") {
        Ok(_) => {}
        Err(e) => assert_eq!(e.code(), ErrorCode::Storage, "{e}"),
    }
    let next = exec.checkpoint("next", "4").unwrap();
    assert_eq!(exec.checkpoint_state(next.id).unwrap(), "4");
    let names: Vec<String> = exec
        .checkpoints()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(
        names.starts_with(&["before".to_owned(), "after-idle".to_owned()]),
        "{names:?}"
    );
    assert_eq!(names.last().map(String::as_str), Some("next"));
    engine.close().unwrap();
}

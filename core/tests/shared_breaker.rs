//! A shared circuit breaker across OS processes on one store (SQLite file, real PostgreSQL):
//! 4 processes × 4 threads record failures of one provider and none is lost (the last one
//! trips it), the tripped breaker fails fast in this process and in a new one, and every
//! process sees the same state.
//!
//! The workers are this test binary itself, started again with `WFLO_WORKER` set: the
//! `worker` test then plays the worker's part (and does nothing in a normal run).

mod common;

use std::process::{Command, Stdio};

use wflo_core::resilience::{BreakerConfig, BreakerState};
use wflo_core::{Engine, EngineConfig, ErrorCode};

const PROCESSES: u32 = 4;
const THREADS: u32 = 4;
const FAILURES: u32 = 10;
const TOTAL: u32 = PROCESSES * THREADS * FAILURES;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

fn open(url: &str) -> Engine {
    Engine::new(EngineConfig {
        store: wflo_core::store::open_store(url).unwrap(),
        ..EngineConfig::default()
    })
}

/// Every process gives the same settings: the last of all the failures opens it.
fn settings() -> BreakerConfig {
    BreakerConfig {
        failure_threshold: TOTAL,
        recovery_timeout_ms: 600_000,
        success_threshold: 1,
        shared: true,
        ..BreakerConfig::default()
    }
}

#[test]
fn worker() {
    match std::env::var("WFLO_WORKER").as_deref() {
        Ok("fail") => fail_worker(),
        Ok("probe") => probe_worker(),
        _ => {}
    }
}

fn spawn_worker(role: &str, url: &str, breaker: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env("WFLO_WORKER", role)
        .env("WFLO_WORKER_URL", url)
        .env("WFLO_WORKER_BREAKER", breaker)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Each thread: may I call? then the call failed — `FAILURES` times.
fn fail_worker() {
    let engine = open(&env("WFLO_WORKER_URL"));
    let breaker = engine
        .breaker(&env("WFLO_WORKER_BREAKER"), Some(settings()))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let breaker = &breaker;
            s.spawn(move || {
                for _ in 0..FAILURES {
                    breaker.check().unwrap();
                    breaker.record_failure().unwrap();
                }
            });
        }
    });
    engine.close().unwrap();
}

/// Asks once and prints what it was told.
fn probe_worker() {
    let engine = open(&env("WFLO_WORKER_URL"));
    let breaker = engine
        .breaker(&env("WFLO_WORKER_BREAKER"), Some(settings()))
        .unwrap();
    match breaker.check() {
        Ok(()) => println!("\n@@probe ok"),
        Err(e) => println!("\n@@probe {} {e}", e.code().as_str()),
    }
}

fn trip_across_processes(url: &str) {
    let name = common::unique("provider");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| spawn_worker("fail", url, &name))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a failing worker did not finish");
    }
    let engine = open(url);
    let here = engine.breaker(&name, Some(settings())).unwrap();
    let status = here.status().unwrap();
    assert_eq!(
        (status.total_calls, status.total_failures),
        (u64::from(TOTAL), u64::from(TOTAL)),
        "every failure of every process counted once"
    );
    assert_eq!(status.state, BreakerState::Open);
    assert_eq!(status.failure_count, TOTAL);
    let opened: Vec<_> = status.transitions.iter().map(|t| t.to).collect();
    assert_eq!(
        opened,
        vec![BreakerState::Open],
        "opened once, by the last failure"
    );
    assert_ne!(
        status.transitions[0].holder, "",
        "the process that tripped it is named"
    );
    // Tripped elsewhere, refused here: before anything is reserved.
    let e = here.check().unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircuitOpen);
    // …and in a process that starts only now.
    let out = spawn_worker("probe", url, &name)
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said
        .lines()
        .find(|l| l.starts_with("@@probe "))
        .unwrap_or_else(|| panic!("no probe line in {said}"));
    assert!(
        line.starts_with("@@probe CIRCUIT_OPEN ") && line.contains(&format!("'{name}'")),
        "{line}"
    );
    assert_eq!(here.status().unwrap().rejected, 2, "both refusals counted");
    // An operator's reset, from this process, closes it for every process.
    here.reset().unwrap();
    let out = spawn_worker("probe", url, &name)
        .wait_with_output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("@@probe ok"));
}

#[test]
fn a_shared_breaker_trips_across_processes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    trip_across_processes(&dir.path().join("breakers.db").to_string_lossy());
}

#[test]
fn a_shared_breaker_trips_across_processes_on_postgres() {
    if let Some(url) = common::postgres_url() {
        trip_across_processes(&url);
    }
}

//! Several OS processes on one store: a budget storm that must never overspend, and a worker
//! killed with SIGKILL whose acknowledged work must survive.
//!
//! The workers are this test binary itself, started again with `WFLO_WORKER` set: the
//! `worker` test then plays the worker's part (and does nothing in a normal run).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wflo_core::store::Period;
use wflo_core::{CallRequest, CallStatus, Engine, EngineConfig, ExecutionOptions, Usage};

const PRICES: &str =
    r#"{"models":[{"name":"m-model","input":1000000,"output":4000000,"max_output":1000}]}"#;
const THREADS: usize = 4;
const CALLS_PER_THREAD: u64 = 40;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

fn open(url: &str, lease_ms: u64) -> Engine {
    let store = wflo_core::store::open_store(url).unwrap();
    let engine = Engine::new(EngineConfig {
        store,
        lease_ms,
        ..EngineConfig::default()
    });
    engine.set_prices_json(PRICES).unwrap();
    engine
}

/// The worker side: does what `WFLO_WORKER` says and exits.
#[test]
fn worker() {
    match std::env::var("WFLO_WORKER").as_deref() {
        Ok("storm") => storm_worker(),
        Ok("crash") => crash_worker(),
        _ => {}
    }
}

/// The text after `@@{tag} ` in a worker's output line (the test harness may print on the
/// same line before it).
fn marked<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.split_once(&format!("@@{tag} "))
        .map(|(_, rest)| rest.trim())
}

fn spawn_worker(role: &str, url: &str, scope: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env("WFLO_WORKER", role)
        .env("WFLO_WORKER_URL", url)
        .env("WFLO_WORKER_SCOPE", scope)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn storm_worker() {
    let engine = open(&env("WFLO_WORKER_URL"), 60_000);
    let scope = env("WFLO_WORKER_SCOPE");
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "storm".into(),
            shared_scopes: vec![scope],
            ..Default::default()
        })
        .unwrap();
    println!("\n@@exec {}", exec.id());
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let exec = exec.clone();
            std::thread::spawn(move || {
                for i in 0..CALLS_PER_THREAD {
                    let n = (t * 7919 + i * 104_729) % 97;
                    let req = CallRequest {
                        model: "m-model",
                        input_tokens: 100 + n * 10,
                        input_estimated: Some(false),
                        max_output_tokens: Some(50 + n),
                        ..Default::default()
                    };
                    let Ok(mut r) = exec.reserve(&req) else {
                        continue;
                    };
                    if n % 5 == 0 {
                        r.release(CallStatus::Error, Some("simulated provider error"))
                            .unwrap();
                    } else {
                        r.settle(Usage {
                            input: 100 + n * 10,
                            output: (50 + n) * (n % 3) / 2,
                            ..Default::default()
                        })
                        .unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    engine.close().unwrap();
}

fn storm(url: &str) {
    let engine = open(url, 60_000);
    let scope = common::unique("storm");
    // About a third of what the workers would spend unconstrained: many refusals, at the limit.
    let limit = 150_000_000;
    engine
        .define_shared_scope(&scope, Some(limit), Period::None)
        .unwrap();
    let started = Instant::now();
    let children: Vec<_> = (0..4).map(|_| spawn_worker("storm", url, &scope)).collect();
    let mut executions = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a storm worker failed");
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            if let Some(id) = marked(line, "exec") {
                executions.push(id.to_owned());
            }
        }
    }
    assert_eq!(executions.len(), 4);
    let figures = engine.shared_scope(&scope).unwrap();
    let mut recorded = 0;
    let mut ok_calls = 0;
    for id in &executions {
        for call in engine.calls(id).unwrap() {
            recorded += call.cost_nanos;
            ok_calls += u64::from(call.status == CallStatus::Ok);
        }
    }
    eprintln!(
        "storm on {}: {} ok calls, spent {} of {} nano-USD in {:.1} s",
        engine.store().kind(),
        ok_calls,
        figures.spent_nanos,
        limit,
        started.elapsed().as_secs_f64()
    );
    assert!(
        figures.spent_nanos <= limit,
        "overspent: {} > {limit}",
        figures.spent_nanos
    );
    assert_eq!(figures.reserved_nanos, 0, "reservations left held");
    assert_eq!(figures.overrun_nanos, 0);
    assert_eq!(
        recorded, figures.spent_nanos,
        "recorded call costs must equal the shared spend"
    );
    assert!(
        ok_calls > 100,
        "the storm made too few calls to mean anything"
    );
    assert!(
        figures.spent_nanos > limit / 2,
        "the limit was never approached"
    );
}

#[test]
fn budget_storm_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    storm(&dir.path().join("storm.db").to_string_lossy());
}

#[test]
fn budget_storm_on_postgres() {
    if let Some(url) = common::postgres_url() {
        storm(&url);
    }
}

fn crash_worker() {
    let engine = open(&env("WFLO_WORKER_URL"), 1_500);
    let scope = env("WFLO_WORKER_SCOPE");
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "doomed".into(),
            shared_scopes: vec![scope],
            ..Default::default()
        })
        .unwrap();
    println!("\n@@exec {}", exec.id());
    // A reservation that will still be held when the process dies.
    let held = exec
        .reserve(&CallRequest {
            model: "m-model",
            input_tokens: 10,
            input_estimated: Some(false),
            max_output_tokens: Some(10),
            ..Default::default()
        })
        .unwrap();
    println!("@@holding {}", held.amount_nanos());
    for i in 0.. {
        let req = CallRequest {
            model: "m-model",
            input_tokens: 100,
            input_estimated: Some(false),
            max_output_tokens: Some(10),
            ..Default::default()
        };
        exec.reserve(&req)
            .unwrap()
            .settle(Usage {
                input: 100,
                output: 5,
                ..Default::default()
            })
            .unwrap();
        let state = format!(
            "{{\"step\":{i},\"notes\":\"{}\"}}",
            "x".repeat((i % 7) * 900)
        );
        let info = exec.checkpoint(&format!("step-{i}"), &state).unwrap();
        // Only now is the checkpoint acknowledged.
        println!("@@ack {} step-{i} {}", info.id, state.len());
    }
    std::mem::forget(held);
}

#[test]
fn a_killed_worker_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    crash(&dir.path().join("crash.db").to_string_lossy(), true);
}

#[test]
fn a_killed_worker_loses_nothing_it_acknowledged_on_postgres() {
    if let Some(url) = common::postgres_url() {
        crash(&url, false);
    }
}

/// SIGKILLs a worker mid-run (on a SQLite file when `sqlite`, checked for damage after).
fn crash(url: &str, sqlite: bool) {
    let url = url.to_owned();
    let engine = open(&url, 1_500);
    let scope = common::unique("crash");
    engine
        .define_shared_scope(&scope, Some(1_000_000_000), Period::None)
        .unwrap();
    let mut child = spawn_worker("crash", &url, &scope);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let exec_id = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| marked(&l, "exec").map(str::to_owned))
        .unwrap();
    let mut acked: Vec<(u64, String, usize)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = marked(&line, "ack") {
            let parts: Vec<&str> = rest.split(' ').collect();
            acked.push((
                parts[0].parse().unwrap(),
                parts[1].to_owned(),
                parts[2].parse().unwrap(),
            ));
            if acked.len() >= 12 || Instant::now() > deadline {
                break;
            }
        }
    }
    // Kill mid-way: the worker is busy with its next call and checkpoint.
    kill_9(child.id());
    child.wait().unwrap();
    assert!(
        acked.len() >= 12,
        "the worker acknowledged too little before the kill"
    );

    if sqlite {
        let c = rusqlite::Connection::open(&url).unwrap();
        let integrity: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    let engine = open(&url, 1_500);
    let exec = engine.resume_execution(&exec_id).unwrap();
    let saved = exec.checkpoints().unwrap();
    for (id, name, len) in &acked {
        let found = saved
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("acknowledged checkpoint {name} lost"));
        assert_eq!(&found.name, name);
        assert_eq!(exec.checkpoint_state(*id).unwrap().len(), *len);
    }
    // Every call up to the last acknowledged checkpoint is there, and the spend with them.
    let calls = exec.calls().unwrap();
    assert!(calls.iter().filter(|c| c.status == CallStatus::Ok).count() >= acked.len());
    assert_eq!(
        exec.breakdown().unwrap().total_nanos,
        calls.iter().map(|c| c.cost_nanos).sum::<u64>()
    );
    let latest = exec.latest_checkpoint().unwrap().unwrap().0;
    assert!(latest.sequence >= acked.len() as u64);

    // The dead worker's reservations (the one it held on purpose, and any call in flight at
    // the kill) hold the shared scope until their lease ends…
    let before = engine.shared_scope(&scope).unwrap();
    assert!(
        before.reserved_nanos > 0,
        "the held reservation should still be booked"
    );
    std::thread::sleep(Duration::from_millis(1_600));
    // …then they are CHARGED, never returned: their requests may have been sent and billed.
    assert!(engine.reclaim_expired().unwrap() >= 1);
    let after = engine.shared_scope(&scope).unwrap();
    assert_eq!(after.reserved_nanos, 0);
    assert_eq!(
        after.spent_nanos,
        before.spent_nanos + before.reserved_nanos,
        "the dead worker's reservations are spent, not released"
    );
    // Each is recorded in the execution as an `unsettled` call of its amount.
    let calls = engine.calls(&exec_id).unwrap();
    let unsettled: Vec<_> = calls
        .iter()
        .filter(|c| c.status == CallStatus::Unsettled)
        .collect();
    assert!(!unsettled.is_empty());
    assert_eq!(
        unsettled.iter().map(|c| c.cost_nanos).sum::<u64>(),
        before.reserved_nanos
    );
    let mut seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), calls.len(), "a sequence number used twice");
    // The books balance with them: the scope's spend is the recorded calls' costs — but for
    // at most one settled call whose record was still in the killed worker's buffer (every
    // one of its settled calls costs the same).
    let recorded: u64 = calls.iter().map(|c| c.cost_nanos).sum();
    let one_call = calls
        .iter()
        .find(|c| c.status == CallStatus::Ok)
        .unwrap()
        .cost_nanos;
    let unrecorded = after
        .spent_nanos
        .checked_sub(recorded)
        .expect("more recorded than spent");
    assert!(
        unrecorded == 0 || unrecorded == one_call,
        "spent {} but recorded {recorded}",
        after.spent_nanos
    );
    assert_eq!(engine.reclaim_expired().unwrap(), 0, "charged twice");
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

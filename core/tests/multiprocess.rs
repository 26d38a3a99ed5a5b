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
            std::thread::spawn(move || storm_thread(&exec, t))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Closing returns the unused allowance and writes back the last batch.
    engine.close().unwrap();
}

/// Calls of pseudo-random sizes, settled, released or abandoned (dropped unsettled), until the
/// scope has refused this thread's smallest call for `GIVE_UP` on end: other processes' unused
/// allowances come back within about a second of a refusal, so only a spent budget refuses
/// that long.
fn storm_thread(exec: &wflo_core::Execution, t: u64) {
    const GIVE_UP: Duration = Duration::from_millis(3_000);
    let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut cap = 97;
    let mut refused_since: Option<Instant> = None;
    loop {
        // xorshift: a different stream per thread, the same on every run.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = x % cap;
        let req = CallRequest {
            model: "m-model",
            input_tokens: 1 + n * 10,
            input_estimated: Some(false),
            max_output_tokens: Some(1 + n),
            ..Default::default()
        };
        let mut r = match exec.reserve(&req) {
            Ok(r) => r,
            Err(e) => {
                assert_eq!(e.code(), wflo_core::ErrorCode::BudgetExceeded, "{e}");
                cap = (cap / 2).max(1);
                let since = *refused_since.get_or_insert_with(Instant::now);
                if cap == 1 && since.elapsed() > GIVE_UP {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        refused_since = None;
        // How it ends is drawn apart from the size, so the smallest calls are settled too.
        match (x >> 20) % 7 {
            0 => {
                r.release(CallStatus::Error, Some("simulated provider error"))
                    .unwrap();
            }
            1 => drop(r), // abandoned: released as aborted
            _ => {
                r.settle(Usage {
                    input: 1 + n * 10,
                    output: (1 + n) * ((x >> 30) % 3) / 2,
                    ..Default::default()
                })
                .unwrap();
            }
        }
    }
}

fn storm(url: &str, allowances: bool) {
    let engine = open(url, 60_000);
    let scope = common::unique("storm");
    // A few hundred calls' worth: many refusals at the end, from every process.
    let limit = 150_000_000;
    engine
        .define_shared_scope_allowances(&scope, Some(limit), Period::None, Some(allowances))
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
        "storm on {} (allowances {allowances}): {} ok calls, spent {} of {} nano-USD ({:.4}%) in {:.1} s",
        engine.store().kind(),
        ok_calls,
        figures.spent_nanos,
        limit,
        figures.spent_nanos as f64 * 100.0 / limit as f64,
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
    // The smallest call costs 5_000: the limit is reached when less than that is left.
    assert!(
        figures.spent_nanos * 1_000 >= limit * 999,
        "the limit was not reached: {} of {limit}",
        figures.spent_nanos
    );
}

#[test]
fn budget_storm_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    storm(&dir.path().join("storm.db").to_string_lossy(), false);
}

#[test]
fn budget_storm_with_allowances_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    storm(&dir.path().join("storm.db").to_string_lossy(), true);
}

#[test]
fn budget_storm_on_postgres() {
    if let Some(url) = common::postgres_url() {
        storm(&url, false);
    }
}

#[test]
fn budget_storm_with_allowances_on_postgres() {
    if let Some(url) = common::postgres_url() {
        storm(&url, true);
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
    crash(&dir.path().join("crash.db").to_string_lossy(), true, false);
}

#[test]
fn a_killed_worker_loses_nothing_it_acknowledged_on_postgres() {
    if let Some(url) = common::postgres_url() {
        crash(&url, false, false);
    }
}

#[test]
fn a_killed_worker_holding_an_allowance_is_charged_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    crash(&dir.path().join("crash.db").to_string_lossy(), true, true);
}

#[test]
fn a_killed_worker_holding_an_allowance_is_charged_all_of_it_on_postgres() {
    if let Some(url) = common::postgres_url() {
        crash(&url, false, true);
    }
}

/// SIGKILLs a worker mid-run (on a SQLite file when `sqlite`, checked for damage after), its
/// shared scope booked per call or, with `allowances`, served from an allowance.
fn crash(url: &str, sqlite: bool, allowances: bool) {
    let url = url.to_owned();
    let engine = open(&url, 1_500);
    let scope = common::unique("crash");
    engine
        .define_shared_scope_allowances(&scope, Some(1_000_000_000), Period::None, Some(allowances))
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
    if allowances {
        // The charge covers the whole allowance, so calls settled in the worker but not yet
        // written back are in it and also recorded: the records may exceed the spend by them,
        // never the other way (but for one record still in the worker's buffer).
        let over = (recorded + one_call)
            .checked_sub(after.spent_nanos)
            .expect("spend the records do not account for");
        eprintln!(
            "allowance crash: spent {}, recorded {recorded} ({over} settled in the last batch, \
             counted in the charge and recorded)",
            after.spent_nanos
        );
    } else {
        let unrecorded = after
            .spent_nanos
            .checked_sub(recorded)
            .expect("more recorded than spent");
        assert!(
            unrecorded == 0 || unrecorded == one_call,
            "spent {} but recorded {recorded}",
            after.spent_nanos
        );
    }
    assert_eq!(engine.reclaim_expired().unwrap(), 0, "charged twice");
    // A survivor goes on drawing on the scope and is refused at its limit, never past it.
    let survivor = engine
        .start_execution(ExecutionOptions {
            name: "survivor".into(),
            shared_scopes: vec![scope.clone()],
            ..Default::default()
        })
        .unwrap();
    let big = CallRequest {
        model: "m-model",
        input_tokens: 100_000,
        input_estimated: Some(false),
        max_output_tokens: Some(1_000),
        ..Default::default()
    };
    let mut refused = false;
    for _ in 0..20_000 {
        match survivor.reserve(&big) {
            Ok(mut r) => {
                r.settle(Usage {
                    input: 100_000,
                    output: 1_000,
                    ..Default::default()
                })
                .unwrap();
            }
            Err(e) => {
                assert_eq!(e.code(), wflo_core::ErrorCode::BudgetExceeded, "{e}");
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "the survivor was never refused");
    let last = engine.shared_scope(&scope).unwrap();
    assert!(last.spent_nanos <= 1_000_000_000, "overspent: {last:?}");
    assert!(last.spent_nanos > 1_000_000_000 - 104_000_000, "{last:?}");
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

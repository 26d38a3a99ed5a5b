//! PostgreSQL stopped in the middle of a run. Workers of two engines (two connection pools,
//! as two processes would have) keep making calls on one shared budget scope while the server
//! is stopped and started again. Proved here:
//! - fail closed: no reservation that needs the shared scope succeeds while the server is
//!   down; each fails with `STORAGE` (no call goes out unbudgeted);
//! - nothing acknowledged is lost: every call settled and every checkpoint saved with `Ok` —
//!   before, during (settles queue) and after the outage — is in the store afterwards;
//! - work resumes by itself once the server is back, and the arithmetic balances to the
//!   nano-USD: the scope's spend is the sum of the settled calls, nothing is left reserved.
//!
//! The scope is booked per call there; the last test does the same under an allowance.

mod common;
mod pg_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wflo_core::store::{Period, PostgresOptions, PostgresStore, WriterOptions};
use wflo_core::{CallRequest, CallStatus, Engine, ErrorCode, Execution, ExecutionOptions, Usage};

const PRICES: &str =
    r#"{"models":[{"name":"o-model","input":1000000,"output":4000000,"max_output":1000}]}"#;
const LIMIT: u64 = 100_000_000_000;

const UP: u8 = 0;
/// The server has stopped (pg_ctl returned) and is not being started yet.
const DOWN: u8 = 1;
const STARTING: u8 = 2;
const UP_AGAIN: u8 = 3;

fn open(url: &str) -> Engine {
    let store = PostgresStore::connect_with(
        url,
        PostgresOptions {
            // Short, so the outage costs the test seconds; the default is 10 s.
            acquire_timeout: Duration::from_millis(400),
            ..PostgresOptions::default()
        },
    )
    .unwrap();
    common::engine_with_store(store, PRICES)
}

fn req() -> CallRequest<'static> {
    CallRequest {
        model: "o-model",
        input_tokens: 120,
        input_estimated: Some(false),
        max_output_tokens: Some(60),
        ..Default::default()
    }
}

fn usage(i: u64) -> Usage {
    Usage {
        input: 120,
        output: 1 + i % 60,
        ..Default::default()
    }
}

/// What the workers were told was done.
#[derive(Default)]
struct Acked {
    /// (execution, seq, cost) of every call settled with `Ok`.
    calls: Mutex<Vec<(String, u64, u64)>>,
    /// (execution, checkpoint id, name, state length) of every checkpoint saved with `Ok`.
    checkpoints: Mutex<Vec<(String, u64, String, usize)>>,
    /// Reservations that began and ended while the server was down and still succeeded.
    let_through: AtomicU64,
    refused_while_down: AtomicU64,
    ok_after: AtomicU64,
    /// Reservations or checkpoints begun after the server was back that still failed.
    failed_after: AtomicU64,
}

fn worker(exec: Execution, phase: Arc<AtomicU8>, stop: Arc<AtomicBool>, acked: Arc<Acked>) {
    let mut i = 0u64;
    while !stop.load(Ordering::Acquire) {
        let before = phase.load(Ordering::Acquire);
        let t0 = Instant::now();
        let reserved = exec.reserve(&req());
        let after = phase.load(Ordering::Acquire);
        let mut r = match reserved {
            Ok(r) => r,
            Err(e) => {
                assert_eq!(
                    e.code(),
                    ErrorCode::Storage,
                    "a reservation failed with {e}"
                );
                if before == DOWN && after == DOWN {
                    acked.refused_while_down.fetch_add(1, Ordering::Relaxed);
                }
                if before == UP_AGAIN {
                    eprintln!("after the restart: reserve took {:?}: {e}", t0.elapsed());
                    acked.failed_after.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        if before == DOWN && after == DOWN {
            acked.let_through.fetch_add(1, Ordering::Relaxed);
        }
        if before == UP_AGAIN {
            acked.ok_after.fetch_add(1, Ordering::Relaxed);
        }
        // Settling never fails on the store: a settlement it cannot take waits in the engine.
        let rec = r.settle(usage(i)).unwrap();
        acked
            .calls
            .lock()
            .push((exec.id().to_owned(), rec.seq, rec.cost_nanos));
        i += 1;
        if i % 4 == 0 {
            let before = phase.load(Ordering::Acquire);
            let state = format!(
                "{{\"i\":{i},\"pad\":\"{}\"}}",
                "p".repeat((i % 5) as usize * 300)
            );
            match exec.checkpoint(&format!("c{i}"), &state) {
                Ok(info) => acked.checkpoints.lock().push((
                    exec.id().to_owned(),
                    info.id,
                    info.name,
                    state.len(),
                )),
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::Storage, "a checkpoint failed with {e}");
                    if before == UP_AGAIN {
                        eprintln!("after the restart: {e}");
                        acked.failed_after.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn postgres_stopped_mid_run_fails_closed_loses_nothing_and_recovers() {
    let Some(server) = pg_server::PgServer::start() else {
        return;
    };
    let url = server.url();
    let scope = common::unique("outage");
    let admin = open(&url);
    // Per call: every reservation needs the server (allowances serve from memory meanwhile).
    common::define_per_call(&admin, &scope, Some(LIMIT), Period::None);
    let engines = [open(&url), open(&url)];
    let start = |engine: &Engine, shared: bool| {
        engine
            .start_execution(ExecutionOptions {
                name: "outage".into(),
                shared_scopes: if shared { vec![scope.clone()] } else { vec![] },
                ..Default::default()
            })
            .unwrap()
    };
    let execs: Vec<Execution> = (0..4).map(|w| start(&engines[w % 2], true)).collect();
    // An execution with no shared scope needs the store only to keep its records.
    let local = start(&engines[0], false);
    let phase = Arc::new(AtomicU8::new(UP));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Acked::default());
    let workers: Vec<_> = execs
        .iter()
        .map(|x| {
            let (x, phase, stop, acked) = (x.clone(), phase.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || worker(x, phase, stop, acked))
        })
        .collect();

    wait_for("calls before the outage", Duration::from_secs(30), || {
        acked.calls.lock().len() >= 40
    });
    // Held across the outage, settled while the server is down.
    let mut held = execs[0].reserve(&req()).unwrap();

    server.stop();
    phase.store(DOWN, Ordering::Release);
    let down_at = Instant::now();
    let cp = execs[1].checkpoint("while-down", "{}").unwrap_err();
    assert_eq!(cp.code(), ErrorCode::Storage, "{cp}");
    let figures = admin.shared_scope(&scope).unwrap_err();
    assert_eq!(figures.code(), ErrorCode::Storage);
    eprintln!("while down: {figures}");
    let held_rec = held.settle(usage(7)).unwrap();
    let mut local_calls = Vec::new();
    for i in 0..5 {
        let mut r = local.reserve(&req()).unwrap();
        local_calls.push(r.settle(usage(i)).unwrap());
    }
    wait_for(
        "every worker to be refused",
        Duration::from_secs(30),
        || acked.refused_while_down.load(Ordering::Relaxed) >= 8,
    );
    phase.store(STARTING, Ordering::Release);
    let outage = down_at.elapsed();
    server.start_again();
    phase.store(UP_AGAIN, Ordering::Release);
    let back_at = Instant::now();
    wait_for("work to resume", Duration::from_secs(30), || {
        acked.ok_after.load(Ordering::Relaxed) >= 40
    });
    let resumed_in = back_at.elapsed();
    stop.store(true, Ordering::Release);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(
        acked.let_through.load(Ordering::Relaxed),
        0,
        "a reservation succeeded while the server was down"
    );
    assert_eq!(
        acked.failed_after.load(Ordering::Relaxed),
        0,
        "work begun after the restart failed"
    );
    for engine in &engines {
        engine.flush().unwrap();
    }
    drop((execs, local));
    for engine in engines {
        engine.close().unwrap();
    }

    // Everything read back through a new connection pool.
    let fresh = open(&url);
    let mut calls_by_exec: std::collections::HashMap<String, Vec<wflo_core::CallRecord>> =
        Default::default();
    let acked_calls = acked.calls.lock().clone();
    let mut ids: Vec<String> = acked_calls.iter().map(|c| c.0.clone()).collect();
    ids.push(held_rec.execution_id.to_string());
    ids.sort();
    ids.dedup();
    for id in &ids {
        calls_by_exec.insert(id.clone(), fresh.calls(id).unwrap());
    }
    let mut expected = acked_calls.clone();
    expected.push((
        held_rec.execution_id.to_string(),
        held_rec.seq,
        held_rec.cost_nanos,
    ));
    for (id, seq, cost) in &expected {
        let found = calls_by_exec[id]
            .iter()
            .find(|c| c.seq == *seq)
            .unwrap_or_else(|| panic!("acknowledged call {id}#{seq} lost"));
        assert_eq!((found.cost_nanos, found.status), (*cost, CallStatus::Ok));
    }
    let stored: Vec<&wflo_core::CallRecord> = calls_by_exec.values().flatten().collect();
    assert_eq!(
        stored.len(),
        expected.len(),
        "the store holds calls nobody was told about"
    );
    let settled: u64 = expected.iter().map(|c| c.2).sum();
    for (id, calls) in &calls_by_exec {
        let sum: u64 = calls.iter().map(|c| c.cost_nanos).sum();
        assert_eq!(fresh.execution(id).unwrap().spent_nanos, sum, "{id}");
    }
    let checkpoints = acked.checkpoints.lock().clone();
    assert!(
        checkpoints.len() >= 10,
        "too few checkpoints to mean anything"
    );
    for (id, cp, name, len) in &checkpoints {
        let saved = fresh.checkpoints(id).unwrap();
        let info = saved
            .iter()
            .find(|c| c.id == *cp)
            .unwrap_or_else(|| panic!("acknowledged checkpoint {name} of {id} lost"));
        assert_eq!(&info.name, name);
        let state = fresh.store().checkpoint_state(id, *cp).unwrap().into_json();
        assert_eq!(state.unwrap().len(), *len);
    }
    // The calls the store-free execution made during the outage were kept and written.
    let local_stored = fresh.calls(&local_calls[0].execution_id).unwrap();
    assert_eq!(local_stored.len(), local_calls.len());

    let figures = fresh.shared_scope(&scope).unwrap();
    assert_eq!(figures.reserved_nanos, 0, "a reservation was left held");
    assert_eq!(figures.overrun_nanos, 0);
    assert_eq!(
        figures.spent_nanos, settled,
        "the scope's spend must be the sum of the settled calls"
    );
    eprintln!(
        "outage of {:.1} s: {} calls and {} checkpoints acknowledged, {} reservations refused \
         while down, work resumed {:.2} s after the restart; spent {settled} nano-USD",
        outage.as_secs_f64(),
        expected.len(),
        checkpoints.len(),
        acked.refused_while_down.load(Ordering::Relaxed),
        resumed_in.as_secs_f64()
    );
}

/// A store that stays down fills the call-record queue; at its bound new calls are refused
/// (STORAGE, before anything is sent) instead of the queue growing or records being dropped,
/// and once the store is back every queued record is written and calls go through again.
#[test]
fn a_full_record_queue_refuses_new_calls_until_the_store_takes_them() {
    let Some(server) = pg_server::PgServer::start() else {
        return;
    };
    const BOUND: usize = 20;
    let store = PostgresStore::connect_with(
        &server.url(),
        PostgresOptions {
            acquire_timeout: Duration::from_millis(300),
            writer: WriterOptions {
                max_pending: BOUND,
                ..WriterOptions::default()
            },
            ..PostgresOptions::default()
        },
    )
    .unwrap();
    let engine = common::engine_with_store(store, PRICES);
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "queue".into(),
            ..Default::default()
        })
        .unwrap();
    server.stop();
    // No shared scope: calls need the store only for their records, which queue.
    let mut settled = 0u64;
    let refused = loop {
        match exec.reserve(&req()) {
            Ok(mut r) => {
                r.settle(usage(settled)).unwrap();
                settled += 1;
            }
            Err(e) => break e,
        }
        assert!(settled as usize <= BOUND, "the queue grew past its bound");
    };
    assert_eq!(refused.code(), ErrorCode::Storage, "{refused}");
    assert!(
        refused.to_string().contains("call records are waiting"),
        "{refused}"
    );
    assert_eq!(settled as usize, BOUND);
    server.start_again();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = loop {
        match exec.reserve(&req()) {
            Ok(r) => break r,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Storage, "{e}");
                assert!(
                    Instant::now() < deadline,
                    "still refused after the store came back: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    after.settle(usage(settled)).unwrap();
    engine.flush().unwrap();
    let calls = exec.calls().unwrap();
    assert_eq!(calls.len(), BOUND + 1, "every settled call is in the store");
    assert!(calls.iter().all(|c| c.status == CallStatus::Ok));
}

/// PostgreSQL stopped under a process holding an allowance: calls go on from the allowance
/// without the server (no round trip needed) until it cannot cover the next one; that call
/// fails closed with STORAGE (a refill needs the store). The batch of settlements that could
/// not be written waits, unchanged, and is written once when the server is back — the scope's
/// spend is then exactly the settled calls' costs.
#[test]
fn postgres_stopped_under_an_allowance_serves_from_it_then_fails_closed_and_loses_nothing() {
    let Some(server) = pg_server::PgServer::start() else {
        return;
    };
    let url = server.url();
    let scope = common::unique("outage-allowance");
    let engine = open(&url);
    engine
        .define_shared_scope(&scope, Some(LIMIT), Period::None)
        .unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "outage-allowance".into(),
            shared_scopes: vec![scope.clone()],
            ..Default::default()
        })
        .unwrap();
    let mut costs = Vec::new();
    // Grow the allowance with demand while the server is up.
    for i in 0..200 {
        let mut r = exec.reserve(&req()).unwrap();
        costs.push(r.settle(usage(i)).unwrap().cost_nanos);
    }
    server.stop();
    let mut served_while_down = 0u64;
    let failed = loop {
        match exec.reserve(&req()) {
            Ok(mut r) => {
                served_while_down += 1;
                costs.push(r.settle(usage(served_while_down)).unwrap().cost_nanos);
            }
            Err(e) => break e,
        }
        assert!(served_while_down < 1_000_000, "the allowance never ran out");
    };
    assert_eq!(failed.code(), ErrorCode::Storage, "{failed}");
    assert!(
        served_while_down > 0,
        "no call was served from the allowance while the server was down"
    );
    // Still closed while the server is down: nothing goes out unbudgeted.
    assert_eq!(
        exec.reserve(&req()).map(drop).unwrap_err().code(),
        ErrorCode::Storage
    );
    server.start_again();
    wait_for("calls to resume", Duration::from_secs(30), || {
        exec.reserve(&req()).is_ok_and(|mut r| {
            costs.push(r.settle(usage(7)).unwrap().cost_nanos);
            true
        })
    });
    engine.flush().unwrap();
    engine.close().unwrap();
    let fresh = open(&url);
    let figures = fresh.shared_scope(&scope).unwrap();
    let settled: u64 = costs.iter().sum();
    eprintln!(
        "outage under an allowance: {served_while_down} calls served while the server was down, \
         then STORAGE; {} calls, spent {} nano-USD",
        costs.len(),
        figures.spent_nanos
    );
    assert_eq!(
        (figures.spent_nanos, figures.reserved_nanos),
        (settled, 0),
        "every settled call's cost written back once, nothing left reserved"
    );
    let recorded: u64 = fresh
        .calls(exec.id())
        .unwrap()
        .iter()
        .map(|c| c.cost_nanos)
        .sum();
    assert_eq!(recorded, settled);
}

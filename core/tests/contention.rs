//! Named resources across OS processes on one store (SQLite file, real PostgreSQL): a
//! semaphore of 2 shared by 4 processes × 4 threads never has more than 2 holders — checked by
//! the holders themselves — and a holder killed with SIGKILL frees its slot when its lease ends.
//!
//! The workers are this test binary itself, started again with `WFLO_WORKER` set: the
//! `worker` test then plays the worker's part (and does nothing in a normal run).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wflo_core::resilience::LockConfig;
use wflo_core::{Engine, EngineConfig};

const PROCESSES: usize = 4;
const THREADS: usize = 4;
const ROUNDS: usize = 8;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

fn open(url: &str, lease_ms: u64) -> Engine {
    Engine::new(EngineConfig {
        store: wflo_core::store::open_store(url).unwrap(),
        lease_ms,
        ..EngineConfig::default()
    })
}

#[test]
fn worker() {
    match std::env::var("WFLO_WORKER").as_deref() {
        Ok("contend") => contend_worker(),
        Ok("hold") => hold_worker(),
        _ => {}
    }
}

fn spawn_worker(role: &str, url: &str, resource: &str, log: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env("WFLO_WORKER", role)
        .env("WFLO_WORKER_URL", url)
        .env("WFLO_WORKER_RESOURCE", resource)
        .env("WFLO_WORKER_LOG", log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn semaphore_of_two() -> LockConfig {
    LockConfig {
        max_concurrent: 2,
        timeout_ms: 60_000,
        contention_threshold_ms: 1,
        lease_ms: None,
    }
}

/// Each holder appends `+` when it has its slot and `-` before giving it back, to one file
/// opened for appending by every process: the order of the lines is the order of the events.
fn contend_worker() {
    let engine = open(&env("WFLO_WORKER_URL"), 60_000);
    let lock = engine
        .resource(&env("WFLO_WORKER_RESOURCE"), semaphore_of_two())
        .unwrap();
    let log = env("WFLO_WORKER_LOG");
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (lock, log) = (&lock, &log);
            s.spawn(move || {
                let mut file = std::fs::OpenOptions::new().append(true).open(log).unwrap();
                for _ in 0..ROUNDS {
                    let mut permit = lock
                        .acquire(&format!("wf-{}-{t}", std::process::id()), None)
                        .unwrap();
                    file.write_all(b"+\n").unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                    file.write_all(b"-\n").unwrap();
                    permit.release().unwrap();
                }
            });
        }
    });
    engine.close().unwrap();
}

fn contend(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("holders.log");
    std::fs::write(&log, "").unwrap();
    let log = log.to_string_lossy().into_owned();
    let resource = common::unique("gpu");
    let started = Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| spawn_worker("contend", url, &resource, &log))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a contend worker failed");
    }
    let (mut inside, mut most, mut entries) = (0i64, 0i64, 0u64);
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        match line {
            "+" => {
                inside += 1;
                entries += 1;
            }
            "-" => inside -= 1,
            other => panic!("bad log line {other:?}"),
        }
        most = most.max(inside);
    }
    let total = (PROCESSES * THREADS * ROUNDS) as u64;
    assert_eq!(entries, total);
    assert_eq!(inside, 0);
    assert!(most <= 2, "{most} holders at once on a semaphore of 2");
    assert_eq!(
        most, 2,
        "16 threads on 2 slots never overlapped: the test proves nothing"
    );
    let engine = open(url, 60_000);
    let stats = engine
        .resource(&resource, semaphore_of_two())
        .unwrap()
        .stats()
        .unwrap();
    eprintln!(
        "{}: {} acquisitions, {} contended, max wait {} ms, in {:.1} s",
        engine.store().kind(),
        stats.acquisitions,
        stats.contentions,
        stats.max_wait_ms,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(stats.acquisitions, total, "the statistics add up");
    assert_eq!(stats.timeouts, 0);
    assert!(stats.contentions > 0 && stats.contentions <= total);
    assert!(stats.total_wait_ms >= stats.max_wait_ms);
    assert!(stats.holders.is_empty());
}

#[test]
fn a_semaphore_holds_across_processes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    contend(&dir.path().join("sem.db").to_string_lossy());
}

#[test]
fn a_semaphore_holds_across_processes_on_postgres() {
    if let Some(url) = common::postgres_url() {
        contend(&url);
    }
}

/// Takes the lock, says so, and waits to be killed.
fn hold_worker() {
    let engine = open(&env("WFLO_WORKER_URL"), 1_500);
    let lock = engine
        .resource(&env("WFLO_WORKER_RESOURCE"), LockConfig::default())
        .unwrap();
    let permit = lock.acquire("wf-doomed", None).unwrap();
    println!("\n@@held {}", permit.resource());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

fn killed_holder(url: &str) {
    let resource = common::unique("migration");
    let mut child = spawn_worker("hold", url, &resource, "");
    let out = child.stdout.take().unwrap();
    let held = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("@@held "));
    assert!(held, "the holder never took the lock");
    child.kill().unwrap(); // SIGKILL: no release, no drop
    child.wait().unwrap();
    let engine = open(url, 60_000);
    let lock = engine.resource(&resource, LockConfig::default()).unwrap();
    assert_eq!(
        lock.stats().unwrap().holders.len(),
        1,
        "still held until the lease ends"
    );
    assert_eq!(
        lock.acquire("wf-impatient", Some(0)).unwrap_err().code(),
        wflo_core::ErrorCode::ResourceBusy
    );
    let permit = lock.acquire("wf-next", Some(20_000)).unwrap();
    assert!(permit.waited_ms() < 20_000);
    let stats = lock.stats().unwrap();
    assert_eq!(stats.holders.len(), 1);
    assert_eq!(stats.holders[0].workflow_id, "wf-next");
    assert_eq!((stats.acquisitions, stats.timeouts), (2, 1));
}

#[test]
fn a_killed_holder_frees_its_slot_after_its_lease_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    killed_holder(&dir.path().join("lock.db").to_string_lossy());
}

#[test]
fn a_killed_holder_frees_its_slot_after_its_lease_on_postgres() {
    if let Some(url) = common::postgres_url() {
        killed_holder(&url);
    }
}

/// A clock that moves a millisecond every time it is read: the worst case for reporting a wait.
struct TickingClock(std::sync::atomic::AtomicU64);

impl wflo_core::clock::Clock for TickingClock {
    fn now_ms(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_free_slot_taken_on_the_first_try_reports_no_wait_however_the_clock_moves() {
    let engine = Engine::new(EngineConfig {
        clock: std::sync::Arc::new(TickingClock(1_000_000.into())),
        ..EngineConfig::default()
    });
    let lock = engine.resource("ticking", LockConfig::default()).unwrap();
    let first = lock.acquire("wf-a", Some(0)).unwrap();
    assert_eq!(first.waited_ms(), 0);
    // Busy with no wait allowed: refused at once, having waited for no one either.
    let busy = lock.acquire("wf-b", Some(0)).unwrap_err();
    assert_eq!(busy.code(), wflo_core::ErrorCode::ResourceBusy);
    assert!(busy.to_string().contains("ticking"), "{busy}");
}

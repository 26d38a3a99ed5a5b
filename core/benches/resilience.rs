//! What issue 16's pieces cost a call: a circuit breaker's check + outcome in one process and
//! shared through a store (memory, SQLite file, PostgreSQL with `WFLO_BENCH_POSTGRES_URL`), a
//! resource lock's acquire + release, and a retry decision. Prints p50/p99 per operation in
//! µs and the rate.
//!
//! `cargo bench -p wflo-core --bench resilience`; `cargo test --all-targets` runs it once,
//! briefly, as a smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wflo_core::resilience::{BreakerConfig, Failure, FailureKind, LockConfig, RetryPolicy};
use wflo_core::store::open_store;
use wflo_core::{Engine, EngineConfig};

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1e6
    };
    let total: Duration = samples.iter().sum();
    println!(
        "{what:<48} p50 {:>9.2} µs  p99 {:>9.2} µs  {:>10.0}/s",
        pct(0.5),
        pct(0.99),
        samples.len() as f64 / total.as_secs_f64()
    );
}

fn timed(n: usize, mut op: impl FnMut(usize)) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            op(i);
            t.elapsed()
        })
        .collect()
}

fn engine(url: &str) -> Engine {
    Engine::new(EngineConfig {
        store: open_store(url).unwrap(),
        ..EngineConfig::default()
    })
}

fn breakers(label: &str, url: &str, n: usize) {
    let e = engine(url);
    let local = e.breaker("bench:local", None).unwrap();
    report(
        &format!("breaker check+success, one process ({label})"),
        timed(n, |_| {
            local.check().unwrap();
            local.record_success().unwrap();
        }),
    );
    let shared = e
        .breaker(
            "bench:shared",
            Some(BreakerConfig {
                shared: true,
                ..BreakerConfig::default()
            }),
        )
        .unwrap();
    report(
        &format!("breaker check+success, shared ({label})"),
        timed(n, |_| {
            shared.check().unwrap();
            shared.record_success().unwrap();
        }),
    );
    let lock = e.resource("bench:lock", LockConfig::default()).unwrap();
    report(
        &format!("resource acquire+release ({label})"),
        timed(n, |_| {
            let mut p = lock.acquire("wf-bench", Some(0)).unwrap();
            p.release().unwrap();
        }),
    );
    e.close().unwrap();
}

fn main() {
    let n = if full_run() { 5_000 } else { 20 };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("resilience.db");
    breakers("memory", "memory://", n * 10);
    breakers("SQLite", &sqlite.to_string_lossy(), n);
    if let Ok(url) = std::env::var("WFLO_BENCH_POSTGRES_URL") {
        breakers("PostgreSQL", &url, n / 5);
    }
    // A retry decision after a 429 with Retry-After: what a face asks the engine per failure.
    let e = Arc::new(engine("memory://"));
    let failure = Failure {
        kind: FailureKind::Http,
        status: Some(429),
        headers: vec![("retry-after".into(), "2".into())],
        message: "429 Too Many Requests".into(),
    };
    report(
        "retry decision (429 + Retry-After)",
        timed(n * 10, |_| {
            let mut r = e.retrier(RetryPolicy::default()).unwrap();
            std::hint::black_box(r.next(&failure, e.now_ms()));
        }),
    );
}

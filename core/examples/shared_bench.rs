//! Reservations per second on one shared budget scope from several processes (and threads):
//! each reservation is a store transaction on the shared scope, settled by another.
//!
//! `cargo run --release -p wflo-core --example shared_bench -- URL PROCESSES THREADS SECONDS [LIMIT_NANOS]`
//!
//! Without LIMIT_NANOS the scope's limit is out of reach and the figure is throughput. With it,
//! the scope gets that limit and every thread reserves until the scope refuses it (or the time
//! is up): the overspend printed (settled spend beyond the limit) must then be 0 however the
//! processes and threads race. `WFLO_BENCH_JSON=1` prints one JSON line for `make bench`.

use std::process::Command;
use std::time::{Duration, Instant};

use wflo_core::store::Period;
use wflo_core::{CallRequest, Engine, Error, ExecutionOptions, Usage};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: shared_bench URL PROCESSES THREADS SECONDS [LIMIT_NANOS]")
        .clone();
    let processes: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let seconds: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(5);
    let limit: Option<u64> = args.get(5).and_then(|a| a.parse().ok());
    if let Ok(scope) = std::env::var("WFLO_BENCH_SCOPE") {
        worker(&url, &scope, threads, seconds);
        return;
    }
    let engine = Engine::open(Some(&url)).unwrap();
    let scope = format!("bench-{}", std::process::id());
    let stop_on_refusal = limit.is_some();
    let limit = limit.unwrap_or(1_000_000_000_000);
    engine
        .define_shared_scope(&scope, Some(limit), Period::None)
        .unwrap();
    let start = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            let mut child = Command::new(std::env::current_exe().unwrap());
            child
                .args([&url, "0", &threads.to_string(), &seconds.to_string()])
                .env("WFLO_BENCH_SCOPE", &scope)
                .stdout(std::process::Stdio::piped());
            if stop_on_refusal {
                child.env("WFLO_BENCH_STOP_ON_REFUSAL", "1");
            }
            child.spawn().unwrap()
        })
        .collect();
    let (mut total, mut refused) = (0u64, 0u64);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut figures = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        total += figures.next().unwrap();
        refused += figures.next().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let figures = engine.shared_scope(&scope).unwrap();
    let overspend = figures.spent_nanos.saturating_sub(limit);
    let kind = engine.store().kind();
    let per_sec = if stop_on_refusal {
        total as f64 / elapsed
    } else {
        total as f64 / seconds as f64
    };
    if std::env::var_os("WFLO_BENCH_JSON").is_some() {
        println!(
            "{}",
            serde_json::json!({
                "store": kind, "processes": processes, "threads": threads, "seconds": seconds,
                "reservations": total, "refused": refused, "per_sec": per_sec,
                "limit_nanos": limit, "spent_nanos": figures.spent_nanos,
                "reserved_nanos": figures.reserved_nanos, "overspend_nanos": overspend,
            })
        );
        return;
    }
    println!(
        "{kind}: {processes} processes x {threads} threads: {total} reservations (each settled) in {elapsed:.1} s = {per_sec:.0}/s; \
         {refused} refused; spent {} of {limit}, left reserved {}, overspend {overspend}",
        figures.spent_nanos, figures.reserved_nanos,
    );
}

/// One worker process: prints how many reservations it settled and how many were refused.
fn worker(url: &str, scope: &str, threads: usize, seconds: u64) {
    let stop_on_refusal = std::env::var_os("WFLO_BENCH_STOP_ON_REFUSAL").is_some();
    let engine = Engine::open(Some(url)).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "bench".into(),
            shared_scopes: vec![scope.into()],
            ..Default::default()
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let exec = exec.clone();
            std::thread::spawn(move || {
                let (mut n, mut refused) = (0u64, 0u64);
                let req = CallRequest {
                    model: "gpt-4o-mini",
                    input_tokens: 500,
                    max_output_tokens: Some(200),
                    ..Default::default()
                };
                while Instant::now() < deadline {
                    let mut r = match exec.reserve(&req) {
                        Ok(r) => r,
                        Err(Error::BudgetExceeded(_)) if stop_on_refusal => {
                            refused += 1;
                            break;
                        }
                        Err(e) => panic!("reserve: {e}"),
                    };
                    r.settle(Usage {
                        input: 500,
                        output: 100,
                        ..Default::default()
                    })
                    .unwrap();
                    n += 1;
                }
                (n, refused)
            })
        })
        .collect();
    let (mut n, mut refused) = (0u64, 0u64);
    for h in handles {
        let (a, b) = h.join().unwrap();
        n += a;
        refused += b;
    }
    engine.close().unwrap();
    println!("{n} {refused}");
}

//! Reservations per second on one shared budget scope from several processes (and threads):
//! each reservation is a store transaction on the shared scope, settled by another.
//!
//! `cargo run --release -p wflo-core --example shared_bench -- URL PROCESSES THREADS SECONDS`

use std::process::Command;
use std::time::{Duration, Instant};

use wflo_core::store::Period;
use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: shared_bench URL PROCESSES THREADS SECONDS")
        .clone();
    let processes: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let seconds: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(5);
    if let Ok(scope) = std::env::var("WFLO_BENCH_SCOPE") {
        worker(&url, &scope, threads, seconds);
        return;
    }
    let engine = Engine::open(Some(&url)).unwrap();
    let scope = format!("bench-{}", std::process::id());
    let limit = 1_000_000_000_000;
    engine
        .define_shared_scope(&scope, Some(limit), Period::None)
        .unwrap();
    let start = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([&url, "0", &threads.to_string(), &seconds.to_string()])
                .env("WFLO_BENCH_SCOPE", &scope)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0u64;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker failed");
        total += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let figures = engine.shared_scope(&scope).unwrap();
    println!(
        "{}: {processes} processes x {threads} threads: {total} reservations (each settled) in {elapsed:.1} s = {:.0}/s; \
         spent {} of {limit}, left reserved {}, overspend {}",
        engine.store().kind(),
        total as f64 / seconds as f64,
        figures.spent_nanos,
        figures.reserved_nanos,
        figures.spent_nanos.saturating_sub(limit)
    );
}

fn worker(url: &str, scope: &str, threads: usize, seconds: u64) {
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
                let mut n = 0u64;
                let req = CallRequest {
                    model: "gpt-4o-mini",
                    input_tokens: 500,
                    max_output_tokens: Some(200),
                    ..Default::default()
                };
                while Instant::now() < deadline {
                    let mut r = exec.reserve(&req).unwrap();
                    r.settle(Usage {
                        input: 500,
                        output: 100,
                        ..Default::default()
                    })
                    .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let n: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    engine.close().unwrap();
    println!("{n}");
}

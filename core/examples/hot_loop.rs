//! A loop of tracked calls (or of cost computations) for profilers (`perf record`,
//! `valgrind --tool=callgrind`) and for `make bench`.
//!
//! `hot_loop [N] [tracked|cost]`. A tracked call is reserve (gpt-4o-mini, 1,200 in, at most
//! 400 out) + settle (1,000 in, 200 cache read, 350 out) + record, in a fresh execution every
//! 10,000 calls as the C, Go, Node and Python faces do; a cost is gpt-4o at 1,000 in + 200 out,
//! as `make bench` prices it in every language. With `WFLO_BENCH_JSON=1` it prints one JSON line:
//! `{"calls": N, "ns_per_call": X}`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

const CALLS_PER_EXECUTION: u64 = 10_000;

/// This thread's CPU time so far (Linux `/proc/thread-self/schedstat`, ns), to tell the
/// calling thread's cost from work other threads do meanwhile (an exporter's).
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

thread_local! {
    static CPU: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn tracked(engine: &Engine, n: u64) -> (Duration, String) {
    let request = CallRequest {
        model: "gpt-4o-mini",
        input_tokens: 1200,
        max_output_tokens: Some(400),
        ..Default::default()
    };
    let usage = Usage {
        input: 1000,
        cache_read: 200,
        output: 350,
        ..Usage::default()
    };
    let (mut total, mut left, mut spent) = (Duration::ZERO, n, String::new());
    while left > 0 {
        let batch = left.min(CALLS_PER_EXECUTION);
        let exec = engine
            .start_execution(ExecutionOptions {
                name: "loop".into(),
                budget_nanos: Some(u64::MAX / 4),
                ..Default::default()
            })
            .unwrap();
        let cpu = thread_cpu_ns();
        let start = Instant::now();
        for _ in 0..batch {
            let mut r = exec.reserve(&request).unwrap();
            r.settle(usage).unwrap();
        }
        total += start.elapsed();
        if let (Some(a), Some(b)) = (cpu, thread_cpu_ns()) {
            CPU.set(CPU.get() + b.saturating_sub(a));
        }
        spent = exec.breakdown().unwrap().total_usd.to_string();
        left -= batch;
    }
    (total, spent)
}

fn cost(engine: &Engine, n: u64) -> (Duration, String) {
    let usage = Usage {
        input: 1000,
        output: 200,
        ..Usage::default()
    };
    let start = Instant::now();
    let mut nanos = 0;
    for _ in 0..n {
        nanos = black_box(engine.cost(black_box("gpt-4o"), black_box(&usage)))
            .unwrap()
            .cost_nanos;
    }
    (
        start.elapsed(),
        format!("{} USD per call", nanos as f64 / 1e9),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mode = args.get(2).map(String::as_str).unwrap_or("tracked");
    let engine = Engine::in_memory();
    let (elapsed, note) = match mode {
        "tracked" => tracked(&engine, n),
        "cost" => cost(&engine, n),
        other => panic!("unknown mode {other}: tracked or cost"),
    };
    let per_call = elapsed.as_nanos() as f64 / n as f64;
    if std::env::var_os("WFLO_BENCH_JSON").is_some() {
        println!(r#"{{"calls":{n},"ns_per_call":{per_call:.1}}}"#);
    } else if mode == "tracked" {
        let cpu = CPU.get() as f64 / n as f64;
        println!(
            "{n} tracked calls, {per_call:.0} ns each ({cpu:.0} ns on the calling thread's CPU); spent {note} in the last execution"
        );
    } else {
        println!("{n} costs, {per_call:.0} ns each; {note}");
    }
}

//! A loop of tracked calls for profilers (`perf record`, `valgrind --tool=callgrind`).

use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "loop".into(),
            budget_nanos: Some(u64::MAX / 4),
            ..Default::default()
        })
        .unwrap();
    let request = CallRequest {
        model: "gpt-4o-mini",
        input_tokens: 1200,
        max_output_tokens: Some(400),
        ..Default::default()
    };
    let start = std::time::Instant::now();
    for _ in 0..n {
        let mut r = exec.reserve(&request).unwrap();
        r.settle(Usage {
            input: 1000,
            cache_read: 200,
            output: 350,
            ..Usage::default()
        })
        .unwrap();
    }
    let per_call = start.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "{n} tracked calls, {per_call:.0} ns each; spent {}",
        exec.breakdown().unwrap().total_usd
    );
}

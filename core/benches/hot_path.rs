//! The metering hot path: resolve the model, reserve the worst case, settle with usage, record
//! the call — on one thread, and with two threads on one budget scope.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use wflo_core::{CallRequest, Engine, Execution, ExecutionOptions, Usage};

fn execution() -> (Engine, Execution) {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "bench".into(),
            budget_nanos: Some(u64::MAX / 4),
            ..Default::default()
        })
        .unwrap();
    (engine, exec)
}

const REQUEST: CallRequest<'static> = CallRequest {
    model: "gpt-4o-mini",
    provider: None,
    input_tokens: 1200,
    input_estimated: None,
    max_output_tokens: Some(400),
    cache_write: wflo_core::CacheWrite::None,
    stream: false,
    clamp_max_tokens: false,
};

fn tracked_call(exec: &Execution) {
    let mut r = exec.reserve(black_box(&REQUEST)).unwrap();
    let usage = Usage {
        input: 1000,
        cache_read: 200,
        output: 350,
        ..Usage::default()
    };
    black_box(r.settle(black_box(usage)).unwrap());
}

/// Calls per execution in the timed loops: a long agent run, not millions of calls piling up
/// in one in-memory execution (which would measure vector growth, not metering).
const CALLS_PER_EXECUTION: u64 = 10_000;

/// Times `iters` tracked calls, starting a fresh execution every `CALLS_PER_EXECUTION` calls
/// outside the timed section.
fn timed_calls(iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CALLS_PER_EXECUTION);
        let (_engine, exec) = execution();
        let start = Instant::now();
        for _ in 0..n {
            tracked_call(&exec);
        }
        total += start.elapsed();
        left -= n;
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hot_path");
    {
        let engine = Engine::in_memory();
        let usage = Usage {
            input: 1000,
            cache_read: 200,
            output: 350,
            ..Usage::default()
        };
        group.bench_function("cost (resolve + price)", |b| {
            b.iter(|| {
                black_box(
                    engine
                        .cost(black_box("gpt-4o-mini"), black_box(&usage))
                        .unwrap(),
                )
            })
        });
    }
    {
        group.bench_function("tracked call, 1 thread", |b| b.iter_custom(timed_calls));
    }
    // A second thread makes the same number of calls on the same execution scope while the
    // measured thread runs.
    group.bench_function("tracked call, 2 threads on one scope", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CALLS_PER_EXECUTION);
                let (_engine, exec) = execution();
                let go = AtomicBool::new(false);
                thread::scope(|s| {
                    s.spawn(|| {
                        while !go.load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                        for _ in 0..n {
                            tracked_call(&exec);
                        }
                    });
                    go.store(true, Ordering::Release);
                    let start = Instant::now();
                    for _ in 0..n {
                        tracked_call(&exec);
                    }
                    total += start.elapsed();
                });
                left -= n;
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

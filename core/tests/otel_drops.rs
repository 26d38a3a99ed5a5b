//! Spans that cannot reach the endpoint are counted, never waited for: a full queue drops at
//! once and counts, and received + dropped equals every span made. Its own binary: the
//! pipeline is per process and configured from the environment.

mod otlp;

use std::time::{Duration, Instant};

use wflo_core::{CallRequest, Engine, ExecutionOptions, ExecutionStatus, Usage};

fn dropped(engine: &Engine) -> u64 {
    let text = engine.metrics_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("wflo_telemetry_dropped_spans_total "))
        .unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_full_span_queue_drops_and_counts_and_never_makes_a_call_wait() {
    // A collector that takes 300 ms to answer each batch of spans.
    let (url, got) = otlp::receiver(Duration::from_millis(300));
    let received = || got.lock().unwrap().spans.len() as u64;
    // SAFETY: set before any engine exists; this test binary has one test.
    unsafe {
        std::env::set_var(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{url}/v1/traces"),
        );
        std::env::set_var("OTEL_BSP_MAX_QUEUE_SIZE", "4");
        std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "50");
    }
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "drops".into(),
            ..Default::default()
        })
        .unwrap();
    let calls = 50;
    let started = Instant::now();
    for _ in 0..calls {
        let mut r = exec
            .reserve(&CallRequest {
                model: "gpt-4o-mini",
                input_tokens: 10,
                max_output_tokens: Some(5),
                ..Default::default()
            })
            .unwrap();
        r.settle(Usage {
            input: 10,
            output: 5,
            ..Default::default()
        })
        .unwrap();
    }
    // 50 calls while the receiver takes 300 ms a batch: they did not wait for it.
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    exec.finish(ExecutionStatus::Completed).unwrap();
    assert!(dropped(&engine) > 0, "the queue of 4 overflowed");
    engine.close().unwrap(); // flushes what is queued
    let made = calls + 1; // the calls' spans and the execution's
    let deadline = Instant::now() + Duration::from_secs(20);
    while received() + dropped(&engine) < made {
        assert!(
            Instant::now() < deadline,
            "received {} dropped {}",
            received(),
            dropped(&engine)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        received() + dropped(&engine),
        made,
        "every span arrived or was counted"
    );
}

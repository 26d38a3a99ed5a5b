//! Spans that cannot reach the endpoint are counted, never waited for: a full queue drops at
//! once and counts, and received + dropped equals every span made. Its own binary: the
//! pipeline is per process and configured from the environment.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use wflo_core::{CallRequest, Engine, ExecutionOptions, ExecutionStatus, Usage};

/// A receiver that takes 300 ms to answer each request, and counts the spans it decoded.
fn slow_receiver() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let spans = Arc::new(AtomicU64::new(0));
    let count = spans.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    if path == "/v1/traces" {
                        let req = ExportTraceServiceRequest::decode(&body[..]).unwrap();
                        let n: usize = req
                            .resource_spans
                            .iter()
                            .flat_map(|r| &r.scope_spans)
                            .map(|s| s.spans.len())
                            .sum();
                        std::thread::sleep(Duration::from_millis(300));
                        count.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                }
            });
        }
    });
    (url, spans)
}

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
    let (url, received) = slow_receiver();
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
    while received.load(Ordering::SeqCst) + dropped(&engine) < made {
        assert!(
            Instant::now() < deadline,
            "received {} dropped {}",
            received.load(Ordering::SeqCst),
            dropped(&engine)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        received.load(Ordering::SeqCst) + dropped(&engine),
        made,
        "every span arrived or was counted"
    );
}

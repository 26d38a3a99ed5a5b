//! OTLP export end to end, from Rust: a loopback receiver decodes what the exporter POSTs with
//! the OTLP protobuf types and the spans are checked against the GenAI conventions and the
//! ledger. (The cross-language check against a receiver built on PyPI's opentelemetry-proto
//! is tests/otel.) One test: the pipeline is per process and configured from the environment.

mod otlp;

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;
use wflo_core::{CallRequest, Engine, ExecutionOptions, ExecutionStatus, Usage};

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv: &&KeyValue| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn int(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::IntValue(i)) => *i,
        other => panic!("{key}: {other:?}"),
    }
}

fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(Value::StringValue(s)) => s.clone(),
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn spans_and_metrics_reach_an_otlp_receiver_by_the_genai_conventions() {
    let (url, got) = otlp::receiver(Duration::ZERO);
    // SAFETY: set before any engine exists; this test binary has one test.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &url);
        std::env::set_var("OTEL_SERVICE_NAME", "wflo-otel-test");
        std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "50");
    }
    let engine = Engine::in_memory();
    let secret = "sk-SECRET-PLANTED-otel";
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "otel-run".into(),
            budget_nanos: Some(1_000_000),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..Default::default()
        })
        .unwrap();
    let mut r = exec
        .reserve_request(
            wflo_core::UsageFormat::OpenAiChat,
            &format!(r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{secret}"}}],"max_tokens":50}}"#),
            &Default::default(),
        )
        .unwrap()
        .reservation;
    let ok = r
        .settle(Usage {
            input: 120,
            output: 40,
            cache_read: 20,
            ..Default::default()
        })
        .unwrap();
    let refused = exec.reserve(&CallRequest {
        model: "gpt-4o",
        provider: Some("openai"),
        input_tokens: 1_000_000,
        max_output_tokens: Some(10),
        ..Default::default()
    });
    assert!(refused.is_err());
    exec.checkpoint("after-first", r#"{"k":1}"#).unwrap();
    exec.finish(ExecutionStatus::Completed).unwrap();
    assert_eq!(exec.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    engine.close().unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        {
            let g = got.lock().unwrap();
            if g.spans.len() >= 3 && g.metric_names.iter().any(|m| m == "wflo.cost") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "nothing exported in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    let g = got.lock().unwrap();
    let trace: Vec<u8> = (0..16)
        .map(|i| {
            u8::from_str_radix(&"4bf92f3577b34da6a3ce929d0e0e4736"[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect();
    let workflow = g
        .spans
        .iter()
        .find(|s| s.name == "invoke_workflow otel-run")
        .expect("execution span");
    assert_eq!(workflow.trace_id, trace);
    assert_eq!(
        workflow.parent_span_id,
        vec![0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
        "the host's span parents the execution"
    );
    let checkpoint = workflow
        .events
        .iter()
        .find(|e| e.name == "wflo.checkpoint")
        .expect("checkpoint event");
    let sequence = checkpoint
        .attributes
        .iter()
        .find(|kv| kv.key == "wflo.checkpoint.sequence");
    assert!(
        matches!(
            sequence
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| v.value.as_ref()),
            Some(Value::IntValue(1))
        ),
        "the sequence is an integer: {sequence:?}"
    );
    let chat = g
        .spans
        .iter()
        .find(|s| s.name == "chat gpt-4o-mini")
        .expect("call span");
    assert_eq!(chat.kind, 3, "CLIENT");
    assert_eq!(chat.parent_span_id, workflow.span_id);
    assert_eq!(chat.trace_id, trace);
    assert_eq!(text(chat, "gen_ai.operation.name"), "chat");
    assert_eq!(text(chat, "gen_ai.provider.name"), "openai");
    assert_eq!(text(chat, "gen_ai.request.model"), "gpt-4o-mini");
    assert_eq!(int(chat, "gen_ai.request.max_tokens"), 50);
    assert_eq!(
        int(chat, "gen_ai.usage.input_tokens"),
        140,
        "cached tokens included"
    );
    assert_eq!(int(chat, "gen_ai.usage.cache_read.input_tokens"), 20);
    assert_eq!(int(chat, "gen_ai.usage.output_tokens"), 40);
    assert_eq!(int(chat, "wflo.cost.nanos") as u64, ok.cost_nanos);
    assert_eq!(int(chat, "wflo.reserved.nanos") as u64, ok.reserved_nanos);
    assert_eq!(text(chat, "gen_ai.usage.cost.currency"), "USD");
    assert_eq!(text(chat, "wflo.execution.id"), exec.id());
    let refusal = g
        .spans
        .iter()
        .find(|s| s.name == "chat gpt-4o")
        .expect("refused call span");
    assert_eq!(text(refusal, "error.type"), "budget_exceeded");
    assert!(
        attr(refusal, "gen_ai.usage.input_tokens").is_none(),
        "nothing was sent"
    );
    assert!(
        g.metric_names
            .iter()
            .any(|m| m == "gen_ai.client.token.usage")
    );
    assert!(
        g.metric_names
            .iter()
            .any(|m| m == "gen_ai.client.operation.duration")
    );
    assert!(g.metric_names.iter().any(|m| m == "wflo.refusals"));
    for body in &g.bodies {
        assert!(
            !body.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the prompt never leaves in telemetry"
        );
    }
}

//! Structured events (core/src/events.rs): each kind fires with its fields, under the target
//! `wflo`, and none carries a prompt, a reply or anything else the caller sent as text.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wflo_core::clock::ManualClock;
use wflo_core::{
    CallRequest, CallStatus, Engine, EngineConfig, ExecutionOptions, RequestOptions, UsageFormat,
    money::parse_usd,
};

/// One event: level, target, "field=value" pairs.
type Seen = (tracing::Level, String, Vec<String>);

/// Every event the code under test emitted.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((*meta.level(), meta.target().to_owned(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

const SECRET: &str = "sk-planted-SECRET-4242";

#[test]
fn each_kind_of_event_fires_with_its_fields_and_no_text_the_caller_sent() {
    let collect = Collect::default();
    let events = collect.0.clone();
    tracing::subscriber::with_default(collect, || {
        let engine = Engine::in_memory();
        let exec = engine
            .start_execution(ExecutionOptions {
                name: "events".into(),
                budget_nanos: Some(parse_usd("0.001").unwrap()),
                ..Default::default()
            })
            .unwrap();
        let chat = |max_tokens: u64| {
            serde_json::json!({"model": "gpt-4o-mini", "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": format!("my key is {SECRET}")}]})
            .to_string()
        };
        let format = UsageFormat::from_name("openai_chat").unwrap();
        let mut made = exec
            .root()
            .reserve_request(format, &chat(100), &RequestOptions::default())
            .unwrap();
        let reply = serde_json::json!({"choices": [{"message": {"role": "assistant", "content": SECRET}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 90}});
        made.reservation
            .settle_result(format, &reply.to_string(), CallStatus::Ok)
            .unwrap();
        // Far over the $0.001 left: refused before sending.
        assert!(
            exec.root()
                .reserve_request(format, &chat(100_000), &RequestOptions::default())
                .is_err()
        );
        exec.checkpoint("after-first", "{\"k\": 1}").unwrap();
        exec.rollback_to_checkpoint("after-first").unwrap();
    });
    let events = events.lock().unwrap();
    let kind = |k: &str| {
        events
            .iter()
            .find(|(_, _, f)| f.contains(&format!("event={k}")))
            .unwrap_or_else(|| panic!("no {k} event in {events:?}"))
    };
    let has =
        |e: &(tracing::Level, String, Vec<String>), field: &str| e.2.iter().any(|f| f == field);
    let reserved = kind("reserved");
    assert_eq!(
        (reserved.0, reserved.1.as_str()),
        (tracing::Level::DEBUG, "wflo")
    );
    assert!(
        has(reserved, "model=gpt-4o-mini")
            && reserved.2.iter().any(|f| f.starts_with("reserved_nanos="))
    );
    let settled = kind("settled");
    // 20 × $0.15/M + 90 × $0.60/M.
    assert!(
        has(settled, "cost_nanos=57000")
            && has(settled, "estimated=false")
            && has(settled, "status=ok"),
        "{settled:?}"
    );
    let refused = kind("refused");
    assert_eq!(refused.0, tracing::Level::INFO);
    assert!(
        refused.2.iter().any(|f| f.starts_with("requested_nanos=")),
        "{refused:?}"
    );
    assert!(has(kind("checkpoint"), "name=after-first") && has(kind("checkpoint"), "sequence=1"));
    assert!(has(kind("rollback"), "name=after-first"));
    // The prompt and the reply carried a secret; no event does.
    for e in events.iter() {
        assert!(e.2.iter().all(|f| !f.contains(SECRET)), "{e:?}");
    }
}

#[test]
fn a_reclaimed_lease_is_an_event() {
    let collect = Collect::default();
    let events = collect.0.clone();
    tracing::subscriber::with_default(collect, || {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let engine = Engine::new(EngineConfig {
            clock: clock.clone(),
            lease_ms: 60_000,
            ..EngineConfig::default()
        });
        let exec = engine.start_execution(ExecutionOptions::default()).unwrap();
        let request = CallRequest {
            model: "gpt-4o-mini",
            input_tokens: 10,
            max_output_tokens: Some(10),
            ..Default::default()
        };
        let held = exec.reserve(&request).unwrap();
        clock.advance(60_001);
        // The next reservation reclaims the expired one first.
        let _next = exec.reserve(&request).unwrap();
        std::mem::forget(held);
    });
    let events = events.lock().unwrap();
    let reclaimed = events
        .iter()
        .find(|e| e.2.iter().any(|f| f == "event=lease_reclaimed"))
        .unwrap_or_else(|| panic!("no lease_reclaimed in {events:?}"));
    assert_eq!(reclaimed.0, tracing::Level::INFO);
    assert!(reclaimed.2.iter().any(|f| f == "count=1"), "{reclaimed:?}");
}

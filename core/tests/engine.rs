//! Engine behaviour beyond the shared vectors: leases, dropped reservations, streams,
//! checkpoints, resume, and bad input.

use std::sync::Arc;

use wflo_core::clock::ManualClock;
use wflo_core::store::MemoryStore;
use wflo_core::{
    CallRequest, CallStatus, Engine, EngineConfig, ErrorCode, ExecutionOptions, ExecutionStatus,
    JsonText, StreamAccumulator, Usage, UsageFormat,
};

const PRICES: &str =
    r#"{"models":[{"name":"t-model","input":1000000,"output":4000000,"max_output":1000}]}"#;

fn engine_with_clock(clock: Arc<ManualClock>) -> Engine {
    let engine = Engine::new(EngineConfig {
        clock,
        lease_ms: 60_000,
        ..EngineConfig::default()
    });
    engine.set_prices_json(PRICES).unwrap();
    engine
}

fn opts(budget: Option<u64>) -> ExecutionOptions {
    ExecutionOptions {
        name: "test".into(),
        budget_nanos: budget,
        ..Default::default()
    }
}

fn req(input: u64, max_out: u64) -> CallRequest<'static> {
    CallRequest {
        model: "t-model",
        input_tokens: input,
        input_estimated: Some(false),
        max_output_tokens: Some(max_out),
        ..Default::default()
    }
}

#[test]
fn an_expired_lease_returns_its_budget() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let engine = engine_with_clock(clock.clone());
    let exec = engine.start_execution(opts(Some(3_000_000))).unwrap();
    let held = exec.reserve(&req(1000, 500)).unwrap(); // 3_000_000: the whole budget
    assert_eq!(
        exec.reserve(&req(10, 10)).unwrap_err().code(),
        ErrorCode::BudgetExceeded
    );
    clock.advance(60_001);
    // The next reservation reclaims the expired lease first.
    let mut next = exec.reserve(&req(10, 10)).unwrap();
    assert_eq!(exec.breakdown().unwrap().reserved_nanos, 50_000);
    next.settle(Usage {
        input: 10,
        output: 10,
        ..Default::default()
    })
    .unwrap();
    // The late settle of the reclaimed reservation still books its spend, as an overrun.
    let mut held = held;
    let rec = held
        .settle(Usage {
            input: 1000,
            output: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rec.overrun_nanos, rec.cost_nanos);
    let b = exec.breakdown().unwrap();
    assert_eq!(b.total_nanos, 50_000 + 1_400_000);
    assert_eq!(b.reserved_nanos, 0);
}

#[test]
fn renewing_keeps_a_lease() {
    let clock = Arc::new(ManualClock::new(0));
    let engine = engine_with_clock(clock.clone());
    let exec = engine.start_execution(opts(Some(3_000_000))).unwrap();
    let held = exec.reserve(&req(1000, 500)).unwrap();
    clock.advance(50_000);
    assert!(held.renew().unwrap());
    clock.advance(50_000);
    assert_eq!(
        exec.reserve(&req(10, 10)).unwrap_err().code(),
        ErrorCode::BudgetExceeded
    );
}

#[test]
fn a_dropped_reservation_is_released_and_recorded_as_aborted() {
    let engine = engine_with_clock(Arc::new(ManualClock::new(0)));
    let exec = engine.start_execution(opts(Some(3_000_000))).unwrap();
    drop(exec.reserve(&req(1000, 500)).unwrap());
    let b = exec.breakdown().unwrap();
    assert_eq!(b.reserved_nanos, 0);
    let calls = exec.calls().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, CallStatus::Aborted);
    exec.reserve(&req(1000, 500)).unwrap();
}

#[test]
fn a_stream_without_usage_is_estimated_never_zero() {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(opts(Some(1_000_000_000))).unwrap();
    let mut r = exec
        .reserve(&CallRequest {
            model: "gpt-4o",
            input_tokens: 20,
            max_output_tokens: Some(100),
            stream: true,
            ..Default::default()
        })
        .unwrap();
    let mut acc = StreamAccumulator::new(UsageFormat::OpenAiChat).unwrap();
    for delta in ["Hello", " there", ", how are you today?"] {
        acc.push_text(&format!(
            r#"{{"choices":[{{"index":0,"delta":{{"content":"{delta}"}}}}]}}"#
        ))
        .unwrap();
    }
    acc.push_text("[DONE]").unwrap();
    let outcome = acc.finish();
    assert!(outcome.usage.is_none());
    let rec = r.settle_stream(&outcome, CallStatus::Ok).unwrap();
    assert!(rec.estimated && rec.usage_missing && rec.stream);
    assert_eq!(rec.usage.input, 20);
    assert_eq!(
        rec.usage.output,
        wflo_core::tokens::count_text("gpt-4o", "Hello there, how are you today?").tokens
    );
    assert!(rec.cost_nanos > 0);
    assert_eq!(exec.breakdown().unwrap().estimated_calls, 1);
}

#[test]
fn an_anthropic_stream_cut_after_message_start_keeps_the_known_prompt() {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(opts(None)).unwrap();
    let mut r = exec
        .reserve(&CallRequest {
            model: "claude-sonnet-4-5",
            input_tokens: 500,
            max_output_tokens: Some(100),
            stream: true,
            ..Default::default()
        })
        .unwrap();
    let mut acc = StreamAccumulator::new(UsageFormat::Anthropic).unwrap();
    acc.push_text(r#"{"type":"message_start","message":{"usage":{"input_tokens":480,"cache_read_input_tokens":100,"output_tokens":1}}}"#).unwrap();
    acc.push_text(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The quick brown fox jumps over the lazy dog"}}"#).unwrap();
    let outcome = acc.finish();
    assert!(!outcome.complete);
    let rec = r.settle_stream(&outcome, CallStatus::Aborted).unwrap();
    assert_eq!(rec.usage.input, 480);
    assert_eq!(rec.usage.cache_read, 100);
    assert!(
        rec.usage.output >= 9,
        "output estimated from the text, got {}",
        rec.usage.output
    );
    assert!(rec.usage_missing && rec.estimated);
}

#[test]
fn checkpoints_roll_back_and_keep_history() {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(opts(None)).unwrap();
    let a = exec.checkpoint("fetched", r#"{"step":1}"#).unwrap();
    let b = exec.checkpoint("analysed", r#"{"step":2}"#).unwrap();
    let c = exec.checkpoint("written", r#"{"step":3}"#).unwrap();
    assert_eq!((a.sequence, b.sequence, c.sequence), (1, 2, 3));
    assert_eq!(b.parent_id, Some(a.id));
    let state = exec.rollback_to_checkpoint("fetched").unwrap();
    assert_eq!(state, r#"{"step":1}"#);
    let list = exec.checkpoints().unwrap();
    assert_eq!(list.iter().filter(|c| c.superseded).count(), 2);
    let d = exec.checkpoint("analysed", r#"{"step":"2b"}"#).unwrap();
    assert_eq!(
        d.parent_id,
        Some(a.id),
        "the new branch continues from the rollback target"
    );
    assert_eq!(
        exec.latest_checkpoint().unwrap().unwrap().1,
        r#"{"step":"2b"}"#
    );
    assert_eq!(exec.rollbacks().unwrap().len(), 1);
    assert_eq!(
        exec.rollback_to_checkpoint("written").unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        exec.rollback_to_checkpoint("never").unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(exec.prune_checkpoints(2).unwrap(), 2);
    assert_eq!(exec.checkpoints().unwrap().len(), 2);
}

#[test]
fn bad_checkpoint_input_is_rejected_and_loses_nothing() {
    let engine = Engine::new(EngineConfig {
        max_state_bytes: 64,
        ..EngineConfig::default()
    });
    let exec = engine.start_execution(opts(None)).unwrap();
    exec.checkpoint("ok", r#"{"a":1}"#).unwrap();
    assert_eq!(
        exec.checkpoint("bad", "{not json").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        exec.checkpoint("", "{}").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(100));
    assert_eq!(
        exec.checkpoint("big", &big).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(exec.checkpoints().unwrap().len(), 1);
}

#[test]
fn checked_json_text_saves_without_a_second_check_and_with_the_same_limits() {
    let engine = Engine::new(EngineConfig {
        max_state_bytes: 64,
        ..EngineConfig::default()
    });
    let exec = engine.start_execution(opts(None)).unwrap();
    let raw: Box<serde_json::value::RawValue> =
        serde_json::from_str(r#"{"a": [1, 2.5, "é"]}"#).unwrap();
    let saved = exec.checkpoint_text("raw", &JsonText::from(&*raw)).unwrap();
    assert_eq!(exec.checkpoint_state(saved.id).unwrap(), raw.get());
    let value = serde_json::json!({"b": null});
    let saved = exec
        .checkpoint_text("value", &JsonText::from(&value))
        .unwrap();
    assert_eq!(exec.checkpoint_state(saved.id).unwrap(), r#"{"b":null}"#);
    assert_eq!(
        JsonText::check("{not json").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    let checked = JsonText::check(r#"[true]"#).unwrap();
    assert_eq!(
        exec.checkpoint_text(" ", &checked).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    let big = serde_json::json!({"a": "x".repeat(100)});
    assert_eq!(
        exec.checkpoint_text("big", &JsonText::from(&big))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        exec.checkpoints().unwrap().len(),
        2,
        "nothing refused was saved"
    );
}

#[test]
fn resume_restores_spend_and_the_latest_checkpoint() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(EngineConfig {
        store: store.clone(),
        ..EngineConfig::default()
    });
    engine.set_prices_json(PRICES).unwrap();
    let exec = engine.start_execution(opts(Some(3_000_000))).unwrap();
    let id = exec.id().to_owned();
    exec.reserve(&req(1000, 500))
        .unwrap()
        .settle(Usage {
            input: 1000,
            output: 250,
            ..Default::default()
        })
        .unwrap();
    exec.checkpoint("half", r#"{"done":1}"#).unwrap();
    drop(exec);
    // A second engine over the same store stands for a new process.
    let engine2 = Engine::new(EngineConfig {
        store,
        ..EngineConfig::default()
    });
    engine2.set_prices_json(PRICES).unwrap();
    let again = engine2.resume_execution(&id).unwrap();
    let b = again.breakdown().unwrap();
    assert_eq!(b.total_nanos, 2_000_000);
    assert_eq!(b.calls, 1);
    assert_eq!(
        again.latest_checkpoint().unwrap().unwrap().1,
        r#"{"done":1}"#
    );
    // The budget carries over: only 1_000_000 is left.
    assert_eq!(
        again.reserve(&req(1000, 500)).unwrap_err().code(),
        ErrorCode::BudgetExceeded
    );
    again.reserve(&req(500, 125)).unwrap();
    assert_eq!(
        engine2
            .resume_execution("exec-000000000000")
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        engine2.resume_execution("nope").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn finished_executions_refuse_new_calls_until_resumed() {
    let engine = engine_with_clock(Arc::new(ManualClock::new(0)));
    let exec = engine.start_execution(opts(None)).unwrap();
    exec.finish(ExecutionStatus::Completed).unwrap();
    assert_eq!(
        exec.reserve(&req(1, 1)).unwrap_err().code(),
        ErrorCode::Closed
    );
    let again = engine.resume_execution(exec.id()).unwrap();
    assert_eq!(again.status(), ExecutionStatus::Running);
    again.reserve(&req(1, 1)).unwrap();
}

#[test]
fn a_closed_engine_says_closed() {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(opts(None)).unwrap();
    engine.close().unwrap();
    engine.close().unwrap();
    assert_eq!(
        exec.reserve(&req(1, 1)).unwrap_err().code(),
        ErrorCode::Closed
    );
    assert_eq!(
        engine.start_execution(opts(None)).unwrap_err().code(),
        ErrorCode::Closed
    );
}

#[test]
fn bad_input_is_invalid_argument_never_a_panic() {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(opts(Some(1_000_000))).unwrap();
    let code = |r: wflo_core::Result<wflo_core::Reservation>| r.unwrap_err().code();
    assert_eq!(
        code(exec.reserve(&CallRequest {
            model: "",
            ..Default::default()
        })),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(exec.reserve(&CallRequest {
            model: "gpt-4o",
            input_tokens: u64::MAX,
            ..Default::default()
        })),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(exec.reserve(&CallRequest {
            model: "gpt-4o",
            max_output_tokens: Some(0),
            ..Default::default()
        })),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(exec.reserve(&CallRequest {
            model: "gpt-4o",
            max_output_tokens: Some(u64::MAX),
            ..Default::default()
        })),
        ErrorCode::InvalidArgument
    );
    let huge = Usage {
        input: u64::MAX,
        ..Default::default()
    };
    assert_eq!(
        engine.cost("gpt-4o", &huge).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        engine.cost("   ", &Usage::default()).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        wflo_core::money::usd_to_nanos(f64::NAN).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        wflo_core::money::usd_to_nanos(-2.0).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        engine.set_prices_json("{").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        engine
            .set_prices_json(r#"{"models":[{"name":"x","inptu":1}]}"#)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        engine
            .set_prices_json(r#"{"models":[{"name":"brand-new","input":1}]}"#)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        exec.scope("", None).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        engine.count_chat_tokens("gpt-4o", "{}").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    // Nothing above changed the execution.
    assert_eq!(exec.breakdown().unwrap().reserved_nanos, 0);
}

#[test]
fn unknown_models_suggest_close_names() {
    let engine = Engine::in_memory();
    match engine.cost("gpt-4o-mimi", &Usage::default()).unwrap_err() {
        wflo_core::Error::UnknownModel { suggestions, .. } => {
            assert!(
                suggestions.iter().any(|s| s == "gpt-4o-mini"),
                "{suggestions:?}"
            );
            assert!(suggestions.len() <= 3);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn names_resolve_through_prefixes_and_snapshots() {
    let engine = Engine::in_memory();
    let name = |m: &str| engine.resolve_model(m).unwrap().price.name.clone();
    assert_eq!(name("openai/gpt-4o"), "gpt-4o");
    assert_eq!(name("GPT-4o"), "gpt-4o");
    assert_eq!(name("gpt-4o-2099-01-01"), "gpt-4o");
    assert_eq!(name("openai/gpt-4.1-2099-12-31"), "gpt-4.1");
    assert_eq!(
        name("anthropic/claude-3-5-sonnet-20241022"),
        "claude-3-5-sonnet-20241022"
    );
    assert!(
        engine
            .resolve_model("claude-3-5-sonnet-20241022")
            .unwrap()
            .price
            .deprecated
    );
    assert_eq!(name("mistral-large-latest"), "mistral/mistral-large-latest");
}

#[test]
fn overrides_change_prices_at_run_time() {
    let engine = Engine::in_memory();
    let u = Usage {
        input: 1_000_000,
        ..Default::default()
    };
    assert_eq!(engine.cost("gpt-4o", &u).unwrap().cost_nanos, 2_500_000_000);
    engine
        .set_prices_json(r#"{"models":[{"name":"gpt-4o","input":2000000}]}"#)
        .unwrap();
    let q = engine.cost("gpt-4o", &u).unwrap();
    assert_eq!(q.cost_nanos, 2_000_000_000);
    assert_eq!(
        q.rates.output, 10_000_000,
        "fields not given keep the table's price"
    );
    assert!(engine.prices().remove_override("gpt-4o"));
    assert_eq!(engine.cost("gpt-4o", &u).unwrap().cost_nanos, 2_500_000_000);
}

#[test]
fn a_call_recorded_from_usage_json_costs_its_usage_and_bad_input_records_nothing() {
    let engine = engine_with_clock(Arc::new(ManualClock::new(1_000)));
    // A limited execution: an unknown model cannot be priced, so it is refused.
    let exec = engine.start_execution(opts(Some(1_000_000_000))).unwrap();
    // 1,000 in at 1,000,000 pico-USD a token + 10 out at 4,000,000 (nano = pico / 1,000).
    let rec = exec
        .record_usage_json(
            "t-model",
            "openai_chat",
            r#"{"usage":{"prompt_tokens":1000,"completion_tokens":10}}"#,
        )
        .unwrap();
    assert_eq!((rec.usage.input, rec.usage.output), (1000, 10));
    assert_eq!(rec.cost_nanos, 1_000_000 + 40_000);
    for (format, json) in [("mistral", "{}"), ("openai_chat", "{nope")] {
        let e = exec.record_usage_json("t-model", format, json).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{format} {json}");
    }
    let e = exec
        .record_usage_json("no-such-model", "auto", r#"{"prompt_tokens":1}"#)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownModel);
    assert_eq!(exec.calls().unwrap().len(), 1);
}

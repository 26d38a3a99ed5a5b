//! Metrics, alerts and trace context, through the public engine API.

use std::sync::{Arc, Mutex};

use wflo_core::telemetry::{Alert, AlertKind};
use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

const USD: u64 = 1_000_000_000;

fn call(exec: &wflo_core::Execution, input: u64, output: u64) {
    let mut r = exec
        .reserve(&CallRequest {
            model: "gpt-4o-mini",
            provider: Some("openai"),
            input_tokens: input,
            max_output_tokens: Some(output),
            ..Default::default()
        })
        .unwrap();
    r.settle(Usage {
        input,
        output,
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn thresholds_fire_once_each_in_order_to_every_listener() {
    let engine = Engine::in_memory();
    let seen: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = seen.clone();
    let id = engine.add_alert_listener(move |a| sink.lock().unwrap().push(a.clone()));
    // A listener that panics must not break the call or the others.
    engine.add_alert_listener(|_| panic!("a listener's bug"));
    // gpt-4o-mini: $0.15/M input, $0.60/M output. 1M input tokens = $0.15 of a $0.20 budget.
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "alerts".into(),
            budget_nanos: Some(USD / 5),
            soft_budget_nanos: Some(USD / 10),
            ..Default::default()
        })
        .unwrap();
    call(&exec, 600_000, 10); // $0.090006: 45%
    assert!(seen.lock().unwrap().is_empty());
    call(&exec, 100_000, 10); // $0.105012: 52.5% → 50% and the soft budget ($0.10)
    call(&exec, 300_000, 10); // $0.150018: 75%
    call(&exec, 200_000, 10); // $0.180024: 90% → 80%
    call(&exec, 100_000, 10); // $0.195030: 97.5% → 95%
    let alerts = seen.lock().unwrap().clone();
    let kinds: Vec<(AlertKind, u32)> = alerts.iter().map(|a| (a.kind, a.percent)).collect();
    assert_eq!(
        kinds,
        vec![
            (AlertKind::Threshold, 50),
            (AlertKind::SoftBudget, 100),
            (AlertKind::Threshold, 80),
            (AlertKind::Threshold, 95)
        ]
    );
    assert_eq!(alerts[0].execution_id, exec.id());
    assert_eq!(alerts[0].workflow, "alerts");
    assert_eq!(alerts[0].limit_nanos, USD / 5);
    assert_eq!(alerts[0].spent_nanos, 105_012_000);
    assert_eq!(alerts[1].limit_nanos, USD / 10);
    assert!(
        alerts[3].summary().contains("95% reached on alerts"),
        "{}",
        alerts[3].summary()
    );
    assert!(engine.remove_alert_listener(id));
    assert!(!engine.remove_alert_listener(id));
    let text = engine.metrics_text();
    assert!(
        text.contains(
            "wflo_alerts_total{scope_kind=\"execution\",scope=\"alerts\",kind=\"threshold\"} 3"
        ),
        "{text}"
    );
}

#[test]
fn a_step_scope_with_its_own_limit_alerts_under_its_label() {
    let engine = Engine::in_memory();
    let seen: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = seen.clone();
    engine.add_alert_listener(move |a| sink.lock().unwrap().push(a.clone()));
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "steps".into(),
            alert_thresholds: Some(vec![10]),
            ..Default::default()
        })
        .unwrap();
    let planner = exec.scope("planner", Some(USD / 100)).unwrap();
    let mut r = planner
        .reserve(&CallRequest {
            model: "gpt-4o-mini",
            input_tokens: 10_000,
            max_output_tokens: Some(10),
            ..Default::default()
        })
        .unwrap();
    r.settle(Usage {
        input: 10_000,
        output: 10,
        ..Default::default()
    })
    .unwrap(); // $0.001506 = 15%
    let alerts = seen.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (alerts[0].scope.as_str(), alerts[0].percent),
        ("planner", 10)
    );
    assert!(
        engine.metrics_text().contains(
            "wflo_budget_remaining_usd{scope_kind=\"step\",scope=\"planner\"} 0.008494000"
        )
    );
}

#[test]
fn bad_alert_options_are_refused() {
    let engine = Engine::in_memory();
    for opts in [
        ExecutionOptions {
            alert_thresholds: Some(vec![80, 50]),
            ..Default::default()
        },
        ExecutionOptions {
            soft_budget_nanos: Some(0),
            ..Default::default()
        },
        ExecutionOptions {
            traceparent: Some("00-nothex".into()),
            ..Default::default()
        },
    ] {
        let e = engine.start_execution(opts).unwrap_err();
        assert_eq!(e.code(), wflo_core::ErrorCode::InvalidArgument, "{e}");
    }
    let e = ExecutionOptions::with_json("x", None, Some(r#"{"trace_parent": "00-"}"#)).unwrap_err();
    assert_eq!(e.code(), wflo_core::ErrorCode::InvalidArgument);
}

#[test]
fn metrics_text_counts_cost_exactly_and_refusals() {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "m".into(),
            budget_nanos: Some(USD / 1000),
            ..Default::default()
        })
        .unwrap();
    call(&exec, 1000, 100); // $0.00021
    let refused = exec.reserve(&CallRequest {
        model: "gpt-4o-mini",
        provider: Some("openai"),
        input_tokens: 1_000_000,
        max_output_tokens: Some(10),
        ..Default::default()
    });
    assert!(refused.is_err());
    let text = engine.metrics_text();
    assert!(text.contains("wflo_cost_usd_total{model=\"gpt-4o-mini\",provider=\"openai\",scope=\"(execution)\"} 0.000210000"), "{text}");
    assert!(
        text.contains(
            "wflo_refusals_total{model=\"gpt-4o-mini\",provider=\"openai\",scope=\"(execution)\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "wflo_calls_total{model=\"gpt-4o-mini\",provider=\"openai\",status=\"ok\"} 1"
        )
    );
    assert!(text.contains("gen_ai_client_token_usage_bucket{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o-mini\",gen_ai_token_type=\"input\",le=\"1024\"} 1"), "{text}");
    assert!(text.contains("gen_ai_client_token_usage_sum{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o-mini\",gen_ai_token_type=\"output\"} 100"));
    assert!(!text.contains(exec.id()), "no execution id is a label");
}

#[test]
fn labels_are_bounded_and_escaped() {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(ExecutionOptions::default()).unwrap();
    for i in 0..1100 {
        let s = exec.scope(&format!("step-{i}\"\\\nx"), None).unwrap();
        s.record_call(&wflo_core::UsageReport::new(
            "gpt-4o-mini",
            Usage {
                input: 1,
                output: 1,
                ..Default::default()
            },
        ))
        .unwrap();
    }
    let text = engine.metrics_text();
    let cost_series = text
        .lines()
        .filter(|l| l.starts_with("wflo_cost_usd_total{"))
        .count();
    assert_eq!(
        cost_series,
        wflo_core::telemetry::metrics::MAX_SERIES + 1,
        "1000 series and _other"
    );
    assert!(text.contains("scope=\"_other\""));
    assert!(
        text.contains(r#"scope="step-0\"\\\nx""#),
        "escaped quote, backslash, newline"
    );
}

#[test]
fn an_execution_joins_the_trace_it_is_given() {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(exec.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    let own = engine.start_execution(ExecutionOptions::default()).unwrap();
    assert_eq!(own.trace_id().len(), 32);
    assert_ne!(own.trace_id(), "0".repeat(32));
    assert_ne!(own.trace_id(), exec.trace_id());
}

#[test]
fn a_planted_secret_never_reaches_metrics_or_alerts() {
    let engine = Engine::in_memory();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    engine.add_alert_listener(move |a| sink.lock().unwrap().push(a.to_json()));
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "privacy".into(),
            budget_nanos: Some(USD / 500),
            ..Default::default()
        })
        .unwrap();
    let secret = "sk-SECRET-PLANTED-metrics";
    let body = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{secret} {secret}"}}],"max_tokens":2000}}"#
    );
    let made = exec
        .reserve_request(
            wflo_core::UsageFormat::OpenAiChat,
            &body,
            &Default::default(),
        )
        .unwrap();
    let mut r = made.reservation;
    r.settle_result(
        wflo_core::UsageFormat::OpenAiChat,
        &format!(r#"{{"choices":[{{"message":{{"content":"{secret}"}}}}],"usage":{{"prompt_tokens":30,"completion_tokens":1800}}}}"#),
        wflo_core::CallStatus::Ok,
    )
    .unwrap();
    assert!(
        !seen.lock().unwrap().is_empty(),
        "the call crossed thresholds"
    );
    assert!(!engine.metrics_text().contains("SECRET"));
    assert!(seen.lock().unwrap().iter().all(|a| !a.contains("SECRET")));
}

#[test]
fn a_refused_call_without_a_named_provider_is_recorded_with_the_tables() {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            budget_nanos: Some(1),
            ..Default::default()
        })
        .unwrap();
    let refused = exec.reserve(&CallRequest {
        model: "claude-3-5-haiku-20241022",
        input_tokens: 1000,
        max_output_tokens: Some(10),
        ..Default::default()
    });
    assert!(refused.is_err());
    let calls = exec.calls().unwrap();
    assert_eq!(
        &*calls[0].provider, "anthropic",
        "as a settled call would record it"
    );
    assert!(engine.metrics_text().contains(
        "wflo_refusals_total{model=\"claude-3-5-haiku-20241022\",provider=\"anthropic\""
    ));
}

#[test]
fn a_dropped_execution_keeps_its_last_budget_figure_and_its_counts() {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "gone".into(),
            budget_nanos: Some(USD / 100),
            ..Default::default()
        })
        .unwrap();
    call(&exec, 1000, 100); // $0.00021
    drop(exec);
    let text = engine.metrics_text();
    assert!(
        text.contains(
            "wflo_cost_usd_total{model=\"gpt-4o-mini\",provider=\"openai\",scope=\"(execution)\"} 0.000210000"
        ),
        "what it counted is handed over when it goes away: {text}"
    );
    assert!(
        text.contains(
            "wflo_budget_remaining_usd{scope_kind=\"execution\",scope=\"gone\"} 0.009790000"
        ),
        "{text}"
    );
}

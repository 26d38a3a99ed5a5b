//! `tests/vectors/budget.json`: reserve/settle scenarios, reproduced to the nano-USD.

mod common;

use std::collections::HashMap;

use serde_json::Value;
use wflo_core::{
    CacheWrite, CallRequest, Engine, Error, ExecutionOptions, Reservation, UsageFormat,
    UsageReport, money::parse_usd,
};

fn check(case: &str, step: usize, expect: &Value, actual: &Value) -> Vec<String> {
    let mut failures = Vec::new();
    for (key, want) in expect.as_object().unwrap() {
        if actual.get(key) != Some(want) {
            failures.push(format!(
                "{case} step {step}: {key} = {:?}, expected {want}",
                actual.get(key)
            ));
        }
    }
    failures
}

fn error_json(e: &Error) -> Value {
    let mut v = e.to_json();
    v["error"] = v["code"].clone();
    v
}

fn budget(v: &Value) -> Option<u64> {
    v.as_str().map(|s| parse_usd(s).unwrap())
}

#[test]
fn budget_vectors() {
    let file = common::vector("budget.json");
    let prices = file["prices"].to_string();
    let mut failures = Vec::new();
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let engine = Engine::in_memory();
        engine.set_prices_json(&prices).unwrap();
        let exec = engine
            .start_execution(ExecutionOptions {
                name: name.into(),
                budget_nanos: budget(&case["budget_usd"]),
                ..Default::default()
            })
            .unwrap();
        let mut held: HashMap<String, Reservation> = HashMap::new();
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let scope = match step.get("scope").and_then(Value::as_str) {
                Some(label) => exec.scope(label, None).unwrap(),
                None => exec.root(),
            };
            let id = step
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let actual: Value = match step["op"].as_str().unwrap() {
                "scope" => {
                    exec.scope(step["label"].as_str().unwrap(), budget(&step["budget_usd"]))
                        .unwrap();
                    Value::Null
                }
                "reserve" => {
                    let cache_write = match step.get("cache_write").and_then(Value::as_str) {
                        Some("five_minutes") => CacheWrite::FiveMinutes,
                        Some("one_hour") => CacheWrite::OneHour,
                        _ => CacheWrite::None,
                    };
                    let req = CallRequest {
                        model: step["model"].as_str().unwrap(),
                        input_tokens: step["input_tokens"].as_u64().unwrap(),
                        input_estimated: Some(
                            step.get("estimated")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        ),
                        max_output_tokens: step.get("max_output_tokens").and_then(Value::as_u64),
                        cache_write,
                        clamp_max_tokens: step
                            .get("clamp")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        ..Default::default()
                    };
                    match scope.reserve(&req) {
                        Ok(r) => {
                            let v = serde_json::json!({
                                "amount_nanos": r.amount_nanos(),
                                "max_output_tokens": r.max_output_tokens(),
                                "clamped": r.clamped(),
                            });
                            held.insert(id, r);
                            v
                        }
                        Err(e) => error_json(&e),
                    }
                }
                op @ ("settle" | "settle_raw" | "release") => {
                    let r = held.get_mut(&id).unwrap();
                    let result = match op {
                        "settle" => r.settle(common::usage_of(&step["usage"])),
                        "settle_raw" => r.settle_json(
                            UsageFormat::from_name(step["format"].as_str().unwrap()).unwrap(),
                            &step["payload"].to_string(),
                        ),
                        _ => r.release(wflo_core::CallStatus::Error, Some("vector")),
                    };
                    match result {
                        Ok(rec) => {
                            serde_json::json!({"cost_nanos": rec.cost_nanos, "overrun_nanos": rec.overrun_nanos})
                        }
                        Err(e) => error_json(&e),
                    }
                }
                "record" => {
                    let report = UsageReport {
                        model: step["model"].as_str().unwrap(),
                        provider: None,
                        usage: common::usage_of(&step["usage"]),
                        estimated: false,
                        stream: false,
                        latency_ms: 0,
                    };
                    match scope.record_call(&report) {
                        Ok(rec) => {
                            serde_json::json!({"cost_nanos": rec.cost_nanos, "overrun_nanos": rec.overrun_nanos})
                        }
                        Err(e) => error_json(&e),
                    }
                }
                "breakdown" => serde_json::to_value(exec.breakdown().unwrap()).unwrap(),
                other => panic!("unknown op {other}"),
            };
            if let Some(expect) = step.get("expect") {
                failures.extend(check(name, i, expect, &actual));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

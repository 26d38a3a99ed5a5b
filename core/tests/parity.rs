//! The parity suite's reference replay (`tests/vectors/scenarios.json`, replay rules in
//! `tests/vectors/README-scenarios.md`): Rust writes the ledger every other face must equal.
//! The assertions here check the scenarios do what their descriptions say, so the reference
//! itself is not taken on trust.

mod common;

use serde_json::{Value, json};
use wflo_core::{
    CallStatus, CheckpointState, Engine, ErrorCode, ExecutionOptions, ExecutionStatus,
    RequestOptions, StreamAccumulator, UsageFormat, money::parse_usd, store::Period,
};

/// The fields of a call record a ledger compares (faces that compare with this reference
/// directly need it cut to these).
const CALL_FIELDS: &[&str] = &[
    "seq",
    "step",
    "provider",
    "requested_model",
    "model",
    "usage",
    "cost_nanos",
    "reserved_nanos",
    "overrun_nanos",
    "estimated",
    "usage_missing",
    "stream",
    "status",
    "error",
];

fn budget(v: &Value) -> Option<u64> {
    v.as_str().map(|s| parse_usd(s).expect("budget"))
}

/// A scenario's price file (a path relative to tests/vectors), as the ledger records it:
/// the names it added, changed and skipped.
fn load_prices(engine: &Engine, scenario: &Value) -> Value {
    let Some(file) = scenario["prices_file"].as_str() else {
        return Value::Null;
    };
    let path = format!("{}/../tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let changes = match engine.load_prices(&path) {
        Ok(changes) => changes,
        Err(e) => return json!({"error": e.code().as_str()}),
    };
    json!({
        "added": changes.added,
        "changed": changes.changed.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "skipped": changes.skipped.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
    })
}

/// A scenario's `shared_scopes`, defined in order on the engine; the names the execution
/// starts with (each once, in order of first definition).
fn define_shared_scopes(engine: &Engine, scenario: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for def in scenario["shared_scopes"].as_array().into_iter().flatten() {
        let name = def["name"].as_str().unwrap();
        let period = Period::from_name(def["period"].as_str().unwrap_or("none")).unwrap();
        engine
            .define_shared_scope_allowances(
                name,
                budget(&def["limit_usd"]),
                period,
                def["allowances"].as_bool(),
            )
            .unwrap();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

fn replay(index: usize, scenario: &Value) -> Value {
    let engine = Engine::in_memory();
    let name = scenario["name"].as_str().unwrap();
    let prices = load_prices(&engine, scenario);
    let alerts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = alerts.clone();
    engine.add_alert_listener(move |a| {
        seen.lock().unwrap().push(json!({
            "scope": a.scope, "kind": a.kind.as_str(), "percent": a.percent,
            "limit_nanos": a.limit_nanos, "spent_nanos": a.spent_nanos,
        }))
    });
    let shared_scopes = define_shared_scopes(&engine, scenario);
    let exec = engine
        .start_execution(ExecutionOptions {
            name: name.into(),
            budget_nanos: budget(&scenario["budget_usd"]),
            id: Some(format!("exec-{:012x}", index + 1)),
            traceparent: scenario["traceparent"].as_str().map(str::to_owned),
            alert_thresholds: scenario["alert_thresholds"]
                .as_array()
                .map(|t| t.iter().map(|p| p.as_u64().unwrap() as u32).collect()),
            soft_budget_nanos: budget(&scenario["soft_budget_usd"]),
            approval_above_nanos: budget(&scenario["approval_above_usd"]),
            max_calls: scenario["max_calls"].as_u64(),
            agent_budgets: scenario["agent_budgets_usd"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), budget(v).unwrap()))
                        .collect()
                })
                .unwrap_or_default(),
            shared_scopes,
        })
        .unwrap();
    let mut events = Vec::new();
    let mut saver: Option<wflo_core::langgraph::Checkpointer> = None; // made at the first langgraph step
    for step in scenario["steps"].as_array().unwrap() {
        match step["op"].as_str().unwrap() {
            "scope" => {
                let label = step["label"].as_str().unwrap();
                match step["parent"].as_str() {
                    Some(parent) => exec
                        .scope(parent, None)
                        .unwrap()
                        .child(label, budget(&step["budget_usd"])),
                    None => exec.scope(label, budget(&step["budget_usd"])),
                }
                .unwrap();
                events.push(json!({"op": "scope", "label": label}));
            }
            "breaker" => {
                let name = step["name"].as_str().unwrap();
                let config = step
                    .get("config")
                    .map(|c| serde_json::from_value(c.clone()).unwrap());
                let breaker = engine.breaker(name, config).unwrap();
                for action in step["actions"].as_array().unwrap() {
                    let action = action.as_str().unwrap();
                    let error = match action {
                        "check" => breaker.check().err().map(|e| e.code().as_str()),
                        "failure" => {
                            breaker.record_failure().unwrap();
                            None
                        }
                        "success" => {
                            breaker.record_success().unwrap();
                            None
                        }
                        "reset" => {
                            breaker.reset().unwrap();
                            None
                        }
                        other => panic!("{name}: unknown breaker action {other}"),
                    };
                    events.push(json!({
                        "op": "breaker", "action": action,
                        "state": breaker.state().unwrap().as_str(), "error": error,
                    }));
                }
            }
            "breaker_call" => {
                // What a face's breaker wrapper does around a call that raises `raise`: a
                // refusal (the engine's rule) is neither a failure nor a success.
                let name = step["name"].as_str().unwrap();
                let config = step
                    .get("config")
                    .map(|c| serde_json::from_value(c.clone()).unwrap());
                let breaker = engine.breaker(name, config).unwrap();
                let raise = step["raise"].as_str();
                let (error, called) = match breaker.check() {
                    Err(e) => (Some(e.code().as_str()), false),
                    Ok(()) => {
                        match raise {
                            None => breaker.record_success().unwrap(),
                            Some(code) => {
                                let refusal = wflo_core::ErrorCode::from_name(code)
                                    .is_some_and(wflo_core::ErrorCode::is_refusal);
                                if !refusal {
                                    breaker.record_failure().unwrap();
                                }
                            }
                        }
                        (raise, true)
                    }
                };
                events.push(json!({
                    "op": "breaker_call", "raise": raise, "error": error, "called": called,
                    "state": breaker.state().unwrap().as_str(),
                }));
            }
            "breakers" => {
                let on_store = engine.breakers_on_store(None, 100).unwrap();
                let shared: Vec<Value> = on_store
                    .shared
                    .iter()
                    .map(|b| json!({"name": b.name, "state": b.state.as_str(), "failure_count": b.failure_count}))
                    .collect();
                let transitions: Vec<Value> = on_store
                    .transitions
                    .iter()
                    .map(|t| {
                        json!({
                            "breaker": t.breaker, "shared": t.shared, "from": t.from.as_str(),
                            "to": t.to.as_str(), "reason": t.reason,
                        })
                    })
                    .collect();
                events
                    .push(json!({"op": "breakers", "shared": shared, "transitions": transitions}));
            }
            "resource" => {
                let name = step["name"].as_str().unwrap();
                let config = serde_json::from_value(step["config"].clone()).unwrap();
                let lock = engine.resource(name, config).unwrap();
                let mut permits = std::collections::HashMap::new();
                for action in step["actions"].as_array().unwrap() {
                    if let Some(w) = action["acquire"].as_str() {
                        let timeout = action["timeout_ms"].as_u64();
                        let error = match lock.acquire(w, timeout) {
                            Ok(p) => {
                                permits.insert(w.to_owned(), p);
                                None
                            }
                            Err(e) => Some(e.code().as_str()),
                        };
                        events.push(json!({"op": "resource", "action": "acquire", "workflow": w, "error": error}));
                    } else if let Some(w) = action["release"].as_str() {
                        permits.remove(w).unwrap().release().unwrap();
                        events.push(json!({"op": "resource", "action": "release", "workflow": w}));
                    } else {
                        let s = lock.stats().unwrap();
                        let holders: Vec<&str> =
                            s.holders.iter().map(|h| h.workflow_id.as_str()).collect();
                        events.push(json!({
                            "op": "resource", "action": "stats", "acquisitions": s.acquisitions,
                            "contentions": s.contentions, "timeouts": s.timeouts, "holders": holders,
                        }));
                    }
                }
            }
            "approval" => {
                let request =
                    wflo_core::resilience::ApprovalRequest::from_json(&step["request"].to_string())
                        .unwrap();
                let asked = exec.request_approval(&request).unwrap();
                if let Some(d) = step.get("decide") {
                    engine
                        .decide_approval(
                            &asked.id,
                            d["approve"].as_bool().unwrap(),
                            d["by"].as_str(),
                            d["note"].as_str(),
                        )
                        .unwrap();
                }
                let event = match exec.wait_for_approval(&asked.id, Some(0)) {
                    Ok(a) => json!({
                        "status": a.status.as_str(), "decided_by": a.decided_by, "note": a.note,
                        "error": null, "timed_out": null,
                    }),
                    Err(wflo_core::Error::ApprovalDenied {
                        timed_out,
                        by,
                        note,
                        ..
                    }) => json!({
                        "status": null, "decided_by": by, "note": note,
                        "error": "APPROVAL_DENIED", "timed_out": timed_out,
                    }),
                    Err(e) => panic!("{name}: {e}"),
                };
                let mut event = event;
                event["op"] = "approval".into();
                event["gate"] = request.gate.clone().into();
                event["asked"] = asked.status.as_str().into();
                events.push(event);
            }
            "retry_call" => {
                let format = UsageFormat::from_name(step["format"].as_str().unwrap()).unwrap();
                let policy = serde_json::from_value(step["policy"].clone()).unwrap();
                let mut retrier = engine.retrier(policy).unwrap();
                let scope = exec.root();
                let request = step["request"].to_string();
                for outcome in step["attempts"].as_array().unwrap() {
                    let attempt = retrier.attempt();
                    let mut res = match scope.reserve_request(format, &request, &Default::default())
                    {
                        Ok(made) => made.reservation,
                        Err(e) => {
                            let e = retrier.refused(e);
                            events.push(json!({
                                "op": "attempt", "attempt": attempt,
                                "error": e.code().as_str(), "message": e.to_string(),
                            }));
                            break;
                        }
                    };
                    events.push(json!({"op": "attempt", "attempt": attempt, "error": null}));
                    if let Some(result) = outcome.get("result") {
                        res.settle_result(format, &result.to_string(), CallStatus::Ok)
                            .unwrap();
                        break;
                    }
                    let failure: wflo_core::resilience::Failure =
                        serde_json::from_value(outcome["failure"].clone()).unwrap();
                    match outcome["text"].as_str() {
                        // The attempt failed after output was billed (a cut stream).
                        Some(text) => res.settle_text(text, CallStatus::Error),
                        None => res.release(CallStatus::Error, Some(&failure.message)),
                    }
                    .unwrap();
                    let decision = retrier.next(&failure, engine.now_ms());
                    let mut event = serde_json::to_value(&decision).unwrap();
                    event["op"] = "retry".into();
                    events.push(event);
                    if matches!(decision, wflo_core::resilience::Decision::GiveUp { .. }) {
                        break;
                    }
                }
            }
            "call" => {
                if let Some(name) = step["breaker"].as_str()
                    && let Err(e) = engine.breaker(name, None).unwrap().check()
                {
                    events.push(json!({"op": "call", "body": null, "error": e.code().as_str()}));
                    continue;
                }
                let format = UsageFormat::from_name(step["format"].as_str().unwrap()).unwrap();
                let options: RequestOptions = match step.get("options") {
                    Some(o) => serde_json::from_value(o.clone()).unwrap(),
                    None => RequestOptions::default(),
                };
                let scope = match step["scope"].as_str() {
                    Some(label) => exec.scope(label, None).unwrap(),
                    None => exec.root(),
                };
                let made =
                    match scope.reserve_request(format, &step["request"].to_string(), &options) {
                        Ok(made) => made,
                        Err(e) => {
                            events.push(
                                json!({"op": "call", "body": null, "error": e.code().as_str()}),
                            );
                            continue;
                        }
                    };
                let body: Value = serde_json::from_str(&made.body).unwrap();
                events.push(json!({"op": "call", "body": body, "error": null}));
                let mut res = made.reservation;
                let outcome = &step["outcome"];
                if let Some(result) = outcome.get("result") {
                    let status = CallStatus::from_name(outcome["status"].as_str().unwrap_or("ok"));
                    res.settle_result(format, &result.to_string(), status.unwrap())
                        .unwrap();
                } else if let Some(stream) = outcome.get("stream") {
                    let mut acc = StreamAccumulator::new(format).unwrap();
                    for event in stream.as_array().unwrap() {
                        acc.push_text(&event.to_string()).unwrap();
                    }
                    let status =
                        CallStatus::from_name(outcome["status"].as_str().unwrap()).unwrap();
                    res.settle_stream(&acc.finish(), status).unwrap();
                } else if let Some(message) = outcome.get("error") {
                    res.release(CallStatus::Error, message.as_str()).unwrap();
                } else if let Some(text) = outcome.get("text") {
                    let status =
                        CallStatus::from_name(outcome["status"].as_str().unwrap()).unwrap();
                    res.settle_text(text.as_str().unwrap(), status).unwrap();
                } else {
                    panic!("{name}: unknown outcome {outcome}");
                }
                if let Some(name) = step["breaker"].as_str() {
                    let breaker = engine.breaker(name, None).unwrap();
                    match outcome.get("error") {
                        Some(_) => breaker.record_failure().unwrap(),
                        None => breaker.record_success().unwrap(),
                    }
                }
            }
            "shared" => {
                let f = engine.shared_scope(step["name"].as_str().unwrap()).unwrap();
                events.push(json!({
                    "op": "shared", "name": f.name, "limit_nanos": f.limit_nanos,
                    "spent_nanos": f.spent_nanos, "reserved_nanos": f.reserved_nanos,
                    "overrun_nanos": f.overrun_nanos, "refusing": f.refusing,
                    "allowances": f.allowances, "allowance_nanos": f.allowance_nanos,
                    "allowance_holders": f.allowance_holders,
                }));
            }
            "checkpoint" => {
                let name = step["name"].as_str().unwrap();
                exec.checkpoint(name, &step["state"].to_string()).unwrap();
                events.push(json!({"op": "checkpoint", "name": name}));
            }
            "checkpoint_binary" => {
                let name = step["name"].as_str().unwrap();
                let bytes = scenario_bytes(step);
                // No `content_type`: the call without one (the engine names the bytes).
                match exec.checkpoint_binary(name, step["content_type"].as_str(), &bytes) {
                    Ok(info) => events.push(json!({
                        "op": "checkpoint_binary", "name": name,
                        "content_type": info.content_type, "state_bytes": info.state_bytes,
                    })),
                    Err(e) => events.push(json!({
                        "op": "checkpoint_binary", "name": name, "error": e.code().as_str(),
                    })),
                }
            }
            "checkpoints_since" => {
                let (checkpoints, rollbacks) = exec
                    .checkpoints_since(step["after"].as_u64().unwrap())
                    .unwrap();
                events.push(json!({
                    "op": "checkpoints_since",
                    "names": checkpoints.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
                    "sequences": checkpoints.iter().map(|c| c.sequence).collect::<Vec<_>>(),
                    "superseded": checkpoints.iter().map(|c| c.superseded).collect::<Vec<_>>(),
                    "rollbacks": rollbacks,
                }));
            }
            "checkpoints_since_with_state" => {
                let found = exec.checkpoints_since_with_state(
                    step["after"].as_u64().unwrap(),
                    step["id"].as_u64().unwrap(),
                );
                events.push(match found {
                    Ok((checkpoints, rollbacks, state)) => {
                        let mut event = state_event("checkpoints_since_with_state", Some(state));
                        event["names"] = json!(
                            checkpoints
                                .iter()
                                .map(|c| c.name.as_str())
                                .collect::<Vec<_>>()
                        );
                        event["sequences"] =
                            json!(checkpoints.iter().map(|c| c.sequence).collect::<Vec<_>>());
                        event["superseded"] =
                            json!(checkpoints.iter().map(|c| c.superseded).collect::<Vec<_>>());
                        event["rollbacks"] = json!(rollbacks);
                        event
                    }
                    Err(e) => {
                        json!({"op": "checkpoints_since_with_state", "error": e.code().as_str()})
                    }
                });
            }
            "langgraph" => {
                let saver = saver.get_or_insert_with(wflo_core::langgraph::Checkpointer::new);
                let (request, bytes) = langgraph_request(step);
                events.push(
                    match wflo_core::langgraph::wire::run(saver, || Ok(&exec), &request, &bytes) {
                        Ok(answer) => langgraph_event(&answer),
                        Err(e) => json!({"op": "langgraph", "error": e.code().as_str()}),
                    },
                );
            }
            "rollback" => {
                let state = exec
                    .rollback_to_checkpoint_any(step["name"].as_str().unwrap())
                    .unwrap();
                events.push(state_event("rollback", Some(state)));
            }
            "latest" => {
                let latest = exec.latest_checkpoint_any().unwrap();
                events.push(state_event("latest", latest.map(|(_, s)| s)));
            }
            other => panic!("{name}: unknown op {other}"),
        }
    }
    let raised: Option<Vec<ErrorCode>> = scenario["end"].as_array().map(|codes| {
        codes
            .iter()
            .filter_map(|c| ErrorCode::from_name(c.as_str().unwrap()))
            .collect()
    });
    let status = ExecutionStatus::after(raised.as_deref());
    exec.finish(status).unwrap();
    let calls: Vec<Value> = exec
        .calls()
        .unwrap()
        .iter()
        .map(|c| {
            let full = serde_json::to_value(c).unwrap();
            let mut kept = serde_json::Map::new();
            for f in CALL_FIELDS {
                kept.insert((*f).into(), full[*f].clone());
            }
            Value::Object(kept)
        })
        .collect();
    let breakdown = exec.breakdown().unwrap();
    json!({
        "name": name,
        "events": events,
        "status": status.as_str(),
        "calls": calls,
        "spent_nanos": breakdown.total_nanos,
        "reserved_nanos": breakdown.reserved_nanos,
        "prices": prices,
        "price_table": breakdown.price_table,
        "alerts": *alerts.lock().unwrap(),
        "trace_id": scenario["traceparent"].as_str().map(|_| exec.trace_id()),
        "metrics": metric_lines(&engine.metrics_text()),
    })
}

/// The lines of a metrics text every face must agree on: counters and gauges of money, calls,
/// refusals and alerts (the duration histogram's timings differ run to run).
fn metric_lines(text: &str) -> Vec<&str> {
    const KEPT: &[&str] = &[
        "wflo_cost_usd_total{",
        "wflo_calls_total{",
        "wflo_refusals_total{",
        "wflo_alerts_total{",
        "wflo_budget_remaining_usd{",
    ];
    text.lines()
        .filter(|l| KEPT.iter().any(|k| l.starts_with(k)))
        .collect()
}

fn ledger() -> Value {
    let file = common::vector("scenarios.json");
    let scenarios: Vec<Value> = file["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| replay(i, s))
        .collect();
    json!({"face": "rust", "scenarios": scenarios})
}

fn by_name<'a>(ledger: &'a Value, name: &str) -> &'a Value {
    ledger["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// The one-call read of a reader keeping an index returns exactly the two calls it stands for:
/// the state as saved (of either kind, a superseded one too), the checkpoints after the
/// sequence with the rollback count, and NOT_FOUND for an id the execution does not have.
#[test]
fn checkpoints_since_with_state_scenario() {
    let l = ledger();
    let ev = by_name(&l, "checkpoints_since_with_state")["events"]
        .as_array()
        .unwrap()
        .clone();
    let plan = json!({"step": 1, "todo": ["search", "write"]});
    assert_eq!(
        ev[2],
        json!({"op": "checkpoints_since_with_state", "state": plan,
               "names": ["plan", "packed"], "sequences": [1, 2],
               "superseded": [false, false], "rollbacks": 0})
    );
    let packed = json!({"content_type": "application/vnd.wflo.langgraph.v1+msgpack",
                        "hex": "82a474797065a46a736f6ea464617461c403010203"});
    assert_eq!(ev[3]["binary"], packed);
    assert_eq!(
        (&ev[3]["names"], &ev[3]["rollbacks"]),
        (&json!([]), &json!(0))
    );
    // After the rollback the superseded checkpoint's state is still read; the count moved.
    assert_eq!(ev[5]["binary"], packed);
    assert_eq!(
        (&ev[5]["names"], &ev[5]["rollbacks"]),
        (&json!([]), &json!(1))
    );
    assert_eq!(
        ev[7],
        json!({"op": "checkpoints_since_with_state", "state": {"step": 2},
               "names": ["packed", "resumed"], "sequences": [2, 3],
               "superseded": [true, false], "rollbacks": 1})
    );
    assert_eq!(
        ev[8],
        json!({"op": "checkpoints_since_with_state", "error": "NOT_FOUND"})
    );
}

/// The saver's scenario shows what LangGraph needs of it: a checkpoint's channels from its
/// parent, writes in LangGraph's order, a rollback making later checkpoints history (still
/// fetched by id), a copy and a delete, and malformed requests refused.
#[test]
fn langgraph_saver_scenario() {
    let l = ledger();
    let ev = by_name(&l, "langgraph_saver")["events"]
        .as_array()
        .unwrap()
        .clone();
    let answer = |i: usize| ev[i]["answer"].clone();
    // The latest (c2) takes channel a from its parent; the empty channel has no value.
    assert_eq!(answer(3)["id"], "c2");
    assert_eq!(answer(3)["channel_values"], json!([["b", 2], ["a", 3]]));
    assert_eq!(answer(3)["values"][3], json!(["msgpack", "a3616161"]));
    // c1's writes: the special one (idx -1) sorts first; each value as it was given.
    assert_eq!(
        answer(4)["pending_writes"],
        json!([["k", "__error__", 3], ["k", "a", 4]])
    );
    assert_eq!(answer(4)["values"][3], json!(["bytes", "00ff"]));
    assert_eq!(answer(5), json!([["t/1", "", "c2"], ["t/1", "", "c1"]]));
    assert_eq!(answer(6), "langgraph/t%2F1//c1");
    // After the rollback to c1: c1 is the latest, c2 is history but still read by its id.
    assert_eq!(answer(8)["id"], "c1");
    assert_eq!(answer(9), json!([["t/1", "", "c1"]]));
    assert_eq!(
        (&answer(10)["id"], &answer(10)["parent"]),
        (&json!("c2"), &json!("c1"))
    );
    assert_eq!(answer(13)["thread"], "copy");
    assert_eq!(answer(13)["channel_values"], json!([["a", 2]]));
    // Deleted: nothing is latest in the thread; the copy is all that is listed.
    assert_eq!(answer(15), Value::Null);
    assert_eq!(answer(16), json!([["copy", "", "c1"]]));
    assert_eq!(answer(17), Value::Null); // not a saver's record
    for (i, refused) in ev.iter().enumerate().skip(18) {
        assert_eq!(
            *refused,
            json!({"op": "langgraph", "error": "INVALID_ARGUMENT"}),
            "step {i}"
        );
    }
    assert_eq!(ev.len(), 21);
}

/// A channel set once and one changed at every step: the latest record names where the first
/// is (its bytes, the same in every face, carry it), and loads take each value from its holder.
#[test]
fn langgraph_unchanged_channels_scenario() {
    let l = ledger();
    let ev = by_name(&l, "langgraph_unchanged_channels")["events"]
        .as_array()
        .unwrap()
        .clone();
    let hex = ev[3]["binary"]["hex"].as_str().unwrap();
    let record: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let header_len = u32::from_be_bytes(record[..4].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&record[4..4 + header_len]).unwrap();
    assert_eq!(header["checkpoint_id"], "c3");
    assert_eq!(header["channels"], json!([["messages", "3", 2]]));
    assert_eq!(header["elsewhere"], json!([["documents", "c1"]]));
    let docs = json!(["json", "7b22646f6373223a5b2261222c2262225d7d"]); // {"docs":["a","b"]}
    for (i, id, messages) in [(4, "c3", "93a171a172a173"), (5, "c2", "92a171a172")] {
        let answer = &ev[i]["answer"];
        assert_eq!(answer["id"], id);
        assert_eq!(
            answer["channel_values"],
            json!([["messages", 2], ["documents", 3]])
        );
        assert_eq!(answer["values"][2], json!(["msgpack", messages]));
        assert_eq!(answer["values"][3], docs);
    }
}

/// Another thread's damaged tombstone fails that thread and a listing of every thread, never
/// the thread asked about.
#[test]
fn langgraph_thread_scope_scenario() {
    let l = ledger();
    let ev = by_name(&l, "langgraph_thread_scope")["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ev[3]["answer"]["thread"], "a");
    assert_eq!(ev[3]["answer"]["values"][2], json!(["msgpack", "a161"]));
    assert_eq!(ev[4], json!({"op": "langgraph", "error": "STORAGE"}));
    assert_eq!(ev[5], json!({"op": "langgraph", "error": "STORAGE"}));
    assert_eq!(ev[6]["answer"], json!([["a", "", "c1"]]));
}

/// One saver on two threads: what changed in a thread while the saver loaded the other is seen
/// when it comes back (a save, a delete, a rollback), in every face.
#[test]
fn langgraph_thread_switches_scenario() {
    let l = ledger();
    let ev = by_name(&l, "langgraph_thread_switches")["events"]
        .as_array()
        .unwrap()
        .clone();
    // (step, thread, latest id, its value of x) — `None`: the thread has no live checkpoint.
    let latest = [
        (2, "a", Some(("c1", "a26131"))),
        (3, "b", Some(("c1", "a26231"))),
        (5, "b", Some(("c1", "a26231"))),
        (6, "a", Some(("c2", "a26132"))),
        (9, "b", Some(("c2", "a26232"))),
        (10, "a", Some(("c1", "a26131"))),
        (12, "b", None),
        (13, "a", Some(("c1", "a26131"))),
        (15, "b", None),
        (16, "a", Some(("c3", "a26133"))),
    ];
    for (step, thread, expected) in latest {
        let answer = &ev[step]["answer"];
        match expected {
            None => assert_eq!(*answer, Value::Null, "step {step}"),
            Some((id, x)) => {
                assert_eq!(
                    (&answer["thread"], &answer["id"]),
                    (&json!(thread), &json!(id)),
                    "step {step}"
                );
                assert_eq!(answer["values"][2], json!(["msgpack", x]), "step {step}");
            }
        }
    }
    assert_eq!(ev.len(), 17);
}

/// Records earlier savers stored still read and continue; prune, a delete by id, a damaged
/// record and malformed versions are answered alike in every face.
#[test]
fn langgraph_saver_records_scenario() {
    let l = ledger();
    let ev = by_name(&l, "langgraph_saver_records")["events"]
        .as_array()
        .unwrap()
        .clone();
    let answer = |i: usize| ev[i]["answer"].clone();
    // Python's msgpack checkpoint c1 takes channel a from the JSON record c0 (base64 values);
    // its versions come from its serialised checkpoint; its msgpack writes are pending.
    assert_eq!(
        (&answer(3)["id"], &answer(3)["parent"]),
        (&json!("c1"), &json!("c0"))
    );
    assert_eq!(answer(3)["channel_values"], json!([["b", 2], ["a", 3]]));
    assert_eq!(answer(3)["values"][3], json!(["bytes", "0001"]));
    assert_eq!(answer(3)["pending_writes"], json!([["k", "b", 4]]));
    assert_eq!(answer(4), json!({"thread": "old", "ns": "", "id": "c0"}));
    // Pruned: each namespace's latest stays, stored whole (c2 holds b itself now); c1 is gone.
    assert_eq!(answer(8), json!([["old", "sub", "s1"], ["old", "", "c2"]]));
    assert_eq!(answer(9)["channel_values"], json!([["a", 2], ["b", 3]]));
    assert_eq!(answer(10), Value::Null);
    assert_eq!(answer(12), json!([["old", "", "c2"]]));
    // A damaged record: reading it and asking whose it is are STORAGE; another content type is
    // no record at all; the thread beside it still reads.
    assert_eq!(ev[14], json!({"op": "langgraph", "error": "STORAGE"}));
    assert_eq!(ev[15], json!({"op": "langgraph", "error": "STORAGE"}));
    assert_eq!(answer(16), Value::Null);
    assert_eq!(answer(17), json!([["old", "", "c2"]]));
    for i in [18, 19] {
        assert_eq!(
            ev[i],
            json!({"op": "langgraph", "error": "INVALID_ARGUMENT"}),
            "step {i}"
        );
    }
}

#[test]
fn scenarios_do_what_they_say() {
    let l = ledger();
    let a = by_name(&l, "budget_alerts");
    let fired: Vec<(String, String, u64)> = a["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["scope"].as_str().unwrap().to_owned(),
                x["kind"].as_str().unwrap().to_owned(),
                x["percent"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = [
        ("critic", "threshold", 50),
        ("", "threshold", 50),
        ("", "soft_budget", 100),
        ("", "threshold", 80),
        ("", "threshold", 95),
    ]
    .iter()
    .map(|(s, k, p)| (s.to_string(), k.to_string(), *p))
    .collect();
    assert_eq!(fired, want, "{a}");
    assert_eq!(a["status"], "completed");
    assert_eq!(a["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(by_name(&l, "chat_settled")["trace_id"].is_null());
    assert!(
        by_name(&l, "chat_settled")["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let metrics: Vec<&str> = a["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(metrics.contains(&"wflo_alerts_total{scope_kind=\"execution\",scope=\"budget_alerts\",kind=\"threshold\"} 3"), "{metrics:?}");
    assert!(
        metrics.iter().any(|m| m.starts_with(
            "wflo_cost_usd_total{model=\"gpt-4o\",provider=\"openai\",scope=\"critic\"} 0.0055"
        )),
        "{metrics:?}"
    );
    assert!(l["scenarios"].as_array().unwrap().len() >= 15);
    // Nothing is left held once a scenario has ended.
    for s in l["scenarios"].as_array().unwrap() {
        assert_eq!(s["reserved_nanos"], 0, "{}", s["name"]);
    }
    let s = by_name(&l, "chat_limit_made_explicit");
    assert_eq!(s["events"][0]["body"]["max_completion_tokens"], 16384);
    let s = by_name(&l, "refused_before_sending");
    assert_eq!(s["events"][0]["error"], "BUDGET_EXCEEDED");
    assert_eq!(s["status"], "budget_exceeded");
    assert_eq!(s["calls"][0]["status"], "refused");
    let s = by_name(&l, "clamped_to_budget");
    let sent = s["events"][0]["body"]["max_tokens"].as_u64().unwrap();
    assert!((16..4000).contains(&sent), "clamped to {sent}");
    let s = by_name(&l, "n_choices");
    assert_eq!(s["events"][0]["body"]["max_tokens"], 50);
    // gpt-4o-mini: 150 output tokens at $0.60/M are 90,000 nano-USD of the reservation.
    assert!(s["calls"][0]["reserved_nanos"].as_u64().unwrap() > 90_000);
    let s = by_name(&l, "tool_call_without_usage");
    assert_eq!(s["calls"][0]["estimated"], true);
    assert!(s["calls"][0]["usage"]["output"].as_u64().unwrap() > 0);
    let s = by_name(&l, "stream_with_usage");
    assert_eq!(
        s["events"][0]["body"]["stream_options"]["include_usage"],
        true
    );
    assert_eq!(s["calls"][0]["estimated"], false);
    let s = by_name(&l, "stream_cut_before_usage");
    assert_eq!(s["calls"][0]["usage_missing"], true);
    assert_eq!(s["calls"][0]["status"], "error");
    let s = by_name(&l, "anthropic_cache_write");
    assert_eq!(s["calls"][0]["usage"]["cache_write_1h"], 160);
    let s = by_name(&l, "gemini_generate_content");
    assert!(
        s["events"][0]["body"]["generationConfig"]["maxOutputTokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let s = by_name(&l, "provider_from_base_url");
    assert_eq!(s["calls"][0]["provider"], "xai");
    assert_eq!(s["calls"][0]["model"], "xai/grok-4");
    resilience_scenarios_do_what_they_say(&l);
    shared_scope_scenarios_do_what_they_say(&l);
    let s = by_name(&l, "rate_limited_then_retried");
    assert_eq!(s["calls"][0]["cost_nanos"], 0);
    assert_eq!(s["calls"][1]["status"], "ok");
    assert_eq!(by_name(&l, "server_error_failed_run")["status"], "failed");
    let s = by_name(&l, "nested_step_refused");
    assert_eq!(s["events"][1]["error"], "BUDGET_EXCEEDED");
    assert_eq!(s["events"][2]["error"], Value::Null);
    let s = by_name(&l, "no_limit_unpriced_model");
    assert!(
        s["events"][0]["body"]
            .get("max_completion_tokens")
            .is_none()
    );
    assert_eq!(s["calls"][0]["model"], Value::Null);
    assert_eq!(
        by_name(&l, "zero_is_a_budget")["events"][0]["error"],
        "BUDGET_EXCEEDED"
    );
    let s = by_name(&l, "checkpoint_and_rollback");
    assert_eq!(s["events"][3]["state"]["step"], 1);
    let s = by_name(&l, "binary_checkpoint_states");
    let every_byte: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
    assert_eq!(s["events"][2]["state_bytes"], 18 * 400);
    assert_eq!(s["events"][3]["binary"]["content_type"], "msgpack");
    assert_eq!(s["events"][4]["binary"]["hex"], every_byte.as_str());
    assert_eq!(
        s["events"][5]["binary"]["content_type"],
        "application/msgpack"
    );
    assert_eq!(s["events"][7]["binary"]["hex"], "");
    assert_eq!(s["events"][9]["state"]["step"], 1);
    let s = by_name(&l, "binary_checkpoint_refusals");
    let ev = &s["events"];
    assert_eq!(
        ev[1],
        json!({"op": "checkpoints_since", "names": ["first"], "sequences": [1],
               "superseded": [false], "rollbacks": 0})
    );
    // No content type: the engine's default names the bytes.
    assert_eq!(
        ev[2]["content_type"],
        wflo_core::store::state_codec::DEFAULT_CONTENT_TYPE
    );
    let untyped = json!({"op": "latest", "binary": {"content_type": "application/octet-stream", "hex": "ff00"}});
    assert_eq!(ev[3], untyped);
    // Each bad content type is refused and saves nothing: the latest state is still "untyped".
    for (i, name) in [
        (4, "spaced"),
        (6, "empty_type"),
        (8, "too_long"),
        (10, "non_ascii"),
    ] {
        assert_eq!(
            ev[i],
            json!({"op": "checkpoint_binary", "name": name, "error": "INVALID_ARGUMENT"})
        );
        assert_eq!(ev[i + 1], untyped, "after {name}");
    }
    assert_eq!(ev[12]["names"], json!(["untyped"]));
    assert_eq!(ev[13]["content_type"], "a".repeat(255));
    assert_eq!(
        ev[15],
        json!({"op": "checkpoints_since", "names": ["first", "untyped", "longest_type"],
               "sequences": [1, 2, 3], "superseded": [false, false, true], "rollbacks": 1})
    );
    assert_eq!(
        ev[17],
        json!({"op": "checkpoints_since", "names": ["resumed"], "sequences": [4],
               "superseded": [false], "rollbacks": 1})
    );
    assert_eq!(ev[18]["names"], json!([]));
    assert_eq!(ev[18]["rollbacks"], 1);
    assert_eq!(ev[19]["binary"]["content_type"], "application/x-resumed");
    let s = by_name(&l, "langchain_result");
    assert_eq!(s["calls"][0]["usage"]["output"], 7);
    let s = by_name(&l, "ai_sdk_without_usage");
    assert_eq!(s["calls"][0]["estimated"], true);
    assert!(s["calls"][0]["usage"]["output"].as_u64().unwrap() >= 5);
    assert_eq!(
        by_name(&l, "text_settled_after_framework_error")["calls"][0]["status"],
        "error"
    );
    let s = by_name(&l, "unbounded_media_refused_under_a_budget");
    assert_eq!(s["events"][0]["error"], "INVALID_ARGUMENT");
    assert_eq!(s["calls"].as_array().unwrap().len(), 0);
    let s = by_name(&l, "tracked_function_input");
    assert_eq!(s["calls"][0]["estimated"], true);
    assert!(s["calls"][0]["usage"]["output"].as_u64().unwrap() > 0);
    let s = by_name(&l, "langchain_completion_llm_output");
    assert_eq!(s["calls"][0]["usage"]["output"], 3);
    assert_eq!(s["calls"][0]["estimated"], false);
    let s = by_name(&l, "stream_usage_forced_on");
    assert_eq!(
        s["events"][0]["body"]["stream_options"]["include_usage"],
        true
    );
    assert_eq!(s["calls"][0]["usage"]["output"], 7);
    let s = by_name(&l, "price_file_new_model");
    assert_eq!(s["prices"]["added"], json!(["acme-frontier-9"]));
    assert_eq!(s["prices"]["changed"], json!(["gpt-4o"]));
    assert_eq!(s["prices"]["skipped"], json!(["acme-image-3"]));
    // 14 × $3/M + 300 × $15/M, and gpt-4o at the file's $5/M input: 14 × $5/M + 150 × $10/M.
    assert_eq!(s["calls"][0]["cost_nanos"], 42_000 + 4_500_000);
    assert_eq!(s["calls"][1]["cost_nanos"], 70_000 + 1_500_000);
    assert!(
        s["price_table"]
            .as_str()
            .unwrap()
            .contains("+ next-release.json (LiteLLM, ")
    );
    assert!(by_name(&l, "chat_settled")["prices"].is_null());
    let s = by_name(&l, "price_file_refused_whole");
    assert_eq!(s["prices"], json!({"error": "INVALID_ARGUMENT"}));
    // Nothing of the file applied: its new model is unknown, gpt-4o keeps the built-in price.
    assert_eq!(s["events"][0]["error"], "UNKNOWN_MODEL");
    assert_eq!(s["calls"][1]["cost_nanos"], 14 * 2_500 + 150 * 10_000);
    assert!(!s["price_table"].as_str().unwrap().contains('+'));
}

/// Writes Rust's ledger where `make test` collects them (`WFLO_PARITY_DIR`).
#[test]
fn write_reference_ledger() {
    let Ok(dir) = std::env::var("WFLO_PARITY_DIR") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::path::Path::new(&dir).join("rust.json");
    std::fs::write(path, serde_json::to_string_pretty(&ledger()).unwrap()).unwrap();
}

/// The `error` of each of a scenario's events, in order.
fn event_errors(s: &Value) -> Vec<&Value> {
    s["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["error"])
        .collect()
}

fn shared_scope_scenarios_do_what_they_say(l: &Value) {
    let on = by_name(l, "shared_scope_served_from_allowances");
    let off = by_name(l, "shared_scope_booked_per_call");
    let errors = event_errors(on);
    assert_eq!(
        errors,
        [
            &Value::Null,
            &Value::Null, // the figures
            &Value::Null,
            &json!("BUDGET_EXCEEDED"),
            &Value::Null,
            &json!("BUDGET_EXCEEDED"),
            &Value::Null
        ],
        "the third call's worst case passes the limit; a smaller one fits and overruns; the next is refused"
    );
    let ev = on["events"].as_array().unwrap();
    let first_cost = &on["calls"][0]["cost_nanos"];
    assert_eq!(
        (&ev[1]["spent_nanos"], &ev[1]["reserved_nanos"]),
        (first_cost, &json!(0)),
        "the first call written back, its allowance returned"
    );
    let last = &ev[6];
    let settled: u64 = on["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cost_nanos"].as_u64().unwrap())
        .sum();
    assert_eq!(
        last["spent_nanos"], settled,
        "the scope's books equal the records"
    );
    assert!(
        settled > 10_000_000,
        "the last call overran the $0.01 limit"
    );
    assert!(last["overrun_nanos"].as_u64().unwrap() > 0);
    assert_eq!(last["refusing"], true);
    assert_eq!(
        (
            &last["allowances"],
            &last["allowance_nanos"],
            &last["allowance_holders"]
        ),
        (&json!(true), &json!(0), &json!(0))
    );
    // Booked per call, the same process may do exactly the same; only the setting differs.
    let mut off_events = off["events"].clone();
    for e in off_events.as_array_mut().unwrap() {
        if e["op"] == "shared" {
            assert_eq!(
                e["allowances"], false,
                "a redefinition without the setting keeps it"
            );
            assert_eq!(e["limit_nanos"], 10_000_000, "the redefinition's limit");
            e["allowances"] = true.into();
        }
    }
    assert_eq!(&off_events, &on["events"]);
    assert_eq!(off["calls"], on["calls"]);
}

fn resilience_scenarios_do_what_they_say(l: &Value) {
    let s = by_name(l, "resource_lock_busy_then_free");
    let ev = s["events"].as_array().unwrap();
    assert_eq!(ev[1]["error"], "RESOURCE_BUSY");
    assert_eq!(
        ev[2],
        json!({"op": "resource", "action": "stats", "acquisitions": 1, "contentions": 0, "timeouts": 1, "holders": ["wf-a"]})
    );
    assert_eq!(ev[4]["error"], Value::Null);
    assert_eq!(ev[5]["holders"], json!(["wf-b"]));
    assert_eq!(
        ev[9]["error"], "RESOURCE_BUSY",
        "a semaphore of 2 refuses a third"
    );
    assert_eq!(ev[10]["holders"], json!(["wf-1", "wf-2"]));

    let s = by_name(l, "approval_gates");
    let ev = s["events"].as_array().unwrap();
    assert_eq!(
        (ev[0]["asked"].as_str(), ev[0]["status"].as_str()),
        (Some("pending"), Some("approved"))
    );
    assert_eq!(ev[0]["decided_by"], "ana");
    assert_eq!(ev[1]["error"], Value::Null, "the approved call goes out");
    assert_eq!(ev[2]["error"], "APPROVAL_DENIED");
    assert_eq!(
        (ev[2]["note"].as_str(), ev[2]["timed_out"].as_bool()),
        (Some("not on a Friday"), Some(false))
    );
    assert_eq!(
        ev[3]["asked"], "approved",
        "asked again: the same, decided approval"
    );
    assert_eq!(s["calls"].as_array().unwrap().len(), 1);

    let s = by_name(l, "approval_threshold_gates_costly_calls");
    let errors = event_errors(s);
    assert_eq!(
        errors,
        [
            &Value::Null,
            &Value::Null,
            &Value::Null,
            &json!("APPROVAL_DENIED"),
            &json!("APPROVAL_DENIED")
        ],
        "gate 1 approved, the cheap call ungated, gate 2 denied"
    );
    assert_eq!(s["calls"].as_array().unwrap().len(), 2);
    assert_eq!(s["reserved_nanos"], 0);

    let s = by_name(l, "agent_budgets_and_call_cap");
    let errors = event_errors(s);
    assert_eq!(
        errors,
        [
            &Value::Null,
            &json!("BUDGET_EXCEEDED"),
            &Value::Null,
            &Value::Null,
            &json!("CALL_LIMIT")
        ]
    );
    let steps: Vec<(&str, &str)> = s["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["step"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("agent:researcher", "ok"),
            ("agent:researcher", "refused"),
            ("agent:writer", "ok"),
            ("", "ok"),
            ("", "refused")
        ]
    );
    assert_eq!(s["status"], "failed");

    let s = by_name(l, "breaker_wrapper_counts_failures_not_refusals");
    let ev = s["events"].as_array().unwrap();
    let states: Vec<&str> = ev[..8]
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, [&["closed"; 7][..], &["open"]].concat());
    assert_eq!(
        ev[8],
        json!({"op": "breaker_call", "raise": null, "error": "CIRCUIT_OPEN", "called": false, "state": "open"})
    );
    assert_eq!(
        (ev[9]["state"].as_str(), ev[10]["error"].as_str()),
        (Some("open"), Some("CIRCUIT_OPEN"))
    );
    assert_eq!(
        ev[11]["shared"],
        json!([{"name": "provider:openai", "state": "open", "failure_count": 1}])
    );
    let changes: Vec<(&str, &str)> = ev[11]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["breaker"].as_str().unwrap(),
                t["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("search-tool", "2 consecutive failures"),
            ("provider:openai", "1 consecutive failures")
        ]
    );

    let s = by_name(l, "retry_backoff_then_success");
    let ev = s["events"].as_array().unwrap();
    let kinds: Vec<&str> = ev.iter().map(|e| e["op"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["attempt", "retry", "attempt", "retry", "attempt"]);
    // The server's retry-after-ms (9) beat the backoff (2 ms ± 50%).
    assert_eq!(ev[1]["delay_ms"], 9);
    assert!(ev[1]["reason"].as_str().unwrap().contains("retry-after"));
    let second = ev[3]["delay_ms"].as_u64().unwrap();
    assert!((2..=6).contains(&second), "4 ms ± 50%: {second}");
    let statuses: Vec<&str> = s["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "error", "ok"]);
    assert_eq!(
        s["calls"][0]["cost_nanos"], 0,
        "a failed attempt is released unbilled"
    );
    assert_eq!(s["spent_nanos"], s["calls"][2]["cost_nanos"]);

    let s = by_name(l, "retry_refused_by_budget");
    let ev = s["events"].as_array().unwrap();
    assert_eq!(ev[1]["decision"], "retry");
    assert_eq!(ev[2]["attempt"], 2);
    assert_eq!(ev[2]["error"], "BUDGET_EXCEEDED");
    let message = ev[2]["message"].as_str().unwrap();
    assert!(
        message.contains("(attempt 2 not sent: attempt 1 failed: connection reset)"),
        "{message}"
    );
    // Billed first attempt, then the refused retry: nothing of it was sent.
    assert!(s["calls"][0]["cost_nanos"].as_u64().unwrap() > 0);
    assert_eq!(s["calls"][1]["status"], "refused");
    assert_eq!(s["status"], "budget_exceeded");

    let s = by_name(l, "retry_gives_up");
    let ev = s["events"].as_array().unwrap();
    assert_eq!(ev[1]["decision"], "give_up");
    assert!(ev[1]["reason"].as_str().unwrap().contains("not retryable"));
    assert_eq!(ev[3]["decision"], "retry");
    assert_eq!(ev[3]["delay_ms"], 3);
    assert_eq!(ev[5]["decision"], "give_up");
    assert!(
        ev[5]["reason"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts")
    );
    assert_eq!(s["spent_nanos"], 0);

    let s = by_name(l, "breaker_fails_fast");
    let ev = s["events"].as_array().unwrap();
    let states: Vec<(&str, &str)> = ev
        .iter()
        .filter(|e| e["op"] == "breaker")
        .map(|e| (e["action"].as_str().unwrap(), e["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("check", "closed"),
            ("failure", "closed"),
            ("check", "closed"),
            ("failure", "open"),
            ("check", "open"),
            ("reset", "closed"),
            ("check", "closed")
        ]
    );
    assert_eq!(ev[4]["error"], "CIRCUIT_OPEN");
    assert_eq!(
        ev[5],
        json!({"op": "call", "body": null, "error": "CIRCUIT_OPEN"})
    );
    // Nothing reserved or recorded for the refused call: only the one after the reset.
    assert_eq!(s["calls"].as_array().unwrap().len(), 1);
    assert_eq!(s["calls"][0]["status"], "ok");
}

/// A `langgraph` step as the wire takes it: the request with its values listed as
/// `[type, length]`, and their bytes one after another.
fn langgraph_request(step: &Value) -> (Vec<u8>, Vec<u8>) {
    let mut request = step["request"].clone();
    let mut bytes = Vec::new();
    if let Some(values) = step["values"].as_array() {
        let mut listed = Vec::new();
        for v in values {
            let data = scenario_bytes(&json!({"hex": v[1]}));
            listed.push(json!([v[0], data.len()]));
            bytes.extend(data);
        }
        request["values"] = json!(listed);
    }
    (serde_json::to_vec(&request).unwrap(), bytes)
}

/// A `langgraph` answer as the ledger keeps it: its JSON, its values as `[type, hex]`.
fn langgraph_event(answer: &wflo_core::langgraph::wire::Answer) -> Value {
    let mut parsed: Value = serde_json::from_str(&answer.json).unwrap();
    if let Some(listed) = parsed.get_mut("values") {
        *listed = answer
            .values
            .iter()
            .map(|v| {
                json!([
                    v.kind,
                    v.data
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ])
            })
            .collect();
    }
    json!({"op": "langgraph", "answer": parsed})
}

/// The bytes of a `checkpoint_binary` step: `hex` repeated `repeat` times (default once).
fn scenario_bytes(step: &Value) -> Vec<u8> {
    let hex = step["hex"].as_str().unwrap();
    let once: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    once.repeat(step["repeat"].as_u64().unwrap_or(1) as usize)
}

/// A state returned by the face, as the ledger keeps it: JSON parsed under "state", bytes as
/// lowercase hex with their content type under "binary".
fn state_event(op: &str, state: Option<CheckpointState>) -> Value {
    match state {
        None => json!({"op": op, "state": null}),
        Some(CheckpointState::Json(text)) => {
            json!({"op": op, "state": serde_json::from_str::<Value>(&text).unwrap()})
        }
        Some(CheckpointState::Binary {
            content_type,
            bytes,
        }) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            json!({"op": op, "binary": {"content_type": content_type, "hex": hex}})
        }
    }
}

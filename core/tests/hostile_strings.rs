//! Hostile strings through every store: names, labels, models, checkpoint names and states,
//! and error reasons full of SQL metacharacters, control characters and unicode come back
//! byte for byte, and never change the schema. Statements bind their values, and this proves
//! it for each backend (memory, a SQLite file, and PostgreSQL when tests/pg/with-postgres.sh
//! provides one).

mod common;

use common::{Backend, backends, unique};
use wflo_core::store::Period;
use wflo_core::{CallRequest, CallStatus, Engine, ErrorCode, ExecutionOptions, Usage};

/// Strings a caller could hand the engine: injection attempts, quoting, control characters,
/// right-to-left overrides, astral-plane characters, LIKE wildcards and placeholders.
const HOSTILE: &[&str] = &[
    "x'); DROP TABLE workflow_executions; --",
    "\"; DROP TABLE llm_calls; SELECT \"",
    "O'Brien's \"quoted\" `step` \\ back\\slash",
    "line one\nline two\r\nthree\ttab",
    "bell\u{7} escape\u{1b}[31m red \u{7f} del",
    "ünïcødé — 中文 — 🚀 — \u{202e}txet desrever",
    "100% _like_ [wildcards] $1 ?1 :name @var",
    "<script>alert(1)</script>",
];

fn engine(b: &Backend, model: &str) -> Engine {
    let engine = Engine::open(Some(&b.url)).unwrap_or_else(|e| panic!("{}: {e}", b.name));
    let prices =
        serde_json::json!({"models": [{"name": model, "input": 1_000_000, "output": 2_000_000}]});
    engine.set_prices_json(&prices.to_string()).unwrap();
    engine
}

#[test]
fn hostile_strings_round_trip_through_every_store() {
    for b in backends() {
        for (i, s) in HOSTILE.iter().enumerate() {
            round_trip(&b, &format!("{s} #{i}"));
        }
    }
}

/// One string as every kind of user-supplied text, then read back from a second engine on the
/// same store, so the values come from the database rather than from memory.
fn round_trip(b: &Backend, s: &str) {
    let ctx = format!("{}: {s:?}", b.name);
    let model = format!("model {s}");
    let engine = engine(b, &model);
    let exec = engine
        .start_execution(ExecutionOptions {
            name: s.to_owned(),
            budget_nanos: Some(1_000_000_000),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let id = exec.id().to_owned();
    let step = exec.scope(s, None).unwrap();
    let mut ok = step
        .reserve(&CallRequest {
            model: &model,
            provider: Some(s),
            input_tokens: 10,
            max_output_tokens: Some(10),
            ..Default::default()
        })
        .unwrap();
    ok.settle(Usage {
        input: 10,
        output: 5,
        ..Default::default()
    })
    .unwrap();
    let mut failed = step
        .reserve(&CallRequest {
            model: &model,
            input_tokens: 1,
            max_output_tokens: Some(1),
            ..Default::default()
        })
        .unwrap();
    failed.release(CallStatus::Error, Some(s)).unwrap();
    let state = serde_json::json!({ "k": s, s: [s] }).to_string();
    exec.checkpoint(s, &state).unwrap();
    exec.checkpoint("later", "{}").unwrap();
    engine.flush().unwrap();

    // A memory store lives in its engine; the others are read through a second engine.
    let second;
    let reader = if b.name == "memory" {
        &engine
    } else {
        second = Engine::open(Some(&b.url)).unwrap();
        &second
    };
    let record = reader.execution(&id).unwrap();
    assert_eq!(record.name, s, "{ctx}: execution name");
    let calls = reader.calls(&id).unwrap();
    assert_eq!(calls.len(), 2, "{ctx}");
    for c in &calls {
        assert_eq!(&*c.step, s, "{ctx}: step label");
        assert_eq!(&*c.requested_model, model, "{ctx}: requested model");
        assert_eq!(c.model.as_deref(), Some(model.as_str()), "{ctx}: model");
    }
    assert_eq!(&*calls[0].provider, s, "{ctx}: provider");
    assert_eq!(calls[1].error.as_deref(), Some(s), "{ctx}: error reason");
    let breakdown = reader.breakdown(&id).unwrap();
    assert_eq!(breakdown.name, s);
    assert!(breakdown.by_step.iter().any(|st| st.step == s), "{ctx}");
    assert!(breakdown.by_model.iter().any(|m| m.model == model), "{ctx}");
    let names: Vec<String> = reader
        .checkpoints(&id)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, [s, "later"], "{ctx}: checkpoint names");

    // The rollback looks the name up in the database: the hostile name must match itself
    // and nothing else.
    let resumed = reader.resume_execution(&id).unwrap();
    assert_eq!(resumed.rollback_to_checkpoint(s).unwrap(), state, "{ctx}");
    assert_eq!(reader.rollbacks(&id).unwrap()[0].checkpoint_name, s);
    let latest = resumed.latest_checkpoint().unwrap().unwrap();
    assert_eq!(
        (latest.0.name.as_str(), latest.1.as_str()),
        (s, state.as_str())
    );
    // The tables the injections name are still there and still hold this execution.
    assert!(
        reader
            .list_executions(1000)
            .unwrap()
            .iter()
            .any(|e| e.id == id)
    );
    reader.close().unwrap();
    engine.close().unwrap();
}

#[test]
fn hostile_shared_scope_names_are_stored_or_refused_never_executed() {
    for b in backends() {
        let engine = engine(&b, "m");
        for s in HOSTILE {
            let name = unique(s);
            match engine.define_shared_scope(&name, Some(5_000), Period::Day) {
                Ok(()) => {
                    let figures = engine.shared_scope(&name).unwrap();
                    assert!(
                        figures.key.starts_with(&format!("{name}@")),
                        "{}: {:?}",
                        b.name,
                        figures.key
                    );
                    assert_eq!(figures.limit_nanos, Some(5_000));
                }
                // Control characters and '@' (the period separator) are refused by every
                // store alike.
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{}: {name:?}", b.name);
                    assert!(
                        name.contains('@') || name.chars().any(char::is_control),
                        "{name:?}: {e}"
                    );
                }
            }
        }
        engine.close().unwrap();
    }
}

/// NUL is valid in a Rust string and a C (pointer, length) string, but PostgreSQL text cannot
/// hold it. Every store must answer alike: accepted and returned unchanged, or refused as
/// INVALID_ARGUMENT before anything is written — never a STORAGE error from one backend only,
/// and never a call record lost in the background writer.
#[test]
fn nul_bytes_are_treated_alike_by_every_store() {
    let s = "before\0after";
    for b in backends() {
        let ctx = b.name;
        let engine = engine(&b, "m");
        let started = engine.start_execution(ExecutionOptions {
            name: s.into(),
            ..Default::default()
        });
        match &started {
            Ok(exec) => assert_eq!(engine.execution(exec.id()).unwrap().name, s, "{ctx}"),
            Err(e) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{ctx}: {e}"),
        }
        let exec = engine.start_execution(ExecutionOptions::default()).unwrap();
        let mut expected_calls = 0;
        let call = |label: &str, model: &str, provider: Option<&str>, reason: Option<&str>| {
            let mut r = exec.scope(label, None)?.reserve(&CallRequest {
                model,
                provider,
                input_tokens: 1,
                max_output_tokens: Some(1),
                ..Default::default()
            })?;
            match reason {
                Some(reason) => r.release(CallStatus::Error, Some(reason)).map(drop),
                None => r.settle(Usage::default()).map(drop),
            }
        };
        for (what, result) in [
            ("label", call(s, "m", None, None)),
            ("model", call("step", s, None, None)),
            ("provider", call("step", "m", Some(s), None)),
            ("reason", call("step", "m", None, Some(s))),
            ("checkpoint", exec.checkpoint(s, "{}").map(drop)),
        ] {
            match result {
                Ok(()) => expected_calls += u64::from(what != "checkpoint"),
                Err(e) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{ctx}: {what}: {e}"),
            }
        }
        engine
            .flush()
            .unwrap_or_else(|e| panic!("{ctx}: flush: {e}"));
        let calls = engine.calls(exec.id()).unwrap();
        assert_eq!(calls.len() as u64, expected_calls, "{ctx}: {calls:?}");
        assert!(
            calls.iter().all(|c| c.status != CallStatus::Refused),
            "{ctx}"
        );
        // A failed call's reason is recorded whatever it holds: NUL shows as U+FFFD.
        assert!(
            calls
                .iter()
                .any(|c| c.error.as_deref() == Some("before\u{fffd}after")),
            "{ctx}: {calls:?}"
        );
        engine.close().unwrap();
    }
}

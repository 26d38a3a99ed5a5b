use super::*;
use crate::{Engine, ExecutionOptions};

fn exec(engine: &Engine) -> Execution {
    engine
        .start_execution(ExecutionOptions {
            name: "gated".into(),
            ..Default::default()
        })
        .unwrap()
}

fn gate(name: &str, timeout_ms: Option<u64>) -> ApprovalRequest {
    ApprovalRequest {
        gate: name.into(),
        why: "publishes to customers".into(),
        worst_case_nanos: Some(2_000_000_000),
        timeout_ms,
        ..Default::default()
    }
}

#[test]
fn a_gate_waits_for_a_decision_made_elsewhere() {
    let engine = Engine::in_memory();
    let x = exec(&engine);
    let pending = x.request_approval(&gate("publish", None)).unwrap();
    assert_eq!(pending.status, ApprovalStatus::Pending);
    assert_eq!(pending.what, "run publish");
    assert_eq!(engine.approvals(true, 10).unwrap().len(), 1);
    // Asking again (a restarted workflow) finds the same approval.
    assert_eq!(
        x.request_approval(&gate("publish", None)).unwrap().id,
        pending.id
    );
    let id = pending.id.clone();
    let decider = engine.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(120));
        decider
            .decide_approval(&id, true, Some("ana"), Some("ship it"))
            .unwrap()
    });
    let got = x.require_approval(&gate("publish", None)).unwrap();
    t.join().unwrap();
    assert_eq!(got.status, ApprovalStatus::Approved);
    assert_eq!(
        (got.decided_by.as_deref(), got.note.as_deref()),
        (Some("ana"), Some("ship it"))
    );
    assert!(engine.approvals(true, 10).unwrap().is_empty());
    // Decided once: a second decision is a conflict naming the first.
    let e = engine
        .decide_approval(&got.id, false, Some("bo"), None)
        .unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::Conflict);
    assert!(e.to_string().contains("already approved by ana"), "{e}");
}

#[test]
fn denial_and_timeout_are_typed_errors() {
    let engine = Engine::in_memory();
    let x = exec(&engine);
    let a = x.request_approval(&gate("delete-index", None)).unwrap();
    engine
        .decide_approval(&a.id, false, Some("ana"), Some("too risky"))
        .unwrap();
    let e = x.wait_for_approval(&a.id, None).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::ApprovalDenied);
    assert_eq!(
        e.to_string(),
        format!(
            "approval {} for 'delete-index' was denied by ana: too risky",
            a.id
        )
    );
    let e = x.require_approval(&gate("late", Some(80))).unwrap_err();
    match e {
        Error::ApprovalDenied { timed_out, .. } => assert!(timed_out),
        other => panic!("{other:?}"),
    }
    let expired = &engine.approvals(false, 10).unwrap()[0];
    assert_eq!(
        (expired.status, expired.decided_by.as_deref()),
        (ApprovalStatus::Expired, Some("timeout"))
    );
    // A timeout may be configured to approve.
    let ok = x
        .require_approval(&ApprovalRequest {
            on_timeout: OnTimeout::Approve,
            ..gate("nightly", Some(30))
        })
        .unwrap();
    assert_eq!(ok.status, ApprovalStatus::Expired);
    // A bounded wait returns the still-pending approval.
    let p = x.request_approval(&gate("slow", None)).unwrap();
    assert_eq!(
        x.wait_for_approval(&p.id, Some(20)).unwrap().status,
        ApprovalStatus::Pending
    );
}

#[test]
fn requests_are_checked() {
    let engine = Engine::in_memory();
    let x = exec(&engine);
    for bad in [gate("", None), gate("a\0b", None)] {
        assert_eq!(
            x.request_approval(&bad).unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
    }
    assert!(ApprovalRequest::from_json(r#"{"gate": "x", "timeout": 5}"#).is_err());
    assert_eq!(
        engine
            .decide_approval("appr-none", true, None, None)
            .unwrap_err()
            .code(),
        crate::ErrorCode::NotFound
    );
}

#[test]
fn a_call_whose_worst_case_passes_the_threshold_waits_for_approval() {
    let engine = Engine::in_memory();
    let x = engine
        .start_execution(ExecutionOptions {
            name: "gated-calls".into(),
            approval_above_nanos: Some(1_000_000), // $0.001
            ..Default::default()
        })
        .unwrap();
    let small = crate::CallRequest {
        model: "gpt-4o-mini",
        input_tokens: 100,
        max_output_tokens: Some(50),
        ..Default::default()
    };
    let big = crate::CallRequest {
        model: "gpt-4o",
        input_tokens: 1_000,
        max_output_tokens: Some(4_000),
        ..Default::default()
    };
    // Under the threshold: no gate.
    x.reserve(&small)
        .unwrap()
        .settle(crate::Usage::default())
        .unwrap();
    assert!(engine.approvals(false, 10).unwrap().is_empty());
    let decider = engine.clone();
    let t = std::thread::spawn(move || {
        loop {
            if let Some(a) = decider.approvals(true, 10).unwrap().first() {
                assert_eq!(a.gate, "call #1 over $0.001");
                assert!(
                    a.what
                        .starts_with("a gpt-4o call that may cost up to $0.04"),
                    "{}",
                    a.what
                );
                assert!(a.worst_case_nanos.unwrap() > 1_000_000);
                return decider
                    .decide_approval(&a.id, true, Some("ana"), None)
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let mut r = x.reserve(&big).unwrap();
    t.join().unwrap();
    r.release(crate::CallStatus::Aborted, None).unwrap();
    // The next gated call has its own gate; denied, nothing is reserved.
    let decider = engine.clone();
    let t = std::thread::spawn(move || {
        loop {
            if let Some(a) = decider.approvals(true, 10).unwrap().first() {
                assert_eq!(a.gate, "call #2 over $0.001");
                return decider
                    .decide_approval(&a.id, false, Some("bo"), Some("too big"))
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let e = x.reserve(&big).unwrap_err();
    t.join().unwrap();
    assert_eq!(e.code(), crate::ErrorCode::ApprovalDenied);
    assert_eq!(x.breakdown().unwrap().reserved_nanos, 0);
}

#[test]
fn a_resumed_execution_keeps_its_approval_threshold() {
    let engine = Engine::in_memory();
    let x = engine
        .start_execution(ExecutionOptions {
            name: "gated-then-resumed".into(),
            approval_above_nanos: Some(1_000_000), // $0.001
            ..Default::default()
        })
        .unwrap();
    let id = x.id().to_owned();
    assert_eq!(x.record().unwrap().approval_above_nanos, Some(1_000_000));
    drop(x);
    let stored = engine.execution(&id).unwrap();
    assert_eq!(stored.approval_above_nanos, Some(1_000_000));
    let resumed = engine.resume_execution(&id).unwrap();
    let decider = engine.clone();
    let t = std::thread::spawn(move || {
        for _ in 0..500 {
            if let Some(a) = decider.approvals(true, 10).unwrap().first() {
                return Some(
                    decider
                        .decide_approval(&a.id, false, Some("ana"), Some("not now"))
                        .unwrap()
                        .gate,
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    });
    let big = crate::CallRequest {
        model: "gpt-4o",
        input_tokens: 1_000,
        max_output_tokens: Some(4_000),
        ..Default::default()
    };
    let e = resumed.reserve(&big).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::ApprovalDenied);
    assert_eq!(t.join().unwrap().as_deref(), Some("call #1 over $0.001"));
    // Without a threshold the record says nothing about one.
    let plain = engine
        .start_execution(ExecutionOptions {
            name: "plain".into(),
            ..Default::default()
        })
        .unwrap();
    let json = serde_json::to_string(&plain.record().unwrap()).unwrap();
    assert!(!json.contains("approval_above"), "{json}");
}

#[test]
fn an_engine_that_returns_pending_gates_reserves_nothing_until_approved() {
    let engine = Engine::in_memory();
    engine.set_approval_wait(crate::resilience::ApprovalWait::Return);
    let x = engine
        .start_execution(ExecutionOptions {
            name: "gated-without-blocking".into(),
            approval_above_nanos: Some(1_000_000), // $0.001
            ..Default::default()
        })
        .unwrap();
    let big = crate::CallRequest {
        model: "gpt-4o",
        input_tokens: 1_000,
        max_output_tokens: Some(4_000),
        ..Default::default()
    };
    let pending = |e: crate::Error| match e {
        crate::Error::ApprovalPending { id, gate, what } => (id, gate, what),
        other => panic!("expected APPROVAL_PENDING, got {other}"),
    };
    let (id, gate, what) = pending(x.reserve(&big).unwrap_err());
    assert_eq!(gate, "call #1 over $0.001");
    assert!(
        what.starts_with("a gpt-4o call that may cost up to $0.04"),
        "{what}"
    );
    assert!(crate::ErrorCode::ApprovalPending.is_refusal());
    // Asked again before anyone decided: the same approval, still nothing reserved.
    assert_eq!(pending(x.reserve(&big).unwrap_err()).0, id);
    assert_eq!(engine.approvals(false, 10).unwrap().len(), 1);
    assert_eq!(x.breakdown().unwrap().reserved_nanos, 0);
    // Approved: waiting returns it, and reserving again goes through on it.
    engine
        .decide_approval(&id, true, Some("ana"), None)
        .unwrap();
    assert_eq!(
        x.wait_for_approval(&id, Some(0)).unwrap().status,
        ApprovalStatus::Approved
    );
    let mut r = x.reserve(&big).unwrap();
    assert!(x.breakdown().unwrap().reserved_nanos > 0);
    r.release(crate::CallStatus::Aborted, None).unwrap();
    // The next costly call has a gate of its own; denied, reserving again says so.
    let (next, gate, _) = pending(x.reserve(&big).unwrap_err());
    assert_eq!(gate, "call #2 over $0.001");
    engine
        .decide_approval(&next, false, Some("bo"), Some("too big"))
        .unwrap();
    assert_eq!(
        x.reserve(&big).unwrap_err().code(),
        crate::ErrorCode::ApprovalDenied
    );
    assert_eq!(x.breakdown().unwrap().reserved_nanos, 0);
    // And the one after that asks afresh.
    assert_eq!(
        pending(x.reserve(&big).unwrap_err()).1,
        "call #3 over $0.001"
    );
}

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

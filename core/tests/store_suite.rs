//! One suite, every store: memory, SQLite (a real file) and PostgreSQL (a real server started
//! by tests/pg/with-postgres.sh). What one store does, all must.

mod common;

use std::sync::Arc;

use common::{Backend, SUITE_PRICES, backends, for_each_backend, req, unique, usage};
use wflo_core::clock::ManualClock;
use wflo_core::store::{Period, open_store};
use wflo_core::{
    CallStatus, CheckpointState, Engine, EngineConfig, ErrorCode, Execution, ExecutionOptions,
    ExecutionStatus, Usage,
};

fn engine(b: &Backend) -> Engine {
    let engine = Engine::open(Some(&b.url)).unwrap_or_else(|e| panic!("{}: {e}", b.name));
    engine.set_prices_json(SUITE_PRICES).unwrap();
    engine
}

fn engine_with_clock(b: &Backend, clock: Arc<ManualClock>) -> Engine {
    let store = open_store(&b.url).unwrap();
    let engine = Engine::new(EngineConfig {
        store,
        clock,
        lease_ms: 1000,
        ..EngineConfig::default()
    });
    engine.set_prices_json(SUITE_PRICES).unwrap();
    engine
}

fn opts(budget: Option<u64>) -> ExecutionOptions {
    ExecutionOptions {
        name: "suite".into(),
        budget_nanos: budget,
        ..Default::default()
    }
}

#[test]
fn executions_and_calls_are_stored_with_their_spend() {
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(Some(100_000_000))).unwrap();
        let id = exec.id().to_owned();
        for i in 0..25u64 {
            let mut r = exec
                .scope(if i % 2 == 0 { "plan" } else { "act" }, None)
                .unwrap()
                .reserve(&req(100, 100))
                .unwrap();
            r.settle(Usage {
                input: 100,
                output: i,
                ..Default::default()
            })
            .unwrap();
        }
        assert_eq!(exec.reserve(&req(1, 1)).map(drop).err(), None);
        let calls = exec.calls().unwrap();
        assert_eq!(calls.len(), 26, "{}", b.name);
        assert!(calls.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(calls.last().unwrap().status, CallStatus::Aborted);
        let total: u64 = calls.iter().map(|c| c.cost_nanos).sum();
        let record = engine.execution(&id).unwrap();
        assert_eq!(
            record.spent_nanos, total,
            "{}: stored spend follows the calls",
            b.name
        );
        assert_eq!(record.calls, 26);
        assert_eq!(record.budget_nanos, Some(100_000_000));
        exec.finish(ExecutionStatus::Completed).unwrap();
        let record = engine.execution(&id).unwrap();
        assert_eq!(record.status, ExecutionStatus::Completed);
        assert!(record.finished_at_ms.is_some());
        // (Other tests create executions on the shared server meanwhile: look past them.)
        assert!(
            engine
                .list_executions(1_000)
                .unwrap()
                .iter()
                .any(|e| e.id == id)
        );
        let stored = engine.breakdown(&id).unwrap();
        assert_eq!(stored.total_nanos, total);
        assert_eq!(stored.by_step.len(), 3);
        // The same id again is a conflict.
        let dup = engine.start_execution(ExecutionOptions {
            id: Some(id.clone()),
            ..opts(None)
        });
        assert_eq!(dup.unwrap_err().code(), ErrorCode::Conflict, "{}", b.name);
        engine.close().unwrap();
    });
}

/// A call retried by the engine's retrier: every attempt reserved and recorded with its
/// number and the reason it was made; a retry the budget cannot cover is refused before it
/// is sent and recorded as such — and all of it reads back the same from the store.
#[test]
fn retried_attempts_are_recorded_with_their_number_and_reason() {
    use wflo_core::resilience::{Decision, Failure, FailureKind, RetryPolicy};
    use wflo_core::{RequestOptions, UsageFormat};
    for_each_backend(|b| {
        let engine = engine(b);
        // Each attempt's worst case is 426,000 nano-USD (the prompt's upper bound + 100 output
        // tokens); each failed attempt is billed 260,000 (100 in + 40 out). 816,000 leaves room
        // for the second attempt (556,000 left) but not the third (296,000).
        let exec = engine.start_execution(opts(Some(816_000))).unwrap();
        let id = exec.id().to_owned();
        let body = r#"{"model": "s-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}"#;
        let policy = RetryPolicy {
            jitter: 0.0,
            base_delay_ms: 1,
            ..RetryPolicy::default()
        };
        let mut retrier = engine.retrier(policy).unwrap();
        let mut options = RequestOptions::default();
        let failure = Failure {
            kind: FailureKind::Http,
            status: Some(503),
            headers: vec![],
            message: "503 Service Unavailable".into(),
        };
        let mut outcomes = vec![];
        loop {
            let made = match exec.reserve_request(UsageFormat::OpenAiChat, body, &options) {
                Ok(made) => made,
                Err(e) => {
                    outcomes.push(retrier.refused(e).to_string());
                    break;
                }
            };
            let mut r = made.reservation;
            // Each attempt is billed for 40 output tokens before it fails (a cut stream).
            r.settle_with(wflo_core::Settlement {
                usage: Usage {
                    input: 100,
                    output: 40,
                    ..Default::default()
                },
                status: Some(CallStatus::Error),
                error: Some(failure.message.clone()),
                estimated: false,
                usage_missing: false,
            })
            .unwrap();
            match retrier.next(&failure, engine.now_ms()) {
                Decision::Retry {
                    attempt, reason, ..
                } => {
                    options.attempt = Some(attempt);
                    options.retry_reason = Some(reason);
                }
                Decision::GiveUp { reason, .. } => panic!("{}: gave up: {reason}", b.name),
            }
        }
        assert_eq!(outcomes.len(), 1);
        assert!(
            outcomes[0].contains("(attempt 3 not sent: attempt 2 failed: 503 Service Unavailable)"),
            "{}: {}",
            b.name,
            outcomes[0]
        );
        exec.finish(ExecutionStatus::BudgetExceeded).unwrap();
        let calls = engine.calls(&id).unwrap();
        let seen: Vec<(u32, CallStatus, bool)> = calls
            .iter()
            .map(|c| (c.attempt, c.status, c.retry_reason.is_some()))
            .collect();
        assert_eq!(
            seen,
            [
                (1, CallStatus::Error, false),
                (2, CallStatus::Error, true),
                (3, CallStatus::Refused, true),
            ],
            "{}",
            b.name
        );
        let reason = calls[1].retry_reason.as_deref().unwrap();
        assert!(
            reason.starts_with("503 Service Unavailable; retry 1 after 1 ms"),
            "{reason}"
        );
        engine.close().unwrap();
    });
}

/// Approval gates on every store: asked once per gate (asking again finds it), decided once,
/// listed pending or all, and a waiting gate sees a decision made through another engine.
#[test]
fn approvals_are_asked_once_and_decided_once() {
    use wflo_core::records::ApprovalStatus;
    use wflo_core::resilience::ApprovalRequest;
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        let gate = |g: &str| ApprovalRequest {
            gate: g.into(),
            why: "a person must look".into(),
            worst_case_nanos: Some(5),
            timeout_ms: Some(60_000),
            ..Default::default()
        };
        let a = exec.request_approval(&gate("publish")).unwrap();
        assert_eq!(
            exec.request_approval(&gate("publish")).unwrap(),
            a,
            "{}",
            b.name
        );
        let other = exec.request_approval(&gate("delete")).unwrap();
        assert_ne!(other.id, a.id);
        let pending: Vec<String> = engine
            .approvals(true, 100)
            .unwrap()
            .into_iter()
            .filter(|x| x.execution_id == exec.id())
            .map(|x| x.gate)
            .collect();
        assert_eq!(pending.len(), 2, "{}", b.name);
        // Decided through a second engine on the same store (memory: the same engine).
        let decider = if b.name == "memory" {
            engine.clone()
        } else {
            self::engine(b)
        };
        let decided = decider
            .decide_approval(&a.id, true, Some("ana"), Some("fine"))
            .unwrap();
        assert_eq!(decided.status, ApprovalStatus::Approved);
        assert_eq!(
            decider
                .decide_approval(&a.id, false, None, None)
                .unwrap_err()
                .code(),
            ErrorCode::Conflict,
            "{}",
            b.name
        );
        let got = exec.wait_for_approval(&a.id, Some(5_000)).unwrap();
        assert_eq!(
            (got.status, got.note.as_deref()),
            (ApprovalStatus::Approved, Some("fine"))
        );
        decider
            .decide_approval(&other.id, false, Some("bo"), None)
            .unwrap();
        assert_eq!(
            exec.require_approval(&gate("delete")).unwrap_err().code(),
            ErrorCode::ApprovalDenied,
            "{}",
            b.name
        );
        assert_eq!(
            engine.approval("appr-nope").unwrap_err().code(),
            ErrorCode::NotFound
        );
        engine.close().unwrap();
    });
}

/// Two engines on one store, as two processes of a fleet would be (a memory store is handed
/// to both, a database opened by each).
fn two_engines(b: &Backend, clock: Arc<ManualClock>) -> (Engine, Engine) {
    let first = open_store(&b.url).unwrap();
    let second = if b.name == "memory" {
        first.clone()
    } else {
        open_store(&b.url).unwrap()
    };
    let make = |store| {
        Engine::new(EngineConfig {
            store,
            clock: clock.clone(),
            ..EngineConfig::default()
        })
    };
    (make(first), make(second))
}

#[test]
fn a_shared_breaker_is_one_breaker_for_every_engine_on_the_store() {
    use wflo_core::resilience::{BreakerConfig, BreakerState};
    use wflo_core::store::TransitionQuery;
    for_each_backend(|b| {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let (one, two) = two_engines(b, clock.clone());
        let name = unique("provider:openai");
        let config = BreakerConfig {
            failure_threshold: 2,
            recovery_timeout_ms: 10_000,
            success_threshold: 1,
            shared: true,
            ..BreakerConfig::default()
        };
        let a = one.breaker(&name, Some(config.clone())).unwrap();
        let z = two.breaker(&name, Some(config)).unwrap();
        assert!(!Arc::ptr_eq(&a, &z), "two engines, two handles");
        // One failure in each engine: two consecutive failures of one breaker.
        a.check().unwrap();
        a.record_failure().unwrap();
        z.check().unwrap();
        z.record_failure().unwrap();
        for handle in [&a, &z] {
            let e = handle.check().unwrap_err();
            assert_eq!(e.code(), ErrorCode::CircuitOpen, "{}", b.name);
            assert_eq!(
                e,
                wflo_core::Error::CircuitOpen {
                    name: name.clone(),
                    failures: 2,
                    retry_in_ms: 10_000
                }
            );
        }
        let status = a.status().unwrap();
        assert_eq!(status, z.status().unwrap(), "{}", b.name);
        assert!(status.shared);
        assert_eq!(status.state, BreakerState::Open);
        assert_eq!(
            (status.total_calls, status.total_failures, status.rejected),
            (2, 2, 2)
        );
        assert_eq!(status.transitions.len(), 1);
        let opened = &status.transitions[0];
        assert_eq!(
            (
                opened.from,
                opened.to,
                opened.reason.as_str(),
                opened.shared
            ),
            (
                BreakerState::Closed,
                BreakerState::Open,
                "2 consecutive failures",
                true
            )
        );
        assert_eq!(opened.at_ms, 1_800_000_000_000);
        // Any engine on the store lists it, with the settings it was stepped with.
        let listed = two.shared_breakers().unwrap();
        let mine = listed.iter().find(|s| s.name == name).unwrap();
        assert_eq!(
            (mine.state, mine.retry_in_ms),
            (BreakerState::Open, Some(10_000))
        );
        // The recovery timeout passes: a trial call in one engine closes it for both.
        clock.advance(10_000);
        z.check().unwrap();
        a.record_success().unwrap();
        assert_eq!(z.state().unwrap(), BreakerState::Closed, "{}", b.name);
        let all = two
            .breaker_transitions(&TransitionQuery {
                breaker: Some(&name),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        let seen: Vec<_> = all.iter().map(|t| (t.from, t.to)).collect();
        use BreakerState::*;
        assert_eq!(
            seen,
            vec![(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
        );
        let later = two
            .breaker_transitions(&TransitionQuery {
                breaker: Some(&name),
                since_ms: Some(1_800_000_000_001),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(later.len(), 2, "{}", b.name);
        let earlier = two
            .breaker_transitions(&TransitionQuery {
                breaker: Some(&name),
                until_ms: Some(1_800_000_000_000),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(earlier.len(), 1, "{}", b.name);

        // A breaker of one process keeps its state to itself but records its changes.
        let tool = unique("tool:search");
        let local = one
            .breaker(
                &tool,
                Some(BreakerConfig {
                    failure_threshold: 1,
                    ..BreakerConfig::default()
                }),
            )
            .unwrap();
        for _ in 0..(wflo_core::store::STORED_TRANSITIONS / 2 + 3) {
            local.record_failure().unwrap();
            local.reset().unwrap();
        }
        local.record_failure().unwrap();
        assert!(
            two.shared_breakers()
                .unwrap()
                .iter()
                .all(|s| s.name != tool),
            "not shared"
        );
        let recorded = two
            .breaker_transitions(&TransitionQuery {
                breaker: Some(&tool),
                limit: 10_000,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            recorded.len(),
            wflo_core::store::STORED_TRANSITIONS,
            "the oldest are dropped ({})",
            b.name
        );
        let last = recorded.last().unwrap();
        assert_eq!((last.to, last.shared), (Open, false));
        assert_eq!(recorded[0].to, Closed, "oldest kept: a reset");
        assert!(
            two.breaker_transitions(&TransitionQuery {
                breaker: Some(&tool),
                limit: 0,
                ..Default::default()
            })
            .unwrap()
            .is_empty()
        );
    });
}

#[test]
fn checkpoints_roll_back_compress_and_prune() {
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        let a = exec.checkpoint("fetched", r#"{"step":1}"#).unwrap();
        let big = format!(
            "{{\"rows\":[{}]}}",
            vec![r#"{"title":"a result","score":0.5,"tags":["x","y"]}"#; 3000].join(",")
        );
        let b2 = exec.checkpoint("analysed", &big).unwrap();
        assert_eq!(b2.state_bytes, big.len() as u64);
        assert_eq!(
            exec.checkpoint_state(b2.id).unwrap(),
            big,
            "{}: large state round-trips",
            b.name
        );
        exec.checkpoint("written", r#"{"step":3}"#).unwrap();
        assert_eq!(
            exec.rollback_to_checkpoint("fetched").unwrap(),
            r#"{"step":1}"#
        );
        let list = exec.checkpoints().unwrap();
        assert_eq!(
            list.iter().map(|c| c.superseded).collect::<Vec<_>>(),
            [false, true, true],
            "{}",
            b.name
        );
        let d = exec.checkpoint("analysed", r#"{"step":"2b"}"#).unwrap();
        assert_eq!((d.sequence, d.parent_id), (4, Some(a.id)));
        assert_eq!(
            exec.latest_checkpoint().unwrap().unwrap().1,
            r#"{"step":"2b"}"#
        );
        assert_eq!(exec.rollbacks().unwrap().len(), 1);
        assert_eq!(exec.rollbacks().unwrap()[0].superseded, 2);
        assert_eq!(
            exec.rollback_to_checkpoint("written").unwrap_err().code(),
            ErrorCode::NotFound
        );
        assert_eq!(exec.prune_checkpoints(1).unwrap(), 3);
        assert_eq!(exec.checkpoints().unwrap().len(), 1);
        assert_eq!(
            exec.rollbacks().unwrap().len(),
            1,
            "{}: history survives pruning",
            b.name
        );
    });
}

#[test]
fn binary_and_json_states_come_back_byte_for_byte() {
    // Every byte value, a large compressible state (stored compressed) and an incompressible
    // one (stored as given).
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let compressible: Vec<u8> = b"\x92\xa4role\xa9assistant".repeat(4000);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..60_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        let json = exec
            .checkpoint("plan", r#"{"step": 1, "x": [1.50, "\u00e9"]}"#)
            .unwrap();
        assert_eq!(json.content_type, None);
        let mut saved = Vec::new();
        for (name, ty, bytes) in [
            ("all", "application/octet-stream", &all_bytes),
            ("big", "msgpack", &compressible),
            ("noise", "image/png", &noise),
        ] {
            let info = exec.checkpoint_binary(name, Some(ty), bytes).unwrap();
            assert_eq!(
                (info.state_bytes, info.content_type.as_deref()),
                (bytes.len() as u64, Some(ty)),
                "{}",
                b.name
            );
            saved.push((info.id, ty, bytes.clone()));
        }
        let listed = exec.checkpoints().unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|c| c.content_type.as_deref())
                .collect::<Vec<_>>(),
            [
                None,
                Some("application/octet-stream"),
                Some("msgpack"),
                Some("image/png")
            ],
            "{}",
            b.name
        );
        for (id, ty, bytes) in &saved {
            let back = exec.checkpoint_state_any(*id).unwrap();
            assert_eq!(
                back,
                CheckpointState::Binary {
                    content_type: ty.to_string(),
                    bytes: bytes.clone()
                },
                "{}: {ty}",
                b.name
            );
            // A caller asking for JSON is told the state is binary.
            let err = exec.checkpoint_state(*id).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidArgument, "{}", b.name);
            assert!(err.to_string().contains(ty), "{err}");
        }
        assert_eq!(
            exec.checkpoint_state_any(json.id).unwrap(),
            CheckpointState::Json(r#"{"step": 1, "x": [1.50, "\u00e9"]}"#.into())
        );
        let (latest, state) = exec.latest_checkpoint_any().unwrap().unwrap();
        assert_eq!(
            (latest.name.as_str(), state.content_type()),
            ("noise", Some("image/png"))
        );
        assert_eq!(
            exec.latest_checkpoint().unwrap_err().code(),
            ErrorCode::InvalidArgument
        );

        // The JSON-only rollback refuses a binary state before it changes anything.
        assert_eq!(
            exec.rollback_to_checkpoint("big").unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
        assert!(exec.rollbacks().unwrap().is_empty(), "{}", b.name);
        assert!(exec.checkpoints().unwrap().iter().all(|c| !c.superseded));
        let back = exec.rollback_to_checkpoint_any("big").unwrap();
        assert_eq!(
            back,
            CheckpointState::Binary {
                content_type: "msgpack".into(),
                bytes: compressible.clone()
            }
        );
        assert_eq!(
            exec.checkpoints()
                .unwrap()
                .iter()
                .map(|c| c.superseded)
                .collect::<Vec<_>>(),
            [false, false, false, true]
        );
        assert_eq!(
            exec.rollback_to_checkpoint_any("plan")
                .unwrap()
                .into_json()
                .unwrap(),
            r#"{"step": 1, "x": [1.50, "\u00e9"]}"#
        );

        // Bad input is refused and saves nothing.
        let before = exec.checkpoints().unwrap().len();
        for bad in ["", "two words", "t\u{e9}"] {
            assert_eq!(
                exec.checkpoint_binary("x", Some(bad), b"1")
                    .unwrap_err()
                    .code(),
                ErrorCode::InvalidArgument
            );
        }
        assert_eq!(exec.checkpoints().unwrap().len(), before, "{}", b.name);
        assert_eq!(
            exec.checkpoint_binary("empty", None, b"")
                .map(|c| (c.state_bytes, c.content_type))
                .unwrap(),
            (
                0,
                Some(wflo_core::store::state_codec::DEFAULT_CONTENT_TYPE.into())
            )
        );
        let empty = exec.latest_checkpoint_any().unwrap().unwrap().1;
        assert_eq!(
            empty,
            CheckpointState::Binary {
                content_type: "application/octet-stream".into(),
                bytes: Vec::new()
            }
        );
    });
}

#[test]
fn checkpoints_after_a_sequence_are_what_was_saved_since() {
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        assert!(exec.checkpoints_after(0).unwrap().is_empty());
        for i in 1..=5 {
            exec.checkpoint(&format!("c{i}"), "{}").unwrap();
        }
        let names = |after| {
            exec.checkpoints_after(after)
                .unwrap()
                .into_iter()
                .map(|c| (c.sequence, c.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(3),
            [(4, "c4".to_string()), (5, "c5".to_string())],
            "{}",
            b.name
        );
        assert_eq!(names(0).len(), 5);
        assert!(names(5).is_empty());
        assert!(names(u64::MAX).is_empty(), "{}", b.name);
        exec.rollback_to_checkpoint("c2").unwrap();
        let after = exec.checkpoints_after(1).unwrap();
        assert_eq!(
            after.iter().map(|c| c.superseded).collect::<Vec<_>>(),
            [false, true, true, true],
            "{}",
            b.name
        );
        let (since, rollbacks) = exec.checkpoints_since(4).unwrap();
        assert_eq!((since.len(), rollbacks), (1, 1), "{}", b.name);
        // The same with one state read along, of either kind; an unknown id fails it all.
        let bin = exec
            .checkpoint_binary("bin", Some("application/x-test"), b"\x00\xff")
            .unwrap();
        // A state large enough to be stored compressed comes back as saved too.
        let large = exec
            .checkpoint_binary("large", Some("application/x-test"), &[7u8; 64 * 1024])
            .unwrap();
        for (id, after) in [(after[0].id, 4), (bin.id, 0), (bin.id, 6), (large.id, 6)] {
            let (since, rollbacks, state) = exec.checkpoints_since_with_state(after, id).unwrap();
            assert_eq!(
                (since, rollbacks, state),
                // Each part as the store's separate reads give it (SQLite and PostgreSQL
                // answer the one-call read with a transaction or statement of their own).
                (
                    exec.checkpoints_after(after).unwrap(),
                    exec.rollbacks().unwrap().len() as u64,
                    exec.checkpoint_state_any(id).unwrap()
                ),
                "{}",
                b.name
            );
        }
        assert!(matches!(
            exec.checkpoints_since_with_state(0, bin.id + 1000),
            Err(wflo_core::Error::NotFound(_))
        ));
        // The count each store keeps is the number of rollback records, in another execution
        // too (none).
        exec.rollback_to_checkpoint("c1").unwrap();
        assert_eq!(exec.checkpoints_since(6).unwrap().1, 2, "{}", b.name);
        assert_eq!(exec.rollbacks().unwrap().len(), 2, "{}", b.name);
        let other = engine.start_execution(opts(None)).unwrap();
        assert_eq!(
            other.checkpoints_since(0).unwrap(),
            (vec![], 0),
            "{}",
            b.name
        );
        // A checkpoint of another execution is not found through this one.
        assert!(
            matches!(
                other.checkpoints_since_with_state(0, bin.id),
                Err(wflo_core::Error::NotFound(_))
            ),
            "{}",
            b.name
        );
    });
}

/// A reader that gives back what it read last (`KnownSince`) is answered "nothing new" only
/// while nothing was committed: its own engine's saves and another engine's (another
/// connection to the same file) both show. Stores without versions read the list every time.
/// Checkpoints by name prefix: the LangGraph saver's (a range of the partial index of its
/// names, SQLite reading the index alone) and any other (every name compared), each with its
/// id, sequence and whether a rollback superseded it, and the execution's last sequence and
/// rollback count beside them; another execution's names never come back.
#[test]
fn checkpoints_named_by_prefix_are_those_and_no_others() {
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        let other = engine.start_execution(opts(None)).unwrap();
        let empty = exec.checkpoints_named(&["langgraph/t/".into()]).unwrap();
        assert_eq!(
            (empty.checkpoints.len(), empty.last_sequence),
            (0, 0),
            "{}",
            b.name
        );
        for name in [
            "langgraph/t/n/c1",
            "langgraph/tt/n/c1",
            "step-1",
            "langgraph-writes/t/n/c1",
            "langgraph-delete/t",
            "step-2",
            "langgraph-delete/tx",
            "stepper",
        ] {
            exec.checkpoint(name, "{}").unwrap();
            other.checkpoint(name, "{}").unwrap();
        }
        exec.rollback_to_checkpoint("step-2").unwrap();
        let names = |prefixes: &[&str]| {
            let named = exec
                .checkpoints_named(&prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>())
                .unwrap();
            assert_eq!((named.last_sequence, named.rollbacks), (8, 1), "{}", b.name);
            let listed = exec.checkpoints().unwrap();
            for c in &named.checkpoints {
                let info = listed.iter().find(|i| i.id == c.id).unwrap();
                assert_eq!(
                    (&info.name, info.sequence, info.superseded),
                    (&c.name, c.sequence, c.superseded),
                    "{}",
                    b.name
                );
            }
            named
                .checkpoints
                .into_iter()
                .map(|c| (c.sequence, c.name, c.superseded))
                .collect::<Vec<_>>()
        };
        let thread = names(&["langgraph/t/", "langgraph-writes/t/", "langgraph-delete/t"]);
        assert_eq!(
            thread,
            [
                (1, "langgraph/t/n/c1".to_string(), false),
                (4, "langgraph-writes/t/n/c1".to_string(), false),
                (5, "langgraph-delete/t".to_string(), false),
                // A prefix may match more; never fewer. Superseded by the rollback to step-2.
                (7, "langgraph-delete/tx".to_string(), true),
            ],
            "{}",
            b.name
        );
        assert_eq!(
            names(&["step-"]),
            [
                (3, "step-1".to_string(), false),
                (6, "step-2".to_string(), false)
            ],
            "{}",
            b.name
        );
        assert!(names(&["nothing/"]).is_empty(), "{}", b.name);
    });
}

#[test]
fn checkpoint_changes_skip_the_list_only_while_nothing_was_committed() {
    for_each_backend(|b| {
        let one = engine(b);
        let exec = one.start_execution(opts(None)).unwrap();
        exec.checkpoint("c1", "{}").unwrap();
        let first = exec.checkpoint_changes(0, None, None).unwrap();
        assert_eq!(first.checkpoints.len(), 1, "{}", b.name);
        let Some(_) = first.version else {
            // No version (memory, PostgreSQL): the list is read again, whatever is given.
            let known = Some(wflo_core::store::KnownSince {
                version: 0,
                rollbacks: 0,
            });
            let again = exec.checkpoint_changes(0, None, known).unwrap();
            assert_eq!(
                (again.checkpoints.len(), again.version),
                (1, None),
                "{}",
                b.name
            );
            return;
        };
        let known = |version, rollbacks| Some(wflo_core::store::KnownSince { version, rollbacks });
        let two = engine(b);
        let other = two.resume_execution(exec.id()).unwrap();
        // Unchanged: no list even from sequence 0, the count given back, a state still read.
        let c1 = first.checkpoints[0].id;
        // SQLite's data version may move once more on the first read after this connection's
        // own commit (a change seen where there was none costs a list read, never a miss): the
        // version to keep is the one a second read agrees with.
        let version = exec
            .checkpoint_changes(0, None, None)
            .unwrap()
            .version
            .unwrap();
        assert_eq!(
            exec.checkpoint_changes(0, None, None).unwrap().version,
            Some(version)
        );
        let same = exec
            .checkpoint_changes(0, Some(c1), known(version, 7))
            .unwrap();
        assert_eq!(
            (same.checkpoints.len(), same.rollbacks, same.version),
            (0, 7, Some(version)),
            "{}",
            b.name
        );
        assert_eq!(same.state, Some(exec.checkpoint_state_any(c1).unwrap()));
        // A stale version reads the list as usual.
        let stale = exec
            .checkpoint_changes(0, None, known(version.wrapping_add(1), 7))
            .unwrap();
        assert_eq!(
            (stale.checkpoints.len(), stale.rollbacks),
            (1, 0),
            "{}",
            b.name
        );
        // Another engine's save changes the version seen here, with a state read and without.
        other.checkpoint("c2", "{}").unwrap();
        for state_of in [None, Some(c1)] {
            let seen = exec
                .checkpoint_changes(0, state_of, known(version, 0))
                .unwrap();
            assert_eq!(seen.checkpoints.len(), 2, "{} {state_of:?}", b.name);
            assert_ne!(seen.version, Some(version), "{}", b.name);
        }
        // A version this engine's store gave means nothing to another's (each counts its own
        // connection's view): it reads the list.
        let theirs = other.checkpoint_changes(0, None, None).unwrap();
        let mine = exec.checkpoint_changes(0, None, None).unwrap();
        assert_ne!(theirs.version, mine.version, "{}", b.name);
        let crossed = other
            .checkpoint_changes(0, None, known(mine.version.unwrap(), 0))
            .unwrap();
        assert_eq!(crossed.checkpoints.len(), 2, "{}", b.name);
        // This engine's own save changes it too.
        let now = exec
            .checkpoint_changes(0, None, None)
            .unwrap()
            .version
            .unwrap();
        exec.checkpoint("c3", "{}").unwrap();
        let seen = exec.checkpoint_changes(0, None, known(now, 0)).unwrap();
        assert_eq!(seen.checkpoints.len(), 3, "{}", b.name);
    });
}

/// One execution started on one engine and resumed on a second, then `work` run on both at
/// once from two threads (named "a" and "b"), as two processes sharing an execution.
fn at_once_from_two_engines(
    b: &Backend,
    work: impl Fn(&Execution, &str) + Sync,
) -> (Engine, Engine, Execution) {
    let (one, two) = (engine(b), engine(b));
    let exec = one.start_execution(opts(None)).unwrap();
    let other = two.resume_execution(exec.id()).unwrap();
    std::thread::scope(|s| {
        for (who, e) in [("a", &exec), ("b", &other)] {
            let work = &work;
            s.spawn(move || work(e, who));
        }
    });
    (one, two, exec)
}

/// Two processes (engines) saving into one execution at once: each save numbers itself after
/// the other's (PostgreSQL's one-statement save reads the next sequence in its INSERT and,
/// when the other save took it first, inserts nothing and runs again).
#[test]
fn checkpoints_saved_at_once_from_two_engines_are_numbered_one_after_the_other() {
    for b in backends().into_iter().filter(|b| b.name != "memory") {
        let (_one, _two, exec) = at_once_from_two_engines(&b, |e, who| {
            for i in 0..300 {
                e.checkpoint(&format!("{who}-{i}"), r#"{"n":1}"#).unwrap();
            }
        });
        let list = exec.checkpoints().unwrap();
        let sequences: Vec<u64> = list.iter().map(|c| c.sequence).collect();
        assert_eq!(sequences, (1..=600).collect::<Vec<_>>(), "{}", b.name);
        for pair in list.windows(2) {
            assert_eq!(
                pair[1].parent_id,
                Some(pair[0].id),
                "{}: each continues the last",
                b.name
            );
        }
    }
}

/// Two engines on one store saving into one execution in turns, as two processes of a fleet.
/// Each store remembers the checkpoint it saved last (SQLite: the tail, valid while the data
/// version is unchanged; PostgreSQL: the parent its INSERT checks); whatever the other does in
/// between (saves, rollbacks, pruning), sequences stay consecutive and each parent is the
/// latest live checkpoint. Fails on SQLite with the data-version check removed (UNIQUE).
#[test]
fn two_engines_saving_in_turns_keep_sequences_and_parents() {
    for b in backends().into_iter().filter(|b| b.name != "memory") {
        let (one, two) = (engine(&b), engine(&b));
        let a = one.start_execution(opts(None)).unwrap();
        let other = two.resume_execution(a.id()).unwrap();
        let save = |e: &Execution, name: &str| e.checkpoint(name, r#"{"n":1}"#).unwrap();
        let sp = |c: &wflo_core::CheckpointInfo| (c.sequence, c.parent_id);
        let mut last: Option<u64> = None;
        for (i, e) in [&a, &a, &a, &other, &a, &other, &other, &a]
            .into_iter()
            .enumerate()
        {
            let info = save(e, &format!("c{}", i + 1));
            assert_eq!(
                sp(&info),
                (i as u64 + 1, last),
                "{}: save {}",
                b.name,
                i + 1
            );
            last = Some(info.id);
        }
        let id_of = |seq: u64| a.checkpoints().unwrap()[seq as usize - 1].id;
        // The other rolls back to c2: A's remembered c8 is superseded, its next save finds c2.
        other.rollback_to_checkpoint("c2").unwrap();
        let c9 = save(&a, "c9");
        assert_eq!(sp(&c9), (9, Some(id_of(2))), "{}", b.name);
        let c10 = save(&a, "c10");
        assert_eq!(sp(&c10), (10, Some(c9.id)), "{}", b.name);
        // The other rolls back to the latest (nothing superseded): A's c10 still holds.
        other.rollback_to_checkpoint("c10").unwrap();
        assert_eq!(sp(&save(&a, "c11")), (11, Some(c10.id)), "{}", b.name);
        // A rolls back itself (its own commit makes what it remembers stale too), then saves.
        a.rollback_to_checkpoint("c9").unwrap();
        let c12 = save(&a, "c12");
        assert_eq!(sp(&c12), (12, Some(c9.id)), "{}", b.name);
        let list = a.checkpoints().unwrap();
        let seq_of = |id: u64| list.iter().find(|c| c.id == id).map(|c| c.sequence);
        let chain: Vec<_> = list
            .iter()
            .map(|c| (c.sequence, c.parent_id.and_then(seq_of), c.superseded))
            .collect();
        let mut expected = vec![(1, None, false), (2, Some(1), false)];
        expected.extend((3..=8).map(|s| (s, Some(s - 1), true)));
        expected.extend([
            (9, Some(2), false),
            (10, Some(9), true),
            (11, Some(10), true),
            (12, Some(9), false),
        ]);
        assert_eq!(chain, expected, "{}", b.name);
        // The other prunes to the latest: A's next save still follows c12.
        other.prune_checkpoints(1).unwrap();
        assert_eq!(sp(&save(&a, "c13")), (13, Some(c12.id)), "{}", b.name);
        // The other prunes everything: the execution starts again from 1 (as it always has),
        // and the other's next save follows A's.
        other.prune_checkpoints(0).unwrap();
        let again = save(&a, "again");
        assert_eq!(sp(&again), (1, None), "{}", b.name);
        assert_eq!(sp(&save(&other, "next")), (2, Some(again.id)), "{}", b.name);
    }
}

/// The first save after rollbacks follows the last rollback's target, however many came
/// without a save between them; and nothing once pruning dropped that target (and with it every
/// earlier checkpoint). PostgreSQL finds that parent through the execution's rollbacks.
#[test]
fn the_save_after_rollbacks_follows_the_last_target_or_nothing_once_it_is_pruned() {
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        let ids: Vec<u64> = (1..=6)
            .map(|i| exec.checkpoint(&format!("c{i}"), "{}").unwrap().id)
            .collect();
        let sp = |c: &wflo_core::CheckpointInfo| (c.sequence, c.parent_id);
        exec.rollback_to_checkpoint("c4").unwrap();
        exec.rollback_to_checkpoint("c2").unwrap();
        let x7 = exec.checkpoint("x7", "{}").unwrap();
        assert_eq!(sp(&x7), (7, Some(ids[1])), "{}", b.name);
        // Back to the same target again, past a save that followed it.
        exec.rollback_to_checkpoint("c2").unwrap();
        let x8 = exec.checkpoint("x8", "{}").unwrap();
        assert_eq!(sp(&x8), (8, Some(ids[1])), "{}", b.name);
        // Back to one before it: the later target (c2) is superseded now.
        exec.rollback_to_checkpoint("c1").unwrap();
        assert_eq!(
            sp(&exec.checkpoint("x9", "{}").unwrap()),
            (9, Some(ids[0])),
            "{}",
            b.name
        );
        // Back to c1, then prune to the two latest (x8, x9, both superseded): c1 is gone, and
        // with it every earlier checkpoint, so the next save has no parent.
        exec.rollback_to_checkpoint("c1").unwrap();
        exec.prune_checkpoints(2).unwrap();
        let left: Vec<_> = exec
            .checkpoints()
            .unwrap()
            .iter()
            .map(|c| (c.sequence, c.superseded))
            .collect();
        assert_eq!(left, [(8, true), (9, true)], "{}", b.name);
        assert_eq!(
            sp(&exec.checkpoint("x10", "{}").unwrap()),
            (10, None),
            "{}",
            b.name
        );
    });
}

/// Two processes (engines) recording calls of one execution at once: their numbers collide,
/// and the store numbers the later ones after the execution's last instead of dropping them.
#[test]
fn calls_recorded_at_once_from_two_engines_are_all_kept_with_their_spend() {
    for b in backends().into_iter().filter(|b| b.name != "memory") {
        let (one, two, exec) = at_once_from_two_engines(&b, |e, _| {
            for _ in 0..150 {
                e.reserve(&req(100, 10))
                    .unwrap()
                    .settle(usage(100, 10))
                    .unwrap();
            }
        });
        one.flush().unwrap();
        two.flush().unwrap();
        let calls = one.calls(exec.id()).unwrap();
        let mut seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!((calls.len(), seqs.len()), (300, 300), "{}", b.name);
        let stored = one.execution(exec.id()).unwrap();
        assert_eq!(stored.calls, 300, "{}", b.name);
        assert_eq!(stored.spent_nanos, 300 * 140_000, "{}", b.name);
    }
}

#[test]
fn a_new_engine_resumes_with_spend_and_the_latest_checkpoint() {
    for b in backends().into_iter().filter(|b| b.name != "memory") {
        let id = {
            let engine = engine(&b);
            let exec = engine.start_execution(opts(Some(3_000_000))).unwrap();
            exec.reserve(&req(1000, 250))
                .unwrap()
                .settle(Usage {
                    input: 1000,
                    output: 250,
                    ..Default::default()
                })
                .unwrap();
            exec.checkpoint("half", r#"{"done":1}"#).unwrap();
            exec.reserve(&req(100, 10))
                .unwrap()
                .settle(Usage {
                    input: 100,
                    output: 10,
                    ..Default::default()
                })
                .unwrap();
            let id = exec.id().to_owned();
            engine.close().unwrap();
            id
        };
        let engine = engine(&b);
        let again = engine.resume_execution(&id).unwrap();
        let breakdown = again.breakdown().unwrap();
        assert_eq!(breakdown.total_nanos, 2_000_000 + 140_000, "{}", b.name);
        assert_eq!(breakdown.calls, 2);
        assert_eq!(
            again.latest_checkpoint().unwrap().unwrap().1,
            r#"{"done":1}"#
        );
        assert_eq!(
            again.reserve(&req(1000, 250)).unwrap_err().code(),
            ErrorCode::BudgetExceeded
        );
        again
            .reserve(&req(100, 10))
            .unwrap()
            .settle(Usage {
                input: 100,
                output: 10,
                ..Default::default()
            })
            .unwrap();
        let calls = again.calls().unwrap();
        assert_eq!(
            calls.iter().map(|c| c.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "{}",
            b.name
        );
        let statuses: Vec<_> = calls.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                CallStatus::Ok,
                CallStatus::Ok,
                CallStatus::Refused,
                CallStatus::Ok
            ]
        );
    }
}

#[test]
fn shared_scopes_hold_across_engines_and_reclaim_expired_leases() {
    for_each_backend(|b| {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let one = engine_with_clock(b, clock.clone());
        // A memory store is private to one engine; the others share the database.
        let two = if b.name == "memory" {
            one.clone()
        } else {
            engine_with_clock(b, clock.clone())
        };
        let tenant = unique("tenant");
        // Per call: each reservation is booked in the store at once (allowances are tested in
        // shared_allowances.rs).
        common::define_per_call(&one, &tenant, Some(5_000_000), Period::Month);
        // Every engine on the store lists it (by name, in order), for `wflo serve`.
        let names = two.shared_scope_names().unwrap();
        assert!(names.contains(&tenant), "{names:?}");
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
        let shared = ExecutionOptions {
            shared_scopes: vec![tenant.clone()],
            ..opts(None)
        };
        let e1 = one.start_execution(shared.clone()).unwrap();
        let e2 = two.start_execution(shared.clone()).unwrap();
        let mut r1 = e1.reserve(&req(1000, 500)).unwrap(); // 3_000_000
        let refused = e2.reserve(&req(1000, 500)).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::BudgetExceeded, "{}", b.name);
        match refused {
            wflo_core::Error::BudgetExceeded(x) => {
                assert!(x.scope.starts_with(&format!("{tenant}@")), "{}", x.scope);
                assert_eq!((x.limit_nanos, x.reserved_nanos), (5_000_000, 3_000_000));
            }
            _ => unreachable!(),
        }
        r1.settle(Usage {
            input: 1000,
            output: 100,
            ..Default::default()
        })
        .unwrap(); // 1_400_000
        let mut r2 = e2.reserve(&req(1000, 500)).unwrap();
        let figures = two.shared_scope(&tenant).unwrap();
        assert_eq!(
            (figures.spent_nanos, figures.reserved_nanos),
            (1_400_000, 3_000_000),
            "{}",
            b.name
        );
        // r2's holder "dies": its lease ends. Its request may have been sent and billed, so the
        // next reservation CHARGES it (never returns it): 1_400_000 + 3_000_000 spent, and a
        // second 3_000_000 no longer fits.
        assert!(r2.renew().unwrap());
        clock.advance(1_001);
        let refused = e1.reserve(&req(1000, 500)).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::BudgetExceeded, "{}", b.name);
        let figures = one.shared_scope(&tenant).unwrap();
        assert_eq!(
            (figures.spent_nanos, figures.reserved_nanos),
            (4_400_000, 0),
            "{}: the expired lease was charged, not released",
            b.name
        );
        let unsettled: Vec<_> = two
            .calls(e2.id())
            .unwrap()
            .into_iter()
            .filter(|c| c.status == CallStatus::Unsettled)
            .collect();
        assert_eq!(unsettled.len(), 1, "{}", b.name);
        assert_eq!(unsettled[0].cost_nanos, 3_000_000, "{}", b.name);
        // The late settle of the charged reservation still books its spend, as an overrun.
        let late = r2
            .settle(Usage {
                input: 1000,
                output: 100,
                ..Default::default()
            })
            .unwrap();
        assert!(late.overrun_nanos > 0);
        let figures = one.shared_scope(&tenant).unwrap();
        assert_eq!(
            (figures.spent_nanos, figures.reserved_nanos),
            (5_800_000, 0),
            "{}",
            b.name
        );
        assert!(
            figures.refusing,
            "{}: an overrun makes the shared scope refuse",
            b.name
        );
        assert_eq!(
            e1.reserve(&req(1, 1)).unwrap_err().code(),
            ErrorCode::BudgetExceeded
        );
        // The books balance: every nano-USD spent on the scope is a recorded call's cost, and
        // no sequence number is used twice in e2 (its late call came after the charge's).
        one.flush().unwrap();
        two.flush().unwrap();
        let mut recorded = 0;
        for e in [&e1, &e2] {
            let calls = two.calls(e.id()).unwrap();
            let mut seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
            seqs.dedup();
            assert_eq!(seqs.len(), calls.len(), "{}: {seqs:?}", b.name);
            recorded += calls.iter().map(|c| c.cost_nanos).sum::<u64>();
        }
        assert_eq!(recorded, figures.spent_nanos, "{}", b.name);
        // An undefined shared scope is refused at start.
        let missing = ExecutionOptions {
            shared_scopes: vec![unique("nobody")],
            ..opts(None)
        };
        assert_eq!(
            one.start_execution(missing).unwrap_err().code(),
            ErrorCode::NotFound
        );
    });
}

#[test]
fn an_abandoned_shared_reservation_is_charged_recorded_and_credited_back() {
    for_each_backend(|b| {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let (one, two) = two_leasing_engines(b, clock.clone());
        let (tenant, global) = (unique("tenant"), unique("global"));
        common::define_per_call(&one, &tenant, Some(10_000_000), Period::None);
        common::define_per_call(&one, &global, Some(100_000_000), Period::Month);
        let shared = ExecutionOptions {
            shared_scopes: vec![tenant.clone(), global.clone()],
            ..opts(None)
        };
        let doomed = two.start_execution(shared.clone()).unwrap();
        doomed
            .reserve(&req(1000, 100))
            .unwrap()
            .settle(Usage {
                input: 1000,
                output: 100,
                ..Default::default()
            })
            .unwrap(); // 1_400_000
        // The holder dies mid-call: a reservation on both scopes, never settled.
        let held = doomed.reserve(&req(1000, 500)).unwrap(); // 3_000_000
        assert_eq!(held.amount_nanos(), 3_000_000);
        two.flush().unwrap();
        // One holder (this process: both engines are in it), named host:pid.
        let holders = one.shared_scope_holders(&tenant).unwrap();
        assert_eq!(holders.len(), 1, "{}: {holders:?}", b.name);
        assert!(
            holders[0].ends_with(&format!(":{}", std::process::id())),
            "{holders:?}"
        );
        std::mem::forget(held);
        // The suite's tests share one PostgreSQL server, and this clock runs ahead of theirs:
        // charging every expired lease there would charge their live reservations too. There,
        // a reservation on the scopes charges the leases it meets, as in a fleet; the private
        // stores are swept whole by `reclaim_expired`, whose count is exact.
        let sweep = |expected: u64, why: &str| {
            if b.name == "postgres" {
                let probe = one.start_execution(shared.clone()).unwrap();
                probe
                    .reserve(&req(1, 1))
                    .unwrap()
                    .release(CallStatus::Aborted, None)
                    .unwrap();
            } else {
                assert_eq!(
                    one.reclaim_expired().unwrap(),
                    expected,
                    "{}: {why}",
                    b.name
                );
            }
        };
        sweep(0, "nothing is charged before the lease ends");
        let f = one.shared_scope(&tenant).unwrap();
        assert_eq!((f.spent_nanos, f.reserved_nanos), (1_400_000, 3_000_000));
        clock.advance(1_001);
        assert!(one.shared_scope_holders(&tenant).unwrap().is_empty());
        // Charged once, whole, on every scope it was booked on; recorded once.
        sweep(1, "charged once");
        sweep(0, "charged twice");
        for scope in [&tenant, &global] {
            let f = one.shared_scope(scope).unwrap();
            assert_eq!(
                (f.spent_nanos, f.reserved_nanos, f.overrun_nanos, f.refusing),
                (4_400_000, 0, 0, false),
                "{}: {scope}",
                b.name
            );
        }
        let calls = one.calls(doomed.id()).unwrap();
        let statuses: Vec<_> = calls.iter().map(|c| (c.seq, c.status)).collect();
        assert_eq!(
            statuses,
            [(1, CallStatus::Ok), (2, CallStatus::Unsettled)],
            "{}",
            b.name
        );
        let unsettled = &calls[1];
        assert_eq!(
            (
                unsettled.cost_nanos,
                unsettled.reserved_nanos,
                unsettled.overrun_nanos
            ),
            (3_000_000, 3_000_000, 0),
            "{}",
            b.name
        );
        assert!(unsettled.usage_missing && unsettled.error.is_some());
        // The books balance, and the execution's stored spend and breakdown show it.
        let recorded: u64 = calls.iter().map(|c| c.cost_nanos).sum();
        assert_eq!(recorded, one.shared_scope(&tenant).unwrap().spent_nanos);
        let stored = one.execution(doomed.id()).unwrap();
        assert_eq!(
            (stored.spent_nanos, stored.calls),
            (4_400_000, 2),
            "{}",
            b.name
        );
        assert_eq!(one.breakdown(doomed.id()).unwrap().total_nanos, 4_400_000);
        // The engine that swept it counts it in its metrics.
        if b.name != "postgres" {
            let metrics = one.metrics_text();
            assert!(
                metrics.contains(r#"status="unsettled"} 1"#),
                "{}: {metrics}",
                b.name
            );
        }
        // The same execution resumed goes on after it: no sequence number used twice.
        let resumed = one
            .resume_execution_with(doomed.id(), &[tenant.clone(), global.clone()])
            .unwrap();
        resumed
            .reserve(&req(10, 10))
            .unwrap()
            .settle(Usage {
                input: 10,
                output: 10,
                ..Default::default()
            })
            .unwrap();
        one.flush().unwrap();
        let seqs: Vec<u64> = one
            .calls(doomed.id())
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(seqs, [1, 2, 3], "{}", b.name);
        let spent = one.shared_scope(&tenant).unwrap().spent_nanos;
        assert_eq!(spent, 4_450_000, "{}", b.name);

        // An operator who knows the dead call was never sent credits it back.
        let credit = one
            .credit_shared_scope(
                &tenant,
                3_000_000,
                "ops@example",
                "the worker died before sending",
            )
            .unwrap();
        assert_eq!(credit.key, tenant);
        assert_eq!(one.shared_scope(&tenant).unwrap().spent_nanos, 1_450_000);
        assert_eq!(
            one.shared_scope(&global).unwrap().spent_nanos,
            4_450_000,
            "{}: only the scope named is credited",
            b.name
        );
        let listed = two.shared_scope_credits(&tenant).unwrap();
        assert_eq!(listed.len(), 1, "{}", b.name);
        assert_eq!(
            (
                listed[0].amount_nanos,
                listed[0].by.as_str(),
                listed[0].reason.as_str(),
                listed[0].at_ms
            ),
            (
                3_000_000,
                "ops@example",
                "the worker died before sending",
                1_800_000_001_001
            ),
            "{}",
            b.name
        );
        assert!(two.shared_scope_credits(&global).unwrap().is_empty());
        // A credit never makes spend negative, and says who and why.
        for (amount, by, why) in [
            (1_450_001, "ops", "too much"),
            (0, "ops", "nothing"),
            (1, "", "nobody"),
            (1, "ops", " "),
        ] {
            assert_eq!(
                one.credit_shared_scope(&tenant, amount, by, why)
                    .unwrap_err()
                    .code(),
                ErrorCode::InvalidArgument,
                "{}: {amount} {by:?} {why:?}",
                b.name
            );
        }
        assert_eq!(one.shared_scope(&tenant).unwrap().spent_nanos, 1_450_000);
        assert_eq!(
            one.credit_shared_scope(&unique("nobody"), 1, "ops", "x")
                .unwrap_err()
                .code(),
            ErrorCode::NotFound
        );
    });
}

/// Two engines on one store with 1 s leases and the suite's prices.
fn two_leasing_engines(b: &Backend, clock: Arc<ManualClock>) -> (Engine, Engine) {
    let first = engine_with_clock(b, clock.clone());
    let second = if b.name == "memory" {
        Engine::new(EngineConfig {
            store: first.store().clone(),
            clock,
            lease_ms: 1000,
            ..EngineConfig::default()
        })
    } else {
        engine_with_clock(b, clock)
    };
    second.set_prices_json(SUITE_PRICES).unwrap();
    (first, second)
}

#[test]
fn a_refused_reservation_still_charges_the_expired_leases_it_met() {
    for_each_backend(|b| {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let (one, two) = two_leasing_engines(b, clock.clone());
        let tenant = unique("tenant");
        common::define_per_call(&one, &tenant, Some(5_000_000), Period::None);
        let shared = ExecutionOptions {
            shared_scopes: vec![tenant.clone()],
            ..opts(None)
        };
        let doomed = two.start_execution(shared.clone()).unwrap();
        std::mem::forget(doomed.reserve(&req(1000, 500)).unwrap()); // 3_000_000
        clock.advance(1_001);
        let e1 = one.start_execution(shared).unwrap();
        // 3_000_000 charged + 3_000_000 asked > 5_000_000: refused, and the charge stands.
        assert_eq!(
            e1.reserve(&req(1000, 500)).unwrap_err().code(),
            ErrorCode::BudgetExceeded
        );
        let f = one.shared_scope(&tenant).unwrap();
        assert_eq!(
            (f.spent_nanos, f.reserved_nanos),
            (3_000_000, 0),
            "{}",
            b.name
        );
        let calls = one.calls(doomed.id()).unwrap();
        assert_eq!(calls.len(), 1, "{}", b.name);
        assert_eq!(calls[0].status, CallStatus::Unsettled);
        if b.name != "postgres" {
            // (Not on the shared server: see the test above.)
            assert_eq!(one.reclaim_expired().unwrap(), 0, "{}", b.name);
        }
    });
}

#[test]
fn daily_scopes_start_again_each_utc_day() {
    for_each_backend(|b| {
        let clock = Arc::new(ManualClock::new(1_798_761_599_000)); // 2026-12-31T23:59:59Z
        let engine = engine_with_clock(b, clock.clone());
        let team = unique("team");
        engine
            .define_shared_scope(&team, Some(3_000_000), Period::Day)
            .unwrap();
        let exec = engine
            .start_execution(ExecutionOptions {
                shared_scopes: vec![team.clone()],
                ..opts(None)
            })
            .unwrap();
        exec.reserve(&req(1000, 500))
            .unwrap()
            .settle(Usage {
                input: 1000,
                output: 500,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            exec.reserve(&req(1, 1)).unwrap_err().code(),
            ErrorCode::BudgetExceeded
        );
        clock.advance(1_000);
        let figures = engine.shared_scope(&team).unwrap();
        assert_eq!(figures.key, format!("{team}@2027-01-01"), "{}", b.name);
        assert_eq!(figures.spent_nanos, 0);
        exec.reserve(&req(1000, 500)).unwrap();
    });
}

#[test]
fn bad_input_is_typed_and_loses_nothing() {
    for_each_backend(|b| {
        let engine = engine(b);
        let exec = engine.start_execution(opts(None)).unwrap();
        exec.checkpoint("good", r#"{"kept":true}"#).unwrap();
        exec.reserve(&req(10, 10))
            .unwrap()
            .settle(Usage {
                input: 10,
                output: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            exec.checkpoint("bad", "{nope").unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
        let oversize = format!("\"{}\"", "x".repeat(wflo_core::DEFAULT_MAX_STATE_BYTES));
        assert_eq!(
            exec.checkpoint("big", &oversize).unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            exec.rollback_to_checkpoint("never-saved")
                .unwrap_err()
                .code(),
            ErrorCode::NotFound
        );
        assert_eq!(
            engine
                .resume_execution("exec-ffffffffffff")
                .unwrap_err()
                .code(),
            ErrorCode::NotFound,
            "{}",
            b.name
        );
        assert_eq!(
            engine.execution("exec-ffffffffffff").unwrap_err().code(),
            ErrorCode::NotFound
        );
        assert_eq!(
            engine
                .define_shared_scope("", Some(1), Period::None)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            engine
                .define_shared_scope("a@b", Some(1), Period::None)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidArgument
        );
        assert_eq!(exec.checkpoints().unwrap().len(), 1, "{}", b.name);
        assert_eq!(
            exec.latest_checkpoint().unwrap().unwrap().1,
            r#"{"kept":true}"#
        );
        assert_eq!(exec.calls().unwrap().len(), 1);
    });
}

#[test]
fn unreachable_databases_are_storage_errors() {
    let err = Engine::open(Some("postgres://nobody@127.0.0.1:1/none")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    let err = Engine::open(Some("/proc/no/such/dir/wflo.db")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert_eq!(
        Engine::open(Some("mysql://x/y")).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn holders_are_listed_in_the_order_they_acquired_even_within_one_millisecond() {
    use wflo_core::resilience::LockConfig;
    for_each_backend(|b| {
        // The clock never moves: every hold is taken in the same millisecond.
        let engine = engine_with_clock(b, Arc::new(ManualClock::new(1_800_000_000_000)));
        let lock = engine
            .resource(
                &unique("pool"),
                LockConfig {
                    max_concurrent: 8,
                    ..LockConfig::default()
                },
            )
            .unwrap();
        let order = [
            "wf-c", "wf-a", "wf-h", "wf-b", "wf-g", "wf-d", "wf-f", "wf-e",
        ];
        let _permits: Vec<_> = order
            .iter()
            .map(|id| lock.acquire(id, Some(0)).unwrap())
            .collect();
        let listed: Vec<_> = lock
            .stats()
            .unwrap()
            .holders
            .iter()
            .map(|h| h.workflow_id.clone())
            .collect();
        assert_eq!(listed, order, "{}", b.name);
    });
}

#[test]
fn an_execution_keeps_its_approval_threshold_and_limits_in_every_store() {
    for_each_backend(|b| {
        let engine = engine(b);
        let agents: std::collections::BTreeMap<String, u64> = [
            ("researcher".to_owned(), 7),
            ("writer".to_owned(), u64::MAX / 4),
        ]
        .into();
        let x = engine
            .start_execution(ExecutionOptions {
                approval_above_nanos: Some(250_000_000),
                max_calls: Some(100),
                agent_budgets: agents.clone(),
                ..opts(None)
            })
            .unwrap();
        let plain = engine.start_execution(opts(None)).unwrap();
        x.finish(ExecutionStatus::Completed).unwrap();
        let again = engine.execution(x.id()).unwrap();
        assert_eq!(again.approval_above_nanos, Some(250_000_000), "{}", b.name);
        assert_eq!(
            (again.max_calls, &again.agent_budgets),
            (Some(100), &agents),
            "{}",
            b.name
        );
        let plain = engine.execution(plain.id()).unwrap();
        assert_eq!(
            (plain.approval_above_nanos, plain.max_calls),
            (None, None),
            "{}",
            b.name
        );
        assert!(plain.agent_budgets.is_empty());
    });
}

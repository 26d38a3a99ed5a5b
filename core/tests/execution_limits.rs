//! Limits an execution is started with and keeps in the store: a cap on its LLM calls
//! (`max_calls`, the original SDK's `max_iterations`) and each agent's own budget
//! (`agent_budgets`) — enforced before anything is reserved, and again after a resume from a
//! real SQLite file by a new engine.

use std::collections::BTreeMap;

use wflo_core::{
    CallRequest, CallStatus, Engine, ErrorCode, ExecutionOptions, RequestOptions, Usage,
    UsageFormat,
};

const MINI: CallRequest<'static> = CallRequest {
    model: "gpt-4o-mini",
    provider: None,
    input_tokens: 100,
    input_estimated: Some(false),
    max_output_tokens: Some(50),
    cache_write: wflo_core::CacheWrite::None,
    stream: false,
    clamp_max_tokens: false,
};

fn sqlite(dir: &tempfile::TempDir) -> Engine {
    let url = format!("sqlite://{}", dir.path().join("wflo.db").display());
    Engine::open(Some(&url)).unwrap()
}

fn settle_one(exec: &wflo_core::Execution) {
    exec.reserve(&MINI)
        .unwrap()
        .settle(Usage {
            input: 100,
            output: 10,
            ..Default::default()
        })
        .unwrap();
}

#[test]
fn max_calls_refuses_the_call_after_the_last_even_after_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let engine = sqlite(&dir);
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "capped".into(),
            max_calls: Some(3),
            ..Default::default()
        })
        .unwrap();
    settle_one(&exec);
    // A call refused for another reason does not use up the cap.
    let invalid = CallRequest {
        max_output_tokens: Some(0),
        ..MINI
    };
    assert_eq!(
        exec.reserve(&invalid).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    settle_one(&exec);
    let id = exec.id().to_owned();
    drop(exec);
    engine.close().unwrap();

    let engine = sqlite(&dir);
    assert_eq!(engine.execution(&id).unwrap().max_calls, Some(3));
    let exec = engine.resume_execution(&id).unwrap();
    settle_one(&exec);
    let e = exec.reserve(&MINI).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CallLimit);
    assert!(e.code().is_refusal());
    assert_eq!(
        e.to_string(),
        format!("execution {id} reached its limit of 3 LLM call(s): this call was not sent")
    );
    assert_eq!(e.to_json()["max_calls"], 3);
    let calls = exec.calls().unwrap();
    let statuses: Vec<CallStatus> = calls.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            CallStatus::Ok,
            CallStatus::Ok,
            CallStatus::Ok,
            CallStatus::Refused
        ]
    );
    assert_eq!(exec.breakdown().unwrap().reserved_nanos, 0);
    engine.close().unwrap();
}

#[test]
fn concurrent_calls_never_pass_the_cap() {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "capped-threads".into(),
            max_calls: Some(25),
            ..Default::default()
        })
        .unwrap();
    let ok = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10 {
                    match exec.reserve(&MINI) {
                        Ok(mut r) => {
                            r.settle(Usage::default()).unwrap();
                            ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) => assert_eq!(e.code(), ErrorCode::CallLimit),
                    }
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), 25);
}

fn budgets(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn chat(max_tokens: u64) -> String {
    format!(
        r#"{{"model": "gpt-4o", "max_tokens": {max_tokens}, "messages": [{{"role": "user", "content": "Research the market."}}]}}"#
    )
}

fn for_agent(name: &str) -> RequestOptions {
    RequestOptions {
        agent: Some(name.into()),
        ..Default::default()
    }
}

#[test]
fn an_agent_cannot_spend_another_agents_share_even_after_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let engine = sqlite(&dir);
    // gpt-4o output is $10 per million tokens: 1,000 tokens may cost $0.01.
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "crew".into(),
            budget_nanos: Some(1_000_000_000),
            agent_budgets: budgets(&[("researcher", 25_000_000), ("writer", 500_000_000)]),
            ..Default::default()
        })
        .unwrap();
    let made = exec
        .reserve_request(
            UsageFormat::OpenAiChat,
            &chat(1_000),
            &for_agent("researcher"),
        )
        .unwrap();
    let mut r = made.reservation;
    let settled = r
        .settle(Usage {
            input: 10,
            output: 1_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(&*settled.step, "agent:researcher");
    // $0.01 spent of $0.025: another $0.01 fits, a third does not.
    let second = exec
        .reserve_request(
            UsageFormat::OpenAiChat,
            &chat(1_000),
            &for_agent("researcher"),
        )
        .unwrap();
    let refused = exec
        .reserve_request(
            UsageFormat::OpenAiChat,
            &chat(1_000),
            &for_agent("researcher"),
        )
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::BudgetExceeded);
    assert!(
        refused.to_string().contains("'agent:researcher'"),
        "{refused}"
    );
    drop(second);
    // The writer goes on with its own share; an agent without one only has the execution's.
    exec.reserve_request(UsageFormat::OpenAiChat, &chat(1_000), &for_agent("writer"))
        .unwrap()
        .reservation
        .release(CallStatus::Aborted, None)
        .unwrap();
    exec.reserve_request(UsageFormat::OpenAiChat, &chat(1_000), &for_agent("critic"))
        .unwrap()
        .reservation
        .release(CallStatus::Aborted, None)
        .unwrap();
    let id = exec.id().to_owned();
    drop(exec);
    engine.close().unwrap();

    // A new engine resumes it: the researcher has spent its $0.01 already.
    let engine = sqlite(&dir);
    assert_eq!(
        engine.execution(&id).unwrap().agent_budgets,
        budgets(&[("researcher", 25_000_000), ("writer", 500_000_000)])
    );
    let exec = engine.resume_execution(&id).unwrap();
    let mut r = exec
        .reserve_request(
            UsageFormat::OpenAiChat,
            &chat(1_000),
            &for_agent("researcher"),
        )
        .unwrap()
        .reservation;
    r.settle(Usage {
        input: 10,
        output: 1_000,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        exec.reserve_request(
            UsageFormat::OpenAiChat,
            &chat(1_000),
            &for_agent("researcher")
        )
        .unwrap_err()
        .code(),
        ErrorCode::BudgetExceeded
    );
    assert_eq!(
        exec.agent("").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    engine.close().unwrap();
}

#[test]
fn execution_options_json_carries_both_limits() {
    let o = ExecutionOptions::with_json(
        "x",
        None,
        Some(r#"{"max_calls": 100, "agent_budgets": {"planner": 5000000}}"#),
    )
    .unwrap();
    assert_eq!(o.max_calls, Some(100));
    assert_eq!(o.agent_budgets, budgets(&[("planner", 5_000_000)]));
    assert!(RequestOptions::from_json(r#"{"agent": "planner"}"#).is_ok());
}

#[test]
fn a_call_asked_on_a_step_stays_on_the_step_and_its_budget_applies() {
    let engine = Engine::in_memory();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "agent-in-a-step".into(),
            agent_budgets: budgets(&[("researcher", 500_000_000)]),
            ..Default::default()
        })
        .unwrap();
    // The step allows less than one 1,000-token gpt-4o call ($0.01): the agent's larger share
    // must not let the call around it.
    let step = exec.scope("review", Some(5_000_000)).unwrap();
    let e = step
        .reserve_request(
            UsageFormat::OpenAiChat,
            &chat(1_000),
            &for_agent("researcher"),
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::BudgetExceeded);
    assert!(e.to_string().contains("'review'"), "{e}");
}

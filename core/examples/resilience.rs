//! Retries, a circuit breaker, a lock and an approval gate on one engine: every rule is the
//! engine's, the caller only runs its loop. `cargo run -p wflo-core --example resilience`.

use wflo_core::resilience::{
    ApprovalRequest, Decision, Failure, FailureKind, LockConfig, RetryPolicy,
};
use wflo_core::{CallStatus, Engine, ExecutionOptions, RequestOptions, UsageFormat};

fn main() -> wflo_core::Result<()> {
    // tour:start
    let engine = Engine::open(Some("memory://"))?;
    let exec = engine.start_execution(ExecutionOptions {
        name: "resilient".into(),
        budget_nanos: Some(50_000_000), // $0.05
        ..Default::default()
    })?;
    let body = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}"#;

    // A retried call: every attempt reserves first; the engine says whether and when to retry.
    let breaker = engine.breaker("openai", None)?;
    let mut retrier = engine.retrier(RetryPolicy {
        base_delay_ms: 10,
        ..Default::default()
    })?;
    let mut options = RequestOptions::default();
    let mut provider_answers = [
        Err(429),
        Ok(r#"{"usage": {"prompt_tokens": 9, "completion_tokens": 5}}"#),
    ]
    .into_iter();
    loop {
        breaker.check()?; // an open breaker refuses before anything is reserved
        let made = exec.reserve_request(UsageFormat::OpenAiChat, body, &options)?;
        let mut call = made.reservation; // send made.body to the provider here
        match provider_answers.next().unwrap() {
            Ok(response) => {
                call.settle_result(UsageFormat::OpenAiChat, response, CallStatus::Ok)?;
                breaker.record_success()?;
                break;
            }
            Err(status) => {
                call.release(CallStatus::Error, Some("429 Too Many Requests"))?;
                breaker.record_failure()?;
                let failure = Failure {
                    kind: FailureKind::Http,
                    status: Some(status),
                    headers: vec![("retry-after-ms".into(), "20".into())],
                    message: "429 Too Many Requests".into(),
                };
                match retrier.next(&failure, engine.now_ms()) {
                    Decision::Retry {
                        attempt,
                        delay_ms,
                        reason,
                    } => {
                        println!("retrying: {reason}");
                        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
                        options.attempt = Some(attempt);
                        options.retry_reason = Some(reason);
                    }
                    Decision::GiveUp { reason, .. } => panic!("gave up: {reason}"),
                }
            }
        }
    }

    // A lock shared by every process on the store; released when the permit drops.
    let lock = engine.resource("search-index", LockConfig::default())?;
    {
        let _permit = lock.acquire(exec.id(), None)?;
        println!(
            "holding the index ({} acquisition so far)",
            lock.stats()?.acquisitions
        );
    }

    // An approval gate: the workflow waits until a person decides (here, another thread;
    // in production `wflo approve ID` or the Approvals page of `wflo serve`).
    let gate = ApprovalRequest {
        gate: "publish".into(),
        why: "emails customers".into(),
        ..Default::default()
    };
    let pending = exec.request_approval(&gate)?;
    let decider = engine.clone();
    std::thread::spawn(move || decider.decide_approval(&pending.id, true, Some("ana"), None));
    let approved = exec.require_approval(&gate)?;
    println!("approved by {}", approved.decided_by.unwrap_or_default());

    for call in exec.calls()? {
        println!(
            "call #{} attempt {}: {} ${}",
            call.seq,
            call.attempt,
            call.status.as_str(),
            wflo_core::money::format_usd(call.cost_nanos)
        );
    }
    // tour:end
    Ok(())
}

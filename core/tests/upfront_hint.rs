//! A call a tracking decorator reserves up front (request option `upfront`) is refused with
//! one wording in every face: how it was sized and how to have it budgeted from its actual
//! request. The same call without the option is refused without it.

use wflo_core::{Engine, ErrorCode, ExecutionOptions, RequestOptions, UsageFormat};

fn refusal(body: &str, upfront: bool) -> (String, String) {
    let engine = Engine::open(Some("memory://")).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "tracked".into(),
            budget_nanos: Some(10_000_000), // $0.01
            ..Default::default()
        })
        .unwrap();
    let options = RequestOptions {
        upfront,
        ..Default::default()
    };
    let err = exec
        .reserve_request(UsageFormat::LangChain, body, &options)
        .map(|_| ())
        .expect_err("the call must be refused");
    assert_eq!(err.code(), ErrorCode::BudgetExceeded);
    let recorded = exec.calls().unwrap()[0].error.clone().unwrap().to_string();
    (err.to_string(), recorded)
}

#[test]
fn an_upfront_refusal_says_how_it_was_sized_and_how_to_be_precise() {
    let body = r#"{"model":"gpt-4o","input":"Summarise the report."}"#;
    let (message, recorded) = refusal(body, true);
    assert!(
        message.contains(
            "reserved the model's maximum output (16384 tokens), as no max_tokens was given"
        ),
        "{message}"
    );
    assert!(
        message.contains("make the call through a client wflo meters"),
        "{message}"
    );
    assert!(
        message.ends_with("or give the tracker max_tokens]"),
        "{message}"
    );
    // The call's record carries the same words (wflo show, the report).
    assert_eq!(recorded, message);

    let sized = r#"{"model":"gpt-4o","input":"Summarise the report.","max_tokens":5000}"#;
    let (message, _) = refusal(sized, true);
    assert!(
        message.contains("reserved max_tokens=5000 of output"),
        "{message}"
    );
    assert!(
        message.ends_with("or give the tracker a smaller max_tokens]"),
        "{message}"
    );
}

#[test]
fn a_request_the_caller_saw_is_refused_without_the_hint() {
    let (message, recorded) = refusal(
        r#"{"model":"gpt-4o","input":"Summarise the report."}"#,
        false,
    );
    assert!(!message.contains("reserved up front"), "{message}");
    assert!(!recorded.contains("reserved up front"), "{recorded}");
}

//! The quick tour from Rust: start an execution, track calls, hit the budget, checkpoint,
//! roll back, print the breakdown. The README's Rust snippet is the part between the
//! `tour:start` and `tour:end` markers (tests/readme_snippets.py keeps them equal).
//!
//! Run: `cargo run -p wflo-core --example quick_tour`

use wflo_core::{CallRequest, Engine, Error, ExecutionOptions, UsageFormat, money};

fn main() -> Result<(), Error> {
    // tour:start
    let engine = Engine::in_memory();
    let exec = engine.start_execution(ExecutionOptions {
        name: "research-agent".into(),
        budget_nanos: Some(money::parse_usd("0.01")?), // $0.01
        ..Default::default()
    })?;
    let search = exec.scope("search", None)?;

    // Count the prompt, reserve the worst case BEFORE the request leaves the process…
    let messages = r#"[{"role":"user","content":"Find three papers on BPE tokenizers."}]"#;
    let prompt = engine.count_chat_tokens("gpt-4o-mini", messages)?;
    let mut call = search.reserve(&CallRequest {
        model: "gpt-4o-mini",
        input_tokens: prompt.tokens,
        max_output_tokens: Some(400),
        ..Default::default()
    })?;
    // …send it, then settle with the usage the provider reported.
    let response = r#"{"usage":{"prompt_tokens":21,"completion_tokens":180,
                       "prompt_tokens_details":{"cached_tokens":0}}}"#;
    let record = call.settle_json(UsageFormat::OpenAiChat, response)?;
    println!("call cost ${}", money::format_usd(record.cost_nanos));
    exec.checkpoint("searched", r#"{"papers": ["a", "b", "c"]}"#)?;

    // A call that could overspend is refused before anything is sent.
    let big = CallRequest {
        model: "gpt-4o",
        input_tokens: 3000,
        max_output_tokens: Some(4000),
        ..Default::default()
    };
    match exec.scope("write", None)?.reserve(&big) {
        Err(Error::BudgetExceeded(e)) => println!(
            "refused: needs up to ${}, ${} of ${} left",
            money::format_usd(e.requested_nanos),
            money::format_usd(e.limit_nanos - e.spent_nanos - e.reserved_nanos),
            money::format_usd(e.limit_nanos)
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Roll back to the last good state and look at where the money went.
    let state = exec.rollback_to_checkpoint("searched")?;
    println!("rolled back to {state}");
    let b = exec.breakdown()?;
    println!(
        "total ${} of ${}, {} call(s), {} refused",
        money::format_usd(b.total_nanos),
        money::format_usd(b.budget_nanos.unwrap_or(0)),
        b.calls,
        b.refused_calls
    );
    // tour:end
    assert_eq!((b.calls, b.refused_calls), (1, 1));
    assert_eq!(b.total_nanos, record.cost_nanos);
    Ok(())
}

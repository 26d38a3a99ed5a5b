//! `wflo demo`: a small research agent run through the engine on the embedded SQLite store,
//! against the built-in mock LLM server — tracked calls on two models, a checkpoint after each
//! step, a step refused BEFORE its call because it could overspend, a rollback to the last
//! good checkpoint, the breakdown, and an HTML report.

use wflo_core::money::{format_usd, parse_usd};
use wflo_core::{ExecutionOptions, ExecutionStatus};

use crate::Db;
use crate::inspect::{CliResult, engine};
use crate::mock::MockServer;
use crate::provider::{Api, CallError, Endpoint, call};
use crate::terminal::escape;

struct Step {
    label: &'static str,
    api: Api,
    model: &'static str,
    prompt: &'static str,
    max_tokens: u64,
    calls: usize,
}

const STEPS: [Step; 5] = [
    Step {
        label: "plan",
        api: Api::OpenAiChat,
        model: "gpt-4o-mini",
        prompt: "Plan a short survey of byte-pair encoding tokenizers.",
        max_tokens: 300,
        calls: 1,
    },
    Step {
        label: "research",
        api: Api::OpenAiChat,
        model: "gpt-4o-mini",
        prompt: "Summarise one paper on BPE tokenizers in three sentences.",
        max_tokens: 400,
        calls: 3,
    },
    Step {
        label: "analyse",
        api: Api::AnthropicMessages,
        model: "claude-sonnet-4-6",
        prompt: "Compare the three summaries and list the open questions.",
        max_tokens: 300,
        calls: 2,
    },
    Step {
        label: "outline",
        api: Api::OpenAiChat,
        model: "gpt-4o-mini",
        prompt: "Outline the survey in five headings.",
        max_tokens: 200,
        calls: 1,
    },
    Step {
        label: "write",
        api: Api::AnthropicMessages,
        model: "claude-sonnet-4-6",
        prompt: "Write the full survey, with examples and citations.",
        max_tokens: 8000,
        calls: 1,
    },
];

fn mock_requests(server: Option<&MockServer>) -> u64 {
    server
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s.stats_json()).ok())
        .and_then(|v| v.get("total").and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

pub fn run(db: &Db, report: Option<&str>, live: bool) -> CliResult {
    let engine = engine(db)?;
    let (server, endpoint) = if live {
        let key = std::env::var("OPENAI_API_KEY")
            .map_err(|_| "--live needs OPENAI_API_KEY".to_string())?;
        (
            None,
            Endpoint {
                openai_base: "https://api.openai.com/v1".into(),
                anthropic_base: String::new(),
                api_key: key,
            },
        )
    } else {
        let server = MockServer::start("127.0.0.1", 0, false)
            .map_err(|e| format!("cannot start the mock server: {e}"))?;
        let endpoint = Endpoint {
            openai_base: server.openai_base_url(),
            anthropic_base: server.anthropic_base_url(),
            api_key: "mock-key".into(),
        };
        (Some(server), endpoint)
    };
    let budget = parse_usd("0.01").map_err(|e| e.to_string())?;
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "demo-research-agent".into(),
            budget_nanos: Some(budget),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    println!(
        "wflo demo: execution {} with a budget of ${}",
        exec.id(),
        format_usd(budget)
    );
    match &server {
        Some(s) => println!(
            "  LLM: built-in mock server at http://{} (no API key needed)",
            s.addr()
        ),
        None => println!("  LLM: the real OpenAI API (--live)"),
    }
    println!("  store: {}\n", engine.store().kind());
    let total = STEPS.len() + 2;
    let mut n = 0;
    for step in &STEPS {
        n += 1;
        // In live mode every step goes to OpenAI.
        let (api, model) = if live {
            (Api::OpenAiChat, "gpt-4o-mini")
        } else {
            (step.api, step.model)
        };
        let scope = exec.scope(step.label, None).map_err(|e| e.to_string())?;
        let before = mock_requests(server.as_ref());
        let mut spent = 0;
        for _ in 0..step.calls {
            match call(
                &scope,
                &endpoint,
                api,
                model,
                step.prompt,
                step.max_tokens,
                false,
            ) {
                Ok(answer) => spent += answer.record.cost_nanos,
                Err(CallError::Engine(wflo_core::Error::BudgetExceeded(b))) => {
                    let sent = mock_requests(server.as_ref()) - before;
                    println!(
                        "[{n}/{total}] {:<9} {model:<18} REFUSED before sending: needs up to ${}, only ${} left ({sent} request(s) reached the provider)",
                        step.label,
                        format_usd(b.requested_nanos),
                        format_usd(
                            b.limit_nanos
                                .saturating_sub(b.spent_nanos + b.reserved_nanos)
                        ),
                    );
                    if sent != 0 {
                        return Err("a refused call reached the provider".into());
                    }
                    return finish(
                        &engine,
                        &exec,
                        server.as_ref(),
                        &endpoint,
                        report,
                        n,
                        total,
                        live,
                    );
                }
                Err(e) => return Err(format!("step {}: {e}", step.label)),
            }
        }
        let cp = exec
            .checkpoint(
                &format!("after-{}", step.label),
                &format!(r#"{{"step":"{}","calls":{}}}"#, step.label, step.calls),
            )
            .map_err(|e| e.to_string())?;
        println!(
            "[{n}/{total}] {:<9} {model:<18} {} call(s)  ${:<12} checkpoint #{} '{}'",
            step.label,
            step.calls,
            format_usd(spent),
            cp.sequence,
            cp.name
        );
    }
    Err("the demo's last step was expected to be refused".into())
}

#[allow(clippy::too_many_arguments)]
fn finish(
    engine: &wflo_core::Engine,
    exec: &wflo_core::Execution,
    server: Option<&MockServer>,
    endpoint: &Endpoint,
    report: Option<&str>,
    mut n: usize,
    total: usize,
    live: bool,
) -> CliResult {
    n += 1;
    // The outline was made for the long survey: go back to before it.
    let state = exec
        .rollback_to_checkpoint("after-analyse")
        .map_err(|e| e.to_string())?;
    let superseded = exec
        .rollbacks()
        .map_err(|e| e.to_string())?
        .last()
        .map_or(0, |r| r.superseded);
    println!(
        "[{n}/{total}] rollback  to checkpoint 'after-analyse' {state}; {superseded} later checkpoint(s) kept as history"
    );
    n += 1;
    // Retry the write step within what is left: the clamp policy lowers max_tokens to fit.
    let (api, model) = if live {
        (Api::OpenAiChat, "gpt-4o-mini")
    } else {
        (Api::AnthropicMessages, "claude-sonnet-4-6")
    };
    let scope = exec.scope("write", None).map_err(|e| e.to_string())?;
    let answer = call(
        &scope,
        endpoint,
        api,
        model,
        "Write a one-paragraph summary instead.",
        8000,
        true,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "[{n}/{total}] {:<9} {model:<18} 1 call(s)  ${:<12} max_tokens clamped to what the budget allows: \"{}…\"",
        "write",
        format_usd(answer.record.cost_nanos),
        escape(&answer.text.chars().take(40).collect::<String>())
    );
    exec.checkpoint("after-write", r#"{"step":"write","summary":true}"#)
        .map_err(|e| e.to_string())?;
    exec.finish(ExecutionStatus::Completed)
        .map_err(|e| e.to_string())?;
    let b = exec.breakdown().map_err(|e| e.to_string())?;
    println!(
        "\nspent ${} of ${} ({} calls, {} refused; remaining ${})",
        format_usd(b.total_nanos),
        format_usd(b.budget_nanos.unwrap_or(0)),
        b.calls,
        b.refused_calls,
        format_usd(b.remaining_nanos.unwrap_or(0))
    );
    for m in &b.by_model {
        println!(
            "  {:<22} {:>3} calls  ${}",
            escape(&m.model),
            m.calls,
            format_usd(m.cost_nanos)
        );
    }
    if let Some(s) = server {
        println!("mock server requests: {}", s.stats_json());
    }
    engine.flush().map_err(|e| e.to_string())?;
    let default_path = format!("wflo-report-{}.html", exec.id());
    let path = report.unwrap_or(&default_path);
    let data = crate::report::ReportData::load(engine, exec.id())?;
    std::fs::write(path, crate::report::render(&data))
        .map_err(|e| format!("cannot write {path}: {e}"))?;
    println!("\nHTML report: {path}");
    println!("see it again: wflo show {}", exec.id());
    Ok(())
}

//! `wflo demo`: a small research agent run through the engine on the embedded SQLite store,
//! against the built-in mock LLM server — tracked calls on two models, a checkpoint after each
//! step, a step refused BEFORE its call because it could overspend, a rollback to the last
//! good checkpoint, the breakdown, and an HTML report.

use std::path::PathBuf;

use serde_json::{Value, json};
use wflo_core::money::{format_usd, parse_usd};
use wflo_core::store::StoreUrl;
use wflo_core::{CheckpointInfo, ExecutionOptions, ExecutionStatus};

use crate::exit::CliError;
use crate::inspect::{CliResult, engine, print_json};
use crate::mock::MockServer;
use crate::provider::{Api, CallError, Endpoint, call};
use crate::terminal::escape;
use crate::{Db, Output, checkpoint_ref};

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

/// A failed call as the command's error: the engine's keeps its exit code.
fn call_error(e: CallError, step: &str) -> CliError {
    match e {
        CallError::Engine(e) => CliError::from(e).context(&format!("step {step}")),
        CallError::Provider(_) => CliError::other(format!("step {step}: {e}")),
    }
}

/// The directory of the SQLite database file the demo writes to; `None` for the in-process
/// store, an in-memory SQLite database and PostgreSQL (the report then goes to the current
/// directory). The URL is found as the engine finds it: `--db`, `WFLO_DATABASE_URL`,
/// `DATABASE_URL`, the default SQLite file.
fn database_dir(db: &Db) -> Option<PathBuf> {
    let url = db
        .db
        .clone()
        .unwrap_or_else(wflo_core::store::store_url_from_env);
    match StoreUrl::parse(&url).ok()? {
        StoreUrl::Sqlite { path, .. } if path != ":memory:" => {
            Some(PathBuf::from(path).parent()?.to_path_buf())
        }
        _ => None,
    }
}

/// Where the report goes when `--report` is not given: `wflo-report-EXEC_ID.html` next to the
/// SQLite database file, else in the current directory.
pub fn default_report_path(db: &Db, execution_id: &str) -> PathBuf {
    let file = format!("wflo-report-{execution_id}.html");
    match database_dir(db) {
        Some(dir) => dir.join(file),
        None => PathBuf::from(file),
    }
}

/// What the demo tells: lines for a person as it goes, or (with `--json`) one document at the
/// end for a machine.
struct Story {
    json: bool,
    steps: Vec<Value>,
}

impl Story {
    fn say(&self, line: &str) {
        if !self.json {
            println!("{line}");
        }
    }
}

fn checkpoint_json(c: &CheckpointInfo) -> Value {
    json!({
        "id": c.id, "sequence": c.sequence, "name": c.name,
        "ref": checkpoint_ref::full(&c.execution_id, c.sequence)
    })
}

pub fn run(db: &Db, report: Option<&str>, live: bool, out: &Output) -> CliResult {
    let engine = engine(db)?;
    let mut story = Story {
        json: out.json,
        steps: Vec::new(),
    };
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
    let budget = parse_usd("0.01")?;
    let exec = engine.start_execution(ExecutionOptions {
        name: "demo-research-agent".into(),
        budget_nanos: Some(budget),
        ..Default::default()
    })?;
    story.say(&format!(
        "wflo demo: execution {} with a budget of ${}",
        exec.id(),
        format_usd(budget)
    ));
    match &server {
        Some(s) => story.say(&format!(
            "  LLM: built-in mock server at http://{} (no API key needed)",
            s.addr()
        )),
        None => story.say("  LLM: the real OpenAI API (--live)"),
    }
    story.say(&format!("  store: {}\n", engine.store().kind()));
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
        let scope = exec.scope(step.label, None)?;
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
                    let left = b
                        .limit_nanos
                        .saturating_sub(b.spent_nanos + b.reserved_nanos);
                    story.say(&format!(
                        "[{n}/{total}] {:<9} {model:<18} REFUSED before sending: needs up to ${}, only ${} left ({sent} request(s) reached the provider)",
                        step.label,
                        format_usd(b.requested_nanos),
                        format_usd(left),
                    ));
                    story.steps.push(json!({
                        "step": step.label, "model": model, "outcome": "refused",
                        "requested_nanos": b.requested_nanos, "left_nanos": left,
                        "requests_sent": sent
                    }));
                    if sent != 0 {
                        return Err("a refused call reached the provider".into());
                    }
                    let mut context = Finish {
                        engine: &engine,
                        exec: &exec,
                        server: server.as_ref(),
                        endpoint: &endpoint,
                        db,
                        report,
                        total,
                        live,
                    };
                    return context.finish(&mut story, n);
                }
                Err(e) => return Err(call_error(e, step.label)),
            }
        }
        let cp = exec.checkpoint(
            &format!("after-{}", step.label),
            &format!(r#"{{"step":"{}","calls":{}}}"#, step.label, step.calls),
        )?;
        story.say(&format!(
            "[{n}/{total}] {:<9} {model:<18} {} call(s)  ${:<12} checkpoint #{} '{}'",
            step.label,
            step.calls,
            format_usd(spent),
            cp.sequence,
            cp.name
        ));
        story.steps.push(json!({
            "step": step.label, "model": model, "outcome": "ok", "calls": step.calls,
            "cost_nanos": spent, "checkpoint": checkpoint_json(&cp)
        }));
    }
    Err("the demo's last step was expected to be refused".into())
}

/// What the end of the demo needs.
struct Finish<'a> {
    engine: &'a wflo_core::Engine,
    exec: &'a wflo_core::Execution,
    server: Option<&'a MockServer>,
    endpoint: &'a Endpoint,
    db: &'a Db,
    report: Option<&'a str>,
    total: usize,
    live: bool,
}

impl Finish<'_> {
    fn finish(&mut self, story: &mut Story, mut n: usize) -> CliResult {
        let (exec, total) = (self.exec, self.total);
        n += 1;
        // The outline was made for the long survey: go back to before it.
        let state = exec.rollback_to_checkpoint("after-analyse")?;
        let rollback = exec.rollbacks()?.last().cloned();
        let superseded = rollback.as_ref().map_or(0, |r| r.superseded);
        let checkpoints = exec.checkpoints()?;
        let target = rollback
            .as_ref()
            .and_then(|r| r.checkpoint_id)
            .and_then(|id| checkpoints.iter().find(|c| c.id == id));
        story.say(&format!(
            "[{n}/{total}] rollback  to checkpoint {}'after-analyse' {state}; {superseded} later checkpoint(s) kept as history",
            target.map_or(String::new(), |c| format!("#{} ", c.sequence))
        ));
        story.steps.push(json!({
            "step": "rollback", "outcome": "rolled_back",
            "checkpoint": target.map(checkpoint_json), "superseded": superseded
        }));
        n += 1;
        // Retry the write step within what is left: the clamp policy lowers max_tokens to fit.
        let (api, model) = if self.live {
            (Api::OpenAiChat, "gpt-4o-mini")
        } else {
            (Api::AnthropicMessages, "claude-sonnet-4-6")
        };
        let scope = exec.scope("write", None)?;
        let answer = call(
            &scope,
            self.endpoint,
            api,
            model,
            "Write a one-paragraph summary instead.",
            8000,
            true,
        )
        .map_err(|e| call_error(e, "write"))?;
        story.say(&format!(
            "[{n}/{total}] {:<9} {model:<18} 1 call(s)  ${:<12} max_tokens clamped to what the budget allows: \"{}…\"",
            "write",
            format_usd(answer.record.cost_nanos),
            escape(&answer.text.chars().take(40).collect::<String>())
        ));
        let cp = exec.checkpoint("after-write", r#"{"step":"write","summary":true}"#)?;
        story.steps.push(json!({
            "step": "write", "model": model, "outcome": "ok", "calls": 1,
            "cost_nanos": answer.record.cost_nanos, "clamped": true,
            "checkpoint": checkpoint_json(&cp)
        }));
        exec.finish(ExecutionStatus::Completed)?;
        let b = exec.breakdown()?;
        story.say(&format!(
            "\nspent ${} of ${} ({} calls, {} refused; remaining ${})",
            format_usd(b.total_nanos),
            format_usd(b.budget_nanos.unwrap_or(0)),
            b.calls,
            b.refused_calls,
            format_usd(b.remaining_nanos.unwrap_or(0))
        ));
        for m in &b.by_model {
            story.say(&format!(
                "  {:<22} {:>3} calls  ${}",
                escape(&m.model),
                m.calls,
                format_usd(m.cost_nanos)
            ));
        }
        if let Some(s) = self.server {
            story.say(&format!("mock server requests: {}", s.stats_json()));
        }
        self.engine.flush()?;
        let path = match self.report {
            Some(p) => PathBuf::from(p),
            None => default_report_path(self.db, exec.id()),
        };
        let shown = path.display().to_string();
        let data = crate::report::ReportData::load(self.engine, exec.id())?;
        std::fs::write(&path, crate::report::render(&data))
            .map_err(|e| format!("cannot write {shown}: {e}"))?;
        if story.json {
            let mock = self
                .server
                .and_then(|s| serde_json::from_str::<Value>(&s.stats_json()).ok());
            return print_json(&json!({
                "execution_id": exec.id(),
                "store": self.engine.store().kind(),
                "llm": if self.live { "openai" } else { "mock" },
                "budget_nanos": b.budget_nanos,
                "steps": story.steps,
                "breakdown": b,
                "mock_requests": mock,
                "report": shown,
            }));
        }
        story.say(&format!("\nHTML report: {}", escape(&shown)));
        story.say(&format!("see it again: wflo show {}", exec.id()));
        story.say(&format!(
            "its checkpoints: wflo checkpoints {} (one of them: wflo checkpoints {})",
            exec.id(),
            checkpoint_ref::full(exec.id(), cp.sequence)
        ));
        Ok(())
    }
}

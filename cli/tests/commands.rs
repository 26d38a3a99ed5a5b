//! Every subcommand run as a process, its happy path and its error paths: errors are one line
//! on stderr and a non-zero exit.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;

use common::{json, ok, wflo};

/// Fails with exactly one line on stderr that contains `needle`.
fn fails(args: &[&str], needle: &str) {
    let out = wflo(args);
    assert!(!out.status.success(), "wflo {args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(err.contains(needle), "'{needle}' not in: {err}");
}

#[test]
fn price_shows_the_resolution_and_every_price() {
    let out = ok(&["price", "openai/gpt-4o-2099-01-01"]);
    assert!(out.contains("→ gpt-4o"), "{out}");
    assert!(
        out.contains("$2.5") && out.contains("$10") && out.contains("$1.25"),
        "{out}"
    );
    let j = json(&["price", "gemini-2.5-pro", "--json"]);
    assert_eq!(j["resolved"], "gemini-2.5-pro");
    assert_eq!(j["price"]["tiers"][0]["above"], 200000);
    fails(
        &["price", "gpt-4o-mimi"],
        "unknown model 'gpt-4o-mimi'; did you mean gpt-4o-mini",
    );
    fails(&["price", " "], "model name must not be empty");
}

#[test]
fn models_lists_by_provider() {
    let out = ok(&["models", "--provider", "anthropic"]);
    assert!(out.contains("claude-sonnet-4-6"));
    assert!(!out.contains("gpt-4o "));
    let all = json(&["models", "--json"]);
    assert!(all.as_array().unwrap().len() > 4000);
    fails(&["models", "--provider", "no-such-provider"], "no models");
}

#[test]
fn cost_prices_disjoint_token_counts() {
    // 800 plain input + 200 cached = a 1,000-token prompt.
    let j = json(&[
        "cost",
        "--model",
        "gpt-4o",
        "--input-tokens",
        "800",
        "--cache-read-tokens",
        "200",
        "--output-tokens",
        "300",
        "--json",
    ]);
    assert_eq!(j["cost_nanos"], 5_250_000);
    let out = ok(&[
        "cost",
        "--model",
        "claude-sonnet-4-6",
        "--input-tokens",
        "1000",
        "--cache-write-tokens",
        "1000",
        "--cache-write-1h-tokens",
        "1000",
    ]);
    // 1000*3 + 1000*3.75 + 1000*6 per million = $0.01275
    assert!(out.contains("$0.01275"), "{out}");
    fails(
        &["cost", "--model", "nope-model-x", "--input-tokens", "1"],
        "unknown model",
    );
    fails(
        &[
            "cost",
            "--model",
            "gpt-4o",
            "--input-tokens",
            "99999999999999999",
        ],
        "larger than the maximum",
    );
    let out = wflo(&["cost", "--model", "gpt-4o", "--input-tokens", "-5"]);
    assert!(!out.status.success());
}

#[test]
fn tokens_counts_files_stdin_and_chats() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.txt");
    std::fs::write(&file, "Hello, world!").unwrap();
    let j = json(&[
        "tokens",
        "--model",
        "gpt-4o",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(j["tokens"], 4);
    assert_eq!(j["estimated"], false);
    let mut child = Command::new(env!("CARGO_BIN_EXE_wflo"))
        .args(["tokens", "--model", "claude-sonnet-4-6", "--chat", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"[{"role":"user","content":"Hello, world!"}]"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        j["tokens"],
        3 + 1 + 4 + 3,
        "message overhead + role + text + priming"
    );
    assert_eq!(j["estimated"], true);
    fails(
        &["tokens", "--model", "gpt-4o", "/no/such/file"],
        "cannot read /no/such/file",
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    fails(
        &[
            "tokens",
            "--model",
            "gpt-4o",
            "--chat",
            bad.to_str().unwrap(),
        ],
        "not valid JSON",
    );
}

#[test]
fn the_demo_runs_and_the_store_can_be_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let report = dir.path().join("report.html");
    let out = ok(&[
        "demo",
        "--db",
        db.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.contains("REFUSED before sending"), "{out}");
    assert!(out.contains("(0 request(s) reached the provider)"), "{out}");
    assert!(report.exists());
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("exec-"))
        .unwrap()
        .to_owned();
    let dbs = db.to_str().unwrap();

    let list = json(&["executions", "--db", dbs, "--json"]);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "completed");
    assert!(ok(&["executions", "--db", dbs]).contains(&id));

    let shown = json(&["show", &id, "--db", dbs, "--json"]);
    let calls = shown["calls"].as_array().unwrap();
    let refused: Vec<&Value> = calls.iter().filter(|c| c["status"] == "refused").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0]["cost_nanos"], 0,
        "the refused step spent nothing"
    );
    let total: u64 = calls
        .iter()
        .map(|c| c["cost_nanos"].as_u64().unwrap())
        .sum();
    assert_eq!(shown["breakdown"]["total_nanos"], total);
    assert_eq!(shown["rollbacks"].as_array().unwrap().len(), 1);
    let table = ok(&["show", &id, "--db", dbs]);
    assert!(
        table.contains("by model")
            && table.contains("claude-sonnet-4-6")
            && table.contains("rolled back to 'after-analyse'")
    );

    let cps = json(&["checkpoints", &id, "--db", dbs, "--json"]);
    let superseded = cps
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["superseded"] == true)
        .count();
    assert_eq!(superseded, 1);
    assert!(ok(&["checkpoints", &id, "--db", dbs]).contains("after-outline"));

    let html = dir.path().join("again.html");
    assert!(
        ok(&["report", &id, "--html", html.to_str().unwrap(), "--db", dbs])
            .contains("report written")
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains(&id));

    fails(
        &["show", "exec-ffffffffffff", "--db", dbs],
        "not found: execution exec-ffffffffffff",
    );
    fails(
        &["show", "not-an-id", "--db", dbs],
        "is not an execution id",
    );
    fails(
        &["checkpoints", "exec-ffffffffffff", "--db", dbs],
        "not found",
    );
    fails(
        &[
            "report",
            "exec-ffffffffffff",
            "--html",
            "/tmp/x.html",
            "--db",
            dbs,
        ],
        "not found",
    );
}

#[test]
fn unreachable_stores_are_one_line_errors() {
    fails(
        &["executions", "--db", "postgres://nobody@127.0.0.1:1/none"],
        "cannot connect to PostgreSQL",
    );
    fails(
        &["executions", "--db", "mysql://x/y"],
        "unsupported database URL scheme",
    );
    fails(
        &["executions", "--db", "/proc/nope/wflo.db"],
        "storage error",
    );
}

#[test]
fn the_mock_server_starts_on_a_free_port_and_only_on_loopback() {
    let (mut child, url) = common::mock_llm();
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let mut resp = ureq::post(&format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    let j: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(j["usage"]["prompt_tokens"], 8);
    let stats: Value = serde_json::from_str(
        &ureq::get(&format!("{url}/__mock/stats"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats["chat.completions"], 1);
    child.kill().unwrap();
    child.wait().unwrap();
    fails(
        &["mock-llm", "--port", "0", "--host", "0.0.0.0"],
        "binds to loopback only",
    );
    fails(
        &["mock-llm", "--port", "0", "--host", "example.com"],
        "is not an IP address",
    );
}

/// Retried attempts recorded by the engine show in `wflo show` (the attempt, and why it was
/// retried) and in the HTML report.
#[test]
fn show_and_report_tell_retried_attempts_apart() {
    use wflo_core::resilience::{Decision, Failure, FailureKind, RetryPolicy};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retries.db");
    let dbs = db.to_str().unwrap();
    let id = {
        let engine = wflo_core::Engine::open(Some(dbs)).unwrap();
        let exec = engine
            .start_execution(wflo_core::ExecutionOptions {
                name: "retried".into(),
                ..Default::default()
            })
            .unwrap();
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let mut retrier = engine.retrier(policy).unwrap();
        let body = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}"#;
        let mut options = wflo_core::RequestOptions::default();
        let format = wflo_core::UsageFormat::OpenAiChat;
        let made = exec.reserve_request(format, body, &options).unwrap();
        let mut first = made.reservation;
        first
            .release(wflo_core::CallStatus::Error, Some("429 Too Many Requests"))
            .unwrap();
        let failure = Failure {
            kind: FailureKind::Http,
            status: Some(429),
            headers: vec![("retry-after-ms".into(), "2500".into())],
            message: "429 Too Many Requests".into(),
        };
        let Decision::Retry {
            attempt, reason, ..
        } = retrier.next(&failure, engine.now_ms())
        else {
            panic!("a 429 is retried")
        };
        options.attempt = Some(attempt);
        options.retry_reason = Some(reason);
        let mut second = exec
            .reserve_request(format, body, &options)
            .unwrap()
            .reservation;
        second
            .settle(wflo_core::Usage {
                input: 9,
                output: 5,
                ..Default::default()
            })
            .unwrap();
        exec.finish(wflo_core::ExecutionStatus::Completed).unwrap();
        let id = exec.id().to_owned();
        engine.close().unwrap();
        id
    };
    let table = ok(&["show", &id, "--db", dbs]);
    assert!(table.contains("ok · attempt 2"), "{table}");
    assert!(table.contains("retries"), "{table}");
    assert!(
        table.contains("429 Too Many Requests; retry 1 after 2500 ms (the server's retry-after)"),
        "{table}"
    );
    let shown = json(&["show", &id, "--db", dbs, "--json"]);
    assert_eq!(shown["calls"][0]["attempt"], 1);
    assert_eq!(shown["calls"][1]["attempt"], 2);
    let html = dir.path().join("retries.html");
    ok(&["report", &id, "--html", html.to_str().unwrap(), "--db", dbs]);
    let page = std::fs::read_to_string(html).unwrap();
    assert!(
        page.contains("attempt 2: 429 Too Many Requests; retry 1 after 2500 ms"),
        "report"
    );
}

/// A workflow waits at an approval gate while `wflo approve` — another process — decides it;
/// a denied gate of a workflow whose process ended fails it when it resumes; nothing is
/// reserved before the approval.
#[test]
fn approvals_are_decided_from_another_process() {
    use wflo_core::resilience::ApprovalRequest;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gates.db");
    let dbs = db.to_str().unwrap().to_owned();
    let engine = wflo_core::Engine::open(Some(&dbs)).unwrap();
    let exec = engine
        .start_execution(wflo_core::ExecutionOptions {
            name: "gated".into(),
            budget_nanos: Some(1_000_000_000),
            ..Default::default()
        })
        .unwrap();
    let gate = ApprovalRequest {
        gate: "publish".into(),
        why: "emails 40,000 customers".into(),
        worst_case_nanos: Some(250_000_000),
        ..Default::default()
    };
    let waiting = {
        let (exec, gate) = (exec.clone(), gate.clone());
        std::thread::spawn(move || {
            let approved = exec.require_approval(&gate)?;
            // Only now does the call behind the gate reserve (and go out).
            let mut r = exec.reserve(&wflo_core::CallRequest {
                model: "gpt-4o-mini",
                input_tokens: 100,
                max_output_tokens: Some(50),
                ..Default::default()
            })?;
            r.settle(wflo_core::Usage {
                input: 100,
                output: 20,
                ..Default::default()
            })?;
            Ok::<_, wflo_core::Error>(approved)
        })
    };
    // The pending approval, as a person sees it.
    let pending = loop {
        let list = json(&["approvals", "--db", &dbs, "--json"]);
        if let Some(a) = list.as_array().and_then(|l| l.first()).cloned() {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(pending["gate"], "publish");
    assert_eq!(pending["why"], "emails 40,000 customers");
    assert_eq!(pending["worst_case_nanos"], 250_000_000);
    let table = ok(&["approvals", "--db", &dbs]);
    assert!(
        table.contains("publish") && table.contains("$0.25"),
        "{table}"
    );
    assert!(
        exec.calls().unwrap().is_empty(),
        "nothing reserved before approval"
    );
    let id = pending["id"].as_str().unwrap().to_owned();
    let said = ok(&[
        "approve",
        &id,
        "--note",
        "checked the copy",
        "--by",
        "ana",
        "--db",
        &dbs,
    ]);
    assert!(said.starts_with("approved "), "{said}");
    let approved = waiting.join().unwrap().unwrap();
    assert_eq!(approved.decided_by.as_deref(), Some("ana"));
    assert_eq!(exec.calls().unwrap().len(), 1);
    // Deciding twice fails with one line on stderr.
    let again = wflo(&["deny", &id, "--db", &dbs]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already approved by ana"));

    // A gate asked by a process that then ended; denied meanwhile; the resumed workflow fails.
    let ended = engine
        .start_execution(wflo_core::ExecutionOptions {
            name: "gated-later".into(),
            ..Default::default()
        })
        .unwrap();
    let asked = ended.request_approval(&gate).unwrap();
    let ended_id = ended.id().to_owned();
    drop(ended);
    engine.close().unwrap();
    ok(&["deny", &asked.id, "--note", "not on a Friday", "--db", &dbs]);
    let engine = wflo_core::Engine::open(Some(&dbs)).unwrap();
    let resumed = engine.resume_execution(&ended_id).unwrap();
    let e = resumed.require_approval(&gate).unwrap_err();
    assert_eq!(e.code(), wflo_core::ErrorCode::ApprovalDenied);
    assert!(e.to_string().ends_with(": not on a Friday"), "{e}");
    assert!(ok(&["approvals", "--db", &dbs]).contains("no approvals pending"));
    assert_eq!(
        json(&["approvals", "--all", "--db", &dbs, "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn breakers_lists_shared_ones_and_every_change_and_show_has_those_while_it_ran() {
    use wflo_core::resilience::BreakerConfig;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("breakers.db");
    let dbs = db.to_str().unwrap().to_owned();
    assert!(ok(&["breakers", "--db", &dbs]).contains("no circuit breaker has changed state yet"));
    let engine = wflo_core::Engine::open(Some(&dbs)).unwrap();
    let exec = engine
        .start_execution(wflo_core::ExecutionOptions {
            name: "tripping".into(),
            ..Default::default()
        })
        .unwrap();
    let shared = engine
        .breaker(
            "provider:openai",
            Some(BreakerConfig {
                failure_threshold: 2,
                recovery_timeout_ms: 600_000,
                shared: true,
                ..BreakerConfig::default()
            }),
        )
        .unwrap();
    shared.record_failure().unwrap();
    shared.record_failure().unwrap();
    assert!(shared.check().is_err());
    let local = engine
        .breaker(
            "tool:<search>",
            Some(BreakerConfig {
                failure_threshold: 1,
                ..BreakerConfig::default()
            }),
        )
        .unwrap();
    local.record_failure().unwrap();
    exec.finish(wflo_core::ExecutionStatus::Completed).unwrap();
    let id = exec.id().to_owned();
    drop(exec);
    engine.close().unwrap();

    // Another process lists them from the store.
    let listed = json(&["breakers", "--db", &dbs, "--json"]);
    let shared = listed["shared"].as_array().unwrap();
    assert_eq!(shared.len(), 1, "only the shared one has a stored state");
    assert_eq!(shared[0]["name"], "provider:openai");
    assert_eq!(shared[0]["state"], "open");
    assert_eq!(shared[0]["failure_count"], 2);
    assert_eq!(shared[0]["rejected"], 1);
    let changes = listed["transitions"].as_array().unwrap();
    let seen: Vec<_> = changes
        .iter()
        .map(|t| {
            (
                t["breaker"].as_str().unwrap(),
                t["to"].as_str().unwrap(),
                t["shared"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("provider:openai", "open", true),
            ("tool:<search>", "open", false)
        ]
    );
    let table = ok(&["breakers", "--db", &dbs]);
    assert!(
        table.contains("shared breakers") && table.contains("2 consecutive failures"),
        "{table}"
    );
    assert!(table.contains("1 consecutive failures"), "{table}");
    let one = json(&[
        "breakers",
        "--name",
        "tool:<search>",
        "--db",
        &dbs,
        "--json",
    ]);
    assert_eq!(one["shared"].as_array().unwrap().len(), 0);
    assert_eq!(one["transitions"].as_array().unwrap().len(), 1);

    let shown = ok(&["show", &id, "--db", &dbs]);
    assert!(
        shown.contains("circuit breakers that changed state while it ran")
            && shown.contains("provider:openai (shared)")
            && shown.contains("tool:<search>"),
        "{shown}"
    );
    let shown = json(&["show", &id, "--db", &dbs, "--json"]);
    assert_eq!(shown["breaker_changes"].as_array().unwrap().len(), 2);
}

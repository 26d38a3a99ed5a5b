//! An approval gate outlives the process that waits at it: a worker process asks for approval
//! and waits; it is killed with SIGKILL; a person approves meanwhile (from this process, as
//! `wflo approve` would); a new worker resumes the execution, finds its gate approved and goes
//! on — nothing was reserved or sent before the approval.
//!
//! The workers are this test binary itself, started again with `WFLO_WORKER` set: the
//! `worker` test then plays the worker's part (and does nothing in a normal run).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use wflo_core::resilience::ApprovalRequest;
use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

fn gate() -> ApprovalRequest {
    ApprovalRequest {
        gate: "publish".into(),
        what: "send the newsletter".into(),
        why: "emails 40,000 customers".into(),
        worst_case_nanos: Some(250_000_000),
        ..Default::default()
    }
}

#[test]
fn worker() {
    match std::env::var("WFLO_WORKER").as_deref() {
        Ok("wait") => wait_worker(),
        Ok("resume") => resume_worker(),
        Ok("gated-wait") => gated_wait_worker(),
        Ok("gated-resume") => gated_resume_worker(),
        _ => {}
    }
}

fn spawn_worker(role: &str, db: &str, execution: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env("WFLO_WORKER", role)
        .env("WFLO_WORKER_DB", db)
        .env("WFLO_WORKER_EXECUTION", execution)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Starts the execution, asks at the gate, says so, and waits (until killed).
fn wait_worker() {
    let engine = Engine::open(Some(&env("WFLO_WORKER_DB"))).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "newsletter".into(),
            id: Some(env("WFLO_WORKER_EXECUTION")),
            budget_nanos: Some(1_000_000_000),
            ..Default::default()
        })
        .unwrap();
    let asked = exec.request_approval(&gate()).unwrap();
    println!("\n@@asked {}", asked.id);
    std::io::stdout().flush().unwrap();
    let _ = exec.wait_for_approval(&asked.id, None);
    println!("\n@@went on too early");
}

/// Resumes the execution, passes the gate, makes the call behind it.
fn resume_worker() {
    let engine = Engine::open(Some(&env("WFLO_WORKER_DB"))).unwrap();
    let exec = engine
        .resume_execution(&env("WFLO_WORKER_EXECUTION"))
        .unwrap();
    let approved = exec.require_approval(&gate()).unwrap();
    let mut call = exec
        .reserve(&CallRequest {
            model: "gpt-4o-mini",
            input_tokens: 100,
            max_output_tokens: Some(50),
            ..Default::default()
        })
        .unwrap();
    call.settle(Usage {
        input: 100,
        output: 20,
        ..Default::default()
    })
    .unwrap();
    exec.finish(wflo_core::ExecutionStatus::Completed).unwrap();
    engine.close().unwrap();
    println!(
        "\n@@went on {} by {}",
        approved.id,
        approved.decided_by.unwrap_or_default()
    );
}

fn big_call() -> CallRequest<'static> {
    CallRequest {
        model: "gpt-4o",
        input_tokens: 1_000,
        max_output_tokens: Some(4_000),
        ..Default::default()
    }
}

/// An execution whose costly calls need approval: its first one waits at its gate (until the
/// process is killed).
fn gated_wait_worker() {
    let engine = Engine::open(Some(&env("WFLO_WORKER_DB"))).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "costly".into(),
            id: Some(env("WFLO_WORKER_EXECUTION")),
            approval_above_nanos: Some(1_000_000), // $0.001
            ..Default::default()
        })
        .unwrap();
    let _ = exec.reserve(&big_call());
    println!("\n@@went on too early");
}

fn engine_has_pending(db: &str) -> bool {
    let look = Engine::open(Some(db)).unwrap();
    let pending = !look.approvals(true, 10).unwrap().is_empty();
    look.close().unwrap();
    pending
}

/// Resumes it: the threshold is the stored one, and the approval given meanwhile applies.
fn gated_resume_worker() {
    let engine = Engine::open(Some(&env("WFLO_WORKER_DB"))).unwrap();
    let exec = engine
        .resume_execution(&env("WFLO_WORKER_EXECUTION"))
        .unwrap();
    let mut call = exec.reserve(&big_call()).unwrap();
    call.settle(Usage {
        input: 1_000,
        output: 300,
        ..Default::default()
    })
    .unwrap();
    // Written before this process ends abruptly below (call records are written in batches).
    engine.flush().unwrap();
    // The next costly call has a gate of its own: asked, not yet decided.
    let asker = std::thread::spawn(move || {
        let _ = exec.reserve(&big_call());
    });
    drop(asker);
    let asked = (0..1000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        engine_has_pending(&env("WFLO_WORKER_DB"))
    });
    assert!(asked, "the second costly call never asked");
    println!("\n@@gated call made");
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}

#[test]
fn a_call_killed_at_its_threshold_gate_goes_on_after_restart_on_the_approval_given_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gated.db").to_string_lossy().into_owned();
    let execution = "exec-00000000abcd";
    let mut waiting = spawn_worker("gated-wait", &db, execution);
    let person = Engine::open(Some(&db)).unwrap();
    let pending = loop {
        if let Some(a) = person.approvals(true, 10).unwrap().first().cloned() {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(pending.gate, "call #1 over $0.001");
    waiting.kill().unwrap();
    waiting.wait().unwrap();
    assert!(
        person.calls(execution).unwrap().is_empty(),
        "nothing before approval"
    );
    person
        .decide_approval(&pending.id, true, Some("ana"), None)
        .unwrap();
    let out = spawn_worker("gated-resume", &db, execution)
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "the resumed worker failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("@@gated call made"));
    let calls = person.calls(execution).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].usage.output, 300);
    let gates: Vec<_> = person
        .approvals(false, 10)
        .unwrap()
        .into_iter()
        .map(|a| (a.gate, a.status.as_str().to_owned()))
        .collect();
    assert_eq!(
        gates,
        vec![
            ("call #2 over $0.001".to_owned(), "pending".to_owned()),
            ("call #1 over $0.001".to_owned(), "approved".to_owned()),
        ],
        "the approval given meanwhile was used once; the next costly call asks again"
    );
}

#[test]
fn a_workflow_killed_at_its_gate_goes_on_after_restart_with_the_approval_given_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gates.db").to_string_lossy().into_owned();
    let execution = "exec-0123456789ab";
    let mut waiting = spawn_worker("wait", &db, execution);
    let out = waiting.stdout.take().unwrap();
    let asked = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("@@asked ").map(str::to_owned))
        .expect("the worker never asked");
    waiting.kill().unwrap(); // SIGKILL while it waits: no cleanup of any kind
    waiting.wait().unwrap();

    let person = Engine::open(Some(&db)).unwrap();
    let pending = person.approvals(true, 10).unwrap();
    assert_eq!(pending.len(), 1, "the gate outlived its process");
    assert_eq!(
        (pending[0].id.as_str(), pending[0].gate.as_str()),
        (asked.as_str(), "publish")
    );
    assert!(
        person.calls(execution).unwrap().is_empty(),
        "nothing before approval"
    );
    person
        .decide_approval(&asked, true, Some("ana"), Some("copy checked"))
        .unwrap();

    let out = spawn_worker("resume", &db, execution)
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "the resumed worker failed");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("@@went on {asked} by ana")),
        "{said}"
    );
    let calls = person.calls(execution).unwrap();
    assert_eq!(calls.len(), 1, "the call behind the gate, once");
    assert_eq!(
        person.approvals(false, 10).unwrap().len(),
        1,
        "one gate, asked once"
    );
    assert_eq!(
        person.execution(execution).unwrap().status,
        wflo_core::ExecutionStatus::Completed
    );
}

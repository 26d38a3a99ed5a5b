//! Stored names on the terminal: a store written by someone else is printed by `wflo show`,
//! `wflo executions` and `wflo checkpoints` with its control and bidi-override characters
//! escaped (and exact under `--json`), and its tables stay aligned with wide characters.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wflo_core::{Engine, ExecutionOptions, ExecutionStatus, Usage, UsageReport};

/// An ANSI colour change, a bell and a right-to-left override.
const HOSTILE: &str = "\x1b[31mred\x1b[0m \x07 \u{202e}";
/// How `HOSTILE` must be shown.
const SHOWN: &str = r"\x1b[31mred\x1b[0m \x07 \u{202e}";

fn wflo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wflo"))
        .args(args)
        .env_remove("WFLO_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wflo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// No character that could steer a terminal (besides the line ends of the output itself).
fn assert_inert(out: &str) {
    let bad: Vec<char> = out
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect();
    assert!(bad.is_empty(), "raw {bad:?} in:\n{out}");
}

struct Names {
    execution: String,
    step: String,
    model: String,
    checkpoint: String,
}

/// Writes one execution whose every stored name carries `HOSTILE` (the execution name also a
/// newline) into the SQLite file `db`: a call in a step on a model of that name, a checkpoint
/// of that name and a rollback to it. Returns the execution id.
fn hostile_store(db: &Path, names: &Names) -> String {
    let engine = Engine::open(Some(db.to_str().unwrap())).unwrap();
    let prices = serde_json::json!({"models": [{
        "name": names.model, "provider": "openai", "input": 1_000_000, "output": 2_000_000
    }]});
    engine.set_prices_json(&prices.to_string()).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: names.execution.clone(),
            ..Default::default()
        })
        .unwrap();
    let scope = exec.scope(&names.step, None).unwrap();
    let usage = Usage {
        input: 1000,
        output: 500,
        ..Default::default()
    };
    let record = scope
        .record_call(&UsageReport::new(&names.model, usage))
        .unwrap();
    assert_eq!(record.model.as_deref(), Some(names.model.as_str()));
    exec.checkpoint(&names.checkpoint, r#"{"n":1}"#).unwrap();
    exec.checkpoint("later", r#"{"n":2}"#).unwrap();
    exec.rollback_to_checkpoint(&names.checkpoint).unwrap();
    exec.finish(ExecutionStatus::Completed).unwrap();
    let id = exec.id().to_owned();
    engine.close().unwrap();
    id
}

#[test]
fn stored_names_with_escape_sequences_are_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hostile.db");
    let dbs = db.to_str().unwrap();
    let names = Names {
        execution: format!("exec {HOSTILE}\nsecond line"),
        step: format!("step {HOSTILE}"),
        model: format!("model {HOSTILE}"),
        checkpoint: format!("cp {HOSTILE}"),
    };
    let id = hostile_store(&db, &names);

    let list = wflo(&["executions", "--db", dbs]);
    assert_inert(&list);
    assert!(
        list.contains(&format!(r"exec {SHOWN}\nsecond line")),
        "{list}"
    );
    assert_eq!(
        list.lines().count(),
        2,
        "a header and one row, the newline shown as \\n:\n{list}"
    );

    let shown = wflo(&["show", &id, "--db", dbs]);
    assert_inert(&shown);
    assert!(
        shown
            .lines()
            .next()
            .unwrap()
            .starts_with(&format!(r"{id}  exec {SHOWN}\nsecond line  (completed)")),
        "{shown}"
    );
    let lines_with = |needle: &str| shown.lines().filter(|l| l.contains(needle)).count();
    // The step in the calls table and in "by step"; the model in the calls table and in
    // "by model"; the checkpoint in the checkpoints table and in the rollback line.
    assert_eq!(lines_with(&format!("step {SHOWN}")), 2, "{shown}");
    assert_eq!(lines_with(&format!("model {SHOWN}")), 2, "{shown}");
    assert_eq!(lines_with(&format!("cp {SHOWN}")), 2, "{shown}");
    assert!(
        shown.contains(&format!("rolled back to 'cp {SHOWN}' at ")),
        "{shown}"
    );

    let cps = wflo(&["checkpoints", &id, "--db", dbs]);
    assert_inert(&cps);
    assert!(cps.contains(&format!("cp {SHOWN}")), "{cps}");

    // --json keeps every name exact, with the controls and the override as JSON escapes
    // (serde_json alone would leave U+202E raw).
    let list = wflo(&["executions", "--db", dbs, "--json"]);
    let show = wflo(&["show", &id, "--db", dbs, "--json"]);
    let cps = wflo(&["checkpoints", &id, "--db", dbs, "--json"]);
    for out in [&list, &show, &cps] {
        assert_inert(out);
        assert!(
            out.contains(r"\u001b[31mred\u001b[0m \u0007 \u202e"),
            "{out}"
        );
    }
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], names.execution.as_str());
    let cps: Value = serde_json::from_str(&cps).unwrap();
    assert_eq!(cps[0]["name"], names.checkpoint.as_str());
    let j: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(j["execution"]["name"], names.execution.as_str());
    assert_eq!(j["calls"][0]["step"], names.step.as_str());
    assert_eq!(j["calls"][0]["model"], names.model.as_str());
    assert_eq!(j["breakdown"]["by_model"][0]["model"], names.model.as_str());
    assert_eq!(j["checkpoints"][0]["name"], names.checkpoint.as_str());
    assert_eq!(
        j["rollbacks"][0]["checkpoint_name"],
        names.checkpoint.as_str()
    );
}

/// Terminal columns of the test's own names: ASCII takes one, the CJK and emoji used here two.
fn columns(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// The terminal column at which `cell` starts in `line`, searching after `after`.
fn start_of(line: &str, after: &str, cell: &str) -> usize {
    let from = line.find(after).unwrap() + after.len();
    let at = from + line[from..].find(cell).unwrap();
    columns(&line[..at])
}

#[test]
fn wide_names_keep_the_executions_table_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wide.db");
    let dbs = db.to_str().unwrap();
    let names = [
        "名前テスト",
        "🚀🚀 launch",
        "plain",
        "漢字🚀x",
        "日本語の長い名前",
    ];
    {
        let engine = Engine::open(Some(dbs)).unwrap();
        for (i, name) in names.iter().enumerate() {
            let exec = engine
                .start_execution(ExecutionOptions {
                    name: name.to_string(),
                    ..Default::default()
                })
                .unwrap();
            if i % 2 == 0 {
                exec.finish(ExecutionStatus::Completed).unwrap();
            }
        }
        engine.close().unwrap();
    }
    let out = wflo(&["executions", "--db", dbs]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), names.len() + 1, "{out}");
    // STATUS starts one column after the widest name ("日本語の長い名前", 16 columns) and
    // its two separating spaces, on every line; counted in characters instead, the rows
    // with wide names would start it early.
    let id_width = lines[1].find(' ').unwrap();
    let want = id_width + 2 + columns("日本語の長い名前") + 2;
    assert_eq!(start_of(lines[0], "NAME", "STATUS"), want, "{out}");
    let mut seen = Vec::new();
    for line in &lines[1..] {
        let name = names.iter().find(|n| line.contains(**n)).unwrap();
        seen.push(*name);
        let status = if line.contains("completed") {
            "completed"
        } else {
            "running"
        };
        assert_eq!(start_of(line, name, status), want, "{line}\n{out}");
    }
    assert_eq!(seen.len(), names.len());
    // The last column is right-aligned, so every row ends at the same terminal column.
    let ends: Vec<usize> = lines[1..].iter().map(|l| columns(l)).collect();
    assert!(ends.iter().all(|&e| e == ends[0]), "{ends:?}\n{out}");
}

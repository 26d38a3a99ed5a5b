//! `wflo scopes`: shared scopes listed with their live holders, a dead holder's reservation
//! charged and shown as an `unsettled` call (`wflo show`, the report), and an operator's credit
//! back recorded with who and why — each run as a real process on a SQLite file.

use std::time::Duration;

use serde_json::Value;

mod common;

use common::{json, ok, wflo};

// Long enough for the listing runs while it holds, even on a loaded machine.
const LEASE_MS: u64 = 3_000;

fn engine(db: &str) -> wflo_core::Engine {
    let store = wflo_core::store::open_store(db).unwrap();
    wflo_core::Engine::new(wflo_core::EngineConfig {
        store,
        lease_ms: LEASE_MS,
        ..wflo_core::EngineConfig::default()
    })
}

fn scope<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed in {list}"))
}

/// Fails with exactly one line on stderr containing `needle`, and exit code `code`.
fn fails(args: &[&str], code: i32, needle: &str) {
    let out = wflo(args);
    assert_eq!(out.status.code(), Some(code), "wflo {args:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(needle), "'{needle}' not in: {err}");
}

#[test]
fn scopes_lists_holders_and_a_dead_holders_reservation_is_charged_shown_and_credited() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scopes.db");
    let dbs = db.to_str().unwrap();
    // Booked per call, so the dead holder's reservation is a row of its own with its execution
    // (an allowance's charge is tested below).
    let said = ok(&[
        "scopes",
        "define",
        "tenant-acme",
        "--limit",
        "1",
        "--allowances",
        "off",
        "--db",
        dbs,
    ]);
    assert_eq!(
        said.trim(),
        "tenant-acme: limit $1.00 per none, allowances off (per call)"
    );
    ok(&[
        "scopes",
        "define",
        "fleet-daily",
        "--period",
        "day",
        "--allowances",
        "off",
        "--db",
        dbs,
    ]);
    let worker = engine(dbs);
    let exec = worker
        .start_execution(wflo_core::ExecutionOptions {
            name: "doomed".into(),
            shared_scopes: vec!["tenant-acme".into(), "fleet-daily".into()],
            ..Default::default()
        })
        .unwrap();
    let request = wflo_core::CallRequest {
        model: "gpt-4o-mini",
        input_tokens: 1000,
        input_estimated: Some(false),
        max_output_tokens: Some(500),
        ..Default::default()
    };
    let settled = exec
        .reserve(&request)
        .unwrap()
        .settle(wflo_core::Usage {
            input: 1000,
            output: 200,
            ..Default::default()
        })
        .unwrap()
        .cost_nanos;
    // The worker "dies" holding this one: never settled, never released.
    let held = exec.reserve(&request).unwrap();
    let amount = held.amount_nanos();
    std::mem::forget(held);
    worker.flush().unwrap();
    let id = exec.id().to_owned();

    // Listed while the lease runs: the holder, what it holds.
    let list = json(&["scopes", "--db", dbs, "--json"]);
    let tenant = scope(&list, "tenant-acme");
    assert_eq!(tenant["key"], "tenant-acme");
    assert_eq!(tenant["period"], "none");
    assert_eq!(tenant["limit_nanos"], 1_000_000_000u64);
    assert_eq!(tenant["spent_nanos"], settled);
    assert_eq!(tenant["reserved_nanos"], amount);
    assert_eq!(tenant["allowances"], false);
    assert_eq!(tenant["allowances_out_nanos"], 0);
    let holders = tenant["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 1, "{tenant}");
    assert!(
        holders[0]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", std::process::id())),
        "{tenant}"
    );
    let daily = scope(&list, "fleet-daily");
    assert!(daily["key"].as_str().unwrap().starts_with("fleet-daily@"));
    assert_eq!(daily["limit_nanos"], Value::Null);
    let table = ok(&["scopes", "--db", dbs]);
    let header = table.lines().next().unwrap();
    for column in [
        "SCOPE",
        "LIMIT",
        "SPENT",
        "RESERVED",
        "ALLOWANCES OUT",
        "HOLDERS",
    ] {
        assert!(header.contains(column), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("tenant-acme "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "tenant-acme",
            "none",
            "$1.00",
            &format!("${}", wflo_core::money::format_usd(settled)),
            &format!("${}", wflo_core::money::format_usd(amount)),
            "off",
            "(per",
            "call)",
            "1",
            "ok"
        ],
        "{table}"
    );

    // The lease ends: no live holder any more; the next engine on the store charges it.
    std::thread::sleep(Duration::from_millis(LEASE_MS + 200));
    let list = json(&["scopes", "--db", dbs, "--json"]);
    assert!(
        scope(&list, "tenant-acme")["holders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let survivor = engine(dbs);
    assert_eq!(survivor.reclaim_expired().unwrap(), 1);
    survivor.close().unwrap();
    let list = json(&["scopes", "--db", dbs, "--json"]);
    for name in ["tenant-acme", "fleet-daily"] {
        let s = scope(&list, name);
        assert_eq!(
            s["spent_nanos"],
            settled + amount,
            "{name}: charged, not released"
        );
        assert_eq!(s["reserved_nanos"], 0, "{name}");
    }

    // `wflo show` and the report show it as an unsettled call of the whole amount.
    let shown = json(&["show", &id, "--db", dbs, "--json"]);
    let calls = shown["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{shown}");
    assert_eq!(calls[1]["status"], "unsettled");
    assert_eq!(calls[1]["cost_nanos"], amount);
    assert_eq!(calls[1]["seq"], 2);
    let text = ok(&["show", &id, "--db", dbs]);
    assert!(text.contains("unsettled"), "{text}");
    let html = dir.path().join("report.html");
    ok(&["report", &id, "--html", html.to_str().unwrap(), "--db", dbs]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(r#"data-status="unsettled""#),
        "the chart marks it"
    );
    assert!(
        page.contains(r#"<span class="pill unsettled">unsettled</span>"#),
        "the table lists it"
    );

    // An operator who knows the dead call never went out credits it back.
    let credit_usd = wflo_core::money::format_usd(amount);
    let said = ok(&[
        "scopes",
        "credit",
        "tenant-acme",
        &credit_usd,
        "--by",
        "ops@acme",
        "--reason",
        "worker died before sending",
        "--db",
        dbs,
    ]);
    assert!(
        said.contains("credited") && said.contains("ops@acme"),
        "{said}"
    );
    let list = json(&["scopes", "--db", dbs, "--json"]);
    assert_eq!(scope(&list, "tenant-acme")["spent_nanos"], settled);
    assert_eq!(scope(&list, "fleet-daily")["spent_nanos"], settled + amount);
    let credits = json(&["scopes", "credits", "tenant-acme", "--db", dbs, "--json"]);
    let credits = credits.as_array().unwrap();
    assert_eq!(credits.len(), 1);
    assert_eq!(credits[0]["amount_nanos"], amount);
    assert_eq!(credits[0]["by"], "ops@acme");
    assert_eq!(credits[0]["reason"], "worker died before sending");
    assert_eq!(credits[0]["key"], "tenant-acme");
    assert!(credits[0]["at_ms"].as_u64().unwrap() > 0);
    let table = ok(&["scopes", "credits", "tenant-acme", "--db", dbs]);
    assert!(
        table.contains("ops@acme") && table.contains("worker died before sending"),
        "{table}"
    );
    assert!(ok(&["scopes", "credits", "fleet-daily", "--db", dbs]).contains("no credits"));

    // A credit never takes spend below zero, and needs who and why.
    fails(
        &[
            "scopes",
            "credit",
            "tenant-acme",
            "1",
            "--by",
            "ops",
            "--reason",
            "x",
            "--db",
            dbs,
        ],
        1,
        "more than",
    );
    fails(
        &[
            "scopes", "credit", "nobody", "1", "--by", "ops", "--reason", "x", "--db", dbs,
        ],
        3,
        "not defined",
    );
    fails(
        &[
            "scopes",
            "credit",
            "tenant-acme",
            "0.01",
            "--reason",
            "x",
            "--db",
            dbs,
        ],
        2,
        "--by",
    );
    fails(
        &[
            "scopes",
            "credit",
            "tenant-acme",
            "0.01",
            "--by",
            " ",
            "--reason",
            "x",
            "--db",
            dbs,
        ],
        1,
        "who gives it and why",
    );
    let list = json(&["scopes", "--db", dbs, "--json"]);
    assert_eq!(scope(&list, "tenant-acme")["spent_nanos"], settled);
}

#[test]
fn scopes_on_an_empty_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    let dbs = db.to_str().unwrap();
    assert!(ok(&["scopes", "--db", dbs]).contains("no shared scopes defined"));
    assert_eq!(
        json(&["scopes", "--db", dbs, "--json"]),
        serde_json::json!([])
    );
}

/// A scope served from allowances (the default): the listing shows what processes hold as
/// allowances and how many hold one.
#[test]
fn scopes_show_allowances_out_and_who_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allowances.db");
    let dbs = db.to_str().unwrap();
    ok(&["scopes", "define", "fleet", "--limit", "10", "--db", dbs]);
    let worker = engine(dbs);
    worker
        .set_prices_json(
            r#"{"models":[{"name":"a-model","input":1000000,"output":4000000,"max_output":1000}]}"#,
        )
        .unwrap();
    let exec = worker
        .start_execution(wflo_core::ExecutionOptions {
            name: "fleet-worker".into(),
            shared_scopes: vec!["fleet".into()],
            ..Default::default()
        })
        .unwrap();
    let request = wflo_core::CallRequest {
        model: "a-model",
        input_tokens: 1000,
        input_estimated: Some(false),
        max_output_tokens: Some(500),
        ..Default::default()
    };
    let held = exec.reserve(&request).unwrap(); // 3_000_000 leased as its allowance
    std::mem::forget(held);
    worker.flush().unwrap();
    let list = json(&["scopes", "--db", dbs, "--json"]);
    let fleet = scope(&list, "fleet");
    assert_eq!(fleet["allowances"], true, "{fleet}");
    assert_eq!(fleet["allowances_out_nanos"], 3_000_000u64, "{fleet}");
    assert_eq!(fleet["reserved_nanos"], 3_000_000u64, "{fleet}");
    assert_eq!(fleet["allowance_holders"], 1, "{fleet}");
    let table = ok(&["scopes", "--db", dbs]);
    let row = table.lines().find(|l| l.starts_with("fleet ")).unwrap();
    assert!(row.contains("$0.003 (1)"), "{table}");
    // Closing gives back what is unused; the call still open stays booked until it ends or
    // its lease does (a holder's death is tested in core/tests/multiprocess.rs).
    worker.close().unwrap();
    let fleet = scope(&json(&["scopes", "--db", dbs, "--json"]), "fleet").clone();
    assert_eq!(fleet["allowances_out_nanos"], 3_000_000u64, "{fleet}");
    assert_eq!(fleet["spent_nanos"], 0, "{fleet}");
}

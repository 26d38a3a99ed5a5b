//! A slow agent for `wflo serve`'s browser test: records calls through the engine into a
//! store at a steady pace, so a page can be watched while the spend moves.
//!
//!     serve_feed --db PATH [--name NAME] [--step LABEL] [--model MODEL] [--calls N]
//!                [--interval-ms MS] [--budget USD] [--scope NAME] [--shared NAME=USD] [--finish]
//!
//! `--scope` draws from an existing shared scope; `--shared` defines one first (that limit,
//! no period) and draws from it.
//!
//! Prints one JSON line when the execution starts and one per call recorded (after the call
//! is flushed to the store): `{"execution_id": …, "seq": …, "spent_nanos": …}`.

use std::io::Write;
use std::time::Duration;

use wflo_core::{CallRequest, Engine, ExecutionOptions, ExecutionStatus, Usage};

fn main() {
    if let Err(e) = run() {
        eprintln!("serve_feed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut db = None;
    let mut name = "serve-feed".to_owned();
    let mut step = "work".to_owned();
    let mut model = "gpt-4o-mini".to_owned();
    let mut calls = 10u64;
    let mut interval = 300u64;
    let mut budget = None;
    let mut scopes = Vec::new();
    let mut defined = Vec::new();
    let mut finish = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => db = Some(value()?),
            "--name" => name = value()?,
            "--step" => step = value()?,
            "--model" => model = value()?,
            "--calls" => calls = value()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--interval-ms" => {
                interval = value()?
                    .parse()
                    .map_err(|e| format!("--interval-ms: {e}"))?
            }
            "--budget" => {
                budget = Some(wflo_core::money::parse_usd(&value()?).map_err(|e| e.to_string())?)
            }
            "--scope" => scopes.push(value()?),
            "--shared" => {
                let v = value()?;
                let (name, usd) = v.rsplit_once('=').ok_or("--shared takes NAME=USD")?;
                defined.push((
                    name.to_owned(),
                    wflo_core::money::parse_usd(usd).map_err(|e| e.to_string())?,
                ));
                scopes.push(name.to_owned());
            }
            "--finish" => finish = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let engine = Engine::open(db.as_deref()).map_err(|e| e.to_string())?;
    if engine.resolve_model(&model).is_err() {
        // A made-up model (a hostile name, say) gets a price of its own.
        let prices =
            serde_json::json!({"models": [{"name": model, "input": 150_000, "output": 600_000}]});
        engine
            .set_prices_json(&prices.to_string())
            .map_err(|e| e.to_string())?;
    }
    for (name, limit) in &defined {
        engine
            .define_shared_scope(name, Some(*limit), wflo_core::store::Period::None)
            .map_err(|e| e.to_string())?;
    }
    let exec = engine
        .start_execution(ExecutionOptions {
            name,
            budget_nanos: budget,
            shared_scopes: scopes,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    let scope = exec.scope(&step, None).map_err(|e| e.to_string())?;
    let say = |seq: u64, spent: u64| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"execution_id": exec.id(), "seq": seq, "spent_nanos": spent})
        );
        let _ = out.flush();
    };
    engine.flush().map_err(|e| e.to_string())?;
    say(0, 0);
    let mut spent = 0;
    for _ in 0..calls {
        std::thread::sleep(Duration::from_millis(interval));
        let mut call = scope
            .reserve(&CallRequest {
                model: &model,
                input_tokens: 1_200,
                max_output_tokens: Some(400),
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        let record = call
            .settle(Usage {
                input: 1_200,
                output: 350,
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        engine.flush().map_err(|e| e.to_string())?;
        spent += record.cost_nanos;
        say(record.seq, spent);
    }
    if finish {
        exec.finish(ExecutionStatus::Completed)
            .map_err(|e| e.to_string())?;
    }
    engine.close().map_err(|e| e.to_string())
}

//! The inspection commands: executions, one execution, checkpoints, prices, models, costs and
//! token counts — an aligned table for people, `--json` for machines.

use std::io::Read;

use serde_json::json;
use wflo_core::clock::format_utc;
use wflo_core::money::format_usd;
use wflo_core::{Engine, Usage};

use crate::checkpoint_ref;
use crate::exit::CliError;
use crate::table::Table;
use crate::terminal::escape;
use crate::{Db, Output};

pub type CliResult = Result<(), CliError>;

pub fn engine(db: &Db) -> Result<Engine, CliError> {
    Ok(Engine::open(db.db.as_deref())?)
}

/// An engine for the commands that only price and count: no store, but the price file
/// (`--prices`, `WFLO_PRICES`) loaded like every other engine's.
pub fn pricing_engine() -> Result<Engine, CliError> {
    Ok(Engine::open(Some("memory://"))?)
}

fn usd(nanos: u64) -> String {
    format!("${}", format_usd(nanos))
}

fn opt_usd(nanos: Option<u64>) -> String {
    nanos.map_or("-".into(), usd)
}

/// A price in pico-USD per token as USD per million tokens.
fn per_million(picos: u64) -> String {
    let micro = picos; // pico-USD per token == micro-USD per million tokens
    let whole = micro / 1_000_000;
    let frac = format!("{:06}", micro % 1_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("${whole}")
    } else {
        format!("${whole}.{frac}")
    }
}

/// Prints `value` as JSON: exact (parsed back it is the stored value), with the characters
/// that could steer a terminal written as `\u` escapes.
pub fn print_json(value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::other(e.to_string()))?;
    println!("{}", crate::terminal::escape_json(&text));
    Ok(())
}

pub fn executions(db: &Db, limit: usize, out: &Output) -> CliResult {
    let engine = engine(db)?;
    let list = engine.list_executions(limit)?;
    if out.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("no executions yet");
        return Ok(());
    }
    let mut t = Table::new(&[
        "ID", "NAME", "STATUS", "SPENT", "BUDGET", "CALLS", "CREATED",
    ]);
    for e in &list {
        t.row(vec![
            e.id.clone(),
            e.name.clone(),
            e.status.as_str().into(),
            usd(e.spent_nanos),
            opt_usd(e.budget_nanos),
            e.calls.to_string(),
            format_utc(e.created_at_ms),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

pub fn show(db: &Db, id: &str, out: &Output) -> CliResult {
    let engine = engine(db)?;
    let record = engine.execution(id)?;
    let breakdown = engine.breakdown(id)?;
    let calls = engine.calls(id)?;
    let checkpoints = engine.checkpoints(id)?;
    let rollbacks = engine.rollbacks(id)?;
    let breaker_changes = engine.breaker_changes_during(id)?;
    if out.json {
        return print_json(&json!({
            "execution": record, "breakdown": breakdown, "calls": calls,
            "checkpoints": checkpoints_json(&checkpoints),
            "rollbacks": rollbacks_json(&checkpoints, &rollbacks),
            "breaker_changes": breaker_changes
        }));
    }
    println!(
        "{}  {}  ({})",
        escape(&record.id),
        escape(&record.name),
        record.status.as_str()
    );
    println!(
        "spent {} of {}  ·  remaining {}  ·  {} calls, {} refused, {} estimated{}",
        usd(breakdown.total_nanos),
        opt_usd(breakdown.budget_nanos),
        opt_usd(breakdown.remaining_nanos),
        breakdown.calls,
        breakdown.refused_calls,
        breakdown.estimated_calls,
        if breakdown.overrun_nanos > 0 {
            format!("  ·  overrun {}", usd(breakdown.overrun_nanos))
        } else {
            String::new()
        }
    );
    println!("started {}", format_utc(record.created_at_ms));
    println!("\ncalls");
    let mut t = Table::new(&[
        "#",
        "STEP",
        "MODEL",
        "STATUS",
        "INPUT",
        "OUTPUT",
        "CACHED",
        "REASONING",
        "COST",
        "MS",
    ]);
    for c in &calls {
        t.row(vec![
            c.seq.to_string(),
            if c.step.is_empty() {
                "-".into()
            } else {
                c.step.to_string()
            },
            c.model.as_deref().unwrap_or(&c.requested_model).to_string(),
            format!(
                "{}{}{}",
                c.status.as_str(),
                if c.estimated { " (est.)" } else { "" },
                if c.attempt > 1 {
                    format!(" · attempt {}", c.attempt)
                } else {
                    String::new()
                }
            ),
            c.usage.input.to_string(),
            c.usage.output.to_string(),
            (c.usage.cache_read + c.usage.cache_write_5m + c.usage.cache_write_1h).to_string(),
            c.usage.reasoning.to_string(),
            usd(c.cost_nanos),
            c.latency_ms.to_string(),
        ]);
    }
    print!("{}", t.render());
    let retries: Vec<_> = calls.iter().filter(|c| c.retry_reason.is_some()).collect();
    if !retries.is_empty() {
        println!("\nretries");
        let mut t = Table::new(&["#", "ATTEMPT", "WHY"]);
        for c in retries {
            t.row(vec![
                c.seq.to_string(),
                c.attempt.to_string(),
                c.retry_reason.as_deref().unwrap_or("").to_string(),
            ]);
        }
        print!("{}", t.render());
    }
    if !breaker_changes.is_empty() {
        println!("\ncircuit breakers that changed state while it ran (any process on this store)");
        print!(
            "{}",
            crate::breakers::transitions_table(&breaker_changes).render()
        );
    }
    println!("\nby model");
    let mut t = Table::new(&["MODEL", "CALLS", "INPUT", "OUTPUT", "COST"]);
    for m in &breakdown.by_model {
        t.row(vec![
            m.model.clone(),
            m.calls.to_string(),
            m.usage.input.to_string(),
            m.usage.output.to_string(),
            usd(m.cost_nanos),
        ]);
    }
    print!("{}", t.render());
    println!("\nby step");
    let mut t = Table::new(&["STEP", "CALLS", "REFUSED", "COST"]);
    for s in &breakdown.by_step {
        t.row(vec![
            if s.step.is_empty() {
                "(execution)".into()
            } else {
                s.step.clone()
            },
            s.calls.to_string(),
            s.refused.to_string(),
            usd(s.cost_nanos),
        ]);
    }
    print!("{}", t.render());
    println!("\ncheckpoints");
    print!("{}", checkpoint_table(&checkpoints).render());
    for r in &rollbacks {
        let seq = r
            .checkpoint_id
            .and_then(|id| checkpoint_ref::sequence_of(&checkpoints, id))
            .map_or(String::new(), |n| {
                format!("checkpoint {}, ", checkpoint_ref::short(n))
            });
        println!(
            "rolled back to '{}' at {} ({seq}spent then {}, {} checkpoint(s) superseded)",
            escape(&r.checkpoint_name),
            format_utc(r.at_ms),
            usd(r.spent_nanos),
            r.superseded
        );
    }
    Ok(())
}

fn checkpoint_table(list: &[wflo_core::CheckpointInfo]) -> Table {
    let mut t = Table::new(&[
        "CHECKPOINT",
        "NAME",
        "PARENT",
        "SPENT",
        "BYTES",
        "STATE",
        "SAVED",
    ]);
    for c in list {
        t.row(vec![
            checkpoint_ref::short(c.sequence),
            c.name.clone(),
            parent(list, c),
            usd(c.spent_nanos),
            c.state_bytes.to_string(),
            if c.superseded {
                "superseded".into()
            } else {
                "live".into()
            },
            format_utc(c.created_at_ms),
        ]);
    }
    t
}

/// The parent as a person reads it: `#2`, `-` for none, `(pruned)` when retention removed it.
fn parent(list: &[wflo_core::CheckpointInfo], c: &wflo_core::CheckpointInfo) -> String {
    match c.parent_id {
        None => "-".into(),
        Some(p) => {
            checkpoint_ref::sequence_of(list, p).map_or("(pruned)".into(), checkpoint_ref::short)
        }
    }
}

fn checkpoints_json(list: &[wflo_core::CheckpointInfo]) -> Vec<serde_json::Value> {
    list.iter()
        .map(|c| checkpoint_ref::to_json(list, c))
        .collect()
}

/// Rollbacks with the sequence of the checkpoint each went back to (`checkpoint_sequence`,
/// null once the checkpoint was pruned) beside its internal id.
fn rollbacks_json(
    list: &[wflo_core::CheckpointInfo],
    rollbacks: &[wflo_core::records::RollbackRecord],
) -> Vec<serde_json::Value> {
    rollbacks
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
            if let serde_json::Value::Object(map) = &mut v {
                map.insert(
                    "checkpoint_sequence".into(),
                    json!(
                        r.checkpoint_id
                            .and_then(|id| checkpoint_ref::sequence_of(list, id))
                    ),
                );
            }
            v
        })
        .collect()
}

/// `wflo checkpoints EXEC [CHECKPOINT]`: the list, or one checkpoint with its state.
pub fn checkpoints(db: &Db, arg: &str, wanted: Option<&str>, out: &Output) -> CliResult {
    let (id, from_arg) = checkpoint_ref::split(arg);
    let wanted = match (from_arg, wanted) {
        (Some(_), Some(_)) => {
            return Err(CliError::other(format!(
                "'{arg}' already names a checkpoint; give it once"
            )));
        }
        (Some(w), None) => Some(w),
        (None, w) => w.map(str::to_owned),
    };
    let engine = engine(db)?;
    let list = engine.checkpoints(id)?;
    if let Some(wanted) = wanted {
        return checkpoint(&engine, &list, id, &wanted, out);
    }
    if out.json {
        return print_json(&checkpoints_json(&list));
    }
    if list.is_empty() {
        println!("execution {} has no checkpoints", escape(id));
        return Ok(());
    }
    print!("{}", checkpoint_table(&list).render());
    Ok(())
}

/// One checkpoint, its place in the execution and its state.
fn checkpoint(
    engine: &Engine,
    list: &[wflo_core::CheckpointInfo],
    id: &str,
    wanted: &str,
    out: &Output,
) -> CliResult {
    let c = checkpoint_ref::resolve(list, id, wanted)?;
    let state = engine.store().checkpoint_state(id, c.id)?;
    if out.json {
        let mut v = checkpoint_ref::to_json(list, c);
        let text = match &state {
            wflo_core::CheckpointState::Json(state) => json_with_state(&v, state),
            wflo_core::CheckpointState::Binary { bytes, .. } => {
                // Bytes are not JSON: base64 beside the content type (`to_json` gives it).
                use base64::Engine as _;
                v["state_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
                serde_json::to_string_pretty(&v)
            }
        }
        .map_err(|e| CliError::other(e.to_string()))?;
        println!("{}", crate::terminal::escape_json(&text));
        return Ok(());
    }
    println!(
        "{}  {}  ({})",
        checkpoint_ref::full(id, c.sequence),
        escape(&c.name),
        if c.superseded { "superseded" } else { "live" }
    );
    println!(
        "saved {}  ·  spent then {}  ·  parent {}",
        format_utc(c.created_at_ms),
        usd(c.spent_nanos),
        parent(list, c)
    );
    match &state {
        wflo_core::CheckpointState::Json(state) => {
            println!("\nstate ({} bytes)", c.state_bytes);
            println!("{}", escape(state));
        }
        wflo_core::CheckpointState::Binary { content_type, .. } => println!(
            "\nstate ({} bytes, binary: {}; --json gives them as base64)",
            c.state_bytes,
            escape(content_type)
        ),
    }
    Ok(())
}

/// A checkpoint's JSON with its JSON state as stored, byte for byte (a string if it somehow
/// is not JSON).
fn json_with_state(v: &serde_json::Value, state: &str) -> serde_json::Result<String> {
    match serde_json::value::RawValue::from_string(state.to_owned()) {
        Ok(raw) => {
            #[derive(serde::Serialize)]
            struct WithState<'a> {
                #[serde(flatten)]
                checkpoint: &'a serde_json::Value,
                state: &'a serde_json::value::RawValue,
            }
            serde_json::to_string_pretty(&WithState {
                checkpoint: v,
                state: &raw,
            })
        }
        Err(_) => {
            let mut v = v.clone();
            v["state"] = json!(state);
            serde_json::to_string_pretty(&v)
        }
    }
}

pub fn price(model: &str, out: &Output) -> CliResult {
    let engine = pricing_engine()?;
    let resolved = engine.resolve_model(model)?;
    let p = &resolved.price;
    if out.json {
        return print_json(&json!({
            "requested": model, "resolved": p.name, "resolution": resolved.resolution,
            "units": "pico-USD per token", "price": p, "source": engine.prices().source(),
            "price_table": engine.price_table()
        }));
    }
    println!(
        "{} → {} ({:?}){}",
        escape(model),
        escape(&p.name),
        resolved.resolution,
        if p.deprecated { ", deprecated" } else { "" }
    );
    println!(
        "provider {}  ·  mode {}",
        escape(&p.provider),
        escape(&p.mode)
    );
    let mut t = Table::new(&["TOKENS", "USD / 1M", "PICO-USD / TOKEN"]);
    let mut add = |label: &str, v: Option<u64>| {
        if let Some(v) = v {
            t.row(vec![label.into(), per_million(v), v.to_string()]);
        }
    };
    add("input", Some(p.input));
    add("output", Some(p.output));
    add("cache read", p.cache_read);
    add("cache write 5m", p.cache_write_5m);
    add("cache write 1h", p.cache_write_1h);
    add("reasoning", p.reasoning);
    print!("{}", t.render());
    for tier in &p.tiers {
        let parts: Vec<String> = tier
            .named_rates()
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} {}", per_million(v))))
            .collect();
        println!(
            "prompt above {} tokens: all tokens at {}",
            tier.above,
            parts.join(", ")
        );
    }
    let limit = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    println!(
        "max input {} tokens  ·  max output {} tokens",
        limit(p.max_input),
        limit(p.max_output)
    );
    if let Some(d) = &p.deprecation_date {
        println!("provider deprecation date {}", escape(d));
    }
    let src = engine.prices().source();
    println!(
        "source: {} {} ({}), taken {}",
        src.package, src.version, src.license, src.retrieved
    );
    for f in engine.price_table().files {
        println!(
            "loaded over it: {} ({}{}), {} models",
            escape(&f.origin),
            f.format.as_str(),
            f.retrieved.map(|d| format!(", {d}")).unwrap_or_default(),
            f.models
        );
    }
    if resolved.resolution == wflo_core::pricing::Resolution::Override {
        println!(
            "this price comes from a price file or a run-time override, not the built-in table"
        );
    }
    Ok(())
}

pub fn models(provider: Option<&str>, out: &Output) -> CliResult {
    let engine = pricing_engine()?;
    let list = engine.prices().models(provider);
    if out.json {
        return print_json(&list);
    }
    if list.is_empty() {
        return Err(CliError {
            exit: crate::exit::NOT_FOUND,
            message: format!("no models for provider '{}'", provider.unwrap_or("")),
        });
    }
    let mut t = Table::new(&[
        "MODEL",
        "PROVIDER",
        "MODE",
        "INPUT / 1M",
        "OUTPUT / 1M",
        "CACHE READ / 1M",
        "STATUS",
    ]);
    for p in &list {
        t.row(vec![
            p.name.clone(),
            p.provider.clone(),
            p.mode.clone(),
            per_million(p.input),
            per_million(p.output),
            p.cache_read.map_or("-".into(), per_million),
            if p.deprecated {
                "deprecated".into()
            } else {
                "current".into()
            },
        ]);
    }
    print!("{}", t.render());
    println!("{} models", list.len());
    Ok(())
}

pub fn cost(model: &str, usage: &Usage, out: &Output) -> CliResult {
    let engine = pricing_engine()?;
    let quote = engine.cost(model, usage)?;
    if out.json {
        return print_json(&quote);
    }
    println!(
        "{} → {}: {} ({} nano-USD)",
        escape(model),
        escape(&quote.model),
        usd(quote.cost_nanos),
        quote.cost_nanos
    );
    println!(
        "input {} · cache read {} · cache write 5m {} · cache write 1h {} · output {} · reasoning {}",
        usage.input,
        usage.cache_read,
        usage.cache_write_5m,
        usage.cache_write_1h,
        usage.output,
        usage.reasoning
    );
    Ok(())
}

pub fn tokens(model: &str, chat: bool, file: Option<&str>, out: &Output) -> CliResult {
    let text = match file {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            s
        }
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
        }
    };
    let engine = pricing_engine()?;
    let count = if chat {
        engine.count_chat_tokens(model, &text)?
    } else {
        engine.count_tokens(model, &text)
    };
    if out.json {
        return print_json(&count);
    }
    println!(
        "{} tokens ({}{})",
        count.tokens,
        count.encoding.name(),
        if count.estimated {
            ", an estimate: this provider has no offline tokenizer"
        } else {
            ""
        }
    );
    Ok(())
}

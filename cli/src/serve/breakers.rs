//! `/breakers`: circuit breakers as the store knows them — every shared breaker's state, as the
//! whole fleet on the store sees it, and the latest changes of state of every breaker (shared
//! or one process's) — and `/api/breakers`, the same as JSON.

use std::fmt::Write;

use serde_json::{Value, json};
use wflo_core::Engine;
use wflo_core::clock::format_utc;

use super::pages::{Nav, Shell, nav, page};
use crate::report::html::esc;

/// How many changes of state the page and the API list.
const CHANGES: usize = 200;

/// `{"shared": [status…], "transitions": [change…]}`, as `wflo breakers --json` prints it.
pub fn json(engine: &Engine) -> wflo_core::Result<Value> {
    Ok(json!(engine.breakers_on_store(None, CHANGES)?))
}

pub fn render(shell: &Shell, engine: &Engine) -> wflo_core::Result<String> {
    let on_store = engine.breakers_on_store(None, CHANGES)?;
    let shared = on_store.shared;
    let mut changes = on_store.transitions;
    changes.reverse(); // newest first on a page
    let mut body = String::from(
        r#"<header><p class="eyebrow">wflo serve</p><h1>Circuit breakers</h1><p class="meta">An open breaker refuses calls before anything is reserved or sent. A shared breaker lives in the store: every process on it sees one state.</p></header>"#,
    );
    body.push_str(r#"<section class="panel"><h2>Shared breakers</h2>"#);
    if shared.is_empty() {
        body.push_str(r#"<p class="empty">No shared breaker has been used on this store.</p>"#);
    } else {
        body.push_str(r#"<table><thead><tr><th>NAME</th><th>STATE</th><th class="num">FAILURES</th><th class="num">CALLS</th><th class="num">FAILED</th><th class="num">REFUSED</th><th>TRIAL CALLS IN</th><th>OPENED</th></tr></thead><tbody>"#);
        for b in &shared {
            let _ = write!(
                body,
                r#"<tr><td class="wrap name">{name}</td><td><span class="pill {state}">{state}</span></td><td class="num">{failures}</td><td class="num">{calls}</td><td class="num">{failed}</td><td class="num">{refused}</td><td>{retry}</td><td>{opened}</td></tr>"#,
                name = esc(&b.name),
                state = b.state.as_str(),
                failures = b.failure_count,
                calls = b.total_calls,
                failed = b.total_failures,
                refused = b.rejected,
                retry = b
                    .retry_in_ms
                    .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "–".into()),
                opened = b
                    .opened_at_ms
                    .map(|at| esc(&format_utc(at)))
                    .unwrap_or_else(|| "–".into()),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    body.push_str(r#"<section class="panel"><h2>Changes of state</h2>"#);
    if changes.is_empty() {
        body.push_str(r#"<p class="empty">No circuit breaker has changed state yet.</p>"#);
    } else {
        body.push_str(r#"<table><thead><tr><th>AT</th><th>BREAKER</th><th>FROM</th><th>TO</th><th>WHY</th><th>PROCESS</th></tr></thead><tbody>"#);
        for c in &changes {
            let _ = write!(
                body,
                r#"<tr><td>{at}</td><td class="wrap name">{name}{shared}</td><td>{from}</td><td><span class="pill {to}">{to}</span></td><td class="wrap">{why}</td><td class="mono">{by}</td></tr>"#,
                at = esc(&format_utc(c.at_ms)),
                name = esc(&c.breaker),
                shared = if c.shared { " (shared)" } else { "" },
                from = c.from.as_str(),
                to = c.to.as_str(),
                why = esc(&c.reason),
                by = esc(&c.holder),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    Ok(page(
        shell,
        "Circuit breakers",
        &nav(Nav::Breakers, ""),
        &body,
        "",
    ))
}

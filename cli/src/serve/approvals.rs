//! `/approvals`: the approval gates workflows wait at, with Approve and Deny buttons, and the
//! JSON endpoints behind them. A decision is a `POST` with a JSON body — which a page on
//! another site cannot make a browser send here (not a "simple" request, and no CORS is
//! granted) — from a page whose own origin, when the browser names one, is this server.

use std::fmt::Write;

use serde_json::{Value, json};
use wflo_core::Engine;
use wflo_core::clock::format_utc;
use wflo_core::records::ApprovalRecord;

use super::pages::{Nav, Shell, nav, page};
use crate::report::html::{esc, usd};

const APPROVALS_JS: &str = include_str!("assets/approvals.js");

/// The approvals as `/api/approvals` gives them (pending only unless `all`).
pub fn json(engine: &Engine, all: bool) -> wflo_core::Result<Value> {
    Ok(json!(engine.approvals(!all, 200)?))
}

fn row(p: &mut String, a: &ApprovalRecord, buttons: bool) {
    let _ = write!(
        p,
        r#"<tr><td class="mono">{id}</td><td>{status}</td><td class="mono"><a href="/executions/{exec_href}">{exec}</a></td><td>{gate}</td><td class="wrap">{what}</td><td class="wrap">{why}</td><td class="num">{worst}</td><td>{by}</td><td>{at}</td><td>"#,
        id = esc(&a.id),
        status = esc(a.status.as_str()),
        exec_href = esc(&a.execution_id),
        exec = esc(&a.execution_id),
        gate = esc(&a.gate),
        what = esc(&a.what),
        why = esc(&a.why),
        worst = a
            .worst_case_nanos
            .map(|n| esc(&usd(n)))
            .unwrap_or_else(|| "–".into()),
        by = esc(&a.requested_by),
        at = esc(&format_utc(a.created_at_ms)),
    );
    if buttons {
        let _ = write!(
            p,
            r#"<button data-approval="{id}" data-act="approve">Approve</button> <button data-approval="{id}" data-act="deny">Deny</button>"#,
            id = esc(&a.id)
        );
    } else {
        let _ = write!(
            p,
            "{}{}",
            esc(a.decided_by.as_deref().unwrap_or("–")),
            a.note
                .as_deref()
                .map(|n| format!(": {}", esc(n)))
                .unwrap_or_default()
        );
    }
    p.push_str("</td></tr>");
}

/// The page: pending approvals with buttons, then the recently decided ones.
pub fn render(shell: &Shell, engine: &Engine) -> wflo_core::Result<String> {
    let all = engine.approvals(false, 200)?;
    let (pending, decided): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|a| a.status == wflo_core::records::ApprovalStatus::Pending);
    let mut body = String::from(
        r#"<header><p class="eyebrow">wflo serve</p><h1>Approvals</h1><p class="meta">Workflows waiting for a person before a step or a costly call. Approving opens the gate; the spend behind it still goes through the budget.</p><p id="decision" class="meta" role="status"></p></header>"#,
    );
    let head = r#"<table><thead><tr><th>ID</th><th>STATUS</th><th>EXECUTION</th><th>GATE</th><th>WHAT</th><th>WHY</th><th>WORST CASE</th><th>ASKED BY</th><th>ASKED</th><th></th></tr></thead><tbody>"#;
    body.push_str(r#"<section class="panel"><h2>Pending</h2>"#);
    if pending.is_empty() {
        body.push_str(r#"<p class="empty">No workflow is waiting for approval.</p>"#);
    } else {
        body.push_str(head);
        for a in &pending {
            row(&mut body, a, true);
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    if !decided.is_empty() {
        body.push_str(r#"<section class="panel"><h2>Decided</h2>"#);
        body.push_str(head);
        for a in &decided {
            row(&mut body, a, false);
        }
        body.push_str("</tbody></table></section>");
    }
    Ok(page(
        shell,
        "Approvals",
        &nav(Nav::Approvals, ""),
        &body,
        APPROVALS_JS,
    ))
}

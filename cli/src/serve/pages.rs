//! The server-rendered pages: the shell every page shares (assets/page.html), the executions
//! list and one execution's live report. Every string from the store goes through the
//! report's [`esc`]; the scripts (assets/*.js) set text only. `scopes.rs` and `prices.rs`
//! render the other two pages into the same shell.

use serde_json::{Value, json};
use wflo_core::clock::format_utc;
use wflo_core::{Engine, ExecutionRecord, ExecutionStatus};

use super::watch::Snapshot;
use crate::report::html::{esc, int, usd};

const PAGE: &str = include_str!("assets/page.html");
const CSS: &str = include_str!("assets/serve.css");
const LIST_JS: &str = include_str!("assets/list.js");
pub const REFRESH_JS: &str = include_str!("assets/refresh.js");

/// Rows on `/` and in its event stream, the most recent executions first.
pub const LISTED: usize = 200;

/// Which page is shown (for the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Executions,
    Execution,
    Scopes,
    Prices,
    Approvals,
    Breakers,
}

/// What every page needs besides its own content.
pub struct Shell<'a> {
    /// The store's kind (`sqlite`, `postgres`), never its URL (it may hold a password).
    pub store: &'a str,
    /// This response's script nonce (also in its Content-Security-Policy header).
    pub nonce: &'a str,
}

/// Fills `{{name}}` placeholders in one pass: a value is never scanned for placeholders
/// itself, so text from the store cannot reach a later substitution.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match values.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The navigation bar, with the live badge (`live` is trusted markup made here).
pub fn nav(current: Nav, live: &str) -> String {
    let link = |nav: Nav, href: &str, text: &str| {
        format!(
            r#"<a href="{href}"{}>{text}</a>"#,
            if nav == current {
                r#" aria-current="page""#
            } else {
                ""
            }
        )
    };
    format!(
        r#"<nav class="top"><span class="brand">wflo</span>{}{}{}{}{}<a href="/metrics">Metrics</a><a href="/api/executions">API</a>{live}</nav>"#,
        link(Nav::Executions, "/", "Executions"),
        link(Nav::Scopes, "/scopes", "Scopes"),
        link(Nav::Approvals, "/approvals", "Approvals"),
        link(Nav::Breakers, "/breakers", "Breakers"),
        link(Nav::Prices, "/prices", "Prices"),
    )
}

/// The badge a refreshing page carries: the event stream to follow and the key of the
/// figures it was rendered from.
pub fn live_badge(events: &str, key: &str) -> String {
    format!(
        r#"<span id="live" class="live" data-events="{}" data-key="{}">connecting…</span>"#,
        esc(events),
        esc(key)
    )
}

/// A whole page: `title` is text, `body` markup made with [`esc`].
pub fn page(shell: &Shell, title: &str, nav: &str, body: &str, script: &str) -> String {
    fill(
        PAGE,
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("title", &esc(title)),
            ("report_css", crate::report::html::CSS),
            ("css", CSS),
            ("nav", nav),
            ("body", body),
            ("store", &esc(shell.store)),
            ("nonce", shell.nonce),
            ("script", script),
        ],
    )
}

/// A page that only says what went wrong.
pub fn error_page(shell: &Shell, status: u16, message: &str) -> String {
    let body = format!(
        r#"<header><p class="eyebrow">wflo serve · HTTP {status}</p><h1>{}</h1><div class="error-box">{}</div></header>"#,
        match status {
            404 => "Not found",
            400 => "Bad request",
            503 => "The store cannot be read",
            _ => "Something went wrong",
        },
        esc(message)
    );
    page(shell, "error", &nav(Nav::Execution, ""), &body, "")
}

fn name_shown(e: &ExecutionRecord) -> &str {
    if e.name.is_empty() {
        "(unnamed execution)"
    } else {
        &e.name
    }
}

fn percent(e: &ExecutionRecord) -> Option<f64> {
    e.budget_nanos.map(|b| {
        if b == 0 {
            100.0
        } else {
            e.spent_nanos as f64 / b as f64 * 100.0
        }
    })
}

/// One execution as the list's event stream sends it: the figures, and the same text the
/// server-rendered row shows.
pub fn row_json(e: &ExecutionRecord) -> Value {
    json!({
        "id": e.id,
        "name": e.name,
        "name_shown": name_shown(e),
        "status": e.status.as_str(),
        "status_shown": e.status.as_str().replace('_', " "),
        "spent_nanos": e.spent_nanos,
        "spent": usd(e.spent_nanos),
        "budget_nanos": e.budget_nanos,
        "budget": e.budget_nanos.map_or("no budget".to_owned(), usd),
        "pct": percent(e),
        "over": e.budget_nanos.is_some_and(|b| e.spent_nanos > b),
        "calls": e.calls,
        "calls_shown": int(e.calls),
        "created": format_utc(e.created_at_ms),
    })
}

fn row_html(e: &ExecutionRecord) -> String {
    let status = e.status.as_str();
    let pct = percent(e);
    format!(
        r#"<tr data-id="{id}"><td data-k="name" class="wrap"><a href="/executions/{id}">{name}</a></td><td data-k="status"><span class="pill {status}">{status_shown}</span></td><td data-k="spent" class="num">{spent}</td><td data-k="budget" class="num">{budget}</td><td data-k="meter" class="meter-cell"><div class="meter{over}" style="visibility:{vis}"><span style="width:{width:.1}%"></span></div></td><td data-k="calls" class="num">{calls}</td><td data-k="created" class="time">{created}</td><td data-k="id" class="mono dim">{id}</td></tr>"#,
        id = esc(&e.id),
        name = esc(name_shown(e)),
        status = esc(status),
        status_shown = esc(&status.replace('_', " ")),
        spent = esc(&usd(e.spent_nanos)),
        budget = esc(&e.budget_nanos.map_or("no budget".to_owned(), usd)),
        over = if e.budget_nanos.is_some_and(|b| e.spent_nanos > b) {
            " over"
        } else {
            ""
        },
        vis = if pct.is_some() { "visible" } else { "hidden" },
        width = pct.unwrap_or(0.0).min(100.0),
        calls = int(e.calls),
        created = esc(&format_utc(e.created_at_ms)),
    )
}

/// The headline figures over every watched execution.
pub fn totals_json(executions: &[ExecutionRecord]) -> Value {
    let spent = executions
        .iter()
        .fold(0u64, |a, e| a.saturating_add(e.spent_nanos));
    let running = executions
        .iter()
        .filter(|e| e.status == ExecutionStatus::Running)
        .count() as u64;
    let calls = executions
        .iter()
        .fold(0u64, |a, e| a.saturating_add(e.calls));
    json!({
        "spent_nanos": spent,
        "spent": usd(spent),
        "running": int(running),
        "executions": int(executions.len() as u64),
        "calls": int(calls),
    })
}

/// `/`: the executions, most recent first, with live spend.
pub fn executions(shell: &Shell, snap: &Snapshot) -> String {
    let t = totals_json(&snap.executions);
    let text = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
    let mut body = format!(
        r#"<header><p class="eyebrow">wflo serve</p><h1>Executions</h1><p class="meta">The {listed} most recent executions in the store; spend, calls and status change here as agents record them.</p><div class="cards"><div class="card"><div class="k">Spent</div><div class="v" data-total="spent">{spent}</div><div class="s">by the executions watched</div></div><div class="card"><div class="k">Running</div><div class="v" data-total="running">{running}</div><div class="s">executions still running</div></div><div class="card"><div class="k">Executions</div><div class="v" data-total="executions">{executions}</div><div class="s">watched (at most {watched})</div></div><div class="card"><div class="k">Calls</div><div class="v" data-total="calls">{calls}</div><div class="s">recorded, refused ones included</div></div></div></header>"#,
        listed = LISTED,
        watched = int(super::watch::WATCHED as u64),
        spent = esc(&text("spent")),
        running = esc(&text("running")),
        executions = esc(&text("executions")),
        calls = esc(&text("calls")),
    );
    if let Some(e) = &snap.error {
        body.push_str(&format!(
            r#"<div class="error-box">The store could not be read: {}</div>"#,
            esc(e)
        ));
    }
    body.push_str(&format!(r#"<section class="panel" id="list"><h2>Executions</h2><p class="sub">Open one for its report, live while it runs.</p><div class="scroll"><table><thead><tr><th>Name</th><th>Status</th><th class="num">Spent</th><th class="num">Budget</th><th>Used</th><th class="num">Calls</th><th>Started</th><th>Id</th></tr></thead><tbody id="executions" data-max="{LISTED}">"#));
    for e in snap.executions.iter().take(LISTED) {
        body.push_str(&row_html(e));
    }
    body.push_str("</tbody></table></div>");
    if snap.executions.is_empty() {
        body.push_str(r#"<p class="empty" id="no-executions">No executions yet: they appear here as agents start them.</p>"#);
    }
    body.push_str("</section>");
    let live = r#"<span id="live" class="live">connecting…</span>"#;
    page(
        shell,
        "Executions",
        &nav(Nav::Executions, live),
        &body,
        LIST_JS,
    )
}

/// The figures an execution page is rendered from; a change means it must be rendered again.
pub fn execution_key(e: &ExecutionRecord) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}",
        e.status.as_str(),
        e.calls,
        e.spent_nanos,
        e.overrun_nanos,
        e.budget_nanos.map_or(-1, |b| b as i128),
        e.updated_at_ms
    )
}

/// `/executions/{id}`: the report `wflo report` writes, with the navigation and a script that
/// re-renders it while the execution runs. The report's own Content-Security-Policy (no
/// script at all) gives way to the response header's, which allows this page's script only.
pub fn execution(
    shell: &Shell,
    engine: &Engine,
    id: &str,
) -> Result<String, crate::exit::CliError> {
    let data = crate::report::ReportData::load(engine, id)?;
    let report = crate::report::render(&data);
    let events = format!("/events?execution={}", data.execution.id);
    let live = live_badge(&events, &execution_key(&data.execution));
    Ok(decorate(&report, &nav(Nav::Execution, &live), shell.nonce))
}

/// Adds serve's stylesheet, navigation and script to a report page.
fn decorate(report: &str, nav: &str, nonce: &str) -> String {
    let mut page = report.to_owned();
    if let Some(start) = page.find(r#"<meta http-equiv="Content-Security-Policy""#)
        && let Some(len) = page[start..].find('>')
    {
        page.replace_range(start..start + len + 1, "");
    }
    if let Some(at) = page.find("</head>") {
        page.insert_str(at, &format!("<style>{CSS}</style>\n"));
    }
    if let Some(at) = page.find("<main>") {
        page.insert_str(at + "<main>".len(), &format!("\n{nav}"));
    }
    if let Some(at) = page.rfind("</body>") {
        page.insert_str(
            at,
            &format!("<script nonce=\"{nonce}\">{REFRESH_JS}</script>\n"),
        );
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(
            fill("a{{x}}b{{y}}c{{z}}", &[("x", "{{y}}"), ("y", "Y")]),
            "a{{y}}bYc{{z}}"
        );
        assert_eq!(fill("{{x", &[("x", "1")]), "{{x");
    }

    #[test]
    fn a_report_gets_the_script_and_loses_its_own_policy() {
        let report = "<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">\n<title>t</title></head><body><main>\n<p>x</p></main></body></html>";
        let page = decorate(report, "<nav>n</nav>", "abc");
        assert!(!page.contains("Content-Security-Policy"));
        assert!(page.contains("<main>\n<nav>n</nav>"));
        assert!(page.contains("<script nonce=\"abc\">"));
        assert!(page.find("<script").unwrap() > page.find("</main>").unwrap());
    }
}

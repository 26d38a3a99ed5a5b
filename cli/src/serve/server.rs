//! Connections and routes. One thread per connection (HTTP/1.1 keep-alive), at most
//! [`MAX_CONNECTIONS`] at once and [`MAX_STREAMS`] of them event streams; requests are read
//! with the mock server's parser and its limits on heads, and no body at all. Every answer carries the security headers:
//! a Content-Security-Policy that lets a page run only its own inline script (a fresh nonce
//! per response) and connect only to this server, `nosniff`, no referrer, no framing, no
//! caching.

use std::io::{self, BufReader};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use wflo_core::{ErrorCode, Usage};

use super::access::Access;
use super::pages::{self, Shell};
use super::stream::{self, View};
use super::watch::Watch;
use super::{prices, scopes};
use crate::exit::{self, CliError};
use crate::mock::http::{self, Request};

/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 256;
/// Event streams open at once (each holds a connection).
pub const MAX_STREAMS: usize = 64;
/// An idle keep-alive connection is closed after this long.
const IDLE: Duration = Duration::from_secs(30);
/// A client that takes longer than this to accept a write is dropped.
const WRITE: Duration = Duration::from_secs(10);
/// How stale the shared poll may be for a page or a scrape before it polls again.
const FRESH: Duration = Duration::from_millis(100);

/// What the server shares between connections.
pub struct App {
    pub watch: Arc<Watch>,
    pub access: Access,
    pub store: &'static str,
    pub connections: AtomicUsize,
    pub streams: AtomicUsize,
}

/// A failed request: the status and what to say.
struct Failure {
    status: u16,
    message: String,
}

impl From<wflo_core::Error> for Failure {
    fn from(e: wflo_core::Error) -> Failure {
        Failure {
            status: match e.code() {
                ErrorCode::NotFound | ErrorCode::UnknownModel => 404,
                ErrorCode::InvalidArgument => 400,
                ErrorCode::Storage => 503,
                _ => 500,
            },
            message: e.to_string(),
        }
    }
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Failure {
        Failure {
            status: match e.exit {
                exit::NOT_FOUND => 404,
                exit::STORAGE => 503,
                _ if e.message.starts_with("invalid argument") => 400,
                _ => 500,
            },
            message: e.message,
        }
    }
}

/// What a route answers.
enum Answer {
    Html(u16, String),
    Json(u16, String),
    Text(String),
    Events(View),
}

/// A counted slot; released on drop.
pub struct Slot<'a>(&'a AtomicUsize);

impl<'a> Slot<'a> {
    pub fn take(counter: &'a AtomicUsize, max: usize) -> Option<Slot<'a>> {
        let n = counter.fetch_add(1, Ordering::AcqRel);
        if n >= max {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(counter))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one connection until it closes.
pub fn connection(mut conn: TcpStream, app: &App) {
    let _ = conn.set_nodelay(true);
    let _ = conn.set_read_timeout(Some(IDLE));
    let _ = conn.set_write_timeout(Some(WRITE));
    let Some(_slot) = Slot::take(&app.connections, MAX_CONNECTIONS) else {
        let _ = respond(
            &mut conn,
            503,
            "text/plain; charset=utf-8",
            b"busy\n",
            None,
            &[("Connection", "close".into())],
        );
        return;
    };
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    loop {
        // Bodies only for decisions (a note and a name): anything larger is refused before
        // it is read.
        let req = match http::read_request_within(&mut reader, MAX_BODY) {
            Ok(http::Incoming::Request(r)) => r,
            Ok(http::Incoming::Refused { status, message }) => {
                let _ = http::refuse(&mut conn, status, &message);
                return;
            }
            Ok(http::Incoming::Closed) | Err(_) => return,
        };
        match handle(&mut conn, &req, app) {
            Ok(true) if !req.wants_close() => {}
            _ => return,
        }
    }
}

/// A fresh script nonce: 128 random bits.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: the pages still work, their scripts do not run.
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes an answer with the security headers; `nonce` allows that page's inline script.
fn respond(
    conn: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    nonce: Option<&str>,
    extra: &[(&str, String)],
) -> io::Result<()> {
    let mut headers = security_headers(nonce);
    headers.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    http::write_response(conn, status, content_type, body, &headers)
}

fn security_headers(nonce: Option<&str>) -> Vec<(&'static str, String)> {
    let csp = match nonce {
        Some(n) if !n.is_empty() => format!(
            "default-src 'none'; script-src 'nonce-{n}'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        _ => "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'".to_owned(),
    };
    vec![
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff".into()),
        ("Referrer-Policy", "no-referrer".into()),
        ("X-Frame-Options", "DENY".into()),
        ("Cross-Origin-Resource-Policy", "same-origin".into()),
        ("Cache-Control", "no-store".into()),
    ]
}

/// Answers one request; whether the connection may serve another.
fn handle(conn: &mut TcpStream, req: &Request, app: &App) -> io::Result<bool> {
    if let Err(status) = app
        .access
        .admit(req.header("authorization"), req.header("host"))
    {
        let (message, extra) = match status {
            401 => (
                "this server needs `Authorization: Bearer TOKEN`",
                vec![("WWW-Authenticate", "Bearer realm=\"wflo\"".to_owned())],
            ),
            _ => ("this server answers loopback host names only", Vec::new()),
        };
        let body = json!({"error": {"code": status, "message": message}}).to_string();
        respond(
            conn,
            status,
            "application/json",
            body.as_bytes(),
            None,
            &extra,
        )?;
        return Ok(true);
    }
    if req.method == "POST"
        && let Some((id, act)) = req
            .path
            .strip_prefix("/api/approvals/")
            .and_then(|rest| rest.rsplit_once('/'))
    {
        let (status, body) = match decide(req, app, &percent_decode(id), act) {
            Ok(v) => (200, v.to_string()),
            Err(f) => (
                f.status,
                json!({"error": {"code": f.status, "message": f.message}}).to_string(),
            ),
        };
        respond(conn, status, "application/json", body.as_bytes(), None, &[])?;
        return Ok(true);
    }
    if req.method != "GET" {
        let body = json!({"error": {"code": 405, "message": "only GET is served"}}).to_string();
        respond(
            conn,
            405,
            "application/json",
            body.as_bytes(),
            None,
            &[("Allow", "GET".into())],
        )?;
        return Ok(true);
    }
    let (path, query) = match req.path.split_once('?') {
        Some((p, q)) => (p, parse_query(q)),
        None => (req.path.as_str(), Vec::new()),
    };
    let nonce = nonce();
    let shell = Shell {
        store: app.store,
        nonce: &nonce,
    };
    let answer = route(path, &query, app, &shell);
    match answer {
        Answer::Html(status, page) => respond(
            conn,
            status,
            "text/html; charset=utf-8",
            page.as_bytes(),
            Some(&nonce),
            &[],
        )?,
        Answer::Json(status, body) => {
            respond(conn, status, "application/json", body.as_bytes(), None, &[])?
        }
        Answer::Text(body) => respond(
            conn,
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            body.as_bytes(),
            None,
            &[],
        )?,
        Answer::Events(view) => {
            let Some(_slot) = Slot::take(&app.streams, MAX_STREAMS) else {
                let body = json!({"error": {"code": 503, "message": "too many event streams"}})
                    .to_string();
                respond(conn, 503, "application/json", body.as_bytes(), None, &[])?;
                return Ok(true);
            };
            let _ = conn.set_read_timeout(None);
            let _ = stream::serve(conn, &app.watch, &view, &security_headers(None));
            return Ok(false);
        }
    }
    Ok(true)
}

fn route(path: &str, query: &[(String, String)], app: &App, shell: &Shell) -> Answer {
    let engine = &app.watch.engine;
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let html = |r: Result<String, Failure>| match r {
        Ok(page) => Answer::Html(200, page),
        Err(f) => Answer::Html(f.status, pages::error_page(shell, f.status, &f.message)),
    };
    let api = |r: Result<serde_json::Value, Failure>| match r {
        Ok(v) => Answer::Json(200, v.to_string()),
        Err(f) => Answer::Json(
            f.status,
            json!({"error": {"code": f.status, "message": f.message}}).to_string(),
        ),
    };
    if let Some(id) = path.strip_prefix("/executions/") {
        let id = percent_decode(id);
        return html(pages::execution(shell, engine, &id).map_err(Failure::from));
    }
    if let Some(id) = path.strip_prefix("/api/executions/") {
        let id = percent_decode(id);
        return api(execution_json(engine, &id).map_err(Failure::from));
    }
    if let Some(model) = path.strip_prefix("/api/prices/") {
        let model = percent_decode(model);
        return api(prices::json(engine, &model).map_err(Failure::from));
    }
    match path {
        "/" => Answer::Html(200, pages::executions(shell, &app.watch.refresh(FRESH))),
        "/events" => Answer::Events(View::from_query(query)),
        "/scopes" => Answer::Html(200, scopes::render(shell, &app.watch.refresh(FRESH))),
        "/approvals" => html(super::approvals::render(shell, engine).map_err(Failure::from)),
        "/breakers" => html(super::breakers::render(shell, engine).map_err(Failure::from)),
        "/api/breakers" => api(super::breakers::json(engine).map_err(Failure::from)),
        "/api/approvals" => {
            api(super::approvals::json(engine, get("all").is_some()).map_err(Failure::from))
        }
        "/prices" => {
            let n = |k: &str, default: u64| {
                get(k)
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(default)
            };
            let usage = Usage {
                input: n("input", 1_000),
                output: n("output", 1_000),
                ..Default::default()
            };
            let (status, page) = prices::render(shell, engine, get("model"), &usage);
            Answer::Html(status, page)
        }
        "/api/executions" => {
            let limit = get("limit")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(100)
                .min(super::watch::WATCHED);
            api(engine
                .list_executions(limit)
                .map(|l| json!(l))
                .map_err(Failure::from))
        }
        "/api/scopes" => api(Ok(scopes::json(&app.watch.refresh(FRESH)))),
        "/metrics" => {
            // A scrape always reads the store: what it returns is what the store holds.
            let snap = app.watch.refresh(Duration::ZERO);
            let mut text = app.watch.metrics.render();
            if let Some(w) = &app.watch.webhook {
                text.push_str(&w.metrics_text());
            }
            text.push_str(&format!(
                "# HELP wflo_serve_store_up Whether serve's last read of the store succeeded.\n# TYPE wflo_serve_store_up gauge\nwflo_serve_store_up {}\n",
                u8::from(snap.error.is_none())
            ));
            Answer::Text(text)
        }
        _ => html(Err(Failure {
            status: 404,
            message: format!("nothing is served at {path}"),
        })),
    }
}

/// The largest request body taken (an approval decision's JSON).
const MAX_BODY: usize = 8 * 1024;

/// `POST /api/approvals/{id}/approve|deny` with a JSON body `{"note"?, "by"?}`: decides a
/// pending approval. Only a JSON request is taken (a cross-site form cannot send one), and
/// when the browser names the page's origin it must be this server.
fn decide(req: &Request, app: &App, id: &str, act: &str) -> Result<serde_json::Value, Failure> {
    let fail = |status: u16, message: &str| Failure {
        status,
        message: message.to_owned(),
    };
    let approve = match act {
        "approve" => true,
        "deny" => false,
        _ => return Err(fail(404, "approvals are decided with /approve or /deny")),
    };
    let json_body = req.header("content-type").is_some_and(|c| {
        c.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if !json_body {
        return Err(fail(
            415,
            "a decision is a JSON request (Content-Type: application/json)",
        ));
    }
    if let (Some(origin), Some(host)) = (req.header("origin"), req.header("host"))
        && origin != format!("http://{host}")
    {
        return Err(fail(
            403,
            "a decision must come from this server's own pages",
        ));
    }
    let body: serde_json::Value = if req.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| fail(400, &format!("the body is not JSON: {e}")))?
    };
    let text = |k: &str| body.get(k).and_then(|v| v.as_str());
    let decided = app
        .watch
        .engine
        .decide_approval(id, approve, text("by"), text("note"))
        .map_err(|e| {
            let conflict = e.code() == ErrorCode::Conflict;
            let mut f = Failure::from(e);
            if conflict {
                f.status = 409;
            }
            f
        })?;
    Ok(json!(decided))
}

/// `/api/executions/{id}`: the execution as `wflo show --json` reads it.
fn execution_json(engine: &wflo_core::Engine, id: &str) -> wflo_core::Result<serde_json::Value> {
    Ok(json!({
        "execution": engine.execution(id)?,
        "breakdown": engine.breakdown(id)?,
        "calls": engine.calls(id)?,
        "checkpoints": engine.checkpoints(id)?,
        "rollbacks": engine.rollbacks(id)?,
    }))
}

/// `a=1&b=x+y` → pairs, decoded.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// `%XX` escapes decoded (invalid ones kept as they are; invalid UTF-8 replaced).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_paths_decode() {
        assert_eq!(percent_decode("openai%2Fgpt-4o"), "openai/gpt-4o");
        assert_eq!(percent_decode("%3Cb%3E%"), "<b>%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            parse_query("model=a+b%26c&input=5&x"),
            vec![
                ("model".to_owned(), "a b&c".to_owned()),
                ("input".to_owned(), "5".to_owned()),
                ("x".to_owned(), String::new())
            ]
        );
    }
}

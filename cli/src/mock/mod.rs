//! `wflo mock-llm`: an HTTP server that speaks OpenAI's, Anthropic's and Gemini's real wire formats on
//! 127.0.0.1, so the official client libraries work against it unchanged — with real usage
//! (the prompt counted by wflo's tokenizer) and, on request, the faults that reliability tests
//! need (see [`directives`]). `GET /__mock/stats` tells how many requests it served.
//!
//! Limits (constants in `http`), so that no client can make a connection buffer without
//! bound — each far above what a client library sends:
//!
//! | limit | value | over it |
//! | --- | --- | --- |
//! | request line or one header line (CRLF not counted) | 16 KiB | `431` |
//! | header lines per request (and trailers per chunked body) | 100 | `431` |
//! | whole request head | 64 KiB | `431` |
//! | body (Content-Length or chunked) | 64 MiB | `413`, before any of it is read |
//!
//! A refusal is a small JSON error with `Connection: close`; the server then reads nothing more
//! from that connection (at most the limit plus one 8 KiB read buffer of it was taken) and
//! closes it. Other connections are served as usual.

mod anthropic;
pub mod directives;
mod gemini;
pub(crate) mod http;
mod openai;
mod reply;
mod stats;

use std::io::{self, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use directives::{Directives, split_path};
use stats::Stats;

/// A running mock server.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    stats: Stats,
    /// Requests seen per directive text, for `fail` and `fail_rate`.
    seen: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    next_id: AtomicU64,
    stop: AtomicBool,
}

impl MockServer {
    /// Starts on `host:port` (port 0 picks a free one). Refuses non-loopback hosts unless
    /// `allow_remote`: the mock answers anyone who can reach it.
    pub fn start(host: &str, port: u16, allow_remote: bool) -> io::Result<MockServer> {
        let ip: IpAddr = host.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{host}' is not an IP address"),
            )
        })?;
        if !ip.is_loopback() && !allow_remote {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to listen on {ip}: the mock server binds to loopback only (pass --allow-remote to override)"
                ),
            ));
        }
        let listener = TcpListener::bind((ip, port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stats: Stats::default(),
            seen: Default::default(),
            next_id: AtomicU64::new(1),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wflo-mock-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let s = s.clone();
                    let _ = std::thread::Builder::new()
                        .name("wflo-mock-conn".into())
                        .spawn(move || serve(conn, &s));
                }
            })?;
        Ok(MockServer {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL for OpenAI-style clients (`http://127.0.0.1:PORT/v1`).
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL for Anthropic-style clients (`http://127.0.0.1:PORT`).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL for Gemini clients (`http://127.0.0.1:PORT`: the Gen AI SDKs add
    /// `/v1beta/models/{model}:generateContent` to it).
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far, by kind (`chat.completions`, `messages`, `total`, …).
    pub fn stats_json(&self) -> String {
        self.shared.stats.to_json()
    }

    /// Stops accepting connections.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(conn: TcpStream, shared: &Shared) {
    let _ = conn.set_nodelay(true);
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut conn = conn;
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(http::Incoming::Request(r)) => r,
            Ok(http::Incoming::Refused { status, message }) => {
                let _ = http::refuse(&mut conn, status, &message);
                return;
            }
            Ok(http::Incoming::Closed) | Err(_) => return,
        };
        let close = req.wants_close();
        let kept = handle(&mut conn, &req, shared).unwrap_or(false);
        if close || !kept {
            return;
        }
    }
}

/// Handles one request; returns whether the connection may serve another.
fn handle(conn: &mut TcpStream, req: &http::Request, shared: &Shared) -> io::Result<bool> {
    let (path_directives, path) = split_path(&req.path);
    let path = path.split('?').next().unwrap_or(path);
    match (req.method.as_str(), path) {
        ("GET", "/__mock/stats") => {
            http::write_json(conn, 200, &shared.stats.to_json(), &[])?;
            return Ok(true);
        }
        ("POST", "/__mock/reset") => {
            shared.stats.reset();
            http::write_json(conn, 200, "{}", &[])?;
            return Ok(true);
        }
        ("GET", "/v1/models") => {
            shared.stats.count("models");
            openai::models(conn)?;
            return Ok(true);
        }
        _ => {}
    }
    let gemini_route = match req.method.as_str() {
        "POST" => gemini::route(path),
        _ => None,
    };
    let kind = match (req.method.as_str(), path) {
        _ if gemini_route.is_some() => gemini_route.map_or("", |(_, m)| m.kind()),
        ("POST", "/v1/chat/completions" | "/chat/completions") => "chat.completions",
        ("POST", "/v1/responses" | "/responses") => "responses",
        ("POST", "/v1/messages" | "/messages") => "messages",
        _ => {
            http::write_json(
                conn,
                404,
                r#"{"error":{"message":"not found","type":"invalid_request_error"}}"#,
                &[],
            )?;
            return Ok(true);
        }
    };
    let anthropic = kind == "messages";
    let err = |conn: &mut TcpStream, status: u16, msg: &str, retry: Option<Vec<_>>| {
        if gemini_route.is_some() {
            gemini::error(conn, status, msg, retry)
        } else if anthropic {
            anthropic::error(conn, status, msg, retry)
        } else {
            openai::error(conn, status, msg, retry)
        }
    };
    shared.stats.count(kind);
    let d = match Directives::from_request(path_directives, req.header("x-mock")) {
        Ok(d) => d,
        Err(msg) => {
            err(conn, 400, &msg, None)?;
            return Ok(true);
        }
    };
    if let Some(latency) = d.latency {
        std::thread::sleep(latency);
    }
    let nth = if d.counted() {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen.entry(d.text.clone()).or_insert(0);
        *n += 1;
        *n
    } else {
        1
    };
    if let Some(status) = d.failure(nth) {
        shared.stats.tag(&format!("status.{status}"));
        err(
            conn,
            status,
            &format!("mock {status} as requested"),
            d.retry_headers(),
        )?;
        return Ok(true);
    }
    let body: serde_json::Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            err(conn, 400, &format!("request body is not JSON: {e}"), None)?;
            return Ok(true);
        }
    };
    // Gemini streams by its method, the others by `stream: true` in the body.
    let streaming = match gemini_route {
        Some((_, method)) => method == gemini::Method::Stream,
        None => body
            .get("stream")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    };
    if streaming {
        shared.stats.tag(&format!("{kind}.stream"));
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    match (gemini_route, kind) {
        (Some((model, method)), _) => gemini::serve(conn, model, method, &body, &d, id)?,
        (None, "chat.completions") => openai::chat(conn, &body, &d, id)?,
        (None, "responses") => openai::responses(conn, &body, &d, id)?,
        (None, _) => anthropic::messages(conn, &body, &d, id)?,
    }
    // A reset connection is gone; a finished stream may serve the next request.
    Ok(d.reset_after.is_none())
}

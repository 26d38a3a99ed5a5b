//! `wflo mock-llm` refuses oversize requests — too many header lines, a header line or request
//! line too long, a head too large (431), a body too large (413) — answers them with a JSON
//! error and `Connection: close`, stops reading from that client, and goes on serving everyone
//! else. Each test runs the real binary and talks to it over a socket.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

mod common;

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;

/// `wflo mock-llm --port 0`, killed when dropped.
struct Mock {
    child: Child,
    addr: String,
}

impl Mock {
    fn start() -> Mock {
        let (child, url) = common::mock_llm();
        let addr = url.strip_prefix("http://").unwrap().to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "{url}");
        Mock { child, addr }
    }

    /// A normal chat completion on a new connection, through a real HTTP client: it must
    /// succeed with usage.
    fn chat_still_works(&self) {
        let mut resp = ureq::post(&format!("http://{}/v1/chat/completions", self.addr))
            .header("content-type", "application/json")
            .send(CHAT)
            .unwrap();
        assert_eq!(resp.status(), 200);
        let j: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(j["usage"]["prompt_tokens"], 8, "{j}");
        assert!(j["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{j}");
    }

    fn stats(&self) -> Value {
        let mut resp = ureq::get(&format!("http://{}/__mock/stats", self.addr))
            .call()
            .unwrap();
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the server answered to `request` sent on a new connection, read until it closed.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A refusal: `status`, `Connection: close`, a JSON error whose message contains `needle`.
    fn assert_refused(&self, status: u16, code: &str, needle: &str) {
        assert_eq!(self.status, status, "{}\n\n{}", self.head, self.body);
        assert_eq!(self.header("connection"), Some("close"), "{}", self.head);
        let j = self.json();
        assert_eq!(j["error"]["code"], code, "{j}");
        let message = j["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "'{needle}' not in '{message}'");
    }
}

/// Sends `request` on a new connection from another thread (the server may stop reading long
/// before the request is all sent) and reads the answer until the server closes. Waiting for
/// the close is part of the test: a server that kept reading would never answer.
fn send(mock: &Mock, request: Vec<u8>) -> Answer {
    let conn = TcpStream::connect(&mock.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // The server may close (and reset) the connection before all of it is written.
        let _ = writer.write_all(&request);
    });
    let mut raw = Vec::new();
    let mut reader = &conn;
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the answer (the server closed with our bytes unread) ends it too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => break,
            Err(e) => panic!("no answer: {e} (read so far: {raw:?})"),
        }
    }
    let _ = conn.shutdown(Shutdown::Both);
    sender.join().unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// A chat-completions request with `headers` (each `Name: value`) after `Host`, and `Connection:
/// close` so that the server closes after answering.
fn chat_request(headers: &[String]) -> Vec<u8> {
    let mut r = String::from("POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{CHAT}",
        CHAT.len()
    ));
    r.into_bytes()
}

fn filler(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("X-Filler-{i}: v")).collect()
}

#[test]
fn ten_thousand_headers_get_431_and_the_next_request_is_served() {
    let mock = Mock::start();
    let answer = send(&mock, chat_request(&filler(10_000)));
    answer.assert_refused(431, "request_header_fields_too_large", "100 header lines");
    assert!(
        answer
            .head
            .starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );
    mock.chat_still_works();
    // The refused request never reached the chat handler.
    assert_eq!(mock.stats()["chat.completions"], 1);
}

#[test]
fn a_one_megabyte_header_line_gets_431_and_the_next_request_is_served() {
    let mock = Mock::start();
    let big = format!("X-Big: {}", "a".repeat(1_000_000));
    let answer = send(&mock, chat_request(&[big]));
    answer.assert_refused(431, "request_header_fields_too_large", "longer than 16384");
    mock.chat_still_works();
    assert_eq!(mock.stats()["chat.completions"], 1);
}

#[test]
fn the_limits_are_exact_a_request_at_each_limit_is_served() {
    let mock = Mock::start();
    // 100 header lines in all: Host, 95 fillers, Content-Type, Content-Length, Connection —
    // and one more.
    let ok = send(&mock, chat_request(&filler(96)));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["usage"]["prompt_tokens"], 8);
    send(&mock, chat_request(&filler(97))).assert_refused(
        431,
        "request_header_fields_too_large",
        "more than 100 header lines",
    );
    // A header line of exactly 16 KiB, then one byte more.
    let line = |len: usize| format!("X-Long: {}", "b".repeat(len - "X-Long: ".len()));
    let ok = send(&mock, chat_request(&[line(16 * 1024)]));
    assert_eq!(ok.status, 200, "{}", ok.body);
    send(&mock, chat_request(&[line(16 * 1024 + 1)])).assert_refused(
        431,
        "request_header_fields_too_large",
        "longer than 16384",
    );
    // Lines each within 16 KiB, but more than 64 KiB of them.
    let lines: Vec<String> = (0..5).map(|_| line(15_000)).collect();
    send(&mock, chat_request(&lines)).assert_refused(
        431,
        "request_header_fields_too_large",
        "larger than 65536",
    );
    let lines: Vec<String> = (0..4).map(|_| line(15_000)).collect();
    assert_eq!(send(&mock, chat_request(&lines)).status, 200);
    assert_eq!(mock.stats()["chat.completions"], 3);
}

#[test]
fn a_request_line_over_16_kib_gets_431() {
    let mock = Mock::start();
    let request = format!(
        "GET /v1/models?q={} HTTP/1.1\r\nHost: mock\r\n\r\n",
        "c".repeat(20_000)
    );
    send(&mock, request.into_bytes()).assert_refused(
        431,
        "request_header_fields_too_large",
        "longer than 16384",
    );
    mock.chat_still_works();
}

#[test]
fn a_header_line_without_end_is_cut_off_not_buffered() {
    let mock = Mock::start();
    let conn = TcpStream::connect(&mock.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    // Up to 512 MiB of one header line, 1 MiB a write: a server that buffered it all would
    // take every byte; one that stops reading makes the writes fail long before.
    let (done, written) = mpsc::channel();
    std::thread::spawn(move || {
        let chunk = vec![b'd'; 1 << 20];
        let mut sent = 0usize;
        let _ = writer.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nX-Endless: ");
        while sent < 512 << 20 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        let _ = done.send(sent);
    });
    let sent = written
        .recv_timeout(Duration::from_secs(60))
        .expect("the server should have stopped reading");
    assert!(
        sent < 256 << 20,
        "the server read {} MiB of one header line",
        sent >> 20
    );
    mock.chat_still_works();
}

#[test]
fn a_body_over_the_limit_gets_413_before_it_is_sent() {
    let mock = Mock::start();
    // Only the head is sent: the answer must not wait for 100 MB of body.
    let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
    send(&mock, request.into()).assert_refused(413, "request_too_large", "larger than 67108864");
    // A chunk size near usize::MAX must not overflow the running total.
    let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"model\":\"x\"}   \r\nffffffffffffffff\r\n";
    send(&mock, request.into()).assert_refused(413, "request_too_large", "larger than 67108864");
    mock.chat_still_works();
}

#[test]
fn a_chunked_request_with_trailers_is_served_and_the_connection_kept() {
    let mock = Mock::start();
    let (a, b) = CHAT.split_at(20);
    let one = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n",
        a.len(),
        b.len()
    );
    // Two requests on one connection: the trailer must be consumed, not taken for the next
    // request line.
    let mut request = one.clone().into_bytes();
    request.extend_from_slice(&chat_request(&[]));
    let answer = send(&mock, request);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body.matches("HTTP/1.1 200 OK").count(),
        1,
        "two answers expected: {}",
        answer.body
    );
    assert_eq!(mock.stats()["chat.completions"], 2);
}

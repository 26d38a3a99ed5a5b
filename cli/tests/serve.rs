//! `wflo serve`: the real binary over a SQLite file that this test writes through the engine
//! while it runs. The JSON API and `/metrics` equal what the engine recorded, to the nano-USD;
//! hostile names render as text on every page; binds and tokens are enforced; alerts reach a
//! webhook (retried after a 500, each threshold once, in order); the event stream sends an
//! event after a call is recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wflo_core::store::Period;
use wflo_core::{CallRequest, Engine, Execution, ExecutionOptions, Usage};

mod common;

/// `wflo serve --port 0 …` over `db`, killed when dropped.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start(db: &Path, extra: &[&str]) -> Serve {
        Serve::start_url(db.to_str().unwrap(), extra)
    }

    fn start_url(db: &str, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wflo"))
            .args(["serve", "--port", "0", "--poll-ms", "100", "--db", db])
            .args(extra)
            .env_remove("WFLO_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .env_remove("WFLO_PRICES")
            .env_remove("WFLO_SERVE_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("wflo serve listening on http://")
            .unwrap_or_else(|| panic!("banner: {line:?}"))
            .to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "{line}");
        Serve { child, addr }
    }

    fn get(&self, path: &str) -> Answer {
        self.request(path, &[])
    }

    fn request(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.request_method("GET", path, headers)
    }

    fn request_method(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut conn = TcpStream::connect(&self.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        conn.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        Answer {
            status: head.split(' ').nth(1).unwrap().parse().unwrap(),
            head: head.to_owned(),
            body: body.to_owned(),
        }
    }

    fn json(&self, path: &str) -> Value {
        let a = self.get(path);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.json()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
}

fn store() -> (tempfile::TempDir, PathBuf, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let engine = Engine::open(Some(db.to_str().unwrap())).unwrap();
    (dir, db, engine)
}

/// A model costing exactly 1,000 nano-USD per input token (nothing for output): spend is
/// easy to place on a threshold.
const FLAT: &str = "flat-model";

fn price_flat(engine: &Engine) {
    engine
        .set_prices_json(
            &json!({"models": [{"name": FLAT, "input": 1_000_000, "output": 0}]}).to_string(),
        )
        .unwrap();
}

/// Records one settled call and flushes it to the store; its cost.
fn call(
    exec: &Execution,
    engine: &Engine,
    step: &str,
    model: &str,
    input: u64,
    output: u64,
) -> u64 {
    // "" is the execution's own scope.
    let scope = if step.is_empty() {
        exec.root()
    } else {
        exec.scope(step, None).unwrap()
    };
    let mut r = scope
        .reserve(&CallRequest {
            model,
            input_tokens: input,
            input_estimated: Some(false),
            max_output_tokens: Some(output.max(1)),
            ..Default::default()
        })
        .unwrap();
    let record = r
        .settle(Usage {
            input,
            output,
            ..Default::default()
        })
        .unwrap();
    engine.flush().unwrap();
    record.cost_nanos
}

/// A call that the budget refuses (recorded as refused, nothing sent).
fn refused(exec: &Execution, engine: &Engine, step: &str, model: &str) {
    let scope = exec.scope(step, None).unwrap();
    let e = scope
        .reserve(&CallRequest {
            model,
            input_tokens: 1_000_000,
            max_output_tokens: Some(100_000),
            ..Default::default()
        })
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(e.code(), wflo_core::ErrorCode::BudgetExceeded, "{e}");
    engine.flush().unwrap();
}

fn start(engine: &Engine, name: &str, budget: Option<u64>, shared: &[&str]) -> Execution {
    engine
        .start_execution(ExecutionOptions {
            name: name.into(),
            budget_nanos: budget,
            shared_scopes: shared.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
}

/// Exact nano-USD from the exposition's decimal USD (`0.000123000`).
fn nanos(text: &str) -> u64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac = format!("{frac:0<9}");
    whole.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap()
}

/// The sum of a metric family's samples (counters in USD summed exactly).
fn metric_sum(text: &str, name: &str, usd: bool) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .map(|l| {
            let v = l.rsplit(' ').next().unwrap();
            if usd { nanos(v) } else { v.parse().unwrap() }
        })
        .sum()
}

#[test]
fn the_api_and_metrics_equal_what_the_engine_recorded() {
    let (_dir, db, engine) = store();
    let a = start(&engine, "research", Some(50_000_000), &[]);
    let mut spent_a = 0;
    for (model, input, output) in [
        ("gpt-4o-mini", 1_200, 300),
        ("gpt-4o", 800, 120),
        ("gpt-4o-mini", 50, 7),
    ] {
        spent_a += call(&a, &engine, "plan", model, input, output);
    }
    refused(&a, &engine, "write", "claude-sonnet-4-6");
    let b = start(&engine, "unbudgeted", None, &[]);
    let spent_b = call(&b, &engine, "", "claude-sonnet-4-6", 3_000, 900);
    b.finish(wflo_core::ExecutionStatus::Completed).unwrap();
    engine.flush().unwrap();

    let serve = Serve::start(&db, &[]);
    let list = serve.json("/api/executions");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for e in list {
        let id = e["id"].as_str().unwrap();
        let stored = engine.execution(id).unwrap();
        assert_eq!(e, &serde_json::to_value(&stored).unwrap(), "{id}");
    }
    let one = serve.json(&format!("/api/executions/{}", a.id()));
    assert_eq!(one["breakdown"]["total_nanos"], spent_a);
    assert_eq!(one["breakdown"]["refused_calls"], 1);
    assert_eq!(one["execution"]["spent_nanos"], spent_a);
    let calls = engine.calls(a.id()).unwrap();
    assert_eq!(one["calls"], serde_json::to_value(&calls).unwrap());
    assert_eq!(
        one["breakdown"],
        serde_json::to_value(engine.breakdown(a.id()).unwrap()).unwrap()
    );
    assert_eq!(serve.get("/api/executions/exec-000000000000").status, 404);
    assert_eq!(serve.get("/api/executions/nonsense").status, 400);

    // Prices: the same document as `wflo price --json`.
    let api = serve.json("/api/prices/openai%2Fgpt-4o-2024-08-06");
    assert_eq!(
        api,
        common::json(&["price", "openai/gpt-4o-2024-08-06", "--json"])
    );
    assert_eq!(serve.get("/api/prices/no-such-model-xyz").status, 404);

    // /metrics: the cost counter is the spend to the nano-USD; a scrape never counts twice.
    let text = serve.get("/metrics").body;
    assert_eq!(
        metric_sum(&text, "wflo_cost_usd_total", true),
        spent_a + spent_b,
        "{text}"
    );
    assert_eq!(metric_sum(&text, "wflo_refusals_total", false), 1);
    assert_eq!(metric_sum(&text, "wflo_calls_total", false), 5);
    assert!(text.contains("wflo_serve_store_up 1"));
    // Bounded labels: the execution's budget gauge is labelled by its workflow, no id anywhere.
    assert!(
        text.contains(r#"wflo_budget_remaining_usd{scope_kind="execution",scope="research"}"#),
        "{text}"
    );
    assert!(!text.contains("exec-"), "{text}");
    let more = call(&a, &engine, "plan", "gpt-4o-mini", 10_000, 2_000);
    for _ in 0..2 {
        let text = serve.get("/metrics").body;
        assert_eq!(
            metric_sum(&text, "wflo_cost_usd_total", true),
            spent_a + spent_b + more
        );
        assert_eq!(metric_sum(&text, "wflo_calls_total", false), 6);
    }
}

/// The hostile strings, as stored, and what must never appear raw in a page.
const HOSTILE_NAME: &str = "<script>alert(1)</script>";
const HOSTILE_STEP: &str = r#""><img src=x onerror=alert(2)>'"#;
const HOSTILE_MODEL: &str = "gpt-<b onmouseover=alert(3)>4o</b>";
const HOSTILE_SCOPE: &str = "team:<svg onload=alert(4)>'\"";

#[test]
fn hostile_names_render_as_text_on_every_page() {
    let (_dir, db, engine) = store();
    engine
        .set_prices_json(
            &json!({"models": [{"name": HOSTILE_MODEL, "input": 150_000, "output": 600_000}]})
                .to_string(),
        )
        .unwrap();
    engine
        .define_shared_scope(HOSTILE_SCOPE, Some(1_000_000_000), Period::Day)
        .unwrap();
    let exec = start(&engine, HOSTILE_NAME, Some(100_000_000), &[HOSTILE_SCOPE]);
    call(&exec, &engine, HOSTILE_STEP, HOSTILE_MODEL, 2_000, 400);
    // A shared breaker with a hostile name, tripped: on /breakers and the execution's page.
    engine
        .breaker(
            HOSTILE_NAME,
            Some(wflo_core::resilience::BreakerConfig {
                failure_threshold: 1,
                shared: true,
                ..Default::default()
            }),
        )
        .unwrap()
        .record_failure()
        .unwrap();
    let serve = Serve::start(&db, &["--scope", HOSTILE_SCOPE]);
    let encoded: String = HOSTILE_MODEL.bytes().map(|b| format!("%{b:02X}")).collect();
    let pages = [
        "/".to_owned(),
        format!("/executions/{}", exec.id()),
        "/scopes".to_owned(),
        "/breakers".to_owned(),
        format!("/prices?model={encoded}"),
        "/prices?model=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
        "/no/such/%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
    ];
    for path in &pages {
        let a = serve.get(path);
        assert!(matches!(a.status, 200 | 404), "{path}: {}", a.status);
        let csp = a
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(
            csp.starts_with("default-src 'none'; script-src 'nonce-"),
            "{path}: {csp}"
        );
        assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap();
        assert_eq!(nonce.len(), 32, "{csp}");
        for raw in [
            HOSTILE_NAME,
            HOSTILE_STEP,
            HOSTILE_MODEL,
            HOSTILE_SCOPE,
            "<img",
            "<svg onload",
            "<b onmouseover",
        ] {
            assert!(!a.body.contains(raw), "{path}: {raw} appears raw");
        }
        // One script, ours, carrying this response's nonce; nothing loaded from anywhere.
        assert_eq!(a.body.matches("<script").count(), 1, "{path}");
        assert!(
            a.body.contains(&format!("<script nonce=\"{nonce}\">")),
            "{path}"
        );
        for fetch in [
            "<link",
            "<iframe",
            "<object",
            "http-equiv=\"Content-Security-Policy\"",
        ] {
            assert!(!a.body.contains(fetch), "{path}: {fetch}");
        }
    }
    let list = serve.get("/").body;
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{list}"
    );
    let report = serve.get(&format!("/executions/{}", exec.id())).body;
    assert!(report.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;"));
    assert!(report.contains("gpt-&lt;b onmouseover=alert(3)&gt;4o&lt;/b&gt;"));
    let scopes = serve.get("/scopes").body;
    assert!(
        scopes.contains("team:&lt;svg onload=alert(4)&gt;&#39;&quot;"),
        "{scopes}"
    );
    let breakers = serve.get("/breakers").body;
    assert!(
        breakers.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{breakers}"
    );
    let price = serve.get(&pages[4]).body;
    // Serve's engine has no price for it: the page says so, the name escaped.
    assert!(
        price.contains("gpt-&lt;b onmouseover=alert(3)&gt;4o&lt;/b&gt;"),
        "{price}"
    );
    // The JSON API carries them as data.
    let api = serve.json("/api/executions");
    assert_eq!(api[0]["name"], HOSTILE_NAME);
    assert_eq!(
        serve.json("/api/scopes")["scopes"][0]["name"],
        HOSTILE_SCOPE
    );
}

#[test]
fn scopes_show_their_period_figures_and_refusals() {
    let (_dir, db, engine) = store();
    price_flat(&engine);
    engine
        .define_shared_scope("tenant:acme", Some(5_000_000), Period::Month)
        .unwrap();
    let exec = start(&engine, "tenant-work", None, &["tenant:acme"]);
    let spent = call(&exec, &engine, "a", FLAT, 3_000, 0);
    let e = exec
        .scope("b", None)
        .unwrap()
        .reserve(&CallRequest {
            model: FLAT,
            input_tokens: 4_000,
            max_output_tokens: Some(1),
            ..Default::default()
        })
        .map(|_| ())
        .unwrap_err();
    // What serve matches refusals by: the scope's row for the period, as core words it.
    let figures = engine.shared_scope("tenant:acme").unwrap();
    assert!(
        e.to_string()
            .starts_with(&format!("budget exceeded on scope '{}':", figures.key)),
        "{e}"
    );
    engine.flush().unwrap();
    let serve = Serve::start(
        &db,
        &["--scope", "tenant:acme", "--scope", "undefined-scope"],
    );
    let scopes = serve.json("/api/scopes");
    let acme = &scopes["scopes"][0];
    assert_eq!(acme["figures"], serde_json::to_value(&figures).unwrap());
    assert_eq!(acme["figures"]["spent_nanos"], spent);
    assert_eq!(acme["figures"]["limit_nanos"], 5_000_000);
    assert_eq!(acme["refusals"], 1, "{scopes}");
    assert!(!acme["samples"].as_array().unwrap().is_empty());
    assert!(scopes["scopes"][1]["error"].as_str().is_some(), "{scopes}");
    let page = serve.get("/scopes").body;
    assert!(page.contains("$0.003") && page.contains("$0.005"), "{page}");
    assert!(page.contains("class=\"scope-burn\""));
    let text = serve.get("/metrics").body;
    assert!(
        text.contains(
            r#"wflo_budget_remaining_usd{scope_kind="shared",scope="tenant:acme"} 0.002000000"#
        ),
        "{text}"
    );
}

#[test]
fn without_scope_flags_every_shared_scope_the_store_defines_is_shown() {
    let (_dir, db, engine) = store();
    for name in ["team:b", "team:a"] {
        engine
            .define_shared_scope(name, Some(5_000_000), Period::Day)
            .unwrap();
    }
    engine.flush().unwrap();
    let serve = Serve::start(&db, &[]);
    let scopes = serve.json("/api/scopes");
    let names: Vec<&str> = scopes["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team:a", "team:b"], "{scopes}");
    // One defined while serve runs appears at the next poll.
    engine
        .define_shared_scope("team:c", Some(1_000_000), Period::None)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let scopes = serve.json("/api/scopes");
        if scopes["scopes"].as_array().unwrap().len() == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{scopes}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `wflo serve ARGS`, which must end (within 10 s) with a usage error naming `needle`.
fn refused_to_start(args: &[&str], needle: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wflo"))
        .arg("serve")
        .args(args)
        .args(["--port", "0", "--db", "memory://"])
        .env_remove("WFLO_SERVE_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("wflo serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn a_non_loopback_bind_needs_allow_remote_and_a_token() {
    refused_to_start(&["--bind", "0.0.0.0"], "refusing to listen on 0.0.0.0");
    refused_to_start(
        &["--bind", "0.0.0.0", "--token", "s3cret"],
        "--allow-remote",
    );
    refused_to_start(&["--bind", "0.0.0.0", "--allow-remote"], "needs --token");
    refused_to_start(&["--bind", "::"], "loopback only");
    refused_to_start(&["--bind", "example.org"], "not an IP address");
    refused_to_start(&["--thresholds", "80,50"], "--thresholds");
}

#[test]
fn the_token_is_enforced_and_loopback_host_names_are_required() {
    let (_dir, db, engine) = store();
    let exec = start(&engine, "t", None, &[]);
    call(&exec, &engine, "", "gpt-4o-mini", 10, 10);
    let serve = Serve::start(
        &db,
        &[
            "--allow-remote",
            "--bind",
            "127.0.0.1",
            "--token",
            "s3cret-token",
        ],
    );
    for path in [
        "/",
        "/api/executions",
        "/metrics",
        "/events",
        "/scopes",
        "/breakers",
        "/api/breakers",
        "/nowhere",
    ] {
        let a = serve.get(path);
        assert_eq!(a.status, 401, "{path}");
        assert_eq!(a.header("www-authenticate"), Some("Bearer realm=\"wflo\""));
        for wrong in [
            "Bearer s3cret-toke",
            "Bearer s3cret-token2",
            "Basic s3cret-token",
            "s3cret-token",
        ] {
            assert_eq!(
                serve.request(path, &[("Authorization", wrong)]).status,
                401,
                "{path} {wrong}"
            );
        }
    }
    for path in ["/", "/api/executions", "/metrics", "/scopes"] {
        let a = serve.request(path, &[("Authorization", "Bearer s3cret-token")]);
        assert_eq!(a.status, 200, "{path}");
    }
    // No request body is read, asked for with a token or not.
    let mut conn = TcpStream::connect(&serve.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let post = serve.request_method("POST", "/", &[("Authorization", "Bearer s3cret-token")]);
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
    // Without a token: loopback host names only (a rebound DNS name is refused).
    let open = Serve::start(&db, &[]);
    assert_eq!(
        open.request("/", &[("Host", "evil.example:8766")]).status,
        403
    );
    assert_eq!(
        open.request("/api/executions", &[("Host", "localhost")])
            .status,
        200
    );
    assert_eq!(open.get("/").status, 200);
}

/// A webhook receiver on loopback: answers each POST with the next status of `statuses` (then
/// 200) and hands over the bodies.
fn receiver(statuses: Vec<u16>) -> (String, mpsc::Receiver<(u16, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            let mut head = Vec::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap();
                }
                head.push(line.clone());
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            assert!(head[0].starts_with("POST /hook "), "{head:?}");
            let status = statuses.next().unwrap_or(200);
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send((status, serde_json::from_slice(&body).unwrap()));
        }
    });
    (url, rx)
}

#[test]
fn alerts_reach_the_webhook_once_each_in_order_retried_after_a_500() {
    let (_dir, db, engine) = store();
    price_flat(&engine);
    engine
        .define_shared_scope("team", Some(10_000_000), Period::None)
        .unwrap();
    // 55% spent before serve starts: the 50% threshold is primed, never sent.
    let exec = start(&engine, "alerted", Some(10_000_000), &[]);
    call(&exec, &engine, "s", FLAT, 5_500, 0);
    let team = start(&engine, "team-work", None, &["team"]);
    call(&team, &engine, "s", FLAT, 2_000, 0);
    let (url, rx) = receiver(vec![500]);
    let serve = Serve::start(&db, &["--webhook", &url, "--scope", "team"]);
    // Let serve read the figures as they are, then cross 80% and 95% of the budget, and 50%
    // of the team's limit.
    serve.get("/metrics");
    call(&exec, &engine, "s", FLAT, 3_000, 0);
    let got_80 = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    call(&exec, &engine, "s", FLAT, 1_400, 0);
    call(&team, &engine, "s", FLAT, 3_500, 0);
    let mut got = vec![got_80];
    while got.len() < 4 {
        got.push(rx.recv_timeout(Duration::from_secs(20)).expect("an alert"));
    }
    // Nothing more: each threshold once.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(rx.try_recv().is_err());
    let (status, first) = &got[0];
    assert_eq!(*status, 500);
    assert_eq!(got[1].1, *first, "the retry sends the same alert");
    assert_eq!(got[1].0, 200);
    let summary = |v: &Value| {
        (
            v["execution_id"].as_str().unwrap().to_owned(),
            v["scope"].as_str().unwrap().to_owned(),
            v["kind"].as_str().unwrap().to_owned(),
            v["percent"].as_u64().unwrap(),
        )
    };
    let exec_alerts: Vec<_> = got[1..]
        .iter()
        .map(|(_, v)| summary(v))
        .filter(|(id, ..)| !id.is_empty())
        .collect();
    assert_eq!(
        exec_alerts,
        vec![
            (
                exec.id().to_owned(),
                String::new(),
                "threshold".to_owned(),
                80
            ),
            (
                exec.id().to_owned(),
                String::new(),
                "threshold".to_owned(),
                95
            ),
        ]
    );
    let scope_alert = got
        .iter()
        .map(|(_, v)| v)
        .find(|v| v["scope"] == "team")
        .unwrap();
    assert_eq!(scope_alert["execution_id"], "");
    assert_eq!(scope_alert["workflow"], "");
    assert_eq!(scope_alert["percent"], 50);
    assert_eq!(scope_alert["limit_nanos"], 10_000_000);
    assert_eq!(scope_alert["spent_nanos"], 5_500_000);
    assert_eq!(first["workflow"], "alerted");
    assert_eq!(first["limit_nanos"], 10_000_000);
    assert_eq!(first["spent_nanos"], 8_500_000);
    let text = serve.get("/metrics").body;
    assert!(
        text.contains("wflo_serve_webhook_alerts_total{outcome=\"sent\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("wflo_serve_webhook_retries_total 1"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"wflo_alerts_total{scope_kind="execution",scope="alerted",kind="threshold"} 2"#
        ),
        "{text}"
    );
}

/// Reads an event stream until an event named `name` whose data satisfies `ok`.
fn next_event(reader: &mut BufReader<TcpStream>, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(15);
    let mut event = String::new();
    let mut line = String::new();
    while Instant::now() < until {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("the stream ended");
        }
        let l = line.trim_end();
        if let Some(e) = l.strip_prefix("event: ") {
            event = e.to_owned();
        } else if let Some(d) = l.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(d).unwrap();
            if event == name && ok(&v) {
                return v;
            }
        }
    }
    panic!("no {name} event in time");
}

fn open_stream(serve: &Serve, path: &str) -> BufReader<TcpStream> {
    let mut conn = TcpStream::connect(&serve.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", serve.addr).unwrap();
    let mut reader = BufReader::new(conn);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    reader
}

#[test]
fn the_event_stream_sends_an_event_after_a_call_is_recorded() {
    let (_dir, db, engine) = store();
    let exec = start(&engine, "streamed", Some(1_000_000_000), &[]);
    let before = call(&exec, &engine, "s", "gpt-4o-mini", 100, 10);
    let serve = Serve::start(&db, &[]);
    let mut list = open_stream(&serve, "/events");
    let mut one = open_stream(&serve, &format!("/events?execution={}", exec.id()));
    let snapshot = next_event(&mut list, "snapshot", |_| true);
    assert_eq!(snapshot[0]["id"], exec.id());
    assert_eq!(snapshot[0]["spent_nanos"], before);
    let key = next_event(&mut one, "key", |_| true);
    let after = before + call(&exec, &engine, "s", "gpt-4o-mini", 5_000, 800);
    let row = next_event(&mut list, "executions", |v| {
        v.as_array()
            .unwrap()
            .iter()
            .any(|r| r["spent_nanos"] == after)
    });
    let row = &row[0];
    assert_eq!(row["id"], exec.id());
    assert_eq!(row["calls"], 2);
    assert_eq!(
        row["spent"],
        format!("${}", wflo_core::money::format_usd(after))
    );
    let totals = next_event(&mut list, "totals", |_| true);
    assert_eq!(totals["spent_nanos"], after);
    let next = next_event(&mut one, "key", |_| true);
    assert_ne!(next, key);
    // A second execution appears in the stream as it starts.
    let other = start(&engine, "late", None, &[]);
    engine.flush().unwrap();
    let rows = next_event(&mut list, "executions", |v| {
        v.as_array().unwrap().iter().any(|r| r["id"] == other.id())
    });
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != exec.id()),
        "only what changed"
    );
}

/// The PostgreSQL server `tests/pg/with-postgres.sh` started: required under
/// `WFLO_REQUIRE_POSTGRES=1` (as `make test` runs), skipped otherwise.
fn postgres_url() -> Option<String> {
    match std::env::var("WFLO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert_ne!(
                std::env::var("WFLO_REQUIRE_POSTGRES").as_deref(),
                Ok("1"),
                "WFLO_TEST_POSTGRES_URL is not set: run the tests through tests/pg/with-postgres.sh"
            );
            eprintln!("SKIPPED: WFLO_TEST_POSTGRES_URL is not set (use tests/pg/with-postgres.sh)");
            None
        }
    }
}

#[test]
fn postgresql_is_served_alike() {
    let Some(url) = postgres_url() else {
        return;
    };
    // The database is shared with the rest of the run: this test's own step label and
    // execution are what it checks.
    let mut r = [0u8; 6];
    getrandom::fill(&mut r).unwrap();
    let tag: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let step = format!("pg-serve-{tag}");
    let engine = Engine::open(Some(&url)).unwrap();
    let exec = start(&engine, &step, Some(1_000_000_000), &[]);
    let mut spent = call(&exec, &engine, &step, "gpt-4o-mini", 1_000, 200);
    spent += call(&exec, &engine, &step, "gpt-4o-mini", 30, 5);
    let serve = Serve::start_url(&url, &[]);
    let one = serve.json(&format!("/api/executions/{}", exec.id()));
    assert_eq!(one["execution"]["spent_nanos"], spent);
    assert_eq!(
        one["calls"],
        serde_json::to_value(engine.calls(exec.id()).unwrap()).unwrap()
    );
    let series =
        format!(r#"wflo_cost_usd_total{{model="gpt-4o-mini",provider="openai",scope="{step}"}} "#);
    let cost = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .map(nanos)
    };
    assert_eq!(cost(&serve.get("/metrics").body), Some(spent));
    let mut events = open_stream(&serve, &format!("/events?execution={}", exec.id()));
    let key = next_event(&mut events, "key", |_| true);
    spent += call(&exec, &engine, &step, "gpt-4o-mini", 500, 50);
    assert_ne!(next_event(&mut events, "key", |_| true), key);
    assert_eq!(cost(&serve.get("/metrics").body), Some(spent));
    let page = serve.get(&format!("/executions/{}", exec.id())).body;
    assert!(page.contains(&step));
}

/// A raw request with a body.
fn post(serve: &Serve, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut conn = TcpStream::connect(&serve.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nConnection: close\r\nHost: {}\r\nContent-Length: {}\r\n",
        serve.addr,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    conn.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// `/approvals` lists the gates workflows wait at; a JSON POST from the page decides one and
/// the waiting workflow goes on; a cross-site form post or a foreign origin is refused.
#[test]
fn approvals_are_decided_from_the_page() {
    use wflo_core::resilience::ApprovalRequest;
    let (_dir, db, engine) = store();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "gated".into(),
            ..Default::default()
        })
        .unwrap();
    let gate = ApprovalRequest {
        gate: "publish".into(),
        why: "emails <customers>".into(),
        worst_case_nanos: Some(250_000_000),
        ..Default::default()
    };
    let asked = exec.request_approval(&gate).unwrap();
    let serve = Serve::start(&db, &[]);
    let page = serve.get("/approvals");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("publish") && page.body.contains("emails &lt;customers&gt;"));
    assert!(page.body.contains(&format!(
        r#"data-approval="{}" data-act="approve""#,
        asked.id
    )));
    let listed = serve.json("/api/approvals");
    assert_eq!(listed[0]["id"], asked.id.as_str());
    let path = format!("/api/approvals/{}/approve", asked.id);
    // What a page elsewhere could make a browser send: a form post, or JSON from its origin.
    let form = post(
        &serve,
        &path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "note=x",
    );
    assert_eq!(form.status, 415, "{}", form.body);
    let foreign = post(
        &serve,
        &path,
        &[
            ("Content-Type", "application/json"),
            ("Origin", "http://evil.example"),
        ],
        "{}",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(
        engine.approval(&asked.id).unwrap().status.as_str(),
        "pending"
    );
    let ok = post(
        &serve,
        &path,
        &[
            ("Content-Type", "application/json"),
            ("Origin", &format!("http://{}", serve.addr)),
        ],
        r#"{"note": "looks right", "by": "ana"}"#,
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["status"], "approved");
    let got = exec.wait_for_approval(&asked.id, Some(5_000)).unwrap();
    assert_eq!(
        (got.decided_by.as_deref(), got.note.as_deref()),
        (Some("ana"), Some("looks right"))
    );
    let again = post(
        &serve,
        &path.replace("approve", "deny"),
        &[("Content-Type", "application/json")],
        "",
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(
        post(
            &serve,
            "/api/approvals/appr-nope/deny",
            &[("Content-Type", "application/json")],
            ""
        )
        .status,
        404
    );
    assert!(serve.get("/approvals").body.contains("looks right"));
}

/// `/breakers` shows every shared breaker's state and every breaker's changes, newest first;
/// `/api/breakers` gives the same as `wflo breakers --json`.
#[test]
fn breakers_show_shared_state_and_changes() {
    use wflo_core::resilience::BreakerConfig;
    let (_dir, db, engine) = store();
    let serve = Serve::start(&db, &[]);
    let empty = serve.get("/breakers");
    assert_eq!(empty.status, 200);
    assert!(
        empty
            .body
            .contains("No shared breaker has been used on this store.")
    );
    assert!(
        empty
            .body
            .contains(r#"<a href="/breakers" aria-current="page">Breakers</a>"#)
    );
    let shared = engine
        .breaker(
            "provider:anthropic",
            Some(BreakerConfig {
                failure_threshold: 2,
                recovery_timeout_ms: 600_000,
                shared: true,
                ..BreakerConfig::default()
            }),
        )
        .unwrap();
    for _ in 0..2 {
        shared.record_failure().unwrap();
    }
    let local = engine
        .breaker(
            "tool:browse",
            Some(BreakerConfig {
                failure_threshold: 1,
                ..BreakerConfig::default()
            }),
        )
        .unwrap();
    local.record_failure().unwrap();
    local.reset().unwrap();
    let page = serve.get("/breakers").body;
    assert!(
        page.contains("provider:anthropic")
            && page.contains(r#"<span class="pill open">open</span>"#)
    );
    let newest = page.find(">reset<").expect("the reset is listed");
    let oldest = page
        .find("2 consecutive failures")
        .expect("the trip is listed");
    assert!(newest < oldest, "newest first");
    let api = serve.json("/api/breakers");
    assert_eq!(api["shared"][0]["name"], "provider:anthropic");
    assert_eq!(api["shared"][0]["state"], "open");
    assert_eq!(api["transitions"].as_array().unwrap().len(), 3);
    assert_eq!(api["transitions"][2]["reason"], "reset");
}

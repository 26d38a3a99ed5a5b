//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Reads a shared vector file from `tests/vectors/` at the repository root.
pub fn vector(name: &str) -> serde_json::Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "tests", "vectors", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The six usage fields from a vector's JSON object.
pub fn usage_of(v: &serde_json::Value) -> wflo_core::Usage {
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    wflo_core::Usage {
        input: f("input"),
        output: f("output"),
        cache_read: f("cache_read"),
        cache_write_5m: f("cache_write_5m"),
        cache_write_1h: f("cache_write_1h"),
        reasoning: f("reasoning"),
    }
}

/// A store to run a suite against: the engine's memory store, a SQLite file in a temporary
/// directory, or the PostgreSQL server `tests/pg/with-postgres.sh` started.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL URL of the test server. Without one, a test that needs it fails when
/// `WFLO_REQUIRE_POSTGRES=1` (as `make test` sets) and is reported as skipped otherwise.
pub fn postgres_url() -> Option<String> {
    match std::env::var("WFLO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("WFLO_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!(
                    "WFLO_TEST_POSTGRES_URL is not set: run the tests through tests/pg/with-postgres.sh"
                );
            }
            eprintln!(
                "SKIPPED the PostgreSQL part: WFLO_TEST_POSTGRES_URL is not set (use tests/pg/with-postgres.sh)"
            );
            None
        }
    }
}

/// Every backend available to this run.
pub fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let mut all = vec![
        Backend {
            name: "memory",
            url: "memory://".into(),
            _dir: None,
        },
        Backend {
            name: "sqlite",
            url: sqlite,
            _dir: Some(dir),
        },
    ];
    if let Some(url) = postgres_url() {
        all.push(Backend {
            name: "postgres",
            url,
            _dir: None,
        });
    }
    all
}

/// A name no other test run uses (shared scopes live as long as the database).
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    format!(
        "{prefix}-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// An engine over `store` (opened with the options a test needs) with `prices` as its table.
pub fn engine_with_store(
    store: impl wflo_core::store::Store + 'static,
    prices: &str,
) -> wflo_core::Engine {
    let engine = wflo_core::Engine::new(wflo_core::EngineConfig {
        store: std::sync::Arc::new(store),
        ..wflo_core::EngineConfig::default()
    });
    engine.set_prices_json(prices).unwrap();
    engine
}

/// Defines a shared scope whose every call is booked in the store (allowances off): for tests
/// of the per-call path, where each reservation is visible in the store at once.
#[allow(dead_code)]
pub fn define_per_call(
    engine: &wflo_core::Engine,
    name: &str,
    limit_nanos: Option<u64>,
    period: wflo_core::store::Period,
) {
    engine
        .define_shared_scope_allowances(name, limit_nanos, period, Some(false))
        .unwrap();
}

/// The one model the store suites price: $1 per million input tokens, $4 per million output.
pub const SUITE_PRICES: &str =
    r#"{"models":[{"name":"s-model","input":1000000,"output":4000000,"max_output":1000}]}"#;

/// Runs a suite's test on every backend, naming each on stderr.
pub fn for_each_backend(test: impl Fn(&Backend)) {
    for b in backends() {
        eprintln!("-- {}", b.name);
        test(&b);
    }
}

/// A call of `s-model` with known input and an output limit.
pub fn req(input: u64, max_out: u64) -> wflo_core::CallRequest<'static> {
    wflo_core::CallRequest {
        model: "s-model",
        input_tokens: input,
        input_estimated: Some(false),
        max_output_tokens: Some(max_out),
        ..Default::default()
    }
}

/// Usage of input and output tokens only.
pub fn usage(input: u64, output: u64) -> wflo_core::Usage {
    wflo_core::Usage {
        input,
        output,
        ..Default::default()
    }
}

/// Runs `sql` with `psql` (from `WFLO_TEST_PG_BIN`) against `url`; returns what it printed,
/// unaligned and without headers. Fails the test when psql does.
pub fn psql(url: &str, sql: &str) -> String {
    let bin = std::env::var("WFLO_TEST_PG_BIN").unwrap_or_else(|_| "/usr/bin".into());
    let out = std::process::Command::new(format!("{bin}/psql"))
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh database on the test server; returns its URL.
pub fn new_database(base: &str, name: &str) -> String {
    psql(base, &format!("DROP DATABASE IF EXISTS {name}"));
    psql(base, &format!("CREATE DATABASE {name}"));
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

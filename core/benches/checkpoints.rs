//! Checkpoint save latency (p50/p99) and rate for ~1 KB and ~100 KB JSON states on SQLite,
//! beside a raw rusqlite insert of the same bytes at the same synchronous setting — the floor
//! any store built on SQLite can reach. Rounds interleave the contenders.
//!
//! `cargo bench -p wflo-core --bench checkpoints` (set `WFLO_BENCH_POSTGRES_URL` to add
//! PostgreSQL).

use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use wflo_core::store::{SqliteOptions, SqliteStore, Synchronous};
use wflo_core::{Engine, EngineConfig, Execution, ExecutionOptions};

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once, quickly, as a
/// smoke test.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn state(target: usize) -> String {
    // A plausible agent state: a list of documents with text and metadata.
    let mut docs = Vec::new();
    let mut i = 0;
    let mut len = 2;
    while len < target {
        let doc = format!(
            r#"{{"id":{i},"title":"Result number {i} about tokenizers","url":"https://example.com/docs/{i}","score":0.{i:04},"summary":"Byte pair encoding merges the most frequent pair of symbols repeatedly; document {i} explains the details."}}"#
        );
        len += doc.len() + 1;
        docs.push(doc);
        i += 1;
    }
    format!(r#"{{"documents":[{}]}}"#, docs.join(","))
}

struct Stats {
    samples: Vec<Duration>,
}

impl Stats {
    fn pct(&mut self, p: f64) -> f64 {
        self.samples.sort();
        let i = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples[i].as_secs_f64() * 1e6
    }
    fn per_sec(&self) -> f64 {
        self.samples.len() as f64 / self.samples.iter().sum::<Duration>().as_secs_f64()
    }
}

fn raw_floor(conn: &Connection, state: &str, saves: usize, out: &mut Stats) {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO raw_checkpoints (execution_id, name, state) VALUES (?1, ?2, ?3)",
        )
        .unwrap();
    for i in 0..saves {
        let t = Instant::now();
        stmt.execute(params![
            "exec-0123456789ab",
            format!("step-{i}"),
            state.as_bytes()
        ])
        .unwrap();
        out.samples.push(t.elapsed());
    }
}

fn wflo_saves(exec: &Execution, state: &str, saves: usize, out: &mut Stats) {
    for i in 0..saves {
        let t = Instant::now();
        exec.checkpoint(&format!("step-{i}"), state).unwrap();
        out.samples.push(t.elapsed());
    }
}

fn main() {
    let (rounds, saves) = if full_run() { (5, 400) } else { (1, 10) };
    let dir = tempfile::tempdir().unwrap();
    println!("checkpoint save on SQLite (WAL), {rounds} interleaved rounds × {saves} saves");
    println!("| sync | state | contender | p50 µs | p99 µs | saves/s | p50 vs raw |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for sync in [Synchronous::Normal, Synchronous::Full] {
        let pragma = if sync == Synchronous::Full {
            "FULL"
        } else {
            "NORMAL"
        };
        for size in [1024usize, 100 * 1024] {
            let state = state(size);
            let db = dir.path().join(format!("wflo-{pragma}-{size}.db"));
            let store = SqliteStore::open(
                &db.to_string_lossy(),
                SqliteOptions {
                    synchronous: sync,
                    ..SqliteOptions::default()
                },
            )
            .unwrap();
            let engine = Engine::new(EngineConfig {
                store: std::sync::Arc::new(store),
                ..EngineConfig::default()
            });
            let exec = engine
                .start_execution(ExecutionOptions {
                    name: "bench".into(),
                    ..Default::default()
                })
                .unwrap();
            let raw = Connection::open(dir.path().join(format!("raw-{pragma}-{size}.db"))).unwrap();
            raw.execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {pragma};
                 CREATE TABLE raw_checkpoints (id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, name TEXT NOT NULL, state BLOB NOT NULL);"
            ))
            .unwrap();
            let (mut w, mut r) = (Stats { samples: vec![] }, Stats { samples: vec![] });
            for _ in 0..rounds {
                raw_floor(&raw, &state, saves, &mut r);
                wflo_saves(&exec, &state, saves, &mut w);
            }
            let raw_p50 = r.pct(0.5);
            let label = if size < 10_000 { "1 KB" } else { "100 KB" };
            for (name, s) in [("raw rusqlite insert", &mut r), ("wflo checkpoint", &mut w)] {
                let p50 = s.pct(0.5);
                println!(
                    "| {pragma} | {label} ({} B) | {name} | {p50:.1} | {:.1} | {:.0} | {:.2}× |",
                    state.len(),
                    s.pct(0.99),
                    s.per_sec(),
                    p50 / raw_p50
                );
            }
            engine.close().unwrap();
        }
    }
}

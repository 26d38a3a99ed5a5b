//! Checkpoint save and load latency for `make bench`: wflo's checkpoints on a store URL, or raw
//! rusqlite inserts of the same bytes (the floor any store built on SQLite can reach). One
//! contender per process, so the driver can interleave them with LangGraph's savers.
//!
//! `checkpoint_bench wflo URL STATE_FILE SAVES` (URL: `sqlite:///path?synchronous=normal`,
//! `postgres://…`): `Execution::checkpoint`, which checks the text is JSON at every save
//! `checkpoint_bench wflo-text URL STATE_FILE SAVES`: `Execution::checkpoint_text` of the state
//! checked once, when it was read (a caller holding serde_json's `RawValue` or `Value`, or
//! saving what it serialised, has nothing to check again)
//! `checkpoint_bench raw PATH STATE_FILE SAVES SYNC` (SYNC: NORMAL or FULL; WAL journal)
//! `checkpoint_bench raw-pg URL STATE_FILE SAVES` (one sqlx connection driven by this thread:
//! the floor of a save from Rust on PostgreSQL)
//!
//! Prints one JSON line: p50/p99 µs of a save and of a load (by id, after the saves), saves
//! per second, the state's size. (`cargo bench --bench checkpoints` is the same comparison as a
//! table, saves only.)

use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use wflo_core::{Engine, ExecutionOptions};

const WARM_UP: usize = 5;

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1e6
}

fn wflo(
    url: &str,
    state: &str,
    saves: usize,
    checked_once: bool,
) -> (Vec<Duration>, Vec<Duration>) {
    let text = wflo_core::JsonText::check(state).unwrap();
    let engine = Engine::open(Some(url)).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "bench".into(),
            ..Default::default()
        })
        .unwrap();
    let (mut save, mut load, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARM_UP + saves {
        let t = Instant::now();
        let name = format!("step-{i}");
        let info = if checked_once {
            exec.checkpoint_text(&name, &text).unwrap()
        } else {
            exec.checkpoint(&name, state).unwrap()
        };
        if i >= WARM_UP {
            save.push(t.elapsed());
            ids.push(info.id);
        }
    }
    for id in ids {
        let t = Instant::now();
        let back = exec.checkpoint_state(id).unwrap();
        load.push(t.elapsed());
        assert_eq!(back.len(), state.len(), "the state came back whole");
    }
    engine.close().unwrap();
    (save, load)
}

fn raw(path: &str, sync: &str, state: &str, saves: usize) -> (Vec<Duration>, Vec<Duration>) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync};
         CREATE TABLE IF NOT EXISTS raw_checkpoints (id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, name TEXT NOT NULL, state BLOB NOT NULL);"
    ))
    .unwrap();
    let (mut save, mut load, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO raw_checkpoints (execution_id, name, state) VALUES (?1, ?2, ?3)",
            )
            .unwrap();
        for i in 0..WARM_UP + saves {
            let t = Instant::now();
            insert
                .execute(params![
                    "exec-0123456789ab",
                    format!("step-{i}"),
                    state.as_bytes()
                ])
                .unwrap();
            if i >= WARM_UP {
                save.push(t.elapsed());
                ids.push(conn.last_insert_rowid());
            }
        }
    }
    let mut select = conn
        .prepare_cached("SELECT state FROM raw_checkpoints WHERE id = ?1")
        .unwrap();
    for id in ids {
        let t = Instant::now();
        let back: Vec<u8> = select.query_row([id], |r| r.get(0)).unwrap();
        let back = String::from_utf8(back).unwrap();
        load.push(t.elapsed());
        assert_eq!(back.len(), state.len());
    }
    (save, load)
}

/// Raw single INSERTs (and SELECTs by id) of the same bytes through one sqlx connection on a
/// runtime this thread drives: no pool, no thread hand-off, a prepared statement. (sqlx 0.9.1
/// or later: 0.9.0 left Nagle's algorithm on, and a 100 KB INSERT waited ~40 ms for the
/// server's delayed ACK — wflo's own connections too.)
fn raw_pg(url: &str, state: &str, saves: usize) -> (Vec<Duration>, Vec<Duration>) {
    use sqlx::{Connection, Row};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt.block_on(sqlx::PgConnection::connect(url)).unwrap();
    rt.block_on(
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS raw_checkpoints (id BIGSERIAL PRIMARY KEY, \
             execution_id TEXT NOT NULL, name TEXT NOT NULL, state BYTEA NOT NULL)",
        )
        .execute(&mut conn),
    )
    .unwrap();
    let (mut save, mut load, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARM_UP + saves {
        let t = Instant::now();
        let row = rt
            .block_on(
                sqlx::query(
                    "INSERT INTO raw_checkpoints (execution_id, name, state) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind("exec-0123456789ab")
                .bind(format!("step-{i}"))
                .bind(state.as_bytes())
                .fetch_one(&mut conn),
            )
            .unwrap();
        if i >= WARM_UP {
            save.push(t.elapsed());
            ids.push(row.get::<i64, _>(0));
        }
    }
    for id in ids {
        let t = Instant::now();
        let row = rt
            .block_on(
                sqlx::query("SELECT state FROM raw_checkpoints WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut conn),
            )
            .unwrap();
        let back = String::from_utf8(row.get::<Vec<u8>, _>(0)).unwrap();
        load.push(t.elapsed());
        assert_eq!(back.len(), state.len());
    }
    (save, load)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: checkpoint_bench wflo|wflo-text URL STATE_FILE SAVES | raw PATH STATE_FILE SAVES SYNC | raw-pg URL STATE_FILE SAVES";
    let (contender, target, file) = match args.get(1..4) {
        Some([c, t, f]) => (c.as_str(), t.as_str(), f.as_str()),
        _ => panic!("{usage}"),
    };
    let saves: usize = args.get(4).and_then(|a| a.parse().ok()).expect(usage);
    let state = std::fs::read_to_string(file).unwrap();
    let (mut save, mut load) = match contender {
        "wflo" => wflo(target, &state, saves, false),
        "wflo-text" => wflo(target, &state, saves, true),
        "raw" => raw(target, args.get(5).expect(usage), &state, saves),
        "raw-pg" => raw_pg(target, &state, saves),
        _ => panic!("{usage}"),
    };
    let total: Duration = save.iter().sum();
    println!(
        "{}",
        serde_json::json!({
            "state_bytes": state.len(), "saves": saves,
            "save_us": pct(&mut save, 0.5), "save_p99_us": pct(&mut save, 0.99),
            "saves_per_s": saves as f64 / total.as_secs_f64(),
            "load_us": pct(&mut load, 0.5), "load_p99_us": pct(&mut load, 0.99),
        })
    );
}

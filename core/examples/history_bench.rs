//! The engine's paths on a store with a long history, for `make bench`'s "growth with history"
//! section (bench/harness/sections/history.py; the store is filled by bench/history/generate.py).
//!
//! `history_bench URL EXEC_ID CP_EXEC_ID CHECKPOINTS CALLS RUNS`
//!
//! - reads: `list_executions(100)`, one execution's record, calls and breakdown (EXEC_ID), the
//!   median of RUNS each, in ms;
//! - a tracked call: reserve + settle in a new execution, CALLS of them, µs per call (p50 of
//!   the calls, and the mean including the flush that writes their records);
//! - checkpoints (CP_EXEC_ID, holding CHECKPOINTS named `cp-<sequence>`): the list, a save, and
//!   RUNS rollbacks, each 100 checkpoints further back (so each supersedes 100), in ms.
//!
//! EXEC_ID / CP_EXEC_ID `-` skip those parts (an empty store has only the tracked call).
//! Prints one JSON line.

use std::time::{Duration, Instant};

use wflo_core::{CallRequest, Engine, ExecutionOptions, Usage};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The median wall time of `runs` runs of `f`, in ms (one unmeasured run first).
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                ms(t.elapsed())
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: history_bench URL EXEC_ID CP_EXEC_ID CHECKPOINTS CALLS RUNS");
        std::process::exit(2);
    }
    let (url, exec_id, cp_exec) = (&args[1], &args[2], &args[3]);
    let checkpoints: u64 = args[4].parse().unwrap();
    let calls: usize = args[5].parse().unwrap();
    let runs: usize = args[6].parse().unwrap();
    let t = Instant::now();
    let engine = Engine::open(Some(url)).unwrap();
    let mut out = serde_json::json!({ "open_ms": ms(t.elapsed()) });

    if exec_id != "-" {
        out["list_executions_ms"] = timed(runs, || engine.list_executions(100).unwrap()).into();
        out["execution_ms"] = timed(runs, || engine.execution(exec_id).unwrap()).into();
        out["calls_ms"] = timed(runs, || engine.calls(exec_id).unwrap()).into();
        out["breakdown_ms"] = timed(runs, || engine.breakdown(exec_id).unwrap()).into();
        out["calls_of_execution"] = engine.calls(exec_id).unwrap().len().into();
    }

    // A tracked call as hot_loop makes it: reserve (gpt-4o-mini, 1,200 in, at most 400 out) +
    // settle (1,000 in, 200 cache read, 350 out); the record goes to the store's writer.
    let request = CallRequest {
        model: "gpt-4o-mini",
        input_tokens: 1200,
        max_output_tokens: Some(400),
        ..Default::default()
    };
    let usage = Usage {
        input: 1000,
        cache_read: 200,
        output: 350,
        ..Usage::default()
    };
    let t = Instant::now();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "history-bench".into(),
            budget_nanos: Some(u64::MAX / 4),
            ..Default::default()
        })
        .unwrap();
    let start_ms = ms(t.elapsed());
    let mut each = Vec::with_capacity(calls);
    let t = Instant::now();
    for _ in 0..calls {
        let c = Instant::now();
        let mut r = exec.reserve(&request).unwrap();
        r.settle(usage).unwrap();
        each.push(c.elapsed().as_secs_f64() * 1e6);
    }
    engine.flush().unwrap();
    let total = t.elapsed();
    assert_eq!(
        engine.calls(exec.id()).unwrap().len(),
        calls,
        "every call was recorded"
    );
    out["start_execution_ms"] = start_ms.into();
    out["tracked_call_p50_us"] = median(each.clone()).into();
    each.sort_by(|a, b| a.total_cmp(b));
    out["tracked_call_p99_us"] = each[(each.len() - 1) * 99 / 100].into();
    out["tracked_call_mean_with_flush_us"] = (total.as_secs_f64() * 1e6 / calls as f64).into();
    drop(exec);

    if cp_exec != "-" {
        let exec = engine.resume_execution(cp_exec).unwrap();
        let listed = exec.checkpoints().unwrap().len();
        out["checkpoints_listed"] = listed.into();
        out["checkpoint_list_ms"] = timed(runs, || exec.checkpoints().unwrap()).into();
        let state = r#"{"step":"history-bench","documents":[1,2,3]}"#;
        out["checkpoint_save_ms"] =
            timed(runs, || exec.checkpoint("bench-save", state).unwrap()).into();
        // Rollbacks to checkpoints further and further back: each run supersedes 100 more
        // (a rerun on the same store starts below the previous run's targets).
        let live = exec
            .checkpoints()
            .unwrap()
            .iter()
            .filter(|c| !c.superseded && c.name.starts_with("cp-"))
            .count() as u64;
        let first = live.min(checkpoints);
        let mut times = Vec::new();
        for r in 0..runs as u64 {
            let Some(seq) = first.checked_sub(100 * (r + 1)).filter(|s| *s > 0) else {
                break;
            };
            let t = Instant::now();
            exec.rollback_to_checkpoint(&format!("cp-{seq}")).unwrap();
            times.push(ms(t.elapsed()));
        }
        out["rollback_runs"] = times.len().into();
        if !times.is_empty() {
            out["rollback_ms"] = median(times).into();
        }
        out["rollbacks_ms"] = timed(runs, || exec.rollbacks().unwrap()).into();
    }
    engine.close().unwrap();
    println!("{out}");
}

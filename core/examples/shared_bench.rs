//! Reservations per second on one shared budget scope from several processes (and threads):
//! each reservation is a store transaction on the shared scope, settled by another.
//!
//! `cargo run --release -p wflo-core --example shared_bench -- URL PROCESSES THREADS SECONDS [LIMIT_NANOS]`
//!
//! Without LIMIT_NANOS the scope's limit is out of reach and the figure is throughput. With it,
//! the scope gets that limit and every thread reserves until the scope refuses it (or the time
//! is up): the overspend printed (settled spend beyond the limit) must then be 0 however the
//! processes and threads race. `WFLO_BENCH_JSON=1` prints one JSON line for `make bench`.
//!
//! `WFLO_BENCH_ALLOWANCES=off` books every call in the store (the scope's allowances off);
//! by default calls draw on each process's local allowance. The latency of each reservation
//! is measured too (p50, p99). `WFLO_BENCH_IDLE=1` measures instead how long money left in
//! an idle process's allowance takes to become usable by another process that needs it.

use std::process::Command;
use std::time::{Duration, Instant};

use wflo_core::store::Period;
use wflo_core::{CallRequest, Engine, Error, ExecutionOptions, Usage};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: shared_bench URL PROCESSES THREADS SECONDS [LIMIT_NANOS]")
        .clone();
    let processes: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let seconds: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(5);
    let limit: Option<u64> = args.get(5).and_then(|a| a.parse().ok());
    if let Ok(scope) = std::env::var("WFLO_BENCH_SCOPE") {
        worker(&url, &scope, threads, seconds);
        return;
    }
    let allowances = std::env::var("WFLO_BENCH_ALLOWANCES").as_deref() != Ok("off");
    if std::env::var_os("WFLO_BENCH_IDLE").is_some() {
        idle_to_usable(&url);
        return;
    }
    let engine = Engine::open(Some(&url)).unwrap();
    let scope = format!("bench-{}", std::process::id());
    let stop_on_refusal = limit.is_some();
    let limit = limit.unwrap_or(1_000_000_000_000);
    engine
        .define_shared_scope_allowances(&scope, Some(limit), Period::None, Some(allowances))
        .unwrap();
    let start = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            let mut child = Command::new(std::env::current_exe().unwrap());
            child
                .args([&url, "0", &threads.to_string(), &seconds.to_string()])
                .env("WFLO_BENCH_SCOPE", &scope)
                .stdout(std::process::Stdio::piped());
            if stop_on_refusal {
                child.env("WFLO_BENCH_STOP_ON_REFUSAL", "1");
            }
            child.spawn().unwrap()
        })
        .collect();
    let (mut total, mut refused) = (0u64, 0u64);
    let mut latencies: Vec<u32> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut figures = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        total += figures.next().unwrap();
        refused += figures.next().unwrap();
        // Then every reservation's latency in ns, one process's sample after another.
        latencies.extend(figures.map(|ns| ns.min(u64::from(u32::MAX)) as u32));
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[i]) / 1000.0
    };
    let (p50_us, p99_us) = (pct(0.50), pct(0.99));
    let elapsed = start.elapsed().as_secs_f64();
    let figures = engine.shared_scope(&scope).unwrap();
    let overspend = figures.spent_nanos.saturating_sub(limit);
    let kind = engine.store().kind();
    let per_sec = if stop_on_refusal {
        total as f64 / elapsed
    } else {
        total as f64 / seconds as f64
    };
    if std::env::var_os("WFLO_BENCH_JSON").is_some() {
        println!(
            "{}",
            serde_json::json!({
                "store": kind, "processes": processes, "threads": threads, "seconds": seconds,
                "reservations": total, "refused": refused, "per_sec": per_sec,
                "limit_nanos": limit, "spent_nanos": figures.spent_nanos,
                "reserved_nanos": figures.reserved_nanos, "overspend_nanos": overspend,
                "allowances": allowances, "p50_us": p50_us, "p99_us": p99_us,
                "end_to_end_per_sec": total as f64 / elapsed,
                "spent_fraction": figures.spent_nanos as f64 / limit as f64,
            })
        );
        return;
    }
    println!(
        "{kind} (allowances {}): {processes} processes x {threads} threads: {total} reservations (each settled) = {per_sec:.0}/s, \
         {:.0}/s end to end ({elapsed:.1} s until every call record was written), reserve p50 {p50_us:.1} us p99 {p99_us:.1} us; {refused} refused; spent {} of {limit} ({:.4}%), left reserved {}, overspend {overspend}",
        if allowances { "on" } else { "off" },
        total as f64 / elapsed,
        figures.spent_nanos,
        figures.spent_nanos as f64 * 100.0 / limit as f64,
        figures.reserved_nanos,
    );
}

/// One worker process: prints how many reservations it settled and how many were refused.
fn worker(url: &str, scope: &str, threads: usize, seconds: u64) {
    let stop_on_refusal = std::env::var_os("WFLO_BENCH_STOP_ON_REFUSAL").is_some();
    let engine = Engine::open(Some(url)).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "bench".into(),
            shared_scopes: vec![scope.into()],
            ..Default::default()
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let exec = exec.clone();
            std::thread::spawn(move || {
                let (mut n, mut refused) = (0u64, 0u64);
                let mut latencies: Vec<u64> = Vec::new();
                let req = CallRequest {
                    model: "gpt-4o-mini",
                    input_tokens: 500,
                    max_output_tokens: Some(200),
                    ..Default::default()
                };
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let reserved = exec.reserve(&req);
                    // Every 16th reservation is timed into the sample (bounded memory).
                    if n % 16 == 0 {
                        latencies.push(t.elapsed().as_nanos() as u64);
                    }
                    let mut r = match reserved {
                        Ok(r) => r,
                        Err(Error::BudgetExceeded(_)) if stop_on_refusal => {
                            refused += 1;
                            break;
                        }
                        Err(e) => panic!("reserve: {e}"),
                    };
                    r.settle(Usage {
                        input: 500,
                        output: 100,
                        ..Default::default()
                    })
                    .unwrap();
                    n += 1;
                }
                (n, refused, latencies)
            })
        })
        .collect();
    let (mut n, mut refused) = (0u64, 0u64);
    let mut latencies = Vec::new();
    for h in handles {
        let (a, b, l) = h.join().unwrap();
        n += a;
        refused += b;
        latencies.extend(l);
    }
    engine.close().unwrap();
    let sample: Vec<String> = latencies.iter().map(u64::to_string).collect();
    println!("{n} {refused} {}", sample.join(" "));
}

/// Two engines (two holders) on one scope: the first draws until its allowance holds most of
/// the headroom and goes idle; the second then needs more than is left outside it. Prints how
/// long from the first one's last call until the second one's call fits.
fn idle_to_usable(url: &str) {
    let scope = format!("idle-{}", std::process::id());
    let (a, b) = (
        Engine::open(Some(url)).unwrap(),
        Engine::open(Some(url)).unwrap(),
    );
    let call = CallRequest {
        model: "gpt-4o-mini",
        input_tokens: 500,
        max_output_tokens: Some(200),
        ..Default::default()
    };
    let one = a.start_execution(ExecutionOptions::default()).unwrap();
    let worst = one.reserve(&call).unwrap().amount_nanos();
    // Room for about 400 calls: the first engine's allowance grows to hold much of it.
    let limit = worst * 400;
    a.define_shared_scope(&scope, Some(limit), Period::None)
        .unwrap();
    let start = |e: &Engine| {
        e.start_execution(ExecutionOptions {
            name: "idle".into(),
            shared_scopes: vec![scope.clone()],
            ..Default::default()
        })
        .unwrap()
    };
    let (xa, xb) = (start(&a), start(&b));
    for _ in 0..200 {
        xa.reserve(&call)
            .unwrap()
            .settle(Usage {
                input: 500,
                output: 200,
                ..Default::default()
            })
            .unwrap();
    }
    let idle_at = Instant::now();
    let held = b.store().shared_scope(&scope, b.now_ms()).unwrap();
    // What the second engine asks for: more than is neither spent nor in the first's allowance.
    let headroom = limit - held.spent_nanos - held.reserved_nanos;
    let want = headroom / worst + 1;
    let mut tries = 0u64;
    'calls: for _ in 0..want {
        loop {
            tries += 1;
            match xb.reserve(&call) {
                Ok(mut r) => {
                    r.settle(Usage {
                        input: 500,
                        output: 200,
                        ..Default::default()
                    })
                    .unwrap();
                    continue 'calls;
                }
                Err(Error::BudgetExceeded(_)) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("reserve: {e}"),
            }
        }
    }
    let usable_ms = idle_at.elapsed().as_secs_f64() * 1000.0;
    if std::env::var_os("WFLO_BENCH_JSON").is_some() {
        println!(
            "{}",
            serde_json::json!({"store": a.store().kind(), "idle_to_usable_ms": usable_ms,
                               "held_by_idle_nanos": held.allowance_nanos, "tries": tries})
        );
    } else {
        println!(
            "{}: {} nano-USD idle in one process's allowance became usable by another in {usable_ms:.0} ms ({tries} tries)",
            a.store().kind(),
            held.allowance_nanos
        );
    }
    a.close().unwrap();
    b.close().unwrap();
}

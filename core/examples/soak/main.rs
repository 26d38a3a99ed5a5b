//! A load soak: several processes run executions on one store for a bounded time, all drawing
//! on one shared budget scope, and checks afterwards that nothing was overspent or lost.
//!
//! `soak URL [PROCESSES] [THREADS] [SECONDS]` (tests/soak/run.sh runs it per store; SECONDS
//! defaults to `WFLO_SOAK_SECONDS`, else 600).
//!
//! Each worker process runs THREADS steady threads — executions of 200 tracked calls with a
//! checkpoint every 25, on the shared "global" scope — and one racer thread, which also draws
//! on a "tenant" scope replaced every 10 s whose small limit the racers of all processes
//! exhaust together (the limit is raced for again and again). A tracked call is reserve +
//! settle (no provider: the figure is wflo's own time). Each process samples its RSS every
//! 2 s. The driver then checks, to the nano-USD: every scope's spend is within its limit, no
//! reservation is left held, the global spend equals both the sum of the stored call records
//! and the sum the workers were acknowledged, and each execution's stored spend is its calls'.
//! It prints calls/s, p50/p99 latency, RSS first/last/max per process and the overspend, and
//! exits non-zero when a check fails.

mod histogram;
mod worker;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Instant;

use histogram::Histogram;
use wflo_core::store::Period;
use wflo_core::{Engine, ErrorCode};

pub const PRICES: &str =
    r#"{"models":[{"name":"soak-model","input":1000000,"output":4000000,"max_output":1000}]}"#;
/// The worst case of one call: 500 input tokens, 200 output tokens (nano-USD).
pub const WORST_CASE: u64 = 1_300_000;
/// Never reached: the global scope measures throughput and balances the books.
pub const GLOBAL_LIMIT: u64 = 1_000_000_000_000_000;
/// A tenant's limit: 300 worst cases, spent by the racers within a window.
pub const TENANT_LIMIT: u64 = 300 * WORST_CASE;
pub const WINDOW_MS: u64 = 10_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: soak URL [PROCESSES] [THREADS] [SECONDS]")
        .clone();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let processes = arg(2, 4);
    let threads = arg(3, 2);
    let env_seconds = std::env::var("WFLO_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let seconds = arg(4, env_seconds.unwrap_or(600));
    if let Ok(run) = std::env::var("WFLO_SOAK_RUN") {
        let t0 = std::env::var("WFLO_SOAK_T0").unwrap().parse().unwrap();
        worker::run(&url, &run, t0, threads as usize, seconds);
        return;
    }
    std::process::exit(drive(&url, processes, threads, seconds));
}

fn drive(url: &str, processes: u64, threads: u64, seconds: u64) -> i32 {
    let engine = Engine::open(Some(url)).unwrap();
    let run = format!("soak{}", now_ms() % 1_000_000_000);
    engine
        .define_shared_scope(&format!("{run}-global"), Some(GLOBAL_LIMIT), Period::None)
        .unwrap();
    let kind = engine.store().kind();
    eprintln!(
        "soak on {kind}: {processes} processes x ({threads} steady threads + 1 racer), {seconds} s"
    );
    let t0 = now_ms();
    let started = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([url, "0", &threads.to_string(), &seconds.to_string()])
                .env("WFLO_SOAK_RUN", &run)
                .env("WFLO_SOAK_T0", t0.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failures.push(format!("a worker exited with {}", out.status));
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rfind(|l| l.starts_with('{')).unwrap_or("{}");
        reports.push(serde_json::from_str::<worker::Report>(line).unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latency = Histogram::default();
    let mut checkpoint = Histogram::default();
    let (mut ok, mut refused, mut errors, mut acked) = (0u64, 0u64, 0u64, 0u64);
    for r in &reports {
        latency.merge(&r.latency);
        checkpoint.merge(&r.checkpoint);
        ok += r.ok;
        refused += r.refused;
        errors += r.errors.values().sum::<u64>();
        acked += r.settled_nanos;
        for (e, n) in &r.errors {
            failures.push(format!("pid {}: {n} x {e}", r.pid));
        }
    }

    // The books, read back from the store.
    engine.flush().unwrap();
    let mut spent_by_exec: HashMap<String, (String, u64)> = HashMap::new();
    let mut executions = 0;
    for record in engine.list_executions(10_000_000).unwrap() {
        if !record.name.starts_with(&run) {
            continue;
        }
        executions += 1;
        let calls = engine.calls(&record.id).unwrap();
        let sum: u64 = calls.iter().map(|c| c.cost_nanos).sum();
        if sum != record.spent_nanos {
            failures.push(format!(
                "{}: stored spend {} but its calls sum to {sum}",
                record.id, record.spent_nanos
            ));
        }
        spent_by_exec.insert(record.id, (record.name, sum));
    }
    let recorded: u64 = spent_by_exec.values().map(|v| v.1).sum();
    let mut overspend = 0;
    // Checks one scope's books; false when it was never defined.
    let mut check_scope = |name: &str, limit: u64, expected: u64| {
        let f = match engine.shared_scope(name) {
            Ok(f) => f,
            Err(e) if e.code() == ErrorCode::NotFound => return false,
            Err(e) => panic!("{name}: {e}"),
        };
        overspend += f.spent_nanos.saturating_sub(limit);
        if f.reserved_nanos != 0 || f.overrun_nanos != 0 || f.spent_nanos != expected {
            failures.push(format!(
                "{name}: spent {} (calls: {expected}), reserved {}, overrun {}",
                f.spent_nanos, f.reserved_nanos, f.overrun_nanos
            ));
        }
        true
    };
    assert!(check_scope(
        &format!("{run}-global"),
        GLOBAL_LIMIT,
        recorded
    ));
    let (mut tenants, mut tenants_full) = (0, 0);
    for k in 0..seconds * 1000 / WINDOW_MS + 2 {
        let tenant = format!("{run}-t{k}");
        let of_tenant: u64 = spent_by_exec
            .values()
            .filter(|(name, _)| name == &format!("{run}:racer:{k}"))
            .map(|v| v.1)
            .sum();
        if check_scope(&tenant, TENANT_LIMIT, of_tenant) {
            tenants += 1;
            tenants_full += u64::from(of_tenant + WORST_CASE > TENANT_LIMIT);
        }
    }
    if overspend != 0 {
        failures.push(format!("overspent by {overspend} nano-USD"));
    }
    if acked != recorded {
        failures.push(format!(
            "workers were acknowledged {acked} nano-USD, the store holds calls of {recorded}"
        ));
    }
    let mut rss_growth_failed = false;
    println!(
        "soak on {kind}: {:.0} s, {processes} processes x {threads}+1 threads, {executions} executions",
        elapsed
    );
    println!(
        "  tracked calls: {ok} settled ({:.0}/s), {refused} refused, {errors} errors; \
         latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        ok as f64 / elapsed,
        latency.quantile(0.50) / 1e3,
        latency.quantile(0.99) / 1e3,
        latency.max() / 1e3,
    );
    println!(
        "  checkpoints: {}, p50 {:.0} µs, p99 {:.0} µs",
        checkpoint.count(),
        checkpoint.quantile(0.50) / 1e3,
        checkpoint.quantile(0.99) / 1e3
    );
    for r in &reports {
        let (first, warm, last, max) = r.rss_summary();
        let growth = last.saturating_sub(warm);
        // Flat: after the first tenth of the run, at most 25 % (or 16 MiB) more.
        let flat = growth <= (warm / 4).max(16 * 1024);
        rss_growth_failed |= !flat;
        println!(
            "  pid {}: RSS first {first} KiB, after warm-up {warm} KiB, last {last} KiB, max {max} KiB ({})",
            r.pid,
            if flat { "flat" } else { "GROWING" }
        );
    }
    println!(
        "  spend: {recorded} nano-USD recorded = {acked} acknowledged; {tenants_full} of {tenants} \
         tenant limits reached; overspend {overspend}"
    );
    if rss_growth_failed {
        failures.push("memory grew after warm-up".into());
    }
    println!(
        "{}",
        serde_json::json!({
            "store": kind, "seconds": elapsed, "processes": processes, "threads": threads,
            "executions": executions, "calls": ok, "calls_per_sec": ok as f64 / elapsed,
            "refused": refused, "errors": errors,
            "p50_us": latency.quantile(0.50) / 1e3, "p99_us": latency.quantile(0.99) / 1e3,
            "checkpoint_p99_us": checkpoint.quantile(0.99) / 1e3,
            "rss_kib": reports.iter().map(|r| {
                let (first, warm, last, max) = r.rss_summary();
                serde_json::json!({"first": first, "warm": warm, "last": last, "max": max})
            }).collect::<Vec<_>>(),
            "spent_nanos": recorded, "acknowledged_nanos": acked, "overspend_nanos": overspend,
            "tenant_limits_reached": tenants_full, "failures": failures,
        })
    );
    for f in &failures {
        eprintln!("FAILED: {f}");
    }
    i32::from(!failures.is_empty())
}

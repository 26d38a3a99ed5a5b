//! Cold start: the time from process start to the first priced call, which includes parsing
//! the built-in price table. Run several times in fresh processes (`make bench` does). With
//! `WFLO_BENCH_JSON=1` it prints one JSON line: `{"first_cost_ms", "models", "peak_rss_mib"}`
//! (the peak RSS from /proc/self/status: this process's own, whoever started it).

use std::time::Instant;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let start = Instant::now();
    let engine = wflo_core::Engine::in_memory();
    let usage = wflo_core::Usage {
        input: 1000,
        output: 500,
        ..Default::default()
    };
    let quote = engine.cost("claude-sonnet-4-5", &usage).expect("priced");
    let first_cost = start.elapsed();
    let models = engine.prices().builtin_len();
    let ms = first_cost.as_secs_f64() * 1e3;
    if std::env::var_os("WFLO_BENCH_JSON").is_some() {
        println!(
            "{}",
            serde_json::json!({"first_cost_ms": ms, "models": models, "peak_rss_mib": peak_rss_mib()})
        );
        return;
    }
    println!(
        "cold start: price table ({models} models) + first cost = {ms:.2} ms (cost {} nano-USD)",
        quote.cost_nanos
    );
}

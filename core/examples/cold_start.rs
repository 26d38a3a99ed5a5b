//! Cold start: the time from process start to the first priced call, which includes parsing
//! the built-in price table. Run several times in fresh processes (`make bench` does).

use std::time::Instant;

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
    println!(
        "cold start: price table ({models} models) + first cost = {:.2} ms (cost {} nano-USD)",
        first_cost.as_secs_f64() * 1e3,
        quote.cost_nanos
    );
}

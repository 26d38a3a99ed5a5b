//! Many threads reserve, settle and release on nested scopes at once. Afterwards every scope
//! is within its limit, nothing is left reserved, and the recorded calls add up to the spend
//! exactly: nothing lost, nothing overspent.

use std::sync::Arc;
use std::thread;

use proptest::prelude::*;
use wflo_core::{CallRequest, CallStatus, Engine, ExecutionOptions, Usage};

const PRICES: &str =
    r#"{"models":[{"name":"p-model","input":1000000,"output":4000000,"max_output":1000}]}"#;

#[derive(Debug, Clone)]
struct Op {
    scope: usize,
    input: u64,
    max_out: u64,
    /// What fraction (0–100 %) of the output cap the call uses; `None` releases instead.
    used_percent: Option<u64>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0usize..4,
        1u64..2000,
        1u64..500,
        prop::option::weighted(0.8, 0u64..=100),
    )
        .prop_map(|(scope, input, max_out, used_percent)| Op {
            scope,
            input,
            max_out,
            used_percent,
        })
}

fn run(
    threads: Vec<Vec<Op>>,
    budget: u64,
    step_budgets: [Option<u64>; 3],
) -> Result<wflo_core::Breakdown, TestCaseError> {
    let engine = Engine::in_memory();
    engine.set_prices_json(PRICES).unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "storm".into(),
            budget_nanos: Some(budget),
            ..Default::default()
        })
        .unwrap();
    // Scope 0 is the execution; 1 and 2 are steps; 3 is nested in step 1.
    let s1 = exec.scope("s1", step_budgets[0]).unwrap();
    let s2 = exec.scope("s2", step_budgets[1]).unwrap();
    let s3 = s1.child("s3", step_budgets[2]).unwrap();
    let scopes = Arc::new([exec.root(), s1, s2, s3]);
    let handles: Vec<_> = threads
        .into_iter()
        .map(|ops| {
            let scopes = scopes.clone();
            thread::spawn(move || {
                for op in ops {
                    let req = CallRequest {
                        model: "p-model",
                        input_tokens: op.input,
                        input_estimated: Some(false),
                        max_output_tokens: Some(op.max_out),
                        ..Default::default()
                    };
                    let Ok(mut r) = scopes[op.scope].reserve(&req) else {
                        continue;
                    };
                    match op.used_percent {
                        Some(p) => {
                            let usage = Usage {
                                input: op.input,
                                output: op.max_out * p / 100,
                                ..Default::default()
                            };
                            r.settle(usage).unwrap();
                        }
                        None => {
                            r.release(CallStatus::Error, None).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let limits = [
        Some(budget),
        step_budgets[0],
        step_budgets[1],
        step_budgets[2],
    ];
    for (scope, limit) in scopes.iter().zip(limits) {
        let snap = scope.snapshot().unwrap();
        prop_assert_eq!(snap.reserved_nanos, 0, "reserved left on {}", scope.label());
        prop_assert_eq!(snap.overrun_nanos, 0);
        if let Some(limit) = limit {
            prop_assert!(
                snap.spent_nanos <= limit,
                "{} spent {} > {}",
                scope.label(),
                snap.spent_nanos,
                limit
            );
        }
    }
    let calls = exec.calls().unwrap();
    let recorded: u64 = calls.iter().map(|c| c.cost_nanos).sum();
    let b = exec.breakdown().unwrap();
    prop_assert_eq!(
        recorded,
        b.total_nanos,
        "recorded calls must add up to the spend"
    );
    let s3_spent = scopes[3].snapshot().unwrap().spent_nanos;
    let by_step = |label: &str| {
        b.by_step
            .iter()
            .find(|s| s.step == label)
            .map_or(0, |s| s.cost_nanos)
    };
    prop_assert_eq!(by_step("s3"), s3_spent);
    prop_assert_eq!(
        scopes[1].snapshot().unwrap().spent_nanos,
        by_step("s1") + by_step("s3")
    );
    Ok(b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn concurrent_reservations_never_overspend(
        threads in prop::collection::vec(prop::collection::vec(op(), 1..120), 2..6),
        budget in 1_000_000u64..40_000_000,
        s1 in prop::option::of(500_000u64..20_000_000),
        s2 in prop::option::of(500_000u64..20_000_000),
        s3 in prop::option::of(500_000u64..10_000_000),
    ) {
        run(threads, budget, [s1, s2, s3])?;
    }
}

#[test]
fn a_tight_budget_under_heavy_contention_is_spent_exactly_up_to_the_limit() {
    // 8 threads race for a budget that fits exactly 100 worst cases of 1_000_000 nano-USD.
    let ops: Vec<Vec<Op>> = (0..8)
        .map(|_| {
            (0..200)
                .map(|_| Op {
                    scope: 0,
                    input: 200,
                    max_out: 200,
                    used_percent: Some(100),
                })
                .collect()
        })
        .collect();
    let b = run(ops, 100_000_000, [None, None, None]).unwrap();
    // Each call settles its full worst case, so exactly 100 fit and 1500 are refused.
    assert_eq!(b.total_nanos, 100_000_000);
    assert_eq!(b.calls, 100);
    assert_eq!(b.refused_calls, 1500);
}

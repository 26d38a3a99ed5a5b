//! `tests/vectors/pricing.json`: hand-checked costs, to the nano-USD, through name resolution.

mod common;

use wflo_core::Engine;

#[test]
fn pricing_vectors() {
    let file = common::vector("pricing.json");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 40);
    let engine = Engine::in_memory();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let model = case["model"].as_str().unwrap();
        let usage = common::usage_of(&case["usage"]);
        match (engine.cost(model, &usage), case.get("error")) {
            (Ok(q), None) => {
                let want = case["expected_nanos"].as_u64().unwrap();
                if q.cost_nanos != want {
                    failures.push(format!("{name}: {} nanos, expected {want}", q.cost_nanos));
                }
                if q.model != case["resolved"].as_str().unwrap() {
                    failures.push(format!(
                        "{name}: resolved {}, expected {}",
                        q.model, case["resolved"]
                    ));
                }
            }
            (Ok(q), Some(code)) => failures.push(format!(
                "{name}: priced {} but expected {code}",
                q.cost_nanos
            )),
            (Err(e), Some(code)) if e.code().as_str() == code.as_str().unwrap() => {}
            (Err(e), _) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

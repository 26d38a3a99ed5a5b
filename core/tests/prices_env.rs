//! `WFLO_PRICES`: the file every engine opened with `Engine::open` (every face, the CLI) loads.
//! One test in its own binary, since it sets the process environment.

use wflo_core::{Engine, ErrorCode, Usage};

#[test]
fn wflo_prices_applies_at_open_and_a_bad_file_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"models": [{"name": "in-house-llm", "input": 1000000, "output": 2000000}]}"#,
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"models\": [\n {\"name\": \"in-house-llm\", \"input\": -1, \"output\": 2}]}",
    )
    .unwrap();
    let usage = Usage {
        input: 1_000_000,
        ..Usage::default()
    };

    // SAFETY: this binary runs this one test; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("WFLO_PRICES", &good) };
    let engine = Engine::open(Some("memory://")).unwrap();
    assert_eq!(
        engine.cost("in-house-llm", &usage).unwrap().cost_nanos,
        1_000_000_000
    );
    assert_eq!(engine.price_table().files.len(), 1);

    unsafe { std::env::set_var("WFLO_PRICES", &bad) };
    let err = Engine::open(Some("memory://")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(
        err.to_string().contains("WFLO_PRICES: price file") && err.to_string().contains("line 2"),
        "{err}"
    );

    unsafe { std::env::remove_var("WFLO_PRICES") };
    let plain = Engine::open(Some("memory://")).unwrap();
    assert!(plain.cost("in-house-llm", &usage).is_err());
}

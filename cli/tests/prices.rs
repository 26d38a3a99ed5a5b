//! Price files from the command line: `wflo prices diff`, `--prices` on any command, and a bad
//! file refused with its line (exit 1) while nothing is applied.

mod common;

use common::{json, ok, wflo};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// LiteLLM's schema: a model the table lacks and a new price for gpt-4o.
const NEXT: &str = r#"{
  "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0},
  "acme-frontier-9": {"litellm_provider": "openai", "mode": "chat",
                      "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05},
  "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 128000,
             "max_output_tokens": 16384, "input_cost_per_token": 5e-06,
             "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06},
  "dall-e-9": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04}
}"#;

#[test]
fn diff_shows_the_changes_before_they_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "next.json", NEXT);
    let text = ok(&["prices", "diff", &path]);
    assert!(text.contains("(LiteLLM schema): 2 price entries"), "{text}");
    assert!(
        text.contains("1 added · 1 changed · 0 unchanged · 1 not per-token prices"),
        "{text}"
    );
    assert!(text.contains("+ acme-frontier-9"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["gpt-4o", "input", "2500000", "5000000"]),
        "{text}"
    );
    let doc = json(&["prices", "diff", &path, "--json"]);
    assert_eq!(doc["added"], serde_json::json!(["acme-frontier-9"]));
    assert_eq!(doc["skipped"][0]["name"], "dall-e-9");
    assert_eq!(doc["skipped"][0]["line"], 8);
    // diff applied nothing: without --prices the new model is unknown (exit 3).
    assert_eq!(wflo(&["price", "acme-frontier-9"]).status.code(), Some(3));
}

#[test]
fn prices_flag_prices_a_new_model_and_names_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "next.json", NEXT);
    let quote = json(&[
        "--prices",
        &path,
        "cost",
        "--model",
        "acme-frontier-9",
        "--input-tokens",
        "1000000",
        "--json",
    ]);
    assert_eq!(quote["cost_nanos"], 3_000_000_000u64);
    let price = json(&["price", "acme-frontier-9", "--prices", &path, "--json"]);
    assert_eq!(price["resolution"], "override");
    assert_eq!(price["price_table"]["files"][0]["origin"], path.as_str());
    let text = ok(&["--prices", &path, "price", "gpt-4o"]);
    assert!(
        text.contains("source: litellm ")
            && text.contains(&format!("loaded over it: {path} (LiteLLM, 20")),
        "{text}"
    );
}

#[test]
fn a_bad_file_is_refused_whole_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.json",
        "{\"models\": [\n  {\"name\": \"in-house\", \"input\": 1, \"output\": 1},\n  {\"name\": \"gpt-4o\", \"input\": \"cheap\"}\n]}",
    );
    for args in [
        vec!["prices", "diff", bad.as_str()],
        vec!["--prices", bad.as_str(), "price", "gpt-4o"],
    ] {
        let out = wflo(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.json, line 3") && err.contains("nothing was applied"),
            "{err}"
        );
    }
}

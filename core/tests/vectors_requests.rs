//! `tests/vectors/requests.json`: provider requests and what core reads from them — the
//! model and provider, the output limit in force and where it lives, n, streaming, cache
//! writes, media, what is refused — and the body core sends after a reservation.

mod common;

use serde_json::Value;
use wflo_core::request::read_request;
use wflo_core::{PriceCatalog, RequestOptions, RequestPlan, UsageFormat};

fn plan(prices: &PriceCatalog, case: &Value) -> Result<RequestPlan, wflo_core::Error> {
    let format = UsageFormat::from_name(case["format"].as_str().unwrap())?;
    let options = match case.get("options") {
        Some(o) => RequestOptions::from_json(&o.to_string())?,
        None => RequestOptions::default(),
    };
    read_request(prices, format, &case["body"], &options)
}

#[test]
fn request_vectors() {
    let file = common::vector("requests.json");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 60);
    let prices = PriceCatalog::new();
    let input_of = |name: &str| -> u64 {
        let case = cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"));
        plan(&prices, case).unwrap().input_tokens
    };
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expect = case["expect"].as_object().unwrap();
        let got = match plan(&prices, case) {
            Ok(p) => p,
            Err(e) => {
                if expect.get("error").and_then(Value::as_str) != Some(e.code().as_str()) {
                    failures.push(format!("{name}: unexpected error {e}"));
                }
                continue;
            }
        };
        let seen = serde_json::to_value(&got).unwrap();
        for (key, want) in expect {
            let ok = match key.as_str() {
                "error" => false,
                "limit_path" => {
                    let path: Vec<Value> =
                        got.limit_path().iter().map(|k| Value::from(*k)).collect();
                    Value::Array(path) == *want
                }
                "total_output_cap" => got.total_output_cap(None) == want.as_u64(),
                "total_output_cap_with_model_max" => {
                    let max = prices.resolve(&got.price_model).unwrap().price.max_output;
                    got.total_output_cap(max) == want.as_u64()
                }
                "more_input_than" => got.input_tokens > input_of(want.as_str().unwrap()),
                "same_input_as" => got.input_tokens == input_of(want.as_str().unwrap()),
                "input_at_least_more_than" => {
                    let other = input_of(want[0].as_str().unwrap());
                    got.input_tokens >= other + want[1].as_u64().unwrap()
                }
                field => seen.get(field) == Some(want),
            };
            if !ok {
                failures.push(format!(
                    "{name}: {key} expected {want}, read {} (input_tokens {})",
                    seen.get(key).cloned().unwrap_or(Value::Null),
                    got.input_tokens
                ));
            }
        }
        if let Some(rw) = case.get("rewrite") {
            let mut body = case["body"].clone();
            got.rewrite(&mut body, rw["cap"].as_u64());
            if rw.get("unchanged") == Some(&Value::Bool(true)) && body != case["body"] {
                failures.push(format!("{name}: the body changed: {body}"));
            }
            if let Some(Value::Object(set)) = rw.get("set") {
                for (k, v) in set {
                    if body.get(k) != Some(v) {
                        failures.push(format!(
                            "{name}: sent {k} = {:?}, expected {v}",
                            body.get(k)
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

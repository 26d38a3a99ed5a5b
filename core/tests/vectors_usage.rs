//! `tests/vectors/usage.json`: raw provider usage → normalised usage, as every face must.

mod common;

use serde_json::Value;
use wflo_core::usage::{StreamAccumulator, UsageFormat, parse_usage, parse_usage_value};

fn format_of(name: &str) -> (UsageFormat, bool) {
    let (base, stream) = match name.strip_suffix("_stream") {
        Some(b) => (b, true),
        None => (name, false),
    };
    (UsageFormat::from_name(base).unwrap(), stream)
}

#[test]
fn usage_vectors() {
    let file = common::vector("usage.json");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 45, "expected at least 45 usage cases");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (format, stream) = format_of(case["format"].as_str().unwrap());
        let result = if stream {
            let mut acc = StreamAccumulator::new(format).unwrap();
            let mut outcome = Ok(());
            for event in case["events"].as_array().unwrap() {
                outcome = acc.push(event);
                if outcome.is_err() {
                    break;
                }
            }
            outcome.map(|()| acc.finish())
        } else {
            let r = match case.get("payload_text") {
                Some(Value::String(text)) => parse_usage(format, text),
                _ => parse_usage_value(format, &case["payload"]),
            };
            r.map(|usage| wflo_core::StreamOutcome {
                usage: Some(usage),
                complete: true,
                text: String::new(),
            })
        };
        match (result, case.get("error"), case.get("usage_missing")) {
            (Err(e), Some(code), _) => {
                if e.code().as_str() != code.as_str().unwrap() {
                    failures.push(format!("{name}: error {} but expected {code}", e.code()));
                }
            }
            (Err(e), None, _) => failures.push(format!("{name}: unexpected error {e}")),
            (Ok(_), Some(code), _) => failures.push(format!("{name}: expected error {code}")),
            (Ok(out), None, Some(Value::Bool(true))) => {
                if out.usage.is_some() && out.complete {
                    failures.push(format!(
                        "{name}: expected usage missing, got {:?}",
                        out.usage
                    ));
                }
                let text = case["text"].as_str().unwrap_or("");
                if out.text != text {
                    failures.push(format!("{name}: text {:?} != {:?}", out.text, text));
                }
            }
            (Ok(out), None, _) => {
                let expected = common::usage_of(&case["expected"]);
                if out.usage != Some(expected) {
                    failures.push(format!(
                        "{name}: got {:?}, expected {expected:?}",
                        out.usage
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} usage vectors failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn auto_detects_every_provider() {
    let cases = [
        (
            r#"{"usage":{"prompt_tokens":10,"completion_tokens":5}}"#,
            (10, 5),
        ),
        (
            r#"{"usage":{"input_tokens":10,"output_tokens":5,"input_tokens_details":{"cached_tokens":4}}}"#,
            (6, 5),
        ),
        (
            r#"{"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3}}"#,
            (10, 5),
        ),
        (
            r#"{"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5}}"#,
            (10, 5),
        ),
        (r#"{"input":10,"output":5}"#, (10, 5)),
    ];
    for (json, (input, output)) in cases {
        let u = parse_usage(UsageFormat::Auto, json).unwrap();
        assert_eq!((u.input, u.output), (input, output), "{json}");
    }
    assert!(parse_usage(UsageFormat::Auto, r#"{"foo":1}"#).is_err());
}

/// `estimates`: what core counts for a result that came back without usage.
#[test]
fn estimate_vectors() {
    let file = common::vector("usage.json");
    let cases = file["estimates"].as_array().unwrap();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for case in cases {
        let (format, _) = format_of(case["format"].as_str().unwrap());
        let text = wflo_core::usage::generated_text(format, &case["result"]);
        if text != case["text"].as_str().unwrap() {
            failures.push(format!("{}: counted {text:?}", case["name"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

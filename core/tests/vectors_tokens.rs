//! `tests/vectors/tokens.json`: counts recorded from tiktoken must be reproduced exactly.

mod common;

use wflo_core::tokens::{Encoding, count_chat};

#[test]
fn text_counts_equal_tiktoken() {
    let file = common::vector("tokens.json");
    let texts = file["texts"].as_array().unwrap();
    assert!(texts.len() >= 40);
    let mut failures = Vec::new();
    for case in texts {
        let text = case["text"].as_str().unwrap();
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let expected = case[enc.name()].as_u64().unwrap();
            let got = enc.count(text);
            if got != expected {
                failures.push(format!(
                    "{} [{}]: {got} != {expected}",
                    case["name"],
                    enc.name()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn chat_counts_equal_the_cookbook() {
    let file = common::vector("tokens.json");
    for case in file["chat"].as_array().unwrap() {
        let model = match case["encoding"].as_str().unwrap() {
            "o200k_base" => "gpt-4o",
            _ => "gpt-4",
        };
        let got = count_chat(model, &case["messages"]).unwrap();
        assert!(!got.estimated, "{}", case["name"]);
        assert_eq!(
            got.tokens,
            case["expected"].as_u64().unwrap(),
            "{}",
            case["name"]
        );
    }
}

//! Provider usage JSON in every format, "auto" included.

use std::sync::OnceLock;

use wflo_core::usage::parse_usage;
use wflo_core::{ErrorCode, PriceCatalog, Usage, UsageFormat};

pub const FORMATS: [UsageFormat; 8] = [
    UsageFormat::Auto,
    UsageFormat::OpenAiChat,
    UsageFormat::OpenAiResponses,
    UsageFormat::Anthropic,
    UsageFormat::Gemini,
    UsageFormat::Wflo,
    UsageFormat::LangChain,
    UsageFormat::AiSdk,
];

/// Byte 0 picks the format; the rest is the payload.
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    match parse_usage(format, text) {
        Ok(usage) => {
            check_usage(&usage);
            if format == UsageFormat::Auto {
                // Detection only picks a format: some explicit format reads the same.
                assert!(
                    FORMATS[1..]
                        .iter()
                        .any(|f| parse_usage(*f, text).ok() == Some(usage)),
                    "auto read {usage:?}, which no explicit format reads"
                );
            }
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}"),
    }
}

fn catalog() -> &'static PriceCatalog {
    static CATALOG: OnceLock<PriceCatalog> = OnceLock::new();
    CATALOG.get_or_init(PriceCatalog::new)
}

/// What every usage a parser accepts must satisfy.
pub fn check_usage(usage: &Usage) {
    usage
        .validate()
        .expect("a parser returned a usage its own validation refuses");
    // wflo's own form reads back exactly.
    let json = serde_json::to_string(usage).unwrap();
    assert_eq!(parse_usage(UsageFormat::Wflo, &json).unwrap(), *usage);
    // Any accepted usage prices on a real model without overflow, and never as a silent $0.
    let price = catalog().resolve("gpt-4o").unwrap().price;
    let cost = price.cost(usage).expect("an accepted usage must price");
    assert_eq!(cost == 0, usage.total() == 0, "{usage:?} costs {cost}");
}

//! Stream event sequences through StreamAccumulator, for each stream format.

use wflo_core::{ErrorCode, StreamAccumulator, UsageFormat};

pub const FORMATS: [UsageFormat; 4] = [
    UsageFormat::OpenAiChat,
    UsageFormat::OpenAiResponses,
    UsageFormat::Anthropic,
    UsageFormat::Gemini,
];

/// Byte 0 picks the format; the rest is the events' `data:` payloads, one per line.
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut acc = StreamAccumulator::new(FORMATS[usize::from(selector) % FORMATS.len()]).unwrap();
    for event in text.split('\n') {
        let before = acc.clone();
        match acc.push_text(event) {
            Ok(()) => {
                assert!(
                    acc.text().starts_with(before.text()),
                    "streamed text is only appended"
                );
                if let Some(usage) = acc.usage() {
                    super::usage_json::check_usage(&usage);
                }
                // Providers report usage as a total so far, never an increment: the same event
                // again must not change it (assign, never add).
                let mut again = acc.clone();
                again
                    .push_text(event)
                    .expect("an accepted event is accepted again");
                assert_eq!(again.usage(), acc.usage(), "event counted twice: {event}");
            }
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
                // What the C ABI does: a bad event changes nothing.
                acc = before;
            }
        }
    }
    let outcome = acc.finish();
    if outcome.complete {
        assert!(outcome.usage.is_some(), "complete without usage");
    }
}

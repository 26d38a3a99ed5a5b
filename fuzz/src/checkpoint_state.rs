//! Checkpoint states: encoding round-trips, decoding arbitrary stored bytes, and the engine's
//! save → latest → rollback path.

use wflo_core::store::state_codec::{
    Compression, DEFAULT_CONTENT_TYPE, StateEncoding, decode, prepare, prepare_binary,
};
use wflo_core::{CheckpointState, Engine, ErrorCode, ExecutionOptions};

use super::input::Input;

/// Byte 0 picks the mode; the rest is the state or the stored bytes.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 5 {
        0 => {
            if let Ok(text) = std::str::from_utf8(input.rest()) {
                round_trip(text);
            }
        }
        // Small inputs reach the compressed encoding too: the state repeated past the
        // threshold, as large agent states repeat their structure.
        1 => {
            let times = usize::from(input.byte()) + 1;
            if let Ok(text) = std::str::from_utf8(input.rest()) {
                if serde_json::from_str::<serde_json::Value>(text).is_ok() {
                    round_trip(&format!("[{}]", vec![text; times * 64].join(",")));
                }
            }
        }
        // Whatever a corrupt row holds: an error, never a panic or an unbounded allocation.
        2 => {
            let original_len = usize::from(input.byte()) << usize::from(input.byte() % 17);
            let bytes = input.rest().to_vec();
            let binary = Some(DEFAULT_CONTENT_TYPE.to_owned());
            match decode(StateEncoding::Zstd, bytes.clone(), original_len, binary) {
                Ok(CheckpointState::Binary { bytes, .. }) => {
                    assert!(bytes.len() <= original_len.max(1))
                }
                Ok(json) => panic!("a binary state decoded as {json:?}"),
                Err(e) => assert_eq!(e.code(), ErrorCode::Storage),
            }
            let utf8 = std::str::from_utf8(&bytes).is_ok();
            assert_eq!(
                decode(StateEncoding::Plain, bytes, original_len, None).is_ok(),
                utf8
            );
        }
        // Any bytes, small or repeated past the threshold, come back as they were given.
        3 => {
            // Bits 0-1 of the mode's byte: how often to repeat; bit 2: without a content type
            // (the default one is stored); bit 3: a local file's compression (SQLite's).
            let b = input.byte();
            let times = usize::from(b % 4) * 1024 + 1;
            let content_type = (b & 4 == 0).then_some("application/x-fuzz");
            let compression = if b & 8 == 0 {
                Compression::WhenSmaller
            } else {
                Compression::WhenFourFold
            };
            let bytes = input.rest().repeat(times);
            let encoded = prepare_binary(content_type, &bytes, compression).unwrap();
            assert_eq!(encoded.len, bytes.len());
            let back = decode(
                encoded.encoding,
                encoded.bytes.into_owned(),
                encoded.len,
                encoded.content_type,
            );
            assert_eq!(
                back.unwrap(),
                CheckpointState::Binary {
                    content_type: content_type.unwrap_or(DEFAULT_CONTENT_TYPE).into(),
                    bytes
                }
            );
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(input.rest()) {
                through_engine(text);
            }
        }
    }
}

fn round_trip(text: &str) {
    for compression in [Compression::WhenSmaller, Compression::WhenFourFold] {
        round_trip_with(text, compression);
    }
}

fn round_trip_with(text: &str, compression: Compression) {
    match prepare(text, compression) {
        Ok(encoded) => {
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                "only what serde_json takes is taken"
            );
            assert_eq!(encoded.len, text.len());
            if encoded.encoding == StateEncoding::Plain {
                assert_eq!(&encoded.bytes[..], text.as_bytes());
            }
            let back = decode(
                encoded.encoding,
                encoded.bytes.into_owned(),
                encoded.len,
                None,
            )
            .unwrap();
            assert_eq!(
                back,
                CheckpointState::Json(text.to_owned()),
                "a state must come back byte for byte"
            );
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidArgument);
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(text).is_err());
        }
    }
}

fn through_engine(text: &str) {
    let engine = Engine::in_memory();
    let exec = engine.start_execution(ExecutionOptions::default()).unwrap();
    match exec.checkpoint("fuzz", text) {
        Ok(info) => {
            assert_eq!(info.state_bytes as usize, text.len());
            let (latest, state) = exec.latest_checkpoint().unwrap().unwrap();
            assert_eq!((latest.id, state.as_str()), (info.id, text));
            exec.checkpoint("after", "{}").unwrap();
            assert_eq!(exec.rollback_to_checkpoint("fuzz").unwrap(), text);
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidArgument);
            // Nothing half-saved.
            assert!(exec.latest_checkpoint().unwrap().is_none());
        }
    }
}

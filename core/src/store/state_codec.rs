//! Checkpoint states at rest: JSON as given, or zstd-compressed when that makes it smaller.
//!
//! Small states are stored as they are (compressing them costs more than the bytes saved);
//! large ones are compressed with a fast zstd level, which writes several times fewer bytes.

use crate::error::{Error, Result};

/// States at least this large are tried compressed.
pub const COMPRESS_FROM_BYTES: usize = 4096;
/// A fast zstd level: JSON still shrinks several-fold, at hundreds of MB/s.
const ZSTD_LEVEL: i32 = 1;

/// How a state is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateEncoding {
    Json,
    Zstd,
}

impl StateEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            StateEncoding::Json => "json",
            StateEncoding::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &str) -> Result<StateEncoding> {
        match name {
            "json" => Ok(StateEncoding::Json),
            "zstd" => Ok(StateEncoding::Zstd),
            other => Err(Error::Storage(format!(
                "checkpoint state has an unknown encoding '{other}'"
            ))),
        }
    }
}

/// A checkpoint state checked and ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedState {
    pub encoding: StateEncoding,
    pub bytes: Vec<u8>,
    /// Length of the JSON text.
    pub json_len: usize,
}

/// Checks that `state` is JSON (`INVALID_ARGUMENT` otherwise) and encodes it for storage.
/// (Checking and compressing on two threads at once was tried: on two cores the hand-off cost
/// more than it saved.)
pub fn prepare(state: &str) -> Result<EncodedState> {
    serde_json::from_str::<serde::de::IgnoredAny>(state)
        .map_err(|e| Error::invalid(format!("checkpoint state is not valid JSON: {e}")))?;
    let (encoding, bytes) = encode(state);
    Ok(EncodedState {
        encoding,
        bytes,
        json_len: state.len(),
    })
}

/// Encodes a state for storage.
fn encode(state: &str) -> (StateEncoding, Vec<u8>) {
    thread_local! {
        // Creating a compression context costs as much as compressing 100 KB: keep one.
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    if state.len() >= COMPRESS_FROM_BYTES {
        let packed = COMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                *cell = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
            }
            cell.as_mut()
                .and_then(|c| c.compress(state.as_bytes()).ok())
        });
        if let Some(packed) = packed.filter(|p| p.len() < state.len()) {
            return (StateEncoding::Zstd, packed);
        }
    }
    (StateEncoding::Json, state.as_bytes().to_vec())
}

/// Decodes a stored state back into JSON text; `original_len` bounds decompression.
pub fn decode(encoding: StateEncoding, bytes: Vec<u8>, original_len: usize) -> Result<String> {
    let raw = match encoding {
        StateEncoding::Json => bytes,
        StateEncoding::Zstd => zstd::bulk::decompress(&bytes, original_len.max(1))
            .map_err(|e| Error::Storage(format!("checkpoint state does not decompress: {e}")))?,
    };
    String::from_utf8(raw).map_err(|_| Error::Storage("checkpoint state is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_small_and_large_states() {
        let small = r#"{"a":1}"#;
        assert_eq!(prepare(small).unwrap().encoding, StateEncoding::Json);
        let large = format!("[{}]", vec![r#"{"key":"value","n":12345}"#; 3000].join(","));
        let e = prepare(&large).unwrap();
        assert_eq!(e.encoding, StateEncoding::Zstd);
        assert!(e.bytes.len() * 5 < large.len());
        assert_eq!(decode(e.encoding, e.bytes, e.json_len).unwrap(), large);
    }

    #[test]
    fn invalid_json_is_refused_small_or_large() {
        assert_eq!(
            prepare("{nope").unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
        let large = format!("[{}", vec!["1"; 40_000].join(","));
        assert_eq!(
            prepare(&large).unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn corrupt_states_are_storage_errors() {
        let err = decode(StateEncoding::Zstd, vec![1, 2, 3], 10).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Storage);
    }
}

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

/// Encodes a state for storage.
pub fn encode(state: &str) -> (StateEncoding, Vec<u8>) {
    if state.len() >= COMPRESS_FROM_BYTES {
        if let Ok(packed) = zstd::bulk::compress(state.as_bytes(), ZSTD_LEVEL) {
            if packed.len() < state.len() {
                return (StateEncoding::Zstd, packed);
            }
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
        assert_eq!(encode(small).0, StateEncoding::Json);
        let large = format!("[{}]", vec![r#"{"key":"value","n":12345}"#; 1000].join(","));
        let (enc, bytes) = encode(&large);
        assert_eq!(enc, StateEncoding::Zstd);
        assert!(bytes.len() * 5 < large.len());
        assert_eq!(decode(enc, bytes, large.len()).unwrap(), large);
    }

    #[test]
    fn corrupt_states_are_storage_errors() {
        let err = decode(StateEncoding::Zstd, vec![1, 2, 3], 10).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Storage);
    }
}

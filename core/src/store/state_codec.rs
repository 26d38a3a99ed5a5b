//! Checkpoint states at rest. A state is JSON text (queryable, shown by `wflo show`) or bytes
//! in the caller's own format named by a content type (LangGraph's msgpack, a pickle, an
//! image): bytes are stored as they are, never wrapped in base64 or JSON. Either kind is
//! stored as given, or zstd-compressed when that makes it smaller.
//!
//! Small states are stored as they are (compressing them costs more than the bytes saved).
//! Large ones are compressed with a fast zstd level where that pays, which depends on the
//! store ([`Compression`]). Measured on the 2-core machine of the bench, zstd level 1 on
//! 100 KB states:
//!
//! | state | zstd | ratio |
//! |---|---|---|
//! | prose messages (a chat history) | 240 µs | 2.8× |
//! | JSON documents of prose | 245 µs | 2.6× |
//! | tool-call messages (repeated structure) | 61 µs | 9× |
//! | the bench's templated documents | 48 µs | 39× |
//!
//! SQLite writes 100 KB to its file in ~70 µs: prose costs more to compress than to write,
//! and more to decompress than to read (compressing it made a 100 KB LangGraph save 2.6×
//! slower than SqliteSaver's), while repetitive states compress fast and several-fold.
//! PostgreSQL is the other way round: its server compresses a large value itself (pglz),
//! slower than zstd — a raw 100 KB INSERT of the same prose took 2 ms, of zstd's output a
//! fraction of that — and the bytes cross a socket.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// States at least this large are tried compressed.
pub const COMPRESS_FROM_BYTES: usize = 4096;
/// A fast zstd level: JSON still shrinks several-fold, at hundreds of MB/s.
const ZSTD_LEVEL: i32 = 1;
/// The window of a large state looked at first, for [`Compression::WhenFourFold`], to tell
/// whether all of it is worth compressing ([`estimated_packed_len`]).
const PROBE_BYTES: usize = 4096;

/// When a store keeps a large state compressed (see the module's figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// When zstd saves at least an eighth of the bytes: a store behind a socket whose server
    /// would otherwise compress the value itself, slower (PostgreSQL), and the in-process one.
    WhenSmaller,
    /// When zstd makes the state at least four times smaller, told by an estimate from its middle
    /// first: a local file (SQLite), where writing prose is cheaper than compressing it.
    WhenFourFold,
}

impl Compression {
    /// Whether keeping `plain` bytes as `packed` ones pays.
    fn pays(self, packed: usize, plain: usize) -> bool {
        match self {
            Compression::WhenSmaller => packed + plain / 8 <= plain,
            Compression::WhenFourFold => packed * 4 <= plain,
        }
    }
}

/// The longest content type a binary state may carry.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;
/// The content type of a binary state saved without one: bytes of no named format.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// A checkpoint state, as a caller saves it and gets it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointState {
    /// JSON text.
    Json(String),
    /// Bytes in the caller's format, named by `content_type` (e.g. `msgpack`,
    /// `application/octet-stream`).
    Binary {
        content_type: String,
        bytes: Vec<u8>,
    },
}

impl CheckpointState {
    /// The content type of a binary state; `None` for JSON.
    pub fn content_type(&self) -> Option<&str> {
        match self {
            CheckpointState::Json(_) => None,
            CheckpointState::Binary { content_type, .. } => Some(content_type),
        }
    }

    /// The JSON text of a JSON state; `INVALID_ARGUMENT` naming the content type of a binary
    /// one (a caller that asked for JSON was written for JSON states).
    pub fn into_json(self) -> Result<String> {
        match self {
            CheckpointState::Json(text) => Ok(text),
            CheckpointState::Binary { content_type, .. } => Err(binary_not_json(&content_type)),
        }
    }
}

/// The error of asking for the JSON of a binary state.
pub(crate) fn binary_not_json(content_type: &str) -> Error {
    Error::invalid(format!(
        "the checkpoint's state is binary ({content_type}), not JSON: read it with the call that \
         returns either kind"
    ))
}

/// How a state's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateEncoding {
    /// As given, for either kind (stored as "json", the name it had before binary states).
    Plain,
    Zstd,
}

impl StateEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            StateEncoding::Plain => "json",
            StateEncoding::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &str) -> Result<StateEncoding> {
        match name {
            "json" => Ok(StateEncoding::Plain),
            "zstd" => Ok(StateEncoding::Zstd),
            other => Err(Error::Storage(format!(
                "checkpoint state has an unknown encoding '{other}'"
            ))),
        }
    }
}

/// A checkpoint state checked and ready to store: the caller's bytes borrowed when they are
/// stored as given (copying 1 KB cost a twentieth of a SQLite save), compressed ones owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedState<'a> {
    pub encoding: StateEncoding,
    pub bytes: Cow<'a, [u8]>,
    /// Length of the state as given (JSON text or binary bytes).
    pub len: usize,
    /// The content type of a binary state; `None` for JSON.
    pub content_type: Option<String>,
}

/// JSON text known to be well-formed, so a save does not check it again: the check is made
/// once, where the text came in. Made only by [`JsonText::check`], from a serde_json
/// [`RawValue`](serde_json::value::RawValue) or [`Value`](serde_json::Value) (serde_json read
/// or wrote it), or by core's own encoder of Python values (`python_json::encode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText<'a>(Cow<'a, str>);

impl<'a> JsonText<'a> {
    /// `text` once checked to be JSON; `INVALID_ARGUMENT` saying what is wrong otherwise.
    pub fn check(text: &'a str) -> Result<JsonText<'a>> {
        // The fast check first; what it refuses, serde_json says what is wrong with (and would
        // accept, were the two ever to disagree: a state is never refused that serde_json takes).
        if !crate::json_check::is_json(text) {
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map_err(|e| Error::invalid(format!("checkpoint state is not valid JSON: {e}")))?;
        }
        Ok(JsonText(Cow::Borrowed(text)))
    }

    /// Text core's own encoders wrote, JSON by construction.
    pub(crate) fn written(text: impl Into<Cow<'a, str>>) -> JsonText<'a> {
        JsonText(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0.into_owned()
    }

    /// The same text, owned (still known to be JSON).
    pub fn into_owned(self) -> JsonText<'static> {
        JsonText(Cow::Owned(self.0.into_owned()))
    }
}

impl<'a> From<&'a serde_json::value::RawValue> for JsonText<'a> {
    /// serde_json checked the text when it made the `RawValue`.
    fn from(raw: &'a serde_json::value::RawValue) -> JsonText<'a> {
        JsonText(Cow::Borrowed(raw.get()))
    }
}

impl From<&serde_json::Value> for JsonText<'static> {
    fn from(value: &serde_json::Value) -> JsonText<'static> {
        JsonText::written(value.to_string())
    }
}

/// Checks that `state` is JSON (`INVALID_ARGUMENT` otherwise) and encodes it for storage.
pub fn prepare(state: &str, compression: Compression) -> Result<EncodedState<'_>> {
    JsonText::check(state)?;
    Ok(encode_json(state, compression))
}

/// Encodes JSON text for storage (it was checked where it came in). (Checking and compressing
/// on two threads at once was tried: on two cores the hand-off cost more than it saved.)
pub fn prepare_text<'a>(state: &'a JsonText<'_>, compression: Compression) -> EncodedState<'a> {
    encode_json(state.as_str(), compression)
}

fn encode_json(state: &str, compression: Compression) -> EncodedState<'_> {
    let (encoding, bytes) = encode(state.as_bytes(), compression);
    EncodedState {
        encoding,
        bytes,
        len: state.len(),
        content_type: None,
    }
}

/// Checks a binary state's content type (non-empty, printable ASCII without spaces, at most
/// [`MAX_CONTENT_TYPE_BYTES`]; `None`: [`DEFAULT_CONTENT_TYPE`]) and encodes its bytes for
/// storage; the bytes themselves are the caller's and are not looked into. A content type
/// given but empty is refused, not defaulted: it is a caller's mistake, not an omission.
pub fn prepare_binary<'a>(
    content_type: Option<&str>,
    bytes: &'a [u8],
    compression: Compression,
) -> Result<EncodedState<'a>> {
    let content_type = content_type.unwrap_or(DEFAULT_CONTENT_TYPE);
    if content_type.is_empty()
        || content_type.len() > MAX_CONTENT_TYPE_BYTES
        || !content_type.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::invalid(format!(
            "a binary checkpoint state needs a content type of 1 to {MAX_CONTENT_TYPE_BYTES} \
             printable ASCII characters without spaces (e.g. \"application/msgpack\"), not {content_type:?}"
        )));
    }
    let (encoding, stored) = encode(bytes, compression);
    Ok(EncodedState {
        encoding,
        bytes: stored,
        len: bytes.len(),
        content_type: Some(content_type.to_owned()),
    })
}

/// Encodes a state's bytes for storage.
fn encode(state: &[u8], compression: Compression) -> (StateEncoding, Cow<'_, [u8]>) {
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
            let compressor = cell.as_mut()?;
            // A probe only where it costs a fraction of compressing the whole state.
            if compression == Compression::WhenFourFold && state.len() >= 3 * PROBE_BYTES {
                let from = state.len() / 2 - PROBE_BYTES / 2;
                let estimate = estimated_packed_len(&state[from..from + PROBE_BYTES]);
                if !compression.pays(estimate, PROBE_BYTES) {
                    return None;
                }
            }
            compressor.compress(state).ok()
        });
        if let Some(packed) = packed.filter(|p| compression.pays(p.len(), state.len())) {
            return (StateEncoding::Zstd, Cow::Owned(packed));
        }
    }
    (StateEncoding::Plain, Cow::Borrowed(state))
}

/// How many bytes zstd would make `window` (at most 64 KB), estimated from a greedy LZ parse
/// of it: each run of 4 or more bytes seen before becomes a match (~2.5 bytes once
/// entropy-coded), every other byte a literal (~0.65 bytes: zstd's Huffman coding of text).
/// Against zstd level 1 on 4 KB windows of the bench's states it came within 10%: prose 2.0×
/// (zstd 2.1×), tool calls 6.3× (5.7×), templated documents 12× (12×); it takes 2.5–3.7 µs where
/// compressing the window took 5–12 µs (measured on the bench machine).
fn estimated_packed_len(window: &[u8]) -> usize {
    const HASH_BITS: u32 = 12;
    debug_assert!(window.len() <= usize::from(u16::MAX));
    if window.len() < 16 {
        return window.len();
    }
    // Where each hashed 4-byte sequence was last seen (0: not yet; position 0 is never one).
    let mut seen = [0u16; 1 << HASH_BITS];
    let word =
        |i: usize| u32::from_le_bytes([window[i], window[i + 1], window[i + 2], window[i + 3]]);
    let (mut at, mut matched, mut matches) = (1usize, 0usize, 0usize);
    while at + 4 <= window.len() {
        let w = word(at);
        let slot = (w.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize;
        let before = usize::from(seen[slot]);
        seen[slot] = at as u16;
        if before != 0 && word(before) == w {
            let mut len = 4;
            while at + len < window.len() && window[before + len] == window[at + len] {
                len += 1;
            }
            matched += len;
            matches += 1;
            at += len;
        } else {
            at += 1;
        }
    }
    let literals = window.len() - matched;
    // ~0.65 bytes a literal and ~2.5 a match, in integers.
    ((literals * 13 / 20) + (matches * 5 / 2)).max(1)
}

/// Decompresses a zstd state of `original_len` bytes.
fn decompress(packed: &[u8], original_len: usize) -> Result<Vec<u8>> {
    thread_local! {
        // A new decompression context per state cost 17 µs of a 38 µs 100 KB load: keep one.
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let failed =
        |e: std::io::Error| Error::Storage(format!("checkpoint state does not decompress: {e}"));
    DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(zstd::bulk::Decompressor::new().map_err(failed)?);
        }
        let d = cell.as_mut().expect("made above");
        d.decompress(packed, original_len.max(1)).map_err(failed)
    })
}

/// Decodes a stored state: `content_type` is the stored one (`None`: JSON), `original_len`
/// bounds decompression.
pub fn decode(
    encoding: StateEncoding,
    bytes: Vec<u8>,
    original_len: usize,
    content_type: Option<String>,
) -> Result<CheckpointState> {
    let raw = match encoding {
        StateEncoding::Plain => bytes,
        StateEncoding::Zstd => decompress(&bytes, original_len)?,
    };
    match content_type {
        None => String::from_utf8(raw)
            .map(CheckpointState::Json)
            .map_err(|_| Error::Storage("checkpoint state is not UTF-8".into())),
        Some(content_type) => Ok(CheckpointState::Binary {
            content_type,
            bytes: raw,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Compression::{WhenFourFold, WhenSmaller};

    #[test]
    fn round_trips_small_and_large_states() {
        let small = r#"{"a":1}"#;
        assert_eq!(
            prepare(small, WhenSmaller).unwrap().encoding,
            StateEncoding::Plain
        );
        let large = format!("[{}]", vec![r#"{"key":"value","n":12345}"#; 3000].join(","));
        let e = prepare(&large, WhenSmaller).unwrap();
        assert_eq!(e.encoding, StateEncoding::Zstd);
        assert!(e.bytes.len() * 5 < large.len());
        assert_eq!(
            decode(e.encoding, e.bytes.into_owned(), e.len, None).unwrap(),
            CheckpointState::Json(large)
        );
    }

    #[test]
    fn invalid_json_is_refused_small_or_large() {
        assert_eq!(
            prepare("{nope", WhenSmaller).unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
        let large = format!("[{}", vec!["1"; 40_000].join(","));
        assert_eq!(
            prepare(&large, WhenSmaller).unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn corrupt_states_are_storage_errors() {
        let err = decode(StateEncoding::Zstd, vec![1, 2, 3], 10, None).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Storage);
    }

    #[test]
    fn binary_states_round_trip_as_given_or_compressed() {
        let small = vec![0u8, 0xff, 0x80, b'{'];
        let e = prepare_binary(Some("application/msgpack"), &small, WhenSmaller).unwrap();
        assert_eq!((e.encoding, e.len), (StateEncoding::Plain, 4));
        assert_eq!(
            decode(e.encoding, e.bytes.into_owned(), e.len, e.content_type).unwrap(),
            CheckpointState::Binary {
                content_type: "application/msgpack".into(),
                bytes: small
            }
        );
        let large: Vec<u8> = (0..20_000u32).map(|i| (i % 7) as u8 * 31).collect();
        let e = prepare_binary(Some("msgpack"), &large, WhenSmaller).unwrap();
        assert_eq!(e.encoding, StateEncoding::Zstd);
        let back = decode(e.encoding, e.bytes.into_owned(), e.len, e.content_type).unwrap();
        assert_eq!(back.content_type(), Some("msgpack"));
        assert_eq!(
            back,
            CheckpointState::Binary {
                content_type: "msgpack".into(),
                bytes: large
            }
        );
    }

    #[test]
    fn incompressible_bytes_are_stored_as_given() {
        // A xorshift stream: zstd cannot shrink it at all.
        let mut next = crate::test_support::xorshift(0x9E37_79B9_7F4A_7C15);
        let noise: Vec<u8> = (0..50_000).map(|_| next() as u8).collect();
        let e = prepare_binary(None, &noise, WhenSmaller).unwrap();
        assert_eq!(e.encoding, StateEncoding::Plain);
        assert_eq!(e.content_type.as_deref(), Some(DEFAULT_CONTENT_TYPE));
        assert_eq!(&e.bytes[..], &noise[..]);
    }

    /// Words of random letters, as a chat history's prose: zstd makes it ~2× smaller, at a
    /// cost above writing it, so it is stored as it is, JSON or bytes, whole or probed.
    fn prose(n: usize) -> String {
        let mut next = crate::test_support::xorshift(0x2545_F491_4F6C_DD1D);
        let words: Vec<String> = (0..2000)
            .map(|_| {
                (0..2 + next() % 8)
                    .map(|_| (b'a' + (next() % 26) as u8) as char)
                    .collect()
            })
            .collect();
        let mut text = String::new();
        while text.len() < n {
            text.push_str(&words[(next() % words.len() as u64) as usize]);
            text.push(' ');
        }
        text
    }

    #[test]
    fn a_local_file_keeps_only_four_fold_compression_a_server_any_that_saves_an_eighth() {
        for n in [5_000, 100_000] {
            let json = serde_json::to_string(&serde_json::json!({ "text": prose(n) })).unwrap();
            // SQLite: prose (~2×) is stored as it is, JSON or bytes, whole or probed.
            let e = prepare(&json, WhenFourFold).unwrap();
            assert_eq!(e.encoding, StateEncoding::Plain, "{n} bytes of prose");
            assert_eq!(&e.bytes[..], json.as_bytes());
            let e = prepare_binary(Some("msgpack"), json.as_bytes(), WhenFourFold).unwrap();
            assert_eq!(e.encoding, StateEncoding::Plain, "{n} bytes of prose");
            // PostgreSQL: compressed, and it comes back whole.
            let e = prepare(&json, WhenSmaller).unwrap();
            assert_eq!(e.encoding, StateEncoding::Zstd, "{n} bytes of prose");
            assert!(e.bytes.len() * 4 > json.len(), "less than four-fold: {n}");
            assert_eq!(
                decode(e.encoding, e.bytes.into_owned(), e.len, None).unwrap(),
                CheckpointState::Json(json)
            );
        }
        // The same prose repeated compresses many-fold, and fast: kept compressed by both.
        let repeated = prose(500).repeat(200);
        for compression in [WhenFourFold, WhenSmaller] {
            let e = prepare_binary(Some("msgpack"), repeated.as_bytes(), compression).unwrap();
            assert_eq!(e.encoding, StateEncoding::Zstd);
            assert!(e.bytes.len() * 4 <= repeated.len());
        }
    }

    #[test]
    fn the_estimate_follows_zstd_on_prose_repetition_and_noise() {
        let zstd_ratio =
            |w: &[u8]| w.len() as f64 / zstd::bulk::compress(w, ZSTD_LEVEL).unwrap().len() as f64;
        let mut next = crate::test_support::xorshift(7);
        let noise: Vec<u8> = (0..PROBE_BYTES).map(|_| next() as u8).collect();
        let prose = prose(3 * PROBE_BYTES);
        let repeated = prose[..700].repeat(8);
        let records: String = (0..200)
            .map(|i| format!(r#"{{"id":{i},"role":"tool","name":"search","status":"ok"}},"#))
            .collect();
        for (what, window) in [
            ("noise", &noise[..]),
            ("prose", &prose.as_bytes()[PROBE_BYTES..2 * PROBE_BYTES]),
            ("repeated prose", &repeated.as_bytes()[..PROBE_BYTES]),
            ("records", &records.as_bytes()[..PROBE_BYTES]),
        ] {
            let estimate = window.len() as f64 / estimated_packed_len(window) as f64;
            let actual = zstd_ratio(window);
            // On the same side of the four-fold line, and within a factor of 1.6.
            assert_eq!(
                estimate >= 4.0,
                actual >= 4.0,
                "{what}: {estimate:.2} vs zstd {actual:.2}"
            );
            assert!(
                estimate / actual < 1.6 && actual / estimate < 1.6,
                "{what}: {estimate:.2} vs {actual:.2}"
            );
        }
        assert_eq!(estimated_packed_len(b"short"), 5);
    }

    #[test]
    fn a_binary_state_needs_a_printable_content_type() {
        for bad in ["", "has space", "tab\t", "é", &"x".repeat(256)] {
            assert_eq!(
                prepare_binary(Some(bad), b"x", WhenSmaller)
                    .unwrap_err()
                    .code(),
                crate::ErrorCode::InvalidArgument,
                "{bad:?}"
            );
        }
        let binary = decode(StateEncoding::Plain, vec![1], 1, Some("x/y".into())).unwrap();
        assert_eq!(
            binary.into_json().unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
    }
}

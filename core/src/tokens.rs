//! Offline token counting with OpenAI's encodings (counts equal tiktoken's).
//!
//! `o200k_base` for gpt-4o/4.1/4.5/5 and the o-series, `cl100k_base` for gpt-4/3.5 and the
//! embedding models. Other providers publish no offline tokenizer, so their prompts are counted
//! with `cl100k_base` and flagged `estimated`; budgets add a safety margin to estimates (see
//! [`upper_bound`]).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::fasthash::FastMap;

mod merge;
mod pretokenize;
mod vocabulary;

use pretokenize::{Pattern, pieces};
use vocabulary::{SHORT, Vocabulary, short_key};

/// Texts at least this long count with a cache of their pieces, and the vocabulary.
const LONG_TEXT: usize = 8 * 1024;
/// Short texts count without the vocabulary until they have counted this much in all.
const SHORT_BYTES_BEFORE_VOCABULARY: usize = 1 << 20;
/// Pieces longer than this are rare enough that caching them only costs memory.
const PIECE_CACHE_MAX_LEN: usize = 32;

/// A byte-pair encoding wflo can count with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

impl Encoding {
    /// The encoding's tiktoken name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    /// Parses a tiktoken encoding name.
    pub fn from_name(name: &str) -> Result<Encoding> {
        match name {
            "o200k_base" => Ok(Encoding::O200kBase),
            "cl100k_base" => Ok(Encoding::Cl100kBase),
            other => Err(Error::invalid(format!(
                "unknown encoding '{other}' (expected o200k_base or cl100k_base)"
            ))),
        }
    }

    fn tokenizer(self) -> &'static bpe_openai::Tokenizer {
        match self {
            Encoding::O200kBase => bpe_openai::o200k_base(),
            Encoding::Cl100kBase => bpe_openai::cl100k_base(),
        }
    }

    fn pattern(self) -> Pattern {
        match self {
            Encoding::O200kBase => Pattern::O200k,
            Encoding::Cl100kBase => Pattern::Cl100k,
        }
    }

    /// Number of tokens in `text`, as tiktoken's `encode_ordinary` (special-token text such as
    /// `<|endoftext|>` counts as ordinary text).
    pub fn count(self, text: &str) -> u64 {
        if text.len() >= LONG_TEXT {
            return self.count_long(text);
        }
        // Short texts build no vocabulary (~30 ms) until they add up to enough text to be worth
        // it: the first counts of a program stay quick, the many of a long-lived one get
        // faster by 3 to 4 times.
        static SHORT_BYTES: AtomicUsize = AtomicUsize::new(0);
        let vocabulary = self.vocabulary_cell().get().or_else(|| {
            let so_far = SHORT_BYTES.fetch_add(text.len(), Ordering::Relaxed);
            (so_far >= SHORT_BYTES_BEFORE_VOCABULARY).then(|| self.vocabulary())
        });
        self.count_short(text, vocabulary)
    }

    /// Piece by piece, each looked up in the vocabulary when there is one, else merged by `bpe`.
    fn count_short(self, text: &str, vocabulary: Option<&Vocabulary>) -> u64 {
        let (bpe, bytes) = (&self.tokenizer().bpe, text.as_bytes());
        let pieces = pieces(self.pattern(), text);
        match vocabulary {
            Some(vocabulary) => pieces
                .map(|piece| u64::from(count_piece(bpe, vocabulary, bytes, piece)))
                .sum(),
            None => pieces.map(|piece| bpe.count(&bytes[piece]) as u64).sum(),
        }
    }

    /// Most pieces of a long text are whole tokens, and the rest repeat: each distinct piece is
    /// counted once, then found in a cache — short ones (nearly all) by their key, longer ones
    /// by their bytes.
    fn count_long(self, text: &str) -> u64 {
        let (bpe, bytes, vocabulary) = (&self.tokenizer().bpe, text.as_bytes(), self.vocabulary());
        let mut short: FastMap<u128, u32> =
            FastMap::with_capacity_and_hasher(text.len() / 256, Default::default());
        let mut long: FastMap<&[u8], u32> = FastMap::default();
        let mut total = 0u64;
        for piece in pieces(self.pattern(), text) {
            let len = piece.len();
            total += u64::from(if len < SHORT {
                *short
                    .entry(short_key(bytes, piece.start, len))
                    .or_insert_with(|| count_piece(bpe, vocabulary, bytes, piece))
            } else if len <= PIECE_CACHE_MAX_LEN {
                *long
                    .entry(&bytes[piece.clone()])
                    .or_insert_with(|| count_piece(bpe, vocabulary, bytes, piece))
            } else {
                count_piece(bpe, vocabulary, bytes, piece)
            });
        }
        total
    }

    /// Every token's rank by its bytes, built on first use (about 30 ms).
    fn vocabulary(self) -> &'static Vocabulary {
        self.vocabulary_cell()
            .get_or_init(|| Vocabulary::new(&self.tokenizer().bpe))
    }

    fn vocabulary_cell(self) -> &'static OnceLock<Vocabulary> {
        static O200K: OnceLock<Vocabulary> = OnceLock::new();
        static CL100K: OnceLock<Vocabulary> = OnceLock::new();
        match self {
            Encoding::O200kBase => &O200K,
            Encoding::Cl100kBase => &CL100K,
        }
    }
}

/// The tokens of `bytes[piece]`: one when the piece is a token (tiktoken encodes such a piece
/// as that token, without merging), else as many as merging makes.
fn count_piece(
    bpe: &bpe_openai::byte_pair_encoding::BytePairEncoding,
    vocabulary: &Vocabulary,
    bytes: &[u8],
    piece: std::ops::Range<usize>,
) -> u32 {
    if vocabulary.rank(bytes, piece.start, piece.end).is_some() {
        1
    } else if piece.len() <= merge::MAX_LEN {
        merge::count(&bytes[piece], vocabulary) as u32
    } else {
        bpe.count(&bytes[piece]) as u32
    }
}

/// The result of counting: how many tokens, with which encoding, and whether that is the
/// model's real tokenizer or an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCount {
    pub tokens: u64,
    pub encoding: Encoding,
    /// True when the model's provider uses another tokenizer and this count is an estimate.
    pub estimated: bool,
}

/// The encoding for a model name, and whether counting with it is an estimate.
pub fn encoding_for_model(model: &str) -> (Encoding, bool) {
    let base = model.rsplit('/').next().unwrap_or(model);
    let base = base.strip_prefix("ft:").unwrap_or(base);
    // On the hot path of every call: compare without allocating a lower-cased copy.
    let starts = |prefixes: &[&str]| {
        prefixes.iter().any(|p| {
            base.len() >= p.len() && base.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        })
    };
    if starts(&[
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "gpt-oss",
        "o1",
        "o3",
        "o4",
        "codex-",
        "gpt-realtime",
        "gpt-audio",
        "computer-use",
    ]) {
        (Encoding::O200kBase, false)
    } else if starts(&[
        "gpt-4",
        "gpt-3.5",
        "gpt-35",
        "text-embedding-3",
        "text-embedding-ada-002",
    ]) {
        (Encoding::Cl100kBase, false)
    } else {
        (Encoding::Cl100kBase, true)
    }
}

/// Counts `text` as `model` would be billed for it.
pub fn count_text(model: &str, text: &str) -> TokenCount {
    let (encoding, estimated) = encoding_for_model(model);
    TokenCount {
        tokens: encoding.count(text),
        encoding,
        estimated,
    }
}

/// Tokens every chat message adds (OpenAI cookbook, "How to count tokens with tiktoken").
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Extra tokens for a message with a `name`.
pub const TOKENS_PER_NAME: u64 = 1;
/// Tokens that prime the assistant's reply.
pub const REPLY_PRIMING_TOKENS: u64 = 3;

/// Counts a chat request's messages (a JSON array of `{role, content, name?}`) with the
/// cookbook's per-message overhead. `content` may be a string or an array of parts; text parts
/// are counted, other parts (images, audio) are not and make the count an estimate. Tool calls
/// in assistant messages are counted by their JSON text.
pub fn count_chat(model: &str, messages: &Value) -> Result<TokenCount> {
    let (encoding, mut estimated) = encoding_for_model(model);
    let list = messages
        .as_array()
        .ok_or_else(|| Error::invalid("messages must be a JSON array"))?;
    let mut total = REPLY_PRIMING_TOKENS;
    for message in list {
        let obj = message
            .as_object()
            .ok_or_else(|| Error::invalid("each message must be a JSON object"))?;
        total += TOKENS_PER_MESSAGE;
        for (key, value) in obj {
            match value {
                Value::String(s) => {
                    total += encoding.count(s);
                    if key == "name" {
                        total += TOKENS_PER_NAME;
                    }
                }
                Value::Null => {}
                Value::Array(parts) if key == "content" => {
                    for part in parts {
                        match part.get("text").and_then(Value::as_str) {
                            Some(text) => total += encoding.count(text),
                            None => match part.as_str() {
                                Some(text) => total += encoding.count(text),
                                None => estimated = true,
                            },
                        }
                    }
                }
                other => {
                    // tool_calls, function_call and the like are billed as their text.
                    total += encoding.count(&other.to_string());
                    estimated = true;
                }
            }
        }
    }
    Ok(TokenCount {
        tokens: total,
        encoding,
        estimated,
    })
}

/// Percentage added to an estimated count before a budget relies on it. Claude and Gemini
/// tokenizers produce up to about a fifth more tokens than `cl100k_base` on typical English
/// and code; the margin covers that with room to spare.
pub const ESTIMATE_MARGIN_PERCENT: u64 = 25;
/// Tokens added to every estimate on top of the percentage (framing tokens that no text shows).
pub const ESTIMATE_MARGIN_TOKENS: u64 = 16;

/// The number of tokens a budget must assume: the count itself when it is exact, otherwise the
/// count plus the documented safety margin.
pub fn upper_bound(tokens: u64, estimated: bool) -> u64 {
    if estimated {
        tokens
            .saturating_add(tokens.saturating_mul(ESTIMATE_MARGIN_PERCENT).div_ceil(100))
            .saturating_add(ESTIMATE_MARGIN_TOKENS)
    } else {
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_by_model() {
        assert_eq!(
            encoding_for_model("gpt-4o-mini"),
            (Encoding::O200kBase, false)
        );
        assert_eq!(
            encoding_for_model("openai/o3-mini"),
            (Encoding::O200kBase, false)
        );
        assert_eq!(
            encoding_for_model("gpt-4-0613"),
            (Encoding::Cl100kBase, false)
        );
        assert_eq!(
            encoding_for_model("azure/gpt-35-turbo"),
            (Encoding::Cl100kBase, false)
        );
        assert_eq!(
            encoding_for_model("claude-sonnet-4-5"),
            (Encoding::Cl100kBase, true)
        );
    }

    /// Texts of words, numbers, whitespace, punctuation and other scripts.
    fn fragments() -> impl proptest::strategy::Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "the",
            " the",
            "The",
            " quick",
            "brown",
            "fox's",
            "don't",
            "I'M",
            " ",
            "  ",
            "\n",
            "\n\n",
            "\r\n",
            "\t",
            "1234",
            "3.14",
            "€",
            "日本語",
            "한국어",
            "😀",
            "👩‍👩‍👧",
            "é",
            "e\u{301}",
            "!!",
            "...",
            "<|endoftext|>",
            "fn main() {",
            "}",
            "x_y",
            "ALLCAPS",
            "  \n  ",
            "٣",
            "ß",
            "🇺🇳",
            "\u{a0}",
        ])
    }

    /// The long-text path (a piece cache, vocabulary lookups, merging) must count exactly like
    /// `bpe-openai` (its regular expressions, its backtracking encoder), which the vectors tie
    /// to tiktoken.
    #[test]
    fn long_text_path_counts_like_plain_bpe() {
        use proptest::prelude::*;
        let texts = prop::collection::vec(fragments(), 2500..4000).prop_map(|parts| parts.concat());
        proptest!(ProptestConfig::with_cases(24), |(text in texts)| {
            prop_assert!(text.len() >= LONG_TEXT);
            for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
                prop_assert_eq!(enc.count(&text), enc.tokenizer().count(text.as_str()) as u64);
            }
        });
    }

    /// Short texts count alike with the vocabulary and without it.
    #[test]
    fn short_text_path_counts_like_plain_bpe() {
        use proptest::prelude::*;
        let texts = prop::collection::vec(fragments(), 0..200).prop_map(|parts| parts.concat());
        proptest!(ProptestConfig::with_cases(300), |(text in texts)| {
            prop_assert!(text.len() < LONG_TEXT);
            for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
                let plain = enc.tokenizer().count(text.as_str()) as u64;
                prop_assert_eq!(enc.count_short(&text, None), plain);
                prop_assert_eq!(enc.count_short(&text, Some(enc.vocabulary())), plain);
            }
        });
    }

    /// Short texts build the vocabulary once they add up to enough text, and count alike
    /// before and after.
    #[test]
    fn short_texts_build_the_vocabulary_in_the_end() {
        let enc = Encoding::Cl100kBase;
        let text = "The quick brown fox's 12345 jumps over\n\tthe lazy dog. ".repeat(80);
        let want = enc.tokenizer().count(text.as_str()) as u64;
        for _ in 0..=SHORT_BYTES_BEFORE_VOCABULARY / text.len() + 1 {
            assert_eq!(enc.count(&text), want);
        }
        assert!(enc.vocabulary_cell().get().is_some());
    }

    #[test]
    fn margins_only_for_estimates() {
        assert_eq!(upper_bound(100, false), 100);
        assert_eq!(upper_bound(100, true), 141);
        assert_eq!(upper_bound(0, true), 16);
    }
}

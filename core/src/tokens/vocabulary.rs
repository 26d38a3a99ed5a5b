//! Every token's rank, found by its bytes, and the key that finds a short piece without
//! comparing strings.
//!
//! Counting a long text looks up each piece once (in a cache of pieces already counted, or
//! here) and each pair a merge joins. Most pieces and tokens are a few bytes long; hashing and
//! comparing them as byte strings (a `memcmp` call per probe) took as long as splitting the
//! text. Up to 15 bytes fit in one `u128` with their length, which hashes in a few
//! instructions and compares in one.

use crate::fasthash::FastMap;

/// Pieces and tokens shorter than this have a [`short_key`].
pub(super) const SHORT: usize = 16;

/// `bytes[start..start + len]` (`len` < [`SHORT`]) as a number: the bytes little-endian and
/// the length in the top byte, so that pieces that differ only by trailing zero bytes differ.
#[inline(always)]
pub(super) fn short_key(bytes: &[u8], start: usize, len: usize) -> u128 {
    debug_assert!(len < SHORT);
    let window = match bytes.get(start..start + SHORT) {
        Some(window) => u128::from_le_bytes(window.try_into().expect("16 bytes")),
        None => {
            let mut padded = [0u8; SHORT];
            padded[..len].copy_from_slice(&bytes[start..start + len]);
            u128::from_le_bytes(padded)
        }
    };
    (window & ((1u128 << (8 * len)) - 1)) | ((len as u128) << 120)
}

/// An encoding's tokens by their bytes: the short ones by [`short_key`], the rest as bytes.
pub(super) struct Vocabulary {
    short: FastMap<u128, u32>,
    long: FastMap<&'static [u8], u32>,
}

impl Vocabulary {
    /// From every token's bytes, the token id being its rank (as in tiktoken's files).
    pub(super) fn new(bpe: &'static bpe_openai::byte_pair_encoding::BytePairEncoding) -> Self {
        let mut short = FastMap::with_capacity_and_hasher(bpe.num_tokens(), Default::default());
        let mut long = FastMap::default();
        for id in 0..bpe.num_tokens() as u32 {
            let bytes = bpe.token_bytes(id);
            if bytes.len() < SHORT {
                short.insert(short_key(bytes, 0, bytes.len()), id);
            } else {
                long.insert(bytes, id);
            }
        }
        Vocabulary { short, long }
    }

    /// The rank of the token `bytes[start..end]`, if it is one.
    #[inline]
    pub(super) fn rank(&self, bytes: &[u8], start: usize, end: usize) -> Option<u32> {
        if end - start < SHORT {
            self.short
                .get(&short_key(bytes, start, end - start))
                .copied()
        } else {
            self.long.get(&bytes[start..end]).copied()
        }
    }
}

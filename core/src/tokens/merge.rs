//! Byte-pair merging of one short piece, counted on the stack.
//!
//! A piece that is not itself a token is merged pair by pair: start from its bytes and, while
//! some two neighbouring parts together form a token, join the pair whose token has the lowest
//! rank (the leftmost of equals). The tokens left are tiktoken's. `bpe`'s backtracking encoder
//! gives the same count for any length, but on the short pieces of ordinary text (a few bytes,
//! two or three tokens) its two allocations and automaton set-up cost more than these few
//! lookups: counting prose spent a third of its time there.

use super::vocabulary::{SHORT, Vocabulary};

/// Longest piece merged here; longer ones go to `bpe` (its cost grows linearly, this one's
/// quadratically).
pub(super) const MAX_LEN: usize = 32;

/// The number of tokens byte-pair merging makes of `piece` (2..=[`MAX_LEN`] bytes). Every
/// single byte is a token, so the merging always ends in tokens.
pub(super) fn count(piece: &[u8], vocabulary: &Vocabulary) -> usize {
    const NONE: u32 = u32::MAX;
    debug_assert!((2..=MAX_LEN).contains(&piece.len()));
    // Room after the piece, so that every short span is read as one 16-byte window.
    let mut padded = [0u8; MAX_LEN + SHORT];
    padded[..piece.len()].copy_from_slice(piece);
    // Part k spans bounds[k]..bounds[k + 1]; rank[k] is the rank of parts k and k + 1 joined.
    let mut bounds = [0u8; MAX_LEN + 1];
    let mut rank = [NONE; MAX_LEN];
    let mut parts = piece.len();
    for (k, b) in bounds.iter_mut().enumerate().take(parts + 1) {
        *b = k as u8;
    }
    let joined = |bounds: &[u8], k: usize| {
        let (start, end) = (usize::from(bounds[k]), usize::from(bounds[k + 2]));
        vocabulary.rank(&padded, start, end).unwrap_or(NONE)
    };
    for (k, r) in rank[..parts - 1].iter_mut().enumerate() {
        *r = joined(&bounds, k);
    }
    loop {
        let (mut best, mut at) = (NONE, 0);
        for (k, &r) in rank[..parts - 1].iter().enumerate() {
            if r < best {
                (best, at) = (r, k);
            }
        }
        if best == NONE {
            return parts;
        }
        // Join parts `at` and `at + 1`: one bound and one pair fewer, two pairs to look up again.
        bounds.copy_within(at + 2..=parts, at + 1);
        rank.copy_within(at + 2..parts, at + 1);
        parts -= 1;
        rank[parts - 1] = NONE;
        if at + 1 < parts {
            rank[at] = joined(&bounds, at);
        }
        if at > 0 {
            rank[at - 1] = joined(&bounds, at - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Encoding;
    use proptest::prelude::*;

    /// Bytes of text, of UTF-8 sequences and of none, so that merges run through every kind of
    /// token, including pieces that are not valid UTF-8 on their own.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => prop::sample::select(b" etaoinshrdlucmfwypvbgkjqxzETAOINS'.,-_/0123456789\n\t".to_vec()),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 2..=MAX_LEN)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn counts_as_the_backtracking_encoder(bytes in piece()) {
            for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
                let bpe = &enc.tokenizer().bpe;
                prop_assert_eq!(count(&bytes, enc.vocabulary()), bpe.count(&bytes), "{:?} {:?}", enc, bytes);
            }
        }
    }

    #[test]
    fn counts_as_the_backtracking_encoder_on_words() {
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let bpe = &enc.tokenizer().bpe;
            for word in [
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                " Pneumonoultramicroscopicsilicov",
                " antidisestablishmentarianism",
                "ab",
                "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}",
                " Dvořák",
                "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
            ] {
                assert_eq!(
                    count(word.as_bytes(), enc.vocabulary()),
                    bpe.count(word.as_bytes()),
                    "{word:?}"
                );
            }
        }
    }
}

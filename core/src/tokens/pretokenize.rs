//! Splits text into the pieces tiktoken's regular expressions find, by hand.
//!
//! Byte-pair encoding runs on each piece of text the encoding's split pattern matches. Matched
//! by `bpe-openai`'s regular expressions (a lazy DFA), the split alone ran at 60–90 MB/s, half
//! of the time of counting a long text; this one runs at about 200 MB/s. Each pattern is an
//! alternation that, at any position, takes the first alternative that matches there
//! (backtracking order), and each alternative reduces to a few runs over character classes;
//! this module walks those runs directly.
//!
//! The character classes come from `regex-syntax`'s Unicode tables, the ones `bpe-openai`'s
//! regular expressions use, so the two cannot disagree on what a letter or a space is (tiktoken's
//! own build may know characters assigned in a later Unicode version). Tests check every split
//! against `bpe-openai`'s and a set written down from tiktoken's patterns.

use std::ops::Range;
use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

// What the patterns ask of a character: one bit per class, so a set is a mask.
/// `\p{Lu}`, `\p{Lt}`.
const UPPER: u8 = 1;
/// `\p{Ll}`.
const LOWER: u8 = 2;
/// `\p{Lm}`, `\p{Lo}`: in both of o200k's case classes.
const LETTER: u8 = 4;
/// `\p{M}`: not a letter, but in both of o200k's case classes.
const MARK: u8 = 8;
/// `\p{N}`.
const NUMBER: u8 = 16;
/// `\s` but `\r` and `\n`.
const SPACE: u8 = 32;
/// `\r`, `\n`.
const NEWLINE: u8 = 64;
/// Everything else (punctuation, symbols, controls, unassigned).
const OTHER: u8 = 128;
// Past the end of the text: no class, so every run stops there.
const END: u8 = 0;

/// `\p{L}`.
const L: u8 = UPPER | LOWER | LETTER;
/// `[^\r\n\p{L}\p{N}]`: the one character that may lead a word.
const P: u8 = MARK | SPACE | OTHER;
/// `[^\s\p{L}\p{N}]`: punctuation and symbols.
const O: u8 = MARK | OTHER;
/// `\s`.
const WS: u8 = SPACE | NEWLINE;
/// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
const CASED_UPPER: u8 = UPPER | LETTER | MARK;
/// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
const CASED_LOWER: u8 = LOWER | LETTER | MARK;

/// An encoding's split pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pattern {
    /// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    Cl100k,
    /// The seven alternatives of [`Pieces::o200k`].
    O200k,
}

/// The byte ranges of the pieces of `text` under `pattern`, in order; together they are the
/// whole text, and each starts and ends on a character boundary.
pub(super) fn pieces(pattern: Pattern, text: &str) -> Pieces<'_> {
    Pieces {
        bytes: text.as_bytes(),
        pos: 0,
        pattern,
        classes: Classes::get(),
    }
}

pub(super) struct Pieces<'a> {
    bytes: &'a [u8],
    pos: usize,
    pattern: Pattern,
    classes: &'static Classes,
}

impl Iterator for Pieces<'_> {
    type Item = Range<usize>;

    #[inline]
    fn next(&mut self) -> Option<Range<usize>> {
        let start = self.pos;
        if start >= self.bytes.len() {
            return None;
        }
        let end = match self.pattern {
            Pattern::O200k => self.o200k(start),
            Pattern::Cl100k => self.cl100k(start),
        };
        self.pos = end;
        Some(start..end)
    }
}

impl Pieces<'_> {
    /// The class and UTF-8 length of the character at byte `i` (`END`, 0 past the end).
    #[inline(always)]
    fn class_at(&self, i: usize) -> (u8, usize) {
        match self.bytes.get(i) {
            None => (END, 0),
            Some(&b) if b < 0x80 => (ASCII[b as usize], 1),
            Some(&b) => {
                // The text is valid UTF-8: a lead byte and its continuation bytes.
                let cont = |k: usize| u32::from(self.bytes[i + k] & 0x3f);
                let (c, len) = if b < 0xe0 {
                    ((u32::from(b & 0x1f) << 6) | cont(1), 2)
                } else if b < 0xf0 {
                    ((u32::from(b & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3)
                } else {
                    let c = (u32::from(b & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6);
                    (c | cont(3), 4)
                };
                (self.classes.of(c), len)
            }
        }
    }

    /// The end of the run of characters in `set` from byte `i`.
    #[inline(always)]
    fn run(&self, mut i: usize, set: u8) -> usize {
        loop {
            let (class, len) = self.class_at(i);
            if class & set == 0 {
                return i;
            }
            i += len;
        }
    }

    /// The end of `\p{N}{1,3}` at `i` (its first character is a number).
    fn digits(&self, mut i: usize) -> usize {
        for _ in 0..3 {
            let (class, len) = self.class_at(i);
            if class & NUMBER == 0 {
                break;
            }
            i += len;
        }
        i
    }

    /// The end of a contraction `'(?i:[sdmt]|ll|ve|re)` at `i`, if there is one. Case folding
    /// adds one character: `ſ` (U+017F) matches `s`.
    fn contraction(&self, i: usize) -> Option<usize> {
        if self.bytes.get(i) != Some(&b'\'') {
            return None;
        }
        let next = |k: usize| self.bytes.get(i + k).map(u8::to_ascii_lowercase);
        match next(1)? {
            b's' | b't' | b'm' | b'd' => Some(i + 2),
            b'r' | b'v' if next(2) == Some(b'e') => Some(i + 3),
            b'l' if next(2) == Some(b'l') => Some(i + 3),
            0xc5 if next(2) == Some(0xbf) => Some(i + 3),
            _ => None,
        }
    }

    /// The end of the whitespace run at `i` as the patterns' last alternatives take it:
    /// through its last newline (`\s*[\r\n]+`), else all of it at the end of the text, else all
    /// but its last character when that leaves some (`\s+(?!\S)`), else its one character.
    /// cl100k tries `\s++$` first: a run that ends the text is one piece, newlines or not.
    fn whitespace(&self, i: usize, whole_at_end: bool) -> usize {
        let (mut end, mut last, mut after_newline) = (i, i, None);
        loop {
            let (class, len) = self.class_at(end);
            if class & WS == 0 {
                break;
            }
            last = end;
            end += len;
            if class & NEWLINE != 0 {
                after_newline = Some(end);
            }
        }
        let at_end = end == self.bytes.len();
        match after_newline {
            _ if at_end && whole_at_end => end,
            Some(newline) => newline,
            None if at_end || last == i => end,
            None => last,
        }
    }

    /// The end of ` ?[^\s\p{L}\p{N}]+` at `i`, if it matches, and `[\r\n]*` (with `/` for
    /// o200k) after it.
    fn punctuation(&self, i: usize, c0: u8, trailing_slash: bool) -> Option<usize> {
        let first = if self.bytes[i] == b' ' && self.class_at(i + 1).0 & O != 0 {
            i + 1
        } else if c0 & O != 0 {
            i
        } else {
            return None;
        };
        let mut end = self.run(first, O);
        while let Some(&b) = self.bytes.get(end) {
            if b == b'\r' || b == b'\n' || (trailing_slash && b == b'/') {
                end += 1;
            } else {
                break;
            }
        }
        Some(end)
    }

    fn cl100k(&self, i: usize) -> usize {
        if let Some(end) = self.contraction(i) {
            return end;
        }
        let (c0, len0) = self.class_at(i);
        // `[^\r\n\p{L}\p{N}]?+\p{L}++`: possessive, so a leading character that is not followed
        // by a letter fails the alternative (it is not a letter itself).
        if c0 & P != 0 {
            if self.class_at(i + len0).0 & L != 0 {
                return self.run(i + len0, L);
            }
        } else if c0 & L != 0 {
            return self.run(i, L);
        }
        if c0 & NUMBER != 0 {
            return self.digits(i);
        }
        if let Some(end) = self.punctuation(i, c0, false) {
            return end;
        }
        self.whitespace(i, true)
    }

    /// o200k's pattern, alternative by alternative:
    ///
    /// 1. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// 2. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// 3. `\p{N}{1,3}`
    /// 4. ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    /// 5. `\s*[\r\n]+`
    /// 6. `\s+(?!\S)`
    /// 7. `\s+`
    ///
    /// A backtracking matcher tries 1 with its optional leading character, then 1 without it,
    /// then 2 likewise, and so on; the first that matches is the piece.
    fn o200k(&self, i: usize) -> usize {
        let (c0, len0) = self.class_at(i);
        if c0 & P != 0 {
            if let Some(end) = self.word_lower(i + len0) {
                return self.with_contraction(end);
            }
        }
        if c0 & (CASED_UPPER | CASED_LOWER) != 0 {
            if let Some(end) = self.word_lower(i) {
                return self.with_contraction(end);
            }
        }
        if c0 & P != 0 {
            if let Some(end) = self.word_upper(i + len0) {
                return self.with_contraction(end);
            }
        }
        if c0 & CASED_UPPER != 0 {
            if let Some(end) = self.word_upper(i) {
                return self.with_contraction(end);
            }
        }
        if c0 & NUMBER != 0 {
            return self.digits(i);
        }
        if let Some(end) = self.punctuation(i, c0, true) {
            return end;
        }
        self.whitespace(i, false)
    }

    /// The end of `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` at `i`. The
    /// first star takes the longest run it can; when no lowercase letter follows, it gives
    /// characters back until the plus can take one — the last character of the run in both
    /// classes (`\p{Lm}`, `\p{Lo}`, `\p{M}`), which ends the match.
    fn word_lower(&self, i: usize) -> Option<usize> {
        let (mut end, mut after_both) = (i, None);
        loop {
            let (class, len) = self.class_at(end);
            if class & CASED_UPPER == 0 {
                break;
            }
            end += len;
            if class & CASED_LOWER != 0 {
                after_both = Some(end);
            }
        }
        if self.class_at(end).0 & LOWER != 0 {
            Some(self.run(end, CASED_LOWER))
        } else {
            after_both
        }
    }

    /// The end of `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` at `i`.
    fn word_upper(&self, i: usize) -> Option<usize> {
        if self.class_at(i).0 & CASED_UPPER == 0 {
            return None;
        }
        Some(self.run(self.run(i, CASED_UPPER), CASED_LOWER))
    }

    fn with_contraction(&self, end: usize) -> usize {
        self.contraction(end).unwrap_or(end)
    }
}

/// ASCII's classes, written out (the tables agree: a test compares them).
const ASCII: [u8; 128] = {
    let mut t = [OTHER; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'A'..=b'Z' => UPPER,
            b'a'..=b'z' => LOWER,
            b'0'..=b'9' => NUMBER,
            b'\r' | b'\n' => NEWLINE,
            b'\t' | 0x0b | 0x0c | b' ' => SPACE,
            _ => OTHER,
        };
        b += 1;
    }
    t
};

/// Every code point's class, in blocks of 256: `blocks[index[c >> 8]][c & 0xff]`. Most blocks
/// are alike (all `OTHER`, all `LETTER`), so the table is a few dozen KB.
struct Classes {
    index: Vec<u16>,
    blocks: Vec<[u8; 256]>,
}

impl Classes {
    fn get() -> &'static Classes {
        static CLASSES: OnceLock<Classes> = OnceLock::new();
        CLASSES.get_or_init(Classes::build)
    }

    #[inline(always)]
    fn of(&self, c: u32) -> u8 {
        self.blocks[usize::from(self.index[(c >> 8) as usize])][(c & 0xff) as usize]
    }

    fn build() -> Classes {
        let mut all = vec![OTHER; 0x11_0000];
        for (class, pattern) in [
            (UPPER, r"[\p{Lu}\p{Lt}]"),
            (LOWER, r"\p{Ll}"),
            (LETTER, r"[\p{Lm}\p{Lo}]"),
            (MARK, r"\p{M}"),
            (NUMBER, r"\p{N}"),
            (SPACE, r"\s"),
            (NEWLINE, r"[\r\n]"),
        ] {
            for (first, last) in unicode_ranges(pattern) {
                all[first as usize..=last as usize].fill(class);
            }
        }
        let mut index = Vec::with_capacity(all.len() / 256);
        let mut blocks: Vec<[u8; 256]> = Vec::new();
        let mut known = std::collections::HashMap::new();
        for chunk in all.chunks_exact(256) {
            let block: [u8; 256] = chunk.try_into().expect("256 bytes");
            let at = *known.entry(block).or_insert_with(|| {
                blocks.push(block);
                blocks.len() - 1
            });
            index.push(u16::try_from(at).expect("fewer than 65536 distinct blocks"));
        }
        Classes { index, blocks }
    }
}

/// The code point ranges of a regular-expression class, from regex-syntax's Unicode tables.
fn unicode_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::parse(pattern).expect("a valid class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        other => panic!("{pattern} is not a Unicode class: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(pattern: Pattern, text: &str) -> Vec<&str> {
        pieces(pattern, text).map(|r| &text[r]).collect()
    }

    fn regex_split(pattern: Pattern, text: &str) -> Vec<&str> {
        let tokenizer = match pattern {
            Pattern::O200k => bpe_openai::o200k_base(),
            Pattern::Cl100k => bpe_openai::cl100k_base(),
        };
        tokenizer.split(text).collect()
    }

    /// Our pieces equal `bpe-openai`'s but in one place: a whitespace run that ends the text
    /// and holds a newline is one piece for cl100k here (tiktoken's `\s++$` comes before
    /// `\s*[\r\n]`), where `bpe-openai` tries `\s*[\r\n]+` first and splits it.
    fn assert_same_split(pattern: Pattern, text: &str) -> std::result::Result<(), TestCaseError> {
        let (ours, theirs) = (split(pattern, text), regex_split(pattern, text));
        let same = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
        if same == ours.len() && same == theirs.len() {
            return Ok(());
        }
        let tail = theirs[same..].concat();
        prop_assert!(
            pattern == Pattern::Cl100k
                && same + 1 == ours.len()
                && ours[same] == tail
                && tail.chars().all(char::is_whitespace)
                && tail.contains(['\r', '\n']),
            "{pattern:?} split {text:?}\nours:   {ours:?}\ntheirs: {theirs:?}"
        );
        Ok(())
    }

    /// Splits written down from tiktoken's own patterns (Python's `regex` module), including
    /// the corners: backtracking into a word, case-folded contractions, trailing whitespace.
    #[test]
    fn splits_as_tiktoken() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("x\n  ", &["x", "\n", "  "], &["x", "\n  "]),
            ("a \n\t ", &["a", " \n", "\t "], &["a", " \n\t "]),
            (
                "x'S y'ſ z'RE HELLO's",
                &["x'S", " y'ſ", " z'RE", " HELLO's"],
                &["x", "'S", " y", "'ſ", " z", "'RE", " HELLO", "'s"],
            ),
            ("日A ", &["日", "A", " "], &["日A", " "]),
            ("ǅungla", &["ǅungla"], &["ǅungla"]),
            (" \u{301}x", &[" \u{301}x"], &[" \u{301}", "x"]),
            ("\u{301}\u{301}", &["\u{301}\u{301}"], &["\u{301}\u{301}"]),
            (
                "a/b//\n/c",
                &["a", "/b", "//\n/", "c"],
                &["a", "/b", "//\n", "/c"],
            ),
            ("12345", &["123", "45"], &["123", "45"]),
            (" !!\r\n/", &[" !!\r\n/"], &[" !!\r\n", "/"]),
            ("  x", &[" ", " x"], &[" ", " x"]),
            ("\t\tx", &["\t", "\tx"], &["\t", "\tx"]),
            (" 1", &[" ", "1"], &[" ", "1"]),
            ("", &[], &[]),
        ];
        for (text, o200k, cl100k) in cases {
            assert_eq!(split(Pattern::O200k, text), *o200k, "o200k {text:?}");
            assert_eq!(split(Pattern::Cl100k, text), *cl100k, "cl100k {text:?}");
        }
    }

    #[test]
    fn ascii_table_agrees_with_unicode_tables() {
        for b in 0..128u8 {
            assert_eq!(
                ASCII[usize::from(b)],
                Classes::get().of(u32::from(b)),
                "{b:#x}"
            );
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` accepts exactly the characters that case-fold to those
    /// letters, by regex-syntax's case tables, over every code point.
    #[test]
    fn contractions_fold_case_as_the_regex_does() {
        let folds = |letters: &str| {
            let ranges: Vec<_> = letters
                .chars()
                .flat_map(|letter| unicode_ranges(&format!("(?i:{letter})")))
                .collect();
            move |c: char| ranges.iter().any(|&(a, b)| (a..=b).contains(&u32::from(c)))
        };
        // (before, after, the letters the character in between may fold to)
        let slots = [
            ("'", "", "stmd"),
            ("'", "e", "rv"),
            ("'", "l", "l"),
            ("'r", "", "e"),
            ("'V", "", "e"),
            ("'L", "", "l"),
        ];
        for (before, after, letters) in slots {
            let folds = folds(letters);
            for c in (0..=0x10_ffffu32).filter_map(char::from_u32) {
                let text = format!("{before}{c}{after}");
                let whole = pieces(Pattern::O200k, &text).contraction(0) == Some(text.len());
                assert_eq!(whole, folds(c), "{text:?}");
            }
        }
    }

    /// Fragments of every class the patterns tell apart, and the sequences where the
    /// alternatives compete.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "the",
            " the",
            "The",
            "THE",
            " quick",
            "HTTPServer",
            "iOS",
            "x",
            "Q",
            "'s",
            "'S",
            "'ſ",
            "'re",
            "'RE",
            "'Ve",
            "'ll",
            "'lL",
            "'d",
            "'m",
            "'t",
            "'",
            "'x",
            "don't",
            " ",
            "  ",
            "   ",
            "\t",
            "\n",
            "\n\n",
            "\r",
            "\r\n",
            " \n",
            "\u{a0}",
            "\u{2003}",
            "\u{3000}",
            "\u{85}",
            "\u{2028}",
            "\u{b}",
            "\u{c}",
            "1",
            "12",
            "1234",
            "3.14",
            "٣",
            "Ⅻ",
            "½",
            "€",
            "!",
            "!!",
            "...",
            "/",
            "//",
            "/\n",
            "-",
            "_",
            "#",
            "\"",
            "(",
            ")",
            "{",
            "}",
            "<|endoftext|>",
            "日本語",
            "日A",
            "한국어",
            "ا",
            "ʰ",
            "ǅ",
            "ǅungla",
            "ß",
            "é",
            "e\u{301}",
            "\u{301}",
            "\u{903}",
            "\u{20dd}",
            "😀",
            "👩‍👩‍👧",
            "🇺🇳",
            "\u{200d}",
            "\u{feff}",
            "\u{0}",
            "\u{7f}",
            "\u{e000}",
            "\u{10fffd}",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn splits_as_the_regexes_on_fragments(parts in prop::collection::vec(fragment(), 0..40)) {
            let text = parts.concat();
            assert_same_split(Pattern::O200k, &text)?;
            assert_same_split(Pattern::Cl100k, &text)?;
        }

        #[test]
        fn splits_as_the_regexes_on_any_text(text in any::<String>()) {
            assert_same_split(Pattern::O200k, &text)?;
            assert_same_split(Pattern::Cl100k, &text)?;
        }
    }

    /// The benchmark corpora, when built (`make corpus`), and the vectors' real texts.
    #[test]
    fn splits_as_the_regexes_on_corpora() {
        let dir = std::env::var_os("WFLO_CORPUS_DIR").map(std::path::PathBuf::from);
        let corpora = ["prose", "code"].iter().filter_map(|name| {
            std::fs::read_to_string(dir.as_ref()?.join(format!("{name}.txt"))).ok()
        });
        let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/tokens.json");
        let vectors: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(vectors).unwrap()).unwrap();
        let texts = vectors["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|case| case["text"].as_str().unwrap().to_owned());
        for text in corpora.chain(texts) {
            for pattern in [Pattern::O200k, Pattern::Cl100k] {
                assert_same_split(pattern, &text).unwrap();
            }
        }
    }
}

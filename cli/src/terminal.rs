//! Stored text on a terminal: names, labels and models come from whoever wrote the store, so
//! before they reach a terminal every character that could steer it (move the cursor, recolour,
//! retitle the window, ring the bell, reorder the line) is shown as an escape instead. Columns
//! are then measured in terminal cells, not characters: CJK and emoji take two.

use std::borrow::Cow;
use std::fmt::Write;

use unicode_width::UnicodeWidthStr;

pub use wflo_core::text::{escape, is_unsafe};

/// JSON text (as `serde_json` writes it) made safe to print to a terminal without changing
/// the value it encodes. `serde_json` escapes only the C0 controls, so DEL, the C1 controls and
/// the bidi characters would reach the terminal raw; each is written as a `\uNNNN` escape
/// instead. Such characters can only stand inside JSON strings, where the escape means the
/// same character; the tab, newline and carriage return left raw are the layout's whitespace
/// (inside strings `serde_json` has already escaped them).
pub fn escape_json(text: &str) -> Cow<'_, str> {
    let needs = |c: char| is_unsafe(c) && !matches!(c, '\t' | '\n' | '\r');
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs(c) {
            // Every such character is in the Basic Multilingual Plane: one escape.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// How many terminal columns `text` takes (wide characters count two). Meant for text already
/// passed through [`escape`]: controls have no width of their own.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(
            escape("\x1b[31mred\x1b[0m"),
            "\\x1b[31mred\\x1b[0m",
            "ANSI colour"
        );
        assert_eq!(escape("bell\x07"), "bell\\x07");
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape("\0\x01\x1f\x7f"), "\\x00\\x01\\x1f\\x7f");
        assert_eq!(escape("tab\tnl\ncr\r"), "tab\\tnl\\ncr\\r");
        // C1: U+009B is a one-character CSI, U+0085 a next-line.
        assert_eq!(
            escape("\u{80}\u{85}\u{9b}\u{9f}"),
            "\\u{80}\\u{85}\\u{9b}\\u{9f}"
        );
        assert_eq!(
            escape("\u{202a}\u{202b}\u{202c}\u{202d}\u{2066}\u{2067}\u{2068}\u{2069}"),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{2066}\\u{2067}\\u{2068}\\u{2069}"
        );
        // An OSC 8 hyperlink and an OSC window title, ended by BEL and by ST.
        let osc = "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x1b]0;title\x1b\\";
        let shown = escape(osc);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(
            shown,
            "\\x1b]8;;http://evil.example\\x07click\\x1b]8;;\\x07\\x1b]0;title\\x1b\\"
        );
    }

    #[test]
    fn everything_else_is_kept_as_it_is() {
        for text in [
            "",
            "plan",
            "after-analyse",
            "gpt-4o-mini",
            "名前 🚀 café",
            "a\\x1b literal backslash",
            "\u{a0}\u{a9}\u{ff}\u{200b}\u{200d}\u{2065}\u{206a}\u{2029}\u{202f}",
            "👩‍💻 e\u{301}",
        ] {
            assert!(matches!(escape(text), Cow::Borrowed(_)), "{text:?}");
            assert_eq!(escape(text), text);
        }
        // The boundaries of each escaped range, from both sides.
        for c in [
            '\u{20}', '\u{7e}', '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
        for c in [
            '\u{0}', '\u{1f}', '\u{7f}', '\u{9f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn every_unsafe_character_leaves_only_printable_ascii_behind() {
        for c in (0..=0x10ffffu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_unsafe(c))
        {
            let shown = escape(&c.to_string()).into_owned();
            assert!(shown.starts_with('\\'), "{c:?} -> {shown}");
            assert!(
                shown.bytes().all(|b| b.is_ascii_graphic()),
                "{c:?} -> {shown:?}"
            );
        }
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_raw_controls() {
        let value = serde_json::json!({
            "name": "\x1b[31mred\x1b[0m \x07 \u{7f}\u{9b}\u{202e}\u{2066} 名前 🚀\ttab\nnl",
            "list": ["\u{85}", "plain", "\\u202e literally"]
        });
        for text in [
            serde_json::to_string_pretty(&value).unwrap(),
            serde_json::to_string(&value).unwrap(),
        ] {
            let safe = escape_json(&text);
            assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe:?}");
            assert!(safe.contains("\\u007f\\u009b\\u202e\\u2066"), "{safe}");
            assert!(safe.contains("名前 🚀"), "{safe}");
            let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
            assert_eq!(back, value);
        }
        let pretty = serde_json::to_string_pretty(&serde_json::json!({"a": ["b"]})).unwrap();
        assert!(matches!(escape_json(&pretty), Cow::Borrowed(_)));
    }

    #[test]
    fn width_counts_terminal_columns() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("名前"), 4);
        assert_eq!(width("🚀"), 2);
        assert_eq!(width("café"), 4);
        assert_eq!(width("e\u{301}"), 1, "a combining accent takes no column");
        assert_eq!(width(&escape("\x1b[0m")), 7);
    }
}

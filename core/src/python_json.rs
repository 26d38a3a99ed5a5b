//! JSON text laid out byte for byte as Python's `json.dumps(value)` writes it with its defaults
//! (`ensure_ascii=True`, separators `", "` and `": "`): the pieces the Python face's fast state
//! encoder (libwflo's `wflo_py_json_dumps`) writes with, so a checkpoint state saved from Python
//! keeps exactly the bytes it had when the standard library encoded it.

/// The separator between items of an array or members of an object.
pub const ITEM_SEPARATOR: &[u8] = b", ";
/// The separator between a member's key and its value.
pub const KEY_SEPARATOR: &[u8] = b": ";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string as `json.dumps` writes it (`ensure_ascii=True`): the quotes;
/// `"` and `\` escaped; `\b \f \n \r \t` in their short forms; every other character outside
/// the printable ASCII range 0x20..=0x7E (control characters, 0x7F, all non-ASCII) as
/// `\uXXXX` in lower-case hex, astral characters as a UTF-16 surrogate pair.
pub fn push_ascii_string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let plain = matches!(c, ' '..='~') && c != '"' && c != '\\';
        if plain {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + c.len_utf8();
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_unicode_escape(out, *unit);
                }
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn push_unicode_escape(out: &mut Vec<u8>, unit: u16) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xF)]);
    }
}

/// Appends an integer as Python's `int.__repr__` writes it.
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    use std::io::Write as _;
    write!(out, "{n}").expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut out = Vec::new();
        push_ascii_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn printable_ascii_is_kept() {
        assert_eq!(text(""), r#""""#);
        assert_eq!(text("hello, world: ~ {}[]"), r#""hello, world: ~ {}[]""#);
        assert_eq!(text("a'b/c"), r#""a'b/c""#);
    }

    #[test]
    fn quotes_backslashes_and_short_forms() {
        assert_eq!(text("\"\\"), r#""\"\\""#);
        assert_eq!(text("\u{8}\u{c}\n\r\t"), r#""\b\f\n\r\t""#);
    }

    #[test]
    fn control_characters_del_and_non_ascii_are_escaped_in_lower_case() {
        assert_eq!(text("\u{0}\u{1}\u{1f}"), r#""\u0000\u0001\u001f""#);
        assert_eq!(text("\u{7f}"), r#""\u007f""#);
        assert_eq!(text("é"), r#""\u00e9""#);
        assert_eq!(text("x€y"), r#""x\u20acy""#);
        assert_eq!(text("\u{ffff}"), r#""\uffff""#);
    }

    #[test]
    fn astral_characters_become_surrogate_pairs() {
        assert_eq!(text("😀"), r#""\ud83d\ude00""#);
        assert_eq!(text("\u{10000}\u{10ffff}"), r#""\ud800\udc00\udbff\udfff""#);
    }

    #[test]
    fn ints_as_python_writes_them() {
        for (n, want) in [
            (0, "0"),
            (-1, "-1"),
            (i64::MAX, "9223372036854775807"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(out, want.as_bytes());
        }
    }
}

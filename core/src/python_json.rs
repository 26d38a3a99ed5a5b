//! Python values as JSON text laid out byte for byte as Python's `json.dumps(value)` writes it
//! with its defaults (`ensure_ascii=True`, separators `", "` and `": "`), and JSON text read back
//! as `json.loads` reads it: the Python face's fast state encoder and decoder (libwflo's
//! `wflo_py_json_dumps` and `wflo_py_json_loads` walk and make the Python objects through
//! [`Read`] and [`Build`]; the rules are here), so a checkpoint state saved from Python keeps
//! exactly the bytes it had when the standard library encoded it.

use crate::store::JsonText;

/// The separator between items of an array or members of an object.
pub const ITEM_SEPARATOR: &[u8] = b", ";
/// The separator between a member's key and its value.
pub const KEY_SEPARATOR: &[u8] = b": ";

use crate::json_check;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string as `json.dumps` writes it (`ensure_ascii=True`): the quotes;
/// `"` and `\` escaped; `\b \f \n \r \t` in their short forms; every other character outside
/// the printable ASCII range 0x20..=0x7E (control characters, 0x7F, all non-ASCII) as
/// `\uXXXX` in lower-case hex, astral characters as a UTF-16 surrogate pair.
pub fn push_ascii_string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    // Runs of plain characters are copied whole, found sixteen bytes at a time (character by
    // character, this was half the time of encoding a chat history).
    let (mut start, mut i) = (0, 0);
    while let Some(at) = json_check::next_special::<true>(bytes, i) {
        out.extend_from_slice(&bytes[start..at]);
        let c = s[at..]
            .chars()
            .next()
            .expect("a special byte starts a character");
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
        i = at + c.len_utf8();
        start = i;
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
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a finite float as Python's `float.__repr__` writes it (and so `json.dumps`): the
/// shortest digits that read back as the same double (`shortest_digits`, as CPython's
/// `PyOS_double_to_string(x, 'r', ...)` finds them), positional when the decimal exponent is in
/// `-4..16` ("0.0001", "1234.5", "1.0", "-0.0"), else `d.ddde+XX` / `d.ddde-XX` with at least
/// two exponent digits ("1e-05", "1e+16", "5e-324"). Not for NaN or infinities (`json.dumps`
/// refuses them).
pub fn push_float(out: &mut Vec<u8>, x: f64) {
    debug_assert!(x.is_finite());
    let (digits, n, exp) = shortest_digits(x.abs());
    let digits = &digits[..n];
    if x.is_sign_negative() {
        out.push(b'-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                for _ in digits.len()..int_len {
                    out.push(b'0');
                }
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.extend_from_slice(if exp < 0 { b"e-" } else { b"e+" });
        if exp.unsigned_abs() < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(exp.unsigned_abs()).as_bytes());
    }
}

/// The shortest decimal digits that read back as `x` (positive or zero), closest to it and a
/// tie to the even digit (as CPython's repr, David Gay's dtoa): `(digits, how many, exp)`, the
/// value `d.ddd × 10^exp`. The digits are zmij's (Schubfach: shortest and closest, 3–4× faster
/// than Rust's `{:e}`, which this was written with), read off the text it prints.
fn shortest_digits(x: f64) -> ([u8; 24], usize, i32) {
    let mut digits = [0u8; 24];
    if x == 0.0 {
        digits[0] = b'0';
        return (digits, 1, 0);
    }
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(x).as_bytes();
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(e) => (&text[..e], &text[e + 1..]),
        None => (text, &b""[..]),
    };
    let (negative, magnitude) = match exponent.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, exponent),
    };
    let magnitude = magnitude
        .iter()
        .fold(0i32, |n, &d| n * 10 + i32::from(d - b'0'));
    let printed_exp = if negative { -magnitude } else { magnitude };
    // The digits without the point and the leading zeros; the exponent of the first one.
    let (mut n, mut before_point, mut point, mut leading) = (0usize, 0i32, false, 0i32);
    for &b in mantissa {
        match b {
            b'.' => point = true,
            b'0' if n == 0 => {
                leading += 1;
                before_point += i32::from(!point);
            }
            _ => {
                digits[n] = b;
                n += 1;
                before_point += i32::from(!point);
            }
        }
    }
    let exp = printed_exp + before_point - leading - 1;
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    if digits[n - 1] % 2 == 1 && rounds_up_a_tie(x, &digits[..n], exp) {
        // Python rounds a tie to the even digit when that one reads back as x too.
        let mut down = digits;
        down[n - 1] -= 1;
        let mut len = n;
        while len > 1 && down[len - 1] == b'0' {
            len -= 1;
        }
        if reads_back_as(x, &down[..len], exp) {
            return (down, len, exp);
        }
    }
    (digits, n, exp)
}

/// Whether `x` (positive) lies exactly halfway between the shortest digits Rust chose,
/// `0.d1d2...dn * 10^(exp + 1)`, and the n-digit number one unit below: Rust's shortest-digit
/// search rounds such a tie up, CPython's (David Gay's dtoa) to the even last digit, e.g.
/// 1113178120592002.25: Rust "…002.3", `repr` "…002.2". The tie is `t * 10^j` with
/// `t = 10 * digits - 5` (odd) and `j = exp - n`; `x = m * 2^e` (m odd) equals it exactly iff
/// `e == j` and `m * 5^-j == t` (j < 0) or `m == t * 5^j` (j >= 0).
fn rounds_up_a_tie(x: f64, digits: &[u8], exp: i32) -> bool {
    let bits = x.to_bits();
    let (fraction, biased) = (bits & ((1 << 52) - 1), (bits >> 52) as i32);
    let (mut m, mut e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    if m == 0 {
        return false;
    }
    let zeros = m.trailing_zeros();
    m >>= zeros;
    e += zeros as i32;
    let j = exp - digits.len() as i32;
    if e != j {
        return false; // most doubles: decided before any wide arithmetic
    }
    let d = digits
        .iter()
        .fold(0u128, |n, &c| n * 10 + u128::from(c - b'0'));
    let t = d * 10 - 5;
    let m = u128::from(m);
    let Some(five) = 5u128.checked_pow(j.unsigned_abs()) else {
        return false;
    };
    if j < 0 {
        m.checked_mul(five) == Some(t)
    } else {
        t.checked_mul(five) == Some(m)
    }
}

/// Whether `0.digits * 10^(exp + 1)` reads back (correctly rounded) as `x`.
fn reads_back_as(x: f64, digits: &[u8], exp: i32) -> bool {
    use std::fmt::Write as _;
    let mut text = Scratch::default();
    let (first, rest) = digits.split_first().expect("at least one digit");
    let ok = text.write_char(char::from(*first)).is_ok()
        && text.write_char('.').is_ok()
        && rest.iter().all(|&c| text.write_char(char::from(c)).is_ok())
        && write!(text, "0e{exp}").is_ok();
    ok && std::str::from_utf8(&text.bytes[..text.len])
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        == Some(x)
}

/// A stack buffer for one float's `{:e}` text (at most 17 digits, a point, "e-324").
#[derive(Default)]
struct Scratch {
    bytes: [u8; 32],
    len: usize,
}

impl std::fmt::Write for Scratch {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A Python value as [`encode`] sees it, told by the face's [`Read`].
pub enum Node<'v> {
    Null,
    Bool(bool),
    Str(&'v str),
    Int(i64),
    Float(f64),
    /// An exact `dict`: its members through [`Read::member`].
    Dict,
    /// An exact `list` or `tuple` of this many items, through [`Read::item`].
    Sequence(usize),
}

/// How [`encode`] reads Python values: the Python face's reader calls the interpreter's C API
/// (libwflo's `wflo_py_json_dumps`). Only exact built-in types are told as a [`Node`]: the
/// reader answers None for anything else (a subclass, a dataclass, an int beyond 64 bits, a str
/// that is not UTF-8 — a lone surrogate), and the encoder declines.
pub trait Read {
    /// A Python object, borrowed for the encoding.
    type Object: Copy;
    /// What `value` is; None when only `json.dumps` may encode it.
    fn node(&self, value: Self::Object) -> Option<Node<'_>>;
    /// The dict's next member from `*position` (0 first): `(key, value)`, None after the last.
    fn member(
        &self,
        dict: Self::Object,
        position: &mut isize,
    ) -> Option<(Self::Object, Self::Object)>;
    /// The sequence's item `index` (below its length); None when it could not be read.
    fn item(&self, sequence: Self::Object, index: usize) -> Option<Self::Object>;
}

/// Deeper than this, [`encode`] declines (`json.dumps` then reports a cycle or recursion).
pub const MAX_ENCODE_DEPTH: usize = 200;

/// `json.dumps(value)`'s text (default separators, `ensure_ascii=True`, `allow_nan=False`),
/// byte for byte, for a value of exact built-in types only (dict with str keys, list, tuple,
/// str, int within 64 bits, finite float, bool, None); None — decline, the face then runs
/// `json.dumps` itself, which encodes or refuses — for anything else, a non-finite float or
/// nesting deeper than [`MAX_ENCODE_DEPTH`]. What it writes is JSON by construction, so a save
/// does not check it again.
/// The text is written into `buffer` (cleared first), which a caller encoding often keeps:
/// growing a new one to 100 KB cost a tenth of the encoding.
pub fn encode<'b, R: Read>(
    reader: &R,
    value: R::Object,
    buffer: &'b mut Vec<u8>,
) -> Option<JsonText<'b>> {
    buffer.clear();
    encode_into(reader, buffer, value, 0)?;
    debug_assert!(buffer.is_ascii());
    // SAFETY: every piece written is ASCII (literals, digits, separators, and strings escaped
    // to printable ASCII by push_ascii_string), so UTF-8.
    let text = unsafe { std::str::from_utf8_unchecked(buffer) };
    Some(JsonText::written(text))
}

fn encode_into<R: Read>(
    reader: &R,
    out: &mut Vec<u8>,
    value: R::Object,
    depth: usize,
) -> Option<()> {
    match reader.node(value)? {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Str(s) => push_ascii_string(out, s),
        Node::Int(n) => push_int(out, n),
        // json.dumps refuses NaN and infinities (allow_nan=False), with its own message.
        Node::Float(x) if !x.is_finite() => return None,
        Node::Float(x) => push_float(out, x),
        Node::Dict => {
            if depth >= MAX_ENCODE_DEPTH {
                return None;
            }
            out.push(b'{');
            let mut position = 0;
            let mut first = true;
            while let Some((key, item)) = reader.member(value, &mut position) {
                // json.dumps turns int, float, bool and None keys into text: left to it.
                let Node::Str(key) = reader.node(key)? else {
                    return None;
                };
                if !first {
                    out.extend_from_slice(ITEM_SEPARATOR);
                }
                first = false;
                push_ascii_string(out, key);
                out.extend_from_slice(KEY_SEPARATOR);
                encode_into(reader, out, item, depth + 1)?;
            }
            out.push(b'}');
        }
        Node::Sequence(len) => {
            if depth >= MAX_ENCODE_DEPTH {
                return None;
            }
            out.push(b'[');
            for i in 0..len {
                if i > 0 {
                    out.extend_from_slice(ITEM_SEPARATOR);
                }
                encode_into(reader, out, reader.item(value, i)?, depth + 1)?;
            }
            out.push(b']');
        }
    }
    Some(())
}

/// What [`parse`] builds values with: the Python face's builder makes Python objects
/// (libwflo's `wflo_py_json_loads`). Every method returns None when it could not build (the
/// parse then stops and drops what it has built).
pub trait Build {
    /// A value built (owned: dropped when the parse gives up).
    type Value;
    /// `null`, `true`, `false`.
    fn null(&mut self) -> Option<Self::Value>;
    /// `true` or `false`.
    fn bool(&mut self, value: bool) -> Option<Self::Value>;
    /// An integer within 64 bits.
    fn int(&mut self, value: i64) -> Option<Self::Value>;
    /// An integer beyond 64 bits: its text (`-?[0-9]+`, at most [`MAX_INT_DIGITS`] digits).
    fn big_int(&mut self, text: &str) -> Option<Self::Value>;
    /// A number with a fraction or an exponent, correctly rounded (as Python's `float()`:
    /// beyond the largest double, an infinity).
    fn float(&mut self, value: f64) -> Option<Self::Value>;
    /// A string.
    fn string(&mut self, value: &str) -> Option<Self::Value>;
    /// An object's key: a string, which a builder may reuse when the same key comes again (as
    /// `json.loads` does: the keys of a list of records are each one object).
    fn key(&mut self, value: &str) -> Option<Self::Value> {
        self.string(value)
    }
    /// An array of the items drained.
    fn array(&mut self, items: std::vec::Drain<'_, Self::Value>) -> Option<Self::Value>;
    /// An empty object.
    fn object(&mut self) -> Option<Self::Value>;
    /// Sets a member of an object built by [`Build::object`]; a key set again keeps its first
    /// place and takes the last value (as `json.loads`).
    fn set(&mut self, object: &Self::Value, key: Self::Value, value: Self::Value) -> Option<()>;
}

/// Integers with more digits than this are left to Python (`int()` refuses them by default,
/// `sys.get_int_max_str_digits()`).
pub const MAX_INT_DIGITS: usize = 4300;

/// Parses JSON text as Python's `json.loads` reads it, building the values with `build`;
/// None when the text is not plain JSON (invalid, `NaN`/`Infinity`, a `\u` escape leaving a
/// lone surrogate, nesting deeper than `max_depth`, an integer of more than
/// [`MAX_INT_DIGITS`] digits, a byte order mark) or the builder failed: `json.loads` then
/// reads it (and returns or raises what it always did).
pub fn parse<B: Build>(text: &[u8], build: &mut B, max_depth: usize) -> Option<B::Value> {
    let text = std::str::from_utf8(text).ok()?;
    let mut parser = Parser {
        str: text,
        text: text.as_bytes(),
        at: 0,
        build,
        items: Vec::new(),
        scratch: String::new(),
        max_depth,
    };
    parser.skip_space();
    let value = parser.value(0)?;
    parser.skip_space();
    (parser.at == parser.text.len()).then_some(value)
}

struct Parser<'t, 'b, B: Build> {
    str: &'t str,
    text: &'t [u8],
    at: usize,
    build: &'b mut B,
    /// The items of the arrays being read, innermost last (one vector for all of them).
    items: Vec<B::Value>,
    /// A string with escapes, unescaped.
    scratch: String,
    max_depth: usize,
}

impl<'t, B: Build> Parser<'t, '_, B> {
    fn skip_space(&mut self) {
        self.at = json_check::skip_whitespace(self.text, self.at);
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.at = json_check::literal(self.text, self.at, word)?;
        Some(())
    }

    fn value(&mut self, depth: usize) -> Option<B::Value> {
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                let text = self.string()?;
                // The unescaped text lives in self.scratch or self.text: copy the range out.
                match text {
                    Str::Plain(start, end) => {
                        let s = self.slice(start, end);
                        self.build.string(s)
                    }
                    Str::Scratch => {
                        let s = std::mem::take(&mut self.scratch);
                        let value = self.build.string(&s);
                        self.scratch = s;
                        value
                    }
                }
            }
            b'n' => {
                self.literal(b"null")?;
                self.build.null()
            }
            b't' => {
                self.literal(b"true")?;
                self.build.bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                self.build.bool(false)
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Text between two ASCII characters (quotes, backslashes, a number's ends): on char
    /// boundaries of the UTF-8 checked on entry.
    fn slice(&self, start: usize, end: usize) -> &'t str {
        &self.str[start..end]
    }

    fn object(&mut self, depth: usize) -> Option<B::Value> {
        if depth > self.max_depth {
            return None;
        }
        self.at += 1; // {
        let object = self.build.object()?;
        self.skip_space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(object);
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = match self.string()? {
                Str::Plain(start, end) => {
                    let s = self.slice(start, end);
                    self.build.key(s)?
                }
                Str::Scratch => {
                    let s = std::mem::take(&mut self.scratch);
                    let key = self.build.key(&s);
                    self.scratch = s;
                    key?
                }
            };
            self.skip_space();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_space();
            let value = self.value(depth)?;
            self.build.set(&object, key, value)?;
            self.skip_space();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_space();
                }
                b'}' => {
                    self.at += 1;
                    return Some(object);
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<B::Value> {
        if depth > self.max_depth {
            return None;
        }
        self.at += 1; // [
        let from = self.items.len();
        self.skip_space();
        if self.peek()? != b']' {
            loop {
                let item = self.value(depth);
                // On failure the items read so far stay in self.items, dropped with the parser.
                self.items.push(item?);
                self.skip_space();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.skip_space();
                    }
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.at += 1; // ]
        self.build.array(self.items.drain(from..))
    }

    /// A string at a quote: its text's range (no escapes) or, unescaped, in self.scratch.
    fn string(&mut self) -> Option<Str> {
        self.at += 1; // "
        let start = self.at;
        // Plain runs are skipped sixteen bytes at a time (the scan the JSON check uses).
        self.at = json_check::next_special::<false>(self.text, self.at)?;
        match self.text[self.at] {
            b'"' => {
                self.at += 1;
                return Some(Str::Plain(start, self.at - 1));
            }
            b'\\' => {}
            _ => return None, // json.loads (strict) refuses raw control characters
        }
        self.scratch.clear();
        let mut from = start;
        loop {
            self.at = json_check::next_special::<false>(self.text, self.at)?;
            match self.text[self.at] {
                b'"' => {
                    self.scratch.push_str(self.slice(from, self.at));
                    self.at += 1;
                    return Some(Str::Scratch);
                }
                b'\\' => {
                    let plain = self.slice(from, self.at);
                    self.scratch.push_str(plain);
                    let escaped = *self.text.get(self.at + 1)?;
                    self.at += 2;
                    let c = match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let unit = self.hex4()?;
                            match unit {
                                0xD800..=0xDBFF => {
                                    // Only a pair makes a character; a lone half: declined.
                                    if self.text.get(self.at..self.at + 2)? != b"\\u" {
                                        return None;
                                    }
                                    self.at += 2;
                                    let low = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&low) {
                                        return None;
                                    }
                                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                    char::from_u32(code)?
                                }
                                0xDC00..=0xDFFF => return None,
                                _ => char::from_u32(unit)?,
                            }
                        }
                        _ => return None,
                    };
                    self.scratch.push(c);
                    from = self.at;
                }
                _ => return None, // a raw control character
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        let mut unit = 0;
        for &d in digits {
            unit = unit * 16 + char::from(d).to_digit(16)?;
        }
        self.at += 4;
        Some(unit)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`: an int without a fraction or an
    /// exponent (as `json.loads`), else a float.
    fn number(&mut self) -> Option<B::Value> {
        // The grammar is the JSON check's (a leading 0 followed by a digit: declined, as
        // `json.loads` refuses it too); what is read here is its kind and size.
        let start = self.at;
        self.at = json_check::number_end(self.text, start)?;
        let int_start = start + usize::from(self.text[start] == b'-');
        let int_digits = self.text[int_start..self.at]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        let float = int_start + int_digits < self.at;
        let text = self.slice(start, self.at);
        if float {
            return self.build.float(text.parse().ok()?);
        }
        if int_digits <= 18 {
            // At most 18 digits: within 64 bits.
            let magnitude = text[int_start - start..]
                .bytes()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return self.build.int(if start == int_start {
                magnitude
            } else {
                -magnitude
            });
        }
        if let Ok(n) = text.parse::<i64>() {
            return self.build.int(n);
        }
        if int_digits > MAX_INT_DIGITS {
            return None;
        }
        self.build.big_int(text)
    }
}

enum Str {
    /// No escapes: the text between the quotes.
    Plain(usize, usize),
    /// Unescaped into the parser's scratch string.
    Scratch,
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

    /// The one-character-at-a-time rule, for comparison with the block scan.
    fn escaped_char_by_char(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                ' '..='~' => out.push(c),
                _ => {
                    for unit in c.encode_utf16(&mut [0u16; 2]) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
        out
    }

    /// Whatever ends a run of plain characters, at every offset of a 16-byte block and past
    /// it, is escaped as one character at a time would have it.
    #[test]
    fn every_offset_of_a_block_is_escaped_alike() {
        for len in 0..40 {
            for special in ["\"", "\\", "\n", "\u{1}", "\u{7f}", "é", "日本", "😀", "~"] {
                let s = format!("{}{special}{}", "a".repeat(len), "b".repeat(len % 19));
                assert_eq!(text(&s), escaped_char_by_char(&s), "{s:?}");
                let twice = format!("{s}{special}{s}");
                assert_eq!(text(&twice), escaped_char_by_char(&twice), "{twice:?}");
            }
        }
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

    fn float(x: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_read_back_with_as_few_digits_as_rusts_shortest() {
        let mut next = crate::test_support::xorshift(0xF10A7);
        let mut checked = 0;
        while checked < 200_000 {
            let x = f64::from_bits(next());
            if !x.is_finite() {
                continue;
            }
            checked += 1;
            let text = float(x);
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
            let ours = text.split(['e', 'E']).next().unwrap();
            let ours = ours.trim_start_matches(['-', '0', '.']).replace('.', "");
            let rust = format!("{:e}", x.abs());
            let rust = rust.split('e').next().unwrap().replace('.', "");
            assert_eq!(
                ours.trim_end_matches('0').len(),
                rust.len(),
                "{x:e}: {text}"
            );
        }
    }

    #[test]
    fn floats_as_python_repr_writes_them() {
        // Each pair checked against CPython 3.11's repr().
        for (x, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.0 / 3.0, "0.6666666666666666"),
            (1234.5, "1234.5"),
            (100.0, "100.0"),
            (1e-4, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-5, "1e-05"),
            (-1.5e-5, "-1.5e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (9007199254740992.0, "9007199254740992.0"),
            (9007199254740993.0, "9007199254740992.0"),
            (9007199254740994.0, "9007199254740994.0"),
            (9007199254740991.0, "9007199254740991.0"),
            (5e-324, "5e-324"),
            (-5e-324, "-5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (2.225073858507201e-308, "2.225073858507201e-308"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e100, "1e+100"),
            (1e-100, "1e-100"),
            (1e22, "1e+22"),
            (1e23, "1e+23"),
            (0.3, "0.3"),
            (0.1 + 0.2, "0.30000000000000004"),
            (9.223372036854776e18, "9.223372036854776e+18"),
            (123.456, "123.456"),
            (1.7e-7, "1.7e-07"),
            // Exact ties between two shortest candidates: the even one, as Python.
            (-(1113178120592002.0 + 0.25), "-1113178120592002.2"),
            (233891771783429.0 + 0.625, "233891771783429.62"),
            (111659285584252.0 + 0.125, "111659285584252.12"),
            (2053637337633904.0 + 0.25, "2053637337633904.2"),
            (0.5, "0.5"),
            (2.5, "2.5"),
        ] {
            assert_eq!(float(x), want, "{x:e}");
        }
    }

    #[derive(Debug, PartialEq)]
    enum Json {
        Null,
        Bool(bool),
        Int(i64),
        Big(String),
        Float(f64),
        Str(String),
        Array(Vec<Json>),
        Object(std::cell::RefCell<Vec<(String, Json)>>),
    }

    struct Tree;

    impl Build for Tree {
        type Value = Json;
        fn null(&mut self) -> Option<Json> {
            Some(Json::Null)
        }
        fn bool(&mut self, value: bool) -> Option<Json> {
            Some(Json::Bool(value))
        }
        fn int(&mut self, value: i64) -> Option<Json> {
            Some(Json::Int(value))
        }
        fn big_int(&mut self, text: &str) -> Option<Json> {
            Some(Json::Big(text.to_owned()))
        }
        fn float(&mut self, value: f64) -> Option<Json> {
            Some(Json::Float(value))
        }
        fn string(&mut self, value: &str) -> Option<Json> {
            Some(Json::Str(value.to_owned()))
        }
        fn array(&mut self, items: std::vec::Drain<'_, Json>) -> Option<Json> {
            Some(Json::Array(items.collect()))
        }
        fn object(&mut self) -> Option<Json> {
            Some(Json::Object(Default::default()))
        }
        fn set(&mut self, object: &Json, key: Json, value: Json) -> Option<()> {
            let (Json::Object(members), Json::Str(key)) = (object, key) else {
                return None;
            };
            let mut members = members.borrow_mut();
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some(member) => member.1 = value,
                None => members.push((key, value)),
            }
            Some(())
        }
    }

    fn read(text: &str) -> Option<Json> {
        parse(text.as_bytes(), &mut Tree, 200)
    }

    fn object(members: Vec<(&str, Json)>) -> Json {
        Json::Object(std::cell::RefCell::new(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        ))
    }

    #[test]
    fn parses_what_json_dumps_writes() {
        use Json::*;
        assert_eq!(
            read(r#"{"a": [1, -2, 3.5, -0.0, 1e400, true, false, null], "b": {}, "c": []}"#),
            Some(object(vec![
                (
                    "a",
                    Array(vec![
                        Int(1),
                        Int(-2),
                        Float(3.5),
                        Float(-0.0),
                        Float(f64::INFINITY),
                        Bool(true),
                        Bool(false),
                        Null
                    ])
                ),
                ("b", object(vec![])),
                ("c", Array(vec![])),
            ]))
        );
        assert_eq!(read(" \t\n\r-0 "), Some(Int(0)));
        assert_eq!(read("9223372036854775807"), Some(Int(i64::MAX)));
        assert_eq!(read("-9223372036854775808"), Some(Int(i64::MIN)));
        assert_eq!(
            read("9223372036854775808"),
            Some(Big("9223372036854775808".into()))
        );
        assert_eq!(read("1E2"), Some(Float(100.0)));
        assert_eq!(read("0.1"), Some(Float(0.1)));
    }

    #[test]
    fn unescapes_strings_and_keeps_raw_utf8() {
        use Json::*;
        assert_eq!(
            read(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00""#),
            Some(Str("a\"b\\c/d\u{8}\u{c}\n\r\té€😀".into()))
        );
        assert_eq!(read("\"é😀\""), Some(Str("é😀".into())));
        assert_eq!(read("\"\u{7f}\""), Some(Str("\u{7f}".into())));
    }

    /// Escapes, raw non-ASCII and control characters at every offset of a 16-byte block and
    /// past it read as serde_json reads them (a raw control character: declined by both).
    #[test]
    fn strings_read_alike_at_every_offset_of_a_block() {
        for len in 0..40 {
            for special in [
                r#"\""#,
                r"\n",
                r"\u00e9",
                r"\ud83d\ude00",
                "é",
                "\u{1}",
                "~",
            ] {
                let body = format!("{}{special}{}", "a".repeat(len), "b".repeat(len % 19));
                for text in [format!("\"{body}\""), format!("\"{body}{special}{body}\"")] {
                    let want = serde_json::from_str::<String>(&text).ok().map(Json::Str);
                    assert_eq!(read(&text), want, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn a_key_set_again_keeps_its_place_and_takes_the_last_value() {
        use Json::*;
        assert_eq!(
            read(r#"{"a": 1, "b": 2, "a": 3}"#),
            Some(object(vec![("a", Int(3)), ("b", Int(2))]))
        );
    }

    #[test]
    fn declines_what_it_leaves_to_json_loads() {
        for text in [
            "",
            " ",
            "[1,]",
            "{\"a\":1,}",
            "[1 2]",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "NaN",
            "Infinity",
            "-Infinity",
            "nul",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\t\"",
            "\"abc",
            "[1] x",
            "{1: 2}",
            "\u{feff}[]",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
        assert_eq!(parse(b"\"\xff\"", &mut Tree, 200), None);
        let deep = "[".repeat(201) + &"]".repeat(201);
        assert_eq!(read(&deep), None);
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(read(&deep).is_some());
        let long = "1".repeat(MAX_INT_DIGITS + 1);
        assert_eq!(read(&long), None);
        assert_eq!(read(&long[1..]), Some(Json::Big(long[1..].to_owned())));
    }

    /// A Python value as a tree, read by [`encode`] as the face reads the interpreter's.
    #[derive(Debug)]
    enum Py {
        None,
        Bool(bool),
        Str(String),
        Int(i64),
        /// An int beyond 64 bits, a lone surrogate, a dataclass: what the reader cannot tell.
        Opaque,
        Float(f64),
        Dict(Vec<(Py, Py)>),
        List(Vec<Py>),
    }

    struct PyTree;

    impl Read for PyTree {
        type Object = *const Py;

        fn node(&self, value: *const Py) -> Option<Node<'_>> {
            Some(match unsafe { &*value } {
                Py::None => Node::Null,
                Py::Bool(b) => Node::Bool(*b),
                Py::Str(s) => Node::Str(s),
                Py::Int(n) => Node::Int(*n),
                Py::Opaque => return None,
                Py::Float(x) => Node::Float(*x),
                Py::Dict(_) => Node::Dict,
                Py::List(items) => Node::Sequence(items.len()),
            })
        }

        fn member(&self, dict: *const Py, position: &mut isize) -> Option<(*const Py, *const Py)> {
            let Py::Dict(members) = (unsafe { &*dict }) else {
                panic!("member of a non-dict")
            };
            let (k, v) = members.get(*position as usize)?;
            *position += 1;
            Some((k, v))
        }

        fn item(&self, sequence: *const Py, index: usize) -> Option<*const Py> {
            let Py::List(items) = (unsafe { &*sequence }) else {
                panic!("item of a non-list")
            };
            items.get(index).map(|i| i as *const Py)
        }
    }

    fn dumps(value: &Py) -> Option<String> {
        encode(&PyTree, value, &mut Vec::new()).map(JsonText::into_string)
    }

    fn s(text: &str) -> Py {
        Py::Str(text.into())
    }

    #[test]
    fn encodes_as_json_dumps_writes() {
        let value = Py::Dict(vec![
            (
                s("a"),
                Py::List(vec![
                    Py::Int(1),
                    Py::Float(2.5),
                    s("x\né"),
                    Py::List(vec![]),
                ]),
            ),
            (s("b"), Py::None),
            (s("c"), Py::Bool(true)),
            (s("d"), Py::Dict(vec![])),
            (s("e"), Py::Float(1e16)),
        ]);
        assert_eq!(
            dumps(&value).unwrap(),
            r#"{"a": [1, 2.5, "x\n\u00e9", []], "b": null, "c": true, "d": {}, "e": 1e+16}"#
        );
    }

    #[test]
    fn declines_what_only_json_dumps_may_encode() {
        let nested = |inner: Py| Py::Dict(vec![(s("k"), Py::List(vec![Py::Int(1), inner]))]);
        assert_eq!(dumps(&nested(Py::Opaque)), None);
        assert_eq!(dumps(&nested(Py::Float(f64::NAN))), None);
        assert_eq!(dumps(&nested(Py::Float(f64::NEG_INFINITY))), None);
        assert_eq!(
            dumps(&Py::Dict(vec![(Py::Int(1), Py::None)])),
            None,
            "a non-str key"
        );
        assert_eq!(dumps(&Py::Dict(vec![(Py::Opaque, Py::None)])), None);
        let deep = |levels: usize| (0..levels).fold(Py::Int(1), |v, _| Py::List(vec![v]));
        assert!(dumps(&deep(MAX_ENCODE_DEPTH)).is_some());
        assert_eq!(dumps(&deep(MAX_ENCODE_DEPTH + 1)), None);
    }

    #[test]
    fn what_it_writes_is_json() {
        let mut next = crate::test_support::xorshift(19);
        fn value(next: &mut impl FnMut() -> u64, depth: usize) -> Py {
            let pick = next() % 10;
            let text = |next: &mut dyn FnMut() -> u64| -> String {
                (0..next() % 6)
                    .map(|_| char::from_u32((next() % 0x11_0000) as u32).unwrap_or('\u{fffd}'))
                    .collect()
            };
            match pick {
                0 => Py::None,
                1 => Py::Bool(next() % 2 == 0),
                2 => Py::Int(next() as i64),
                3 => {
                    let x = f64::from_bits(next());
                    Py::Float(if x.is_finite() { x } else { 0.5 })
                }
                4 | 5 => Py::Str(text(next)),
                6 | 7 if depth < 4 => {
                    Py::List((0..next() % 5).map(|_| value(next, depth + 1)).collect())
                }
                8 | 9 if depth < 4 => Py::Dict(
                    (0..next() % 5)
                        .map(|_| (Py::Str(text(next)), value(next, depth + 1)))
                        .collect(),
                ),
                _ => Py::Int(0),
            }
        }
        for _ in 0..2000 {
            let text = dumps(&value(&mut next, 0)).unwrap();
            assert!(crate::json_check::is_json(&text), "{text}");
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
            assert!(text.is_ascii());
        }
    }
}

//! Just enough MessagePack to read what earlier Python savers stored (their records were
//! msgpack maps) and the `channel_versions` of a checkpoint LangGraph serialised as msgpack.
//! Reading only: the saver writes its own layout (`record.rs`).

use serde_json::{Number, Value};

/// A decoded msgpack value: JSON's values, and bytes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    Json(Value),
    Bytes(Vec<u8>),
    List(Vec<Item>),
    Map(Vec<(Item, Item)>),
    /// An extension type (LangGraph's objects): kept opaque.
    Ext,
}

impl Item {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Item::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// A map's value under a string key.
    pub(crate) fn get(&self, key: &str) -> Option<&Item> {
        match self {
            Item::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// This value as JSON (bytes and extensions have none).
    pub(crate) fn to_json(&self) -> Option<Value> {
        Some(match self {
            Item::Json(v) => v.clone(),
            Item::List(items) => {
                Value::Array(items.iter().map(Item::to_json).collect::<Option<_>>()?)
            }
            Item::Map(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| Some((k.as_str()?.to_owned(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
            Item::Bytes(_) | Item::Ext => return None,
        })
    }
}

/// One msgpack value filling all of `data`, or `None` when it is not that.
pub(crate) fn decode(data: &[u8]) -> Option<Item> {
    let mut r = Reader { data, at: 0 };
    let item = r.item(0)?;
    (r.at == data.len()).then_some(item)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn uint(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | b as u64),
        )
    }

    fn item(&mut self, depth: usize) -> Option<Item> {
        if depth > 512 {
            return None;
        }
        let b = *self.take(1)?.first()?;
        let int = |v: i64| Some(Item::Json(Value::from(v)));
        match b {
            0x00..=0x7f => int(b as i64),
            0xe0..=0xff => int(b as i8 as i64),
            0x80..=0x8f => self.map((b & 0x0f) as usize, depth),
            0x90..=0x9f => self.list((b & 0x0f) as usize, depth),
            0xa0..=0xbf => self.str((b & 0x1f) as usize),
            0xc0 => Some(Item::Json(Value::Null)),
            0xc2 => Some(Item::Json(Value::Bool(false))),
            0xc3 => Some(Item::Json(Value::Bool(true))),
            0xc4..=0xc6 => {
                let n = self.uint(1 << (b - 0xc4))? as usize;
                Some(Item::Bytes(self.take(n)?.to_vec()))
            }
            0xc7..=0xc9 => {
                let n = self.uint(1 << (b - 0xc7))? as usize;
                self.take(n + 1)?;
                Some(Item::Ext)
            }
            0xca => Some(Item::Json(
                Number::from_f64(f32::from_bits(self.uint(4)? as u32) as f64)
                    .map_or(Value::Null, Value::Number),
            )),
            0xcb => Some(Item::Json(
                Number::from_f64(f64::from_bits(self.uint(8)?)).map_or(Value::Null, Value::Number),
            )),
            0xcc..=0xcf => Some(Item::Json(Value::from(self.uint(1 << (b - 0xcc))?))),
            0xd0..=0xd3 => {
                let n = 1usize << (b - 0xd0);
                let v = self.uint(n)?;
                let shift = 64 - 8 * n as u32;
                int(((v << shift) as i64) >> shift)
            }
            0xd4..=0xd8 => {
                self.take(1 + (1 << (b - 0xd4)))?;
                Some(Item::Ext)
            }
            0xd9..=0xdb => {
                let n = self.uint(1 << (b - 0xd9))? as usize;
                self.str(n)
            }
            0xdc | 0xdd => {
                let n = self.uint(if b == 0xdc { 2 } else { 4 })? as usize;
                self.list(n, depth)
            }
            0xde | 0xdf => {
                let n = self.uint(if b == 0xde { 2 } else { 4 })? as usize;
                self.map(n, depth)
            }
            0xc1 => None,
        }
    }

    fn str(&mut self, n: usize) -> Option<Item> {
        Some(Item::Json(Value::String(
            std::str::from_utf8(self.take(n)?).ok()?.to_owned(),
        )))
    }

    fn list(&mut self, n: usize, depth: usize) -> Option<Item> {
        let mut items = Vec::with_capacity(n.min(self.data.len() - self.at));
        for _ in 0..n {
            items.push(self.item(depth + 1)?);
        }
        Some(Item::List(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Option<Item> {
        let mut pairs = Vec::with_capacity(n.min(self.data.len() - self.at));
        for _ in 0..n {
            let k = self.item(depth + 1)?;
            pairs.push((k, self.item(depth + 1)?));
        }
        Some(Item::Map(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kinds_a_record_holds() {
        // {"a": [1, -2, "x", b"\x00\x01", None, True, 1.5, 300, -300]}
        let data = [
            0x81, 0xa1, b'a', 0x99, 0x01, 0xfe, 0xa1, b'x', 0xc4, 0x02, 0x00, 0x01, 0xc0, 0xc3,
            0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xcd, 0x01, 0x2c, 0xd1, 0xfe, 0xd4,
        ];
        let item = decode(&data).unwrap();
        let list = match item.get("a").unwrap() {
            Item::List(l) => l.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(list[3], Item::Bytes(vec![0, 1]));
        assert_eq!(list[0].to_json(), Some(Value::from(1)));
        assert_eq!(list[1].to_json(), Some(Value::from(-2)));
        assert_eq!(list[6].to_json(), Some(serde_json::json!(1.5)));
        assert_eq!(list[7].to_json(), Some(Value::from(300)));
        assert_eq!(list[8].to_json(), Some(Value::from(-300)));
    }

    #[test]
    fn refuses_what_is_not_one_whole_value() {
        assert_eq!(decode(&[0x92, 0x01]), None); // a list of two with one
        assert_eq!(decode(&[0x01, 0x02]), None); // two values
        assert_eq!(decode(&[0xc1]), None);
        assert_eq!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]), None); // a huge list, no items
    }
}

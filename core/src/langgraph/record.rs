//! A LangGraph saver's records — a checkpoint, a task's writes, a tombstone — and the one
//! layout they are stored in: a binary checkpoint state of content type [`RECORD_CONTENT_TYPE`],
//!
//! ```text
//! u32 header length | header: UTF-8 JSON, the record's fields
//! then per value, in order: u32 type length | type (UTF-8) | u32 data length | data
//! ```
//!
//! (u32 big-endian). In the header each value — `checkpoint`, `metadata`, a channel's value
//! (null: none), a write's value — is the index of its (type, data) pair, `data` being
//! LangGraph's own serialisation of it (`dumps_typed`), byte for byte: no base64, no JSON
//! around it. Records earlier savers wrote still read: this layout without `versions` (the
//! JS saver's), Python's msgpack maps ([`PYTHON_MSGPACK_CONTENT_TYPE`]) and JSON states with
//! values as `{"type", "base64"}` or `{"json"}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::msgpack::{self, Item};
use bytes::Bytes;

use crate::{CheckpointState, Error, Result};

/// The content type of a record: this layout, version 1.
pub const RECORD_CONTENT_TYPE: &str = "application/vnd.wflo.langgraph.v1";
/// The content type of the msgpack records earlier Python savers wrote (read only).
pub const PYTHON_MSGPACK_CONTENT_TYPE: &str = "application/vnd.wflo.langgraph.v1+msgpack";

/// A value as LangGraph's serializer wrote it: its type name and its bytes. The bytes are
/// shared, not copied, between the record read, the records kept and the tuples made of them
/// (a 100 KB state was copied twice per load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typed {
    pub kind: String,
    pub data: Bytes,
}

/// A channel a checkpoint record holds: its version and value (`None`: the channel is empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    pub name: String,
    pub version: Value,
    pub value: Option<Typed>,
}

/// A LangGraph checkpoint: the checkpoint without its channel values, its metadata, the
/// checkpoint it continued from and the channels whose version changed.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointRecord {
    pub thread: String,
    pub ns: String,
    pub checkpoint_id: String,
    pub parent: Option<String>,
    pub checkpoint: Typed,
    pub metadata: Typed,
    /// The channels whose version changed (every channel, for a copy that stands alone).
    pub channels: Vec<Channel>,
    /// The checkpoint's `channel_versions`, in its order. `None` in records of earlier savers:
    /// then they are read from `checkpoint` when LangGraph serialised it as msgpack or JSON.
    pub versions: Option<Vec<(String, Value)>>,
    /// Where channels it did not change hold their value: (channel, the id of the earlier
    /// checkpoint of this thread and namespace that stored it at this checkpoint's version).
    /// A load reads those records directly instead of walking back through every parent (a
    /// channel set once, at the first step of a long run, was read back through each step's
    /// record). Empty in records of earlier savers and where it was not known at the save;
    /// a channel not listed is looked for along the parents, as before.
    pub elsewhere: Vec<(String, String)>,
}

/// One write of a task: its index (LangGraph's `WRITES_IDX_MAP` for special channels), channel
/// and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    pub idx: i64,
    pub channel: String,
    pub value: Typed,
}

/// A task's writes to a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct WritesRecord {
    pub thread: String,
    pub ns: String,
    pub checkpoint_id: String,
    pub task_id: String,
    pub task_path: String,
    pub writes: Vec<Write>,
}

/// A tombstone: the thread's records saved before it are deleted — all of them, or those of
/// the listed (namespace, checkpoint id)s.
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteRecord {
    pub thread: String,
    pub checkpoints: Option<Vec<(String, String)>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Checkpoint(CheckpointRecord),
    Writes(WritesRecord),
    Delete(DeleteRecord),
}

fn damaged(why: impl std::fmt::Display) -> Error {
    Error::Storage(format!(
        "a LangGraph record in the store cannot be read: {why}"
    ))
}

// ---- the header ----------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Header {
    langgraph: String,
    thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint_ns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint_id: Option<String>,
    // A checkpoint.
    #[serde(default, skip_serializing_if = "is_absent")]
    parent_checkpoint_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channels: Option<Vec<(String, Value, Value)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    versions: Option<Vec<(String, Value)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    elsewhere: Option<Vec<(String, String)>>,
    // Writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    writes: Option<Vec<(i64, String, Value)>>,
    // A tombstone (absent or null: the whole thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoints: Option<Vec<(String, String)>>,
}

fn is_absent(v: &Option<Option<String>>) -> bool {
    v.is_none()
}

impl Record {
    /// The record in the stored layout.
    pub fn encode(&self) -> Vec<u8> {
        let mut values: Vec<&Typed> = Vec::new();
        let mut slot = |t| push(&mut values, t);
        let header = match self {
            Record::Checkpoint(c) => Header {
                langgraph: "checkpoint".into(),
                thread_id: c.thread.clone(),
                checkpoint_ns: Some(c.ns.clone()),
                checkpoint_id: Some(c.checkpoint_id.clone()),
                parent_checkpoint_id: Some(c.parent.clone()),
                checkpoint: Some(slot(&c.checkpoint)),
                metadata: Some(slot(&c.metadata)),
                channels: Some(
                    c.channels
                        .iter()
                        .map(|ch| {
                            (
                                ch.name.clone(),
                                ch.version.clone(),
                                ch.value.as_ref().map_or(Value::Null, &mut slot),
                            )
                        })
                        .collect(),
                ),
                versions: c.versions.clone(),
                elsewhere: (!c.elsewhere.is_empty()).then(|| c.elsewhere.clone()),
                ..Header::empty("")
            },
            Record::Writes(w) => Header {
                langgraph: "writes".into(),
                thread_id: w.thread.clone(),
                checkpoint_ns: Some(w.ns.clone()),
                checkpoint_id: Some(w.checkpoint_id.clone()),
                task_id: Some(w.task_id.clone()),
                task_path: Some(w.task_path.clone()),
                writes: Some(
                    w.writes
                        .iter()
                        .map(|x| (x.idx, x.channel.clone(), slot(&x.value)))
                        .collect(),
                ),
                ..Header::empty("")
            },
            Record::Delete(d) => Header {
                langgraph: "delete".into(),
                thread_id: d.thread.clone(),
                checkpoints: d.checkpoints.clone(),
                ..Header::empty("")
            },
        };
        let head = serde_json::to_vec(&header).expect("a header is plain JSON");
        let size = 4
            + head.len()
            + values
                .iter()
                .map(|t| 8 + t.kind.len() + t.data.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(head.len() as u32).to_be_bytes());
        out.extend_from_slice(&head);
        for t in values {
            out.extend_from_slice(&(t.kind.len() as u32).to_be_bytes());
            out.extend_from_slice(t.kind.as_bytes());
            out.extend_from_slice(&(t.data.len() as u32).to_be_bytes());
            out.extend_from_slice(&t.data);
        }
        out
    }

    /// A stored record, whichever way a saver wrote it. Another content type, or bytes that
    /// are not a record, is `STORAGE`.
    pub fn decode(state: CheckpointState) -> Result<Record> {
        match state {
            CheckpointState::Binary {
                content_type,
                bytes,
            } if content_type == RECORD_CONTENT_TYPE => decode_layout(Bytes::from(bytes)),
            CheckpointState::Binary {
                content_type,
                bytes,
            } if content_type == PYTHON_MSGPACK_CONTENT_TYPE => {
                let item =
                    msgpack::decode(&bytes).ok_or_else(|| damaged("its msgpack is malformed"))?;
                let mut values = Vec::new();
                let header = typed_to_slots(&item, &mut values)
                    .ok_or_else(|| damaged("its msgpack holds bytes outside a value"))?;
                from_header(typed_header(header)?, &mut |v| take_slot(&mut values, &v))
            }
            CheckpointState::Binary { content_type, .. } => Err(damaged(format!(
                "its content type is {content_type:?}, not {RECORD_CONTENT_TYPE:?} (saved by another version of wflo?)"
            ))),
            CheckpointState::Json(text) => {
                let header: Value = serde_json::from_str(&text)
                    .map_err(|e| damaged(format!("its JSON is malformed ({e})")))?;
                from_header(typed_header(header)?, &mut |v| legacy_value(&v))
            }
        }
    }

    /// Whose checkpoint a stored state is (a state `rollback_to_checkpoint` or
    /// `latest_checkpoint` returned): `(thread, namespace, checkpoint id)` of a checkpoint
    /// record; `None` for any other state (another content type, JSON that is not a record, a
    /// task's writes, a tombstone). A state of the saver's own content types that cannot be
    /// read is `STORAGE`: it is a record, damaged.
    pub fn checkpoint_of(state: CheckpointState) -> Result<Option<(String, String, String)>> {
        let decoded = match &state {
            CheckpointState::Binary { content_type, .. }
                if content_type == RECORD_CONTENT_TYPE
                    || content_type == PYTHON_MSGPACK_CONTENT_TYPE =>
            {
                Record::decode(state)?
            }
            CheckpointState::Binary { .. } => return Ok(None),
            CheckpointState::Json(_) => match Record::decode(state) {
                Ok(r) => r,
                Err(_) => return Ok(None), // any JSON state: a record only if it reads as one
            },
        };
        Ok(match decoded {
            Record::Checkpoint(c) => Some((c.thread, c.ns, c.checkpoint_id)),
            _ => None,
        })
    }

    /// How many bytes its values hold.
    pub fn value_bytes(&self) -> usize {
        match self {
            Record::Checkpoint(c) => {
                c.checkpoint.data.len()
                    + c.metadata.data.len()
                    + c.channels
                        .iter()
                        .filter_map(|ch| ch.value.as_ref())
                        .map(|v| v.data.len())
                        .sum::<usize>()
            }
            Record::Writes(w) => w.writes.iter().map(|x| x.value.data.len()).sum(),
            Record::Delete(_) => 0,
        }
    }

    /// The record as the binary checkpoint state the saver stores.
    pub fn to_state(&self) -> (String, Vec<u8>) {
        (RECORD_CONTENT_TYPE.to_owned(), self.encode())
    }
}

/// A value's index in the values after the header, where it is added.
fn push<'a>(values: &mut Vec<&'a Typed>, t: &'a Typed) -> Value {
    values.push(t);
    Value::from(values.len() - 1)
}

impl Header {
    fn empty(thread: &str) -> Header {
        Header {
            langgraph: String::new(),
            thread_id: thread.into(),
            checkpoint_ns: None,
            checkpoint_id: None,
            parent_checkpoint_id: None,
            checkpoint: None,
            metadata: None,
            channels: None,
            versions: None,
            elsewhere: None,
            task_id: None,
            task_path: None,
            writes: None,
            checkpoints: None,
        }
    }
}

/// Where the next length-prefixed field of `data` at `at` is.
fn field(data: &[u8], at: &mut usize) -> Result<std::ops::Range<usize>> {
    let short = || damaged("it ends before its last field");
    let len = data.get(*at..*at + 4).ok_or_else(short)?;
    let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
    let start = *at + 4;
    let end = start
        .checked_add(len)
        .filter(|&e| e <= data.len())
        .ok_or_else(short)?;
    *at = end;
    Ok(start..end)
}

fn decode_layout(data: Bytes) -> Result<Record> {
    let mut at = 0usize;
    let header: Header = serde_json::from_slice(&data[field(&data, &mut at)?])
        .map_err(|e| damaged(format!("its header is malformed ({e})")))?;
    let mut values = Vec::new();
    while at < data.len() {
        let kind = std::str::from_utf8(&data[field(&data, &mut at)?])
            .map_err(|_| damaged("a value's type is not UTF-8"))?
            .to_owned();
        values.push(Some(Typed {
            kind,
            data: data.slice(field(&data, &mut at)?),
        }));
    }
    from_header(header, &mut |v| take_slot(&mut values, &v))
}

/// The value a header's slot `v` names, in every binary layout: each value is named once, so
/// it is moved out, not copied (a second mention is damage).
fn take_slot(values: &mut [Option<Typed>], v: &Value) -> Result<Typed> {
    v.as_u64()
        .and_then(|i| values.get_mut(i as usize))
        .and_then(Option::take)
        .ok_or_else(|| damaged(format!("it has no value #{v}, or names it twice")))
}

/// A value of a record saved as a JSON state: `{"type", "base64"}` or `{"json"}`.
fn legacy_value(v: &Value) -> Result<Typed> {
    if let Some(json) = v.get("json") {
        return Ok(Typed {
            kind: "json".into(),
            data: serde_json::to_vec(json).expect("JSON").into(),
        });
    }
    match (
        v.get("type").and_then(Value::as_str),
        v.get("base64").and_then(Value::as_str),
    ) {
        (Some(kind), Some(text)) => Ok(Typed {
            kind: kind.to_owned(),
            data: base64_decode(text)
                .ok_or_else(|| damaged("a value's base64 is malformed"))?
                .into(),
        }),
        _ => Err(damaged(format!(
            "a value is not {{type, base64}} or {{json}}: {v}"
        ))),
    }
}

/// A Python msgpack record as a header with each `[type, bytes]` value replaced by its index
/// in `values`.
fn typed_to_slots(item: &Item, values: &mut Vec<Option<Typed>>) -> Option<Value> {
    Some(match item {
        Item::List(pair)
            if pair.len() == 2
                && matches!(
                    (&pair[0], &pair[1]),
                    (Item::Json(Value::String(_)), Item::Bytes(_))
                ) =>
        {
            let (Item::Json(Value::String(kind)), Item::Bytes(data)) = (&pair[0], &pair[1]) else {
                unreachable!()
            };
            values.push(Some(Typed {
                kind: kind.clone(),
                data: Bytes::copy_from_slice(data),
            }));
            Value::from(values.len() - 1)
        }
        Item::List(items) => Value::Array(
            items
                .iter()
                .map(|i| typed_to_slots(i, values))
                .collect::<Option<_>>()?,
        ),
        Item::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| Some((k.as_str()?.to_owned(), typed_to_slots(v, values)?)))
                .collect::<Option<_>>()?,
        ),
        Item::Json(v) => v.clone(),
        Item::Bytes(_) | Item::Ext => return None,
    })
}

/// A header read as JSON (a Python msgpack record's, or a JSON state's) in the typed form.
fn typed_header(header: Value) -> Result<Header> {
    serde_json::from_value(header).map_err(|e| damaged(format!("its header is malformed ({e})")))
}

/// The record a header describes; `value` gives the value a slot of it names. (Every layout's
/// header is read straight into [`Header`]: no tree of JSON values per record.)
fn from_header(header: Header, value: &mut dyn FnMut(Value) -> Result<Typed>) -> Result<Record> {
    let Header {
        langgraph,
        thread_id: thread,
        checkpoint_ns,
        checkpoint_id,
        parent_checkpoint_id,
        checkpoint,
        metadata,
        channels,
        versions,
        elsewhere,
        task_id,
        task_path,
        writes,
        checkpoints,
    } = header;
    let ns = checkpoint_ns.unwrap_or_default();
    let checkpoint_id = || checkpoint_id.ok_or_else(|| damaged("it has no checkpoint_id"));
    match langgraph.as_str() {
        "checkpoint" => {
            let mut found = Vec::new();
            for (name, version, v) in
                channels.ok_or_else(|| damaged("it has no list of channels"))?
            {
                let value = if v.is_null() { None } else { Some(value(v)?) };
                found.push(Channel {
                    name,
                    version,
                    value,
                });
            }
            Ok(Record::Checkpoint(CheckpointRecord {
                ns,
                checkpoint_id: checkpoint_id()?,
                parent: parent_checkpoint_id.flatten().filter(|p| !p.is_empty()),
                checkpoint: value(checkpoint.ok_or_else(|| damaged("it has no checkpoint"))?)?,
                metadata: value(metadata.ok_or_else(|| damaged("it has no metadata"))?)?,
                channels: found,
                versions,
                elsewhere: elsewhere.unwrap_or_default(),
                thread,
            }))
        }
        "writes" => {
            let mut found = Vec::new();
            for (idx, channel, v) in writes.ok_or_else(|| damaged("it has no list of writes"))? {
                found.push(Write {
                    idx,
                    channel,
                    value: value(v)?,
                });
            }
            Ok(Record::Writes(WritesRecord {
                ns,
                checkpoint_id: checkpoint_id()?,
                task_id: task_id.ok_or_else(|| damaged("it has no task_id"))?,
                task_path: task_path.unwrap_or_default(),
                writes: found,
                thread,
            }))
        }
        "delete" => Ok(Record::Delete(DeleteRecord {
            thread,
            checkpoints,
        })),
        other => Err(damaged(format!(
            "its kind is {other:?}, not checkpoint, writes or delete"
        ))),
    }
}

/// A checkpoint's `channel_versions` read from the checkpoint as LangGraph serialised it
/// (`msgpack` in Python, `json` in JS); `None` for another serializer's bytes.
pub(crate) fn versions_in(checkpoint: &Typed) -> Option<Vec<(String, Value)>> {
    match checkpoint.kind.as_str() {
        "msgpack" => match msgpack::decode(&checkpoint.data)?.get("channel_versions")? {
            Item::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| Some((k.as_str()?.to_owned(), v.to_json()?)))
                .collect(),
            _ => None,
        },
        "json" => {
            let v: Value = serde_json::from_slice(&checkpoint.data).ok()?;
            let map = v.get("channel_versions")?.as_object()?;
            Some(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        _ => None,
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = clean
        .strip_suffix(b"==")
        .or_else(|| clean.strip_suffix(b"="))
        .unwrap_or(&clean);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= digit(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(kind: &str, data: &[u8]) -> Typed {
        Typed {
            kind: kind.into(),
            data: Bytes::copy_from_slice(data),
        }
    }

    fn checkpoint() -> CheckpointRecord {
        CheckpointRecord {
            thread: "t/1".into(),
            ns: "".into(),
            checkpoint_id: "c2".into(),
            parent: Some("c1".into()),
            checkpoint: typed("msgpack", b"\x80"),
            metadata: typed("json", b"{}"),
            channels: vec![
                Channel {
                    name: "a".into(),
                    version: json!("2.5"),
                    value: Some(typed("msgpack", &[0, 1, 2])),
                },
                Channel {
                    name: "b".into(),
                    version: json!(3),
                    value: None,
                },
            ],
            versions: Some(vec![
                ("b".into(), json!(3)),
                ("a".into(), json!("2.5")),
                ("c".into(), json!(1)),
            ]),
            elsewhere: vec![("c".into(), "c0".into())],
        }
    }

    #[test]
    fn each_kind_round_trips_byte_for_byte() {
        let records = [
            Record::Checkpoint(checkpoint()),
            Record::Checkpoint(CheckpointRecord {
                parent: None,
                versions: None,
                channels: vec![],
                elsewhere: vec![],
                ..checkpoint()
            }),
            Record::Writes(WritesRecord {
                thread: "t".into(),
                ns: "n".into(),
                checkpoint_id: "c".into(),
                task_id: "task".into(),
                task_path: "~p".into(),
                writes: vec![Write {
                    idx: -1,
                    channel: "__error__".into(),
                    value: typed("bytes", b""),
                }],
            }),
            Record::Delete(DeleteRecord {
                thread: "t".into(),
                checkpoints: None,
            }),
            Record::Delete(DeleteRecord {
                thread: "t".into(),
                checkpoints: Some(vec![("".into(), "c1".into())]),
            }),
        ];
        for r in records {
            let (content_type, bytes) = r.to_state();
            let back = Record::decode(CheckpointState::Binary {
                content_type,
                bytes: bytes.clone(),
            })
            .unwrap();
            assert_eq!(back, r);
            assert_eq!(back.encode(), bytes);
        }
    }

    #[test]
    fn reads_what_the_js_saver_wrote() {
        // Its header, as encodeRecord wrote it: no versions, values by index.
        let head = br#"{"langgraph":"checkpoint","thread_id":"t","checkpoint_ns":"","checkpoint_id":"c","parent_checkpoint_id":null,"checkpoint":0,"metadata":1,"channels":[["x",1,2],["y",1,null]]}"#;
        let mut bytes = (head.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(head);
        for (t, d) in [("json", &b"{\"v\":4}"[..]), ("json", b"{}"), ("json", b"7")] {
            bytes.extend_from_slice(&(t.len() as u32).to_be_bytes());
            bytes.extend_from_slice(t.as_bytes());
            bytes.extend_from_slice(&(d.len() as u32).to_be_bytes());
            bytes.extend_from_slice(d);
        }
        let Record::Checkpoint(c) = Record::decode(CheckpointState::Binary {
            content_type: RECORD_CONTENT_TYPE.into(),
            bytes,
        })
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.parent, None);
        assert_eq!(c.channels[0].value, Some(typed("json", b"7")));
        assert_eq!(c.channels[1].value, None);
        assert_eq!(c.versions, None);
    }

    #[test]
    fn reads_what_the_python_saver_wrote() {
        // ormsgpack.packb({"langgraph": "writes", "thread_id": "t", "checkpoint_ns": "",
        //   "checkpoint_id": "c", "task_id": "k", "task_path": "", "writes": [[0, "x", ("msgpack", b"\x01")]]})
        let mut b = vec![0x87];
        let s = |b: &mut Vec<u8>, s: &str| {
            b.push(0xa0 | s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        };
        for (k, v) in [
            ("langgraph", "writes"),
            ("thread_id", "t"),
            ("checkpoint_ns", ""),
            ("checkpoint_id", "c"),
            ("task_id", "k"),
            ("task_path", ""),
        ] {
            s(&mut b, k);
            s(&mut b, v);
        }
        s(&mut b, "writes");
        b.extend_from_slice(&[0x91, 0x93, 0x00]);
        s(&mut b, "x");
        b.push(0x92);
        s(&mut b, "msgpack");
        b.extend_from_slice(&[0xc4, 0x01, 0x01]);
        let r = Record::decode(CheckpointState::Binary {
            content_type: PYTHON_MSGPACK_CONTENT_TYPE.into(),
            bytes: b,
        })
        .unwrap();
        let Record::Writes(w) = r else { panic!() };
        assert_eq!(
            w.writes,
            vec![Write {
                idx: 0,
                channel: "x".into(),
                value: typed("msgpack", &[1])
            }]
        );
    }

    #[test]
    fn reads_records_saved_as_json() {
        let text = json!({"langgraph": "checkpoint", "thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c",
            "parent_checkpoint_id": "p", "checkpoint": {"type": "msgpack", "base64": "gA=="}, "metadata": {"json": {"a": 1}},
            "channels": [["x", "1", {"type": "bytes", "base64": "AAEC"}]]})
        .to_string();
        let Record::Checkpoint(c) = Record::decode(CheckpointState::Json(text)).unwrap() else {
            panic!()
        };
        assert_eq!(c.checkpoint, typed("msgpack", &[0x80]));
        assert_eq!(c.metadata, typed("json", br#"{"a":1}"#));
        assert_eq!(c.channels[0].value, Some(typed("bytes", &[0, 1, 2])));
        assert_eq!(c.parent.as_deref(), Some("p"));
    }

    #[test]
    fn a_damaged_record_is_a_storage_error() {
        let bin = |ct: &str, b: &[u8]| CheckpointState::Binary {
            content_type: ct.into(),
            bytes: b.to_vec(),
        };
        let head = br#"{"langgraph":"checkpoint","thread_id":"t","checkpoint_id":"c","checkpoint":0,"metadata":0,"channels":[]}"#;
        let mut twice = (head.len() as u32).to_be_bytes().to_vec();
        twice.extend_from_slice(head);
        twice.extend_from_slice(&[0, 0, 0, 1, b'j', 0, 0, 0, 1, b'7']);
        for state in [
            bin(RECORD_CONTENT_TYPE, &[0, 0, 0, 9, b'{']),
            bin(RECORD_CONTENT_TYPE, &[0, 0, 0, 2, b'{', b'}']),
            bin("application/octet-stream", b"x"),
            bin(PYTHON_MSGPACK_CONTENT_TYPE, &[0xc1]),
            CheckpointState::Json("{\"langgraph\":\"checkpoint\",\"thread_id\":\"t\"}".into()),
            // A header field of the wrong type, and one value named twice.
            CheckpointState::Json(
                "{\"langgraph\":\"writes\",\"thread_id\":\"t\",\"checkpoint_id\":7}".into(),
            ),
            bin(RECORD_CONTENT_TYPE, &twice),
        ] {
            let e = Record::decode(state).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Storage, "{e}");
        }
    }

    #[test]
    fn versions_are_read_from_a_serialised_checkpoint() {
        let json_ckpt = typed("json", br#"{"v":4,"channel_versions":{"a":1,"b":"2.x"}}"#);
        let mut v = versions_in(&json_ckpt).unwrap();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(v, vec![("a".into(), json!(1)), ("b".into(), json!("2.x"))]);
        // {"channel_versions": {"a": "1.5"}} in msgpack
        let mut m = vec![0x81, 0xb0];
        m.extend_from_slice(b"channel_versions");
        m.extend_from_slice(&[0x81, 0xa1, b'a', 0xa3, b'1', b'.', b'5']);
        assert_eq!(
            versions_in(&typed("msgpack", &m)),
            Some(vec![("a".into(), json!("1.5"))])
        );
        assert_eq!(versions_in(&typed("pickle", b"x")), None);
    }

    #[test]
    fn base64_of_every_length() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert_eq!(base64_decode("Y"), None);
        assert_eq!(base64_decode("!!!!"), None);
    }
}

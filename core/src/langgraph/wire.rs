//! A [`Checkpointer`]'s operations as one request — JSON naming the operation and its fields,
//! with the bytes of the values it holds one after another — for faces that pass bytes rather
//! than objects (the C ABI's `wflo_langgraph_call`, and through it Python, C and Go; the parity
//! scenarios). Each value's `[type, length]` is listed, in order, under the request's
//! `"values"`, and a value is given by its index there. The answer is written the same way.
//! LangGraph's serialised bytes are never put in JSON or base64.
//!
//! Requests (`"op"`, then its fields; `ns` defaults to ""):
//!
//! | op | fields | answer |
//! |---|---|---|
//! | `put` | thread, ns, id, parent, checkpoint, metadata, channels `[[channel, version, value or null]]`, versions `{channel: version}` | null |
//! | `put_writes` | thread, ns, id, task_id, task_path, writes `[[idx, channel, value]]` | null |
//! | `get` | thread, ns, id (null or "": the latest) | null, or {thread, ns, id, parent, checkpoint, metadata, channel_values `[[channel, value]]`, pending_writes `[[task_id, channel, value]]`, values} |
//! | `list` | thread, ns, id, before (each may be null) | `[[thread, ns, id]]`, newest id first |
//! | `pending_writes` | thread, ns, id | {pending_writes, values} |
//! | `delete_thread` | thread | null |
//! | `delete_checkpoints` | thread, checkpoints `[[ns, id]]` | null |
//! | `copy_thread` | source, target | null |
//! | `prune` | threads | null (each namespace keeps its latest checkpoint) |
//! | `name` | thread, ns, id | the wflo checkpoint name of that checkpoint (what a rollback takes) |
//! | `key_of` | state (a value whose type is the state's content type; type `""`: JSON text) | null, or {thread, ns, id} of a checkpoint record (`Record::checkpoint_of`: a damaged record of the saver's content types is STORAGE) |
//! | `next_version` | current (null or absent, a non-negative integer, or a string `"<n>.<…>"`) | the channel version after it ([`next_version`]) |

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::names::checkpoint_name;
use super::record::{Channel, CheckpointRecord, Record, Typed, Write, WritesRecord};
use super::saver::{Checkpointer, ListFilter, PendingWrite};
use super::versions::next_version;
use crate::{CheckpointState, Error, Execution, Result};

/// An answer: its JSON text (values by index, their `[type, length]` under `"values"`) and
/// the values themselves.
#[derive(Debug, Default)]
pub struct Answer {
    pub json: String,
    pub values: Vec<Typed>,
}

impl Answer {
    /// The values' bytes one after another, as the JSON's `"values"` lists them.
    pub fn joined(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.values.iter().map(|v| v.data.len()).sum());
        for v in &self.values {
            out.extend_from_slice(&v.data);
        }
        out
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Put,
    PutWrites,
    Get,
    List,
    PendingWrites,
    DeleteThread,
    DeleteCheckpoints,
    CopyThread,
    Prune,
    Name,
    KeyOf,
    NextVersion,
}

/// Every request's fields in one struct (one pass over the text; each op takes its own).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    op: Op,
    thread: Option<String>,
    ns: Option<String>,
    id: Option<String>,
    parent: Option<String>,
    checkpoint: Option<usize>,
    metadata: Option<usize>,
    channels: Option<Vec<(String, Value, Option<usize>)>>,
    versions: Option<serde_json::Map<String, Value>>,
    task_id: Option<String>,
    task_path: Option<String>,
    writes: Option<Vec<(i64, String, usize)>>,
    before: Option<String>,
    checkpoints: Option<Vec<(String, String)>>,
    source: Option<String>,
    target: Option<String>,
    threads: Option<Vec<String>>,
    state: Option<usize>,
    current: Option<Value>,
    #[serde(default)]
    values: Vec<(String, usize)>,
}

fn need<T>(field: Option<T>, name: &str) -> Result<T> {
    field.ok_or_else(|| Error::invalid(format!("a LangGraph request needs its {name}")))
}

/// An id given as "" means none (as LangGraph's configs mean it).
fn given(id: Option<String>) -> Option<String> {
    id.filter(|i| !i.is_empty())
}

/// The request's values, split out of `bytes` by their listed lengths.
fn split(listed: &[(String, usize)], bytes: &[u8]) -> Result<Vec<Option<Typed>>> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(listed.len());
    for (kind, len) in listed {
        let end = at.checked_add(*len).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| {
            Error::invalid("a LangGraph request lists more value bytes than it gives")
        })?;
        out.push(Some(Typed {
            kind: kind.clone(),
            data: bytes::Bytes::copy_from_slice(&bytes[at..end]),
        }));
        at = end;
    }
    if at != bytes.len() {
        return Err(Error::invalid(
            "a LangGraph request gives more value bytes than it lists",
        ));
    }
    Ok(out)
}

/// Takes value `i` out of `values`: each is stored once, so a request naming one twice (or
/// one it does not list) is refused rather than copied.
fn take(values: &mut [Option<Typed>], i: usize) -> Result<Typed> {
    values.get_mut(i).and_then(Option::take).ok_or_else(|| {
        Error::invalid(format!(
            "a LangGraph request has no value #{i} (or names it twice)"
        ))
    })
}

#[derive(Serialize)]
struct TupleAnswer<'a> {
    thread: &'a str,
    ns: &'a str,
    id: &'a str,
    parent: Option<&'a str>,
    checkpoint: usize,
    metadata: usize,
    channel_values: Vec<(&'a str, usize)>,
    pending_writes: Vec<(&'a str, &'a str, usize)>,
    values: Vec<(&'a str, usize)>,
}

#[derive(Serialize)]
struct WritesAnswer<'a> {
    pending_writes: Vec<(&'a str, &'a str, usize)>,
    values: Vec<(&'a str, usize)>,
}

fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))
}

fn listed(values: &[Typed]) -> Vec<(&str, usize)> {
    values
        .iter()
        .map(|v| (v.kind.as_str(), v.data.len()))
        .collect()
}

fn writes_answer(
    writes: Vec<PendingWrite>,
    values: &mut Vec<Typed>,
) -> Vec<(String, String, usize)> {
    writes
        .into_iter()
        .map(|w| {
            values.push(w.value);
            (w.task_id, w.channel, values.len() - 1)
        })
        .collect()
}

/// Runs one request on `exec`'s records (`exec` is asked for only by the operations that read
/// or write them). A malformed request is `INVALID_ARGUMENT` and changes nothing.
pub fn run<'a>(
    saver: &Checkpointer,
    exec: impl FnOnce() -> Result<&'a Execution>,
    request: &[u8],
    bytes: &[u8],
) -> Result<Answer> {
    let r: Request = serde_json::from_slice(request)
        .map_err(|e| Error::invalid(format!("a LangGraph request is malformed: {e}")))?;
    let mut values = split(&r.values, bytes)?;
    let null = || {
        Ok(Answer {
            json: "null".into(),
            values: Vec::new(),
        })
    };
    let list_ns = r.ns.clone(); // a list's namespace: none given means every one
    let ns = r.ns.unwrap_or_default();
    match r.op {
        Op::Put => {
            let channels = need(r.channels, "channels")?
                .into_iter()
                .map(|(name, version, v)| {
                    Ok(Channel {
                        name,
                        version,
                        value: v.map(|i| take(&mut values, i)).transpose()?,
                    })
                })
                .collect::<Result<_>>()?;
            let record = CheckpointRecord {
                thread: need(r.thread, "thread")?,
                ns,
                checkpoint_id: r.id.unwrap_or_default(),
                parent: given(r.parent),
                checkpoint: take(&mut values, need(r.checkpoint, "checkpoint")?)?,
                metadata: take(&mut values, need(r.metadata, "metadata")?)?,
                channels,
                versions: Some(need(r.versions, "versions")?.into_iter().collect()),
                elsewhere: Vec::new(),
            };
            saver.put(exec()?, record)?;
            null()
        }
        Op::PutWrites => {
            let writes = need(r.writes, "writes")?
                .into_iter()
                .map(|(idx, channel, v)| {
                    Ok(Write {
                        idx,
                        channel,
                        value: take(&mut values, v)?,
                    })
                })
                .collect::<Result<_>>()?;
            let record = WritesRecord {
                thread: need(r.thread, "thread")?,
                ns,
                checkpoint_id: r.id.unwrap_or_default(),
                task_id: need(r.task_id, "task_id")?,
                task_path: r.task_path.unwrap_or_default(),
                writes,
            };
            saver.put_writes(exec()?, record)?;
            null()
        }
        Op::Get => {
            let thread = need(r.thread, "thread")?;
            let Some(t) = saver.get(exec()?, &thread, &ns, given(r.id).as_deref())? else {
                return null();
            };
            let mut values = vec![t.checkpoint, t.metadata];
            let mut channel_values = Vec::with_capacity(t.channel_values.len());
            for (name, v) in t.channel_values {
                values.push(v);
                channel_values.push((name, values.len() - 1));
            }
            let writes = writes_answer(t.pending_writes, &mut values);
            let json = to_json(&TupleAnswer {
                thread: &t.thread,
                ns: &t.ns,
                id: &t.checkpoint_id,
                parent: t.parent.as_deref(),
                checkpoint: 0,
                metadata: 1,
                channel_values: channel_values
                    .iter()
                    .map(|(n, i)| (n.as_str(), *i))
                    .collect(),
                pending_writes: writes
                    .iter()
                    .map(|(t, c, i)| (t.as_str(), c.as_str(), *i))
                    .collect(),
                values: listed(&values),
            })?;
            Ok(Answer { json, values })
        }
        Op::List => {
            let filter = ListFilter {
                thread: r.thread,
                ns: list_ns,
                checkpoint_id: given(r.id),
                before: given(r.before),
            };
            Ok(Answer {
                json: to_json(&saver.list(exec()?, &filter)?)?,
                values: Vec::new(),
            })
        }
        Op::PendingWrites => {
            let writes = saver.pending_writes(
                exec()?,
                &need(r.thread, "thread")?,
                &ns,
                &need(r.id, "id")?,
            )?;
            let mut values = Vec::new();
            let writes = writes_answer(writes, &mut values);
            let json = to_json(&WritesAnswer {
                pending_writes: writes
                    .iter()
                    .map(|(t, c, i)| (t.as_str(), c.as_str(), *i))
                    .collect(),
                values: listed(&values),
            })?;
            Ok(Answer { json, values })
        }
        Op::DeleteThread => {
            saver.delete_thread(exec()?, &need(r.thread, "thread")?)?;
            null()
        }
        Op::DeleteCheckpoints => {
            saver.delete_checkpoints(
                exec()?,
                &need(r.thread, "thread")?,
                need(r.checkpoints, "checkpoints")?,
            )?;
            null()
        }
        Op::CopyThread => {
            saver.copy_thread(
                exec()?,
                &need(r.source, "source")?,
                &need(r.target, "target")?,
            )?;
            null()
        }
        Op::Prune => {
            saver.prune_keep_latest(exec()?, &need(r.threads, "threads")?)?;
            null()
        }
        Op::Name => {
            let name = checkpoint_name(&need(r.thread, "thread")?, &ns, &need(r.id, "id")?);
            Ok(Answer {
                json: to_json(&name)?,
                values: Vec::new(),
            })
        }
        Op::KeyOf => {
            let t = take(&mut values, need(r.state, "state")?)?;
            let state = if t.kind.is_empty() {
                CheckpointState::Json(
                    String::from_utf8(t.data.into())
                        .map_err(|_| Error::invalid("a JSON state is not UTF-8"))?,
                )
            } else {
                CheckpointState::Binary {
                    content_type: t.kind,
                    bytes: t.data.into(),
                }
            };
            match Record::checkpoint_of(state)? {
                Some((thread, ns, id)) => Ok(Answer {
                    json: to_json(&serde_json::json!({"thread": thread, "ns": ns, "id": id}))?,
                    values: Vec::new(),
                }),
                None => null(), // not a LangGraph checkpoint record
            }
        }
        Op::NextVersion => Ok(Answer {
            json: to_json(&next_version(r.current.as_ref())?)?,
            values: Vec::new(),
        }),
    }
}

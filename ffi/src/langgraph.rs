//! A LangGraph saver's operations (`wflo_core::langgraph::Checkpointer`) over the C ABI, for
//! faces that reach the engine through libwflo (Python's `WfloCheckpointSaver`). One entry
//! point: a request names the operation and its fields in JSON, and the bytes of the values it
//! holds follow one after another in `values` — each value's `[type, length]` listed, in that
//! order, under the request's `"values"`, and a value given by its index there. The answer is
//! written the same way. LangGraph's serialised bytes are never put in JSON or base64.
//!
//! Requests (`"op"`, then its fields; `ns` defaults to ""):
//!
//! | op | fields | answer |
//! |---|---|---|
//! | `put` | thread, ns, id, parent, checkpoint, metadata, channels `[[channel, version, value or null]]`, versions `{channel: version}` | null |
//! | `put_writes` | thread, ns, id, task_id, task_path, writes `[[idx, channel, value]]` | null |
//! | `get` | thread, ns, id (null: the latest) | null, or {thread, ns, id, parent, checkpoint, metadata, channel_values `[[channel, value]]`, pending_writes `[[task_id, channel, value]]`, values} |
//! | `list` | thread, ns, id, before (each may be null) | `[[thread, ns, id]]`, newest id first |
//! | `pending_writes` | thread, ns, id | {pending_writes, values} |
//! | `delete_thread` | thread | null |
//! | `delete_checkpoints` | thread, checkpoints `[[ns, id]]` | null |
//! | `copy_thread` | source, target | null |
//! | `prune` | threads | null (each namespace keeps its latest checkpoint) |
//! | `name` | thread, ns, id | the wflo checkpoint name of that checkpoint (what a rollback takes) |
//! | `key_of` | state (a value whose type is the state's content type; type `""`: JSON text) | null, or {thread, ns, id} of a checkpoint record |

use std::ffi::c_char;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use wflo_core::langgraph::{
    Channel, CheckpointRecord, Checkpointer, ListFilter, PendingWrite, Record, Typed, Write,
    WritesRecord,
};
use wflo_core::{CheckpointState, Error, Execution, Result};

use crate::boundary::{run, wflo_status};
use crate::execution::wflo_execution;
use crate::handle::{Arced, Handle, arc_free, arc_into_ptr, arc_ref, out};
use crate::strings::{input_bytes, output, output_bytes};

/// A LangGraph saver's index and records (opaque); share it between threads freely.
pub struct wflo_langgraph {
    _private: [u8; 0],
}

impl Handle for wflo_langgraph {
    type Ownership = Arced;
    type Rust = Checkpointer;
}

/// A new checkpointer; free it with `wflo_langgraph_free`.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_langgraph_new() -> *mut wflo_langgraph {
    arc_into_ptr(Arc::new(Checkpointer::new()))
}

/// Frees a checkpointer; NULL is a no-op.
///
/// # Safety
/// `saver` came from `wflo_langgraph_new` and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_langgraph_free(saver: *const wflo_langgraph) {
    unsafe { arc_free(saver) }
}

/// Runs one request (see the module's table) on `execution`'s records: `request` JSON text,
/// `values` the bytes of its values. Writes the answer's JSON to `answer_out` (free with
/// `wflo_string_free`) and its values' bytes to `values_out`/`values_len_out` (free with
/// `wflo_bytes_free`; NULL and 0 when none). On an error nothing is written.
///
/// # Safety
/// `saver` and `execution` live handles (`execution` may be NULL for `key_of`); `request`
/// and `values` point to their lengths; the out-parameters writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_langgraph_call(
    saver: *const wflo_langgraph,
    execution: *const wflo_execution,
    request: *const c_char,
    request_len: usize,
    values: *const u8,
    values_len: usize,
    answer_out: *mut *mut c_char,
    values_out: *mut *mut u8,
    values_len_out: *mut usize,
) -> wflo_status {
    run(|| {
        let answer_out = unsafe { out(answer_out, "answer_out") }?;
        let values_out = unsafe { out(values_out, "values_out") }?;
        let values_len_out = unsafe { out(values_len_out, "values_len_out") }?;
        let (answer, bytes) =
            unsafe { call(saver, execution, request, request_len, values, values_len) }?;
        let text = output(answer.to_string())?;
        let (ptr, len) = output_bytes(bytes);
        *answer_out = text;
        *values_out = ptr;
        *values_len_out = len;
        Ok(())
    })
}

/// The request run: its answer and the bytes of the answer's values.
///
/// # Safety
/// As [`wflo_langgraph_call`].
pub(crate) unsafe fn call(
    saver: *const wflo_langgraph,
    execution: *const wflo_execution,
    request: *const c_char,
    request_len: usize,
    values: *const u8,
    values_len: usize,
) -> Result<(Value, Vec<u8>)> {
    let saver = unsafe { arc_ref(saver, "saver") }?;
    let request = unsafe { input_bytes(request.cast(), request_len, "request") }?;
    let values = unsafe { input_bytes(values, values_len, "values") }?;
    let request: Request = serde_json::from_slice(request)
        .map_err(|e| Error::invalid(format!("a LangGraph request is malformed: {e}")))?;
    let exec = || -> Result<&Execution> {
        unsafe { arc_ref(execution, "execution") }.map(|h| &h.execution)
    };
    run_request(saver, exec, request, values)
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Put {
        thread: String,
        #[serde(default)]
        ns: String,
        id: String,
        parent: Option<String>,
        checkpoint: usize,
        metadata: usize,
        channels: Vec<(String, Value, Option<usize>)>,
        versions: serde_json::Map<String, Value>,
        #[serde(default)]
        values: Vec<(String, usize)>,
    },
    PutWrites {
        thread: String,
        #[serde(default)]
        ns: String,
        id: String,
        task_id: String,
        #[serde(default)]
        task_path: String,
        writes: Vec<(i64, String, usize)>,
        #[serde(default)]
        values: Vec<(String, usize)>,
    },
    Get {
        thread: String,
        #[serde(default)]
        ns: String,
        id: Option<String>,
    },
    List {
        thread: Option<String>,
        ns: Option<String>,
        id: Option<String>,
        before: Option<String>,
    },
    PendingWrites {
        thread: String,
        #[serde(default)]
        ns: String,
        id: String,
    },
    DeleteThread {
        thread: String,
    },
    DeleteCheckpoints {
        thread: String,
        checkpoints: Vec<(String, String)>,
    },
    CopyThread {
        source: String,
        target: String,
    },
    Prune {
        threads: Vec<String>,
    },
    Name {
        thread: String,
        #[serde(default)]
        ns: String,
        id: String,
    },
    KeyOf {
        state: usize,
        values: Vec<(String, usize)>,
    },
}

/// The request's values, split out of `bytes` by their listed lengths.
fn split(listed: &[(String, usize)], bytes: &[u8]) -> Result<Vec<Typed>> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(listed.len());
    for (kind, len) in listed {
        let end = at.checked_add(*len).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| {
            Error::invalid("a LangGraph request lists more value bytes than it gives")
        })?;
        out.push(Typed {
            kind: kind.clone(),
            data: bytes[at..end].to_vec(),
        });
        at = end;
    }
    if at != bytes.len() {
        return Err(Error::invalid(
            "a LangGraph request gives more value bytes than it lists",
        ));
    }
    Ok(out)
}

fn value(values: &[Typed], i: usize) -> Result<Typed> {
    values
        .get(i)
        .cloned()
        .ok_or_else(|| Error::invalid(format!("a LangGraph request has no value #{i}")))
}

/// An answer's values: their `[type, length]` list and their bytes one after another.
#[derive(Default)]
struct Answer {
    listed: Vec<Value>,
    bytes: Vec<u8>,
}

impl Answer {
    fn push(&mut self, t: &Typed) -> Value {
        self.listed.push(json!([t.kind, t.data.len()]));
        self.bytes.extend_from_slice(&t.data);
        Value::from(self.listed.len() - 1)
    }

    fn writes(&mut self, writes: &[PendingWrite]) -> Value {
        writes
            .iter()
            .map(|w| json!([w.task_id, w.channel, self.push(&w.value)]))
            .collect()
    }
}

fn run_request<'a>(
    saver: &Checkpointer,
    exec: impl Fn() -> Result<&'a Execution>,
    request: Request,
    bytes: &[u8],
) -> Result<(Value, Vec<u8>)> {
    let none = || Ok((Value::Null, Vec::new()));
    match request {
        Request::Put {
            thread,
            ns,
            id,
            parent,
            checkpoint,
            metadata,
            channels,
            versions,
            values,
        } => {
            let values = split(&values, bytes)?;
            let channels = channels
                .into_iter()
                .map(|(name, version, v)| {
                    Ok(Channel {
                        name,
                        version,
                        value: v.map(|i| value(&values, i)).transpose()?,
                    })
                })
                .collect::<Result<_>>()?;
            let record = CheckpointRecord {
                thread,
                ns,
                checkpoint_id: id,
                parent: parent.filter(|p| !p.is_empty()),
                checkpoint: value(&values, checkpoint)?,
                metadata: value(&values, metadata)?,
                channels,
                versions: Some(versions.into_iter().collect()),
            };
            saver.put(exec()?, record)?;
            none()
        }
        Request::PutWrites {
            thread,
            ns,
            id,
            task_id,
            task_path,
            writes,
            values,
        } => {
            let values = split(&values, bytes)?;
            let writes = writes
                .into_iter()
                .map(|(idx, channel, v)| {
                    Ok(Write {
                        idx,
                        channel,
                        value: value(&values, v)?,
                    })
                })
                .collect::<Result<_>>()?;
            saver.put_writes(
                exec()?,
                WritesRecord {
                    thread,
                    ns,
                    checkpoint_id: id,
                    task_id,
                    task_path,
                    writes,
                },
            )?;
            none()
        }
        Request::Get { thread, ns, id } => {
            let Some(t) = saver.get(
                exec()?,
                &thread,
                &ns,
                id.as_deref().filter(|i| !i.is_empty()),
            )?
            else {
                return none();
            };
            let mut a = Answer::default();
            let checkpoint = a.push(&t.checkpoint);
            let metadata = a.push(&t.metadata);
            let channel_values: Value = t
                .channel_values
                .iter()
                .map(|(ch, v)| json!([ch, a.push(v)]))
                .collect();
            let pending_writes = a.writes(&t.pending_writes);
            let answer = json!({
                "thread": t.thread, "ns": t.ns, "id": t.checkpoint_id, "parent": t.parent,
                "checkpoint": checkpoint, "metadata": metadata, "channel_values": channel_values,
                "pending_writes": pending_writes, "values": a.listed,
            });
            Ok((answer, a.bytes))
        }
        Request::List {
            thread,
            ns,
            id,
            before,
        } => {
            let keys = saver.list(
                exec()?,
                &ListFilter {
                    thread,
                    ns,
                    checkpoint_id: id,
                    before,
                },
            )?;
            Ok((json!(keys), Vec::new()))
        }
        Request::PendingWrites { thread, ns, id } => {
            let writes = saver.pending_writes(exec()?, &thread, &ns, &id)?;
            let mut a = Answer::default();
            let pending_writes = a.writes(&writes);
            Ok((
                json!({"pending_writes": pending_writes, "values": a.listed}),
                a.bytes,
            ))
        }
        Request::DeleteThread { thread } => {
            saver.delete_thread(exec()?, &thread)?;
            none()
        }
        Request::DeleteCheckpoints {
            thread,
            checkpoints,
        } => {
            saver.delete_checkpoints(exec()?, &thread, checkpoints)?;
            none()
        }
        Request::CopyThread { source, target } => {
            saver.copy_thread(exec()?, &source, &target)?;
            none()
        }
        Request::Prune { threads } => {
            saver.prune_keep_latest(exec()?, &threads)?;
            none()
        }
        Request::Name { thread, ns, id } => Ok((
            json!(wflo_core::langgraph::checkpoint_name(&thread, &ns, &id)),
            Vec::new(),
        )),
        Request::KeyOf { state, values } => {
            let t = value(&split(&values, bytes)?, state)?;
            let state = if t.kind.is_empty() {
                CheckpointState::Json(
                    String::from_utf8(t.data)
                        .map_err(|_| Error::invalid("a JSON state is not UTF-8"))?,
                )
            } else {
                CheckpointState::Binary {
                    content_type: t.kind,
                    bytes: t.data,
                }
            };
            match Record::decode(&state) {
                Ok(Record::Checkpoint(c)) => Ok((
                    json!({"thread": c.thread, "ns": c.ns, "id": c.checkpoint_id}),
                    Vec::new(),
                )),
                _ => none(), // not a LangGraph checkpoint record
            }
        }
    }
}

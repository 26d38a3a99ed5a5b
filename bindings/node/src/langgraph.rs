//! LangGraph.js's checkpoint saver (`integrations/langgraph.cjs`) over
//! `wflo_core::langgraph::Checkpointer`: the records, their names, which one is live, where a
//! channel's value comes from and which writes are pending are decided in core, once for every
//! face. This layer converts only: a value LangGraph's serializer wrote (`serde.dumpsTyped`:
//! its type and bytes) crosses as `[type, bytes]`, a channel version as its JSON text. Each
//! operation runs on libuv's thread pool and returns a promise, as the execution's checkpoint
//! methods do.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi_derive::napi;
use serde_json::Value;
use wflo_core::CheckpointState;
use wflo_core::langgraph::{
    Channel, CheckpointRecord, Checkpointer, ListFilter, PYTHON_MSGPACK_CONTENT_TYPE, PendingWrite,
    RECORD_CONTENT_TYPE, Record, Tuple, Typed, Write, WritesRecord,
};

use crate::execution::NativeExecution;
use crate::guard;
use crate::job::Job;

/// A value as it crosses from JavaScript: `[type, bytes]` (the bytes copied here, on the
/// JavaScript thread, so the job never reads memory JavaScript may write to meanwhile).
type JsTyped = (String, Buffer);

/// A pending write as it crosses to JavaScript: `[taskId, channel, type, bytes]`.
type JsWrite = (String, String, String, Buffer);

fn typed((kind, data): JsTyped) -> Typed {
    Typed {
        kind,
        data: data.to_vec(),
    }
}

fn js_typed(t: Typed) -> JsTyped {
    (t.kind, t.data.into())
}

fn json(text: &str, what: &str) -> wflo_core::Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| wflo_core::Error::invalid(format!("{what} is not JSON ({e})")))
}

/// A LangGraph checkpoint as `LangGraphCheckpointer.get` returns it: each value as
/// `[type, bytes]`, as the serializer wrote it.
#[napi(object)]
pub struct LangGraphTuple {
    pub thread: String,
    pub ns: String,
    pub checkpoint_id: String,
    pub parent: Option<String>,
    /// The checkpoint without its channel values.
    #[napi(ts_type = "[string, Buffer]")]
    pub checkpoint: JsTyped,
    #[napi(ts_type = "[string, Buffer]")]
    pub metadata: JsTyped,
    /// `[channel, type, bytes]` of each channel with a value.
    #[napi(ts_type = "Array<[string, string, Buffer]>")]
    pub channel_values: Vec<(String, String, Buffer)>,
    /// `[taskId, channel, type, bytes]`, in LangGraph's order.
    #[napi(ts_type = "Array<[string, string, string, Buffer]>")]
    pub pending_writes: Vec<JsWrite>,
}

/// An answer of `LangGraphCheckpointer.call`: its JSON text (values by index, their
/// `[type, length]` under `"values"`) and the values, each `[type, bytes]`.
#[napi(object)]
pub struct LangGraphAnswer {
    pub json: String,
    #[napi(ts_type = "Array<[string, Buffer]>")]
    pub values: Vec<JsTyped>,
}

/// Which LangGraph checkpoint a stored record is.
#[napi(object)]
pub struct LangGraphKey {
    pub thread: String,
    pub ns: String,
    pub checkpoint_id: String,
}

fn js_writes(writes: Vec<PendingWrite>) -> Vec<JsWrite> {
    writes
        .into_iter()
        .map(|w| (w.task_id, w.channel, w.value.kind, w.value.data.into()))
        .collect()
}

fn js_tuple(t: Tuple) -> LangGraphTuple {
    LangGraphTuple {
        thread: t.thread,
        ns: t.ns,
        checkpoint_id: t.checkpoint_id,
        parent: t.parent,
        checkpoint: js_typed(t.checkpoint),
        metadata: js_typed(t.metadata),
        channel_values: t
            .channel_values
            .into_iter()
            .map(|(ch, v)| (ch, v.kind, v.data.into()))
            .collect(),
        pending_writes: js_writes(t.pending_writes),
    }
}

/// A LangGraph saver's index and records of one execution (`wflo_core::langgraph::Checkpointer`);
/// each method takes the execution it works on.
#[napi]
pub struct LangGraphCheckpointer {
    inner: Arc<Checkpointer>,
}

impl Default for LangGraphCheckpointer {
    fn default() -> Self {
        LangGraphCheckpointer::new()
    }
}

#[napi]
impl LangGraphCheckpointer {
    #[napi(constructor)]
    pub fn new() -> LangGraphCheckpointer {
        LangGraphCheckpointer {
            inner: Arc::new(Checkpointer::new()),
        }
    }

    /// The checkpoint `checkpointId` of a thread and namespace (a superseded one too), else
    /// the thread's latest live one; null when there is none.
    #[napi(ts_return_type = "Promise<LangGraphTuple | null>")]
    pub fn get(
        &self,
        exec: &NativeExecution,
        thread: String,
        ns: String,
        checkpoint_id: Option<String>,
    ) -> AsyncTask<Job<Option<LangGraphTuple>>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        AsyncTask::new(Job::new(move || {
            Ok(cp
                .get(&exec, &thread, &ns, checkpoint_id.as_deref())?
                .map(js_tuple))
        }))
    }

    /// The live checkpoints the filter names (null/undefined: any), newest id first, as
    /// `[thread, ns, checkpointId]`.
    #[napi(ts_return_type = "Promise<Array<[string, string, string]>>")]
    pub fn list(
        &self,
        exec: &NativeExecution,
        thread: Option<String>,
        ns: Option<String>,
        checkpoint_id: Option<String>,
        before: Option<String>,
    ) -> AsyncTask<Job<Vec<(String, String, String)>>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        let filter = ListFilter {
            thread,
            ns,
            checkpoint_id,
            before,
        };
        AsyncTask::new(Job::new(move || cp.list(&exec, &filter)))
    }

    /// A checkpoint's pending writes, `[taskId, channel, type, bytes]` (none for one not stored).
    #[napi(ts_return_type = "Promise<Array<[string, string, string, Buffer]>>")]
    pub fn pending_writes(
        &self,
        exec: &NativeExecution,
        thread: String,
        ns: String,
        checkpoint_id: String,
    ) -> AsyncTask<Job<Vec<JsWrite>>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        AsyncTask::new(Job::new(move || {
            Ok(js_writes(cp.pending_writes(
                &exec,
                &thread,
                &ns,
                &checkpoint_id,
            )?))
        }))
    }

    /// Stores a checkpoint. `versionsJson`: the checkpoint's `channel_versions` as JSON
    /// `[[channel, version], …]` in its order; `channels`: the new versions, each
    /// `[channel, version as JSON, [type, bytes] or null when the channel has no value]`.
    #[allow(clippy::too_many_arguments)]
    #[napi(
        ts_args_type = "exec: NativeExecution, thread: string, ns: string, checkpointId: string, parent: string | null | undefined, checkpoint: [string, Uint8Array], metadata: [string, Uint8Array], versionsJson: string, channels: Array<[string, string, [string, Uint8Array] | null]>",
        ts_return_type = "Promise<void>"
    )]
    pub fn put(
        &self,
        exec: &NativeExecution,
        thread: String,
        ns: String,
        checkpoint_id: String,
        parent: Option<String>,
        checkpoint: JsTyped,
        metadata: JsTyped,
        versions_json: String,
        channels: Vec<(String, String, Option<JsTyped>)>,
    ) -> napi::Result<AsyncTask<Job<()>>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        let record = guard(|| {
            let versions: Vec<(String, Value)> =
                serde_json::from_str(&versions_json).map_err(|e| {
                    wflo_core::Error::invalid(format!(
                        "versionsJson is not [[channel, version], …] ({e})"
                    ))
                })?;
            let channels = channels
                .into_iter()
                .map(|(name, version, value)| {
                    Ok(Channel {
                        version: json(&version, "a channel version")?,
                        name,
                        value: value.map(typed),
                    })
                })
                .collect::<wflo_core::Result<Vec<_>>>()?;
            Ok(CheckpointRecord {
                thread,
                ns,
                checkpoint_id,
                parent: parent.filter(|p| !p.is_empty()),
                checkpoint: typed(checkpoint),
                metadata: typed(metadata),
                channels,
                versions: Some(versions),
            })
        })?;
        Ok(AsyncTask::new(Job::new(move || cp.put(&exec, record))))
    }

    /// Stores a task's writes to a checkpoint: `[idx, channel, [type, bytes]]` each.
    #[allow(clippy::too_many_arguments)]
    #[napi(
        ts_args_type = "exec: NativeExecution, thread: string, ns: string, checkpointId: string, taskId: string, taskPath: string, writes: Array<[number, string, [string, Uint8Array]]>",
        ts_return_type = "Promise<void>"
    )]
    pub fn put_writes(
        &self,
        exec: &NativeExecution,
        thread: String,
        ns: String,
        checkpoint_id: String,
        task_id: String,
        task_path: String,
        writes: Vec<(i64, String, JsTyped)>,
    ) -> AsyncTask<Job<()>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        let record = WritesRecord {
            thread,
            ns,
            checkpoint_id,
            task_id,
            task_path,
            writes: writes
                .into_iter()
                .map(|(idx, channel, value)| Write {
                    idx,
                    channel,
                    value: typed(value),
                })
                .collect(),
        };
        AsyncTask::new(Job::new(move || cp.put_writes(&exec, record)))
    }

    /// Deletes a thread (nothing is written when it has nothing visible).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_thread(&self, exec: &NativeExecution, thread: String) -> AsyncTask<Job<()>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        AsyncTask::new(Job::new(move || cp.delete_thread(&exec, &thread)))
    }

    /// Deletes some checkpoints of a thread (and their writes), by `[ns, checkpointId]`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_checkpoints(
        &self,
        exec: &NativeExecution,
        thread: String,
        checkpoints: Vec<(String, String)>,
    ) -> AsyncTask<Job<()>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        AsyncTask::new(Job::new(move || {
            cp.delete_checkpoints(&exec, &thread, checkpoints)
        }))
    }

    /// Copies a thread's live checkpoints and their writes to another thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn copy_thread(
        &self,
        exec: &NativeExecution,
        source: String,
        target: String,
    ) -> AsyncTask<Job<()>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        AsyncTask::new(Job::new(move || cp.copy_thread(&exec, &source, &target)))
    }

    /// One request as `wflo_core::langgraph::wire` takes it: JSON naming the operation and its
    /// fields, each value's `[type, length]` listed under its `"values"`, and `values` the
    /// values' bytes one after another (the faces that pass bytes, and the parity scenarios).
    #[napi(
        ts_args_type = "exec: NativeExecution, request: string | Uint8Array, values?: Uint8Array | null",
        ts_return_type = "Promise<LangGraphAnswer>"
    )]
    pub fn call(
        &self,
        exec: &NativeExecution,
        request: Either<String, Buffer>,
        values: Option<Buffer>,
    ) -> AsyncTask<Job<LangGraphAnswer>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        // Copied here, on the JavaScript thread (the job never reads JavaScript's memory).
        let request = match request {
            Either::A(text) => text.into_bytes(),
            Either::B(bytes) => bytes.to_vec(),
        };
        let values = values.map(|v| v.to_vec()).unwrap_or_default();
        AsyncTask::new(Job::new(move || {
            let answer = wflo_core::langgraph::wire::run(&cp, || Ok(&exec), &request, &values)?;
            Ok(LangGraphAnswer {
                json: answer.json,
                values: answer.values.into_iter().map(js_typed).collect(),
            })
        }))
    }

    /// Keeps each namespace's latest checkpoint of each thread and deletes the rest.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn prune_keep_latest(
        &self,
        exec: &NativeExecution,
        threads: Vec<String>,
    ) -> AsyncTask<Job<()>> {
        let (cp, exec) = (self.inner.clone(), exec.inner.clone());
        AsyncTask::new(Job::new(move || cp.prune_keep_latest(&exec, &threads)))
    }
}

/// The wflo checkpoint name of a LangGraph checkpoint (`wflo_core::langgraph::checkpoint_name`).
#[napi]
pub fn langgraph_checkpoint_name(thread: String, ns: String, checkpoint_id: String) -> String {
    wflo_core::langgraph::checkpoint_name(&thread, &ns, &checkpoint_id)
}

/// The LangGraph checkpoint a stored state is a record of, or null when it is not one: a
/// JSON state as its text, or a binary one as its bytes with `contentType`. A binary state of
/// the saver's content types that cannot be read is a STORAGE error.
#[napi(ts_args_type = "state: string | Uint8Array, contentType?: string | null")]
pub fn langgraph_checkpoint_of(
    state: Either<String, Buffer>,
    content_type: Option<String>,
) -> napi::Result<Option<LangGraphKey>> {
    let (state, strict) = match state {
        Either::A(text) => (CheckpointState::Json(text), false),
        Either::B(bytes) => {
            let content_type = content_type.unwrap_or_default();
            if content_type != RECORD_CONTENT_TYPE && content_type != PYTHON_MSGPACK_CONTENT_TYPE {
                return Ok(None);
            }
            let bytes = bytes.to_vec();
            (
                CheckpointState::Binary {
                    content_type,
                    bytes,
                },
                true,
            )
        }
    };
    guard(|| match Record::decode(&state) {
        Ok(Record::Checkpoint(c)) => Ok(Some(LangGraphKey {
            thread: c.thread,
            ns: c.ns,
            checkpoint_id: c.checkpoint_id,
        })),
        Ok(_) => Ok(None),
        Err(e) if strict => Err(e),
        Err(_) => Ok(None),
    })
}

/// The channel version after `current` (`wflo_core::langgraph::next_version`, the saver's
/// `getNextVersion`): its number (an integer, or a string's part before its first "."; none
/// is 0) plus one, zero-padded to 32 digits, then "." and 16 random digits — unique across
/// branches. Anything else is INVALID_ARGUMENT.
#[napi(ts_args_type = "current?: number | string | null")]
pub fn langgraph_next_version(current: Option<Either<f64, String>>) -> napi::Result<String> {
    let current = match current {
        None => Value::Null,
        Some(Either::B(s)) => Value::String(s),
        // A JavaScript number is a double: an integral one is that integer; any other
        // (negative, fractional, NaN, infinite) is passed on for core to refuse.
        Some(Either::A(n)) if n.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&n) => {
            Value::from(n as u64)
        }
        Some(Either::A(n)) => serde_json::Number::from_f64(n)
            .map_or_else(|| Value::String(n.to_string()), Value::Number),
    };
    guard(|| wflo_core::langgraph::next_version(Some(&current)))
}

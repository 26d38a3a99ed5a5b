//! A LangGraph saver's index and records (`wflo_core::langgraph`) for the UniFFI faces: one
//! call taking a request in `wflo_core::langgraph::wire`'s form — JSON naming the operation
//! and its fields, the bytes of its values one after another — and answering with the JSON
//! and the values, each with its type.

use std::sync::Arc;

use wflo_core::langgraph::{Checkpointer, wire};
use wflo_core::{Error, Execution};

use super::error::{Result, guard};
use super::execution::NativeExecution;
use super::offload;

/// A LangGraph saver's index and records of one execution at a time. Thread-safe.
#[derive(uniffi::Object)]
pub struct NativeLangGraphCheckpointer {
    inner: Arc<Checkpointer>,
}

/// A value as LangGraph's serializer wrote it: its type name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LangGraphValue {
    pub kind: String,
    pub data: Vec<u8>,
}

/// The answer to a request: its JSON text (values by index, their `[type, length]` under
/// `"values"`) and the values themselves, in that order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LangGraphAnswer {
    pub json: String,
    pub values: Vec<LangGraphValue>,
}

impl From<wire::Answer> for LangGraphAnswer {
    fn from(a: wire::Answer) -> Self {
        LangGraphAnswer {
            json: a.json,
            values: a
                .values
                .into_iter()
                .map(|v| LangGraphValue {
                    kind: v.kind,
                    data: v.data.into(),
                })
                .collect(),
        }
    }
}

fn run(
    saver: &Checkpointer,
    execution: Option<&Execution>,
    request: &str,
    values: &[u8],
) -> wflo_core::Result<LangGraphAnswer> {
    let exec =
        || execution.ok_or_else(|| Error::invalid("this LangGraph request needs an execution"));
    wire::run(saver, exec, request.as_bytes(), values).map(LangGraphAnswer::from)
}

#[uniffi::export]
impl NativeLangGraphCheckpointer {
    /// A new checkpointer, with nothing read yet.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(NativeLangGraphCheckpointer {
            inner: Arc::new(Checkpointer::new()),
        })
    }

    /// Runs one request on `execution`'s LangGraph records: `request` its JSON text, `values`
    /// the bytes of its values one after another (each value's `[type, length]` listed under
    /// the request's `"values"`). The operations and their answers: `wflo_core::langgraph::wire`
    /// (put, put_writes, get, list, pending_writes, delete_thread, delete_checkpoints,
    /// copy_thread, prune, name, key_of). `execution` may be None for `name` and `key_of`. A
    /// malformed request is INVALID_ARGUMENT and changes nothing.
    pub fn call(
        &self,
        execution: Option<Arc<NativeExecution>>,
        request: String,
        values: Vec<u8>,
    ) -> Result<LangGraphAnswer> {
        guard(|| {
            run(
                &self.inner,
                execution.as_deref().map(NativeExecution::inner),
                &request,
                &values,
            )
        })
    }

    /// `call` off the caller's thread.
    pub async fn call_async(
        &self,
        execution: Option<Arc<NativeExecution>>,
        request: String,
        values: Vec<u8>,
    ) -> Result<LangGraphAnswer> {
        let saver = self.inner.clone();
        offload(move || {
            guard(|| {
                run(
                    &saver,
                    execution.as_deref().map(NativeExecution::inner),
                    &request,
                    &values,
                )
            })
        })
        .await
    }
}

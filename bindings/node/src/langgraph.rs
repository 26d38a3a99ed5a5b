//! LangGraph.js's checkpoint saver (`integrations/langgraph.cjs`) over
//! `wflo_core::langgraph`: the records, their names, which one is live, where a channel's value
//! comes from, which writes are pending and the channel versions are decided in core, once for
//! every face. The saver reaches it as every face that passes bytes does: one request in
//! `wflo_core::langgraph::wire`'s form (JSON naming the operation and its fields, the values'
//! bytes one after another) and its answer. This layer copies bytes across and nothing else.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi_derive::napi;
use wflo_core::langgraph::{Checkpointer, wire};

use crate::execution::NativeExecution;
use crate::guard;
use crate::job::Job;

/// An answer of `LangGraphCheckpointer.call`: its JSON text (values by index, their
/// `[type, length]` under `"values"`) and the values, each `[type, bytes]`.
#[napi(object)]
pub struct LangGraphAnswer {
    pub json: String,
    #[napi(ts_type = "Array<[string, Buffer]>")]
    pub values: Vec<(String, Buffer)>,
}

impl From<wire::Answer> for LangGraphAnswer {
    fn from(answer: wire::Answer) -> Self {
        LangGraphAnswer {
            json: answer.json,
            values: answer
                .values
                .into_iter()
                .map(|v| (v.kind, Vec::from(v.data).into()))
                .collect(),
        }
    }
}

/// The request's bytes, copied here on the JavaScript thread (a job never reads memory
/// JavaScript may write to meanwhile).
fn bytes(request: Either<String, Buffer>, values: Option<Buffer>) -> (Vec<u8>, Vec<u8>) {
    let request = match request {
        Either::A(text) => text.into_bytes(),
        Either::B(bytes) => bytes.to_vec(),
    };
    (request, values.map(|v| v.to_vec()).unwrap_or_default())
}

/// A LangGraph saver's index and records of one execution (`wflo_core::langgraph::Checkpointer`).
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

    /// One request on `exec`'s records, on libuv's thread pool (the store may wait on the disk
    /// or the network), as the execution's checkpoint methods run.
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
        let (request, values) = bytes(request, values);
        AsyncTask::new(Job::new(move || {
            wire::run(&cp, || Ok(&exec), &request, &values).map(LangGraphAnswer::from)
        }))
    }

    /// A request that reads no execution (`name`, `key_of`, `next_version`), answered at once:
    /// LangGraph.js asks for a channel version synchronously.
    #[napi(ts_args_type = "request: string | Uint8Array, values?: Uint8Array | null")]
    pub fn call_sync(
        &self,
        request: Either<String, Buffer>,
        values: Option<Buffer>,
    ) -> napi::Result<LangGraphAnswer> {
        let (request, values) = bytes(request, values);
        let none = || {
            Err(wflo_core::Error::invalid(
                "this LangGraph request reads an execution: use call()",
            ))
        };
        guard(|| wire::run(&self.inner, none, &request, &values).map(LangGraphAnswer::from))
    }
}

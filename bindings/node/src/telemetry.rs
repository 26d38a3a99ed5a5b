//! What the engine tells the outside world (core's `telemetry`): the metrics text, and budget
//! alerts handed to a JavaScript function.
//!
//! An alert fires on the thread that settled the call — the JavaScript thread for a
//! synchronous settle, a libuv worker for an asynchronous one — so it reaches JavaScript
//! through a thread-safe function: one FIFO queue per listener, so alerts arrive in the order
//! the engine fired them, always asynchronously. The function is weak (unref'd): a listener
//! never keeps the process alive by itself. An alert queued from the JavaScript thread refs
//! it until delivered, so a program that settles its last call synchronously and then
//! returns still sees the alert (one queued from a worker is delivered while that worker's
//! job keeps the loop alive).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, sys};
use napi_derive::napi;

use crate::engine::NativeEngine;

/// Alerts queued from the JavaScript thread and not yet delivered; while there are any, the
/// thread-safe function is ref'd. Only the JavaScript thread touches it.
struct Pending {
    js_thread: ThreadId,
    env: usize,
    tsfn: AtomicUsize,
    queued: AtomicUsize,
}

impl Pending {
    /// Refs (`true`) or unrefs the thread-safe function; on the JavaScript thread only.
    fn hold(&self, on: bool) {
        let env = self.env as sys::napi_env;
        let tsfn = self.tsfn.load(Ordering::Acquire) as sys::napi_threadsafe_function;
        // SAFETY: called on the thread of `env`, with the function alive (the listener or
        // the delivery holding it); a failure leaves the loop as it was, which is harmless.
        unsafe {
            if on {
                sys::napi_ref_threadsafe_function(env, tsfn);
            } else {
                sys::napi_unref_threadsafe_function(env, tsfn);
            }
        }
    }
}

#[napi]
impl NativeEngine {
    /// This engine's metrics in the Prometheus text exposition format.
    #[napi]
    pub fn metrics_text(&self) -> String {
        self.inner.metrics_text()
    }

    /// Calls `callback` with each budget alert's JSON, in order, on the JavaScript thread;
    /// returns the listener's id for `removeAlertListener`.
    #[napi(ts_args_type = "callback: (alertJson: string) => void")]
    pub fn add_alert_listener(
        &self,
        env: Env,
        callback: Function<'_, String, ()>,
    ) -> napi::Result<i64> {
        let pending = Arc::new(Pending {
            js_thread: std::thread::current().id(),
            env: env.raw() as usize,
            tsfn: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        });
        let delivered = pending.clone();
        let tsfn = callback
            .build_threadsafe_function::<(String, bool)>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                let (json, from_js_thread) = ctx.value;
                if from_js_thread && delivered.queued.fetch_sub(1, Ordering::AcqRel) == 1 {
                    delivered.hold(false);
                }
                Ok(json)
            })?;
        pending.tsfn.store(tsfn.raw() as usize, Ordering::Release);
        let id = self.inner.add_alert_listener(move |alert| {
            let on_js_thread = std::thread::current().id() == pending.js_thread;
            if on_js_thread && pending.queued.fetch_add(1, Ordering::AcqRel) == 0 {
                pending.hold(true);
            }
            let status = tsfn.call(
                (alert.to_json(), on_js_thread),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
            // Closing (the environment is shutting down): nothing will be delivered.
            if status != napi::Status::Ok
                && on_js_thread
                && pending.queued.fetch_sub(1, Ordering::AcqRel) == 1
            {
                pending.hold(false);
            }
        });
        Ok(id as i64)
    }

    /// Stops a listener (alerts already queued are still delivered); false when unknown.
    #[napi]
    pub fn remove_alert_listener(&self, id: i64) -> bool {
        u64::try_from(id).is_ok_and(|id| self.inner.remove_alert_listener(id))
    }
}

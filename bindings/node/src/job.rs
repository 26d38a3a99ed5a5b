//! One generic background job: engine work that may block (storage, large texts) runs on
//! libuv's thread pool and settles a promise; a wait that may last runs on a thread of its own
//! (`spawn_wait`).

use std::sync::Arc;

use napi::bindgen_prelude::{Env, Object, Task, ToNapiValue, TypeName};
use parking_lot::Mutex;

use crate::{guard, js_error};

type Work<T> = Box<dyn FnOnce() -> wflo_core::Result<T> + Send>;

/// A job returning `T` to JavaScript.
pub struct Job<T> {
    work: Option<Work<T>>,
}

impl<T> Job<T> {
    pub fn new(work: impl FnOnce() -> wflo_core::Result<T> + Send + 'static) -> Job<T> {
        Job {
            work: Some(Box::new(work)),
        }
    }
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<T> {
        let work = self.work.take().expect("a job runs once");
        guard(work)
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
        Ok(output)
    }
}

type Resolve<T> = Box<dyn FnOnce(Env) -> napi::Result<T> + Send>;

/// Runs `work`, a wait that may last (a resource acquisition, an approval), on a thread of its
/// own and returns the promise it settles. Not on libuv's pool: waits there would hold its few
/// threads (four by default), and the storage work that ends a wait (a permit's release)
/// would queue behind them.
pub fn spawn_wait<T: ToNapiValue + Send + 'static>(
    env: &Env,
    work: impl FnOnce() -> wflo_core::Result<T> + Send + 'static,
) -> napi::Result<Object<'_>> {
    let (deferred, promise) = env.create_deferred::<T, Resolve<T>>()?;
    // Kept here too, so that a thread that cannot start still settles the promise.
    let slot = Arc::new(Mutex::new(Some(deferred)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("wflo-wait".into())
        .spawn(move || {
            let result = guard(work);
            if let Some(deferred) = theirs.lock().take() {
                match result {
                    Ok(value) => deferred.resolve(Box::new(move |_| Ok(value))),
                    Err(e) => deferred.reject(e),
                }
            }
        });
    if let Err(e) = spawned {
        if let Some(deferred) = slot.lock().take() {
            deferred.reject(js_error(wflo_core::Error::Internal(format!(
                "cannot start a thread to wait on: {e}"
            ))));
        }
    }
    Ok(promise)
}

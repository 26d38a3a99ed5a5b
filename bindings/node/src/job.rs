//! One generic background job: engine work that may block (storage, large texts) runs on
//! libuv's thread pool and settles a promise.

use napi::bindgen_prelude::{Env, Task, ToNapiValue, TypeName};

use crate::guard;

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

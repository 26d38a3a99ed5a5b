//! A C function pointer and its `user_data`, called by the engine from any thread (alert
//! listeners, the log route), that can be closed: once `close` returns, the function is not
//! running and is not called again — so the caller may free `user_data` right after the
//! removing call returns. The one exception is a function that removes itself from inside its
//! own call: that call cannot wait for itself, so it only stops later calls.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

/// The caller's pointer, handed back untouched. The caller promises (in each function's
/// documentation) that it may be used from any thread.
struct UserData(*mut c_void);

// SAFETY: libwflo never dereferences it; the documented contract makes the caller responsible
// for using it from the threads that deliver.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

thread_local! {
    /// The callbacks running on this thread now (a callback may cause a nested delivery).
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// A C callback of type `F` (a plain `extern "C" fn`) with its user data.
pub struct Callback<F: Copy> {
    function: F,
    user_data: UserData,
    open: AtomicBool,
    /// Held for reading while the function runs; `close` takes it for writing, so it returns
    /// only once every call in flight has ended.
    in_flight: RwLock<()>,
}

impl<F: Copy> Callback<F> {
    pub fn new(function: F, user_data: *mut c_void) -> Callback<F> {
        Callback {
            function,
            user_data: UserData(user_data),
            open: AtomicBool::new(true),
            in_flight: RwLock::new(()),
        }
    }

    fn key(&self) -> usize {
        self as *const Self as usize
    }

    /// Calls `invoke` with the function and the user data, unless the callback was closed.
    pub fn call(&self, invoke: impl FnOnce(F, *mut c_void)) {
        // Recursive: a nested delivery on this thread must not wait behind a closing writer
        // that itself waits for this thread.
        let _running = self.in_flight.read_recursive();
        if !self.open.load(Ordering::Acquire) {
            return;
        }
        let key = self.key();
        RUNNING.with_borrow_mut(|r| r.push(key));
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                RUNNING.with_borrow_mut(|r| {
                    r.pop();
                });
            }
        }
        let _pop = Pop;
        invoke(self.function, self.user_data.0);
    }

    /// Stops the callback; returns once no call is in flight (except when called from inside
    /// the callback itself, which cannot wait for its own call).
    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
        let key = self.key();
        if !RUNNING.with_borrow(|r| r.contains(&key)) {
            drop(self.in_flight.write());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn noop() {}

    #[test]
    fn close_waits_for_the_calls_in_flight_then_stops_every_call() {
        let cb = Arc::new(Callback::new(noop as fn(), std::ptr::null_mut()));
        let (started, finished) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let calling = {
            let (cb, started, finished) = (cb.clone(), started.clone(), finished.clone());
            std::thread::spawn(move || {
                cb.call(|_, _| {
                    started.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    finished.store(true, Ordering::SeqCst);
                })
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        cb.close();
        assert!(
            finished.load(Ordering::SeqCst),
            "close returned while a call ran"
        );
        let later = AtomicUsize::new(0);
        cb.call(|_, _| {
            later.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(later.load(Ordering::SeqCst), 0, "called after close");
        calling.join().unwrap();
    }

    #[test]
    fn a_callback_may_close_itself_and_nest() {
        let cb = Arc::new(Callback::new(noop as fn(), std::ptr::null_mut()));
        let calls = AtomicUsize::new(0);
        cb.call(|_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            // A nested delivery on the same thread, then closing from inside: no deadlock.
            cb.call(|_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
            });
            cb.close();
        });
        cb.call(|_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}

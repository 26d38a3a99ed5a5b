//! Writes call records in batches on a background thread, so recording a call costs the hot
//! path a push onto a vector, not a database round trip.
//!
//! Guarantees: records handed to [`CallWriter::push`] are written within `max_delay` (or as
//! soon as `batch_size` are waiting); [`CallWriter::take_all`] hands every waiting record to
//! the caller after any batch already being written has finished, which is how `flush`, a
//! checkpoint and `close` make everything before them durable. After a crash, what is lost is
//! at most the records pushed in the last `max_delay` (the waiting batch). A batch that fails
//! to write stays queued and is retried in the background; the next flush, checkpoint or close
//! takes it into its own transaction, so its error is the one reported when the store still
//! fails — and a store that has come back is not blamed for an error that is over.
//!
//! The queue is bounded: once `max_pending` records wait (the store has been failing for a
//! while), [`CallWriter::check_accepting`] fails with STORAGE and the engine refuses new calls
//! before they are sent — fail closed, as for shared budgets — instead of growing without bound
//! or dropping what was spent. Records already queued are all kept; calls in flight when the
//! bound is reached still record theirs, so the queue exceeds it by at most those.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::records::CallRecord;

/// When batches are written.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Write as soon as this many records wait.
    pub batch_size: usize,
    /// Write records at the latest this long after they were pushed.
    pub max_delay: Duration,
    /// Refuse new calls while this many records wait for a store that is not taking them.
    pub max_pending: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            batch_size: 512,
            max_delay: Duration::from_millis(100),
            // ~100 k records (tens of MB): minutes of a busy process's calls during an outage.
            max_pending: 100_000,
        }
    }
}

/// How long a call waits at most for a slow (not failing) store to drain a full queue before
/// it is refused after all. A store that hangs fails its batch long before (its own timeouts).
const BACKPRESSURE_WAIT: Duration = Duration::from_secs(300);

/// Writes one batch in one transaction.
pub type BatchSink = Box<dyn FnMut(&[CallRecord]) -> Result<()> + Send>;

#[derive(Default)]
struct State {
    pending: Vec<CallRecord>,
    /// A batch taken by the writer thread and not yet written, and its size.
    in_flight: bool,
    in_flight_len: usize,
    stop: bool,
    /// The last batch failed to write: the store is not accepting records.
    failing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Where the writer thread writes batches (here, not moved into the thread, so a thread
    /// that cannot be started loses nothing: the next push tries again).
    sink: Mutex<BatchSink>,
    /// Wakes the writer: records are waiting, or stop.
    wake: Condvar,
    /// Wakes flushers: the in-flight batch is done.
    idle: Condvar,
    options: WriterOptions,
    /// At least `max_pending` records wait: read without the lock on every reservation.
    full: AtomicBool,
}

/// The background writer of one store. Its thread starts with the first call it is handed
/// (or asked to accept): a process that only checkpoints never has one. (A second thread in
/// the process is not free: glibc and the kernel then lock what a single thread need not, and
/// a 1 KB SQLite insert was measured 8% slower for an idle one.)
pub struct CallWriter {
    shared: Arc<Shared>,
    name: String,
    /// Set once the thread runs; read without the lock on every push.
    started: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl CallWriter {
    /// A writer of batches to `sink`, its thread not started yet.
    pub fn start(name: &str, options: WriterOptions, sink: BatchSink) -> Result<CallWriter> {
        Ok(CallWriter {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                sink: Mutex::new(sink),
                wake: Condvar::new(),
                idle: Condvar::new(),
                options,
                full: AtomicBool::new(false),
            }),
            name: name.to_owned(),
            started: AtomicBool::new(false),
            thread: Mutex::new(None),
        })
    }

    /// Starts the writer thread if it is not running (nor stopped).
    fn ensure_started(&self) -> Result<()> {
        if self.started.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut thread = self.thread.lock();
        if self.started.load(Ordering::Acquire) || self.shared.state.lock().stop {
            return Ok(());
        }
        let worker = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("wflo-{}-writer", self.name))
            .spawn(move || worker.run())
            .map_err(|e| Error::Internal(format!("cannot start the call writer: {e}")))?;
        *thread = Some(spawned);
        self.started.store(true, Ordering::Release);
        Ok(())
    }

    /// Queues records for the next batch.
    pub fn push(&self, calls: Vec<CallRecord>) {
        // Without a thread (none could be started) the records wait for the next flush,
        // checkpoint or close, which write them; `check_accepting` reports the failure first.
        let _ = self.ensure_started();
        let mut st = self.shared.state.lock();
        let was_empty = st.pending.is_empty();
        if was_empty && st.pending.capacity() == 0 {
            st.pending = calls;
        } else {
            st.pending.extend(calls);
        }
        if was_empty || st.pending.len() >= self.shared.options.batch_size {
            self.shared.wake.notify_one();
        }
        self.shared.update_full(&st);
    }

    /// Fails with STORAGE while the queue is at its bound because the store fails: the engine
    /// then refuses new calls. A store that is writing, only slower than calls are made (a
    /// fleet recording faster than one database file takes), makes the caller wait for the
    /// queue to drain instead — backpressure, not a refusal.
    pub fn check_accepting(&self) -> Result<()> {
        self.ensure_started()?;
        if !self.shared.full.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut st = self.shared.state.lock();
        let deadline = std::time::Instant::now() + BACKPRESSURE_WAIT;
        let max = self.shared.options.max_pending;
        while st.pending.len() + st.in_flight_len >= max
            && !st.failing
            && !st.stop
            && std::time::Instant::now() < deadline
        {
            let _ = self
                .shared
                .idle
                .wait_for(&mut st, Duration::from_millis(100));
        }
        let waiting = st.pending.len() + st.in_flight_len;
        if waiting < max {
            return Ok(());
        }
        Err(Error::Storage(format!(
            "{waiting} call records are waiting for a store that is not accepting them: new calls are \
             refused until it does (nothing recorded is dropped)"
        )))
    }

    /// Every waiting record — a batch that failed in the background included — once any batch
    /// being written has finished; the caller writes them in its own transaction (or hands
    /// them back with [`CallWriter::restore`] when that fails, and reports its own error).
    ///
    /// A background failure is not reported here: once the store is back it is stale (a
    /// checkpoint right after a database restart used to fail for an outage that was over);
    /// the caller's own write of the same records says whether the store works now.
    pub fn take_all(&self) -> Vec<CallRecord> {
        let mut st = self.shared.state.lock();
        while st.in_flight {
            self.shared.idle.wait(&mut st);
        }
        let taken = std::mem::take(&mut st.pending);
        self.shared.update_full(&st);
        taken
    }

    /// Puts records the caller failed to write back at the front of the queue.
    pub fn restore(&self, mut calls: Vec<CallRecord>) {
        let mut st = self.shared.state.lock();
        calls.append(&mut st.pending);
        st.pending = calls;
        self.shared.update_full(&st);
    }

    /// Records waiting (not counting a batch being written), for tests and diagnostics.
    pub fn pending(&self) -> usize {
        self.shared.state.lock().pending.len()
    }

    /// Records waiting for this execution, in push order (for reads that must see them).
    pub fn pending_for(&self, execution_id: &str) -> Vec<CallRecord> {
        let st = self.shared.state.lock();
        st.pending
            .iter()
            .filter(|c| &*c.execution_id == execution_id)
            .cloned()
            .collect()
    }

    /// Stops the thread after its current batch; waiting records stay for `take_all`.
    pub fn stop(&self) {
        self.shared.state.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for CallWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn update_full(&self, st: &State) {
        let waiting = st.pending.len() + st.in_flight_len;
        self.full
            .store(waiting >= self.options.max_pending, Ordering::Relaxed);
    }

    fn run(&self) {
        // Failed writes in a row, for the events (the records are kept and retried).
        let mut failures: u32 = 0;
        let mut st = self.state.lock();
        loop {
            if st.stop {
                return;
            }
            if st.pending.is_empty() {
                self.wake.wait(&mut st);
                continue;
            }
            // Give a short burst time to fill the batch, unless it is already full.
            if st.pending.len() < self.options.batch_size {
                let _ = self.wake.wait_for(&mut st, self.options.max_delay);
                if st.stop || st.pending.is_empty() {
                    continue;
                }
            }
            let batch = std::mem::take(&mut st.pending);
            st.in_flight = true;
            st.in_flight_len = batch.len();
            drop(st);
            let result = (self.sink.lock())(&batch);
            // Events go out before the lock is taken again: a slow log sink never holds up
            // the calls that push records.
            match &result {
                Err(e) => {
                    failures = failures.saturating_add(1);
                    crate::events::store_write_failed(batch.len(), failures, e);
                }
                Ok(()) if failures > 0 => {
                    crate::events::store_write_recovered(batch.len(), failures);
                    failures = 0;
                }
                Ok(()) => {}
            }
            st = self.state.lock();
            st.in_flight = false;
            st.in_flight_len = 0;
            st.failing = result.is_err();
            if result.is_err() {
                // Keep the records (in order) and back off before the retry.
                let mut rest = std::mem::take(&mut st.pending);
                st.pending = batch;
                st.pending.append(&mut rest);
                self.update_full(&st);
                self.idle.notify_all();
                let _ = self.wake.wait_for(&mut st, self.options.max_delay * 5);
                continue;
            }
            self.update_full(&st);
            self.idle.notify_all();
        }
    }
}

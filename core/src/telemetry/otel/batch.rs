//! The span pipeline's batching, ours rather than the SDK's batch processor so that every
//! span that does not reach the endpoint is counted: a span that finds the bounded queue full
//! is dropped at once (a call never waits) and counted, and so is every span of a batch the
//! endpoint refused. One thread drains the queue: it exports a batch when it is full or when
//! the schedule delay has passed, and on flush. Sizes and delay come from the standard
//! `OTEL_BSP_MAX_QUEUE_SIZE` (2048), `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512) and
//! `OTEL_BSP_SCHEDULE_DELAY` (5000 ms).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

enum Message {
    Span(Box<SpanData>),
    /// Export everything queued, then answer.
    Flush(SyncSender<OTelSdkResult>),
    Shutdown(SyncSender<OTelSdkResult>),
}

/// A span processor with a bounded queue and one exporting thread.
#[derive(Debug)]
pub struct Batching {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

impl Batching {
    /// Starts the exporting thread. `dropped` counts spans that never reached the endpoint.
    pub fn start<E: SpanExporter + 'static>(
        exporter: E,
        dropped: Arc<AtomicU64>,
    ) -> std::io::Result<Batching> {
        let queue_size = env_number("OTEL_BSP_MAX_QUEUE_SIZE", 2048) as usize;
        let batch_size =
            (env_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512) as usize).min(queue_size);
        let delay = Duration::from_millis(env_number("OTEL_BSP_SCHEDULE_DELAY", 5000));
        let (queue, rx) = sync_channel(queue_size);
        let counter = dropped.clone();
        let worker = std::thread::Builder::new()
            .name("wflo-otel-spans".into())
            .spawn(move || drain(exporter, rx, batch_size, delay, counter))?;
        Ok(Batching {
            queue,
            dropped,
            worker: Mutex::new(Some(worker)),
        })
    }

    fn ask(
        &self,
        make: impl FnOnce(SyncSender<OTelSdkResult>) -> Message,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (tx, rx) = sync_channel(1);
        self.queue
            .send(make(tx))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        rx.recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))?
    }
}

impl SpanProcessor for Batching {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.queue.try_send(Message::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Message::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.ask(Message::Shutdown, timeout);
        if let Some(worker) = self.worker.lock().ok().and_then(|mut w| w.take()) {
            let _ = worker.join();
        }
        result
    }
}

/// The exporting thread: batches by size or age, exports, counts what did not arrive.
fn drain<E: SpanExporter>(
    mut exporter: E,
    rx: Receiver<Message>,
    batch_size: usize,
    delay: Duration,
    dropped: Arc<AtomicU64>,
) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(batch_size);
    let mut due = Instant::now() + delay;
    let export = |exporter: &mut E, batch: &mut Vec<SpanData>| -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        let result = block_on(exporter.export(std::mem::take(batch)));
        if result.is_err() {
            dropped.fetch_add(n, Ordering::Relaxed);
        }
        result
    };
    loop {
        let wait = due.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Message::Span(span)) => {
                batch.push(*span);
                if batch.len() >= batch_size {
                    let _ = export(&mut exporter, &mut batch);
                    due = Instant::now() + delay;
                }
            }
            Ok(Message::Flush(reply)) => {
                // Everything queued before the flush was asked is in the channel ahead of it.
                let result = export(&mut exporter, &mut batch);
                due = Instant::now() + delay;
                let _ = reply.send(result);
            }
            Ok(Message::Shutdown(reply)) => {
                let result = export(&mut exporter, &mut batch);
                let _ = exporter.shutdown();
                let _ = reply.send(result);
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = export(&mut exporter, &mut batch);
                due = Instant::now() + delay;
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = export(&mut exporter, &mut batch);
                return;
            }
        }
    }
}

/// Runs a future to completion on this thread (the exporter's future does its blocking I/O
/// when polled, so it rarely waits; when it does, the thread parks until woken).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

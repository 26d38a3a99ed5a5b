//! One connection kept out of the pool for the single-statement checkpoint calls (a save with
//! nothing else to write, a load, a list), on a runtime of its own that the calling thread
//! drives. Through the pool, such a call cost three things besides its statement: handing the
//! work to a runtime worker and the answer back (two thread wake-ups), and sqlx's ping of every
//! connection that goes back to its pool (a second round trip). The spare connection is used by
//! one caller at a time, whose thread polls the socket itself; a caller that finds it in use
//! (or runs inside an async runtime, where it cannot block) goes through the pool as before.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use parking_lot::Mutex;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{PING_AFTER_IDLE, storage};
use crate::error::{Error, Result};

/// The work of one call on a connection.
pub(super) type Work<T> = Box<
    dyn for<'c> FnOnce(&'c mut PgConnection) -> Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>
        + Send,
>;

pub(super) struct Spare {
    /// The connection and when it was last used; `None` until first needed, and after a call
    /// on it failed with a storage error (the next caller connects again rather than trust it).
    /// Declared before the runtime so it is dropped first.
    slot: Mutex<Option<(PgConnection, Instant)>>,
    runtime: tokio::runtime::Runtime,
    options: PgConnectOptions,
}

impl Spare {
    pub(super) fn new(options: PgConnectOptions) -> Result<Spare> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the PostgreSQL runtime: {e}")))?;
        Ok(Spare {
            slot: Mutex::new(None),
            runtime,
            options,
        })
    }

    /// Runs `work` on the spare connection on this thread, or gives `work` back when another
    /// thread has the connection or this thread is inside an async runtime.
    pub(super) fn try_run<T>(&self, work: Work<T>) -> std::result::Result<Result<T>, Work<T>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(work);
        }
        let Some(mut slot) = self.slot.try_lock() else {
            return Err(work);
        };
        let run = async {
            let mut conn = match slot.take() {
                Some((conn, at)) if at.elapsed() < PING_AFTER_IDLE => conn,
                Some((mut conn, _)) => {
                    use sqlx::Connection;
                    match conn.ping().await {
                        Ok(()) => conn,
                        Err(_) => self.options.connect().await.map_err(storage)?,
                    }
                }
                None => self.options.connect().await.map_err(storage)?,
            };
            let result = work(&mut conn).await;
            // A storage error may be the connection's; any other (not found, a conflict) is
            // the server's answer on a connection that works.
            if !matches!(result, Err(Error::Storage(_))) {
                *slot = Some((conn, Instant::now()));
            }
            result
        };
        let ran =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.runtime.block_on(run)));
        Ok(ran.unwrap_or_else(|_| {
            Err(Error::Internal(
                "a PostgreSQL call panicked without a result".into(),
            ))
        }))
    }

    /// Closes the spare connection (with the store).
    pub(super) fn close(&self) {
        let conn = self.slot.lock().take();
        if let (Some((conn, _)), Err(_)) = (conn, tokio::runtime::Handle::try_current()) {
            use sqlx::Connection;
            let _ = self.runtime.block_on(conn.close());
        }
    }
}

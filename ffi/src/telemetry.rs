//! What the engine tells the outside world, across the C ABI: its metrics as Prometheus text
//! and its budget alerts delivered to a C callback. The rules (what is counted, when an alert
//! fires, what it carries) are the engine's (`wflo_core::telemetry`); this module converts.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use parking_lot::Mutex;
use wflo_core::{Engine, Error};

use crate::boundary::{run, wflo_status};
use crate::callback::Callback;
use crate::engine::wflo_engine;
use crate::handle::{arc_ref, out};
use crate::strings::output;

/// Receives one budget alert: `alert_json` is a NUL-terminated JSON object of `len` bytes,
/// `{"execution_id", "workflow", "scope", "kind": "threshold" | "soft_budget", "percent",
/// "limit_nanos", "limit_usd", "spent_nanos", "spent_usd", "at_ms"}`, owned by the library
/// and valid only during the call (copy what you keep). `user_data` is what was registered.
pub type wflo_alert_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, alert_json: *const c_char, len: usize)>;

type AlertFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize);

/// A registered listener: the engine handle it was added on, the engine's id for it, and the
/// callback to close when it is removed.
struct Registered {
    engine: usize,
    id: u64,
    callback: Arc<Callback<AlertFn>>,
}

/// Every listener added through the C ABI, so removing one (or freeing its engine) can wait
/// for its calls in flight before the caller frees its `user_data`.
static LISTENERS: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// The engine's metrics in the Prometheus text exposition format (version 0.0.4): spend by
/// model, provider and scope (`wflo_cost_usd_total`), calls by status, refusals, token and
/// duration histograms (GenAI semantic conventions), budgets remaining and alerts fired. Labels
/// are bounded (models, providers, scope names, statuses; never execution ids). `*text_out` is
/// freed with wflo_string_free.
///
/// # Safety
/// `engine` is a live engine handle; `text_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_metrics_text(
    engine: *const wflo_engine,
    text_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(text_out, "text_out") }?;
        *out = output(unsafe { arc_ref(engine, "engine") }?.metrics_text())?;
        Ok(())
    })
}

/// Calls `callback` with every budget alert of the engine's executions: each threshold of a
/// limit (the execution's or a step scope's; by default 50, 80 and 95%, or the start option
/// "alert_thresholds") once, in order — a call that crosses two delivers both, lowest first —
/// and the soft budget ("soft_budget_nanos") once. `*id_out` receives the id to remove it with.
///
/// Threads: the callback runs on the thread whose call settled the spend (inside that call,
/// before it returns), after the engine's locks are released, possibly on several threads at
/// once; `user_data` must be usable from all of them. It may call libwflo (even remove itself).
///
/// Lifetime: the callback is called until wflo_engine_remove_alert_listener or
/// wflo_engine_free returns for this engine handle; once either returned, no call is in flight
/// and none follows, so `user_data` may be freed — except when the removal is made from inside
/// the callback, which cannot wait for its own call (or other calls already running).
/// `callback` NULL: WFLO_STATUS_INVALID_ARGUMENT.
///
/// # Safety
/// `engine` is a live engine handle; `callback`, if not NULL, is a function of this type;
/// `id_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_add_alert_listener(
    engine: *const wflo_engine,
    callback: wflo_alert_fn,
    user_data: *mut c_void,
    id_out: *mut u64,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(id_out, "id_out") }?;
        let e: &Engine = unsafe { arc_ref(engine, "engine") }?;
        let function = callback.ok_or_else(|| Error::invalid("callback is NULL"))?;
        let callback = Arc::new(Callback::new(function, user_data));
        let delivers = callback.clone();
        let id = e.add_alert_listener(move |alert| {
            let json = CString::new(alert.to_json()).unwrap_or_default();
            delivers.call(|f, data| unsafe { f(data, json.as_ptr(), json.as_bytes().len()) });
        });
        LISTENERS.lock().push(Registered {
            engine: engine as usize,
            id,
            callback,
        });
        *out = id;
        Ok(())
    })
}

/// Removes a listener added on this engine handle. When it returns, the callback is not
/// running and will not be called again (unless removed from inside itself: see
/// wflo_engine_add_alert_listener). WFLO_STATUS_NOT_FOUND when `id` is not a listener of this
/// engine handle (already removed, or never added here).
///
/// # Safety
/// `engine` is a live engine handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_remove_alert_listener(
    engine: *const wflo_engine,
    id: u64,
) -> wflo_status {
    run(|| {
        let e = unsafe { arc_ref(engine, "engine") }?;
        let found = {
            let mut listeners = LISTENERS.lock();
            let at = listeners
                .iter()
                .position(|l| l.engine == engine as usize && l.id == id);
            at.map(|i| listeners.swap_remove(i))
        };
        let Some(listener) = found else {
            return Err(Error::NotFound(format!(
                "no alert listener {id} on this engine"
            )));
        };
        // Closed outside the registry's lock: a callback in flight may add or remove listeners.
        listener.callback.close();
        e.remove_alert_listener(id);
        Ok(())
    })
}

/// Removes every listener added on an engine handle that is being freed (wflo_engine_free).
pub(crate) fn engine_freed(engine: *const wflo_engine, e: &Engine) {
    let gone: Vec<Registered> = {
        let mut listeners = LISTENERS.lock();
        let (gone, kept) = std::mem::take(&mut *listeners)
            .into_iter()
            .partition(|l| l.engine == engine as usize);
        *listeners = kept;
        gone
    };
    for listener in gone {
        listener.callback.close();
        e.remove_alert_listener(listener.id);
    }
}

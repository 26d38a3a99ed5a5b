//! The engine handle and the stateless helpers: prices, costs, token counts, usage parsing,
//! money conversions, the version.

use std::ffi::c_char;
use std::sync::Arc;

use wflo_core::store::Period;
use wflo_core::{Engine, Usage, UsageFormat};

use crate::boundary::{run, run_quiet, wflo_status};
use crate::handle::{Arced, Handle, arc_free, arc_into_ptr, arc_ref, out};
use crate::strings::{input, optional, output_json};

/// An engine: prices, budgets and a store. Thread-safe: one handle may be used from any
/// number of threads at once. Free with wflo_engine_free.
pub struct wflo_engine {
    _private: [u8; 0],
}

impl Handle for wflo_engine {
    type Ownership = Arced;
    type Rust = Engine;
}

/// Token usage in wflo's six DISJOINT fields (each token counted once, billed at its own
/// price): `input` excludes cache reads and writes, `output` excludes reasoning.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wflo_usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

impl From<wflo_usage> for Usage {
    fn from(u: wflo_usage) -> Usage {
        Usage {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write_5m: u.cache_write_5m,
            cache_write_1h: u.cache_write_1h,
            reasoning: u.reasoning,
        }
    }
}

impl From<Usage> for wflo_usage {
    fn from(u: Usage) -> wflo_usage {
        wflo_usage {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write_5m: u.cache_write_5m,
            cache_write_1h: u.cache_write_1h,
            reasoning: u.reasoning,
        }
    }
}

/// The library version, "MAJOR.MINOR.PATCH" (static).
#[unsafe(no_mangle)]
pub extern "C" fn wflo_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr() as *const c_char
}

/// The library version as MAJOR * 10000 + MINOR * 100 + PATCH, to compare with
/// WFLO_VERSION_NUMBER from the header the program was compiled with.
#[unsafe(no_mangle)]
pub extern "C" fn wflo_version_number() -> u32 {
    crate::WFLO_VERSION_NUMBER
}

/// Opens an engine over the store `url` names (a SQLite path, `sqlite://…`, `:memory:`,
/// `memory://`, `postgres://…`). `url` NULL (length 0): WFLO_DATABASE_URL, then DATABASE_URL,
/// then the default SQLite file. On success `*engine_out` owns a new handle.
///
/// # Safety
/// `url` points to `url_len` bytes (or is NULL); `engine_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_open(
    url: *const c_char,
    url_len: usize,
    engine_out: *mut *mut wflo_engine,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(engine_out, "engine_out") }?;
        let url = unsafe { optional(url, url_len, "url") }?;
        let engine = Engine::open(url)?;
        *out = arc_into_ptr(Arc::new(engine));
        Ok(())
    })
}

/// Flushes and closes the engine's store. Later calls on the engine and its executions fail
/// with WFLO_STATUS_CLOSED; closing twice is fine. The handle must still be freed.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_close(engine: *const wflo_engine) -> wflo_status {
    run(|| unsafe { arc_ref(engine, "engine") }?.close())
}

/// Releases the handle (the engine closes when its last execution is freed too) and removes
/// the alert listeners added on it: when it returns, none of their callbacks is running or
/// will run. NULL is a no-op.
///
/// # Safety
/// `engine` is NULL or a live engine handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_free(engine: *const wflo_engine) {
    run_quiet((), || {
        if let Ok(e) = unsafe { arc_ref(engine, "engine") } {
            crate::telemetry::engine_freed(engine, e);
        }
        unsafe { arc_free(engine) }
    })
}

/// Registers or overrides prices: `{"models": [{"name": "my-model", "input": 1000000,
/// "output": 2000000}]}` in pico-USD per token (1000000 = $1 per million tokens). A name
/// already in the table keeps the prices the entry does not give.
///
/// # Safety
/// `engine` is a live engine handle; `json` points to `json_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_set_prices(
    engine: *const wflo_engine,
    json: *const c_char,
    json_len: usize,
) -> wflo_status {
    run(|| {
        let engine = unsafe { arc_ref(engine, "engine") }?;
        engine.set_prices_json(unsafe { input(json, json_len, "json") }?)
    })
}

/// Loads a price file over the table: wflo's schema (`{"models": [...]}`, pico-USD per token)
/// or LiteLLM's `model_prices_and_context_window.json` as published (USD per token). The whole
/// file is checked first; a bad entry refuses it (WFLO_STATUS_INVALID_ARGUMENT, the message
/// names the line and the reason) and nothing is applied. On success `*json_out` is what
/// changed: `{"origin", "format", "models", "added": [names], "changed": [{"name", "fields":
/// [{"field", "before", "after"}]}], "unchanged", "skipped": [{"name", "line", "reason"}]}`,
/// freed with wflo_string_free. (Every engine also loads the file WFLO_PRICES names when it
/// opens.)
///
/// # Safety
/// `engine` is a live engine handle; `path` points to `path_len` bytes; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_load_prices(
    engine: *const wflo_engine,
    path: *const c_char,
    path_len: usize,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        *out = output_json(&engine.load_prices(unsafe { input(path, path_len, "path") }?)?)?;
        Ok(())
    })
}

/// Where the engine's prices come from, as JSON: `{"source", "version", "retrieved", "models",
/// "files": [{"origin", "format", "version"?, "retrieved"?, "models"}], "overrides"}`; freed
/// with wflo_string_free.
///
/// # Safety
/// `engine` is a live engine handle; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_price_table_json(
    engine: *const wflo_engine,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&unsafe { arc_ref(engine, "engine") }?.price_table())?;
        Ok(())
    })
}

/// Creates or changes a shared budget scope in the store (`limit_nanos` < 0: no limit;
/// `period`: "none", "day" or "month", NULL = "none").
///
/// # Safety
/// `engine` is a live engine handle; strings point to their lengths in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_define_shared_scope(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    limit_nanos: i64,
    period: *const c_char,
    period_len: usize,
) -> wflo_status {
    // The scope keeps how it is served (-1).
    unsafe {
        wflo_engine_define_shared_scope_allowances(
            engine,
            name,
            name_len,
            limit_nanos,
            period,
            period_len,
            -1,
        )
    }
}

/// [`wflo_engine_define_shared_scope`] that also says how processes serve the scope:
/// `allowances` 1 from local allowances, 0 every call booked in the store, -1 as the scope
/// already is (a new scope: allowances).
///
/// # Safety
/// `engine` is a live engine handle; strings point to their lengths in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_define_shared_scope_allowances(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    limit_nanos: i64,
    period: *const c_char,
    period_len: usize,
    allowances: i32,
) -> wflo_status {
    run(|| {
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let name = unsafe { input(name, name_len, "name") }?;
        let period = Period::from_name(
            unsafe { optional(period, period_len, "period") }?.unwrap_or("none"),
        )?;
        let allowances = match allowances {
            -1 => None,
            0 => Some(false),
            1 => Some(true),
            other => {
                return Err(wflo_core::Error::invalid(format!(
                    "allowances is -1 (keep), 0 (off) or 1 (on), not {other}"
                )));
            }
        };
        engine.define_shared_scope_allowances(
            name,
            u64::try_from(limit_nanos).ok(),
            period,
            allowances,
        )
    })
}

/// A shared scope's figures for its current period, as JSON.
///
/// # Safety
/// `engine` is a live engine handle; `name` points to `name_len` bytes; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_engine_shared_scope_json(
    engine: *const wflo_engine,
    name: *const c_char,
    name_len: usize,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let figures = engine.shared_scope(unsafe { input(name, name_len, "name") }?)?;
        *out = output_json(&figures)?;
        Ok(())
    })
}

/// How a model name resolves and every price it has, as JSON (pico-USD per token).
///
/// # Safety
/// `engine` is a live engine handle; `model` points to `model_len` bytes; `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_price_json(
    engine: *const wflo_engine,
    model: *const c_char,
    model_len: usize,
    json_out: *mut *mut c_char,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let resolved = engine.resolve_model(unsafe { input(model, model_len, "model") }?)?;
        *out = output_json(&serde_json::json!({
            "resolved": resolved.price.name, "resolution": resolved.resolution, "price": &*resolved.price
        }))?;
        Ok(())
    })
}

/// The cost of a usage on a model, in nano-USD, rounded up.
///
/// # Safety
/// `engine` is a live engine handle; `model` points to `model_len` bytes; `usage` readable;
/// `nanos_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_cost(
    engine: *const wflo_engine,
    model: *const c_char,
    model_len: usize,
    usage: *const wflo_usage,
    nanos_out: *mut u64,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(nanos_out, "nanos_out") }?;
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let usage =
            unsafe { usage.as_ref() }.ok_or_else(|| wflo_core::Error::invalid("usage is NULL"))?;
        *out = engine
            .cost(
                unsafe { input(model, model_len, "model") }?,
                &Usage::from(*usage),
            )?
            .cost_nanos;
        Ok(())
    })
}

/// `wflo_cost`'s arguments and result in one struct, for callers whose foreign calls cost
/// more with every argument (Python's ctypes converts each one: five arguments cost four times
/// what one does, and a cost is computed on every LLM call).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wflo_cost_args {
    pub engine: *const wflo_engine,
    /// The model as the request names it, `model_len` bytes.
    pub model: *const c_char,
    pub model_len: usize,
    pub usage: wflo_usage,
    /// Receives the cost in nano-USD, rounded up.
    pub nanos: u64,
}

/// `wflo_cost` with its arguments in `args`; the cost is written to `args->nanos`.
///
/// # Safety
/// `args` is readable and writable; its engine is live and `model` points to `model_len`
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_cost_packed(args: *mut wflo_cost_args) -> wflo_status {
    let Some(a) = (unsafe { args.as_mut() }) else {
        return run(|| Err(wflo_core::Error::invalid("args is NULL")));
    };
    unsafe { wflo_cost(a.engine, a.model, a.model_len, &a.usage, &mut a.nanos) }
}

/// Counts `text` as `model` is billed for it. `*estimated_out` is true when the model's
/// provider has no offline tokenizer and cl100k_base stood in.
///
/// # Safety
/// `engine` is a live engine handle; strings point to their lengths; outs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_count_tokens(
    engine: *const wflo_engine,
    model: *const c_char,
    model_len: usize,
    text: *const c_char,
    text_len: usize,
    tokens_out: *mut u64,
    estimated_out: *mut bool,
) -> wflo_status {
    run(|| {
        let (tokens, estimated) = (unsafe { out(tokens_out, "tokens_out") }?, unsafe {
            out(estimated_out, "estimated_out")
        }?);
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let count = engine.count_tokens(unsafe { input(model, model_len, "model") }?, unsafe {
            input(text, text_len, "text")
        }?);
        (*tokens, *estimated) = (count.tokens, count.estimated);
        Ok(())
    })
}

/// Counts a chat request's messages (a JSON array of `{role, content, name?}`) with the
/// per-message overhead OpenAI documents.
///
/// # Safety
/// `engine` is a live engine handle; strings point to their lengths; outs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_count_chat_tokens(
    engine: *const wflo_engine,
    model: *const c_char,
    model_len: usize,
    messages_json: *const c_char,
    messages_len: usize,
    tokens_out: *mut u64,
    estimated_out: *mut bool,
) -> wflo_status {
    run(|| {
        let (tokens, estimated) = (unsafe { out(tokens_out, "tokens_out") }?, unsafe {
            out(estimated_out, "estimated_out")
        }?);
        let engine = unsafe { arc_ref(engine, "engine") }?;
        let count = engine
            .count_chat_tokens(unsafe { input(model, model_len, "model") }?, unsafe {
                input(messages_json, messages_len, "messages_json")
            }?)?;
        (*tokens, *estimated) = (count.tokens, count.estimated);
        Ok(())
    })
}

/// Parses a provider's usage JSON (`format`: "auto", "openai_chat", "openai_responses",
/// "anthropic", "gemini", "wflo"; a whole response body or its usage object).
///
/// # Safety
/// Strings point to their lengths; `usage_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_parse_usage(
    format: *const c_char,
    format_len: usize,
    json: *const c_char,
    json_len: usize,
    usage_out: *mut wflo_usage,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(usage_out, "usage_out") }?;
        let format = UsageFormat::from_name(unsafe { input(format, format_len, "format") }?)?;
        *out = wflo_core::usage::parse_usage(format, unsafe { input(json, json_len, "json") }?)?
            .into();
        Ok(())
    })
}

/// Converts a USD amount to nano-USD (rounding toward zero; NaN, negative or absurd amounts
/// are WFLO_STATUS_INVALID_ARGUMENT).
///
/// # Safety
/// `nanos_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_usd_to_nanos(usd: f64, nanos_out: *mut u64) -> wflo_status {
    run(|| {
        let out = unsafe { out(nanos_out, "nanos_out") }?;
        *out = wflo_core::money::usd_to_nanos(usd)?;
        Ok(())
    })
}

/// Parses a decimal USD string ("2.50", "$0.000075") to nano-USD.
///
/// # Safety
/// `text` points to `text_len` bytes; `nanos_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_parse_usd(
    text: *const c_char,
    text_len: usize,
    nanos_out: *mut u64,
) -> wflo_status {
    run(|| {
        let out = unsafe { out(nanos_out, "nanos_out") }?;
        *out = wflo_core::money::parse_usd(unsafe { input(text, text_len, "text") }?)?;
        Ok(())
    })
}

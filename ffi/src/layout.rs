//! The layouts of the structs that cross the C ABI by value, as the library itself sees
//! them. Faces that pack these structs by hand (Python's `struct`, Kotlin's JNA offsets)
//! compare their own layout with this one when they load the library and refuse to run on a
//! mismatch, so a field added here can never be read at the wrong offset there.

use std::ffi::c_char;
use std::mem::{offset_of, size_of};

use crate::boundary::{run, wflo_status};
use crate::call::{wflo_call_request, wflo_settled};
use crate::checkpoint::wflo_checkpoint_saved;
use crate::engine::{wflo_cost_args, wflo_usage};
use crate::handle::out;
use crate::strings::output_json;

macro_rules! layout {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        serde_json::json!({
            "size": size_of::<$ty>(),
            "fields": { $( stringify!($field): offset_of!($ty, $field) ),* }
        })
    };
}

/// Every by-value struct: its size and the byte offset of each field.
pub fn layouts() -> serde_json::Value {
    serde_json::json!({
        "wflo_usage": layout!(wflo_usage {
            input, output, cache_read, cache_write_5m, cache_write_1h, reasoning
        }),
        "wflo_settled": layout!(wflo_settled {
            seq, cost_nanos, reserved_nanos, overrun_nanos, usage, estimated, usage_missing
        }),
        "wflo_call_request": layout!(wflo_call_request {
            model, model_len, provider, provider_len, input_tokens, input_count,
            max_output_tokens, cache_write, stream, clamp_max_tokens
        }),
        "wflo_cost_args": layout!(wflo_cost_args {
            engine, model, model_len, usage, nanos
        }),
        "wflo_checkpoint_saved": layout!(wflo_checkpoint_saved {
            id, sequence, parent_id, spent_nanos, created_at_ms, state_bytes, has_parent
        }),
    })
}

/// The layouts of the by-value structs as JSON: `{"wflo_usage": {"size": 48, "fields":
/// {"input": 0, …}}, …}`. Freed with wflo_string_free.
///
/// # Safety
/// `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_layout_json(json_out: *mut *mut c_char) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&layouts())?;
        Ok(())
    })
}

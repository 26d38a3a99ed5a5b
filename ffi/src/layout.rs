//! The layouts of the structs that cross the C ABI by value, as the library itself sees
//! them. Faces that pack these structs by hand (Python's `struct` and ctypes, Kotlin's JNA
//! offsets) compare their own layout with this one when they load the library and refuse to
//! run on a mismatch, so a field added here can never be read at the wrong offset there.
//! Alongside: the keys of a checkpoint's info in core's order, for a face that builds that
//! JSON object by hand from a `wflo_checkpoint_saved` rather than parse it on every save.

use std::ffi::c_char;
use std::fmt;
use std::mem::{offset_of, size_of};

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use wflo_core::{CheckpointInfo, Error, Result};

use crate::boundary::{run, wflo_status};
use crate::call::{wflo_call_request, wflo_settled};
use crate::checkpoint::wflo_checkpoint_saved;
use crate::engine::{wflo_cost_args, wflo_usage};
use crate::handle::out;
use crate::python_json::wflo_py_api;
use crate::strings::output_json;

macro_rules! layout {
    ($ty:ty { $($field:ident),* $(,)? }) => {{
        // Field by field rather than one `json!` (whose recursion a 30-field struct exceeds).
        let mut fields = serde_json::Map::new();
        $( fields.insert(stringify!($field).into(), offset_of!($ty, $field).into()); )*
        serde_json::json!({ "size": size_of::<$ty>(), "fields": fields })
    }};
}

/// Every struct a face fills or reads by hand: its size and the byte offset of each field;
/// and, under `checkpoint_info_keys`, [`checkpoint_info_keys`].
pub fn layouts() -> Result<serde_json::Value> {
    Ok(serde_json::json!({
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
        "wflo_py_api": layout!(wflo_py_api {
            ob_type_offset, dict_type, list_type, tuple_type, str_type, int_type, float_type,
            none, true_, false_, declined, dict_next, dict_new, dict_set_item, list_size,
            list_get_item, list_new, list_set_item, tuple_size, tuple_get_item,
            unicode_as_utf8_and_size, unicode_from_string_and_size,
            long_as_long_long_and_overflow, long_from_long_long, long_from_string,
            float_as_double, float_from_double, inc_ref, dec_ref, err_clear,
            bytes_from_string_and_size, save_thread, restore_thread
        }),
        "checkpoint_info_keys": checkpoint_info_keys()?,
    }))
}

/// The keys of a checkpoint's info (core's `CheckpointInfo`) in the order core's JSON writes
/// them, the optional ones included. Read off a sample serialised by core's own type, so a
/// face building the info from a `wflo_checkpoint_saved` cannot drift from it.
pub fn checkpoint_info_keys() -> Result<Vec<String>> {
    // Every optional field set, so that each key is written.
    let sample = CheckpointInfo {
        id: 0,
        execution_id: String::new(),
        name: String::new(),
        sequence: 0,
        parent_id: Some(0),
        spent_nanos: 0,
        created_at_ms: 0,
        superseded: false,
        state_bytes: 0,
        content_type: Some(String::new()),
    };
    let text = serde_json::to_string(&sample).map_err(|e| Error::Internal(e.to_string()))?;
    let keys: Keys = serde_json::from_str(&text).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(keys.0)
}

/// The keys of a JSON object in the order its text writes them (a `serde_json::Map` sorts
/// them).
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

/// The layouts of the structs a face fills or reads by hand, as JSON: `{"wflo_usage":
/// {"size": 48, "fields": {"input": 0, …}}, …}`; and under `"checkpoint_info_keys"` the keys
/// of a checkpoint's info JSON in the library's order (`["id", "execution_id", …]`, the
/// optional `content_type` included). Freed with wflo_string_free.
///
/// # Safety
/// `json_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wflo_layout_json(json_out: *mut *mut c_char) -> wflo_status {
    run(|| {
        let out = unsafe { out(json_out, "json_out") }?;
        *out = output_json(&layouts()?)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_keys_are_cores_in_its_order() {
        let keys = checkpoint_info_keys().unwrap();
        let info = CheckpointInfo {
            id: 7,
            execution_id: "e".into(),
            name: "n".into(),
            sequence: 2,
            parent_id: Some(6),
            spent_nanos: 5,
            created_at_ms: 4,
            superseded: true,
            state_bytes: 3,
            content_type: Some("application/x-test".into()),
        };
        let text = serde_json::to_string(&info).unwrap();
        let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\":")).collect();
        let at: Vec<usize> = quoted
            .iter()
            .map(|k| text.find(k.as_str()).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{keys:?} in {text}");
        assert_eq!(
            keys.len(),
            text.matches("\":").count(),
            "{keys:?} in {text}"
        );
        assert_eq!(
            layouts().unwrap()["checkpoint_info_keys"],
            serde_json::json!(keys)
        );
    }
}
